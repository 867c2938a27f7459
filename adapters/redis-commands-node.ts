import type { OwnConnection, RedisCommands } from './redis-commands';
import { redisUnavailability } from './redis-not-connected';

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
  /** A second connection for the blocking log followers (node-redis `duplicate()`; Sentinel clients have none). */
  duplicate?(): unknown;
}

interface RawConn {
  readonly isOpen: boolean;
  readonly isReady?: boolean;
  sendCommand(...args: unknown[]): Promise<unknown>;
  connect(): Promise<unknown>;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  destroy?(): unknown;
  unref?(): void;
}

interface RawClient extends Partial<RawConn> {
  duplicate?(overrides?: Record<string, unknown>): unknown;
  readonly options?: { name?: string; defaults?: { name?: string } & Record<string, unknown> };
  /** node-redis clusters keep their options here. */
  readonly _options?: { defaults?: { name?: string } & Record<string, unknown> };
  readonly masters?: unknown;
  /** Only node-redis Sentinel clients have it. */
  readonly getMasterNode?: unknown;
}

/** The client name the follower connection of a node-redis client uses. */
export function nodeFollowerName(client: unknown): string {
  const c = client as RawClient;
  return `${c.options?.name ?? (c._options ?? c.options)?.defaults?.name ?? 'ep'}:rv-log`;
}

export function nodeRedisCommands(client: RedisClientLike): RedisCommands {
  const raw = client as unknown as RawClient;
  // node-redis clusters take (firstKey, isReadonly, args), Sentinel clients (isReadonly, args), single clients (args).
  const cluster = raw.masters !== undefined;
  const sentinel = typeof raw.getMasterNode === 'function';
  const send = (conn: RawConn, args: string[], route: string) =>
    (cluster ? conn.sendCommand(route, false, args) : sentinel ? conn.sendCommand(false, args) : conn.sendCommand(args));
  const canOpen = typeof raw.duplicate === 'function' && typeof raw.sendCommand === 'function';
  const followerName = nodeFollowerName(client);
  return {
    unavailable: redisUnavailability(() => (client.isOpen !== true ? 'closed' : client.isReady === false ? 'reconnecting' : 'ready')),
    get: (key) => client.get(key),
    setPx: (key, value, ms) => client.set(key, value, { PX: ms }),
    evalScript: (script, keys, args) => client.eval(script, { keys, arguments: args }),
    del: (key) => client.del(key),
    pExpire: (key, ms, mode) => client.pExpire(key, ms, mode),
    sAdd: (key, member) => client.sAdd(key, member),
    sMembers: (key) => client.sMembers(key),
    sRem: (key, members) => client.sRem(key, members),
    send: (args, route) => send(raw as RawConn, args, route),
    followerName,
    openOwn: canOpen ? (name) => ownConnection(raw, cluster, name, send) : undefined,
  };
}

function ownConnection(app: RawClient, cluster: boolean, name: string, send: (c: RawConn, a: string[], r: string) => Promise<unknown>): OwnConnection {
  // A cluster names the connections it opens through `defaults`.
  const overrides = cluster ? { defaults: { ...(app._options ?? app.options)?.defaults, name } } : { name };
  const conn = (app.duplicate as (o: Record<string, unknown>) => RawConn)(overrides);
  conn.on('error', () => { /* reported through the failing command; the follower retries */ });
  conn.unref?.(); // never keeps the process alive (applies to every socket it opens)
  return {
    ready: () => conn.isReady ?? conn.isOpen,
    alive: () => conn.isOpen,
    connect: async () => { await conn.connect(); },
    send: (args, route) => send(conn, args, route),
    destroy: () => { try { conn.destroy?.(); } catch { /* already closed */ } },
  };
}
