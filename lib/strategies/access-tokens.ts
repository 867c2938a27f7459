import type { Authenticated, CarrierKind, Identity, Principal } from '../types';
import { CredentialRevokedError, InvalidCredentialError } from '../errors';
import { fromPayload, sanitizeIdentity, type ClaimMapping } from '../claims';
import { makePrincipal } from '../principal-of';
import type { JwtEnvelope, SignedJwt, VerifiedJwt } from '../envelopes/jwt';
import type { Revocation } from '../state/revocation';
import { signedPartId } from '../envelopes/signed-part-id';

/** Everything derived from a verified token, kept on its cache entry: a cache hit rebuilds nothing. `jti`: its deny-list id. */
interface Derived { principal: Principal; jti: string | null; issuedAtMs: number; viaHeader?: Authenticated; viaCookie?: Authenticated }

export interface AccessTokenOptions {
  envelope: JwtEnvelope;
  ttlMs: number;
  claims: ClaimMapping | undefined;
  /** The deny-list and revokeAll marks (null: no store, tokens live until they expire). */
  revocation: Revocation | null;
  /** The longest life a token of this strategy can have (ttl + clock tolerance): marks live this long. */
  maxLifetimeMs: number;
}

/**
 * statelessJwt's access tokens: what a verified token means (its Principal, refresh family and deny-list id),
 * whether it is still allowed, and how a new one is signed. All claims live in the token.
 */
export class AccessTokens {
  /** Refresh family (`sid` claim) of each principal: logout and rehydration carry it over. */
  private readonly families = new WeakMap<Principal, string>();
  /** Deny-list id of each principal whose token carries no `jti` (lib/envelopes/signed-part-id.ts). */
  private readonly jtiLess = new WeakMap<Principal, string>();

  constructor(private readonly options: AccessTokenOptions) {}

  familyOf(principal: Principal): string | undefined {
    return this.families.get(principal);
  }

  /** The id a logout denies: the token's `jti`, or (with a store) the surrogate of a token without one. */
  revocationIdOf(principal: Principal): string | undefined {
    return principal.sessionId ?? this.jtiLess.get(principal);
  }

  /** Revocation runs on every request, cached token or not: from local state when in sync, else one lookup. */
  admit(verified: VerifiedJwt, via: CarrierKind, token: string): Authenticated | Promise<Authenticated> {
    const derived = this.derive(verified, token);
    const { principal, jti, issuedAtMs } = derived;
    // One frozen answer per token and carrier, built on first use: a cache hit allocates nothing.
    const result = via === 'header'
      ? (derived.viaHeader ??= Object.freeze({ principal, carrier: 'header' as const }))
      : (derived.viaCookie ??= Object.freeze({ principal, carrier: 'cookie' as const }));
    const revocation = this.options.revocation;
    if (!revocation) return result;
    // Revocation marks live for this strategy's longest token; a token that lives longer (minted
    // elsewhere, or before a ttl was shortened) would outlive its revokeAll mark: refuse it.
    if (issuedAtMs <= 0 || verified.expMs - issuedAtMs > this.options.maxLifetimeMs) throw new InvalidCredentialError();
    const revoked = revocation.check(principal.id, jti, issuedAtMs);
    if (revoked === true) throw new CredentialRevokedError();
    if (revoked === false) return result;
    return revoked.then((yes) => { if (yes) throw new CredentialRevokedError(); return result; });
  }

  private derive(verified: VerifiedJwt, token: string): Derived {
    if (verified.memo !== undefined) return verified.memo as Derived;
    const { payload, expMs } = verified;
    const identity = fromPayload(payload, this.options.claims);
    const issuedAtMs = typeof payload.iat_ms === 'number' ? payload.iat_ms : Number(payload.iat ?? 0) * 1000;
    const jti = typeof payload.jti === 'string' ? payload.jti : null;
    const authenticatedAtMs = typeof payload.auth_time === 'number' ? payload.auth_time * 1000 : issuedAtMs;
    // The Principal is frozen and shared by every request presenting this exact token.
    const principal = makePrincipal(identity, 'stateless-jwt', jti, { issuedAtMs, expiresAtMs: expMs, authenticatedAtMs, loadedAtMs: issuedAtMs });
    if (typeof payload.sid === 'string') this.families.set(principal, payload.sid);
    // With a store, a token without jti is checked and revoked under a surrogate id: a logout never does nothing.
    const revocationId = jti ?? (this.options.revocation ? signedPartId(token) : null);
    if (jti === null && revocationId !== null) this.jtiLess.set(principal, revocationId);
    const derived: Derived = { principal, jti: revocationId, issuedAtMs };
    verified.memo = derived;
    return derived;
  }

  /** Signs an access token; login, rehydration and refresh all go through here. `auth_time` is the caller's. */
  sign(identity: Identity, authTimeMs: number, familyId: string | null): { signed: SignedJwt; principal: Principal } {
    const id = sanitizeIdentity(identity);
    const claims: Record<string, unknown> = { ...id.claims, sub: id.id, roles: [...id.roles] };
    if (id.scopes.length > 0) claims.scope = id.scopes.join(' ');
    const authTime = Math.floor(authTimeMs / 1000);
    claims.auth_time = authTime;
    if (familyId !== null) claims.sid = familyId;
    const signed = this.options.envelope.sign(claims, this.options.ttlMs);
    const principal = makePrincipal(id, 'stateless-jwt', signed.jti, {
      issuedAtMs: signed.issuedAtMs, expiresAtMs: signed.expiresAtMs, authenticatedAtMs: authTime * 1000, loadedAtMs: signed.issuedAtMs,
    });
    if (familyId !== null) this.families.set(principal, familyId);
    return { signed, principal };
  }
}
