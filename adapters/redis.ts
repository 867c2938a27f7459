import { loadConnectRedis } from './connect-redis';
import type { SessionData, Store } from 'express-session';
import type { StateStore } from '../lib/types';
import { configError } from '../lib/errors';
import { toMs } from '../lib/duration';
import { boundedRunner } from './bounded';
import { isIoRedis, ioRedisCommands, type IoRedisClientLike } from './redis-commands-io';
import { nodeRedisCommands, type RedisClientLike } from './redis-commands-node';
import { ttlArg, type RedisCommands } from './redis-commands';
import { refuseNodeRedisV4, serverVersionCheck } from './redis-version';
import { jsonSessionStore } from './redis-sessions';
import { warnNoOwnConnection } from './redis-sentinel';
import { redisRevocationLog } from './redis-log';
import { SET_MAX } from './redis-set-max';
import { CallbackSessionStore, sessionTtlSeconds, type SessionBackedStore } from './session-store';

export type { RedisClientLike } from './redis-commands-node';
export type { IoRedisClientLike } from './redis-commands-io';
import { checkOptions } from '../lib/option-keys';
import type { ForeignSessions } from '../lib/state/foreign-sessions';

type Run = <T>(work: () => Promise<T>) => Promise<T>;

/** Compare-and-set in one step: a concurrent DEL or SET between our read and this write wins. */
const SWAP = "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1 end return 0";

/** Options of `redisStore()`. */
export interface RedisStoreOptions {
  /**
   * Your connected client: node-redis v5 (`createClient()`, `createCluster()`, `createSentinel()`) or ioredis /
   * iovalkey (`new Redis()`, `new Cluster()`, `new Redis({ sentinels })`). express-principal never closes it.
   */
  client: RedisClientLike | IoRedisClientLike;
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
  const prefix = options?.prefix ?? 'ep:';
  const timeoutMs = toMs(options.timeout ?? '1s', 'timeout');
  const retryAfter = options.retryAfter ?? 1;
  const redis = commandsOf(client);
  const checked = serverVersionCheck(redis, `${prefix}rv:log`);
  // Every call waits for the version check until it has passed once (one INFO), then runs straight.
  const runner = boundedRunner(timeoutMs, redis.unavailable, retryAfter);
  const run = <T>(work: () => Promise<T>) => runner(checked.passed() ? work : () => checked.wait().then(work));
  const k = (key: string) => prefix + key;
  // Hash tag: a subject's index lives in one cluster slot.
  const idx = (subject: string) => `${prefix}idx:{${subject}}`;
  const str = (v: unknown) => (typeof v === 'string' ? v : v === null || v === undefined ? null : String(v));

  const revocationLog = redisRevocationLog(redis, prefix, run);
  // Record-cache invalidations: the same Stream machinery on a sibling key (`<prefix>rc:rv:log`), trimmed on its own.
  const invalidationLog = redisRevocationLog(redis, `${prefix}rc:`, run);
  if (revocationLog === undefined) warnNoOwnConnection();
  const store: SessionBackedStore = {
    kind: 'redis',
    prefix,
    get: (key) => run(() => redis.get(k(key)).then(str)),
    // Separate GETs issued in one tick are pipelined by the client (one round trip) and work on a cluster.
    getMany: (keys) => run(async () => (await Promise.all(keys.map((key) => redis.get(k(key))))).map(str)),
    set: (key, value, ttlMs) => run(async () => { await redis.setPx(k(key), value, ttlArg(ttlMs)); }),
    setMax: (key, value, ttlMs) => run(async () => { await redis.evalScript(SET_MAX, [k(key)], [String(value), String(ttlArg(ttlMs))]); }),
    swap: (key, expected, value, ttlMs) => run(async () =>
      Number(await redis.evalScript(SWAP, [k(key)], [expected, value, String(ttlArg(ttlMs))])) === 1),
    delete: (key) => run(async () => { await redis.del(k(key)); }),
    touch: (key, ttlMs) => run(async () => { await redis.pExpire(k(key), ttlArg(ttlMs)); }),
    indexAdd: (subject, member, ttlMs) => run(async () => {
      const ttl = ttlArg(ttlMs);
      await Promise.all([redis.sAdd(idx(subject), member), redis.pExpire(idx(subject), ttl, 'NX'), redis.pExpire(idx(subject), ttl, 'GT')]);
    }),
    indexMembers: (subject) => run(async () => {
      const members = await redis.sMembers(idx(subject));
      return Array.isArray(members) ? members.map(String) : [];
    }),
    indexRemove: (subject, members) => run(async () => { if (members.length > 0) await redis.sRem(idx(subject), [...members]); }),
    sessionStore: sessionStoreOf(client, redis, prefix, run),
    foreignSessions: (foreignPrefix) => foreignSessions(redis, foreignPrefix, run),
    revocationLog,
    invalidationLog,
    async close() {},
  };
  return store;
}

/** The command layer for the app's client, or a configuration error naming the clients that fit. */
function commandsOf(client: unknown): RedisCommands {
  if (isIoRedis(client)) return ioRedisCommands(client);
  const c = client as Partial<RedisClientLike> | null | undefined;
  if (!c || typeof c.get !== 'function' || typeof c.sAdd !== 'function') {
    throw configError('redisStore needs `client`: a node-redis v5 client (createClient(), createCluster(), createSentinel()) or an ioredis / iovalkey client (new Redis(), new Cluster())');
  }
  refuseNodeRedisV4(c);
  return nodeRedisCommands(c as RedisClientLike);
}

/** The express-session Store over the same records: connect-redis for node-redis, our own for ioredis. */
function sessionStoreOf(client: unknown, redis: RedisCommands, prefix: string, run: Run): () => Store {
  const sessPrefix = `${prefix}sess:`;
  let sessions: Store;
  if (isIoRedis(client)) {
    sessions = jsonSessionStore(redis, sessPrefix, run);
  } else {
    const RedisStore = loadConnectRedis();
    const connectRedis = new RedisStore({ client, prefix: sessPrefix, ttl: sessionTtlSeconds, disableTouch: true });
    sessions = new CallbackSessionStore({
      get: (sid) => run(() => connectRedis.get(sid) as Promise<SessionData | null>),
      set: (sid, sess) => run(async () => { await connectRedis.set(sid, sess); }),
      destroy: (sid) => run(async () => { await connectRedis.destroy(sid); }),
    });
  }
  return () => sessions;
}

/**
 * Another app's express-session records under its connect-redis prefix (outside ours), in connect-redis's default
 * JSON serialisation. A value that is not a JSON object is no session (null), not an outage.
 */
function foreignSessions(redis: RedisCommands, prefix: string, run: Run): ForeignSessions {
  return {
    prefix,
    get: (sid) => run(async () => {
      const raw = await redis.get(prefix + sid);
      if (typeof raw !== 'string') return null;
      try {
        const found: unknown = JSON.parse(raw);
        return typeof found === 'object' && found !== null && !Array.isArray(found) ? found as Record<string, unknown> : null;
      } catch {
        return null;
      }
    }),
    destroy: (sid) => run(async () => { await redis.del(prefix + sid); }),
  };
}
