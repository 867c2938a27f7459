import type { AnyStore, CookieOptions, StateStore, Strategy } from '../types';
import { asStrategy, type StrategyImpl } from '../strategy';
import { configError, InvalidCredentialError } from '../errors';
import { resolveCookie, readCookie, clearCookie, writeCookie, type ResolvedCookie } from '../carriers/cookie';
import { insecureCookieWarning } from '../carriers/insecure-cookie';
import { isCookieStore, isStateStore } from '../state/store-kind';
import { resolveTimeouts, type ResolvedTimeouts, type SessionTimeouts } from '../state/session-record';
import { checkSecrets } from '../envelopes/secrets';
import { SignedSessionIdEnvelope } from '../envelopes/signed-session-id';
import { sealedSessionCookie } from './session-cookie-sealed';
import type { RevocationTuning } from '../state/revocation';
import { EXPRESS_SESSION_LAYOUT } from '../state/record-layout';
import { storedSession, type SessionCarrier } from './stored-session';
import type { RecordCacheSetting } from '../state/record-cache';
import { checkOptions } from '../option-keys';
import { legacySessions, resolveLegacy, type LegacySessionOptions } from './express-session-legacy';
import { ownSessionPrefix } from '../state/foreign-sessions';
import { refuseExpressSessionClash, type SessionNamespace } from '../carriers/express-session-clash';

/** Options of `sessionCookie()`: the store, the cookie, its signing secrets and the session timeouts. */
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
  /**
   * The sessions an express-session + connect-redis app wrote before moving here (same Redis, redisStore only):
   * a user who comes back with the old cookie is logged in as `identify` says, moved to a new session and cookie
   * on that request, and the old record is deleted. See docs/guides/from-express-session.md.
   * @example
   * legacy: { secret: process.env.OLD_SESSION_SECRET, identify: (sess) => (typeof sess.userId === 'string' ? { id: sess.userId } : null) }
   */
  legacy?: LegacySessionOptions;
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
  checkOptions('sessionCookie', options);
  const cookieOptions: CookieOptions = { ...options?.cookie, ...(options?.secure !== undefined ? { secure: options.secure } : {}) };
  if (isCookieStore(options?.store) && options.recordCache !== undefined && options.recordCache !== false) {
    throw configError('`recordCache` is for server-side stores (redisStore, memoryStore); a cookieStore session needs no lookup');
  }
  if (isCookieStore(options?.store) && options.legacy !== undefined) {
    throw configError('`legacy` moves sessions from an express-session app\'s Redis: use redisStore({ client }) as `store`, not cookieStore');
  }
  if (isCookieStore(options?.store)) return asStrategy(sealedSessionCookie({ ...options, cookie: cookieOptions, store: options.store }));
  if (!isStateStore(options?.store)) throw configError('sessionCookie needs `store`: redisStore({ client }), memoryStore() or cookieStore({ secret })');
  if (options.revocation !== undefined) throw configError('`revocation` is only for cookieStore; server-side sessions are revoked by deleting them');
  return asStrategy(storedSessionCookie(options, options.store, resolveCookie(cookieOptions, 'sid')));
}

function storedSessionCookie(options: SessionCookieOptions, store: StateStore, cookie: ResolvedCookie): StrategyImpl {
  const timeouts = resolveTimeouts(options);
  const envelope = new SignedSessionIdEnvelope(checkSecrets(options.secret, 'sessionCookie secret'), (sid) => EXPRESS_SESSION_LAYOUT.prefix + sid);
  const namespace = sessionNamespace(options.legacy, store, cookie);
  const impl = storedSession({
    name: 'session-cookie', carrier: sessionIdCookie(cookie, namespace), store, layout: EXPRESS_SESSION_LAYOUT, timeouts, recordCache: options.recordCache,
    // express-session's session ids are 24 random bytes.
    sidBytes: 24,
    envelope: {
      open(value) {
        const found = envelope.open(value);
        if (found === null) throw new InvalidCredentialError();
        return { sid: found.sid, subject: null, key: found.key };
      },
      seal: (sid) => envelope.sign(sid),
    },
    extra: () => ({ cookie: sessionCookieField(cookie, timeouts) }),
  });
  return options.legacy === undefined ? impl : { ...impl, migratesFrom: [legacySessions(options.legacy, store)] };
}

/** The cookie names and record prefixes this strategy owns; `legacy` must not share them (checked once, here). */
function sessionNamespace(legacy: LegacySessionOptions | undefined, store: StateStore, cookie: ResolvedCookie): SessionNamespace {
  const own = ownSessionPrefix(store);
  if (legacy === undefined) return { cookies: [cookie.name], prefixes: own === null ? [] : [own] };
  const old = resolveLegacy(legacy);
  if (old.cookie === cookie.name) {
    throw configError(`\`legacy.cookie\` '${old.cookie}' is also the new session cookie: give the new one its own \`cookie.name\` (the default is '${cookie.secure ? '__Host-sid' : 'sid'}')`);
  }
  if (own !== null && (own.startsWith(old.prefix) || old.prefix.startsWith(own))) {
    throw configError(`\`legacy.prefix\` '${old.prefix}' overlaps the new records' '${own}': give redisStore() its own \`prefix\` (default 'ep:')`);
  }
  return { cookies: [cookie.name, old.cookie], prefixes: own === null ? [old.prefix] : [own, old.prefix] };
}

function sessionIdCookie(cookie: ResolvedCookie, namespace: SessionNamespace): SessionCarrier {
  const warnInsecure = insecureCookieWarning(cookie);
  return {
    kinds: ['cookie'],
    find(req) {
      refuseExpressSessionClash(req, namespace);
      const value = readCookie(req, cookie, Infinity);
      return value === null ? null : { value, carrier: 'cookie' };
    },
    write(req, res, value, ttlMs) {
      // Like express-session, a Secure cookie goes out only on a secure request (never a session id in clear text).
      if (!cookie.secure || req.secure) writeCookie(res, cookie, value, ttlMs);
      else warnInsecure(req);
    },
    clear: (res) => clearCookie(res, cookie),
  };
}
