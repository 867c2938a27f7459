import type { SessionData, Store } from 'express-session';
import type { StateStore } from '../lib/types';
import { StoreUnavailableError } from '../lib/errors';
import { CallbackSessionStore, sessionTtlSeconds, type SessionBackedStore } from './session-store';
import { checkOptions } from '../lib/option-keys';

/** Options of `memoryStore()`. */
export interface MemoryStoreOptions {
  /** Key prefix (kept for parity with redisStore; keys never leave the process). @default 'ep:' */
  prefix?: string;
  /** Most entries held; when full (after dropping expired ones) writes fail closed with 503. @default 100000 */
  maxEntries?: number;
}

interface Entry { value: string; expiresAt: number }

/**
 * An in-process store for development, tests and single-instance apps. Not shared between
 * processes: use redisStore() as soon as there is more than one instance.
 * @example
 * principal({ strategy: statefulJwt({ secret, store: memoryStore() }) })
 */
export function memoryStore(options: MemoryStoreOptions = {}): StateStore {
  checkOptions('memoryStore', options);
  const prefix = options.prefix ?? 'ep:';
  const maxEntries = options.maxEntries ?? 100_000;
  const data = new Map<string, Entry>();
  const indexes = new Map<string, Map<string, number>>();

  const live = (entry: Entry | undefined, now = Date.now()) => entry !== undefined && entry.expiresAt > now;
  function sweep(): void {
    const now = Date.now();
    for (const [key, entry] of data) if (!live(entry, now)) data.delete(key);
    for (const [subject, members] of indexes) {
      for (const [member, exp] of members) if (exp <= now) members.delete(member);
      if (members.size === 0) indexes.delete(subject);
    }
  }
  const timer = setInterval(sweep, 60_000);
  timer.unref();

  function get(key: string): string | null {
    const entry = data.get(prefix + key);
    if (live(entry)) return (entry as Entry).value;
    data.delete(prefix + key);
    return null;
  }
  function set(key: string, value: string, ttlMs: number): void {
    if (!data.has(prefix + key) && data.size >= maxEntries) {
      sweep();
      // Evicting could drop a revocation (fail open); refusing the write fails closed.
      if (data.size >= maxEntries) throw new StoreUnavailableError(new Error('memory store full'));
    }
    data.set(prefix + key, { value, expiresAt: Date.now() + ttlMs });
  }

  const sessions = new CallbackSessionStore({
    get: async (sid) => { const raw = get(`sess:${sid}`); return raw === null ? null : (JSON.parse(raw) as SessionData); },
    set: async (sid, sess) => set(`sess:${sid}`, JSON.stringify(sess), sessionTtlSeconds(sess) * 1000),
    destroy: async (sid) => { data.delete(`${prefix}sess:${sid}`); },
  });



  const store: SessionBackedStore = {
    kind: 'memory',
    prefix,
    async get(key) { return get(key); },
    async getMany(keys) { return keys.map(get); },
    async set(key, value, ttlMs) { set(key, value, ttlMs); },
    async setMax(key, value, ttlMs) {
      const entry = data.get(prefix + key);
      if (!live(entry)) return set(key, String(value), ttlMs);
      const held = entry as Entry;
      if (value > Number(held.value)) held.value = String(value);
      held.expiresAt = Math.max(held.expiresAt, Date.now() + ttlMs);
    },
    async swap(key, expected, value, ttlMs) {
      if (get(key) !== expected) return false;
      set(key, value, ttlMs);
      return true;
    },
    async delete(key) { data.delete(prefix + key); },
    async touch(key, ttlMs) {
      const entry = data.get(prefix + key);
      if (live(entry)) (entry as Entry).expiresAt = Date.now() + ttlMs;
    },
    async indexAdd(subject, member, ttlMs) {
      const members = indexes.get(subject) ?? new Map<string, number>();
      members.set(member, Date.now() + ttlMs);
      indexes.set(subject, members);
    },
    async indexMembers(subject) {
      const now = Date.now();
      return [...(indexes.get(subject) ?? new Map<string, number>())].filter(([, exp]) => exp > now).map(([member]) => member);
    },
    async indexRemove(subject, members) {
      const set = indexes.get(subject);
      for (const member of members) set?.delete(member);
      if (set?.size === 0) indexes.delete(subject);
    },
    sessionStore: (): Store => sessions,
    async close() { clearInterval(timer); },
  };
  return store;
}
