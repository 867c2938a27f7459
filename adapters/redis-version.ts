import { configError } from '../lib/errors';
import type { RedisCommands } from './redis-commands';

/** Stable `code` of the warning emitted when the Redis server is older than MINIMUM_REDIS_VERSION. */
export const REDIS_TOO_OLD = 'EXPRESS_PRINCIPAL_REDIS_TOO_OLD';

/** `PEXPIRE … NX / GT` (the index's TTL only grows) needs 7.0; `XADD … MINID` (the logs' trimming) 6.2. */
export const MINIMUM_REDIS_VERSION = '7.0.0';

/**
 * Why a server that answered INFO with `info` cannot hold this package's state, or `null` when it can (or when
 * it does not say its version: a proxy, a managed service that hides it).
 */
export function redisVersionProblem(info: string): string | null {
  const version = /(?:^|\n)redis_version:([0-9.]+)/.exec(info)?.[1];
  if (version === undefined) return null;
  const [major = 0] = version.split('.').map(Number);
  if (major >= 7) return null;
  return `the Redis server is version ${version}; redisStore needs Redis ${MINIMUM_REDIS_VERSION} or later (PEXPIRE NX/GT, XADD MINID)`;
}

/**
 * node-redis v4 accepts v5's calls but ignores the `expiration` option connect-redis 10 passes: session records
 * would get no TTL and never leave Redis. Refused rather than half-working. v4 clients still have
 * `executeIsolated` (removed in v5); v4 clusters lack v5's `withCommandOptions`.
 */
export function refuseNodeRedisV4(client: object): void {
  const c = client as { executeIsolated?: unknown; withCommandOptions?: unknown; masters?: unknown };
  const v4 = typeof c.executeIsolated === 'function' || (c.masters !== undefined && typeof c.withCommandOptions !== 'function');
  if (v4) throw configError('redisStore needs node-redis v5 or later; this client is node-redis v4 (npm install redis@5), or pass an ioredis client');
}

/**
 * The server's version, asked once with INFO before the store's first command (on a cluster, of the node owning
 * `routeKey`). A server too old makes every call fail with that reason and is named once as a warning. A failed
 * INFO (server down) is asked again on the next call; an INFO the server refuses (ACL) is not asked again.
 */
export function serverVersionCheck(redis: RedisCommands, routeKey: string): { passed(): boolean; wait(): Promise<void> } {
  let passed = false;
  let pending: Promise<void> | null = null;
  let problem: string | null = null;
  const ask = async (): Promise<void> => {
    let info: unknown;
    try {
      info = await redis.send(['INFO', 'server'], routeKey);
    } catch (err) {
      if (!/^(NOPERM|ERR)/.test(String((err as Error)?.message))) { pending = null; throw err; }
      passed = true;
      return;
    }
    problem = redisVersionProblem(String(info));
    if (problem === null) { passed = true; return; }
    process.emitWarning(`express-principal: ${problem}; every request that needs the store answers 503`, { type: 'ExpressPrincipalWarning', code: REDIS_TOO_OLD });
  };
  return {
    passed: () => passed,
    wait: () => {
      if (problem !== null) return Promise.reject(new Error(problem));
      pending ??= ask();
      return pending.then(() => { if (problem !== null) throw new Error(problem); });
    },
  };
}
