import type { NextFunction, Request, RequestHandler, Response } from 'express';
import session from 'express-session';
import { createSecretKey } from 'node:crypto';
import signature from 'cookie-signature';
import type { AnyStore, Authenticated, CookieOptions, Identity, Issued, Principal, StateStore, Strategy } from '../types';
import { configError, CredentialExpiredError, InvalidCredentialError, StoreUnavailableError } from '../errors';
import { resolveCookie, readCookie, clearCookie, hasCookie } from '../carriers/cookie';
import { isCookieStore, isStateStore } from '../state/store-kind';
import { checkRecord, newRecord, parseRecord, patchRecord, recordPrincipal, remainingMs, resolveTimeouts, type SessionRecord, type SessionTimeouts } from '../state/session-record';
import { checkSecrets } from '../envelopes/secrets';
import { sealedSessionCookie } from './session-cookie-sealed';
import type { RevocationTuning } from '../state/revocation';
import { loginAuthTime } from '../migration';
import { pruneIndex } from '../state/session-index';
import { parsedRecords } from '../state/parsed-records';
import { createRecordCache, type RecordCacheSetting } from '../state/record-cache';
import { CredentialCache } from '../state/credential-cache';
import { checkOptions } from '../option-keys';

const UNSIGNED_MAX = 10_000;

/** `answer`: the Authenticated handed out on hits, built once per entry. */
interface Cached { principal: Principal; slideAt: number; deadline: number; answer?: Authenticated }

export interface SessionCookieOptions extends SessionTimeouts, RevocationTuning {
  /** `redisStore()` / `memoryStore()` (express-session underneath) or `cookieStore()` (encrypted cookie only). */
  store: AnyStore;
  /** Cookie signing secret(s) for server-side stores; the first signs, all verify (rotation). Each ≥ 32 bytes. */
  secret?: string | string[];
  /** Cookie attributes. @default { secure: true, sameSite: 'lax', name: '__Host-sid' } */
  cookie?: CookieOptions;
  /** Shorthand for `cookie.secure`. */
  secure?: boolean;
  /** With cookieStore: a store for revocation (logout of stolen copies, revokeAll). */
  revocation?: StateStore;
  /**
   * Server-side stores: bounded local cache of session records, kept coherent across instances through the
   * store (`true` = `{ max: 10_000, maxStaleness: '1s' }`). A cached request makes no store round trip; a logout,
   * role change or delete made through another instance is seen within `maxStaleness`. @default false
   */
  recordCache?: RecordCacheSetting;
}

/** What express-session keeps under `req.session`. */
declare module 'express-session' {
  interface SessionData {
    ep?: SessionRecord;
  }
}

/**
 * A classic session: a signed session-id cookie backed by a store (express-session underneath),
 * or an encrypted cookie holding the session itself (`cookieStore`).
 * @example
 * principal({ strategy: sessionCookie({ secret, store: redisStore({ client }) }) })
 */
export function sessionCookie(options: SessionCookieOptions): Strategy {
  checkOptions('sessionCookie', options);
  const cookieOptions: CookieOptions = { ...options?.cookie, ...(options?.secure !== undefined ? { secure: options.secure } : {}) };
  if (isCookieStore(options?.store) && options.recordCache !== undefined && options.recordCache !== false) {
    throw configError('`recordCache` is for server-side stores (redisStore, memoryStore); a cookieStore session needs no lookup');
  }
  if (isCookieStore(options?.store)) return sealedSessionCookie({ ...options, cookie: cookieOptions, store: options.store });
  if (!isStateStore(options?.store)) throw configError('sessionCookie needs `store`: redisStore({ client }), memoryStore() or cookieStore({ secret })');
  if (options.revocation !== undefined) throw configError('`revocation` is only for cookieStore; server-side sessions are revoked by deleting them');
  const secrets = checkSecrets(options.secret, 'sessionCookie secret');
  const store: StateStore = options.store;
  const cookie = resolveCookie(cookieOptions, 'sid');
  const timeouts = resolveTimeouts(options);
  const sessionStore = store.sessionStore();
  const middleware: RequestHandler = session({
    name: cookie.name,
    secret: secrets,
    store: sessionStore,
    resave: false,
    saveUninitialized: false,
    rolling: false,
    unset: 'destroy',
    cookie: { httpOnly: true, secure: cookie.secure, sameSite: cookie.sameSite, path: cookie.path, ...(cookie.domain ? { domain: cookie.domain } : {}), maxAge: timeouts.absoluteMs },
  });

  const sessKey = (sid: string) => `sess:${sid}`;
  const cache = createRecordCache<Cached>(store, options.recordCache);
  // cookie-signature over KeyObjects built once (a string secret is re-parsed by createHmac on every call).
  const keys = secrets.map((secret) => createSecretKey(Buffer.from(secret, 'utf8')));
  /** A session id and its record key, kept as one string per session: the cache lookup then reuses its hash. */
  interface Unsigned { sid: string; key: string }
  /** Cookie values whose signature checked out (deterministic for a given secret list); bounded. */
  const unsigned = new CredentialCache<Unsigned>(UNSIGNED_MAX);

  /** express-session's cookie format: `s:<sid>.<sig>`, the first secret that verifies wins. */
  function unsign(raw: string): Unsigned | null {
    const known = unsigned.get(raw);
    if (known !== undefined) return known;
    if (!raw.startsWith('s:')) return null;
    const value = raw.slice(2);
    for (const key of keys) {
      const sid = signature.unsign(value, key as unknown as string);
      if (sid !== false) {
        const entry = { sid, key: sessKey(sid) };
        unsigned.set(raw, entry);
        return entry;
      }
    }
    return null;
  }

  // express-session skips the session while its store says "disconnected": for us that is an outage (503).
  let storeReady = true;
  const onDisconnect = () => { storeReady = false; };
  const onConnect = () => { storeReady = true; };
  sessionStore.on('disconnect', onDisconnect);
  sessionStore.on('connect', onConnect);

  /** Runs express-session (login only); its "no session" outcome (store down) is an outage, not anonymity. */
  function ensureSession(req: Request, res: Response): Promise<session.Session & Partial<session.SessionData>> {
    if (req.session) return Promise.resolve(req.session);
    return new Promise((resolve, reject) => {
      let settled = false;
      const done: NextFunction = (err?: unknown) => {
        if (settled) return;
        settled = true;
        if (err !== undefined && err !== null) reject(new StoreUnavailableError(err));
        else if (!req.session) reject(new StoreUnavailableError());
        else resolve(req.session);
      };
      middleware(req, res, done);
    });
  }

  const call = <T>(fn: (cb: (err?: unknown, value?: T) => void) => void): Promise<T | undefined> =>
    new Promise((resolve, reject) => fn((err, value) => (err ? reject(new StoreUnavailableError(err)) : resolve(value))));

  const ready = () => { if (!storeReady) throw new StoreUnavailableError(); };
  const getSession = (sid: string) => { ready(); return call<session.SessionData | null>((cb) => sessionStore.get(sid, cb)); };
  const setSession = (sid: string, data: session.SessionData) => { ready(); return call<void>((cb) => sessionStore.set(sid, data, cb)); };
  const destroySession = (sid: string) => { ready(); return call<void>((cb) => sessionStore.destroy(sid, cb)); };
  /** Tells the local cache and every other instance's that these sessions changed or are gone. */
  async function changed(sids: readonly string[]): Promise<void> {
    if (cache !== null && sids.length > 0) await cache.invalidate(sids.map(sessKey));
  }

  /**
   * The read path, without express-session: cookie → signature → record (bounded store read, or the local
   * cache) → deadlines → Principal. The idle deadline slides at most once per touchInterval.
   */
  function authenticate(req: Request): Authenticated | null | Promise<Authenticated | null> {
    const raw = readCookie(req, cookie, 8192);
    if (raw === null) return null;
    const found = unsign(raw);
    if (found === null) throw new InvalidCredentialError();
    const sid = found.sid;
    if (!storeReady) throw new StoreUnavailableError();
    if (cache !== null) {
      const hit = cache.get(found.key);
      if (hit !== undefined) {
        const now = Date.now();
        // Past a deadline, due to slide or older than entryTtlMs: the store decides (another instance may have slid it meanwhile).
        if (now < hit.slideAt && now < hit.deadline) return (hit.answer ??= Object.freeze({ principal: hit.principal, carrier: 'cookie' as const }));
      }
    }
    return fromStore(sid);
  }

  async function fromStore(sid: string): Promise<Authenticated> {
    const since = cache?.begin() ?? 0;
    ready();
    // The raw JSON connect-redis (and the memory session store) keep under `sess:<sid>`: read it as is, so
    // the slide below can be a compare-and-set.
    const raw = await store.get(sessKey(sid));
    if (raw === null) throw new InvalidCredentialError();
    const read = parse(raw, sid);
    let { record, principal } = read;
    let slid = false;
    try {
      if (checkRecord(record, timeouts.touchMs)) {
        record = { ...record, lastSeen: Date.now() };
        principal = recordPrincipal(record, 'session-cookie', sid);
        // Only if unchanged since we read it: never resurrect a logged-out session or undo a demotion.
        await store.swap(sessKey(sid), raw, JSON.stringify({ ...read.data, ep: record }), remainingMs(record));
        slid = true;
      }
    } catch (err) {
      if (err instanceof CredentialExpiredError) {
        await destroySession(sid);
        await changed([sid]).catch(() => undefined);
      }
      throw err;
    }
    if (cache !== null) {
      // After a slide the next request reloads (never cache a value this instance has just invalidated).
      if (slid) await cache.invalidate([sessKey(sid)]);
      else cache.put(sessKey(sid), { principal, slideAt: Math.min(record.lastSeen + timeouts.touchMs, Date.now() + cache.entryTtlMs), deadline: Math.min(record.absExp, record.lastSeen + record.idleMs) }, since);
    }
    return { principal, carrier: 'cookie' };
  }

  async function login(req: Request, res: Response, identity: Identity, previous: Principal | null): Promise<Issued> {
    // A login is a proof of identity: the login time starts now (refreshPrincipal re-issues keep it).
    const authAt = loginAuthTime(identity, previous); // now, or kept by a migration re-issue (lib/migration.ts)
    const record = newRecord(identity, timeouts, authAt);
    const sess = await ensureSession(req, res);
    // A new id at every login: a planted or stolen pre-login id never becomes authenticated.
    const oldSid = req.sessionID;
    const oldOwner = sess.ep?.id;
    await call<void>((cb) => sess.regenerate(cb));
    if (oldOwner !== undefined) await changed([oldSid]);
    const fresh = req.session;
    fresh.ep = record;
    await call<void>((cb) => fresh.save(cb));
    await store.indexAdd(record.id, req.sessionID, timeouts.absoluteMs);
    await pruneIndex(store, record.id, sessKey);
    if (oldOwner !== undefined) await store.indexRemove(oldOwner, [oldSid]);
    return { token: null, expiresAt: new Date(record.absExp), sessionId: req.sessionID };
  }

  async function logout(req: Request, res: Response, current: Principal | null) {
    const raw = readCookie(req, cookie, 8192);
    const sid = req.session ? req.sessionID : raw === null ? null : (unsign(raw)?.sid ?? null);
    if (sid !== null) {
      await changed([sid]); // before too: a failed announcement deletes nothing, so a retry still finds it
      await destroySession(sid);
      await changed([sid]);
      if (current) await store.indexRemove(current.id, [sid]);
    }
    clearCookie(res, cookie);
  }

  const parse = parsedRecords(10_000, (raw, sid) => {
    const data = parseSession(raw);
    const record = Object.freeze(parseRecord(data.ep));
    return { data, record, principal: recordPrincipal(record, 'session-cookie', sid) };
  });

  function parseSession(raw: string): session.SessionData {
    try {
      const data = JSON.parse(raw) as session.SessionData;
      if (typeof data === 'object' && data !== null && data.ep !== undefined) return data;
    } catch { /* not ours */ }
    throw new InvalidCredentialError();
  }

  return {
    name: 'session-cookie',
    carriers: ['cookie'],
    present: (req) => (hasCookie(req, cookie) ? 'cookie' : null),
    authenticate,
    login,
    logout,
    async revokeAll(subject) {
      const sids = await store.indexMembers(subject);
      await Promise.all(sids.map((sid) => destroySession(sid)));
      await changed(sids);
      await store.indexRemove(subject, sids);
    },
    /** refreshPrincipal: rewrites this session's record in the store. */
    async rehydrate(_req, _res, current, identity) {
      const sid = current.sessionId as string;
      const data = await getSession(sid);
      if (!data?.ep) throw new InvalidCredentialError();
      const ep = patchRecord(parseRecord(data.ep), { roles: identity.roles ?? [], scopes: identity.scopes ?? [], claims: identity.claims ?? {} });
      await setSession(sid, { ...data, ep });
      await changed([sid]);
      return recordPrincipal(ep, 'session-cookie', sid);
    },
    async update(subject, patch) {
      const patched: string[] = [];
      for (const sid of await store.indexMembers(subject)) {
        const data = await getSession(sid);
        if (!data?.ep) continue;
        await setSession(sid, { ...data, ep: patchRecord(parseRecord(data.ep), patch) });
        patched.push(sid);
      }
      await changed(patched);
      return patched.length;
    },
    async close() {
      sessionStore.off('disconnect', onDisconnect);
      sessionStore.off('connect', onConnect);
      unsigned.clear();
      await cache?.close();
    },
  };
}
