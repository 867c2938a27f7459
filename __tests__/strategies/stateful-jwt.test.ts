/**
 * statefulJwt × (memoryStore, redisStore), over HTTP: the token carries sid + sub only,
 * the record lives in the store, so logout / revokeAll / update act on the next request.
 */
import jwt from 'jsonwebtoken';
import request from 'supertest';
import { memoryStore, redisStore, statefulJwt, type StateStore } from '../../lib';
import { buildApp, credential, login, type TestApp } from '../helpers/apps';
import { cleanupPrefix, connectRedis, keysWithPrefix, uniquePrefix, type TestRedisClient } from '../helpers/redis';
import { lifecycle, revokeAllEndsOnlyThatSubject, updateChangesRoles } from './lifecycle';

const secret = 'k8Jd02mXq9Lp3Zr7Tv5Wy1Ab4Cd6Ef8Gh0Ij2Kl';
let client: TestRedisClient;
const prefix = uniquePrefix('stateful-jwt');
const apps: TestApp[] = [];

beforeAll(async () => {
  client = await connectRedis();
});
afterAll(async () => {
  for (const { auth } of apps) await auth.close();
  await cleanupPrefix(client, prefix);
  await client.close();
});

type StoreKind = 'memory' | 'redis';

function make(kind: StoreKind, extra: { carrier?: 'header' | 'cookie'; p?: string } = {}): TestApp {
  const p = extra.p ?? `${prefix}${apps.length}:`;
  const store: StateStore = kind === 'memory' ? memoryStore({ prefix: p }) : redisStore({ client, prefix: p });
  const built = buildApp({
    strategy: statefulJwt({
      secret, store, issuer: 'auth.test', audience: 'api.test',
      ...(extra.carrier === 'cookie' ? { carrier: 'cookie' as const, cookie: { secure: false } } : {}),
    }),
  });
  apps.push(built);
  return built;
}

describe.each<StoreKind>(['memory', 'redis'])('statefulJwt, store: %s', (kind) => {
  test('login → /me → guards → logout → replay refused', async () => {
    const { app } = make(kind);
    const session = await lifecycle(app, 'stateful-jwt', 'refused');
    expect(session.token).toEqual(expect.any(String));
  });

  test('over the cookie carrier too', async () => {
    const { app } = make(kind, { carrier: 'cookie' });
    const session = await lifecycle(app, 'stateful-jwt', 'refused');
    expect(session.token).toBeNull();
    expect(session.cookie).toMatch(/^ep=/);
  });

  test('the token carries only sid and sub (plus registered claims), no roles', async () => {
    const { app } = make(kind);
    const s = await login(app, { id: 'alice', roles: ['admin'], claims: { team: 'blue' } });
    const payload = jwt.decode(s.token as string) as Record<string, unknown>;
    expect(payload.sub).toBe('alice');
    expect(payload.sid).toBe(s.sessionId);
    expect(payload).not.toHaveProperty('roles');
    expect(payload).not.toHaveProperty('team');
  });

  test('revokeAll(subject) ends every session of that subject and no other', async () => {
    const { app, auth } = make(kind);
    await revokeAllEndsOnlyThatSubject(app, auth);
  });

  test('update(subject, { roles }) changes roles on the next request', async () => {
    const { app, auth } = make(kind);
    await updateChangesRoles(app, auth);
  });

  test('a second login with the old token rotates the session: the old sid ends', async () => {
    const { app } = make(kind);
    const first = await login(app, { id: 'gina' });
    const second = await login(app, { id: 'gina' }, credential(first));
    expect(second.sessionId).not.toBe(first.sessionId);
    await request(app).get('/me').set(credential(first)).expect(401);
    await request(app).get('/me').set(credential(second)).expect(200);
  });
});

test('redis: records and the subject index are prefixed and expire', async () => {
  const p = `${prefix}keys:`;
  const { app } = make('redis', { p });
  const s = await login(app, { id: 'hank' });
  const keys = await keysWithPrefix(client, p);
  expect(keys.sort()).toEqual([`${p}idx:{hank}`, `${p}s:${s.sessionId}`].sort());
  for (const key of keys) expect(await client.pTTL(key)).toBeGreaterThan(0);
  await request(app).post('/logout').set(credential(s)).expect(204);
  expect(await client.exists(`${p}s:${s.sessionId}`)).toBe(0);
});

test('a valid token whose record was deleted from Redis is refused', async () => {
  const p = `${prefix}gone:`;
  const { app } = make('redis', { p });
  const s = await login(app, { id: 'ivy' });
  await client.del(`${p}s:${s.sessionId}`);
  const res = await request(app).get('/me').set(credential(s));
  expect(res.status).toBe(401);
  expect(res.body.code).toBe('ERR_INVALID_CREDENTIAL');
});

test('idle timeout: a session unused past idleTimeout is refused', async () => {
  const p = `${prefix}idle:`;
  const built = buildApp({ strategy: statefulJwt({ secret, store: redisStore({ client, prefix: p }), idleTimeout: '1s', touchInterval: '100ms' }) });
  apps.push(built);
  const s = await login(built.app, { id: 'jack' });
  await request(built.app).get('/me').set(credential(s)).expect(200);
  const lastSeen = Date.now();
  // Any request would slide the idle deadline, so poll the clock (not the server) until it has passed.
  await until(() => Date.now() > lastSeen + 1_100);
  const res = await request(built.app).get('/me').set(credential(s));
  expect(res.status).toBe(401);
  // The Redis TTL usually removes the record first (unknown session), else the record check says expired.
  expect(['ERR_CREDENTIAL_EXPIRED', 'ERR_INVALID_CREDENTIAL']).toContain(res.body.code);
});

async function until(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
