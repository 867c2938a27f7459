/**
 * The Redis commands redisStore and its logs send, whichever client the app gave: node-redis (v5, single or
 * cluster) or ioredis / iovalkey (single, Cluster, Sentinel). The store and the log follower are written once
 * against this; the two client families differ only in here (redis-commands-node.ts, redis-commands-io.ts).
 */
export interface RedisCommands {
  /** Why no command can be sent now (never connected, closed, reconnecting), or `null` when one can. */
  unavailable(): string | null;
  get(key: string): Promise<unknown>;
  setPx(key: string, value: string, ms: number): Promise<unknown>;
  evalScript(script: string, keys: string[], args: string[]): Promise<unknown>;
  del(key: string): Promise<unknown>;
  pExpire(key: string, ms: number, mode?: 'NX' | 'GT'): Promise<unknown>;
  sAdd(key: string, member: string): Promise<unknown>;
  sMembers(key: string): Promise<unknown>;
  sRem(key: string, members: string[]): Promise<unknown>;
  /** Any command, sent to the node that owns `routeKey` (on a cluster; a single server ignores it). */
  send(args: string[], routeKey: string): Promise<unknown>;
  /**
   * Opens a connection of the store's own (the log follower's blocking reads must not hold the app's), named
   * `name` in CLIENT LIST; `undefined` when the client cannot open one (node-redis Sentinel has no duplicate()).
   */
  readonly openOwn?: (name: string) => OwnConnection;
  /** The client name the follower connection uses (operators find it in CLIENT LIST). */
  readonly followerName: string;
}

/** A connection the store opened itself and closes itself. */
export interface OwnConnection {
  /** Can take a command now. */
  ready(): boolean;
  /** Will still (re)connect by itself; false once its client gave up or never connected. */
  alive(): boolean;
  connect(): Promise<void>;
  send(args: string[], routeKey: string): Promise<unknown>;
  destroy(): void;
}

/** Milliseconds for a Redis TTL argument: whole, and never zero (a zero or negative TTL deletes the key). */
export const ttlArg = (ms: number): number => Math.max(1, Math.ceil(ms));
