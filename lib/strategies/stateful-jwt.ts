import { randomBytes } from 'node:crypto';
import type { Request, Response } from 'express';
import type { Identity, Issued, Principal, StateStore, Strategy } from '../types';
import { configError, CredentialExpiredError, InvalidCredentialError } from '../errors';
import { isStateStore } from '../state/store-kind';
import { checkRecord, newRecord, parseRecord, patchRecord, recordPrincipal, remainingMs, resolveTimeouts, type SessionRecord, type SessionTimeouts } from '../state/session-record';
import { jwtParts, type JwtCommonOptions } from './jwt-common';
import { loginAuthTime } from '../migration';

export interface StatefulJwtOptions extends JwtCommonOptions, SessionTimeouts {
  /** Where session records live: `redisStore()` or `memoryStore()`. */
  store: StateStore;
}

const recordKey = (sid: string) => `s:${sid}`;

/**
 * The token carries only `sid` and `sub`; roles and claims live in the store, so logout and
 * role changes take effect on the next request.
 * @example
 * principal({ strategy: statefulJwt({ secret, store: redisStore({ client }) }) })
 */
export function statefulJwt(options: StatefulJwtOptions): Strategy {
  if (!isStateStore(options?.store)) {
    throw configError('statefulJwt needs `store`: redisStore({ client }) or memoryStore() (cookieStore cannot hold server-side sessions)');
  }
  const store = options.store;
  const { envelope, carrier } = jwtParts(options);
  const timeouts = resolveTimeouts(options);

  async function load(sid: string, sub: string): Promise<SessionRecord> {
    const raw = await store.get(recordKey(sid));
    if (raw === null) throw new InvalidCredentialError();
    const record = parseRecord(raw);
    if (record.id !== sub) throw new InvalidCredentialError();
    return record;
  }

  async function save(sid: string, record: SessionRecord): Promise<void> {
    const ttl = remainingMs(record);
    if (ttl > 0) await store.set(recordKey(sid), JSON.stringify(record), ttl);
  }

  async function authenticate(req: Request) {
    const found = carrier.read(req);
    if (found === null) return null;
    const { payload } = await envelope.verify(found.token);
    const sid = payload.sid;
    const sub = payload.sub;
    if (typeof sid !== 'string' || typeof sub !== 'string' || sid.length > 128) throw new InvalidCredentialError();
    const record = await load(sid, sub);
    try {
      if (checkRecord(record, timeouts.touchMs)) {
        record.lastSeen = Date.now();
        await save(sid, record);
      }
    } catch (err) {
      if (err instanceof CredentialExpiredError) await store.delete(recordKey(sid)).catch(() => undefined);
      throw err;
    }
    return { principal: recordPrincipal(record, 'stateful-jwt', sid), carrier: found.carrier };
  }

  async function login(_req: Request, res: Response, identity: Identity, previous: Principal | null): Promise<Issued> {
    // A login is a proof of identity: the login time starts now (refreshPrincipal re-issues keep it).
    const authAt = loginAuthTime(identity, previous); // now, or kept by a migration re-issue (lib/migration.ts)
    const record = newRecord(identity, timeouts, authAt);
    const sid = randomBytes(18).toString('base64url');
    await save(sid, record);
    await store.indexAdd(record.id, sid, timeouts.absoluteMs);
    // Rotating the session id at login: the previous session (if any) ends here.
    if (previous?.sessionId && previous.strategy === 'stateful-jwt') await destroy(previous.id, previous.sessionId);
    const signed = envelope.sign({ sub: record.id, sid }, timeouts.absoluteMs);
    carrier.write(res, signed.token, timeouts.absoluteMs);
    return { token: carrier.kinds.includes('header') ? signed.token : null, expiresAt: new Date(record.absExp), sessionId: sid };
  }

  async function destroy(subject: string, sid: string): Promise<void> {
    await store.delete(recordKey(sid));
    await store.indexRemove(subject, [sid]);
  }

  return {
    name: 'stateful-jwt',
    carriers: carrier.kinds,
    present: (req) => carrier.present(req),
    authenticate,
    login,
    async logout(_req, res, current) {
      if (current?.sessionId) await destroy(current.id, current.sessionId);
      carrier.clear(res);
    },
    async revokeAll(subject) {
      const sids = await store.indexMembers(subject);
      await Promise.all(sids.map((sid) => store.delete(recordKey(sid))));
      await store.indexRemove(subject, sids);
    },
    /** refreshPrincipal: the freshly loaded data replaces the record's (loadedAt = now). */
    async rehydrate(_req, _res, current, identity) {
      const sid = current.sessionId as string;
      const record = patchRecord(await load(sid, current.id), { roles: identity.roles ?? [], scopes: identity.scopes ?? [], claims: identity.claims ?? {} });
      await save(sid, record);
      return recordPrincipal(record, 'stateful-jwt', sid);
    },
    async update(subject, patch) {
      const sids = await store.indexMembers(subject);
      let changed = 0;
      for (const sid of sids) {
        const raw = await store.get(recordKey(sid));
        if (raw === null) continue;
        await save(sid, patchRecord(parseRecord(raw), patch));
        changed += 1;
      }
      return changed;
    },
    close: async () => {},
  };
}
