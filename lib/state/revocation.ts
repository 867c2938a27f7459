import type { StateStore } from '../types';

/**
 * Revocation for credentials that carry their own state (stateless JWT, encrypted cookie):
 * a deny-list keyed by `jti` (never by token bytes: signatures are malleable) and a per-subject
 * "revoked before" mark for `revokeAll`. Every key expires with the longest credential it can affect.
 */
export interface Revocation {
  isRevoked(subject: string, jti: string | null, issuedAtMs: number): Promise<boolean>;
  revoke(jti: string, expiresAtMs: number): Promise<void>;
  revokeAll(subject: string, maxLifetimeMs: number): Promise<void>;
  close(): Promise<void>;
}

export function jtiKey(jti: string): string {
  return `rv:j:${jti}`;
}
export function subjectKey(subject: string): string {
  return `rv:s:${subject}`;
}

/** Direct lookups in the store: one round trip (both keys at once) per check. */
export function storeRevocation(store: StateStore): Revocation {
  return {
    async isRevoked(subject, jti, issuedAtMs) {
      const [before, denied] = await store.getMany(jti === null ? [subjectKey(subject)] : [subjectKey(subject), jtiKey(jti)]);
      if (before !== null && before !== undefined && issuedAtMs < Number(before)) return true;
      return denied !== null && denied !== undefined;
    },
    async revoke(jti, expiresAtMs) {
      const ttl = expiresAtMs - Date.now();
      if (ttl > 0) await store.set(jtiKey(jti), '1', ttl);
    },
    async revokeAll(subject, maxLifetimeMs) {
      await store.set(subjectKey(subject), String(Date.now()), maxLifetimeMs);
    },
    async close() {},
  };
}
