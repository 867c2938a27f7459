/**
 * principal({ refreshPrincipal: { maxAge, load } }) for every strategy, over HTTP against real Redis:
 * stale data is reloaded before the route sees it (single-flight per subject), the credential is re-issued
 * or its record rewritten, `load` → null ends the credential, `load` throwing fails closed (503).
 */
import request from 'supertest';
import {
  cookieStore, memoryStore, REISSUED_TOKEN_HEADER, redisStore, sessionCookie, statefulJwt, statelessJwt,
  type Strategy,
} from '../../lib';
import { cleanupPrefix, connectRedis, uniquePrefix, type TestRedisClient } from '../helpers/redis';
import { COOKIE_SECRET, SECRET, freshApp, loginAs, setCookies, users, waitPast, withCredential, type Credential, type FreshApp, type Users } from './support';

let client: TestRedisClient;
const prefix = uniquePrefix('freshness-rehydrate');
const built: FreshApp[] = [];
let n = 0;

beforeAll(async () => { client = await connectRedis(); });
afterAll(async () => {
  for (const { auth } of built) await auth.close();
  await cleanupPrefix(client, prefix);
  await client.close();
});

interface Case {
  name: string;
  /** Cookie name of the credential; undefined = bearer header. */
  cookie?: string;
  /** Whether the credential is re-issued (the client must switch to the new one) rather than its record rewritten. */
  reissues: boolean;
  /** Whether ending the credential is enforceable server-side (a deny-list or a deleted record). */
  revocable: boolean;
  make(p: string): Strategy;
}

const rs = (p: string) => redisStore({ client, prefix: p });
const cases: Case[] = [
  { name: 'statelessJwt header, no store', reissues: true, revocable: false, make: () => statelessJwt({ secret: SECRET }) },
  { name: 'statelessJwt header + redis deny-list', reissues: true, revocable: true, make: (p) => statelessJwt({ secret: SECRET, store: rs(p) }) },
  { name: 'statelessJwt cookie + redis deny-list', cookie: '__Host-ep', reissues: true, revocable: true, make: (p) => statelessJwt({ secret: SECRET, carrier: 'cookie', store: rs(p) }) },
  { name: 'statefulJwt redis (header)', reissues: false, revocable: true, make: (p) => statefulJwt({ secret: SECRET, store: rs(p) }) },
  { name: 'statefulJwt memory (cookie)', cookie: '__Host-ep', reissues: false, revocable: true, make: (p) => statefulJwt({ secret: SECRET, carrier: 'cookie', store: memoryStore({ prefix: p }) }) },
  { name: 'sessionCookie redis', cookie: 'sid', reissues: false, revocable: true, make: (p) => sessionCookie({ secret: COOKIE_SECRET, store: rs(p), secure: false }) },
  { name: 'sessionCookie memory', cookie: 'sid', reissues: false, revocable: true, make: (p) => sessionCookie({ secret: COOKIE_SECRET, store: memoryStore({ prefix: p }), secure: false }) },
  { name: 'sessionCookie cookieStore + redis revocation', cookie: 'sid', reissues: true, revocable: true, make: (p) => sessionCookie({ store: cookieStore({ secret: COOKIE_SECRET }), revocation: rs(p), secure: false }) },
];

// Long enough that the requests a step makes fit inside it on a loaded machine.
const MAX_AGE = 800;

async function until(check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** `authenticated()`: how many credentials the strategy has finished authenticating (a request then goes on to `load`). */
function setup(c: Case): { fa: FreshApp; u: Users; authenticated: () => number } {
  const u = users([{ id: 'alice', roles: ['user'] }]);
  const strategy = c.make(`${prefix}${n++}:`);
  let done = 0;
  const counted = strategy as unknown as { authenticate: (...args: unknown[]) => unknown };
  const authenticate = counted.authenticate.bind(strategy);
  counted.authenticate = (...args) => {
    const result = authenticate(...args);
    void Promise.resolve(result).then(() => { done += 1; }, () => { done += 1; });
    return result;
  };
  const fa = freshApp({ strategy, refreshPrincipal: { maxAge: `${MAX_AGE}ms`, load: u.load } });
  built.push(fa);
  return { fa, u, authenticated: () => done };
}

/** The credential the client holds after a response that may have re-issued it. */
function nextCredential(c: Case, res: request.Response, current: Credential): Credential {
  if (!c.reissues) return current;
  if (c.cookie === undefined) {
    const header = res.headers[REISSUED_TOKEN_HEADER.toLowerCase()];
    expect(typeof header).toBe('string');
    return { bearer: header as string };
  }
  const set = setCookies(res).get(c.cookie);
  expect(set?.value).toBeTruthy();
  return { cookie: `${c.cookie}=${encodeURIComponent(set?.value ?? '')}` };
}

describe.each(cases)('refreshPrincipal × $name', (c) => {
  test('fresh data is not reloaded; stale data is reloaded on the same request, authenticatedAt kept, then not reloaded again', async () => {
    const { fa, u } = setup(c);
    const { credential } = await loginAs(fa.app, { id: 'alice', roles: ['user'] }, c.cookie);
    const first = await withCredential(request(fa.app).get('/me'), credential).expect(200);
    expect(u.calls.get('alice') ?? 0).toBe(0);
    expect(first.body.roles).toEqual(['user']);
    const loginAuthAt = first.body.authenticatedAt as number;

    // Promote in the source of truth; the credential still says 'user'.
    u.table.set('alice', { id: 'alice', roles: ['user', 'admin'], claims: { plan: 'pro' } });
    await withCredential(request(fa.app).get('/admin'), credential).expect(403);
    expect(u.calls.get('alice') ?? 0).toBe(0);

    await waitPast(first.body.loadedAt as number, MAX_AGE);
    const before = Date.now();
    const res = await withCredential(request(fa.app).get('/admin'), credential).expect(200);
    expect(u.calls.get('alice')).toBe(1);
    expect(res.body.roles).toEqual(['user', 'admin']);
    expect(res.body.loadedAt).toBeGreaterThanOrEqual(before - 5);
    expect(res.body.authenticatedAt).toBe(loginAuthAt);
    if (c.reissues && c.cookie === undefined) expect(res.headers['cache-control']).toBe('no-store');

    // The re-issued credential (or the rewritten record) carries the new data: no further load while fresh.
    const next = nextCredential(c, res, credential);
    const again = await withCredential(request(fa.app).get('/admin'), next).expect(200);
    expect(again.body.roles).toEqual(['user', 'admin']);
    expect(again.body.authenticatedAt).toBe(loginAuthAt);
    expect(u.calls.get('alice')).toBe(1);
  });

  test('stale data that the source still holds the same is reloaded: loadedAt moves, so the next request does not load again', async () => {
    const { fa, u } = setup(c);
    const { credential } = await loginAs(fa.app, { id: 'alice', roles: ['user'] }, c.cookie);
    const first = await withCredential(request(fa.app).get('/me'), credential).expect(200);
    await waitPast(first.body.loadedAt as number, MAX_AGE);
    const before = u.calls.get('alice') ?? 0;
    const reloaded = await withCredential(request(fa.app).get('/me'), credential).expect(200);
    expect(u.calls.get('alice')).toBe(before + 1);
    expect(reloaded.body.roles).toEqual(['user']);
    const next = nextCredential(c, reloaded, credential);
    const after = await withCredential(request(fa.app).get('/me'), next).expect(200);
    // The reload was recorded (record rewritten or credential re-issued), not only answered.
    expect(after.body.loadedAt).toBeGreaterThan(first.body.loadedAt as number);
  });

  test('demotion through load: the stale credential loses the role on its next request', async () => {
    const { fa, u } = setup(c);
    u.table.set('alice', { id: 'alice', roles: ['admin'] });
    const { credential } = await loginAs(fa.app, { id: 'alice', roles: ['admin'] }, c.cookie);
    const me = await withCredential(request(fa.app).get('/admin'), credential).expect(200);
    // On a slow machine that first request may already have found the data stale (and reloaded it, as admin).
    const before = u.calls.get('alice') ?? 0;
    u.table.set('alice', { id: 'alice', roles: ['user'] });
    await waitPast(me.body.loadedAt as number, MAX_AGE);
    const res = await withCredential(request(fa.app).get('/admin'), credential).expect(403);
    expect(res.body.code).toBe('ERR_FORBIDDEN');
    expect(u.calls.get('alice')).toBe(before + 1);
  });

  test('single-flight: 20 concurrent requests with stale data share one load', async () => {
    const { fa, u, authenticated } = setup(c);
    const { credential } = await loginAs(fa.app, { id: 'alice', roles: ['user'] }, c.cookie);
    const me = await withCredential(request(fa.app).get('/me'), credential).expect(200);
    u.table.set('alice', { id: 'alice', roles: ['admin'] });
    let open = () => undefined as void;
    u.gate = new Promise<void>((resolve) => { open = resolve; });
    await waitPast(me.body.loadedAt as number, MAX_AGE);
    const before = u.calls.get('alice') ?? 0;
    const seen = authenticated();
    const pending = Promise.all(Array.from({ length: 20 }, () => withCredential(request(fa.app).get('/admin'), credential).then((r) => r)));
    // The load is held open until all 20 credentials are authenticated, so each request asks for data while it is
    // in flight, however slowly the machine runs them.
    await until(() => authenticated() >= seen + 20);
    open();
    const answers = await pending;
    expect(answers.map((r) => r.status)).toEqual(Array(20).fill(200));
    expect(answers.every((r) => (r.body.roles as string[]).includes('admin'))).toBe(true);
    expect(u.calls.get('alice')).toBe(before + 1);
  });

  test(`load → null: the request is anonymous${c.revocable ? ' and the credential is ended' : ''}`, async () => {
    const { fa, u } = setup(c);
    const { credential } = await loginAs(fa.app, { id: 'alice', roles: ['user'] }, c.cookie);
    const me = await withCredential(request(fa.app).get('/me'), credential).expect(200);
    u.table.delete('alice');
    await waitPast(me.body.loadedAt as number, MAX_AGE);
    const gone = await withCredential(request(fa.app).get('/me'), credential).expect(401);
    expect(gone.body.code).toBe('ERR_AUTH_REQUIRED');
    if (c.cookie !== undefined) {
      // The credential cookie is cleared.
      const cleared = setCookies(gone).get(c.cookie);
      expect(cleared?.line).toMatch(/Expires=Thu, 01 Jan 1970/);
    }
    if (c.revocable) {
      // Even if the user came back, that credential stays ended.
      u.table.set('alice', { id: 'alice', roles: ['user'] });
      const replay = await withCredential(request(fa.app).get('/me'), credential).expect(401);
      expect(['ERR_CREDENTIAL_REVOKED', 'ERR_INVALID_CREDENTIAL']).toContain(replay.body.code);
    }
  });

  test('load throws: fail closed with 503 and Retry-After', async () => {
    const { fa, u } = setup(c);
    const { credential } = await loginAs(fa.app, { id: 'alice', roles: ['user'] }, c.cookie);
    const me = await withCredential(request(fa.app).get('/me'), credential).expect(200);
    u.failWith = new Error('user database down');
    await waitPast(me.body.loadedAt as number, MAX_AGE);
    const res = await withCredential(request(fa.app).get('/me'), credential).expect(503);
    expect(res.body.code).toBe('ERR_STORE_UNAVAILABLE');
    expect(res.headers['retry-after']).toBe('1');
    // Back up: the same credential works again.
    u.failWith = null;
    await withCredential(request(fa.app).get('/me'), credential).expect(200);
  });
});

test(`the re-issued bearer token is exposed to cross-origin clients (${REISSUED_TOKEN_HEADER} in Access-Control-Expose-Headers)`, async () => {
  const u = users([{ id: 'bob', roles: ['admin'] }]);
  const fa = freshApp({ strategy: statelessJwt({ secret: SECRET }), refreshPrincipal: { maxAge: `${MAX_AGE}ms`, load: u.load } });
  built.push(fa);
  expect(REISSUED_TOKEN_HEADER).toBe('X-Access-Token');
  const { credential } = await loginAs(fa.app, { id: 'bob', roles: [] });
  const me = await withCredential(request(fa.app).get('/me'), credential).expect(200);
  await waitPast(me.body.loadedAt as number, MAX_AGE);
  const res = await withCredential(request(fa.app).get('/admin').set('Origin', 'https://app.example'), credential).expect(200);
  expect(res.headers['access-control-expose-headers']).toContain(REISSUED_TOKEN_HEADER);
  expect(res.headers[REISSUED_TOKEN_HEADER.toLowerCase()]).not.toBe((credential as { bearer: string }).bearer);
});

test('refreshPrincipal options are checked at start-up', () => {
  const strategy = statelessJwt({ secret: SECRET });
  expect(() => freshApp({ strategy, refreshPrincipal: { maxAge: '1m' } as never })).toThrow(/load/);
  expect(() => freshApp({ strategy, refreshPrincipal: { maxAge: 'soon', load: async () => null } })).toThrow(/maxAge/);
});
