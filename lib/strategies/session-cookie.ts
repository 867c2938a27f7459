import type { Request, Response } from 'express';
import type { AnyStore, CookieOptions, Identity, Issued, Principal, StateStore, Strategy } from '../types';
import { configError, InvalidCredentialError, StoreUnavailableError } from '../errors';
import { resolveCookie, readCookie, clearCookie, hasCookie, writeCookie, type ResolvedCookie } from '../carriers/cookie';
import { isCookieStore, isStateStore } from '../state/store-kind';
import { resolveTimeouts, type ResolvedTimeouts, type SessionRecord, type SessionTimeouts } from '../state/session-record';
import { checkSecrets } from '../envelopes/secrets';
import { SignedSessionIdEnvelope } from '../envelopes/signed-session-id';
import { sealedSessionCookie } from './session-cookie-sealed';
import type { RevocationTuning } from '../state/revocation';
import { loginAuthTime } from '../auth-time';
import { EXPRESS_SESSION_LAYOUT } from '../state/record-layout';
import { SessionRecords } from '../state/session-records';
import type { RecordCacheSetting } from '../state/record-cache';

/** Longest cookie value read before any decoding. */
const MAX_COOKIE_CHARS = 8192;

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

/** express-session's `cookie` field of a session, so an express-session app reading this record finds what it expects. */
function sessionCookieField(cookie: ResolvedCookie, timeouts: ResolvedTimeouts, now = Date.now()) {
  return {
    originalMaxAge: timeouts.absoluteMs, expires: new Date(now + timeouts.absoluteMs).toISOString(),
    secure: cookie.secure, httpOnly: true, path: cookie.path, sameSite: cookie.sameSite, ...(cookie.domain ? { domain: cookie.domain } : {}),
  };
}

/**
 * A classic session: a signed session-id cookie backed by a store, or an encrypted cookie holding the session
 * itself (`cookieStore`). Carrier: cookie; envelope: express-session's signed session id; state: the store's
 * session-record repository, in express-session's record format.
 * @example
 * principal({ strategy: sessionCookie({ secret, store: redisStore({ client }) }) })
 */
export function sessionCookie(options: SessionCookieOptions): Strategy {
  const cookieOptions: CookieOptions = { ...options?.cookie, ...(options?.secure !== undefined ? { secure: options.secure } : {}) };
  if (isCookieStore(options?.store) && options.recordCache !== undefined && options.recordCache !== false) {
    throw configError('`recordCache` is for server-side stores (redisStore, memoryStore); a cookieStore session needs no lookup');
  }
  if (isCookieStore(options?.store)) return sealedSessionCookie({ ...options, cookie: cookieOptions, store: options.store });
  if (!isStateStore(options?.store)) throw configError('sessionCookie needs `store`: redisStore({ client }), memoryStore() or cookieStore({ secret })');
  if (options.revocation !== undefined) throw configError('`revocation` is only for cookieStore; server-side sessions are revoked by deleting them');
  return storedSessionCookie(options, options.store, resolveCookie(cookieOptions, 'sid'));
}

function storedSessionCookie(options: SessionCookieOptions, store: StateStore, cookie: ResolvedCookie): Strategy {
  const timeouts = resolveTimeouts(options);
  // express-session's session ids are 24 random bytes.
  const records = new SessionRecords(store, EXPRESS_SESSION_LAYOUT, { timeouts, recordCache: options.recordCache, sidBytes: 24 });
  const envelope = new SignedSessionIdEnvelope(checkSecrets(options.secret, 'sessionCookie secret'), (sid) => records.key(sid));
  const online = followConnection(store);

  function authenticate(req: Request) {
    const raw = readCookie(req, cookie, MAX_COOKIE_CHARS);
    if (raw === null) return null;
    const found = envelope.open(raw);
    if (found === null) throw new InvalidCredentialError();
    if (!online.ready) throw new StoreUnavailableError();
    return records.authenticate(found.sid, null, 'cookie', found.key);
  }

  async function login(req: Request, res: Response, identity: Identity, previous: Principal | null): Promise<Issued> {
    if (!online.ready) throw new StoreUnavailableError();
    const raw = readCookie(req, cookie, MAX_COOKIE_CHARS);
    const old = raw === null ? null : envelope.open(raw);
    // One write; the cookie is set only once the session is stored, so a failed login leaves the client's cookie as it was.
    const { sid, record } = await records.create(identity, loginAuthTime(identity, previous), { cookie: sessionCookieField(cookie, timeouts) });
    // A new id at every login: a planted or stolen pre-login id never becomes authenticated.
    if (old !== null && old.sid !== sid) await endOld(old.sid, previous, sid);
    // Like express-session, a Secure cookie goes out only on a secure request (never a session id in clear text).
    if (!cookie.secure || req.secure) writeCookie(res, cookie, envelope.sign(sid), timeouts.absoluteMs);
    return { token: null, expiresAt: new Date(record.absExp), sessionId: sid };
  }

  /** The session the login replaces; if it cannot be ended, the new one is withdrawn and the login fails. */
  async function endOld(oldSid: string, previous: Principal | null, newSid: string): Promise<void> {
    const owner = previous !== null && previous.strategy === 'session-cookie' && previous.sessionId === oldSid ? previous.id : null;
    try {
      await records.destroy(oldSid, owner);
    } catch (err) {
      await records.destroy(newSid, null).catch(() => undefined);
      throw err;
    }
  }

  async function logout(req: Request, res: Response, current: Principal | null) {
    const raw = readCookie(req, cookie, MAX_COOKIE_CHARS);
    const sid = raw === null ? null : (envelope.open(raw)?.sid ?? null);
    if (sid !== null) {
      if (!online.ready) throw new StoreUnavailableError();
      await records.destroy(sid, current?.sessionId === sid ? current.id : null);
    }
    clearCookie(res, cookie);
  }

  return {
    name: 'session-cookie',
    carriers: ['cookie'],
    present: (req) => (hasCookie(req, cookie) ? 'cookie' : null),
    authenticate,
    login,
    logout,
    revokeAll: async (subject) => { await records.repository.revokeAll(subject); },
    rehydrate: (_req, _res, current, identity) => records.rehydrate(current.sessionId as string, current.id, identity),
    update: (subject, patch) => records.repository.update(subject, patch),
    sessionState: records.repository,
    async close() {
      online.close();
      envelope.clear();
      await records.close();
    },
  };
}

/**
 * The store's express-session Store reports "disconnect" / "connect" (connect-redis, or an app emitting them):
 * while it says disconnected, sessions cannot be trusted to be current, so lookups answer 503.
 */
function followConnection(store: StateStore): { readonly ready: boolean; close(): void } {
  const sessionStore = store.sessionStore();
  const state = { ready: true, close: () => undefined as void };
  const down = () => { state.ready = false; };
  const up = () => { state.ready = true; };
  sessionStore.on('disconnect', down);
  sessionStore.on('connect', up);
  state.close = () => { sessionStore.off('disconnect', down); sessionStore.off('connect', up); };
  return state;
}
