import type { Request, Response } from 'express';
import type { Authenticated, CarrierKind, Identity, Issued, Principal, StateStore, Strategy } from '../types';
import { configError, InvalidCredentialError } from '../errors';
import { isStateStore } from '../state/store-kind';
import { resolveTimeouts, type SessionTimeouts } from '../state/session-record';
import { jwtParts, type JwtCommonOptions } from './jwt-common';
import { SESSION_TOKEN_TYP, type VerifiedJwt } from '../envelopes/jwt';
import { RECORD_LAYOUT } from '../state/record-layout';
import { SessionRecords } from '../state/session-records';
import { loginAuthTime } from '../auth-time';
import type { RecordCacheSetting } from '../state/record-cache';

export interface StatefulJwtOptions extends JwtCommonOptions, SessionTimeouts {
  /** Where session records live: `redisStore()` or `memoryStore()`. */
  store: StateStore;
  /**
   * Bounded local cache of session records, kept coherent across instances through the store
   * (`true` = `{ max: 10_000, maxStaleness: '1s' }`): a cached request makes no store round trip; a logout,
   * role change or delete made through another instance is seen within `maxStaleness`. @default false
   */
  recordCache?: RecordCacheSetting;
}

/**
 * The token carries only `sid` and `sub`; roles and claims live in the store, so logout and
 * role changes take effect on the next request. Carrier: bearer header and/or cookie; envelope: JWT;
 * state: the store's session-record repository.
 * @example
 * principal({ strategy: statefulJwt({ secret, store: redisStore({ client }) }) })
 */
export function statefulJwt(options: StatefulJwtOptions): Strategy {
  if (!isStateStore(options?.store)) {
    throw configError('statefulJwt needs `store`: redisStore({ client }) or memoryStore() (cookieStore cannot hold server-side sessions)');
  }
  const { envelope, carrier } = jwtParts(options, undefined, SESSION_TOKEN_TYP);
  const timeouts = resolveTimeouts(options);
  const records = new SessionRecords(options.store, RECORD_LAYOUT, { timeouts, recordCache: options.recordCache, sidBytes: 18 });

  function withRecord(verified: VerifiedJwt, kind: CarrierKind): Authenticated | Promise<Authenticated> {
    const { sid, sub } = verified.payload;
    if (typeof sid !== 'string' || typeof sub !== 'string' || sid.length > 128) throw new InvalidCredentialError();
    // The record key, built once per token: the same string on every request, so the cache lookup reuses its hash.
    return records.authenticate(sid, sub, kind, (verified.memo ??= records.key(sid)) as string);
  }

  function authenticate(req: Request): Authenticated | null | Promise<Authenticated | null> {
    const found = carrier.read(req);
    if (found === null) return null;
    const verified = envelope.verify(found.token);
    if (verified instanceof Promise) return verified.then((v) => withRecord(v, found.carrier));
    return withRecord(verified, found.carrier);
  }

  async function login(_req: Request, res: Response, identity: Identity, previous: Principal | null): Promise<Issued> {
    // A login is a proof of identity: the login time starts now (or is kept by a migration re-issue, lib/migration.ts).
    const { sid, record } = await records.create(identity, loginAuthTime(identity, previous));
    // Rotating the session id at login: the previous session (if any) ends here.
    if (previous?.sessionId && previous.strategy === 'stateful-jwt') await records.destroy(previous.sessionId, previous.id);
    const signed = envelope.sign({ sub: record.id, sid }, timeouts.absoluteMs);
    carrier.write(res, signed.token, timeouts.absoluteMs);
    return { token: carrier.kinds.includes('header') ? signed.token : null, expiresAt: new Date(record.absExp), sessionId: sid };
  }

  return {
    name: 'stateful-jwt',
    carriers: carrier.kinds,
    present: (req) => carrier.present(req),
    authenticate,
    login,
    async logout(_req, res, current) {
      if (current?.sessionId) await records.destroy(current.sessionId, current.id);
      carrier.clear(res);
    },
    revokeAll: async (subject) => { await records.repository.revokeAll(subject); },
    rehydrate: (_req, _res, current, identity) => records.rehydrate(current.sessionId as string, current.id, identity),
    update: (subject, patch) => records.repository.update(subject, patch),
    sessionState: records.repository,
    close: () => records.close(),
  };
}
