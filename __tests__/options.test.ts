/**
 * Every public factory refuses an option key it does not know, at any depth, naming the nearest known key; and accepts
 * every documented key. The documented keys are the lists in lib/option-keys.ts, which the typecheck ties to the
 * option interfaces, so a sample below is required for each of them (a new option without one fails here).
 */
import { generateKeyPairSync } from 'node:crypto';
import {
  cookieStore, fromConfig, memoryStore, postgresStore, principal, redisStore, sessionCookie, statefulJwt, statelessJwt,
} from '../lib';
import { testPool } from './helpers/postgres';
import { OPTION_SHAPES, type Factory } from '../lib/option-keys';
import { closest, editDistance } from '../lib/options';
import { connectRedis, keysWithPrefix, uniquePrefix, type TestRedisClient } from './helpers/redis';

const secret = 'k8Jd02mXq9Lp3Zr7Tv5Wy1Ab4Cd6Ef8Gh0Ij2Kl';
const other = 'Zq7Wm3Lx9Pk2Vn8Rt4Yh6Jd1Fs5Gb0Uc3Ea7Io';
/** For the privateKey / publicKey samples. */
const es256 = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const prefix = uniquePrefix('options');
let client: TestRedisClient;
const closers: Array<() => Promise<void> | void> = [];

beforeAll(async () => { client = await connectRedis(); });
afterAll(async () => {
  for (const close of closers) await close();
  // Building a Redis-backed strategy or store writes nothing: no key is left under this test's prefix.
  expect(await keysWithPrefix(client, prefix)).toEqual([]);
  await client.close();
});

// Never connects: building a postgresStore runs no query.
const pool = testPool();
closers.push(() => pool.end());
const memory = () => { const store = memoryStore(); closers.push(() => store.close()); return store; };
const strategyOf = () => statelessJwt({ secret });

type Call = (options: Record<string, unknown>) => unknown;
const FACTORIES: Record<Factory, { call: Call; base: () => Record<string, unknown> }> = {
  principal: { call: (o) => principal(o as never), base: () => ({ strategy: strategyOf() }) },
  statelessJwt: { call: (o) => statelessJwt(o as never), base: () => ({ secret }) },
  statefulJwt: { call: (o) => statefulJwt(o as never), base: () => ({ secret, store: memory() }) },
  sessionCookie: { call: (o) => sessionCookie(o as never), base: () => ({ secret, store: memory() }) },
  redisStore: { call: (o) => redisStore(o as never), base: () => ({ client, prefix }) },
  postgresStore: {
    call: (o) => { const store = postgresStore(o as never); closers.push(() => store.close()); return store; },
    base: () => ({ pool, prefix }),
  },
  memoryStore: { call: (o) => memoryStore(o as never), base: () => ({}) },
  cookieStore: { call: (o) => cookieStore(o as never), base: () => ({ secret }) },
  fromConfig: { call: (o) => fromConfig(o as never), base: () => ({ strategy: 'stateless-jwt', secret }) },
  'fromConfig deps': {
    call: (o) => fromConfig({ strategy: 'stateful-jwt', storage: 'redis', secret, prefix }, o as never),
    base: () => ({ redis: client }),
  },
};

/** A valid full options object for each documented key of each factory (it holds that key). */
const SAMPLES: Record<Factory, Record<string, () => Record<string, unknown>>> = {
  principal: {
    strategy: () => ({ strategy: [strategyOf()] }),
    precedence: () => ({ strategy: strategyOf(), precedence: 'listed' }),
    migrateFrom: () => ({ strategy: strategyOf(), migrateFrom: sessionCookie({ secret: other, store: memory() }) }),
    onError: () => ({ strategy: strategyOf(), onError: 'next' }),
    roleHierarchy: () => ({ strategy: strategyOf(), roleHierarchy: { admin: ['editor'] } }),
    trustedOrigins: () => ({ strategy: strategyOf(), trustedOrigins: ['https://app.example'] }),
    maxCredentialBytes: () => ({ strategy: strategyOf(), maxCredentialBytes: 4096 }),
    realm: () => ({ strategy: strategyOf(), realm: 'api' }),
    refreshPrincipal: () => ({ strategy: strategyOf(), refreshPrincipal: { maxAge: '5m', load: async (id: string) => ({ id }) } }),
    devices: () => ({ strategy: strategyOf(), devices: { userAgent: true, address: 'hash', addressSalt: 'a-salt-of-16-chars-or-more' } }),
    maxSessionsPerSubject: () => ({ strategy: strategyOf(), maxSessionsPerSubject: 5 }),
    onSessionLimit: () => ({ strategy: strategyOf(), maxSessionsPerSubject: 5, onSessionLimit: 'refuse' }),
  },
  statelessJwt: {
    secret: () => ({ secret }),
    privateKey: () => ({ privateKey: es256.privateKey }),
    publicKey: () => ({ publicKey: es256.publicKey }),
    algorithms: () => ({ secret, algorithms: ['HS256'] }),
    keys: () => ({ keys: [{ kid: 'k1', algorithm: 'HS256', secret }, { kid: 'k2', privateKey: es256.privateKey, publicKey: es256.publicKey }] }),
    issuer: () => ({ secret, issuer: 'auth' }),
    audience: () => ({ secret, audience: 'api' }),
    clockTolerance: () => ({ secret, clockTolerance: '5s' }),
    carrier: () => ({ secret, carrier: ['header', 'cookie'] }),
    cookie: () => ({ secret, carrier: 'cookie', cookie: { name: 'at', secure: true, sameSite: 'strict', domain: 'example.com', path: '/' } }),
    typ: () => ({ secret, typ: false }),
    cache: () => ({ secret, cache: { max: 100 } }),
    maxRevocationLag: () => ({ secret, store: memory(), maxRevocationLag: '2s' }),
    revocationCacheSize: () => ({ secret, store: memory(), revocationCacheSize: 1000 }),
    ttl: () => ({ secret, ttl: '5m' }),
    claims: () => ({ secret, claims: { roles: 'groups' } }),
    store: () => ({ secret, store: memory() }),
    refresh: () => ({
      secret,
      refresh: { store: memory(), ttl: '7d', graceWindow: '10s', cookiePath: '/auth', cookieName: 'rt', secure: true, deliver: 'both' },
    }),
    jwksUri: () => ({ jwksUri: 'https://issuer.example/.well-known/jwks.json', issuer: 'https://issuer.example', audience: 'api' }),
    jwks: () => ({
      jwksUri: 'https://issuer.example/.well-known/jwks.json', issuer: 'https://issuer.example', audience: 'api',
      jwks: { maxAge: '10m', cooldown: '30s', staleIfError: '1h', timeout: '2s', allowHttp: false },
    }),
  },
  statefulJwt: {
    secret: () => ({ secret, store: memory() }),
    privateKey: () => ({ privateKey: es256.privateKey, store: memory() }),
    publicKey: () => ({ privateKey: es256.privateKey, publicKey: es256.publicKey, store: memory() }),
    algorithms: () => ({ secret, algorithms: ['HS512'], store: memory() }),
    keys: () => ({ keys: [{ kid: 'k1', secret }], store: memory() }),
    issuer: () => ({ secret, issuer: 'auth', store: memory() }),
    audience: () => ({ secret, audience: 'api', store: memory() }),
    clockTolerance: () => ({ secret, clockTolerance: 5, store: memory() }),
    carrier: () => ({ secret, carrier: 'header', store: memory() }),
    cookie: () => ({ secret, carrier: 'cookie', cookie: { name: 'st' }, store: memory() }),
    typ: () => ({ secret, typ: 'at+jwt', store: memory() }),
    cache: () => ({ secret, cache: true, store: memory() }),
    idleTimeout: () => ({ secret, idleTimeout: '20m', store: memory() }),
    absoluteTimeout: () => ({ secret, absoluteTimeout: '8h', store: memory() }),
    touchInterval: () => ({ secret, touchInterval: '1m', store: memory() }),
    store: () => ({ secret, store: memory() }),
    recordCache: () => ({ secret, store: memory(), recordCache: { max: 100, maxStaleness: '1s' } }),
  },
  sessionCookie: {
    idleTimeout: () => ({ secret, store: memory(), idleTimeout: '20m' }),
    absoluteTimeout: () => ({ secret, store: memory(), absoluteTimeout: '8h' }),
    touchInterval: () => ({ secret, store: memory(), touchInterval: '1m' }),
    maxRevocationLag: () => ({ store: cookieStore({ secret }), revocation: memory(), maxRevocationLag: '2s' }),
    revocationCacheSize: () => ({ store: cookieStore({ secret }), revocation: memory(), revocationCacheSize: 1000 }),
    store: () => ({ secret, store: memory() }),
    secret: () => ({ secret: [secret, other], store: memory() }),
    cookie: () => ({ secret, store: memory(), cookie: { name: 'sid', secure: true, sameSite: 'lax', domain: 'example.com', path: '/' } }),
    secure: () => ({ secret, store: memory(), secure: false }),
    revocation: () => ({ store: cookieStore({ secret }), revocation: memory() }),
    recordCache: () => ({ secret, store: memory(), recordCache: { max: 100, maxStaleness: '1s' } }),
    legacy: () => ({
      secret, store: redisStore({ client, prefix }),
      legacy: { cookie: 'connect.sid', prefix: `${prefix}old:sess:`, secret: 'keyboard cat', identify: () => null },
    }),
  },
  redisStore: {
    client: () => ({ client }),
    prefix: () => ({ client, prefix }),
    timeout: () => ({ client, prefix, timeout: '500ms' }),
    retryAfter: () => ({ client, prefix, retryAfter: 2 }),
  },
  postgresStore: {
    pool: () => ({ pool }),
    schema: () => ({ pool, schema: 'auth' }),
    prefix: () => ({ pool, prefix }),
    timeout: () => ({ pool, timeout: '500ms' }),
    retryAfter: () => ({ pool, retryAfter: 2 }),
    sweepInterval: () => ({ pool, sweepInterval: false }),
  },
  memoryStore: {
    prefix: () => ({ prefix: 'p:' }),
    maxEntries: () => ({ maxEntries: 10 }),
  },
  cookieStore: { secret: () => ({ secret: [secret, other] }) },
  fromConfig: {
    strategy: () => ({ strategy: 'stateless-jwt', secret }),
    storage: () => ({ strategy: 'stateful-jwt', storage: 'memory', secret }),
    secret: () => ({ strategy: 'stateless-jwt', secret }),
    issuer: () => ({ strategy: 'stateless-jwt', secret, issuer: 'auth' }),
    audience: () => ({ strategy: 'stateless-jwt', secret, audience: 'api' }),
    ttl: () => ({ strategy: 'stateless-jwt', secret, ttl: '5m' }),
    idleTimeout: () => ({ strategy: 'session-cookie', secret, idleTimeout: '20m' }),
    absoluteTimeout: () => ({ strategy: 'session-cookie', secret, absoluteTimeout: '8h' }),
    carrier: () => ({ strategy: 'stateless-jwt', secret, carrier: 'header' }),
    secure: () => ({ strategy: 'session-cookie', secret, secure: false }),
    prefix: () => ({ strategy: 'stateful-jwt', secret, prefix: 'p:' }),
    maxRevocationLag: () => ({ strategy: 'stateless-jwt', storage: 'memory', secret, maxRevocationLag: '2s' }),
    revocationStorage: () => ({ strategy: 'session-cookie', storage: 'cookie', secret, revocationStorage: 'memory' }),
  },
  'fromConfig deps': { redis: () => ({ redis: client }) },
};

/** Closes what a factory built (strategies and stores hold timers or followers). */
function keep(built: unknown): void {
  const closable = built as { close?: () => Promise<void> | void } | null;
  if (typeof closable?.close === 'function') closers.push(() => closable.close?.());
}

function refusal(factory: Factory, options: Record<string, unknown>): string {
  try {
    keep(FACTORIES[factory].call(options));
  } catch (err) {
    expect(err).toBeInstanceOf(TypeError);
    return (err as Error).message;
  }
  throw new Error(`${factory} accepted ${JSON.stringify(Object.keys(options))}`);
}

const factories = Object.keys(OPTION_SHAPES) as Factory[];

describe.each(factories)('%s', (factory) => {
  const documented = Object.keys(OPTION_SHAPES[factory].keys);

  test('has a sample for every documented key, and nothing else', () => {
    expect(Object.keys(SAMPLES[factory]).sort()).toEqual([...documented].sort());
  });

  test.each(documented)('accepts %s', (key) => {
    const sample = (SAMPLES[factory][key] as () => Record<string, unknown>)();
    expect(Object.keys(sample)).toContain(key);
    keep(FACTORIES[factory].call(sample));
  });

  test('refuses a misspelt key, suggesting the documented one', () => {
    const target = documented.find((key) => key.length >= 4) ?? (documented[0] as string);
    const typo = `${target.slice(0, -2)}${target.slice(-1)}${target.slice(-2, -1)}`;
    expect(refusal(factory, { ...FACTORIES[factory].base(), [typo]: 1 }))
      .toBe(`express-principal: ${factory}: unknown option '${typo}' (did you mean '${target}'?)`);
  });

  test('refuses a key nothing resembles, listing the documented ones', () => {
    expect(refusal(factory, { ...FACTORIES[factory].base(), zzzzzzzz: 1 }))
      .toBe(`express-principal: ${factory}: unknown option 'zzzzzzzz'; known options: ${documented.join(', ')}`);
  });
});

test("statelessJwt({ tll }) names 'ttl'", () => {
  expect(refusal('statelessJwt', { secret, tll: '5m' }))
    .toBe("express-principal: statelessJwt: unknown option 'tll' (did you mean 'ttl'?)");
});

test.each([
  ['statelessJwt', { secret, carrier: 'cookie', cookie: { nmae: 'at' } }, 'cookie.nmae', 'cookie.name'],
  ['statelessJwt', { secret, cache: { mx: 10 } }, 'cache.mx', 'cache.max'],
  ['statelessJwt', { keys: [{ kid: 'k1', secret }, { kid: 'k2', algoritm: 'HS256', secret }] }, 'keys[1].algoritm', 'keys[1].algorithm'],
  ['statelessJwt', { secret, refresh: { store: memory(), gracewindow: '5s' } }, 'refresh.gracewindow', 'refresh.graceWindow'],
  ['statelessJwt', { jwksUri: 'https://i.example/jwks', issuer: 'i', audience: 'a', jwks: { maxage: '1m' } }, 'jwks.maxage', 'jwks.maxAge'],
  ['statefulJwt', { secret, store: memory(), recordCache: { maxStalness: '1s' } }, 'recordCache.maxStalness', 'recordCache.maxStaleness'],
  ['sessionCookie', { secret, store: memory(), cookie: { samesite: 'lax' } }, 'cookie.samesite', 'cookie.sameSite'],
  ['sessionCookie', { secret, store: memory(), recordCache: { mxa: 5 } }, 'recordCache.mxa', 'recordCache.max'],
  ['principal', { strategy: statelessJwt({ secret }), refreshPrincipal: { maxAge: '1m', laod: async () => null } }, 'refreshPrincipal.laod', 'refreshPrincipal.load'],
] as const)('%s refuses a misspelt nested key (%#)', (factory, options, typo, meant) => {
  expect(refusal(factory, options as Record<string, unknown>))
    .toBe(`express-principal: ${factory}: unknown option '${typo}' (did you mean '${meant}'?)`);
});

test('an option of the wrong factory is refused too: statefulJwt has no jwksUri', () => {
  expect(refusal('statefulJwt', { secret, store: memory(), jwksUri: 'https://i.example/jwks' }))
    .toMatch(/^express-principal: statefulJwt: unknown option 'jwksUri'; known options: /);
});

test('suggestions: within two edits, a swap of neighbours is one, case is ignored, and a wholesale change is none', () => {
  expect(editDistance('tll', 'ttl')).toBe(1);
  expect(editDistance('tlt', 'ttl')).toBe(1);
  expect(editDistance('audeince', 'audience')).toBe(1);
  expect(editDistance('kitten', 'sitting')).toBe(3);
  expect(closest('Secert', ['secret', 'store'])).toBe('secret');
  expect(closest('MAXAGE', ['maxAge'])).toBe('maxAge');
  expect(closest('x', ['ttl', 'typ'])).toBeUndefined();
  expect(closest('storagexx', ['store'])).toBeUndefined();
});
