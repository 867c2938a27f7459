import type { RedisStore } from 'connect-redis';
import { configError } from '../lib/errors';

/**
 * connect-redis (and the `redis` it names as a peer) are optional peer dependencies: were connect-redis a
 * dependency, npm would install its peer `redis` into every app, stateless-only ones included. Loaded when
 * redisStore() is called, so a missing install is a configuration error at startup rather than a 503 later.
 */
export function loadConnectRedis(): typeof RedisStore {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require('connect-redis') as { RedisStore: typeof RedisStore }).RedisStore;
  } catch (err) {
    if ((err as { code?: unknown }).code !== 'MODULE_NOT_FOUND') throw err;
    throw configError('redisStore needs the packages `redis` and `connect-redis`: npm install redis connect-redis');
  }
}
