import type { StateStore, Strategy } from '../types';
import { asStrategy } from '../strategy';
import { configError, InvalidCredentialError } from '../errors';
import { isStateStore } from '../state/store-kind';
import { resolveTimeouts, type SessionTimeouts } from '../state/session-record';
import { RECORD_LAYOUT } from '../state/record-layout';
import type { RecordCacheSetting } from '../state/record-cache';
import { SESSION_TOKEN_TYP, type JwtEnvelope, type VerifiedJwt } from '../envelopes/jwt';
import type { TokenCarrier } from '../carriers/token-carrier';
import { jwtParts, type JwtCommonOptions } from './jwt-common';
import { storedSession, type SessionCarrier, type SessionEnvelope, type SessionRef } from './stored-session';
import { checkOptions } from '../option-keys';

/** Options of `statefulJwt()`: the JWT options, the session timeouts and the store of session records. */
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
 * The token carries only `sid` and `sub`; roles and claims live in the store, so logout and role changes take
 * effect on the next request. Carrier: bearer header and/or cookie; envelope: JWT (`typ: session+jwt`); state: the
 * store's session records.
 * @example
 * principal({ strategy: statefulJwt({ secret, store: redisStore({ client }) }) })
 */
export function statefulJwt(options: StatefulJwtOptions): Strategy {
  checkOptions('statefulJwt', options);
  if (!isStateStore(options?.store)) {
    throw configError('statefulJwt needs `store`: redisStore({ client }) or memoryStore() (cookieStore cannot hold server-side sessions)');
  }
  const { envelope, carrier } = jwtParts(options, undefined, SESSION_TOKEN_TYP);
  return asStrategy(storedSession({
    name: 'stateful-jwt', carrier: tokenSessionCarrier(carrier), envelope: sessionJwt(envelope),
    store: options.store, layout: RECORD_LAYOUT, timeouts: resolveTimeouts(options), recordCache: options.recordCache, sidBytes: 18,
  }));
}

/** The JWT strategies' token carrier, as a session credential's. */
function tokenSessionCarrier(carrier: TokenCarrier): SessionCarrier {
  return {
    kinds: carrier.kinds,
    find: (req) => carrier.find(req),
    write: (_req, res, value, ttlMs) => carrier.write(res, value, ttlMs),
    clear: (res) => carrier.clear(res),
  };
}

/** A JWT naming a session: `{ sub, sid }`. The record key is kept on the verified token, so it is built once per token. */
function sessionJwt(envelope: JwtEnvelope): SessionEnvelope {
  const refOf = (verified: VerifiedJwt): SessionRef => {
    if (verified.memo !== undefined) return verified.memo as SessionRef;
    const { sid, sub } = verified.payload;
    if (typeof sid !== 'string' || typeof sub !== 'string') throw new InvalidCredentialError();
    return (verified.memo = Object.freeze({ sid, subject: sub, key: RECORD_LAYOUT.prefix + sid }));
  };
  return {
    open(value) {
      const verified = envelope.verify(value);
      return verified instanceof Promise ? verified.then(refOf) : refOf(verified);
    },
    seal: (sid, subject, ttlMs) => envelope.sign({ sub: subject, sid }, ttlMs).token,
  };
}
