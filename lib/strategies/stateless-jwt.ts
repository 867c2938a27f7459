import type { Request, Response } from 'express';
import type { Identity, Issued, Principal, StateStore, Strategy } from '../types';
import { configError, CredentialRevokedError, NotSupportedError } from '../errors';
import { toMs } from '../duration';
import { fromPayload, sanitizeIdentity, validateMapping, type ClaimMapping } from '../claims';
import { storeRevocation, type Revocation } from '../state/revocation';
import { isStateStore } from '../state/store-kind';
import { jwtParts, type JwtCommonOptions } from './jwt-common';
import { makePrincipal } from './principal-of';

export interface StatelessJwtOptions extends JwtCommonOptions {
  /** Lifetime of issued tokens. @default '15m' */
  ttl?: string | number;
  /** How claims become roles/scopes/claims (e.g. `{ roles: 'realm_access.roles' }`). */
  claims?: ClaimMapping;
  /** Optional store, used for revocation only (jti deny-list, `revokeAll`). */
  store?: StateStore;
}

/**
 * All claims live in the signed token; no lookup per request.
 * @example
 * principal({ strategy: statelessJwt({ secret: process.env.JWT_SECRET, issuer: 'auth', audience: 'api' }) })
 */
export function statelessJwt(options: StatelessJwtOptions): Strategy {
  const { envelope, carrier, keys, clockToleranceMs } = jwtParts(options);
  const ttlMs = toMs(options.ttl ?? '15m', 'ttl');
  if (ttlMs <= 0) throw configError('ttl must be positive');
  validateMapping(options.claims);
  if (options.store !== undefined && !isStateStore(options.store)) {
    throw configError('statelessJwt `store` is for revocation only and must be redisStore() or memoryStore() (cookieStore cannot hold a deny-list)');
  }
  const revocation: Revocation | null = options.store ? storeRevocation(options.store) : null;
  const maxLifetimeMs = ttlMs + clockToleranceMs;

  async function authenticate(req: Request) {
    const found = carrier.read(req);
    if (found === null) return null;
    const { payload, expMs } = await envelope.verify(found.token);
    const identity = fromPayload(payload, options.claims);
    const issuedAtMs = typeof payload.iat_ms === 'number' ? payload.iat_ms : Number(payload.iat ?? 0) * 1000;
    const jti = typeof payload.jti === 'string' ? payload.jti : null;
    if (revocation && (await revocation.isRevoked(identity.id, jti, issuedAtMs))) throw new CredentialRevokedError();
    const authenticatedAtMs = typeof payload.auth_time === 'number' ? payload.auth_time * 1000 : issuedAtMs;
    const principal = makePrincipal(identity, 'stateless-jwt', jti, { issuedAtMs, expiresAtMs: expMs, authenticatedAtMs, loadedAtMs: issuedAtMs });
    return { principal, carrier: found.carrier };
  }

  async function login(_req: Request, res: Response, identity: Identity, previous: Principal | null): Promise<Issued> {
    const id = sanitizeIdentity(identity);
    const claims: Record<string, unknown> = { ...id.claims, sub: id.id, roles: [...id.roles] };
    if (id.scopes.length > 0) claims.scope = id.scopes.join(' ');
    // A re-issue for the same subject keeps the original login time; a new login starts it now.
    const authTime = previous !== null && previous.id === id.id ? previous.authenticatedAt.getTime() : Date.now();
    claims.auth_time = Math.floor(authTime / 1000);
    const signed = envelope.sign(claims, ttlMs);
    carrier.write(res, signed.token, signed.expiresAtMs - Date.now());
    return { token: carrier.kinds.includes('header') ? signed.token : null, expiresAt: new Date(signed.expiresAtMs), sessionId: signed.jti };
  }

  async function logout(_req: Request, res: Response, current: Principal | null) {
    if (revocation && current?.sessionId) await revocation.revoke(current.sessionId, current.expiresAt.getTime() + clockToleranceMs);
    carrier.clear(res);
  }

  return {
    name: 'stateless-jwt',
    carriers: carrier.kinds,
    present: (req) => carrier.present(req),
    authenticate,
    login,
    logout,
    async revokeAll(subject) {
      if (!revocation) throw new NotSupportedError('revokeAll needs statelessJwt({ store }) (a deny-list); without one, tokens live until they expire');
      await revocation.revokeAll(subject, maxLifetimeMs);
    },
    async update() {
      throw new NotSupportedError('stateless tokens carry their claims; use principal({ refreshPrincipal }) to re-issue them');
    },
    publicJwks: () => keys.publicJwks(),
    close: async () => { await revocation?.close(); },
  };
}
