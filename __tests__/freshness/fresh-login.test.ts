/**
 * requireFreshLogin over HTTP: 401 ERR_LOGIN_REQUIRED once the login is older than maxAge; re-issues
 * (refreshPrincipal rehydration, refresh-token rotation) keep authenticatedAt; a real login restarts it.
 */
import request from 'supertest';
import { memoryStore, REISSUED_TOKEN_HEADER, redisStore, sessionCookie, statefulJwt, statelessJwt, type Strategy } from '../../lib';
import { cleanupPrefix, connectRedis, uniquePrefix, type TestRedisClient } from '../helpers/redis';
import { COOKIE_SECRET, SECRET, freshApp, loginAs, setCookies, users, waitFor, withCredential, type Credential, type FreshApp } from './support';

let client: TestRedisClient;
const prefix = uniquePrefix('freshness-login');
const built: FreshApp[] = [];
let n = 0;

beforeAll(async () => { client = await connectRedis(); });
afterAll(async () => {
  for (const { auth } of built) await auth.close();
  await cleanupPrefix(client, prefix);
  await client.close();
});

// auth_time in a JWT has 1 s resolution: 2 s keeps "just logged in" unambiguous.
const FRESH = '2s';

const cases: { name: string; cookie?: string; make(p: string): Strategy }[] = [
  { name: 'statelessJwt (header)', make: () => statelessJwt({ secret: SECRET }) },
  { name: 'statelessJwt (cookie)', cookie: '__Host-ep', make: () => statelessJwt({ secret: SECRET, carrier: 'cookie' }) },
  { name: 'statefulJwt redis', make: (p) => statefulJwt({ secret: SECRET, store: redisStore({ client, prefix: p }) }) },
  { name: 'sessionCookie memory', cookie: 'sid', make: (p) => sessionCookie({ secret: COOKIE_SECRET, store: memoryStore({ prefix: p }), secure: false }) },
  { name: 'sessionCookie redis', cookie: 'sid', make: (p) => sessionCookie({ secret: COOKIE_SECRET, store: redisStore({ client, prefix: p }), secure: false }) },
];

test.each(cases)('requireFreshLogin × $name: 401 ERR_LOGIN_REQUIRED once the login is older; a new login (while logged in) restarts it', async (c) => {
  const fa = freshApp({ strategy: c.make(`${prefix}${n++}:`) }, FRESH);
  built.push(fa);
  const { credential } = await loginAs(fa.app, { id: 'alice' }, c.cookie);
  const ok = await withCredential(request(fa.app).get('/sensitive'), credential).expect(200);
  let last: request.Response = ok;
  await waitFor(async () => {
    last = await withCredential(request(fa.app).get('/sensitive'), credential);
    return last.status !== 200;
  });
  expect(last.status).toBe(401);
  expect(last.body.code).toBe('ERR_LOGIN_REQUIRED');
  // Still authenticated for ordinary routes.
  await withCredential(request(fa.app).get('/me'), credential).expect(200);
  // Step-up: the user logs in again, sending the current credential along.
  const again = await withCredential(request(fa.app).post('/login').send({ id: 'alice' }), credential).expect(200);
  const next: Credential = c.cookie === undefined
    ? { bearer: again.body.token as string }
    : { cookie: `${c.cookie}=${encodeURIComponent(setCookies(again).get(c.cookie)?.value ?? '')}` };
  const fresh = await withCredential(request(fa.app).get('/sensitive'), next);
  expect(fresh.body.code).toBeUndefined();
  expect(fresh.status).toBe(200);
  expect(fresh.body.authenticatedAt).toBeGreaterThan(ok.body.authenticatedAt as number);
});

test('re-issues keep the login time: rehydrated token and rotated refresh token still fail requireFreshLogin', async () => {
  const u = users([{ id: 'alice', roles: ['user'] }]);
  const store = redisStore({ client, prefix: `${prefix}${n++}:` });
  const fa = freshApp({
    strategy: statelessJwt({ secret: SECRET, store, refresh: { store } }),
    refreshPrincipal: { maxAge: '300ms', load: u.load },
  }, FRESH);
  built.push(fa);
  const login = await request(fa.app).post('/login').send({ id: 'alice', roles: ['user'] }).expect(200);
  const authAt = (await request(fa.app).get('/me').set('Authorization', `Bearer ${login.body.token as string}`).expect(200)).body.authenticatedAt as number;
  let last: request.Response | undefined;
  await waitFor(async () => {
    last = await request(fa.app).get('/sensitive').set('Authorization', `Bearer ${login.body.token as string}`);
    return last.status === 401 && last.headers[REISSUED_TOKEN_HEADER.toLowerCase()] !== undefined;
  });
  expect(last?.body.code).toBe('ERR_LOGIN_REQUIRED');
  // The rehydrated token (new roles, new jti) carries the old login time.
  const reissued = last?.headers[REISSUED_TOKEN_HEADER.toLowerCase()] as string;
  const r1 = await request(fa.app).get('/sensitive').set('Authorization', `Bearer ${reissued}`).expect(401);
  expect(r1.body.code).toBe('ERR_LOGIN_REQUIRED');
  expect((await request(fa.app).get('/me').set('Authorization', `Bearer ${reissued}`).expect(200)).body.authenticatedAt).toBe(authAt);
  // So does a token from a refresh-token rotation.
  const rotated = await request(fa.app).post('/auth/refresh').send({ refreshToken: login.body.refreshToken }).expect(200);
  const r2 = await request(fa.app).get('/sensitive').set('Authorization', `Bearer ${rotated.body.token as string}`).expect(401);
  expect(r2.body.code).toBe('ERR_LOGIN_REQUIRED');
  expect((await request(fa.app).get('/me').set('Authorization', `Bearer ${rotated.body.token as string}`).expect(200)).body.authenticatedAt).toBe(authAt);
  // A real login restarts it.
  const relogin = await request(fa.app).post('/login').set('Authorization', `Bearer ${rotated.body.token as string}`).send({ id: 'alice' }).expect(200);
  await request(fa.app).get('/sensitive').set('Authorization', `Bearer ${relogin.body.token as string}`).expect(200);
});
