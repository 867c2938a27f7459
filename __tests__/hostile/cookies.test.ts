/**
 * Cookies and sessions under attack (issue 3): fixation, ids the server never issued, tampering,
 * secret rotation, duplicate cookies, server-side timeouts, logout answers, CSRF on every unsafe method.
 * Runs against sessionCookie on memory and on Redis, and statefulJwt with the cookie carrier.
 */
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import signature from 'cookie-signature';
import { memoryStore, principal, redisStore, sessionCookie, statefulJwt, type PrincipalMiddleware, type StateStore } from '../../lib';
import { cleanupPrefix, connectRedis, uniquePrefix, type TestRedisClient } from '../helpers/redis';
import { SECRET, SECRET2, buildApp, cookiePair, forge, hs, claims, until, type TestApp } from './support';

jest.setTimeout(60_000);

let client: TestRedisClient;
const prefix = uniquePrefix('hostile-cookies');
const opened: PrincipalMiddleware[] = [];

beforeAll(async () => {
  client = await connectRedis();
});
afterAll(async () => {
  for (const auth of opened) await auth.close();
  await cleanupPrefix(client, prefix);
  await client.close();
});

interface Timeouts { idleTimeout?: string; absoluteTimeout?: string; touchInterval?: string }
interface Kind {
  name: string;
  cookie: string;
  /** A strategy over `store` (fresh unless given), signing with `secret`. */
  build(opts?: Timeouts & { secret?: string | string[]; store?: StateStore }): { t: TestApp; store: StateStore };
  /** A never-issued credential that is correctly signed. */
  unissued(secret?: string): string;
}

function track(auth: PrincipalMiddleware): TestApp {
  opened.push(auth);
  return buildApp(auth);
}

const sessionKind = (name: string, makeStore: () => StateStore): Kind => ({
  name,
  cookie: 'sid',
  build(opts = {}) {
    const store = opts.store ?? makeStore();
    const { secret = SECRET, store: _s, ...timeouts } = opts;
    return { t: track(principal({ strategy: sessionCookie({ secret, store, secure: false, ...timeouts }) })), store };
  },
  unissued: (secret = SECRET) => `sid=${encodeURIComponent(`s:${signature.sign(randomBytes(24).toString('base64url'), secret)}`)}`,
});

/** JWT rotation needs kids; one stable kid per secret. */
const kidOf = (secret: string) => `k-${secret.slice(0, 4)}`;

const kinds: Kind[] = [
  sessionKind('sessionCookie + memoryStore', () => memoryStore({ prefix: 'hc:' })),
  sessionKind('sessionCookie + redisStore', () => redisStore({ client, prefix })),
  {
    name: 'statefulJwt + cookie carrier',
    cookie: 'ep',
    build(opts = {}) {
      const store = opts.store ?? memoryStore({ prefix: 'hcj:' });
      const { secret = SECRET, store: _s, ...timeouts } = opts;
      const keys = { keys: (Array.isArray(secret) ? secret : [secret]).map((s) => ({ kid: kidOf(s), secret: s })) };
      return { t: track(principal({ strategy: statefulJwt({ ...keys, store, carrier: 'cookie', cookie: { secure: false }, ...timeouts }) })), store };
    },
    unissued: (secret = SECRET) => `ep=${forge({ alg: 'HS256', typ: 'session+jwt', kid: kidOf(secret) }, claims({ sid: randomBytes(18).toString('base64url') }), hs(secret))}`,
  },
];

async function login(t: TestApp, kind: Kind, id = 'alice', cookie?: string): Promise<{ cookie: string; sessionId: string; setCookie: string[] }> {
  const req = request(t.app).post('/login').send({ id, roles: ['user'] });
  if (cookie) req.set('Cookie', cookie);
  const res = await req;
  expect(res.status).toBe(200);
  const setCookie = res.headers['set-cookie'] as unknown as string[];
  const pair = cookiePair(setCookie, kind.cookie);
  expect(pair).not.toBeNull();
  return { cookie: pair as string, sessionId: res.body.sessionId as string, setCookie };
}

async function me(t: TestApp, cookie: string): Promise<{ status: number; id?: string; code?: string }> {
  const res = await request(t.app).get('/me').set('Cookie', cookie);
  return { status: res.status, id: res.body?.id, code: res.body?.code };
}

describe.each(kinds)('$name', (kind) => {
  test('fixation: a planted (valid, attacker-owned) cookie never survives the victim login', async () => {
    const { t } = kind.build();
    const planted = await login(t, kind, 'mallory');
    const victim = await login(t, kind, 'victim', planted.cookie);
    expect(victim.sessionId).not.toBe(planted.sessionId);
    expect(victim.cookie).not.toBe(planted.cookie);
    expect(await me(t, victim.cookie)).toMatchObject({ status: 200, id: 'victim' });
    const replay = await me(t, planted.cookie);
    expect(replay.id).not.toBe('victim');
    expect(replay.status).toBe(401);
    expect(t.escaped).toEqual([]);
  });

  test('a correctly signed session id the server never issued is not adopted', async () => {
    const { t, store } = kind.build();
    const forged = kind.unissued();
    expect(await me(t, forged)).toMatchObject({ status: 401, code: 'ERR_INVALID_CREDENTIAL' });
    const after = await login(t, kind, 'victim', forged);
    expect(after.cookie).not.toBe(forged);
    const forgedSid = kind.cookie === 'sid' ? (signature.unsign(decodeURIComponent(forged.slice(4)).slice(2), SECRET) as string) : null;
    if (forgedSid) {
      expect(after.sessionId).not.toBe(forgedSid);
      expect(await store.get(`sess:${forgedSid}`)).toBeNull();
    }
    expect(await me(t, forged)).toMatchObject({ status: 401 });
    expect(await me(t, after.cookie)).toMatchObject({ status: 200, id: 'victim' });
  });

  test('tampered and foreign-secret cookies are anonymous', async () => {
    const { t } = kind.build();
    const good = await login(t, kind);
    const value = good.cookie.slice(kind.cookie.length + 1);
    const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
    const tampered = [
      `${kind.cookie}=${flip(value, value.length - 3)}`,
      `${kind.cookie}=${flip(value, Math.floor(value.length / 2))}`,
      `${kind.cookie}=${value.slice(0, -1)}`,
      `${kind.cookie}=${value}x`,
      kind.unissued(SECRET2), // signed with a foreign secret
    ];
    if (kind.cookie === 'sid') {
      const sid = good.sessionId;
      tampered.push(`sid=${encodeURIComponent(`s:${signature.sign(sid, SECRET2)}`)}`, `sid=${sid}`, `sid=s%3A${sid}`);
    }
    for (const cookie of tampered) {
      const res = await me(t, cookie);
      expect({ cookie: cookie.slice(0, 30), status: res.status }).toEqual({ cookie: cookie.slice(0, 30), status: 401 });
    }
    expect(await me(t, good.cookie)).toMatchObject({ status: 200 });
  });

  test('secret rotation: a cookie signed by the old secret still works, new logins use the new one', async () => {
    const { t: oldApp, store } = kind.build({ secret: SECRET2 });
    const old = await login(oldApp, kind, 'olduser');
    const { t: rotated } = kind.build({ secret: [SECRET, SECRET2], store });
    expect(await me(rotated, old.cookie)).toMatchObject({ status: 200, id: 'olduser' });
    const fresh = await login(rotated, kind, 'newuser');
    const { t: newOnly } = kind.build({ secret: SECRET, store });
    expect(await me(newOnly, fresh.cookie)).toMatchObject({ status: 200, id: 'newuser' });
    expect(await me(oldApp, fresh.cookie)).toMatchObject({ status: 401 });
    if (kind.cookie === 'sid') {
      const signed = decodeURIComponent(fresh.cookie.slice(4)).slice(2);
      expect(signature.unsign(signed, SECRET)).toBe(fresh.sessionId);
      expect(signature.unsign(signed, SECRET2)).toBe(false);
    }
  });

  test('duplicate cookies are resolved deterministically: the first one wins', async () => {
    const { t } = kind.build();
    const alice = await login(t, kind, 'alice');
    const bob = await login(t, kind, 'bob');
    const garbage = `${kind.cookie}=garbage`;
    for (let round = 0; round < 5; round += 1) {
      expect(await me(t, `${alice.cookie}; ${bob.cookie}`)).toMatchObject({ status: 200, id: 'alice' });
      expect(await me(t, `${bob.cookie}; ${alice.cookie}`)).toMatchObject({ status: 200, id: 'bob' });
      expect(await me(t, `${alice.cookie}; ${garbage}`)).toMatchObject({ status: 200, id: 'alice' });
      expect((await me(t, `${garbage}; ${alice.cookie}`)).status).toBe(401);
      expect(await me(t, `other=1; ${bob.cookie}; x=${alice.cookie}`)).toMatchObject({ status: 200, id: 'bob' });
    }
  });

  test('idle timeout is enforced server-side; the old cookie replayed after expiry stays refused', async () => {
    const { t } = kind.build({ idleTimeout: '1s', absoluteTimeout: '1h' });
    const s = await login(t, kind);
    expect(await me(t, s.cookie)).toMatchObject({ status: 200 });
    const lastUse = Date.now();
    await until(() => Date.now() - lastUse > 1_200, 'the idle deadline to pass', 5_000, 25);
    const expired = await me(t, s.cookie);
    expect(expired.status).toBe(401);
    expect(['ERR_CREDENTIAL_EXPIRED', 'ERR_INVALID_CREDENTIAL']).toContain(expired.code);
    expect(await me(t, s.cookie)).toMatchObject({ status: 401 });
  });

  test('absolute timeout ends an active session whatever the activity and the cookie say', async () => {
    const { t } = kind.build({ idleTimeout: '2s', absoluteTimeout: '3s', touchInterval: '100ms' });
    const s = await login(t, kind);
    const start = Date.now();
    let firstRefusal = 0;
    const seen: number[] = [];
    await until(async () => {
      const r = await me(t, s.cookie);
      seen.push(r.status);
      if (r.status !== 200) firstRefusal = Date.now() - start;
      return r.status !== 200;
    }, 'the absolute deadline', 8_000, 150);
    expect(seen.slice(0, -1).every((code) => code === 200)).toBe(true);
    expect(seen.at(-1)).toBe(401);
    expect(firstRefusal).toBeGreaterThanOrEqual(2_800);
    expect(firstRefusal).toBeLessThan(5_500); // 3 s plus generous slack for a loaded CI core
    expect(await me(t, s.cookie)).toMatchObject({ status: 401 });
  });

  test('logout answers with an expired Set-Cookie and Cache-Control: no-store; the old cookie is dead', async () => {
    const { t } = kind.build();
    const s = await login(t, kind);
    const out = await request(t.app).post('/logout').set('Cookie', s.cookie);
    expect(out.status).toBe(204);
    expect(out.headers['cache-control']).toBe('no-store');
    const cleared = (out.headers['set-cookie'] as unknown as string[] | undefined)?.find((c) => c.startsWith(`${kind.cookie}=`));
    expect(cleared).toBeDefined();
    expect(cleared).toMatch(/Expires=Thu, 01 Jan 1970 00:00:00 GMT|Max-Age=0/);
    expect(cleared).toMatch(new RegExp(`^${kind.cookie}=;`));
    expect(await me(t, s.cookie)).toMatchObject({ status: 401 });
  });

  describe('CSRF on every unsafe method, including login', () => {
    const crossSite: [string, Record<string, string>][] = [
      ['Origin of another site', { Origin: 'https://evil.example' }],
      ['Origin: null', { Origin: 'null' }],
      ['Sec-Fetch-Site: cross-site', { 'Sec-Fetch-Site': 'cross-site' }],
      ['Sec-Fetch-Site: same-site', { 'Sec-Fetch-Site': 'same-site' }],
    ];
    test.each(crossSite)('%s → 403 ERR_CSRF', async (_label, headers) => {
      const { t } = kind.build();
      const s = await login(t, kind);
      for (const method of ['post', 'put', 'patch', 'delete'] as const) {
        const res = await request(t.app)[method]('/thing').set('Cookie', s.cookie).set(headers);
        expect({ method, status: res.status, code: res.body.code }).toEqual({ method, status: 403, code: 'ERR_CSRF' });
      }
      const loginRes = await request(t.app).post('/login').set(headers).send({ id: 'mallory' });
      expect(loginRes.status).toBe(403);
      expect(loginRes.body.code).toBe('ERR_CSRF');
      expect(loginRes.headers['set-cookie']).toBeUndefined();
      const loginWithCookie = await request(t.app).post('/login').set('Cookie', s.cookie).set(headers).send({ id: 'mallory' });
      expect(loginWithCookie.status).toBe(403);
      const logoutRes = await request(t.app).post('/logout').set('Cookie', s.cookie).set(headers);
      expect(logoutRes.status).toBe(403);
      expect(await me(t, s.cookie)).toMatchObject({ status: 200, id: 'alice' }); // cross-site logout did nothing
      expect(t.escaped).toEqual([]);
    });

    test('controls: same-origin and non-browser requests pass', async () => {
      const { t } = kind.build();
      const s = await login(t, kind);
      for (const method of ['post', 'put', 'patch', 'delete'] as const) {
        expect((await request(t.app)[method]('/thing').set('Cookie', s.cookie)).status).toBe(200);
        expect((await request(t.app)[method]('/thing').set('Cookie', s.cookie).set('Sec-Fetch-Site', 'same-origin')).status).toBe(200);
      }
      const sameOrigin = await request(t.app).post('/thing').set('Cookie', s.cookie).set('Host', 'app.test').set('Origin', 'http://app.test');
      expect(sameOrigin.status).toBe(200);
    });
  });
});
