/**
 * fromConfig: every valid strategy × storage pair builds from plain data and works behind the same
 * routes; impossible pairs, a missing Redis client and weak secrets are refused at construction.
 */
import request from 'supertest';
import { fromConfig } from '../lib';
import type { AuthConfig } from '../lib';
import { buildApp, credential, login, type TestApp } from './helpers/apps';
import { cleanupPrefix, connectRedis, keysWithPrefix, uniquePrefix, type TestRedisClient } from './helpers/redis';

const secret = 'k8Jd02mXq9Lp3Zr7Tv5Wy1Ab4Cd6Ef8Gh0Ij2Kl';
const prefix = uniquePrefix('config');
const apps: TestApp[] = [];
let client: TestRedisClient;
beforeAll(async () => { client = await connectRedis(); });
afterAll(async () => {
  for (const { auth } of apps) await auth.close();
  await cleanupPrefix(client, prefix);
  await client.close();
});

/** Keys of the Principal JSON each pair produced: must be the same set everywhere. */
const shapes = new Map<string, string[]>();

type Pair = [AuthConfig['strategy'], AuthConfig['storage'] | undefined, 'refused' | 'still-valid'];
const valid: Pair[] = [
  ['stateless-jwt', undefined, 'still-valid'],
  ['stateless-jwt', 'memory', 'refused'],
  ['stateless-jwt', 'redis', 'refused'],
  ['stateful-jwt', undefined, 'refused'],
  ['stateful-jwt', 'memory', 'refused'],
  ['stateful-jwt', 'redis', 'refused'],
  ['session-cookie', undefined, 'refused'],
  ['session-cookie', 'memory', 'refused'],
  ['session-cookie', 'redis', 'refused'],
  ['session-cookie', 'cookie', 'still-valid'],
];

describe.each(valid)('%s + storage %s', (strategyName, storage, replay) => {
  test('builds from plain data and serves the same routes: login → /me → admin → logout', async () => {
    const p = `${prefix}${apps.length}:`;
    const strategy = fromConfig({
      strategy: strategyName, ...(storage ? { storage } : {}), secret, issuer: 'auth.test', audience: 'api.test', secure: false, prefix: p,
    }, { redis: client });
    expect(strategy.name).toBe(strategyName);
    const built = buildApp({ strategy });
    apps.push(built);
    const s = await login(built.app, { id: 'cfg', roles: ['admin'] });
    if (storage === 'redis' && strategyName !== 'stateless-jwt') expect((await keysWithPrefix(client, p)).length).toBeGreaterThan(0);
    const me = await request(built.app).get('/me').set(credential(s)).expect(200);
    expect(me.body).toMatchObject({ id: 'cfg', roles: ['admin'], strategy: strategyName });
    shapes.set(`${strategyName}/${storage ?? 'default'}`, Object.keys(me.body as object).sort());
    await request(built.app).get('/admin').set(credential(s)).expect(200);
    await request(built.app).post('/logout').set(credential(s)).expect(204);
    expect((await request(built.app).get('/me').set(credential(s))).status).toBe(replay === 'refused' ? 401 : 200);
    // stateless-jwt keeps only its deny-list in Redis: the logout above wrote the revoked jti there.
    if (storage === 'redis' && strategyName === 'stateless-jwt') expect((await keysWithPrefix(client, p)).length).toBeGreaterThan(0);
  });
});

test('every pair attaches a Principal with exactly the same fields', () => {
  expect(shapes.size).toBe(valid.length);
  const [first, ...rest] = [...shapes.values()];
  expect(first).toEqual(expect.arrayContaining(['id', 'roles', 'scopes', 'claims', 'strategy', 'sessionId', 'issuedAt', 'expiresAt']));
  for (const other of rest) expect(other).toEqual(first);
});

test('ttl and idleTimeout from config are honoured', async () => {
  const stateless = buildApp({ strategy: fromConfig({ strategy: 'stateless-jwt', secret, ttl: '90s' }) });
  const stateful = buildApp({ strategy: fromConfig({ strategy: 'stateful-jwt', secret, idleTimeout: '2m', absoluteTimeout: '1h' }) });
  apps.push(stateless, stateful);
  const token = (await login(stateless.app, { id: 't' })).token as string;
  const payload = JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString()) as { iat: number; exp: number };
  expect(payload.exp - payload.iat).toBeGreaterThanOrEqual(89);
  expect(payload.exp - payload.iat).toBeLessThanOrEqual(90);
  const s = await login(stateful.app, { id: 't' });
  const me = await request(stateful.app).get('/me').set(credential(s)).expect(200);
  const left = Date.parse(me.body.expiresAt as string) - Date.now();
  expect(left).toBeGreaterThan(100_000);
  expect(left).toBeLessThanOrEqual(120_000);
});

test('stateless-jwt over the cookie carrier from config', async () => {
  const built = buildApp({ strategy: fromConfig({ strategy: 'stateless-jwt', secret, carrier: 'cookie', secure: false }) });
  apps.push(built);
  const s = await login(built.app, { id: 'c' });
  expect(s.token).toBeNull();
  await request(built.app).get('/me').set('Cookie', s.cookie as string).expect(200);
});

describe('impossible pairs are refused at construction with a TypeError naming the valid choices', () => {
  test.each([
    ['stateful-jwt', 'cookie'],
    ['stateless-jwt', 'cookie'],
  ] as const)('%s + %s', (strategy, storage) => {
    let thrown: unknown;
    try {
      fromConfig({ strategy, storage, secret });
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(TypeError);
    const message = (thrown as Error).message;
    expect(message).toContain(strategy);
    expect(message).toContain('redis');
    expect(message).toContain('memory');
  });

  test('an unknown strategy names the three strategies', () => {
    expect(() => fromConfig({ strategy: 'oauth' as AuthConfig['strategy'], secret }))
      .toThrow(/stateless-jwt.*stateful-jwt.*session-cookie/);
  });

  test('an unknown storage names the valid storage', () => {
    expect(() => fromConfig({ strategy: 'session-cookie', storage: 'postgres' as AuthConfig['storage'], secret }))
      .toThrow(/redis, memory, cookie/);
  });
});

test.each(['stateless-jwt', 'stateful-jwt', 'session-cookie'] as const)("%s + storage 'redis' without a client is refused", (strategy) => {
  expect(() => fromConfig({ strategy, storage: 'redis', secret })).toThrow(TypeError);
  expect(() => fromConfig({ strategy, storage: 'redis', secret }, {})).toThrow(/client/);
});

describe('weak or short secrets are refused for every strategy and storage', () => {
  const weak = [
    ['too short', 'short-secret-123'],
    ['empty', ''],
    ['one repeated character', 'a'.repeat(48)],
    ['a well-known word repeated', 'changeme'.repeat(4)],
    ['digits 1..0 repeated', '12345678901234567890123456789012'],
  ];
  const combos: [AuthConfig['strategy'], AuthConfig['storage'] | undefined][] = [
    ['stateless-jwt', undefined], ['stateful-jwt', 'memory'], ['session-cookie', 'memory'], ['session-cookie', 'cookie'],
  ];
  test.each(combos)('%s + %s', (strategy, storage) => {
    const accepted: string[] = [];
    for (const [label, s] of weak) {
      try {
        fromConfig({ strategy, ...(storage ? { storage } : {}), secret: s as string });
        accepted.push(label as string);
      } catch (err) {
        expect(err).toBeInstanceOf(TypeError);
      }
    }
    expect(accepted).toEqual([]);
  });

  test('a good secret is accepted by the same combinations', () => {
    for (const [strategy, storage] of combos) expect(fromConfig({ strategy, ...(storage ? { storage } : {}), secret }).name).toBe(strategy);
  });
});
