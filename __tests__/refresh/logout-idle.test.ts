/**
 * Logout from an idle tab, over HTTP against real Redis: the access token has expired (and a browser no longer
 * sends its cookie), the refresh token lives 30 days. Logout ends the refresh family whenever the request carries
 * the refresh credential (the refresh cookie under its path via `auth.logoutHandler()`, or `refreshToken` in a
 * native client's body); when it carries neither that nor a valid access token it answers 401
 * ERR_LOGOUT_INCOMPLETE instead of a 2xx that ended nothing.
 */
import request from 'supertest';
import { redisStore, statelessJwt } from '../../lib';
import { cleanupPrefix, connectRedis, uniquePrefix, type TestRedisClient } from '../helpers/redis';
import { SECRET, freshApp, setCookies, waitFor, type FreshApp } from '../freshness/support';

const RT = '__Secure-ep_rt';
const ACCESS = '__Host-ep';

let client: TestRedisClient;
const prefix = uniquePrefix('refresh-logout-idle');
const built: FreshApp[] = [];
let n = 0;

beforeAll(async () => { client = await connectRedis(); });
afterAll(async () => {
  for (const { auth } of built) await auth.close();
  await cleanupPrefix(client, prefix);
  await client.close();
});

/** Access tokens live one second (no clock tolerance); `logoutHandler()` sits under the refresh cookie's path. */
function app(carrier: 'header' | 'cookie'): FreshApp {
  const store = redisStore({ client, prefix: `${prefix}${n++}:` });
  const fa = freshApp({
    strategy: statelessJwt({ secret: SECRET, ttl: '1s', clockTolerance: 0, carrier, store, refresh: { store, cookiePath: '/auth/refresh' } }),
  });
  fa.app.post('/auth/refresh/logout', fa.auth.logoutHandler());
  built.push(fa);
  return fa;
}

/** Polls until the access credential is refused as expired: the idle tab's state. */
async function expired(fa: FreshApp, credential: { header: string; value: string }): Promise<void> {
  await waitFor(async () => {
    const me = await request(fa.app).get('/me').set(credential.header, credential.value);
    return me.status === 401 && me.body.code === 'ERR_CREDENTIAL_EXPIRED';
  }, 10_000);
}

describe('browser: access cookie expired, refresh cookie scoped to /auth/refresh', () => {
  async function idleBrowser(fa: FreshApp) {
    const login = await request(fa.app).post('/login').send({ id: 'idle-browser' }).expect(200);
    const cookies = setCookies(login);
    const access = `${ACCESS}=${cookies.get(ACCESS)?.value ?? ''}`;
    const refresh = `${RT}=${cookies.get(RT)?.value ?? ''}`;
    await expired(fa, { header: 'Cookie', value: access });
    return { access, refresh };
  }

  test('logoutHandler() under the refresh path ends the family: 204, cookie cleared, a copy of the refresh token gets 401', async () => {
    const fa = app('cookie');
    const { access, refresh } = await idleBrowser(fa);
    // What the browser sends there: the refresh cookie (the access cookie's Max-Age has run out).
    const out = await request(fa.app).post('/auth/refresh/logout').set('Cookie', refresh).expect(204);
    expect(out.headers['cache-control']).toBe('no-store');
    expect(setCookies(out).get(RT)?.line).toMatch(/Path=\/auth\/refresh;.*Expires=Thu, 01 Jan 1970/);
    const copy = await request(fa.app).post('/auth/refresh').set('Cookie', refresh).expect(401);
    expect(['ERR_INVALID_CREDENTIAL', 'ERR_CREDENTIAL_REVOKED']).toContain(copy.body.code);
    // A browser that still sends the expired access cookie too: same result (nothing left to rotate).
    await request(fa.app).post('/auth/refresh/logout').set('Cookie', `${access}; ${refresh}`).expect(204);
    await request(fa.app).post('/auth/refresh').set('Cookie', refresh).expect(401);
  });

  test('a logout route the refresh cookie does not reach answers 401 ERR_LOGOUT_INCOMPLETE, not a silent 204', async () => {
    const fa = app('cookie');
    const { access, refresh } = await idleBrowser(fa);
    for (const cookie of [access, undefined]) {
      const req = request(fa.app).post('/logout');
      const res = await (cookie === undefined ? req : req.set('Cookie', cookie));
      expect(res.status).toBe(401);
      expect(res.body.code).toBe('ERR_LOGOUT_INCOMPLETE');
      // The client keeps its refresh cookie, so it can still log out where the cookie is sent.
      expect(setCookies(res).has(RT)).toBe(false);
    }
    await request(fa.app).post('/auth/refresh/logout').set('Cookie', refresh).expect(204);
    await request(fa.app).post('/auth/refresh').set('Cookie', refresh).expect(401);
  });

  test('a cross-site POST to logoutHandler() is refused (403 ERR_CSRF) and ends nothing', async () => {
    const fa = app('cookie');
    const login = await request(fa.app).post('/login').send({ id: 'csrf-victim' }).expect(200);
    const cookies = setCookies(login);
    const both = `${ACCESS}=${cookies.get(ACCESS)?.value ?? ''}; ${RT}=${cookies.get(RT)?.value ?? ''}`;
    const evil = await request(fa.app).post('/auth/refresh/logout').set('Cookie', both).set('Origin', 'https://evil.example').expect(403);
    expect(evil.body.code).toBe('ERR_CSRF');
    await request(fa.app).post('/auth/refresh').set('Cookie', both).expect(200);
  });
});

describe('native client: expired bearer token, refresh token in the body', () => {
  test('logout with the refresh token in the body ends the family: 204, then a copy of it gets 401', async () => {
    const fa = app('header');
    const login = await request(fa.app).post('/login').send({ id: 'idle-native' }).expect(200);
    const bearer = `Bearer ${login.body.token as string}`;
    const rt = login.body.refreshToken as string;
    await expired(fa, { header: 'Authorization', value: bearer });
    await request(fa.app).post('/logout').set('Authorization', bearer).send({ refreshToken: rt }).expect(204);
    const copy = await request(fa.app).post('/auth/refresh').send({ refreshToken: rt }).expect(401);
    expect(['ERR_INVALID_CREDENTIAL', 'ERR_CREDENTIAL_REVOKED']).toContain(copy.body.code);
  });

  test('an expired bearer token and no refresh token: 401 ERR_LOGOUT_INCOMPLETE; the same through logoutHandler()', async () => {
    const fa = app('header');
    const login = await request(fa.app).post('/login').send({ id: 'idle-native-2' }).expect(200);
    const bearer = `Bearer ${login.body.token as string}`;
    await expired(fa, { header: 'Authorization', value: bearer });
    for (const path of ['/logout', '/auth/refresh/logout']) {
      const res = await request(fa.app).post(path).set('Authorization', bearer);
      expect(res.status).toBe(401);
      expect(res.body.code).toBe('ERR_LOGOUT_INCOMPLETE');
    }
    // The refresh token is still the client's, and logging out with it works.
    await request(fa.app).post('/auth/refresh/logout').send({ refreshToken: login.body.refreshToken }).expect(204);
    await request(fa.app).post('/auth/refresh').send({ refreshToken: login.body.refreshToken }).expect(401);
  });

  test('a valid access token alone still logs out (204) and ends its own family', async () => {
    const fa = app('header');
    const login = await request(fa.app).post('/login').send({ id: 'active-native' }).expect(200);
    await request(fa.app).post('/logout').set('Authorization', `Bearer ${login.body.token as string}`).expect(204);
    await request(fa.app).post('/auth/refresh').send({ refreshToken: login.body.refreshToken }).expect(401);
  });

  test('logoutHandler() answers only POST', async () => {
    const all = freshApp({ strategy: statelessJwt({ secret: SECRET, store: redisStore({ client, prefix: `${prefix}${n++}:` }) }) });
    built.push(all);
    all.app.all('/bye', all.auth.logoutHandler());
    const get = await request(all.app).get('/bye').expect(405);
    expect(get.headers.allow).toBe('POST');
  });
});
