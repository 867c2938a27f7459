import type { Request, Response } from 'express';
import type { Authenticated, Identity, Presented, Principal, StateStore } from '../types';
import type { StrategyImpl } from '../strategy';
import { configError, CredentialExpiredError, InvalidCredentialError, NotSupportedError } from '../errors';
import { sanitizeIdentity } from '../claims';
import { makePrincipal } from '../principal-of';
import { clearCookie, readCookie, type ResolvedCookie } from '../carriers/cookie';
import { refuseOversized } from '../carriers/token-carrier';
import { checkLegacySecrets } from '../envelopes/secrets';
import { SignedSessionIdEnvelope } from '../envelopes/signed-session-id';
import { foreignSessions, type ForeignSessions } from '../state/foreign-sessions';

/** The sessions an express-session + connect-redis app wrote before it moved to sessionCookie. */
export interface LegacySessionOptions {
  /** express-session's cookie `name`. @default 'connect.sid' */
  cookie?: string;
  /** connect-redis's `prefix`: absolute, not under redisStore's own prefix. @default 'sess:' */
  prefix?: string;
  /** express-session's `secret` (a string or the list): verifies old cookies only, any length, never signs. */
  secret: string | string[];
  /**
   * Who an old session belongs to, from the app's own fields (`userId`, passport's `passport.user`…): an Identity,
   * or null for a session nobody is logged in to (answered 401, nothing written). May load the user (a promise).
   */
  identify(session: Readonly<Record<string, unknown>>): Identity | null | Promise<Identity | null>;
}

export interface ResolvedLegacy {
  readonly cookie: string;
  readonly prefix: string;
}

export function resolveLegacy(options: LegacySessionOptions): ResolvedLegacy {
  if (typeof options !== 'object' || options === null) throw configError('`legacy` must be an object: { cookie, prefix, secret, identify }');
  const cookie = options.cookie ?? 'connect.sid';
  const prefix = options.prefix ?? 'sess:';
  if (typeof cookie !== 'string' || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(cookie)) throw configError('`legacy.cookie` must be a cookie name (express-session\'s `name`)');
  if (typeof prefix !== 'string' || prefix.length === 0) throw configError('`legacy.prefix` must be a non-empty string (connect-redis\'s `prefix`)');
  if (typeof options.identify !== 'function') throw configError('`legacy.identify(session)` is required: it returns the Identity an old session belongs to, or null');
  return { cookie, prefix };
}

/**
 * A migrateFrom source over an express-session app's sessions: its cookie, its signature (the app's secrets,
 * verify only), its records (read, then deleted when the user moves). Never issues anything.
 */
export function legacySessions(options: LegacySessionOptions, store: StateStore): StrategyImpl {
  const { cookie: name, prefix } = resolveLegacy(options);
  const cookie: ResolvedCookie = { name, secure: false, sameSite: 'lax', path: '/', domain: undefined };
  const envelope = new SignedSessionIdEnvelope(checkLegacySecrets(options.secret, '`legacy.secret`'), (sid) => prefix + sid);
  const sessions: ForeignSessions = foreignSessions(store, prefix);
  /** Principals this source vouched for: their session id is a legacy one. */
  const ours = new WeakSet<Principal>();

  function sidOf(value: string): string {
    const opened = envelope.open(value);
    if (opened === null || opened.sid.length === 0 || opened.sid.length > 128) throw new InvalidCredentialError();
    return opened.sid;
  }

  async function authenticate(presented: Presented): Promise<Authenticated> {
    refuseOversized(presented);
    const sid = sidOf(presented.value);
    const session = await sessions.get(sid);
    if (session === null) throw new InvalidCredentialError();
    const expiresAtMs = cookieExpiry(session);
    if (expiresAtMs !== null && expiresAtMs <= Date.now()) throw new CredentialExpiredError();
    const identity = await options.identify(session);
    if (identity === null || identity === undefined) throw new InvalidCredentialError();
    const now = Date.now();
    // When the user proved who they are is not in an express-session record: never "just now" (a fresh-login guard asks again).
    const principal = makePrincipal(sanitizeIdentity(identity), 'session-cookie', sid, {
      issuedAtMs: now, expiresAtMs: expiresAtMs ?? now, authenticatedAtMs: 0, loadedAtMs: now,
    });
    ours.add(principal);
    return { principal, carrier: 'cookie' };
  }

  async function logout(req: Request, res: Response, current: Principal | null): Promise<void> {
    let sid = current !== null && ours.has(current) ? current.sessionId : null;
    if (sid === null) {
      const value = readCookie(req, cookie, Infinity);
      try { sid = value === null ? null : sidOf(value); } catch { sid = null; }
    }
    if (sid !== null) await sessions.destroy(sid);
    clearCookie(res, cookie);
  }

  return {
    name: 'session-cookie',
    carriers: ['cookie'],
    find(req) {
      const value = readCookie(req, cookie, Infinity);
      return value === null ? null : { value, carrier: 'cookie' };
    },
    authenticate: (_req, _res, presented) => authenticate(presented),
    login: () => Promise.reject(new NotSupportedError('legacy express-session sessions are read, never issued')),
    logout,
    revokeAll: () => Promise.reject(new NotSupportedError('legacy express-session sessions are not indexed by user; they end when they move or expire')),
    update: () => Promise.reject(new NotSupportedError('legacy express-session sessions take their data from `identify` when they move')),
    close: async () => { envelope.clear(); },
  };
}

/** express-session's own expiry of the session (`cookie.expires`), when it has one. */
function cookieExpiry(session: Readonly<Record<string, unknown>>): number | null {
  const expires = (session.cookie as { expires?: unknown } | undefined)?.expires;
  if (typeof expires !== 'string' && typeof expires !== 'number') return null;
  const ms = new Date(expires).getTime();
  return Number.isFinite(ms) ? ms : null;
}
