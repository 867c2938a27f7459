import type { CarrierKind, Strategy } from './types';
import { configError } from './errors';
import { statelessJwt } from './strategies/stateless-jwt';
import { statefulJwt } from './strategies/stateful-jwt';
import { sessionCookie } from './strategies/session-cookie';
import { redisStore, type RedisStoreOptions } from '../adapters/redis';
import { memoryStore } from '../adapters/memory';
import { cookieStore } from '../adapters/cookie';
import { checkOptions } from './option-keys';

/** Plain data (e.g. from env) that picks a strategy and its storage. */
/** Plain data for `fromConfig()` (for instance read from environment variables). */
export interface AuthConfig {
  /** Which strategy to build. */
  strategy: 'stateless-jwt' | 'stateful-jwt' | 'session-cookie';
  /** @default 'memory' for stateful strategies; none (no revocation) for stateless-jwt */
  storage?: 'redis' | 'memory' | 'cookie';
  /** HS secret / cookie secret, at least 32 bytes. */
  secret: string;
  /** `iss` of issued tokens, required of verified ones. */
  issuer?: string;
  /** `aud` of issued tokens, required of verified ones. */
  audience?: string;
  /** Token lifetime (stateless). @default '15m' */
  ttl?: string;
  /** Stateful strategies: a session unused this long ends. */
  idleTimeout?: string;
  /** Stateful strategies: a session ends this long after login, used or not. */
  absoluteTimeout?: string;
  /** JWT strategies: where the token travels (header, cookie, or both). */
  carrier?: CarrierKind | CarrierKind[];
  /** Only `false` turns Secure cookies off (plain-http localhost). @default true */
  secure?: boolean;
  /** Redis key prefix. @default 'ep:' */
  prefix?: string;
  /** Stateless revocation: longest time until every instance refuses a revoked credential. @default '1s' */
  maxRevocationLag?: string;
  /**
   * With storage 'cookie': where revocations of cookie-only sessions live (logout of stolen copies, revokeAll).
   * @default none: a cookie-only session then lives until it expires
   */
  revocationStorage?: 'redis' | 'memory';
}

/** What `fromConfig()` cannot read from plain data: live clients. */
export interface AuthConfigDeps {
  /** Your connected Redis client (node-redis v5, ioredis, iovalkey); required when storage is 'redis'. */
  redis?: RedisStoreOptions['client'];
}

const VALID: Record<AuthConfig['strategy'], readonly string[]> = {
  'stateless-jwt': ['redis', 'memory'],
  'stateful-jwt': ['redis', 'memory'],
  'session-cookie': ['redis', 'memory', 'cookie'],
};

/**
 * Builds a strategy from plain data, so switching strategy is a config change with no route changes.
 * @example
 * const strategy = fromConfig({ strategy: process.env.AUTH_STRATEGY, storage: process.env.AUTH_STORAGE, secret }, { redis });
 */
export function fromConfig(config: AuthConfig, deps: AuthConfigDeps = {}): Strategy {
  checkOptions('fromConfig', config);
  checkOptions('fromConfig deps', deps);
  if (typeof config !== 'object' || config === null) throw configError('fromConfig needs a config object');
  const valid = VALID[config.strategy];
  if (valid === undefined) throw configError(`unknown strategy '${String(config.strategy)}'; use one of ${Object.keys(VALID).join(', ')}`);
  const storage = config.storage ?? (config.strategy === 'stateless-jwt' ? undefined : 'memory');
  if (storage !== undefined && !valid.includes(storage)) {
    throw configError(`strategy '${config.strategy}' cannot use storage '${storage}'; valid storage: ${valid.join(', ')}`);
  }
  if ((storage === 'redis' || config.revocationStorage === 'redis') && deps.redis === undefined) {
    throw configError("storage 'redis' needs a connected client: fromConfig(config, { redis })");
  }
  if (config.revocationStorage !== undefined && storage !== 'cookie') {
    throw configError("revocationStorage is only for storage 'cookie'; server-side stores revoke by deleting the session");
  }
  const prefix = config.prefix ?? 'ep:';
  const store = storage === 'redis' ? redisStore({ client: deps.redis as RedisStoreOptions['client'], prefix })
    : storage === 'memory' ? memoryStore({ prefix }) : undefined;
  const cookie = config.secure === undefined ? undefined : { secure: config.secure };
  const jwt = {
    secret: config.secret,
    ...(config.issuer !== undefined ? { issuer: config.issuer } : {}),
    ...(config.audience !== undefined ? { audience: config.audience } : {}),
    ...(config.carrier !== undefined ? { carrier: config.carrier } : {}),
    ...(cookie ? { cookie } : {}),
  };
  const timeouts = {
    ...(config.idleTimeout !== undefined ? { idleTimeout: config.idleTimeout } : {}),
    ...(config.absoluteTimeout !== undefined ? { absoluteTimeout: config.absoluteTimeout } : {}),
  };
  const lag = config.maxRevocationLag !== undefined ? { maxRevocationLag: config.maxRevocationLag } : {};
  const revocation = config.revocationStorage === 'redis' ? redisStore({ client: deps.redis as RedisStoreOptions['client'], prefix })
    : config.revocationStorage === 'memory' ? memoryStore({ prefix }) : undefined;
  switch (config.strategy) {
    case 'stateless-jwt':
      return statelessJwt({ ...jwt, ...lag, ...(config.ttl !== undefined ? { ttl: config.ttl } : {}), ...(store ? { store } : {}) });
    case 'stateful-jwt':
      return statefulJwt({ ...jwt, ...timeouts, store: store ?? memoryStore({ prefix }) });
    case 'session-cookie':
      return sessionCookie({
        ...timeouts,
        ...(cookie ? { cookie } : {}),
        ...lag,
        ...(revocation ? { revocation } : {}),
        secret: config.secret,
        store: storage === 'cookie' ? cookieStore({ secret: config.secret }) : (store ?? memoryStore({ prefix })),
      });
  }
}
