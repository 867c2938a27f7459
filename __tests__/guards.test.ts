/**
 * Guards over HTTP: who decides what status, RFC 6750 challenges, role hierarchy, fail-closed mounting.
 */
import express from 'express';
import request from 'supertest';
import {
  allow, memoryStore, principal, requireAnyRole, requireAuth, requireRole, requireScope, sessionCookie, statelessJwt,
} from '../lib';
import { buildApp, credential, login, type TestApp } from './helpers/apps';

const secret = 'k8Jd02mXq9Lp3Zr7Tv5Wy1Ab4Cd6Ef8Gh0Ij2Kl';
const apps: TestApp[] = [];
afterAll(async () => {
  for (const { auth } of apps) await auth.close();
});
function make(options: Partial<Parameters<typeof buildApp>[0]> = {}): TestApp {
  const built = buildApp({ strategy: statelessJwt({ secret }), ...options });
  apps.push(built);
  return built;
}
const bearer = async (t: TestApp, identity: Parameters<typeof login>[1]) => credential(await login(t.app, identity));

describe('status rules (bearer strategy)', () => {
  test('no credential → 401 ERR_AUTH_REQUIRED, WWW-Authenticate: Bearer realm="api" with no error attribute', async () => {
    const { app } = make();
    for (const path of ['/me', '/admin', '/scoped', '/owner/x']) {
      const res = await request(app).get(path);
      expect(res.status).toBe(401);
      expect(res.body.code).toBe('ERR_AUTH_REQUIRED');
      expect(res.headers['www-authenticate']).toBe('Bearer realm="api"');
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    }
  });

  test('the realm is configurable', async () => {
    const { app } = make({ realm: 'shop' });
    expect((await request(app).get('/me')).headers['www-authenticate']).toBe('Bearer realm="shop"');
  });

  test('another Authorization scheme is not a credential → 401 ERR_AUTH_REQUIRED', async () => {
    const { app } = make();
    const res = await request(app).get('/me').set('Authorization', 'Basic dXNlcjpwYXNz');
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('ERR_AUTH_REQUIRED');
  });

  test('a bad token → 401 with error="invalid_token"', async () => {
    const { app } = make();
    const res = await request(app).get('/me').set('Authorization', 'Bearer abc.def.ghi');
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('ERR_INVALID_CREDENTIAL');
    expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="api", error="invalid_token"/);
  });

  test('missing role → 403 ERR_FORBIDDEN', async () => {
    const t = make();
    const res = await request(t.app).get('/admin').set(await bearer(t, { id: 'u', roles: ['user'] }));
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('ERR_FORBIDDEN');
  });

  test('missing scope → 403 ERR_INSUFFICIENT_SCOPE with error="insufficient_scope" naming the scope', async () => {
    const t = make();
    const res = await request(t.app).get('/scoped').set(await bearer(t, { id: 'u', scopes: ['orders:write'] }));
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('ERR_INSUFFICIENT_SCOPE');
    expect(res.headers['www-authenticate']).toMatch(/error="insufficient_scope"/);
    expect(res.headers['www-authenticate']).toMatch(/scope="orders:read"/);
  });

  test('allow(): ownership predicate, 200 for the owner, 403 for anyone else', async () => {
    const t = make();
    const c = await bearer(t, { id: 'owner-1' });
    await request(t.app).get('/owner/owner-1').set(c).expect(200);
    expect((await request(t.app).get('/owner/owner-2').set(c)).body.code).toBe('ERR_FORBIDDEN');
  });
});

test('cookie-only strategy: 401 without a Bearer challenge', async () => {
  const { app } = make({ strategy: sessionCookie({ secret, store: memoryStore(), secure: false }) });
  const res = await request(app).get('/me');
  expect(res.status).toBe(401);
  expect(res.body.code).toBe('ERR_AUTH_REQUIRED');
  expect(res.headers['www-authenticate']).toBeUndefined();
});

describe('role guards on a custom app', () => {
  const auth = principal({ strategy: statelessJwt({ secret }), roleHierarchy: { admin: ['editor'], editor: ['viewer'] } });
  const app = express();
  app.use(express.json());
  app.use(auth);
  app.post('/login', async (req, res) => { res.json(await req.auth.login(req.body as { id: string })); });
  app.get('/viewer', requireRole('viewer'), (_req, res) => { res.send('v'); });
  app.get('/editor', requireRole('editor'), (_req, res) => { res.send('e'); });
  app.get('/admin', requireRole('admin'), (_req, res) => { res.send('a'); });
  app.get('/both', requireRole('billing', 'support'), (_req, res) => { res.send('b'); });
  app.get('/any', requireAnyRole('billing', 'support'), (_req, res) => { res.send('y'); });
  app.get('/scopes', requireScope('a', 'b'), (_req, res) => { res.send('s'); });
  app.get('/async', allow(async (p) => { await new Promise((r) => setImmediate(r)); return p.id === 'ok'; }), (_req, res) => { res.send('ok'); });
  app.get('/truthy', allow((() => 'yes') as unknown as () => boolean), (_req, res) => { res.send('truthy'); });
  app.get('/throws', allow(() => { throw new Error('app bug'); }), (_req, res) => { res.send('leaked'); });
  afterAll(() => auth.close());
  const as = async (identity: { id: string; roles?: string[]; scopes?: string[] }) => {
    const token = (await request(app).post('/login').send(identity).expect(200)).body.token as string;
    return { Authorization: `Bearer ${token}` };
  };
  const statuses = async (h: Record<string, string>, paths: string[]) =>
    Promise.all(paths.map(async (p) => (await request(app).get(p).set(h)).status));

  test('roleHierarchy admin → editor → viewer: inherited roles pass, nothing goes upward', async () => {
    expect(await statuses(await as({ id: 'a', roles: ['admin'] }), ['/viewer', '/editor', '/admin'])).toEqual([200, 200, 200]);
    expect(await statuses(await as({ id: 'e', roles: ['editor'] }), ['/viewer', '/editor', '/admin'])).toEqual([200, 200, 403]);
    expect(await statuses(await as({ id: 'v', roles: ['viewer'] }), ['/viewer', '/editor', '/admin'])).toEqual([200, 403, 403]);
    expect(await statuses(await as({ id: 'n', roles: [] }), ['/viewer'])).toEqual([403]);
  });

  test('requireRole needs all listed roles; requireAnyRole needs one', async () => {
    expect(await statuses(await as({ id: 'x', roles: ['billing'] }), ['/both', '/any'])).toEqual([403, 200]);
    expect(await statuses(await as({ id: 'y', roles: ['billing', 'support'] }), ['/both', '/any'])).toEqual([200, 200]);
  });

  test('requireScope needs every listed scope', async () => {
    expect(await statuses(await as({ id: 's', scopes: ['a'] }), ['/scopes'])).toEqual([403]);
    expect(await statuses(await as({ id: 's', scopes: ['a', 'b'] }), ['/scopes'])).toEqual([200]);
  });

  test('allow() awaits async predicates; only `true` passes; a throwing predicate fails closed', async () => {
    expect(await statuses(await as({ id: 'ok' }), ['/async'])).toEqual([200]);
    expect(await statuses(await as({ id: 'no' }), ['/async'])).toEqual([403]);
    const h = await as({ id: 'ok' });
    expect((await request(app).get('/truthy').set(h)).status).toBe(403);
    const thrown = await request(app).get('/throws').set(h);
    expect(thrown.status).toBeGreaterThanOrEqual(403);
    expect(thrown.text).not.toBe('leaked');
  });
});

describe('construction-time refusals', () => {
  test('a role hierarchy with a cycle is refused when principal() is built', () => {
    expect(() => principal({ strategy: statelessJwt({ secret }), roleHierarchy: { admin: ['editor'], editor: ['viewer'], viewer: ['admin'] } }))
      .toThrow(TypeError);
    expect(() => principal({ strategy: statelessJwt({ secret }), roleHierarchy: { admin: ['admin'] } })).toThrow(/cycle/);
  });
  test('guards with no names are refused', () => {
    expect(() => requireRole()).toThrow(TypeError);
    expect(() => requireAnyRole()).toThrow(TypeError);
    expect(() => requireScope()).toThrow(TypeError);
    expect(() => allow(undefined as unknown as () => boolean)).toThrow(TypeError);
  });
});

describe('fail closed when principal() is not mounted', () => {
  test.each([
    ['requireAuth', requireAuth()],
    ['requireRole', requireRole('admin')],
    ['requireScope', requireScope('x')],
    ['allow', allow(() => true)],
  ])('%s without the middleware → 500, never 200', async (_name, guard) => {
    const app = express();
    app.get('/x', guard, (_req, res) => { res.send('reached'); });
    const res = await request(app).get('/x');
    expect(res.status).toBe(500);
    expect(res.text).not.toBe('reached');
  });
});
