import { randomBytes } from 'node:crypto';
import type { Request, Response } from 'express';
import type { Authenticated, CarrierKind, Identity, Issued, Principal, StateStore, Strategy } from '../types';
import { configError, CredentialExpiredError, InvalidCredentialError } from '../errors';
import { isStateStore } from '../state/store-kind';
import { checkRecord, newRecord, parseRecord, patchRecord, recordPrincipal, remainingMs, resolveTimeouts, type SessionRecord, type SessionTimeouts } from '../state/session-record';
import { jwtParts, type JwtCommonOptions } from './jwt-common';
import { SESSION_TOKEN_TYP, type VerifiedJwt } from '../envelopes/jwt';
import { pruneIndex } from '../state/session-index';
import { parsedRecords } from '../state/parsed-records';
import { loginAuthTime } from '../migration';
import { createRecordCache, type RecordCacheSetting } from '../state/record-cache';
import { checkOptions } from '../option-keys';

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

/** `answer`: the Authenticated handed out on hits, built once per entry. */
interface Cached { principal: Principal; slideAt: number; deadline: number; answer?: Authenticated }

const recordKey = (sid: string) => `s:${sid}`;

/**
 * The token carries only `sid` and `sub`; roles and claims live in the store, so logout and
 * role changes take effect on the next request.
 * @example
 * principal({ strategy: statefulJwt({ secret, store: redisStore({ client }) }) })
 */
export function statefulJwt(options: StatefulJwtOptions): Strategy {
  checkOptions('statefulJwt', options);
  if (!isStateStore(options?.store)) {
    throw configError('statefulJwt needs `store`: redisStore({ client }) or memoryStore() (cookieStore cannot hold server-side sessions)');
  }
  const store = options.store;
  const { envelope, carrier } = jwtParts(options, undefined, SESSION_TOKEN_TYP);
  const timeouts = resolveTimeouts(options);

  const parse = parsedRecords(10_000, (raw, sid) => {
    const record = Object.freeze(parseRecord(raw));
    return { record, principal: recordPrincipal(record, 'stateful-jwt', sid) };
  });

  async function load(sid: string, sub: string): Promise<{ record: Readonly<SessionRecord>; principal: Principal; raw: string }> {
    const raw = await store.get(recordKey(sid));
    if (raw === null) throw new InvalidCredentialError();
    const { record, principal } = parse(raw, sid);
    if (record.id !== sub) throw new InvalidCredentialError();
    return { record, principal, raw };
  }

  async function save(sid: string, record: SessionRecord): Promise<void> {
    const ttl = remainingMs(record);
    if (ttl > 0) await store.set(recordKey(sid), JSON.stringify(record), ttl);
  }

  /** Tells the local cache and every other instance's that these records changed or are gone. */
  async function changed(sids: readonly string[]): Promise<void> {
    if (cache !== null && sids.length > 0) await cache.invalidate(sids.map(recordKey));
  }

  const cache = createRecordCache<Cached>(store, options.recordCache);

  function authenticate(req: Request): Authenticated | null | Promise<Authenticated | null> {
    const found = carrier.read(req);
    if (found === null) return null;
    const verified = envelope.verify(found.token);
    if (verified instanceof Promise) return verified.then((v) => withRecord(v, found.carrier));
    return withRecord(verified, found.carrier);
  }

  function withRecord(verified: VerifiedJwt, kind: CarrierKind): Authenticated | Promise<Authenticated> {
    const { sid, sub } = verified.payload;
    if (typeof sid !== 'string' || typeof sub !== 'string' || sid.length > 128) throw new InvalidCredentialError();
    if (cache !== null) {
      // The record key, built once per token: the same string on every request, so the lookup reuses its hash.
      const hit = cache.get((verified.memo ??= recordKey(sid)) as string);
      if (hit !== undefined && hit.principal.id === sub) {
        const now = Date.now();
        // Past a deadline, due to slide or older than entryTtlMs: the store decides (another instance may have slid it meanwhile).
        if (now < hit.slideAt && now < hit.deadline) return hit.answer?.carrier === kind ? hit.answer : (hit.answer = Object.freeze({ principal: hit.principal, carrier: kind }));
      }
    }
    return fromStore(sid, sub, kind);
  }

  async function fromStore(sid: string, sub: string, kind: CarrierKind): Promise<Authenticated> {
    const since = cache?.begin() ?? 0;
    const read = await load(sid, sub);
    let { record, principal } = read;
    // `slid`: the idle deadline moved (or the record changed meanwhile): either way, do not cache what we read.
    let slid = false;
    try {
      if (checkRecord(record, timeouts.touchMs)) {
        record = { ...record, lastSeen: Date.now() };
        principal = recordPrincipal(record, 'stateful-jwt', sid);
        // Only if unchanged since we read it: never resurrect a logged-out session or undo a demotion.
        await store.swap(recordKey(sid), read.raw, JSON.stringify(record), remainingMs(record));
        slid = true;
      }
    } catch (err) {
      if (err instanceof CredentialExpiredError) {
        await store.delete(recordKey(sid)).catch(() => undefined);
        await cache?.invalidate([recordKey(sid)]).catch(() => undefined);
      }
      throw err;
    }
    if (cache !== null) {
      // After a slide the next request reloads (never cache a value this instance has just invalidated).
      if (slid) await cache.invalidate([recordKey(sid)]);
      else cache.put(recordKey(sid), { principal, slideAt: Math.min(record.lastSeen + timeouts.touchMs, Date.now() + cache.entryTtlMs), deadline: Math.min(record.absExp, record.lastSeen + record.idleMs) }, since);
    }
    return { principal, carrier: kind };
  }

  async function login(_req: Request, res: Response, identity: Identity, previous: Principal | null): Promise<Issued> {
    // A login is a proof of identity: the login time starts now (refreshPrincipal re-issues keep it).
    const authAt = loginAuthTime(identity, previous); // now, or kept by a migration re-issue (lib/migration.ts)
    const record = newRecord(identity, timeouts, authAt);
    const sid = randomBytes(18).toString('base64url');
    await save(sid, record);
    await store.indexAdd(record.id, sid, timeouts.absoluteMs);
    await pruneIndex(store, record.id, recordKey);
    // Rotating the session id at login: the previous session (if any) ends here.
    if (previous?.sessionId && previous.strategy === 'stateful-jwt') await destroy(previous.id, previous.sessionId);
    const signed = envelope.sign({ sub: record.id, sid }, timeouts.absoluteMs);
    carrier.write(res, signed.token, timeouts.absoluteMs);
    return { token: carrier.kinds.includes('header') ? signed.token : null, expiresAt: new Date(record.absExp), sessionId: sid };
  }

  async function destroy(subject: string, sid: string): Promise<void> {
    // Announce before deleting too: if the announcement fails, nothing is deleted and a retried logout
    // still finds the session (announcing only after would leave other instances' caches unaware).
    await changed([sid]);
    await store.delete(recordKey(sid));
    await changed([sid]);
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
      await changed(sids);
      await store.indexRemove(subject, sids);
    },
    /** refreshPrincipal: the freshly loaded data replaces the record's (loadedAt = now). */
    async rehydrate(_req, _res, current, identity) {
      const sid = current.sessionId as string;
      const record = patchRecord((await load(sid, current.id)).record, { roles: identity.roles ?? [], scopes: identity.scopes ?? [], claims: identity.claims ?? {} });
      await save(sid, record);
      await changed([sid]);
      return recordPrincipal(record, 'stateful-jwt', sid);
    },
    async update(subject, patch) {
      const sids = await store.indexMembers(subject);
      const patched: string[] = [];
      for (const sid of sids) {
        const raw = await store.get(recordKey(sid));
        if (raw === null) continue;
        await save(sid, patchRecord(parseRecord(raw), patch));
        patched.push(sid);
      }
      await changed(patched);
      return patched.length;
    },
    close: async () => { await cache?.close(); },
  };
}
