import type { NextFunction, Request, RequestHandler, Response } from 'express';
import session from 'express-session';
import type { AnyStore, CookieOptions, Identity, Issued, Principal, StateStore, Strategy } from '../types';
import { configError, CredentialExpiredError, InvalidCredentialError, StoreUnavailableError } from '../errors';
import { resolveCookie, readCookie, clearCookie } from '../carriers/cookie';
import { isCookieStore, isStateStore } from '../state/store-kind';
import { checkRecord, newRecord, parseRecord, patchRecord, recordPrincipal, resolveTimeouts, type SessionRecord, type SessionTimeouts } from '../state/session-record';
import { checkSecrets } from '../envelopes/secrets';
import { sealedSessionCookie } from './session-cookie-sealed';
import type { RevocationTuning } from '../state/revocation';
import { loginAuthTime } from '../migration';

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
  const cookieOptions: CookieOptions = { ...options?.cookie, ...(options?.secure !== undefined ? { secure: options.secure } : {}) };
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

  /** Runs express-session once per request; its "no session" outcome (store down) is an outage, not anonymity. */
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

  async function authenticate(req: Request, res: Response) {
    if (readCookie(req, cookie, 8192) === null) return null;
    const sess = await ensureSession(req, res);
    if (sess.ep === undefined) throw new InvalidCredentialError();
    const record = parseRecord(sess.ep);
    try {
      if (checkRecord(record, timeouts.touchMs)) sess.ep = { ...record, lastSeen: Date.now() };
    } catch (err) {
      if (err instanceof CredentialExpiredError) await call<void>((cb) => sess.destroy(cb));
      throw err;
    }
    return { principal: recordPrincipal(sess.ep, 'session-cookie', req.sessionID), carrier: 'cookie' as const };
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
    const fresh = req.session;
    fresh.ep = record;
    await call<void>((cb) => fresh.save(cb));
    await store.indexAdd(record.id, req.sessionID, timeouts.absoluteMs);
    if (oldOwner !== undefined) await store.indexRemove(oldOwner, [oldSid]);
    return { token: null, expiresAt: new Date(record.absExp), sessionId: req.sessionID };
  }

  async function logout(req: Request, res: Response, current: Principal | null) {
    if (req.session) {
      const sid = req.sessionID;
      await call<void>((cb) => req.session.destroy(cb));
      if (current) await store.indexRemove(current.id, [sid]);
    }
    clearCookie(res, cookie);
  }

  const getSession = (sid: string) => call<session.SessionData | null>((cb) => sessionStore.get(sid, cb));

  return {
    name: 'session-cookie',
    carriers: ['cookie'],
    present: (req) => (readCookie(req, cookie, Infinity) === null ? null : 'cookie'),
    authenticate,
    login,
    logout,
    async revokeAll(subject) {
      const sids = await store.indexMembers(subject);
      await Promise.all(sids.map((sid) => call<void>((cb) => sessionStore.destroy(sid, cb))));
      await store.indexRemove(subject, sids);
    },
    /** refreshPrincipal: rewrites this session's record; express-session saves it with the response. */
    async rehydrate(req, res, _current, identity) {
      const sess = await ensureSession(req, res);
      sess.ep = patchRecord(parseRecord(sess.ep), { roles: identity.roles ?? [], scopes: identity.scopes ?? [], claims: identity.claims ?? {} });
      return recordPrincipal(sess.ep, 'session-cookie', req.sessionID);
    },
    async update(subject, patch) {
      let changed = 0;
      for (const sid of await store.indexMembers(subject)) {
        const data = await getSession(sid);
        if (!data?.ep) continue;
        const next: session.SessionData = { ...data, ep: patchRecord(parseRecord(data.ep), patch) };
        await call<void>((cb) => sessionStore.set(sid, next, cb));
        changed += 1;
      }
      return changed;
    },
    close: async () => {},
  };
}
