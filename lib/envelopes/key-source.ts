import type { KeySource } from './jwt';
import type { ResolvedKey } from './jwt-keys';

/** Keys held in process: the first one that can sign signs, every one verifies. */
export function localKeySource(keys: readonly ResolvedKey[]): KeySource {
  const byKid = new Map<string, ResolvedKey[]>();
  for (const key of keys) {
    const id = key.kid ?? '';
    byKid.set(id, [...(byKid.get(id) ?? []), key]);
  }
  const signer = keys.find((k) => k.signKey !== undefined);
  return {
    signer,
    // Local keys change only with a new strategy: a cached token's key is always still there.
    generation: 0,
    freshUntil: Infinity,
    holds: () => true,
    find(kid, alg) {
      const candidates = byKid.get(kid ?? '') ?? (kid === undefined && byKid.size === 1 ? [...byKid.values()][0] : undefined);
      return candidates?.find((k) => k.alg === alg);
    },
    publicJwks() {
      const seen = new Set<string>();
      const out: Record<string, unknown>[] = [];
      for (const key of keys) {
        if (key.verifyKey.type !== 'public' || seen.has(key.kid ?? '')) continue;
        seen.add(key.kid ?? '');
        const jwk = key.verifyKey.export({ format: 'jwk' }) as Record<string, unknown>;
        out.push({ ...jwk, ...(key.kid ? { kid: key.kid } : {}), alg: key.alg, use: 'sig' });
      }
      return { keys: out };
    },
  };
}
