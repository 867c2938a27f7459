import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { RevocationLog, RevocationLogFollower, StateStore } from '../types';
import { configError } from '../errors';
import { toMs } from '../duration';
import { Lru } from '../cache/lru';
import { markOf, type LogMark } from './receipts';

/**
 * A bounded local cache of session records (statefulJwt, sessionCookie on a server-side store), kept coherent
 * across instances.
 *
 * - memoryStore: every cache over the same store object is told at once, in-process (no staleness at all).
 * - redisStore: every write or delete of a record appends an invalidation to a Redis Stream (the sibling of the
 *   revocation log, `<prefix>rc:rv:log`, trimmed by time, with a TTL) that every instance follows with
 *   `XREAD BLOCK` on its own connection. A lookup is served from the cache only while the follower has completed
 *   a read sent less than `maxStaleness` ago; otherwise the cache is bypassed (the store is asked). So a change
 *   made through another instance is seen within `maxStaleness` whatever happens to the follower (killed
 *   connection, lost network): a lost message never extends staleness, it only costs round trips. Entries the
 *   follower could never read (trimmed while it was away), and a Redis that restarted or lost the stream, clear
 *   the whole cache before the follower counts as in sync again.
 * - A store without a log (a client with no `duplicate()`): no cache.
 *
 * Entries are LRU-evicted past `max`; callers check the record's idle/absolute deadlines on every hit, and
 * re-read the store at the next touchInterval or after `entryTtlMs`, whichever comes first.
 */
export interface RecordCacheOptions {
  /** Most records held (LRU). @default 10_000 */
  max?: number;
  /**
   * Longest a logout, role change or delete made through another instance can go unseen by this one.
   * Lookups are local only while the invalidation follower has heard from Redis within this bound. @default '1s'
   */
  maxStaleness?: string | number;
}

/** `true` = defaults; `false` / absent = no local cache (every request reads the store). */
export type RecordCacheSetting = boolean | RecordCacheOptions;

const DEFAULT_MAX = 10_000;
/** How long the invalidation stream keeps entries at least (plus the log's own margin). */
const RETAIN_MS = 10_000;

export interface RecordCache<V> {
  readonly max: number;
  readonly maxStalenessMs: number;
  /**
   * Longest an entry is served before the store is asked again, whatever the log says: if a store call fails
   * between a record write and its invalidation (that call rejects with 503), other instances may keep the old
   * record this long at most. 10 × maxStaleness (Redis); unbounded in-process (memory store: nothing is lost).
   */
  readonly entryTtlMs: number;
  readonly size: number;
  /** A fresh, cached value, or undefined (miss, or the cache cannot vouch for freshness right now). */
  get(key: string): V | undefined;
  /** Captured before reading the store; `put` refuses a value read while a remote invalidation arrived. */
  begin(): number;
  put(key: string, value: V, since: number): void;
  /** Drops the keys here and tells every other instance; resolves once the invalidation is in the log. */
  /** Resolves to where the invalidation went in the shared log, if it went to one. */
  invalidate(keys: readonly string[]): Promise<LogMark[]>;
  /** Drops the keys here only (another cache of this process has told everyone else). */
  forget(keys: readonly string[]): void;
  /** Drops the key here only. */
  drop(key: string): void;
  close(): Promise<void>;
}

export function resolveRecordCache(setting: RecordCacheSetting | undefined): { max: number; maxStalenessMs: number } | null {
  if (setting === undefined || setting === false) return null;
  const options: RecordCacheOptions = setting === true ? {} : setting;
  if (typeof options !== 'object' || options === null) throw configError('recordCache must be true, false or { max, maxStaleness }');
  const max = options.max ?? DEFAULT_MAX;
  if (!Number.isInteger(max) || max < 1) throw configError('recordCache.max must be a positive integer');
  const maxStalenessMs = toMs(options.maxStaleness ?? '1s', 'recordCache.maxStaleness');
  if (maxStalenessMs < 10) throw configError('recordCache.maxStaleness must be at least 10ms');
  return { max, maxStalenessMs };
}

/** Caches of one memory store, told of each other's writes in-process. */
const localPeers = new WeakMap<StateStore, Set<LocalCache<unknown>>>();

/** `null` when the setting is off or the store cannot keep a cache coherent. */
export function createRecordCache<V>(store: StateStore, setting: RecordCacheSetting | undefined): RecordCache<V> | null {
  const resolved = resolveRecordCache(setting);
  if (resolved === null) return null;
  if (store.kind === 'memory') {
    const cache = new LocalCache<V>(resolved.max, 0, store);
    return cache;
  }
  if (store.invalidationLog === undefined) return null;
  return new LoggedCache<V>(resolved.max, resolved.maxStalenessMs, store.invalidationLog);
}

class LocalCache<V> implements RecordCache<V> {
  protected readonly lru: Lru<V>;
  /** Bumped by every invalidation from elsewhere. */
  protected generation = 0;
  readonly entryTtlMs: number;
  constructor(readonly max: number, readonly maxStalenessMs: number, private readonly store: StateStore | null) {
    this.lru = new Lru<V>(max);
    this.entryTtlMs = store === null ? 10 * maxStalenessMs : Infinity;
    if (store !== null) {
      const peers = localPeers.get(store) ?? new Set<LocalCache<unknown>>();
      peers.add(this as LocalCache<unknown>);
      localPeers.set(store, peers);
    }
  }
  get size(): number { return this.lru.size; }
  get(key: string): V | undefined { return this.lru.get(key); }
  begin(): number { return this.generation; }
  put(key: string, value: V, since: number): void {
    if (since === this.generation) this.lru.set(key, value);
  }
  drop(key: string): void { this.lru.delete(key); }
  forget(keys: readonly string[]): void { this.remote(keys); }
  /** From another instance. */
  remote(keys: readonly string[]): void {
    this.generation += 1;
    for (const key of keys) this.lru.delete(key);
  }
  async invalidate(keys: readonly string[]): Promise<LogMark[]> {
    // A read of this instance still in flight may carry the old value: it must not be cached.
    this.generation += 1;
    for (const key of keys) this.lru.delete(key);
    if (this.store === null) return [];
    for (const peer of localPeers.get(this.store) ?? []) if (peer !== (this as LocalCache<unknown>)) peer.remote(keys);
    return [];
  }
  async close(): Promise<void> {
    this.lru.clear();
    if (this.store !== null) localPeers.get(this.store)?.delete(this as LocalCache<unknown>);
  }
}

class LoggedCache<V> extends LocalCache<V> {
  private follower: RevocationLogFollower | null = null;
  private lastSync = -Infinity;
  private closed = false;
  /** Entries this instance appended are already applied here. */
  private readonly origin = randomBytes(6).toString('base64url');

  constructor(max: number, maxStalenessMs: number, private readonly log: RevocationLog) {
    super(max, maxStalenessMs, null);
  }

  private start(): void {
    if (this.follower !== null || this.closed) return;
    this.follower = this.log.follow({
      entries: (batch) => {
        const keys: string[] = [];
        // ['o', origin, 'd', key, 'd', key…]
        for (const fields of batch) {
          if (fields[0] !== 'o' || fields[1] === this.origin) continue;
          for (let i = 3; i < fields.length; i += 2) keys.push(fields[i] as string);
        }
        if (keys.length > 0) this.remote(keys);
      },
      synced: (atMs) => { if (atMs > this.lastSync) this.lastSync = atMs; },
      gap: () => this.forgetAll(),
      // Redis restarted or was flushed: the records held here may no longer exist there.
      reset: () => this.forgetAll(),
    }, Math.max(1, Math.floor(this.maxStalenessMs / 3)));
  }

  /** Drops everything held, and any read still in flight (it may predate what made us forget). */
  private forgetAll(): void {
    this.generation += 1;
    this.lru.clear();
  }

  /** Whether the follower completed a read sent within the bound. */
  fresh(): boolean {
    return performance.now() - this.lastSync <= this.maxStalenessMs;
  }

  override get(key: string): V | undefined {
    if (this.follower === null) this.start();
    if (!this.fresh()) return undefined;
    return this.lru.get(key);
  }

  override put(key: string, value: V, since: number): void {
    if (this.follower === null) this.start();
    // A value read while the follower was behind may predate an invalidation it has not delivered yet.
    if (this.fresh()) super.put(key, value, since);
  }

  override async invalidate(keys: readonly string[]): Promise<LogMark[]> {
    this.generation += 1;
    for (const key of keys) this.lru.delete(key);
    if (keys.length === 0) return [];
    if (this.follower === null) this.start();
    const fields = ['o', this.origin];
    for (const key of keys) fields.push('d', key);
    return markOf(this.log, await this.log.append(fields, RETAIN_MS));
  }

  override async close(): Promise<void> {
    this.closed = true;
    const f = this.follower;
    this.follower = null;
    this.lru.clear();
    await f?.close();
  }
}
