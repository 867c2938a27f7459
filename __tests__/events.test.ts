/**
 * Typed events on the middleware: authenticated, rejected (with the code), revoked (with the reason),
 * refreshed, rehydrated, login, logout — and no payload ever carries a raw credential.
 */
import request from 'supertest';
import { REISSUED_TOKEN_HEADER, redisStore, sessionCookie, statelessJwt, type PrincipalMiddleware } from '../lib';
import { cleanupPrefix, connectRedis, uniquePrefix, type TestRedisClient } from './helpers/redis';
import { COOKIE_SECRET, SECRET, freshApp, setCookies, users, waitFor, waitPast, type FreshApp } from './freshness/support';

let client: TestRedisClient;
const prefix = uniquePrefix('events');
const built: FreshApp[] = [];

beforeAll(async () => { client = await connectRedis(); });
afterAll(async () => {
  for (const { auth } of built) await auth.close();
  await cleanupPrefix(client, prefix);
  await client.close();
});

type Seen = { event: string; args: unknown[] };
const EVENTS = ['authenticated', 'rejected', 'revoked', 'refreshed', 'rehydrated', 'login', 'logout'] as const;

function record(auth: PrincipalMiddleware): Seen[] {
  const seen: Seen[] = [];
  for (const event of EVENTS) auth.on(event, (...args: unknown[]) => { seen.push({ event, args }); });
  return seen;
}

const of = (seen: Seen[], event: string) => seen.filter((s) => s.event === event).map((s) => s.args);

test('statelessJwt with refresh tokens and refreshPrincipal: every event, payloads without credentials', async () => {
  const u = users([{ id: 'alice', roles: ['user'] }]);
  const store = redisStore({ client, prefix: `${prefix}a:` });
  const fa = freshApp({
    strategy: statelessJwt({ secret: SECRET, store, refresh: { store, graceWindow: '200ms' } }),
    refreshPrincipal: { maxAge: '300ms', load: u.load },
  });
  built.push(fa);
  const seen = record(fa.auth);
  const secrets: string[] = [];

  const login = await request(fa.app).post('/login').send({ id: 'alice', roles: ['user'] }).expect(200);
  secrets.push(login.body.token, login.body.refreshToken);
  expect(of(seen, 'login')).toEqual([[{ id: 'alice', sessionId: expect.any(String) }]]);

  const me = await request(fa.app).get('/me').set('Authorization', `Bearer ${login.body.token as string}`).expect(200);
  const [authenticated] = of(seen, 'authenticated');
  expect((authenticated?.[0] as { id: string }).id).toBe('alice');

  const bad = `${(login.body.token as string).slice(0, -4)}AAAA`;
  secrets.push(bad);
  await request(fa.app).get('/me').set('Authorization', `Bearer ${bad}`).expect(401);
  expect(of(seen, 'rejected').map((a) => a[0])).toEqual(['ERR_INVALID_CREDENTIAL']);

  // rehydrated: the data went stale and was reloaded.
  u.table.set('alice', { id: 'alice', roles: ['admin'] });
  await waitPast(me.body.loadedAt as number, 300);
  const stale = await request(fa.app).get('/admin').set('Authorization', `Bearer ${login.body.token as string}`).expect(200);
  secrets.push(stale.headers[REISSUED_TOKEN_HEADER.toLowerCase()] as string);
  const [rehydrated] = of(seen, 'rehydrated');
  expect(rehydrated?.[0]).toMatchObject({ id: 'alice', strategy: 'stateless-jwt', outcome: 'reloaded', sessionId: expect.any(String) });
  expect((rehydrated?.[0] as { ageMs: number }).ageMs).toBeGreaterThan(300);

  // refreshed
  const r1 = await request(fa.app).post('/auth/refresh').send({ refreshToken: login.body.refreshToken }).expect(200);
  secrets.push(r1.body.token, r1.body.refreshToken);
  const [refreshed] = of(seen, 'refreshed');
  expect(refreshed?.[0]).toMatchObject({ id: 'alice', strategy: 'stateless-jwt', sessionId: expect.any(String), expiresAt: expect.any(Date) });

  // revoked: refresh-reused (replay after the grace window)
  const usedAt = Date.now();
  await request(fa.app).post('/auth/refresh').send({ refreshToken: r1.body.refreshToken }).expect(200);
  await waitPast(usedAt, 200);
  await request(fa.app).post('/auth/refresh').send({ refreshToken: login.body.refreshToken }).expect(401);
  expect(of(seen, 'revoked')).toContainEqual(['alice', 'refresh-reused']);
  expect(of(seen, 'rejected')).toContainEqual(['ERR_REFRESH_REUSED', 'stateless-jwt']);

  // revoked: gone (load → null)
  const l2 = await request(fa.app).post('/login').send({ id: 'alice', roles: ['admin'] }).expect(200);
  secrets.push(l2.body.token, l2.body.refreshToken);
  u.table.delete('alice');
  await waitFor(async () => (await request(fa.app).get('/me').set('Authorization', `Bearer ${l2.body.token as string}`)).status === 401);
  expect(of(seen, 'revoked')).toContainEqual(['alice', 'gone']);
  expect(of(seen, 'rehydrated').map((a) => (a[0] as { outcome: string }).outcome)).toContain('gone');

  // logout, revokeAll
  u.table.set('alice', { id: 'alice', roles: [] });
  const l3 = await request(fa.app).post('/login').send({ id: 'alice' }).expect(200);
  secrets.push(l3.body.token, l3.body.refreshToken);
  await request(fa.app).post('/logout').set('Authorization', `Bearer ${l3.body.token as string}`).expect(204);
  expect(of(seen, 'logout')).toEqual([[{ id: 'alice', sessionId: expect.any(String) }]]);
  await fa.auth.revokeAll('alice');
  expect(of(seen, 'revoked')).toContainEqual(['alice', 'revokeAll']);

  for (const event of EVENTS) expect(of(seen, event).length).toBeGreaterThan(0);
  const dump = JSON.stringify(seen);
  expect(secrets.filter((s) => typeof s === 'string' && s.length > 20)).toHaveLength(secrets.length);
  for (const secret of secrets) expect(dump).not.toContain(secret);
});

test('cookie credentials: no payload carries the cookie value (sessionCookie, refresh cookie)', async () => {
  const store = redisStore({ client, prefix: `${prefix}b:` });
  const fa = freshApp({ strategy: sessionCookie({ secret: COOKIE_SECRET, store, secure: false }) });
  built.push(fa);
  const seen = record(fa.auth);
  const login = await request(fa.app).post('/login').send({ id: 'bob' }).expect(200);
  const sid = setCookies(login).get('sid')?.value ?? '';
  expect(sid.length).toBeGreaterThan(20);
  await request(fa.app).get('/me').set('Cookie', `sid=${encodeURIComponent(sid)}`).expect(200);
  await request(fa.app).get('/me').set('Cookie', `sid=${encodeURIComponent(`${sid}x`)}`).expect(401);
  await request(fa.app).post('/logout').set('Cookie', `sid=${encodeURIComponent(sid)}`).expect(204);

  const rstore = redisStore({ client, prefix: `${prefix}c:` });
  const fb = freshApp({ strategy: statelessJwt({ secret: SECRET, carrier: 'cookie', store: rstore, refresh: { store: rstore } }) });
  built.push(fb);
  const seenB = record(fb.auth);
  const l = await request(fb.app).post('/login').send({ id: 'carol' }).expect(200);
  const access = setCookies(l).get('__Host-ep')?.value ?? '';
  const rt = setCookies(l).get('__Secure-ep_rt')?.value ?? '';
  const r = await request(fb.app).post('/auth/refresh').set('Cookie', `__Secure-ep_rt=${rt}`).expect(200);
  const rt2 = setCookies(r).get('__Secure-ep_rt')?.value ?? '';
  await request(fb.app).get('/me').set('Cookie', `__Host-ep=${access}`).expect(200);

  expect(of(seen, 'authenticated')).toHaveLength(2);
  expect(of(seen, 'rejected').map((a) => a[0])).toEqual(['ERR_INVALID_CREDENTIAL']);
  expect(of(seenB, 'refreshed')).toHaveLength(1);
  const dump = JSON.stringify([seen, seenB]);
  for (const secret of [sid, access, rt, rt2]) {
    expect(secret.length).toBeGreaterThan(20);
    expect(dump).not.toContain(secret);
  }
});

describe('rejected names the strategy whose credential was refused', () => {
  const rejectedOf = (fa: FreshApp) => {
    const seen: unknown[][] = [];
    fa.auth.on('rejected', (...args) => { seen.push(args); });
    return seen;
  };

  test('one strategy: stateless-jwt for a forged bearer, session-cookie for a forged cookie', async () => {
    const jwtApp = freshApp({ strategy: statelessJwt({ secret: SECRET }) });
    const cookieApp = freshApp({ strategy: sessionCookie({ secret: COOKIE_SECRET, store: redisStore({ client, prefix: `${prefix}d:` }), secure: false }) });
    built.push(jwtApp, cookieApp);
    const jwtSeen = rejectedOf(jwtApp);
    const cookieSeen = rejectedOf(cookieApp);
    const login = await request(jwtApp.app).post('/login').send({ id: 'dan' }).expect(200);
    await request(jwtApp.app).get('/me').set('Authorization', `Bearer ${(login.body.token as string).slice(0, -4)}AAAA`).expect(401);
    await request(cookieApp.app).get('/me').set('Cookie', 'sid=s%3Anot-a-session.forged').expect(401);
    expect(jwtSeen).toEqual([['ERR_INVALID_CREDENTIAL', 'stateless-jwt']]);
    expect(cookieSeen).toEqual([['ERR_INVALID_CREDENTIAL', 'session-cookie']]);
  });

  test('several strategies: the one whose credential was refused, not the first listed; null only for an oversized header', async () => {
    const store = redisStore({ client, prefix: `${prefix}e:` });
    const fa = freshApp({ strategy: [statelessJwt({ secret: SECRET, store }), sessionCookie({ secret: COOKIE_SECRET, store, secure: false })] });
    built.push(fa);
    const seen = rejectedOf(fa);
    const alice = await request(fa.app).post('/login').send({ id: 'alice' }).expect(200);
    fa.app.post('/login-cookie', (req, res, next) => { req.auth.login({ id: 'bob' }, { strategy: 'session-cookie' }).then(() => res.sendStatus(204), next); });
    const bob = await request(fa.app).post('/login-cookie').expect(204);
    const bobCookie = `sid=${encodeURIComponent(setCookies(bob).get('sid')?.value ?? '')}`;
    await request(fa.app).get('/me').set('Cookie', bobCookie).expect(200);
    const forgedBearer = `Bearer ${(alice.body.token as string).slice(0, -4)}AAAA`;

    // Only a forged cookie: the cookie strategy refused it, though the JWT strategy is listed first.
    await request(fa.app).get('/me').set('Cookie', 'sid=s%3Anot-a-session.forged').expect(401);
    // A forged bearer next to a valid cookie: the bearer wins (header-first) and its strategy refused it.
    await request(fa.app).get('/me').set('Authorization', forgedBearer).set('Cookie', bobCookie).expect(401);
    // Two valid credentials naming different subjects: refused with the winning credential's strategy.
    await request(fa.app).get('/me').set('Authorization', `Bearer ${alice.body.token as string}`).set('Cookie', bobCookie).expect(400);
    // A cross-site POST carrying only the cookie: the cookie strategy's credential was refused.
    await request(fa.app).post('/logout').set('Origin', 'https://evil.example').set('Cookie', bobCookie).expect(403);
    // Refused before any strategy read it.
    await request(fa.app).get('/me').set('Authorization', `Bearer ${'x'.repeat(9000)}`).expect(431);
    expect(seen).toEqual([
      ['ERR_INVALID_CREDENTIAL', 'session-cookie'],
      ['ERR_INVALID_CREDENTIAL', 'stateless-jwt'],
      ['ERR_CREDENTIAL_CONFLICT', 'stateless-jwt'],
      ['ERR_CSRF', 'session-cookie'],
      ['ERR_CREDENTIAL_TOO_LARGE', null],
    ]);
  });
});
