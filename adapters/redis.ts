import { loadConnectRedis } from './connect-redis';
import type { SessionData, Store } from 'express-session';
import type { StateStore } from '../lib/types';
import { configError } from '../lib/errors';
import { toMs } from '../lib/duration';
import { bounded } from './bounded';
import { redisUnavailability } from './redis-not-connected';
import { redisRevocationLog } from './redis-log';
import { SET_MAX } from './redis-set-max';
import { CallbackSessionStore, sessionTtlSeconds, type SessionBackedStore } from './session-store';
import { checkOptions } from '../lib/option-keys';
import type { ForeignSessions } from '../lib/state/foreign-sessions';

/** Compare-and-set in one step: a concurrent DEL or SET between our read and this write wins. */
const SWAP = "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1 end return 0";

/** The node-redis (v5+) client or cluster methods the store uses; your own `createClient()` / `createCluster()` fits. */
export interface RedisClientLike {
  /** Whether the client was connected (node-redis `isOpen`). */
  readonly isOpen: boolean;
  /** Whether the connection is up right now (node-redis `isReady`). */
  readonly isReady?: boolean;
  /** Redis `GET`. */
  get(key: string): Promise<unknown>;
  /** Redis `SET key value PX ms`. */
  set(key: string, value: string, options: { PX: number }): Promise<unknown>;
  /** Redis `EVAL` (the compare-and-set and set-max scripts). */
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  /** Redis `DEL`. */
  del(keys: string | string[]): Promise<unknown>;
  /** Redis `PEXPIRE`. */
  pExpire(key: string, ms: number, mode?: 'NX' | 'XX' | 'GT' | 'LT'): Promise<unknown>;
  /** Redis `SADD` (a subject's session index). */
  sAdd(key: string, members: string | string[]): Promise<unknown>;
  /** Redis `SMEMBERS`. */
  sMembers(key: string): Promise<unknown>;
  /** Redis `SREM`. */
  sRem(key: string, members: string | string[]): Promise<unknown>;
  /** Redis `PUBLISH`. */
  publish(channel: string, message: string): Promise<unknown>;
  /** A second connection for the blocking log followers (node-redis `duplicate()`). */
  duplicate?(): unknown;
}

/** Options of `redisStore()`. */
export interface RedisStoreOptions {
  /** Your connected node-redis client (or cluster). express-principal never closes it. */
  client: RedisClientLike;
  /** Prefix of every key (and of pub/sub channels). @default 'ep:' */
  prefix?: string;
  /** Deadline of every store call; past it the request gets 503. @default '1s' */
  timeout?: string | number;
  /** `Retry-After` seconds on a 503. @default 1 */
  retryAfter?: number;
}

/**
 * One adapter for every strategy: session records (statefulJwt), the express-session Store through
 * connect-redis (sessionCookie), and deny-lists (statelessJwt). Every key is prefixed and has a TTL.
 * @example
 * const client = await createClient({ url: process.env.REDIS_URL }).connect();
 * principal({ strategy: statefulJwt({ secret, store: redisStore({ client }) }) })
 */
export function redisStore(options: RedisStoreOptions): StateStore {
  checkOptions('redisStore', options);
  const client = options?.client;
  if (!client || typeof client.get !== 'function' || typeof client.sAdd !== 'function') {
    throw configError('redisStore needs `client`: a node-redis v5 client from createClient() (or createCluster())');
  }
  const prefix = options.prefix ?? 'ep:';
  const timeoutMs = toMs(options.timeout ?? '1s', 'timeout');
  const retryAfter = options.retryAfter ?? 1;
  const unavailable = redisUnavailability(client);
  const run = <T>(work: () => Promise<T>) => bounded(work, timeoutMs, unavailable, retryAfter);
  const k = (key: string) => prefix + key;
  // Hash tag: a subject's index lives in one cluster slot.
  const idx = (subject: string) => `${prefix}idx:{${subject}}`;
  const str = (v: unknown) => (typeof v === 'string' ? v : v === null || v === undefined ? null : String(v));

  const RedisStore = loadConnectRedis();
  const connectRedis = new RedisStore({ client, prefix: `${prefix}sess:`, ttl: sessionTtlSeconds, disableTouch: true });
  const sessions = new CallbackSessionStore({
    get: (sid) => run(() => connectRedis.get(sid) as Promise<SessionData | null>),
    set: (sid, sess) => run(async () => { await connectRedis.set(sid, sess); }),
    destroy: (sid) => run(async () => { await connectRedis.destroy(sid); }),
  });

  const store: SessionBackedStore = {
    kind: 'redis',
    prefix,
    get: (key) => run(async () => str(await client.get(k(key)))),
    // Separate GETs issued in one tick are pipelined by node-redis (one round trip) and work on a cluster.
    getMany: (keys) => run(async () => (await Promise.all(keys.map((key) => client.get(k(key))))).map(str)),
    set: (key, value, ttlMs) => run(async () => { await client.set(k(key), value, { PX: Math.max(1, Math.ceil(ttlMs)) }); }),
    setMax: (key, value, ttlMs) => run(async () => {
      await client.eval(SET_MAX, { keys: [k(key)], arguments: [String(value), String(Math.max(1, Math.ceil(ttlMs)))] });
    }),
    swap: (key, expected, value, ttlMs) => run(async () =>
      (await client.eval(SWAP, { keys: [k(key)], arguments: [expected, value, String(Math.max(1, Math.ceil(ttlMs)))] })) === 1),
    delete: (key) => run(async () => { await client.del(k(key)); }),
    touch: (key, ttlMs) => run(async () => { await client.pExpire(k(key), Math.max(1, Math.ceil(ttlMs))); }),
    indexAdd: (subject, member, ttlMs) => run(async () => {
      const ttl = Math.max(1, Math.ceil(ttlMs));
      await Promise.all([client.sAdd(idx(subject), member), client.pExpire(idx(subject), ttl, 'NX'), client.pExpire(idx(subject), ttl, 'GT')]);
    }),
    indexMembers: (subject) => run(async () => {
      const members = await client.sMembers(idx(subject));
      return Array.isArray(members) ? members.map(String) : [];
    }),
    indexRemove: (subject, members) => run(async () => { if (members.length > 0) await client.sRem(idx(subject), [...members]); }),
    sessionStore: (): Store => sessions,
    foreignSessions: (foreignPrefix) => foreignSessions(client, foreignPrefix, run),
    revocationLog: redisRevocationLog(client, prefix, run),
    // Record-cache invalidations: the same Stream machinery on a sibling key (`<prefix>rc:rv:log`), trimmed on its own.
    invalidationLog: redisRevocationLog(client, `${prefix}rc:`, run),
    async close() {},
  };
  return store;
}


/**
 * Another app's express-session records under its connect-redis prefix (outside ours), in connect-redis's default
 * JSON serialisation. A value that is not a JSON object is no session (null), not an outage.
 */
function foreignSessions(client: RedisClientLike, prefix: string, run: <T>(work: () => Promise<T>) => Promise<T>): ForeignSessions {
  return {
    prefix,
    get: (sid) => run(async () => {
      const raw = await client.get(prefix + sid);
      if (typeof raw !== 'string') return null;
      try {
        const found: unknown = JSON.parse(raw);
        return typeof found === 'object' && found !== null && !Array.isArray(found) ? found as Record<string, unknown> : null;
      } catch {
        return null;
      }
    }),
    destroy: (sid) => run(async () => { await client.del(prefix + sid); }),
  };
}
