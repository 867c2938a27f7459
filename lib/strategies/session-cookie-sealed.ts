import { randomBytes } from 'node:crypto';
import type { Request, Response } from 'express';
import type { Authenticated, CookieOptions, CookieStore, Identity, Issued, Principal, StateStore } from '../types';
import type { StrategyImpl } from '../strategy';
import { configError, CredentialRevokedError, CredentialTooLargeError, InvalidCredentialError, NotSupportedError } from '../errors';
import { clearCookie, readCookie, resolveCookie, writeCookie, type ResolvedCookie } from '../carriers/cookie';
import { insecureCookieWarning } from '../carriers/insecure-cookie';
import { isStateStore } from '../state/store-kind';
import { createRevocation, type RevocationTuning } from '../state/revocation';
import { checkRecord, newRecord, parseRecord, patchRecord, recordPrincipal, remainingMs, resolveTimeouts, type SessionRecord, type SessionTimeouts } from '../state/session-record';
import { loginAuthTime } from '../auth-time';
import { CredentialCache } from '../cache/credential-cache';
import { SealedDevices } from '../state/sealed-devices';
import type { DeviceFacts } from '../state/device';

/** Browsers drop cookies over 4096 bytes (name + value); refuse to write one rather than lose the session. */
export const MAX_COOKIE_BYTES = 4096;
const OPENED_MAX = 5000;

interface SealedOptions extends SessionTimeouts, RevocationTuning {
  store: CookieStore;
  cookie: CookieOptions;
  revocation?: StateStore;
}

interface SealedSession extends SessionRecord {
  sid: string;
}

/** Seals a session into its cookie, refusing one a browser would drop; a Secure one on plain http is warned about. */
function sealedWriter(store: CookieStore, cookie: ResolvedCookie): (res: Response, sealed: SealedSession) => void {
  const warnInsecure = insecureCookieWarning(cookie);
  return (res, sealed) => {
    const value = store.seal(JSON.stringify(sealed));
    if (cookie.name.length + 1 + value.length > MAX_COOKIE_BYTES) {
      throw new TypeError(`express-principal: the sealed session is ${value.length} bytes; browsers drop cookies over 4 KB. Keep claims small or use a server-side store`);
    }
    writeCookie(res, cookie, value, remainingMs(sealed));
    warnInsecure(res.req);
  };
}

interface Opened { sealed: SealedSession; principal: Principal }

/**
 * Opens a sealed cookie through `opened`, one entry per exact value: a browser sends the same cookie until it
 * slides, so most requests skip AES-GCM, JSON and the Principal build. Bounded; deadlines and revocation are
 * still checked on every request.
 */
function opener(store: CookieStore, opened: CredentialCache<Opened>): (raw: string) => Opened {
  return (raw) => {
    const hit = opened.get(raw);
    if (hit !== undefined) return hit;
    const plain = store.open(raw);
    if (plain === null) throw new InvalidCredentialError();
    const sealed = Object.freeze(parseRecord(plain)) as SealedSession;
    if (typeof sealed.sid !== 'string') throw new InvalidCredentialError();
    const entry = { sealed, principal: recordPrincipal(sealed, 'session-cookie', sealed.sid) };
    opened.set(raw, entry);
    return entry;
  };
}

/** The session lives in an encrypted cookie: no server state, revocable only with a `revocation` store. */
export function sealedSessionCookie(options: SealedOptions): StrategyImpl {
  const { store } = options;
  const cookie = resolveCookie(options.cookie, 'sid');
  const timeouts = resolveTimeouts(options);
  if (options.revocation !== undefined && !isStateStore(options.revocation)) throw configError('`revocation` must be redisStore() or memoryStore()');
  const revocation = options.revocation ? createRevocation(options.revocation, { maxLifetimeMs: timeouts.absoluteMs, clockToleranceMs: 0 }, options) : null;
  // With a revocation store, each login is also listed as a device (lib/state/sealed-devices.ts).
  const devices = options.revocation && revocation ? new SealedDevices(options.revocation, revocation, timeouts.absoluteMs) : null;

  const write = sealedWriter(store, cookie);

  const opened = new CredentialCache<Opened>(OPENED_MAX);
  const open = opener(store, opened);

  function authenticate(res: Response, raw: string): Authenticated | Promise<Authenticated> {
    if (raw.length > MAX_COOKIE_BYTES) throw new CredentialTooLargeError();
    const { sealed, principal } = open(raw);
    const slide = checkRecord(sealed, timeouts.touchMs);
    const admit = (): Authenticated | Promise<Authenticated> => {
      if (!slide) return { principal, carrier: 'cookie' };
      const next: SealedSession = { ...sealed, lastSeen: Date.now() };
      write(res, next);
      const slid: Authenticated = { principal: recordPrincipal(next, 'session-cookie', next.sid), carrier: 'cookie' };
      return devices ? devices.seen(next.sid, next.id, next.lastSeen).then(() => slid) : slid;
    };
    if (!revocation) return admit();
    const revoked = revocation.check(sealed.id, sealed.sid, sealed.issuedAt); // local (sync) when in sync, else a store lookup
    if (revoked === true) throw new CredentialRevokedError();
    if (revoked === false) return admit();
    return revoked.then((yes) => { if (yes) throw new CredentialRevokedError(); return admit(); });
  }

  async function login(_req: Request, res: Response, identity: Identity, previous: Principal | null, facts?: DeviceFacts): Promise<Issued> {
    // A login is a proof of identity: the login time starts now (refreshPrincipal re-issues keep it).
    const authAt = loginAuthTime(identity, previous); // now, or kept by a migration re-issue (lib/migration.ts)
    const sealed: SealedSession = { ...newRecord(identity, timeouts, authAt), sid: randomBytes(18).toString('base64url') };
    if (devices) {
      await devices.add(sealed.sid, sealed, facts);
      // A new session at every login: the one this request came with ends, so the device is not listed twice.
      if (previous?.strategy === 'session-cookie' && previous.sessionId !== null) await devices.end(previous.sessionId, previous.id, previous.issuedAt.getTime() + timeouts.absoluteMs);
    }
    write(res, sealed);
    return { token: null, expiresAt: new Date(sealed.absExp), sessionId: sealed.sid, ...(devices ? { handle: SealedDevices.handle(sealed.sid) } : {}) };
  }

  async function logout(_req: Request, res: Response, current: Principal | null) {
    if (devices && current?.sessionId) await devices.end(current.sessionId, current.id, current.issuedAt.getTime() + timeouts.absoluteMs);
    clearCookie(res, cookie);
  }

  return {
    name: 'session-cookie',
    carriers: ['cookie'],
    sessions: devices?.directory,
    find(req) {
      const value = readCookie(req, cookie, Infinity);
      return value === null ? null : { carrier: 'cookie', value };
    },
    authenticate: (_req, res, presented) => authenticate(res, presented.value),
    login,
    logout,
    async revokeAll(subject) {
      if (!devices) throw new NotSupportedError('revokeAll with cookieStore needs sessionCookie({ revocation: redisStore(...) })');
      return devices.endSubject(subject);
    },
    /** refreshPrincipal: re-seals the cookie with the freshly loaded data (loadedAt = now). */
    async rehydrate(req, res, _current, identity) {
      const sealed = parseRecord(store.open(readCookie(req, cookie, MAX_COOKIE_BYTES) ?? '') ?? '') as SealedSession;
      const next: SealedSession = { ...patchRecord(sealed, { roles: identity.roles ?? [], scopes: identity.scopes ?? [], claims: identity.claims ?? {} }), sid: sealed.sid };
      write(res, next);
      return recordPrincipal(next, 'session-cookie', next.sid);
    },
    async update() {
      throw new NotSupportedError('a cookie-only session cannot be changed from the server; use refreshPrincipal or a server-side store');
    },
    close: async () => {
      opened.clear();
      await revocation?.close();
    },
  };
}
