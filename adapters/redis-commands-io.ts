import type { OwnConnection, RedisCommands } from './redis-commands';
import { redisUnavailability, type ClientState } from './redis-not-connected';

/**
 * The ioredis / iovalkey methods the store uses: a `new Redis()` (standalone or with `sentinels`) or a
 * `new Cluster()`. Only its shape is used: neither package is ever loaded by express-principal.
 */
export interface IoRedisClientLike {
  /** ioredis has no `isOpen`: `ready` is the only state that takes commands at once. */
  readonly status: string;
  /** Set on an ioredis `Cluster`. */
  readonly isCluster?: boolean;
  /** The client's options (its `connectionName` names the follower's connection). */
  readonly options?: object;
  /** Any command (ioredis `call`). */
  call(command: string, ...args: (string | number)[]): Promise<unknown>;
  /** A second connection for the blocking log followers. */
  duplicate(...args: never[]): unknown;
}

interface IoConn {
  readonly status: string;
  readonly stream?: { unref?(): void };
  call(command: string, ...args: (string | number)[]): Promise<unknown>;
  connect(): Promise<unknown>;
  disconnect(): void;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
}

/** Whether `client` looks like an ioredis / iovalkey client (and not node-redis, which has `isOpen`). */
export function isIoRedis(client: unknown): client is IoRedisClientLike {
  const c = client as Partial<IoRedisClientLike> & { isOpen?: unknown } | null;
  return typeof c === 'object' && c !== null && typeof c.status === 'string' && typeof c.call === 'function' && !('isOpen' in c);
}

/** `wait`: lazyConnect and never connected; `end`: quit, or gave up reconnecting. Neither recovers by itself. */
function stateOf(status: string): ClientState {
  if (status === 'ready') return 'ready';
  return status === 'wait' || status === 'end' ? 'closed' : 'reconnecting';
}

/** A script that runs INFO on the node owning KEYS[1] (an ioredis Cluster sends keyless commands to any node). */
const INFO_ON_KEY = "return redis.call('INFO', ARGV[1])";

export function ioRedisCommands(client: IoRedisClientLike): RedisCommands {
  const cluster = client.isCluster === true;
  const send = (conn: Pick<IoConn, 'call'>, args: string[], route: string): Promise<unknown> => {
    const [command, ...rest] = args as [string, ...string[]];
    if (cluster && command.toUpperCase() === 'INFO') return conn.call('EVAL', INFO_ON_KEY, 1, route, ...rest);
    return conn.call(command, ...rest);
  };
  const all = client.options as { redisOptions?: { connectionName?: unknown }; connectionName?: unknown } | undefined;
  const options = (cluster ? all?.redisOptions : all) ?? {};
  const name = typeof options.connectionName === 'string' ? options.connectionName : 'ep';
  return {
    unavailable: redisUnavailability(() => stateOf(client.status)),
    get: (key) => client.call('GET', key),
    setPx: (key, value, ms) => client.call('SET', key, value, 'PX', ms),
    evalScript: (script, keys, args) => client.call('EVAL', script, keys.length, ...keys, ...args),
    del: (key) => client.call('DEL', key),
    pExpire: (key, ms, mode) => (mode ? client.call('PEXPIRE', key, ms, mode) : client.call('PEXPIRE', key, ms)),
    sAdd: (key, member) => client.call('SADD', key, member),
    sMembers: (key) => client.call('SMEMBERS', key),
    sRem: (key, members) => client.call('SREM', key, ...members),
    send: (args, route) => send(client, args, route),
    followerName: `${name}:rv-log`,
    openOwn: (connectionName) => ownConnection(client, cluster, connectionName, send),
  };
}

/**
 * The follower's connection: commands fail at once while it is not ready and are never re-sent after a
 * reconnection (the follower works out where to resume itself), and no command deadline of the app's applies
 * to its blocking reads.
 */
function ownConnection(app: IoRedisClientLike, cluster: boolean, connectionName: string, send: (c: IoConn, a: string[], r: string) => Promise<unknown>): OwnConnection {
  const duplicate = app.duplicate as (...args: unknown[]) => unknown;
  const redisOptions = (app.options as { redisOptions?: object } | undefined)?.redisOptions;
  const own = { connectionName, autoResendUnfulfilledCommands: false, enableOfflineQueue: false, commandTimeout: undefined, lazyConnect: true };
  const conn = (cluster
    ? duplicate.call(app, [], { lazyConnect: true, enableOfflineQueue: false, redisOptions: { ...redisOptions, ...own } })
    : duplicate.call(app, own)) as IoConn;
  conn.on('error', () => { /* reported through the failing command; the follower retries */ });
  // Never keeps the process alive: unref every socket it opens (a cluster opens one per node).
  const unref = (redis: IoConn) => redis.on('connect', () => redis.stream?.unref?.());
  if (cluster) conn.on('+node', (node) => unref(node as IoConn));
  else unref(conn);
  // ioredis keeps a command in flight when its connection drops and, not re-sending it, never settles it:
  // rejected here, so the follower notices the loss and works out where to resume (the server may be another).
  const inFlight = new Set<(err: Error) => void>();
  conn.on('close', () => { for (const fail of inFlight) fail(new Error('the connection to Redis was lost')); });
  const tracked = (args: string[], route: string) => new Promise<unknown>((resolve, reject) => {
    const fail = (err: Error) => { inFlight.delete(fail); reject(err); };
    inFlight.add(fail);
    send(conn, args, route).then((v) => { inFlight.delete(fail); resolve(v); }, fail);
  });
  return {
    ready: () => conn.status === 'ready',
    alive: () => stateOf(conn.status) !== 'closed',
    connect: async () => { await conn.connect(); },
    send: tracked,
    destroy: () => { try { conn.disconnect(); } catch { /* already closed */ } },
  };
}
