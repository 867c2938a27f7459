import type { Request, Response } from 'express';
import type { Authenticated, Identity, Issued, Presented, Principal, StateStore, Strategy } from '../types';
import { asStrategy } from '../strategy';
import { AuthRequiredError, configError, LogoutIncompleteError, NotSupportedError } from '../errors';
import { toMs } from '../duration';
import { validateMapping, type ClaimMapping } from '../claims';
import { createRevocation, type Revocation, type RevocationTuning } from '../state/revocation';
import { isStateStore } from '../state/store-kind';
import { jwtParts, type JwtCommonOptions } from './jwt-common';
import { ACCESS_TOKEN_TYP, type JwtEnvelope, type SignedJwt } from '../envelopes/jwt';
import { refreshTokens, type RefreshOptions, type RefreshTokens } from '../refresh/refresh-tokens';
import { REISSUED_TOKEN_HEADER } from '../carriers/header';
import { refuseOversized, type TokenCarrier } from '../carriers/token-carrier';
import { FOREIGN_ACCESS_TYP, jwksKeySource, type JwksVerifierOptions } from '../envelopes/jwks-source';
import { loginAuthTime } from '../auth-time';
import { checkOptions } from '../option-keys';
import { AccessTokens } from './access-tokens';
import { familyHandle } from '../state/refresh-families';
import type { DeviceFacts } from '../state/device';
import { JwtLogins } from './jwt-logins';

export interface StatelessJwtOptions extends JwtCommonOptions, JwksVerifierOptions, RevocationTuning {
  /** Lifetime of issued tokens. @default '15m' */
  ttl?: string | number;
  /** How claims become roles/scopes/claims (e.g. `{ roles: 'realm_access.roles' }`). */
  claims?: ClaimMapping;
  /**
   * Optional store: the jti deny-list and `revokeAll`, and (without `refresh`) each login's record, so the sessions
   * API lists logins as devices and ending one denies its live access tokens.
   */
  store?: StateStore;
  /** Rotating refresh tokens (stateless access + stateful refresh): `{ store, ttl: '30d', graceWindow: '10s', cookiePath: '/auth/refresh' }`. */
  refresh?: RefreshOptions;
}

/** The parts statelessJwt is composed of: a token carrier, the JWT envelope, and revocation / refresh state. */
interface Parts {
  carrier: TokenCarrier;
  envelope: JwtEnvelope;
  tokens: AccessTokens;
  revocation: Revocation | null;
  refresh: RefreshTokens | null;
  /** Logins as devices when there is a store but no refresh tokens. */
  logins: JwtLogins | null;
  clockToleranceMs: number;
}

/**
 * All claims live in the signed token; no lookup per request. Carrier: bearer header and/or cookie; envelope: JWT
 * (`typ: at+jwt`); state: in the token, plus an optional revocation store and rotating refresh tokens.
 * @example
 * principal({ strategy: statelessJwt({ secret: process.env.JWT_SECRET, issuer: 'auth', audience: 'api' }) })
 */
export function statelessJwt(options: StatelessJwtOptions): Strategy {
  checkOptions('statelessJwt', options);
  // `jwksUri`: verify-only, keys from the issuer's JWKS (lib/envelopes/jwks-source.ts).
  const remote = jwksKeySource(options as StatelessJwtOptions & Record<string, unknown>);
  const { envelope, carrier, keys, clockToleranceMs } = jwtParts(options, remote, remote ? FOREIGN_ACCESS_TYP : ACCESS_TOKEN_TYP);
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
  const tokens = new AccessTokens({ envelope, ttlMs, claims: options.claims, revocation, maxLifetimeMs });
  const familyOf = (who: Principal) => tokens.familyOf(who);
  const logins = refresh === null && options.store && revocation
    ? new JwtLogins(options.store, maxLifetimeMs, (jti, expMs) => revocation.revoke(jti, expMs + clockToleranceMs), familyOf)
    : null;
  const parts: Parts = { carrier, envelope, tokens, revocation, refresh, logins, clockToleranceMs };
  return asStrategy({
    name: 'stateless-jwt',
    sessions: refresh?.directory(familyOf) ?? logins?.directory,
    carriers: carrier.kinds,
    find: (req) => carrier.find(req),
    authenticate: (_req, _res, presented) => authenticate(parts, presented),
    login: (_req, res, identity, previous, facts) => login(parts, res, identity, previous, facts),
    logout: (req, res, current) => logout(parts, req, res, current),
    async revokeAll(subject) {
      if (!revocation && !refresh) throw new NotSupportedError('revokeAll needs statelessJwt({ store }) (a deny-list); without one, tokens live until they expire');
      // Refresh mark first, access mark after it is stored: an access token signed by a rotation that missed the
      // refresh mark was signed before the access mark's time (see rotate()).
      await refresh?.revokeSubject(subject);
      await logins?.endSubject(subject);
      return (await revocation?.revokeAll(subject, maxLifetimeMs)) ?? [];
    },
    async update() {
      throw new NotSupportedError('stateless tokens carry their claims; use principal({ refreshPrincipal }) to re-issue them');
    },
    publicJwks: () => keys.publicJwks(),
    rehydrate: (req, res, current, identity) => rehydrate(parts, req, res, current, identity),
    refresh: (req, res, resolve) => rotate(parts, req, res, resolve),
    close: async () => { await revocation?.close(); },
  });
}

function authenticate({ envelope, tokens }: Parts, presented: Presented): Authenticated | Promise<Authenticated> {
  refuseOversized(presented);
  const verified = envelope.verify(presented.value);
  const via = presented.carrier;
  return verified instanceof Promise ? verified.then((v) => tokens.admit(v, via, presented.value)) : tokens.admit(verified, via, presented.value);
}

function issued({ carrier }: Parts, res: Response, signed: SignedJwt, refreshToken?: string): Issued {
  carrier.write(res, signed.token, signed.expiresAtMs - Date.now());
  return {
    token: carrier.kinds.includes('header') ? signed.token : null, expiresAt: new Date(signed.expiresAtMs), sessionId: signed.jti,
    ...(refreshToken !== undefined ? { refreshToken } : {}),
  };
}

async function login(parts: Parts, res: Response, identity: Identity, previous: Principal | null, facts?: DeviceFacts): Promise<Issued> {
  const { refresh, logins, tokens } = parts;
  // A login is a proof of identity: the login time starts now (re-issues — rehydrate, refresh — keep it).
  const authTime = loginAuthTime(identity, previous); // now, or kept by a migration re-issue (lib/migration.ts)
  const oldFamily = previous ? tokens.familyOf(previous) : undefined;
  if (refresh && oldFamily !== undefined && previous) await refresh.revokeFamily(oldFamily, previous.id);
  // The device logs in again: its earlier login ends, so it is not listed twice.
  if (logins && oldFamily !== undefined && previous) await logins.end(oldFamily, previous.id);
  const familyId = refresh?.newFamily() ?? logins?.newLogin() ?? null;
  const { signed } = tokens.sign(identity, authTime, familyId);
  if (logins && familyId !== null) {
    await logins.begin(identity.id, familyId, authTime, signed.jti, signed.expiresAtMs, facts);
    return { ...issued(parts, res, signed), handle: familyHandle(familyId) };
  }
  if (refresh === null || familyId === null) return issued(parts, res, signed);
  const first = await refresh.issue(identity, authTime, familyId, facts);
  await refresh.trackAccess(familyId, signed.jti, signed.expiresAtMs);
  refresh.write(res, first.token, first.expiresAtMs - Date.now());
  return { ...issued(parts, res, signed, refresh.deliverBody ? first.token : undefined), handle: familyHandle(familyId) };
}

/** New roles from refreshPrincipal: a new token, delivered where the old one came from (cookie, or a response header). */
async function rehydrate({ carrier, tokens, refresh, logins }: Parts, req: Request, res: Response, current: Principal, identity: Identity): Promise<Principal> {
  const familyId = tokens.familyOf(current) ?? null;
  const { signed, principal } = tokens.sign(identity, current.authenticatedAt.getTime(), familyId);
  if (refresh && familyId !== null) {
    await refresh.trackAccess(familyId, signed.jti, signed.expiresAtMs);
    // Same argument as in rotate(): a revokeAll racing this re-issue either ends it here or covers the new token.
    await refresh.confirm(familyId, current.id, current.issuedAt.getTime());
  }
  if (logins && familyId !== null) await logins.reissued(familyId, current.id, current.issuedAt.getTime(), signed.jti, signed.expiresAtMs);
  if (carrier.present(req) === 'cookie') carrier.write(res, signed.token, signed.expiresAtMs - Date.now());
  else {
    res.setHeader(REISSUED_TOKEN_HEADER, signed.token);
    if (req.headers.origin !== undefined) res.append('Access-Control-Expose-Headers', REISSUED_TOKEN_HEADER);
  }
  res.setHeader('Cache-Control', 'no-store');
  return principal;
}

async function rotate(parts: Parts, req: Request, res: Response, resolve: (snapshot: Identity) => Promise<Identity | null>): Promise<Issued> {
  const { refresh, tokens } = parts;
  if (!refresh) throw new NotSupportedError('refresh tokens need statelessJwt({ refresh: { store } })');
  const raw = refresh.read(req);
  if (raw === null) throw new AuthRequiredError();
  const rotated = await refresh.rotate(raw, resolve);
  const { signed } = tokens.sign(rotated.identity, rotated.authAtMs, rotated.familyId);
  await refresh.trackAccess(rotated.familyId, signed.jti, signed.expiresAtMs);
  // Asked again after signing: if this read misses a revokeAll's refresh mark, the token was signed before that
  // mark was written, so before the access mark's time, which revokeAll takes only once the refresh mark is
  // stored: the access mark covers this token. Either way nothing minted here outlives the revokeAll.
  await refresh.confirm(rotated.familyId, rotated.identity.id, rotated.familyAtMs);
  refresh.write(res, rotated.token, rotated.expiresAtMs - Date.now());
  res.setHeader('Cache-Control', 'no-store');
  return issued(parts, res, signed, refresh.deliverBody ? rotated.token : undefined);
}

async function logout({ carrier, tokens, revocation, refresh, logins, clockToleranceMs }: Parts, req: Request, res: Response, current: Principal | null): Promise<void> {
  const familyId = current ? tokens.familyOf(current) : undefined;
  const revocationId = current === null ? undefined : tokens.revocationIdOf(current);
  // Ending a login denies every live token issued from it, this one included (tracked when it was signed).
  if (logins && current && familyId !== undefined) await logins.end(familyId, current.id);
  else if (revocation && current && revocationId) await revocation.revoke(revocationId, current.expiresAt.getTime() + clockToleranceMs);
  if (refresh && current && familyId !== undefined) await refresh.revokeFamily(familyId, current.id);
  if (refresh) await endPresentedFamily(refresh, req, current, familyId);
  refresh?.clear(res);
  carrier.clear(res);
}

/**
 * The family of the refresh token the logout request carries: an idle tab's access token has expired, and the
 * refresh cookie is sent only under its path (`auth.logoutHandler()` mounted there) or in a native client's body.
 */
async function endPresentedFamily(refresh: RefreshTokens, req: Request, current: Principal | null, alreadyEnded: string | undefined): Promise<void> {
  const raw = refresh.read(req);
  // Neither a valid access token nor the refresh credential: the client may hold a 30-day refresh token we
  // cannot see, and a 2xx would leave it alive.
  if (raw === null && current === null) throw new LogoutIncompleteError();
  const family = raw === null ? null : await refresh.familyOf(raw);
  if (family !== null && family.familyId !== alreadyEnded) await refresh.revokeFamily(family.familyId, family.subject);
}
