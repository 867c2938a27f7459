import { performance } from 'node:perf_hooks';
import type { RevocationLog, RevocationLogFollower, StateStore } from '../types';
import { configError } from '../errors';
import { toMs } from '../duration';
import { CLEAR, REVOKED, RevocationCache } from './revocation-cache';
import { markOf, type LogMark } from './receipts';

/**
 * Revocation for credentials that carry their own state (stateless JWT, encrypted cookie):
 * a deny-list keyed by `jti` (never by token bytes: signatures are malleable) and a per-subject
 * "revoked before" mark for `revokeAll`. Every key expires with the longest credential it can affect.
 */
export interface Revocation {
  isRevoked(subject: string, jti: string | null, issuedAtMs: number): Promise<boolean>;
  /**
   * The same answer, synchronously when the local cache can give it (the per-request path: no promise,
   * no await), or a promise when the store must be asked.
   */
  check(subject: string, jti: string | null, issuedAtMs: number): boolean | Promise<boolean>;
  /** Resolves to where the revocation went in the shared log (none: every instance reads the store itself). */
  revoke(jti: string, expiresAtMs: number): Promise<LogMark[]>;
  revokeAll(subject: string, maxLifetimeMs: number): Promise<LogMark[]>;
  close(): Promise<void>;
}

/** Options of the strategies that use a revocation store. */
export interface RevocationTuning {
  /**
   * Longest time between a revocation (logout, revokeAll) finishing on one instance and every other
   * instance refusing the credential. Within it, checks read only local memory; an instance that has not
   * heard from the revocation log for longer asks the store directly (503 if the store cannot answer).
   * @default '1s'
   */
  maxRevocationLag?: string | number;
  /** Most revocations (jtis + subjects) the local cache holds; beyond it, misses are looked up directly. @default 2_000_000 */
  revocationCacheSize?: number;
}

export interface RevocationContext {
  /** Longest lifetime of a credential this strategy accepts (ttl + clock tolerance). */
  maxLifetimeMs: number;
  clockToleranceMs: number;
}

export function jtiKey(jti: string): string {
  return `rv:j:${jti}`;
}
export function subjectKey(subject: string): string {
  return `rv:s:${subject}`;
}

/**
 * The revocation module for a store: with a revocation log (Redis), a local cache kept current by the
 * log (no round trip per request); without one (memory store: already in-process), direct lookups.
 */
export function createRevocation(store: StateStore, context: RevocationContext, tuning: RevocationTuning = {}): Revocation {
  const maxLagMs = toMs(tuning.maxRevocationLag ?? '1s', 'maxRevocationLag');
  if (maxLagMs < 10) throw configError('maxRevocationLag must be at least 10ms');
  const maxEntries = tuning.revocationCacheSize ?? 2_000_000;
  if (!Number.isInteger(maxEntries) || maxEntries < 0) throw configError('revocationCacheSize must be a non-negative integer');
  if (store.revocationLog === undefined) return storeRevocation(store);
  return syncedRevocation(store, store.revocationLog, { ...context, maxLagMs, maxEntries });
}

/** Direct lookups in the store: one round trip (both keys at once) per check. */
export function storeRevocation(store: StateStore): Revocation {
  return {
    isRevoked: (subject, jti, issuedAtMs) => lookup(store, subject, jti, issuedAtMs),
    check: (subject, jti, issuedAtMs) => lookup(store, subject, jti, issuedAtMs),
    async revoke(jti, expiresAtMs) {
      const ttl = expiresAtMs - Date.now();
      if (ttl > 0) await store.set(jtiKey(jti), '1', ttl);
      return [];
    },
    async revokeAll(subject, maxLifetimeMs) {
      const now = Date.now();
      await store.setMax(subjectKey(subject), now, maxLifetimeMs);
      await pastMillisecond(now);
      return [];
    },
    async close() {},
  };
}

/**
 * A subject mark refuses tokens issued at or before its millisecond (a token minted in the same millisecond as
 * the revokeAll is refused: fail closed). revokeAll resolves only once the clock has left that millisecond, so a
 * login made after it resolves is accepted.
 */
export async function pastMillisecond(markMs: number): Promise<void> {
  while (Date.now() <= markMs) await new Promise((resolve) => setTimeout(resolve, 1));
}

async function lookup(store: StateStore, subject: string, jti: string | null, issuedAtMs: number): Promise<boolean> {
  const [before, denied] = await store.getMany(jti === null ? [subjectKey(subject)] : [subjectKey(subject), jtiKey(jti)]);
  if (before !== null && before !== undefined && issuedAtMs <= Number(before)) return true;
  return denied !== null && denied !== undefined;
}

interface SyncedOptions extends RevocationContext {
  maxLagMs: number;
  maxEntries: number;
}

/**
 * Every revocation is written to its key (for direct lookups) and appended to the log; every instance
 * follows the log into its local cache. A check is local when the cache is fresh (the last completed
 * round of the follower is younger than `maxLagMs`) and can vouch for the token; otherwise it is a
 * direct, bounded store lookup. So the staleness bound holds whatever happens to the follower
 * (killed connection, Redis restart, lost network): it never fails open.
 */
export function syncedRevocation(store: StateStore, log: RevocationLog, options: SyncedOptions): Revocation {
  const { maxLagMs, maxLifetimeMs } = options;
  const cache = new RevocationCache({ maxEntries: options.maxEntries, retentionMs: maxLifetimeMs, skewMs: Math.max(options.clockToleranceMs, 1000) });
  // The log keeps entries for a whole credential lifetime, so a new instance can bootstrap from it.
  const retainMs = maxLifetimeMs;
  // A round that times out with nothing new proves freshness up to when it was sent: three rounds per bound.
  const blockMs = Math.max(1, Math.floor(maxLagMs / 3));
  let lastSync = -Infinity;
  let follower: RevocationLogFollower | null = null;
  let closed = false;

  function start(): void {
    if (follower !== null || closed) return;
    follower = log.follow({
      entries(batch) {
        for (const fields of batch) {
          // ['j', jti, 'e', expiresAtMs] | ['s', subject, 'b', beforeMs, 'r', retentionMs]
          if (fields[0] === 'j' && fields[1] !== undefined) cache.addJti(fields[1], Number(fields[3]));
          else if (fields[0] === 's' && fields[1] !== undefined) cache.addSubject(fields[1], Number(fields[3]), Number(fields[5] ?? 0));
        }
      },
      synced(atMs) {
        if (atMs > lastSync) lastSync = atMs;
      },
      gap(untilEpochMs) {
        cache.gap(untilEpochMs);
      },
    }, blockMs);
  }

  function check(subject: string, jti: string | null, issuedAtMs: number): boolean | Promise<boolean> {
    if (follower === null) start();
    const verdict = cache.check(subject, jti, issuedAtMs);
    if (verdict === REVOKED) return true;
    if (verdict === CLEAR && performance.now() - lastSync <= maxLagMs) return false;
    // Stale, full, or a token older than a gap in the log: ask the store (503 if it cannot answer).
    return lookup(store, subject, jti, issuedAtMs);
  }

  return {
    isRevoked: async (subject, jti, issuedAtMs) => check(subject, jti, issuedAtMs),
    check,
    async revoke(jti, expiresAtMs) {
      if (follower === null) start();
      const ttl = expiresAtMs - Date.now();
      if (ttl <= 0) return [];
      cache.addJti(jti, expiresAtMs); // this instance refuses it at once, even if the writes below fail
      const [, position] = await Promise.all([
        store.set(jtiKey(jti), '1', ttl),
        log.append(['j', jti, 'e', String(expiresAtMs)], retainMs),
      ]);
      return markOf(log, position);
    },
    async revokeAll(subject, lifetimeMs) {
      if (follower === null) start();
      const now = Date.now();
      cache.addSubject(subject, now, lifetimeMs);
      const [, position] = await Promise.all([
        store.setMax(subjectKey(subject), now, lifetimeMs),
        log.append(['s', subject, 'b', String(now), 'r', String(lifetimeMs)], Math.max(retainMs, lifetimeMs)),
      ]);
      await pastMillisecond(now);
      return markOf(log, position);
    },
    async close() {
      closed = true;
      const f = follower;
      follower = null;
      cache.close();
      await f?.close();
    },
  };
}
