import type { MappedIdentity } from './claims';
import type { Principal, StrategyName } from './types';

/** The one place a Principal is built: frozen, same shape for every strategy. */
export function makePrincipal(
  identity: MappedIdentity,
  strategy: StrategyName,
  sessionId: string | null,
  times: { issuedAtMs: number; expiresAtMs: number; authenticatedAtMs: number; loadedAtMs: number },
): Principal {
  return Object.freeze({
    id: identity.id,
    roles: identity.roles,
    scopes: identity.scopes,
    claims: identity.claims,
    strategy,
    sessionId,
    issuedAt: new Date(times.issuedAtMs),
    expiresAt: new Date(times.expiresAtMs),
    authenticatedAt: new Date(times.authenticatedAtMs),
    loadedAt: new Date(times.loadedAtMs),
  });
}
