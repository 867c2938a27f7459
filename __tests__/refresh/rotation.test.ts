/**
 * statelessJwt({ refresh }) over HTTP against real Redis: opaque refresh tokens stored hashed with a TTL,
 * single-use rotation, the grace window for two tabs, theft detection (family revoked, ERR_REFRESH_REUSED),
 * cookie delivery (HttpOnly Secure SameSite=Strict, path-scoped) with the CSRF check, body delivery for native clients.
 */
import { createHash } from 'node:crypto';
import request from 'supertest';
import { redisStore, statelessJwt, type PrincipalOptions } from '../../lib';
import { cleanupPrefix, connectRedis, keysWithPrefix, uniquePrefix, type TestRedisClient } from '../helpers/redis';
import { SECRET, freshApp, setCookies, users, waitPast, type FreshApp } from '../freshness/support';

let client: TestRedisClient;
const prefix = uniquePrefix('refresh-rotation');
const built: FreshApp[] = [];
let n = 0;

beforeAll(async () => { client = await connectRedis(); });
afterAll(async () => {
  for (const { auth } of built) await auth.close();
  await cleanupPrefix(client, prefix);
  await client.close();
});

const GRACE = 300;

function app(opts: { carrier?: 'header' | 'cookie'; extra?: Partial<PrincipalOptions>; denyList?: boolean } = {}): FreshApp & { p: string } {
  const p = `${prefix}${n++}:`;
  const store = redisStore({ client, prefix: p });
  const strategy = statelessJwt({
    secret: SECRET, ttl: '5m', carrier: opts.carrier ?? 'header',
    ...(opts.denyList === false ? {} : { store }),
    refresh: { store, ttl: '30d', graceWindow: `${GRACE}ms`, cookiePath: '/auth/refresh' },
  });
  const fa = freshApp({ strategy, ...opts.extra });
  built.push(fa);
  return { ...fa, p };
}

const refreshBody = (fa: FreshApp, token: string) => request(fa.app).post('/auth/refresh').send({ refreshToken: token });

describe('native clients (header carrier, refresh token in the body)', () => {
  test('login returns an access token and an opaque 32-byte refresh token, stored only as its SHA-256 with a TTL', async () => {
    const fa = app();
    const login = await request(fa.app).post('/login').send({ id: 'alice', roles: ['user'] }).expect(200);
    const rt = login.body.refreshToken as string;
    expect(typeof login.body.token).toBe('string');
    expect(Buffer.from(rt, 'base64url')).toHaveLength(32);
    expect(setCookies(login).size).toBe(0);
    const key = `${fa.p}rt:t:${createHash('sha256').update(rt).digest('hex')}`;
    const pttl = await client.pTTL(key);
    expect(pttl).toBeGreaterThan(29 * 86_400_000);
    expect(pttl).toBeLessThanOrEqual(30 * 86_400_000);
    const record = JSON.parse((await client.get(key)) as string) as Record<string, unknown>;
    expect(record).toMatchObject({ sub: 'alice', roles: ['user'], used: false });
    expect(typeof record.fam).toBe('string');
    expect(typeof record.authAt).toBe('number');
    // The raw token appears in no key and no value.
    for (const k of await keysWithPrefix(client, fa.p)) {
      expect(k).not.toContain(rt);
      const type = await client.type(k);
      const value = type === 'string' ? await client.get(k) : JSON.stringify(await client.sMembers(k));
      expect(value ?? '').not.toContain(rt);
    }
  });

  test('rotation: new access + refresh token; the access token works and keeps sub/roles/auth_time', async () => {
    const fa = app();
    const login = await request(fa.app).post('/login').send({ id: 'alice', roles: ['user'] }).expect(200);
    const me0 = await request(fa.app).get('/me').set('Authorization', `Bearer ${login.body.token}`).expect(200);
    const res = await refreshBody(fa, login.body.refreshToken).expect(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body.refreshToken).not.toBe(login.body.refreshToken);
    expect(res.body.token).not.toBe(login.body.token);
    const me = await request(fa.app).get('/me').set('Authorization', `Bearer ${res.body.token}`).expect(200);
    expect(me.body).toMatchObject({ id: 'alice', roles: ['user'], authenticatedAt: me0.body.authenticatedAt });
    // The successor rotates too.
    await refreshBody(fa, res.body.refreshToken).expect(200);
  });

  test('grace window: the same token twice (two tabs) gets the same successor, without revoking anything', async () => {
    const fa = app();
    const login = await request(fa.app).post('/login').send({ id: 'alice' }).expect(200);
    const a = await refreshBody(fa, login.body.refreshToken).expect(200);
    const b = await refreshBody(fa, login.body.refreshToken).expect(200);
    expect(b.body.refreshToken).toBe(a.body.refreshToken);
    await request(fa.app).get('/me').set('Authorization', `Bearer ${a.body.token}`).expect(200);
    await request(fa.app).get('/me').set('Authorization', `Bearer ${b.body.token}`).expect(200);
    await refreshBody(fa, a.body.refreshToken).expect(200);
  });

  test('20 concurrent refreshes with one token all succeed with one successor', async () => {
    const fa = app();
    const login = await request(fa.app).post('/login').send({ id: 'alice' }).expect(200);
    const answers = await Promise.all(Array.from({ length: 20 }, () => refreshBody(fa, login.body.refreshToken)));
    expect(answers.map((r) => r.status)).toEqual(Array(20).fill(200));
    expect(new Set(answers.map((r) => r.body.refreshToken as string)).size).toBe(1);
    await refreshBody(fa, answers[0]?.body.refreshToken as string).expect(200);
  });

  test('two instances refreshing one token at once hand out one successor (compare-and-set, not two)', async () => {
    const p = `${prefix}${n++}:`;
    const make = () => {
      const store = redisStore({ client, prefix: p });
      const fa = freshApp({ strategy: statelessJwt({ secret: SECRET, ttl: '5m', store, refresh: { store, ttl: '30d', graceWindow: `${GRACE}ms` } }) });
      built.push(fa);
      return fa;
    };
    const a = make();
    const b = make();
    const login = await request(a.app).post('/login').send({ id: 'alice' }).expect(200);
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => refreshBody(i % 2 === 0 ? a : b, login.body.refreshToken)));
    expect(answers.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(new Set(answers.map((r) => r.body.refreshToken as string)).size).toBe(1);
  });

  test('a long chain of rotations keeps the family index small (used tokens leave it)', async () => {
    const fa = app();
    let token = (await request(fa.app).post('/login').send({ id: 'alice' }).expect(200)).body.refreshToken as string;
    for (let i = 0; i < 6; i += 1) token = (await refreshBody(fa, token).expect(200)).body.refreshToken as string;
    const indexes = (await keysWithPrefix(client, fa.p)).filter((k) => k.includes('rt:f:'));
    expect(indexes).toHaveLength(1);
    const members = await client.sMembers(indexes[0] as string);
    expect(members.filter((m) => m.startsWith('t:'))).toHaveLength(1);
    expect(members.length).toBeLessThanOrEqual(8); // the live refresh token + access tokens not yet expired
  });

  test('replay after the grace window: 401 ERR_REFRESH_REUSED, the whole family and its access tokens are revoked', async () => {
    const fa = app();
    const login = await request(fa.app).post('/login').send({ id: 'alice' }).expect(200);
    const first = await refreshBody(fa, login.body.refreshToken).expect(200);
    const usedAt = Date.now();
    const second = await refreshBody(fa, first.body.refreshToken).expect(200);
    // A second, unrelated login of the same user (another device) must survive.
    const other = await request(fa.app).post('/login').send({ id: 'alice' }).expect(200);
    await waitPast(usedAt, GRACE);
    const replay = await refreshBody(fa, login.body.refreshToken).expect(401);
    expect(replay.body.code).toBe('ERR_REFRESH_REUSED');
    expect(replay.headers['content-type']).toMatch(/application\/problem\+json/);
    // The legitimate holder's newest token is dead too (theft: we cannot tell who is who).
    const latest = await refreshBody(fa, second.body.refreshToken).expect(401);
    expect(['ERR_INVALID_CREDENTIAL', 'ERR_CREDENTIAL_REVOKED']).toContain(latest.body.code);
    // Access tokens issued from that family are denied (deny-list), the other device's are not.
    for (const token of [login.body.token, first.body.token, second.body.token]) {
      const r = await request(fa.app).get('/me').set('Authorization', `Bearer ${token as string}`).expect(401);
      expect(r.body.code).toBe('ERR_CREDENTIAL_REVOKED');
    }
    await request(fa.app).get('/me').set('Authorization', `Bearer ${other.body.token as string}`).expect(200);
    await refreshBody(fa, other.body.refreshToken).expect(200);
  });

  test('logout ends the refresh family; revokeAll refuses every refresh token issued before it', async () => {
    const fa = app();
    const one = await request(fa.app).post('/login').send({ id: 'alice' }).expect(200);
    await request(fa.app).post('/logout').set('Authorization', `Bearer ${one.body.token as string}`).expect(204);
    expect((await refreshBody(fa, one.body.refreshToken).expect(401)).body.code).toBe('ERR_INVALID_CREDENTIAL');

    const two = await request(fa.app).post('/login').send({ id: 'alice' }).expect(200);
    const bob = await request(fa.app).post('/login').send({ id: 'bob' }).expect(200);
    await fa.auth.revokeAll('alice');
    expect((await refreshBody(fa, two.body.refreshToken).expect(401)).body.code).toBe('ERR_CREDENTIAL_REVOKED');
    await refreshBody(fa, bob.body.refreshToken).expect(200);
    // A login after revokeAll works again.
    const three = await request(fa.app).post('/login').send({ id: 'alice' }).expect(200);
    await refreshBody(fa, three.body.refreshToken).expect(200);
  });

  test('unknown, missing, oversized tokens; GET is not a refresh', async () => {
    const fa = app();
    expect((await refreshBody(fa, 'x'.repeat(43)).expect(401)).body.code).toBe('ERR_INVALID_CREDENTIAL');
    expect((await refreshBody(fa, 'x'.repeat(5000)).expect(401)).body.code).toBe('ERR_INVALID_CREDENTIAL');
    expect((await request(fa.app).post('/auth/refresh').send({}).expect(401)).body.code).toBe('ERR_AUTH_REQUIRED');
    const get = await request(fa.app).get('/auth/refresh').expect(405);
    expect(get.headers.allow).toBe('POST');
  });

  test('with refreshPrincipal, a refresh loads the user: new roles in the new token; a deleted user ends the family', async () => {
    const u = users([{ id: 'alice', roles: ['user'] }]);
    const fa = app({ extra: { refreshPrincipal: { maxAge: '1h', load: u.load } } });
    const login = await request(fa.app).post('/login').send({ id: 'alice', roles: ['user'] }).expect(200);
    u.table.set('alice', { id: 'alice', roles: ['admin'] });
    const res = await refreshBody(fa, login.body.refreshToken).expect(200);
    expect(u.calls.get('alice')).toBe(1);
    await request(fa.app).get('/admin').set('Authorization', `Bearer ${res.body.token as string}`).expect(200);
    u.table.delete('alice');
    const gone = await refreshBody(fa, res.body.refreshToken).expect(401);
    expect(gone.body.code).toBe('ERR_CREDENTIAL_REVOKED');
    u.table.set('alice', { id: 'alice', roles: ['admin'] });
    await refreshBody(fa, res.body.refreshToken).expect(401);
  });
});

describe('browsers (cookie carrier, refresh token in a path-scoped cookie)', () => {
  const RT = '__Secure-ep_rt';

  async function browserLogin(fa: FreshApp) {
    const login = await request(fa.app).post('/login').send({ id: 'carol', roles: ['user'] }).expect(200);
    const cookies = setCookies(login);
    return { login, access: cookies.get('__Host-ep'), refresh: cookies.get(RT) };
  }

  test('login sets the refresh cookie HttpOnly, Secure, SameSite=Strict, Path=/auth/refresh; no token in the body', async () => {
    const fa = app({ carrier: 'cookie' });
    const { login, access, refresh } = await browserLogin(fa);
    expect(login.body.refreshToken).toBeUndefined();
    expect(login.body.token).toBeNull();
    expect(access?.value).toBeTruthy();
    const line = refresh?.line ?? '';
    expect(line).toMatch(/HttpOnly/i);
    expect(line).toMatch(/; Secure/i);
    expect(line).toMatch(/SameSite=Strict/i);
    expect(line).toMatch(/Path=\/auth\/refresh/);
    expect(Number(/Max-Age=(\d+)/.exec(line)?.[1])).toBeGreaterThan(2_591_000);
  });

  test('refresh from the cookie rotates both cookies; same-origin and non-browser requests pass', async () => {
    const fa = app({ carrier: 'cookie' });
    const { refresh } = await browserLogin(fa);
    const res = await request(fa.app).post('/auth/refresh')
      .set('Cookie', `${RT}=${refresh?.value ?? ''}`).set('Host', 'app.example').set('Origin', 'http://app.example').expect(200);
    const cookies = setCookies(res);
    const nextRt = cookies.get(RT)?.value;
    expect(nextRt).toBeTruthy();
    expect(nextRt).not.toBe(refresh?.value);
    expect(res.body.refreshToken).toBeUndefined();
    const access = cookies.get('__Host-ep')?.value ?? '';
    await request(fa.app).get('/me').set('Cookie', `__Host-ep=${access}`).expect(200);
    // No Origin / Sec-Fetch-Site: not a browser, passes.
    await request(fa.app).post('/auth/refresh').set('Cookie', `${RT}=${nextRt ?? ''}`).expect(200);
  });

  test('a cross-site POST to the refresh endpoint is refused (403 ERR_CSRF) and does not consume the token', async () => {
    const fa = app({ carrier: 'cookie' });
    const { refresh } = await browserLogin(fa);
    const cookie = `${RT}=${refresh?.value ?? ''}`;
    const evil = await request(fa.app).post('/auth/refresh').set('Cookie', cookie).set('Origin', 'https://evil.example').expect(403);
    expect(evil.body.code).toBe('ERR_CSRF');
    const site = await request(fa.app).post('/auth/refresh').set('Cookie', cookie).set('Sec-Fetch-Site', 'cross-site').expect(403);
    expect(site.body.code).toBe('ERR_CSRF');
    expect(setCookies(evil).has(RT)).toBe(false);
    await request(fa.app).post('/auth/refresh').set('Cookie', cookie).set('Sec-Fetch-Site', 'same-origin').expect(200);
  });

  test('logout clears the refresh cookie on its path and ends the family', async () => {
    const fa = app({ carrier: 'cookie' });
    const { access, refresh } = await browserLogin(fa);
    const out = await request(fa.app).post('/logout').set('Cookie', `__Host-ep=${access?.value ?? ''}`).expect(204);
    const cleared = setCookies(out).get(RT);
    expect(cleared?.line).toMatch(/Path=\/auth\/refresh/);
    expect(cleared?.line).toMatch(/Expires=Thu, 01 Jan 1970/);
    await request(fa.app).post('/auth/refresh').set('Cookie', `${RT}=${refresh?.value ?? ''}`).expect(401);
  });
});

test('refresh options are checked at start-up', () => {
  const store = redisStore({ client, prefix: `${prefix}cfg:` });
  expect(() => statelessJwt({ secret: SECRET, refresh: {} as never })).toThrow(/refresh\.store/);
  expect(() => statelessJwt({ secret: SECRET, refresh: { store, graceWindow: '5m' } })).toThrow(/graceWindow/);
  expect(() => statelessJwt({ secret: SECRET, refresh: { store, cookiePath: 'auth' } })).toThrow(/cookiePath/);
  expect(() => statelessJwt({ secret: SECRET, refresh: { store, cookieName: '__Host-rt' } })).toThrow(/__Host-/);
});
