/**
 * Sessions and devices over real HTTP, on real Redis and on memory, for both stored strategies: list, the
 * current marker, ending one / the others / all but a new login, the per-subject limit, the events, and what
 * a handle can never do (authenticate).
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import request from 'supertest';
import {
  memoryStore, principal, redisStore, requireAuth, sessionCookie, statefulJwt, statelessJwt,
  type Identity, type PrincipalMiddleware, type PrincipalOptions, type SessionEvent, type SessionInfo, type StateStore,
} from '../../lib';
import { cleanupPrefix, connectRedis, uniquePrefix, type TestRedisClient } from '../helpers/redis';
import { cookiePair } from '../helpers/apps';

const secret = 'Vq3Lm8Zt1Rk6Wy0Hb5Nc2Xf7Pd4Sg9Ja';
const CHROME_MAC = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const FIREFOX_WIN = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0';

type Kind = 'stateful-jwt' | 'session-cookie';
type Backend = 'redis' | 'memory';

let client: TestRedisClient;
const prefixes: string[] = [];
beforeAll(async () => { client = await connectRedis(); });
afterAll(async () => {
  for (const p of prefixes) await cleanupPrefix(client, p);
  await client.close();
});

function storeFor(backend: Backend): StateStore {
  if (backend === 'memory') return memoryStore();
  const prefix = uniquePrefix('devices');
  prefixes.push(prefix);
  return redisStore({ client, prefix });
}

interface Built { app: express.Express; auth: PrincipalMiddleware; created: SessionEvent[]; revoked: (SessionEvent & { reason: string })[] }

function build(kind: Kind, backend: Backend, options: Partial<PrincipalOptions> = {}, store = storeFor(backend)): Built {
  const strategy = kind === 'stateful-jwt'
    ? statefulJwt({ secret, store, idleTimeout: '10m', touchInterval: '300ms' })
    : sessionCookie({ secret, store, secure: false, idleTimeout: '10m', touchInterval: '300ms' });
  const auth = principal({ strategy, ...options });
  const created: SessionEvent[] = [];
  const revoked: (SessionEvent & { reason: string })[] = [];
  auth.on('sessionCreated', (e) => { created.push(e); });
  auth.on('sessionRevoked', (e) => { revoked.push(e); });
  const app = express();
  app.set('trust proxy', true);
  app.use(express.json());
  app.use(auth);
  app.post('/login', async (req, res) => {
    const body = req.body as Identity & { revokeOthers?: boolean };
    const issued = await req.auth.login({ id: body.id, roles: ['user'] }, { revokeOthers: body.revokeOthers === true });
    res.json({ token: issued.token, sessionId: issued.sessionId });
  });
  app.get('/me', requireAuth(), (req, res) => { res.json({ id: req.principal?.id }); });
  app.get('/sessions', requireAuth(), async (req, res) => { res.json(await req.auth.sessions()); });
  app.delete('/sessions/:handle', requireAuth(), async (req, res) => { res.json({ ended: await req.auth.revokeSession(String(req.params.handle)) }); });
  app.post('/logout-others', requireAuth(), async (req, res) => { res.json({ ended: await req.auth.logoutOthers() }); });
  app.use((err: { status?: number; code?: string }, _req: Request, res: Response, _next: NextFunction) => {
    res.status(err.status ?? 500).json({ code: err.code ?? 'ERR_INTERNAL' });
  });
  return { app, auth, created, revoked };
}

interface Device { headers: Record<string, string>; sessionId: string; raw: string }

async function loginAs(built: Built, id: string, ua: string, ip: string, extra: Record<string, unknown> = {}): Promise<Device> {
  const res = await request(built.app).post('/login').set({ 'User-Agent': ua, 'X-Forwarded-For': ip }).send({ id, ...extra });
  expect(res.status).toBe(200);
  const body = res.body as { token: string | null; sessionId: string };
  const cookie = cookiePair(res.headers['set-cookie']);
  const headers: Record<string, string> = body.token ? { Authorization: `Bearer ${body.token}` } : { Cookie: cookie as string };
  return { headers, sessionId: body.sessionId, raw: body.token ?? (cookie as string) };
}

const status = async (built: Built, device: Device) => (await request(built.app).get('/me').set(device.headers)).status;

describe.each([
  ['stateful-jwt', 'redis'], ['stateful-jwt', 'memory'], ['session-cookie', 'redis'], ['session-cookie', 'memory'],
] as [Kind, Backend][])('%s on %s', (kind, backend) => {
  test('lists the subject\'s sessions with device, truncated address and dates; marks the current one', async () => {
    const built = build(kind, backend);
    const laptop = await loginAs(built, 'alice', CHROME_MAC, '203.0.113.77');
    const phone = await loginAs(built, 'alice', FIREFOX_WIN, '2001:db8:abcd:12::1');
    await loginAs(built, 'bob', CHROME_MAC, '198.51.100.1');
    const listed = await built.auth.sessions.list('alice');
    expect(listed.map((s) => [s.device, s.address, s.strategy, s.current])).toEqual([
      ['Chrome 131 on macOS', '203.0.113.0/24', kind, false],
      ['Firefox 133 on Windows', '2001:db8:abcd::/48', kind, false],
    ]);
    for (const s of listed) {
      expect(s.createdAt.getTime()).toBeLessThanOrEqual(s.lastSeenAt.getTime());
      expect(s.expiresAt.getTime()).toBeGreaterThan(Date.now());
      expect(Math.abs(s.authenticatedAt.getTime() - s.createdAt.getTime())).toBeLessThan(5_000);
      expect(s.handle).toMatch(/^[A-Za-z0-9_-]{22}$/);
      expect(JSON.stringify(s)).not.toContain(laptop.sessionId);
      expect(JSON.stringify(s)).not.toContain(phone.sessionId);
    }
    const own = (await request(built.app).get('/sessions').set(phone.headers)).body as SessionInfo[];
    expect(own.map((s) => [s.device, s.current])).toEqual([['Chrome 131 on macOS', false], ['Firefox 133 on Windows', true]]);
    expect(built.created.map((e) => [e.subject, e.device, e.strategy])).toEqual([
      ['alice', 'Chrome 131 on macOS', kind], ['alice', 'Firefox 133 on Windows', kind], ['bob', 'Chrome 131 on macOS', kind],
    ]);
    const events = JSON.stringify(built.created);
    for (const d of [laptop, phone]) { expect(events).not.toContain(d.sessionId); expect(events).not.toContain(d.raw); }
  });

  test('a handle is never a credential', async () => {
    const built = build(kind, backend);
    await loginAs(built, 'alice', CHROME_MAC, '203.0.113.77');
    const [only] = await built.auth.sessions.list('alice');
    const handle = (only as SessionInfo).handle;
    const asBearer = await request(built.app).get('/me').set('Authorization', `Bearer ${handle}`);
    const asCookie = await request(built.app).get('/me').set('Cookie', `sid=${handle}; __Host-sid=${handle}; connect.sid=${handle}`);
    expect([asBearer.status, asCookie.status]).toEqual([401, 401]);
    expect(asBearer.text).not.toContain('alice');
    expect(asCookie.text).not.toContain('alice');
  });

  test('a user ends one of their own devices; another subject\'s handle ends nothing', async () => {
    const built = build(kind, backend);
    const laptop = await loginAs(built, 'alice', CHROME_MAC, '203.0.113.77');
    const phone = await loginAs(built, 'alice', FIREFOX_WIN, '203.0.113.78');
    const bob = await loginAs(built, 'bob', CHROME_MAC, '198.51.100.1');
    const [bobs] = await built.auth.sessions.list('bob');
    const foreign = await request(built.app).delete(`/sessions/${(bobs as SessionInfo).handle}`).set(laptop.headers);
    expect(foreign.body).toEqual({ ended: false });
    expect(await status(built, bob)).toBe(200);
    const own = (await request(built.app).get('/sessions').set(laptop.headers)).body as SessionInfo[];
    const other = own.find((s) => !s.current) as SessionInfo;
    const ended = await request(built.app).delete(`/sessions/${other.handle}`).set(laptop.headers);
    expect(ended.body).toEqual({ ended: true });
    expect(await status(built, phone)).toBe(401);
    expect(await status(built, laptop)).toBe(200);
    expect(built.revoked.map((e) => [e.subject, e.reason, e.device])).toEqual([['alice', 'revoked', 'Firefox 133 on Windows']]);
  });

  test('logoutOthers ends every other device and keeps the caller', async () => {
    const built = build(kind, backend);
    const devices = [
      await loginAs(built, 'alice', CHROME_MAC, '203.0.113.1'),
      await loginAs(built, 'alice', FIREFOX_WIN, '203.0.113.2'),
      await loginAs(built, 'alice', CHROME_MAC, '203.0.113.3'),
    ];
    const res = await request(built.app).post('/logout-others').set((devices[1] as Device).headers);
    expect(res.body).toEqual({ ended: 2 });
    expect(await Promise.all(devices.map((d) => status(built, d)))).toEqual([401, 200, 401]);
    expect((await built.auth.sessions.list('alice')).length).toBe(1);
  });

  test('login({ revokeOthers: true }) ends every earlier session once the new one is stored', async () => {
    const built = build(kind, backend);
    const old = [await loginAs(built, 'alice', CHROME_MAC, '203.0.113.1'), await loginAs(built, 'alice', FIREFOX_WIN, '203.0.113.2')];
    const fresh = await loginAs(built, 'alice', CHROME_MAC, '203.0.113.9', { revokeOthers: true });
    expect(await Promise.all([...old, fresh].map((d) => status(built, d)))).toEqual([401, 401, 200]);
    expect(built.revoked.map((e) => e.reason)).toEqual(['others', 'others']);
  });

  test('maxSessionsPerSubject ends the oldest at the limit', async () => {
    const built = build(kind, backend, { maxSessionsPerSubject: 2 });
    const a = await loginAs(built, 'alice', CHROME_MAC, '203.0.113.1');
    const b = await loginAs(built, 'alice', FIREFOX_WIN, '203.0.113.2');
    const c = await loginAs(built, 'alice', CHROME_MAC, '203.0.113.3');
    expect(await Promise.all([a, b, c].map((d) => status(built, d)))).toEqual([401, 200, 200]);
    expect((await built.auth.sessions.list('alice')).map((s) => s.address)).toEqual(['203.0.113.0/24', '203.0.113.0/24']);
    expect(built.revoked.map((e) => e.reason)).toEqual(['limit']);
  });

  test("onSessionLimit: 'refuse' answers 409 and stores nothing", async () => {
    const built = build(kind, backend, { maxSessionsPerSubject: 2, onSessionLimit: 'refuse' });
    const a = await loginAs(built, 'alice', CHROME_MAC, '203.0.113.1');
    await loginAs(built, 'alice', FIREFOX_WIN, '203.0.113.2');
    const refused = await request(built.app).post('/login').send({ id: 'alice' });
    expect(refused.status).toBe(409);
    expect(refused.body).toEqual({ code: 'ERR_SESSION_LIMIT' });
    expect(refused.headers['set-cookie']).toBeUndefined();
    expect((await built.auth.sessions.list('alice')).length).toBe(2);
    expect(await status(built, a)).toBe(200);
    await loginAs(built, 'bob', CHROME_MAC, '198.51.100.1');
  });

  test('lastSeenAt moves with requests, at most once per touchInterval', async () => {
    const built = build(kind, backend);
    const d = await loginAs(built, 'alice', CHROME_MAC, '203.0.113.1');
    const [before] = await built.auth.sessions.list('alice');
    expect(await status(built, d)).toBe(200);
    const [unchanged] = await built.auth.sessions.list('alice');
    expect(unchanged?.lastSeenAt).toEqual(before?.lastSeenAt);
    await new Promise((r) => setTimeout(r, 400));
    expect(await status(built, d)).toBe(200);
    const [after] = await built.auth.sessions.list('alice');
    expect((after as SessionInfo).lastSeenAt.getTime()).toBeGreaterThan((before as SessionInfo).lastSeenAt.getTime());
  });
});

describe('what is kept of the device', () => {
  test("devices: false keeps nothing; address 'hash' says only same-or-not; 'full' keeps the address", async () => {
    const none = build('stateful-jwt', 'memory', { devices: false });
    await loginAs(none, 'alice', CHROME_MAC, '203.0.113.1');
    expect((await none.auth.sessions.list('alice')).map((s) => [s.device, s.address])).toEqual([[null, null]]);

    const hashed = build('stateful-jwt', 'memory', { devices: { address: 'hash', addressSalt: 'a-salt-of-16-chars-or-more' } });
    for (const ip of ['203.0.113.1', '203.0.113.1', '203.0.113.2']) await loginAs(hashed, 'alice', FIREFOX_WIN, ip);
    const [x, y, z] = (await hashed.auth.sessions.list('alice')).map((s) => s.address as string);
    expect(x).toMatch(/^h:[A-Za-z0-9_-]{16}$/);
    expect([x === y, x === z]).toEqual([true, false]);
    expect(x).not.toContain('203.0.113');

    const full = build('session-cookie', 'memory', { devices: { address: 'full', userAgent: false } });
    await loginAs(full, 'alice', CHROME_MAC, '203.0.113.1');
    expect((await full.auth.sessions.list('alice')).map((s) => [s.device, s.address])).toEqual([[null, '203.0.113.1']]);
  });

  test('bad device options are refused at construction', () => {
    const strategy = statefulJwt({ secret, store: memoryStore() });
    expect(() => principal({ strategy, devices: { address: 'hash' } })).toThrow(/addressSalt/);
    expect(() => principal({ strategy, devices: { address: 'everything' as never } })).toThrow(/devices.address/);
    expect(() => principal({ strategy, devices: { userAgnet: true } as never })).toThrow(/userAgent/);
    expect(() => principal({ strategy, maxSessionsPerSubject: 0 })).toThrow(/maxSessionsPerSubject/);
    expect(() => principal({ strategy, onSessionLimit: 'refuse' })).toThrow(/needs maxSessionsPerSubject/);
  });
});

describe('without server-side session state', () => {
  test('the API answers NotSupported, saying what to add — never an empty list', async () => {
    const auth = principal({ strategy: statelessJwt({ secret }) });
    await expect(auth.sessions.list('alice')).rejects.toMatchObject({ code: 'ERR_NOT_SUPPORTED', message: expect.stringMatching(/store/) });
    const app = express();
    app.use(express.json());
    app.use(auth);
    app.post('/login', async (req, res) => { res.json(await req.auth.login({ id: 'alice' })); });
    app.get('/sessions', requireAuth(), async (req, res, next) => { try { res.json(await req.auth.sessions()); } catch (err) { next(err); } });
    app.use((err: { status?: number; code?: string }, _req: Request, res: Response, _next: NextFunction) => { res.status(err.status ?? 500).json({ code: err.code }); });
    const token = ((await request(app).post('/login').send({})).body as { token: string }).token;
    const res = await request(app).get('/sessions').set('Authorization', `Bearer ${token}`);
    expect([res.status, res.body]).toEqual([501, { code: 'ERR_NOT_SUPPORTED' }]);
  });
});
