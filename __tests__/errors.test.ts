/**
 * Error answers over HTTP: problem+json bodies with stable codes that never echo a credential,
 * onError: 'next' handing AuthErrors to the app, oversized credentials, store outages.
 */
import request from 'supertest';
import {
  AuthError, CsrfError, ForbiddenError, InvalidCredentialError, StoreUnavailableError,
  memoryStore, redisStore, sessionCookie, statefulJwt, statelessJwt,
} from '../lib';
import { buildApp, credential, login, type TestApp } from './helpers/apps';
import { connectRedis, uniquePrefix, cleanupPrefix, type TestRedisClient } from './helpers/redis';

const secret = 'k8Jd02mXq9Lp3Zr7Tv5Wy1Ab4Cd6Ef8Gh0Ij2Kl';
const prefix = uniquePrefix('errors');
const apps: TestApp[] = [];
let client: TestRedisClient;
beforeAll(async () => { client = await connectRedis(); });
afterAll(async () => {
  for (const { auth } of apps) await auth.close();
  await cleanupPrefix(client, prefix);
  await client.close();
});
function make(options: Partial<Parameters<typeof buildApp>[0]> = {}): TestApp {
  const built = buildApp({ strategy: statelessJwt({ secret }), ...options });
  apps.push(built);
  return built;
}

describe('problem+json bodies', () => {
  test('every refusal is RFC 9457 problem+json with type, title, status, code and Cache-Control: no-store', async () => {
    const t = make();
    const user = credential(await login(t.app, { id: 'u', roles: [] }));
    const cases: [string, Record<string, string>, number, string][] = [
      ['/me', {}, 401, 'ERR_AUTH_REQUIRED'],
      ['/me', { Authorization: 'Bearer x.y.z' }, 401, 'ERR_INVALID_CREDENTIAL'],
      ['/admin', user, 403, 'ERR_FORBIDDEN'],
      ['/scoped', user, 403, 'ERR_INSUFFICIENT_SCOPE'],
    ];
    for (const [path, headers, status, code] of cases) {
      const res = await request(t.app).get(path).set(headers);
      expect(res.status).toBe(status);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.headers['cache-control']).toBe('no-store');
      const body = JSON.parse(res.text) as Record<string, unknown>;
      expect(body).toMatchObject({ status, code });
      expect(typeof body.type).toBe('string');
      expect(typeof body.title).toBe('string');
    }
  });

  test('no body or header ever contains the presented token (valid-looking, bad signature, expired, revoked)', async () => {
    const t = make({ strategy: statelessJwt({ secret, store: memoryStore() }) });
    const s = await login(t.app, { id: 'u' });
    const token = s.token as string;
    const tampered = `${token.slice(0, -4)}AAAA`;
    await request(t.app).post('/logout').set(credential(s)).expect(204);
    for (const presented of [token, tampered, `${token}.extra`, 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1In0.']) {
      const res = await request(t.app).get('/me').set('Authorization', `Bearer ${presented}`);
      expect(res.status).toBe(401);
      const everything = res.text + JSON.stringify(res.headers);
      expect(everything).not.toContain(presented);
      expect(everything).not.toContain(presented.split('.')[2] || 'no-signature-part');
      expect(everything).not.toContain(secret);
    }
  });

  test('a session cookie value never appears in the answer', async () => {
    const t = make({ strategy: sessionCookie({ secret, store: memoryStore(), secure: false }) });
    const s = await login(t.app, { id: 'u' });
    const value = (s.cookie as string).slice('sid='.length);
    const res = await request(t.app).get('/admin').set('Cookie', s.cookie as string);
    expect(res.status).toBe(403);
    expect(res.text).not.toContain(value);
    expect(res.text).not.toContain(decodeURIComponent(value));
  });
});

describe("onError: 'next'", () => {
  test.each([
    ['/me', {}, 401, 'ERR_AUTH_REQUIRED'],
    ['/me', { Authorization: 'Bearer x.y.z' }, 401, 'ERR_INVALID_CREDENTIAL'],
    ['/admin', 'user', 403, 'ERR_FORBIDDEN'],
    ['/scoped', 'user', 403, 'ERR_INSUFFICIENT_SCOPE'],
  ] as const)('%s %j → the app error handler gets an AuthError (%i %s)', async (path, headers, status, code) => {
    const t = make({ onError: 'next' });
    const h = headers === 'user' ? credential(await login(t.app, { id: 'u' })) : headers;
    const res = await request(t.app).get(path).set(h);
    expect(res.status).toBe(status);
    expect(res.body).toEqual({ code, status, handledBy: 'app' });
    expect(t.errors).toHaveLength(1);
    const err = t.errors[0] as AuthError;
    expect(err).toBeInstanceOf(AuthError);
    expect(err.code).toBe(code);
    expect(err.status).toBe(status);
    expect(res.headers['www-authenticate']).toBeUndefined();
  });

  test("with 'respond' (default) the app error handler never sees guard failures", async () => {
    const t = make();
    await request(t.app).get('/me').expect(401);
    expect(t.errors).toHaveLength(0);
  });
});

test('AuthError subclasses carry stable codes and statuses', () => {
  expect(new InvalidCredentialError()).toMatchObject({ code: 'ERR_INVALID_CREDENTIAL', status: 401 });
  expect(new CsrfError()).toMatchObject({ code: 'ERR_CSRF', status: 403 });
  expect(new ForbiddenError()).toMatchObject({ code: 'ERR_FORBIDDEN', status: 403 });
  const down = new StoreUnavailableError();
  expect(down).toMatchObject({ code: 'ERR_STORE_UNAVAILABLE', status: 503 });
  expect(down.headers['Retry-After']).toBe('1');
  for (const e of [new InvalidCredentialError(), new CsrfError(), down]) expect(e).toBeInstanceOf(AuthError);
});

test('an oversized Authorization header → 431 ERR_CREDENTIAL_TOO_LARGE before decoding', async () => {
  const t = make();
  const res = await request(t.app).get('/me').set('Authorization', `Bearer ${'a'.repeat(9000)}`);
  expect(res.status).toBe(431);
  expect(res.body.code).toBe('ERR_CREDENTIAL_TOO_LARGE');
  const small = make({ maxCredentialBytes: 200 });
  const token = (await login(small.app, { id: 'u', claims: { pad: 'p'.repeat(300) } })).token as string;
  expect((await request(small.app).get('/me').set('Authorization', `Bearer ${token}`)).status).toBe(431);
});

test('a store that cannot answer → 503 ERR_STORE_UNAVAILABLE with Retry-After, never 200', async () => {
  const own = await connectRedis();
  const t = make({ strategy: statefulJwt({ secret, store: redisStore({ client: own, prefix, retryAfter: 7 }) }) });
  const s = await login(t.app, { id: 'u', roles: ['admin'] });
  await request(t.app).get('/admin').set(credential(s)).expect(200);
  await own.close();
  const res = await request(t.app).get('/admin').set(credential(s));
  expect(res.status).toBe(503);
  expect(res.body.code).toBe('ERR_STORE_UNAVAILABLE');
  expect(res.headers['retry-after']).toBe('7');
  const open = await request(t.app).get('/open').set(credential(s)).expect(200);
  expect(open.body).toEqual({ principal: null, error: 'ERR_STORE_UNAVAILABLE' });
});
