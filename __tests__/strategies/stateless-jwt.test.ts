/**
 * statelessJwt × (no store, memoryStore, redisStore) × carrier (header, cookie, both), over HTTP.
 */
import request from 'supertest';
import { memoryStore, redisStore, statelessJwt, type StateStore } from '../../lib';
import { buildApp, credential, login, type TestApp } from '../helpers/apps';
import { cleanupPrefix, connectRedis, keysWithPrefix, uniquePrefix, type TestRedisClient } from '../helpers/redis';
import { lifecycle, revokeAllEndsOnlyThatSubject } from './lifecycle';

const secret = 'k8Jd02mXq9Lp3Zr7Tv5Wy1Ab4Cd6Ef8Gh0Ij2Kl';
let client: TestRedisClient;
const prefix = uniquePrefix('stateless-jwt');
const apps: TestApp[] = [];

beforeAll(async () => {
  client = await connectRedis();
});
afterAll(async () => {
  for (const { auth } of apps) await auth.close();
  await cleanupPrefix(client, prefix);
  await client.close();
});

type StoreKind = 'none' | 'memory' | 'redis';
type Carrier = 'header' | 'cookie' | 'both';

function make(store: StoreKind, carrier: Carrier): TestApp {
  const s: StateStore | undefined = store === 'memory' ? memoryStore({ prefix })
    : store === 'redis' ? redisStore({ client, prefix: `${prefix}${apps.length}:` }) : undefined;
  const built = buildApp({
    strategy: statelessJwt({
      secret, issuer: 'auth.test', audience: 'api.test',
      carrier: carrier === 'both' ? ['header', 'cookie'] : carrier,
      ...(carrier !== 'header' ? { cookie: { secure: false } } : {}),
      ...(s ? { store: s } : {}),
    }),
  });
  apps.push(built);
  return built;
}

describe.each<StoreKind>(['none', 'memory', 'redis'])('statelessJwt, store: %s', (store) => {
  describe.each<Carrier>(['header', 'cookie', 'both'])('carrier: %s', (carrier) => {
    test('login → /me → guards → logout → replay', async () => {
      const { app } = make(store, carrier);
      const session = await lifecycle(app, 'stateless-jwt', store === 'none' ? 'still-valid' : 'refused');
      if (carrier === 'cookie') expect(session.token).toBeNull();
      else expect(session.token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
      if (carrier === 'header') expect(session.cookie).toBeNull();
      else {
        expect(session.cookie).toMatch(/^ep=/);
      }
    });
  });

  test('the login cookie is HttpOnly, SameSite=Lax, Path=/', async () => {
    const { app } = make(store, 'cookie');
    const res = await request(app).post('/login').send({ id: 'u1' }).expect(200);
    const line = ([] as string[]).concat(res.headers['set-cookie'] ?? []).find((c) => c.startsWith('ep='));
    expect(line).toMatch(/HttpOnly/i);
    expect(line).toMatch(/SameSite=Lax/i);
    expect(line).toMatch(/Path=\//);
  });

  if (store === 'none') {
    test('revokeAll without a store is refused as not supported (tokens live until exp)', async () => {
      const { app, auth } = make(store, 'header');
      const c = credential(await login(app, { id: 'carol' }));
      await expect(auth.revokeAll('carol')).rejects.toMatchObject({ code: 'ERR_NOT_SUPPORTED', status: 501 });
      await request(app).get('/me').set(c).expect(200);
    });
  } else {
    test('revokeAll(subject) ends every token of that subject and no other', async () => {
      const { app, auth } = make(store, 'header');
      await revokeAllEndsOnlyThatSubject(app, auth);
    });
  }

  test('update() is not supported for stateless tokens', async () => {
    const { auth } = make(store, 'header');
    await expect(auth.update('erin', { roles: ['admin'] })).rejects.toMatchObject({ code: 'ERR_NOT_SUPPORTED' });
  });
});

describe('both carriers: the header wins', () => {
  test('header and cookie of different users → the header user', async () => {
    const { app } = make('none', 'both');
    const a = await login(app, { id: 'header-user' });
    const b = await login(app, { id: 'cookie-user' });
    const res = await request(app).get('/me').set('Authorization', `Bearer ${a.token}`).set('Cookie', b.cookie as string).expect(200);
    expect(res.body.id).toBe('header-user');
  });

  test('a bad header is not rescued by a good cookie', async () => {
    const { app } = make('none', 'both');
    const b = await login(app, { id: 'cookie-user' });
    const res = await request(app).get('/me').set('Authorization', 'Bearer not.a.token').set('Cookie', b.cookie as string);
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('ERR_INVALID_CREDENTIAL');
  });

  test('the cookie alone works', async () => {
    const { app } = make('none', 'both');
    const b = await login(app, { id: 'cookie-user' });
    const res = await request(app).get('/me').set('Cookie', b.cookie as string).expect(200);
    expect(res.body.id).toBe('cookie-user');
  });
});

test('redis revocation keys carry the configured prefix and a TTL', async () => {
  const p = `${prefix}ttl:`;
  const store = redisStore({ client, prefix: p });
  const built = buildApp({ strategy: statelessJwt({ secret, store }) });
  apps.push(built);
  const c = credential(await login(built.app, { id: 'ttl-user' }));
  await request(built.app).post('/logout').set(c).expect(204);
  await built.auth.revokeAll('someone');
  const keys = await keysWithPrefix(client, p);
  const jti = (JSON.parse(Buffer.from((c.Authorization as string).split('.')[1] as string, 'base64url').toString()) as { jti: string }).jti;
  expect(keys).toEqual(expect.arrayContaining([`${p}rv:j:${jti}`, `${p}rv:s:someone`]));
  // Every key under the prefix expires (deny-list entries within the token lifetime + tolerance).
  for (const key of keys) {
    const ttl = await client.pTTL(key);
    expect([key, ttl > 0]).toEqual([key, true]);
    if (key.includes(':rv:j:') || key.includes(':rv:s:')) expect(ttl).toBeLessThanOrEqual(15 * 60_000 + 5_000);
  }
});
