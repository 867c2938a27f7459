import type { PrincipalOptions } from './principal';
import type { StatelessJwtOptions } from './strategies/stateless-jwt';
import type { StatefulJwtOptions } from './strategies/stateful-jwt';
import type { SessionCookieOptions } from './strategies/session-cookie';
import type { LegacySessionOptions } from './strategies/express-session-legacy';
import type { JwtCommonOptions } from './strategies/jwt-common';
import type { JwtKey } from './envelopes/jwt-keys';
import type { JwksOptions } from './envelopes/jwks-source';
import type { RefreshOptions } from './refresh/refresh-options';
import type { RefreshPrincipalOptions } from './freshness';
import type { RecordCacheOptions } from './state/record-cache';
import type { SessionTimeouts } from './state/session-record';
import type { DeviceOptions } from './state/device';
import type { RevocationTuning } from './state/revocation';
import type { AuthConfig, AuthConfigDeps } from './config';
import type { CookieOptions } from './types';
import type { RedisStoreOptions } from '../adapters/redis';
import type { MemoryStoreOptions } from '../adapters/memory';
import type { PostgresStoreOptions } from '../adapters/postgres';
import type { CookieStoreOptions } from '../adapters/cookie';
import { checkKeys, type OptionShape } from './options';

// Every list `satisfies Record<keyof ItsInterface, true>`: an option added to an interface and not here (or listed
// here and gone from the interface) fails the typecheck, so the lists cannot drift from the documented options.

const COOKIE = { keys: { name: true, secure: true, sameSite: true, domain: true, path: true } satisfies Record<keyof CookieOptions, true> };
const JWT_KEY = { keys: { kid: true, algorithm: true, secret: true, privateKey: true, publicKey: true } satisfies Record<keyof JwtKey, true> };
const TOKEN_CACHE = { keys: { max: true } satisfies Record<keyof Exclude<JwtCommonOptions['cache'], boolean | undefined>, true> };
const RECORD_CACHE = { keys: { max: true, maxStaleness: true } satisfies Record<keyof RecordCacheOptions, true> };
const JWKS = {
  keys: { maxAge: true, cooldown: true, staleIfError: true, timeout: true, allowHttp: true } satisfies Record<keyof JwksOptions, true>,
};
const REFRESH = {
  keys: { store: true, ttl: true, graceWindow: true, cookiePath: true, cookieName: true, secure: true, deliver: true } satisfies Record<keyof RefreshOptions, true>,
};
const LEGACY = { keys: { cookie: true, prefix: true, secret: true, identify: true } satisfies Record<keyof LegacySessionOptions, true> };
const REFRESH_PRINCIPAL = { keys: { maxAge: true, load: true } satisfies Record<keyof RefreshPrincipalOptions, true> };

const JWT_COMMON_KEYS = {
  secret: true, privateKey: true, publicKey: true, algorithms: true, keys: true,
  issuer: true, audience: true, clockTolerance: true, carrier: true, cookie: true, typ: true, cache: true,
} satisfies Record<keyof JwtCommonOptions, true>;
const JWT_COMMON_NESTED = { cookie: COOKIE, keys: JWT_KEY, cache: TOKEN_CACHE };
const DEVICES = { keys: { userAgent: true, address: true, addressSalt: true } satisfies Record<keyof DeviceOptions, true> };
const TIMEOUT_KEYS = { idleTimeout: true, absoluteTimeout: true, touchInterval: true } satisfies Record<keyof SessionTimeouts, true>;
const REVOCATION_TUNING_KEYS = { maxRevocationLag: true, revocationCacheSize: true } satisfies Record<keyof RevocationTuning, true>;

const SHAPES = {
  principal: {
    keys: {
      strategy: true, precedence: true, migrateFrom: true, onError: true, roleHierarchy: true, trustedOrigins: true,
      maxCredentialBytes: true, realm: true, refreshPrincipal: true, devices: true, maxSessionsPerSubject: true, onSessionLimit: true,
    } satisfies Record<keyof PrincipalOptions, true>,
    nested: { refreshPrincipal: REFRESH_PRINCIPAL, devices: DEVICES },
  },
  statelessJwt: {
    keys: {
      ...JWT_COMMON_KEYS, ...REVOCATION_TUNING_KEYS, ttl: true, claims: true, store: true, refresh: true, jwksUri: true, jwks: true,
    } satisfies Record<keyof StatelessJwtOptions, true>,
    nested: { ...JWT_COMMON_NESTED, refresh: REFRESH, jwks: JWKS },
  },
  statefulJwt: {
    keys: { ...JWT_COMMON_KEYS, ...TIMEOUT_KEYS, store: true, recordCache: true } satisfies Record<keyof StatefulJwtOptions, true>,
    nested: { ...JWT_COMMON_NESTED, recordCache: RECORD_CACHE },
  },
  sessionCookie: {
    keys: {
      ...TIMEOUT_KEYS, ...REVOCATION_TUNING_KEYS, store: true, secret: true, cookie: true, secure: true, revocation: true, recordCache: true, legacy: true,
    } satisfies Record<keyof SessionCookieOptions, true>,
    nested: { cookie: COOKIE, recordCache: RECORD_CACHE, legacy: LEGACY },
  },
  redisStore: { keys: { client: true, prefix: true, timeout: true, retryAfter: true } satisfies Record<keyof RedisStoreOptions, true> },
  postgresStore: {
    keys: { pool: true, schema: true, prefix: true, timeout: true, retryAfter: true, sweepInterval: true } satisfies Record<keyof PostgresStoreOptions, true>,
  },
  memoryStore: { keys: { prefix: true, maxEntries: true } satisfies Record<keyof MemoryStoreOptions, true> },
  cookieStore: { keys: { secret: true } satisfies Record<keyof CookieStoreOptions, true> },
  fromConfig: {
    keys: {
      strategy: true, storage: true, secret: true, issuer: true, audience: true, ttl: true, idleTimeout: true, absoluteTimeout: true,
      carrier: true, secure: true, prefix: true, maxRevocationLag: true, revocationStorage: true,
    } satisfies Record<keyof AuthConfig, true>,
  },
  'fromConfig deps': { keys: { redis: true } satisfies Record<keyof AuthConfigDeps, true> },
} satisfies Record<string, OptionShape>;

export type Factory = keyof typeof SHAPES;

/** The options shape of each public factory (exported for the tests that walk every documented key). */
export const OPTION_SHAPES: Readonly<Record<Factory, OptionShape>> = SHAPES;

/** Called first thing in each public factory: an unknown key, at any depth, is a TypeError naming the nearest known one. */
export function checkOptions(factory: Factory, options: unknown): void {
  checkKeys(factory, options, SHAPES[factory]);
}
