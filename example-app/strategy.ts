/**
 * The strategy the example runs. Plain config data (`fromConfig()`) covers every strategy/storage pair; rotating
 * refresh tokens (AUTH_REFRESH=1) need a store handed to `statelessJwt({ refresh })`, so that one is built here.
 */
import {
  fromConfig, memoryStore, redisStore, statelessJwt,
  type AuthConfig, type RedisClientLike, type Strategy,
} from '../lib';

/** Where the page posts to rotate its refresh token; the refresh cookie is scoped to this path. */
export const REFRESH_PATH = '/auth/refresh';

export function buildStrategy(config: AuthConfig, refresh: boolean, redis: RedisClientLike | undefined): Strategy {
  if (!refresh) return fromConfig(config, redis ? { redis } : {});
  if (config.strategy !== 'stateless-jwt' || (config.storage !== 'memory' && config.storage !== 'redis')) {
    throw new TypeError('AUTH_REFRESH=1 needs AUTH_STRATEGY=stateless-jwt with AUTH_STORAGE=memory or redis (refresh tokens are kept server-side)');
  }
  const prefix = config.prefix ?? 'ep:';
  if (config.storage === 'redis' && redis === undefined) throw new TypeError("AUTH_STORAGE=redis needs a Redis client");
  const store = redis !== undefined ? redisStore({ client: redis, prefix }) : memoryStore({ prefix });
  return statelessJwt({
    secret: config.secret,
    ...(config.issuer !== undefined ? { issuer: config.issuer } : {}),
    ...(config.audience !== undefined ? { audience: config.audience } : {}),
    ...(config.carrier !== undefined ? { carrier: config.carrier } : {}),
    ...(config.secure !== undefined ? { cookie: { secure: config.secure } } : {}),
    ...(config.ttl !== undefined ? { ttl: config.ttl } : {}),
    // One store: the deny-list that ends live access tokens, and the refresh families that are the devices.
    store,
    refresh: { store, cookiePath: REFRESH_PATH, deliver: 'cookie' },
  });
}
