/**
 * Built-in CSRF protection over HTTP: cookie carriers refuse cross-site unsafe requests
 * (Origin / Sec-Fetch-Site), bearer headers are not affected, non-browsers pass, trustedOrigins allow-list.
 */
import request from 'supertest';
import { cookieStore, memoryStore, redisStore, sessionCookie, statefulJwt, statelessJwt, type Strategy } from '../lib';
import { buildApp, login, type TestApp } from './helpers/apps';
import { cleanupPrefix, connectRedis, uniquePrefix, type TestRedisClient } from './helpers/redis';

const secret = 'k8Jd02mXq9Lp3Zr7Tv5Wy1Ab4Cd6Ef8Gh0Ij2Kl';
const prefix = uniquePrefix('csrf');
const apps: TestApp[] = [];
let client: TestRedisClient;
beforeAll(async () => { client = await connectRedis(); });
afterAll(async () => {
  for (const { auth } of apps) await auth.close();
  await cleanupPrefix(client, prefix);
  await client.close();
});

const EVIL = { Origin: 'https://evil.example' };
const SAME = { Host: 'app.test', Origin: 'http://app.test' };

const cookieStrategies: [string, () => Strategy][] = [
  ['statelessJwt cookie', () => statelessJwt({ secret, carrier: 'cookie', cookie: { secure: false } })],
  ['statefulJwt cookie', () => statefulJwt({ secret, carrier: 'cookie', cookie: { secure: false }, store: memoryStore() })],
  ['sessionCookie memory', () => sessionCookie({ secret, store: memoryStore(), secure: false })],
  ['sessionCookie redis', () => sessionCookie({ secret, store: redisStore({ client, prefix }), secure: false })],
  ['sessionCookie cookieStore', () => sessionCookie({ store: cookieStore({ secret }), secure: false })],
];

function make(strategy: Strategy, trustedOrigins?: string[]): TestApp {
  const built = buildApp({ strategy, ...(trustedOrigins ? { trustedOrigins } : {}) });
  apps.push(built);
  return built;
}

describe.each(cookieStrategies)('%s', (_name, strategy) => {
  test('cross-site POST /login → 403 ERR_CSRF and no cookie is set', async () => {
    const { app, errors } = make(strategy());
    const res = await request(app).post('/login').set(EVIL).send({ id: 'victim' });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('ERR_CSRF');
    expect(res.headers['set-cookie']).toBeUndefined();
    expect((errors[0] as { code?: string }).code).toBe('ERR_CSRF');
  });

  test('Sec-Fetch-Site: cross-site (no Origin) on /login → 403; same-site too', async () => {
    const { app } = make(strategy());
    for (const site of ['cross-site', 'same-site']) {
      const res = await request(app).post('/login').set('Sec-Fetch-Site', site).send({ id: 'victim' });
      expect(res.status).toBe(403);
      expect(res.body.code).toBe('ERR_CSRF');
    }
  });

  test('cross-site POST /logout with the cookie → 403, and the session survives', async () => {
    const { app } = make(strategy());
    const s = await login(app, { id: 'u' });
    const res = await request(app).post('/logout').set(EVIL).set('Cookie', s.cookie as string);
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('ERR_CSRF');
    await request(app).get('/me').set('Cookie', s.cookie as string).expect(200);
  });

  test('cross-site POST to a guarded route with the cookie → refused; the route sees no principal', async () => {
    const { app } = make(strategy());
    const s = await login(app, { id: 'u' });
    const res = await request(app).post('/me').set(EVIL).set('Cookie', s.cookie as string);
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('ERR_CSRF');
    expect(res.body.id).toBeUndefined();
  });

  test('cross-site GET with the cookie passes (safe method)', async () => {
    const { app } = make(strategy());
    const s = await login(app, { id: 'u' });
    expect((await request(app).get('/me').set(EVIL).set('Cookie', s.cookie as string).expect(200)).body.id).toBe('u');
  });

  test('same-origin POST (Origin = own origin, or Sec-Fetch-Site same-origin / none) passes', async () => {
    const { app } = make(strategy());
    const s = await login(app, { id: 'u' }, SAME);
    await request(app).post('/me').set(SAME).set('Cookie', s.cookie as string).expect(200);
    for (const site of ['same-origin', 'none']) {
      await request(app).post('/me').set('Sec-Fetch-Site', site).set('Cookie', s.cookie as string).expect(200);
    }
  });

  test('a request with neither Origin nor Sec-Fetch-Site (curl, server-to-server) passes', async () => {
    const { app } = make(strategy());
    const s = await login(app, { id: 'u' });
    const res = await request(app).post('/me').set('Cookie', s.cookie as string).expect(200);
    expect(res.body.id).toBe('u');
    await request(app).post('/logout').set('Cookie', s.cookie as string).expect(204);
  });

  test('trustedOrigins: listed origins pass, others are still refused', async () => {
    const { app } = make(strategy(), ['https://admin.example']);
    const s = await login(app, { id: 'u' }, { Origin: 'https://admin.example' });
    await request(app).post('/me').set('Origin', 'https://admin.example').set('Cookie', s.cookie as string).expect(200);
    expect((await request(app).post('/me').set('Origin', 'https://admin.example.evil').set('Cookie', s.cookie as string)).status).toBe(403);
    expect((await request(app).post('/login').set(EVIL).send({ id: 'u' })).status).toBe(403);
  });
});

describe('bearer headers are not subject to the CSRF check', () => {
  test('header + cookie strategy: the same cross-site POST with a bearer header passes', async () => {
    const { app } = make(statelessJwt({ secret, carrier: ['header', 'cookie'], cookie: { secure: false } }));
    const s = await login(app, { id: 'u' });
    const res = await request(app).post('/me').set(EVIL).set('Authorization', `Bearer ${s.token}`).expect(200);
    expect(res.body.id).toBe('u');
    const withCookie = await request(app).post('/me').set(EVIL).set('Cookie', s.cookie as string);
    expect(withCookie.status).toBe(403);
  });

  test('header + cookie strategy: a cross-site logout carrying a bearer header is not refused as CSRF', async () => {
    const { app } = make(statefulJwt({ secret, carrier: ['header', 'cookie'], cookie: { secure: false }, store: memoryStore() }));
    const s = await login(app, { id: 'u' });
    const res = await request(app).post('/logout').set(EVIL).set('Authorization', `Bearer ${s.token}`);
    expect(res.status).toBe(204);
    expect((await request(app).get('/me').set('Authorization', `Bearer ${s.token}`)).status).toBe(401);
  });

  test('header-only strategy: cross-site POSTs (login, guarded route, logout) all pass', async () => {
    const { app } = make(statelessJwt({ secret }));
    const s = await login(app, { id: 'u' }, EVIL);
    await request(app).post('/me').set(EVIL).set('Authorization', `Bearer ${s.token}`).expect(200);
    await request(app).post('/logout').set(EVIL).set('Authorization', `Bearer ${s.token}`).expect(204);
  });
});

describe.each(cookieStrategies)('behind a reverse proxy (%s)', (_name, strategy) => {
  // The proxy rewrites Host to the upstream's address and says what the browser addressed in X-Forwarded-*.
  const PROXIED = { Host: '10.0.0.7:3000', 'X-Forwarded-Host': 'app.example', 'X-Forwarded-Proto': 'https' };

  test('trust proxy on: a same-origin cookie POST (Origin = the forwarded host) passes, with or without a port', async () => {
    const { app } = make(strategy());
    app.set('trust proxy', 'loopback');
    const s = await login(app, { id: 'u' }, { ...PROXIED, Origin: 'https://app.example' });
    const res = await request(app).post('/me').set(PROXIED).set('Origin', 'https://app.example').set('Cookie', s.cookie as string);
    expect([res.status, res.body.id]).toEqual([200, 'u']);
    const withPort = { ...PROXIED, 'X-Forwarded-Host': 'app.example:8443' };
    await request(app).post('/me').set(withPort).set('Origin', 'https://app.example:8443').set('Cookie', s.cookie as string).expect(200);
    // A forwarded default port is the origin without one (browsers never send :443).
    await request(app).post('/me').set({ ...PROXIED, 'X-Forwarded-Host': 'app.example:443' }).set('Origin', 'https://app.example').set('Cookie', s.cookie as string).expect(200);
    // Another site is still another site.
    const evil = await request(app).post('/me').set(PROXIED).set(EVIL).set('Cookie', s.cookie as string);
    expect([evil.status, evil.body.code]).toEqual([403, 'ERR_CSRF']);
  });

  test('trust proxy off, or a peer it does not trust: a forged X-Forwarded-Host does not make a cross-site POST pass', async () => {
    for (const trust of [false, '10.9.9.9']) {
      const { app } = make(strategy());
      app.set('trust proxy', trust);
      const s = await login(app, { id: 'u' });
      const forged = { Host: 'app.test', 'X-Forwarded-Host': 'evil.example', 'X-Forwarded-Proto': 'https', Origin: 'https://evil.example' };
      const res = await request(app).post('/me').set(forged).set('Cookie', s.cookie as string);
      expect([res.status, res.body.code]).toEqual([403, 'ERR_CSRF']);
      const forgedLogout = await request(app).post('/logout').set({ ...forged, Origin: 'http://evil.example' }).set('Cookie', s.cookie as string);
      expect([forgedLogout.status, forgedLogout.body.code]).toEqual([403, 'ERR_CSRF']);
      // The raw Host still defines the app's own origin.
      await request(app).post('/me').set(SAME).set('X-Forwarded-Host', 'evil.example').set('Cookie', s.cookie as string).expect(200);
    }
  });
});
