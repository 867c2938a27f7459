import type { Request, Response } from 'express';
import type { Authenticated, CarrierKind, Identity, Issued, Principal, StateStore, Strategy } from '../types';
import { AuthRequiredError, configError, CredentialRevokedError, InvalidCredentialError, LogoutIncompleteError, NotSupportedError } from '../errors';
import { toMs } from '../duration';
import { fromPayload, sanitizeIdentity, validateMapping, type ClaimMapping } from '../claims';
import { createRevocation, type Revocation, type RevocationTuning } from '../state/revocation';
import { isStateStore } from '../state/store-kind';
import { jwtParts, type JwtCommonOptions } from './jwt-common';
import type { VerifiedJwt } from '../envelopes/jwt';
import { makePrincipal } from '../principal-of';
import { refreshTokens, type RefreshOptions } from '../refresh/refresh-tokens';
import { REISSUED_TOKEN_HEADER } from '../carriers/header';
import { jwksKeySource, type JwksVerifierOptions } from '../envelopes/jwks-source';
import { loginAuthTime } from '../auth-time';
import { signedPartId } from './revocation-id';
import { checkOptions } from '../option-keys';

export interface StatelessJwtOptions extends JwtCommonOptions, JwksVerifierOptions, RevocationTuning {
  /** Lifetime of issued tokens. @default '15m' */
  ttl?: string | number;
  /** How claims become roles/scopes/claims (e.g. `{ roles: 'realm_access.roles' }`). */
  claims?: ClaimMapping;
  /** Optional store, used for revocation only (jti deny-list, `revokeAll`). */
  store?: StateStore;
  /** Rotating refresh tokens (stateless access + stateful refresh): `{ store, ttl: '30d', graceWindow: '10s', cookiePath: '/auth/refresh' }`. */
  refresh?: RefreshOptions;
}

/**
 * All claims live in the signed token; no lookup per request.
 * @example
 * principal({ strategy: statelessJwt({ secret: process.env.JWT_SECRET, issuer: 'auth', audience: 'api' }) })
 */
export function statelessJwt(options: StatelessJwtOptions): Strategy {
  checkOptions('statelessJwt', options);
  // `jwksUri`: verify-only, keys from the issuer's JWKS (lib/envelopes/jwks-source.ts).
  const { envelope, carrier, keys, clockToleranceMs } = jwtParts(options, jwksKeySource(options as StatelessJwtOptions & Record<string, unknown>));
  const ttlMs = toMs(options.ttl ?? '15m', 'ttl');
  if (ttlMs <= 0) throw configError('ttl must be positive');
  validateMapping(options.claims);
  if (options.store !== undefined && !isStateStore(options.store)) {
    throw configError('statelessJwt `store` is for revocation only and must be redisStore() or memoryStore() (cookieStore cannot hold a deny-list)');
  }
  const maxLifetimeMs = ttlMs + clockToleranceMs;
  // Local revocation cache kept current by the store's revocation log (lib/state/revocation.ts): no round trip per request.
  const revocation: Revocation | null = options.store ? createRevocation(options.store, { maxLifetimeMs, clockToleranceMs }, options) : null;
  const refresh = options.refresh === undefined ? null : refreshTokens(options.refresh, {
    carriers: carrier.kinds,
    accessCookieSecure: carrier.cookie?.secure,
    revokeJti: revocation ? (jti, expMs) => revocation.revoke(jti, expMs + clockToleranceMs) : null,
  });
  /** Refresh family (`sid` claim) of each authenticated principal: logout and rehydration carry it over. */
  const families = new WeakMap<Principal, string>();
  /** Deny-list id of each principal whose token carries no `jti` (lib/strategies/revocation-id.ts). */
  const jtiLess = new WeakMap<Principal, string>();

  /** Everything derived from a verified token, kept on its cache entry: a cache hit rebuilds nothing. `jti`: its deny-list id. */
  interface Derived { principal: Principal; jti: string | null; issuedAtMs: number; viaHeader?: Authenticated; viaCookie?: Authenticated }

  function derive(verified: VerifiedJwt, token: string): Derived {
    if (verified.memo !== undefined) return verified.memo as Derived;
    const { payload, expMs } = verified;
    const identity = fromPayload(payload, options.claims);
    const issuedAtMs = typeof payload.iat_ms === 'number' ? payload.iat_ms : Number(payload.iat ?? 0) * 1000;
    const jti = typeof payload.jti === 'string' ? payload.jti : null;
    const authenticatedAtMs = typeof payload.auth_time === 'number' ? payload.auth_time * 1000 : issuedAtMs;
    // The Principal is frozen and shared by every request presenting this exact token.
    const principal = makePrincipal(identity, 'stateless-jwt', jti, { issuedAtMs, expiresAtMs: expMs, authenticatedAtMs, loadedAtMs: issuedAtMs });
    if (typeof payload.sid === 'string') families.set(principal, payload.sid);
    // With a store, a token without jti is checked and revoked under a surrogate id: a logout never does nothing.
    const revocationId = jti ?? (revocation ? signedPartId(token) : null);
    if (jti === null && revocationId !== null) jtiLess.set(principal, revocationId);
    const derived: Derived = { principal, jti: revocationId, issuedAtMs };
    verified.memo = derived;
    return derived;
  }

  /** Revocation runs on every request, cached token or not: from local state when in sync, else one lookup. */
  function admit(verified: VerifiedJwt, via: CarrierKind, token: string): Authenticated | Promise<Authenticated> {
    const derived = derive(verified, token);
    const { principal, jti, issuedAtMs } = derived;
    // One frozen answer per token and carrier, built on first use: a cache hit allocates nothing.
    const result = via === 'header'
      ? (derived.viaHeader ??= Object.freeze({ principal, carrier: 'header' as const }))
      : (derived.viaCookie ??= Object.freeze({ principal, carrier: 'cookie' as const }));
    if (!revocation) return result;
    // Revocation marks live for this strategy's longest token; a token that lives longer (minted
    // elsewhere, or before a ttl was shortened) would outlive its revokeAll mark: refuse it.
    if (issuedAtMs <= 0 || verified.expMs - issuedAtMs > maxLifetimeMs) throw new InvalidCredentialError();
    const revoked = revocation.check(principal.id, jti, issuedAtMs);
    if (revoked === true) throw new CredentialRevokedError();
    if (revoked === false) return result;
    return revoked.then((yes) => { if (yes) throw new CredentialRevokedError(); return result; });
  }

  function authenticate(req: Request): Authenticated | null | Promise<Authenticated | null> {
    const found = carrier.read(req);
    if (found === null) return null;
    const verified = envelope.verify(found.token);
    return verified instanceof Promise ? verified.then((v) => admit(v, found.carrier, found.token)) : admit(verified, found.carrier, found.token);
  }

  /** Signs an access token; login, rehydration and refresh all go through here. `auth_time` is the caller's. */
  function sign(identity: Identity, authTimeMs: number, familyId: string | null) {
    const id = sanitizeIdentity(identity);
    const claims: Record<string, unknown> = { ...id.claims, sub: id.id, roles: [...id.roles] };
    if (id.scopes.length > 0) claims.scope = id.scopes.join(' ');
    const authTime = Math.floor(authTimeMs / 1000);
    claims.auth_time = authTime;
    if (familyId !== null) claims.sid = familyId;
    const signed = envelope.sign(claims, ttlMs);
    const principal = makePrincipal(id, 'stateless-jwt', signed.jti, {
      issuedAtMs: signed.issuedAtMs, expiresAtMs: signed.expiresAtMs, authenticatedAtMs: authTime * 1000, loadedAtMs: signed.issuedAtMs,
    });
    if (familyId !== null) families.set(principal, familyId);
    return { signed, principal };
  }

  async function login(_req: Request, res: Response, identity: Identity, previous: Principal | null): Promise<Issued> {
    // A login is a proof of identity: the login time starts now (re-issues — rehydrate, refresh — keep it).
    const authTime = loginAuthTime(identity, previous); // now, or kept by a migration re-issue (lib/migration.ts)
    const oldFamily = previous ? families.get(previous) : undefined;
    if (refresh && oldFamily !== undefined) await refresh.revokeFamily(oldFamily);
    const familyId = refresh ? refresh.newFamily() : null;
    const { signed } = sign(identity, authTime, familyId);
    let refreshToken: string | undefined;
    if (refresh && familyId !== null) {
      const issued = await refresh.issue(identity, authTime, familyId);
      await refresh.trackAccess(familyId, signed.jti, signed.expiresAtMs);
      refresh.write(res, issued.token, issued.expiresAtMs - Date.now());
      if (refresh.deliverBody) refreshToken = issued.token;
    }
    carrier.write(res, signed.token, signed.expiresAtMs - Date.now());
    return {
      token: carrier.kinds.includes('header') ? signed.token : null, expiresAt: new Date(signed.expiresAtMs), sessionId: signed.jti,
      ...(refreshToken !== undefined ? { refreshToken } : {}),
    };
  }

  /** New roles from refreshPrincipal: a new token, delivered where the old one came from (cookie, or a response header). */
  async function rehydrate(req: Request, res: Response, current: Principal, identity: Identity): Promise<Principal> {
    const familyId = families.get(current) ?? null;
    const { signed, principal } = sign(identity, current.authenticatedAt.getTime(), familyId);
    if (refresh && familyId !== null) {
      await refresh.trackAccess(familyId, signed.jti, signed.expiresAtMs);
      // Same argument as in rotate(): a revokeAll racing this re-issue either ends it here or covers the new token.
      await refresh.confirm(familyId, current.id, current.issuedAt.getTime());
    }
    if (carrier.present(req) === 'cookie') carrier.write(res, signed.token, signed.expiresAtMs - Date.now());
    else {
      res.setHeader(REISSUED_TOKEN_HEADER, signed.token);
      if (req.headers.origin !== undefined) res.append('Access-Control-Expose-Headers', REISSUED_TOKEN_HEADER);
    }
    res.setHeader('Cache-Control', 'no-store');
    return principal;
  }

  async function rotate(req: Request, res: Response, resolve: (snapshot: Identity) => Promise<Identity | null>): Promise<Issued> {
    if (!refresh) throw new NotSupportedError('refresh tokens need statelessJwt({ refresh: { store } })');
    const raw = refresh.read(req);
    if (raw === null) throw new AuthRequiredError();
    const rotated = await refresh.rotate(raw, resolve);
    const { signed } = sign(rotated.identity, rotated.authAtMs, rotated.familyId);
    await refresh.trackAccess(rotated.familyId, signed.jti, signed.expiresAtMs);
    // Asked again after signing: if this read misses a revokeAll's refresh mark, the token was signed before that
    // mark was written, so before the access mark's time, which revokeAll takes only once the refresh mark is
    // stored: the access mark covers this token. Either way nothing minted here outlives the revokeAll.
    await refresh.confirm(rotated.familyId, rotated.identity.id, rotated.familyAtMs);
    refresh.write(res, rotated.token, rotated.expiresAtMs - Date.now());
    carrier.write(res, signed.token, signed.expiresAtMs - Date.now());
    res.setHeader('Cache-Control', 'no-store');
    return {
      token: carrier.kinds.includes('header') ? signed.token : null, expiresAt: new Date(signed.expiresAtMs), sessionId: signed.jti,
      ...(refresh.deliverBody ? { refreshToken: rotated.token } : {}),
    };
  }

  async function logout(req: Request, res: Response, current: Principal | null) {
    const revocationId = current === null ? undefined : current.sessionId ?? jtiLess.get(current);
    if (revocation && current && revocationId) await revocation.revoke(revocationId, current.expiresAt.getTime() + clockToleranceMs);
    const familyId = current ? families.get(current) : undefined;
    if (refresh && familyId !== undefined) await refresh.revokeFamily(familyId);
    if (refresh) await endPresentedFamily(req, current, familyId);
    refresh?.clear(res);
    carrier.clear(res);
  }

  /**
   * The family of the refresh token the logout request carries: an idle tab's access token has expired, and the
   * refresh cookie is sent only under its path (`auth.logoutHandler()` mounted there) or in a native client's body.
   */
  async function endPresentedFamily(req: Request, current: Principal | null, alreadyEnded: string | undefined) {
    if (!refresh) return;
    const raw = refresh.read(req);
    // Neither a valid access token nor the refresh credential: the client may hold a 30-day refresh token we
    // cannot see, and a 2xx would leave it alive.
    if (raw === null && current === null) throw new LogoutIncompleteError();
    const familyId = raw === null ? null : await refresh.familyOf(raw);
    if (familyId !== null && familyId !== alreadyEnded) await refresh.revokeFamily(familyId);
  }

  return {
    name: 'stateless-jwt',
    carriers: carrier.kinds,
    present: (req) => carrier.present(req),
    authenticate,
    login,
    logout,
    async revokeAll(subject) {
      if (!revocation && !refresh) throw new NotSupportedError('revokeAll needs statelessJwt({ store }) (a deny-list); without one, tokens live until they expire');
      // Refresh mark first, access mark after it is stored: an access token signed by a rotation that missed the
      // refresh mark was signed before the access mark's time (see rotate()).
      await refresh?.revokeSubject(subject);
      await revocation?.revokeAll(subject, maxLifetimeMs);
    },
    async update() {
      throw new NotSupportedError('stateless tokens carry their claims; use principal({ refreshPrincipal }) to re-issue them');
    },
    publicJwks: () => keys.publicJwks(),
    rehydrate,
    refresh: rotate,
    close: async () => { await revocation?.close(); },
  };
}
