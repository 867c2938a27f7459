/**
 * Devices for the strategies whose credential carries its own state, over real HTTP on real Redis and memory:
 * sessionCookie({ store: cookieStore(), revocation }) and statelessJwt({ store }) without refresh tokens. Each login
 * is listed (device, address, current); a handle is never a credential; ending a device refuses its credential on
 * every instance sharing the store within maxRevocationLag; logoutOthers and revokeAll end them too.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import request from 'supertest';
import {
  cookieStore, memoryStore, principal, redisStore, REISSUED_TOKEN_HEADER, requireAuth, sessionCookie, statelessJwt,
  type PrincipalMiddleware, type PrincipalOptions, type SessionInfo, type StateStore,
} from '../../lib';
import { cleanupPrefix, connectRedis, uniquePrefix, type TestRedisClient } from '../helpers/redis';
import { cookiePair } from '../helpers/apps';

const secret = 'Vq3Lm8Zt1Rk6Wy0Hb5Nc2Xf7Pd4Sg9Ja';
const cookieSecret = 'Kp4Rt8Wq1Zm6Xc3Vb7Nf2Hj5Ld9Sg0Ty';
const CHROME_MAC = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const FIREFOX_WIN = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0';

type Kind = 'sealed-cookie' | 'stateless-jwt';
type Backend = 'redis' | 'memory';

let client: TestRedisClient;
const prefixes: string[] = [];
const open: PrincipalMiddleware[] = [];
beforeAll(async () => { client = await connectRedis(); });
afterAll(async () => {
  await Promise.all(open.map((a) => a.close()));
  for (const p of prefixes) await cleanupPrefix(client, p);
  await client.close();
});

function storeFor(backend: Backend): StateStore {
  if (backend === 'memory') return memoryStore();
  const prefix = uniquePrefix('self-devices');
  prefixes.push(prefix);
  return redisStore({ client, prefix });
}

interface Built { app: express.Express; auth: PrincipalMiddleware }

function build(kind: Kind, store: StateStore, options: Partial<PrincipalOptions> = {}): Built {
  const strategy = kind === 'sealed-cookie'
    ? sessionCookie({ store: cookieStore({ secret: cookieSecret }), revocation: store, secure: false, maxRevocationLag: '200ms', idleTimeout: '10m', touchInterval: '300ms' })
    : statelessJwt({ secret, store, maxRevocationLag: '200ms' });
  const auth = principal({ strategy, ...options });
  open.push(auth);
  const app = express();
  app.set('trust proxy', true);
  app.use(express.json());
  app.use(auth);
  app.post('/login', async (req, res) => { res.json(await req.auth.login({ id: String((req.body as { id: string }).id), roles: ['user'] })); });
  app.get('/me', requireAuth(), (req, res) => { res.json({ id: req.principal?.id }); });
  app.post('/logout', async (req, res) => { await req.auth.logout(); res.json({ ok: true }); });
  app.get('/sessions', requireAuth(), async (req, res) => { res.json(await req.auth.sessions()); });
  app.delete('/sessions/:handle', requireAuth(), async (req, res) => { res.json({ ended: await req.auth.revokeSession(String(req.params.handle)) }); });
  app.post('/logout-others', requireAuth(), async (req, res) => { res.json({ ended: await req.auth.logoutOthers() }); });
  app.use((err: { status?: number; code?: string }, _req: Request, res: Response, _next: NextFunction) => { res.status(err.status ?? 500).json({ code: err.code ?? 'ERR_INTERNAL' }); });
  return { app, auth };
}

interface Device { headers: Record<string, string>; handle: string }

async function device(app: express.Express, id: string, ua: string, ip: string): Promise<Device> {
  const res = await request(app).post('/login').set({ 'User-Agent': ua, 'X-Forwarded-For': ip }).send({ id });
  expect(res.status).toBe(200);
  const body = res.body as { token: string | null; handle: string };
  expect(typeof body.handle).toBe('string');
  const headers: Record<string, string> = body.token ? { Authorization: `Bearer ${body.token}` } : { Cookie: cookiePair(res.headers['set-cookie']) as string };
  return { headers, handle: body.handle };
}

const status = async (app: express.Express, headers: Record<string, string>) => (await request(app).get('/me').set(headers)).status;

async function until(check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe.each([
  ['sealed-cookie', 'redis'], ['sealed-cookie', 'memory'], ['stateless-jwt', 'redis'], ['stateless-jwt', 'memory'],
] as const)('%s on %s: each login is a device', (kind, backend) => {
  const strategyName = kind === 'sealed-cookie' ? 'session-cookie' : 'stateless-jwt';

  test('lists devices, marks the caller; ending another refuses its credential on every instance', async () => {
    const shared = storeFor(backend);
    const a = build(kind, shared);
    const b = build(kind, shared);
    const laptop = await device(a.app, 'alice', CHROME_MAC, '203.0.113.7');
    const phone = await device(a.app, 'alice', FIREFOX_WIN, '198.51.100.9');
    expect(await status(b.app, phone.headers)).toBe(200);
    const listed = (await request(a.app).get('/sessions').set(laptop.headers)).body as SessionInfo[];
    expect(listed.map((s) => [s.strategy, s.device, s.address, s.current])).toEqual([
      [strategyName, 'Chrome 131 on macOS', '203.0.113.0/24', true],
      [strategyName, 'Firefox 133 on Windows', '198.51.100.0/24', false],
    ]);
    expect(listed.map((s) => s.handle)).toEqual([laptop.handle, phone.handle]);
    // The other instance lists the same devices, by the same handles.
    expect((await b.auth.sessions.list('alice')).map((s) => s.handle)).toEqual([laptop.handle, phone.handle]);

    // A handle is no credential, in the header or in the session cookie.
    expect(await status(a.app, { Authorization: `Bearer ${phone.handle}` })).toBe(401);
    expect(await status(a.app, { Cookie: `sid=${phone.handle}` })).toBe(401);

    expect((await request(a.app).delete(`/sessions/${phone.handle}`).set(laptop.headers)).body).toEqual({ ended: true });
    expect(await status(a.app, phone.headers)).toBe(401);
    await until(async () => (await status(b.app, phone.headers)) === 401);
    expect(await status(b.app, laptop.headers)).toBe(200);
    expect((await b.auth.sessions.list('alice')).map((s) => s.handle)).toEqual([laptop.handle]);
    // Already ended: nothing more to end.
    expect((await request(a.app).delete(`/sessions/${phone.handle}`).set(laptop.headers)).body).toEqual({ ended: false });
  });

  test("another subject's handle ends nothing", async () => {
    const { app, auth } = build(kind, storeFor(backend));
    const alice = await device(app, 'alice', CHROME_MAC, '203.0.113.7');
    const mallory = await device(app, 'mallory', FIREFOX_WIN, '198.51.100.9');
    expect((await request(app).delete(`/sessions/${alice.handle}`).set(mallory.headers)).body).toEqual({ ended: false });
    expect(await status(app, alice.headers)).toBe(200);
    expect((await auth.sessions.list('alice')).length).toBe(1);
  });

  test('logoutOthers keeps the caller and ends the rest, on every instance', async () => {
    const shared = storeFor(backend);
    const a = build(kind, shared);
    const b = build(kind, shared);
    const devices = [
      await device(a.app, 'bob', CHROME_MAC, '198.51.100.1'), await device(a.app, 'bob', FIREFOX_WIN, '198.51.100.2'), await device(a.app, 'bob', CHROME_MAC, '198.51.100.3'),
    ];
    for (const d of devices) expect(await status(b.app, d.headers)).toBe(200);
    expect((await request(a.app).post('/logout-others').set((devices[2] as Device).headers)).body).toEqual({ ended: 2 });
    await until(async () => (await Promise.all(devices.map((d) => status(b.app, d.headers)))).join() === '401,401,200');
    expect((await a.auth.sessions.list('bob')).map((s) => s.handle)).toEqual([(devices[2] as Device).handle]);
  });

  test('logout unlists the device; revokeAll ends and unlists every one', async () => {
    const { app, auth } = build(kind, storeFor(backend));
    const one = await device(app, 'carol', CHROME_MAC, '198.51.100.1');
    const two = await device(app, 'carol', FIREFOX_WIN, '198.51.100.2');
    const three = await device(app, 'carol', FIREFOX_WIN, '198.51.100.3');
    expect((await request(app).post('/logout').set(one.headers)).status).toBe(200);
    expect((await auth.sessions.list('carol')).map((s) => s.handle)).toEqual([two.handle, three.handle]);
    await auth.revokeAll('carol');
    expect(await auth.sessions.list('carol')).toEqual([]);
    expect([await status(app, two.headers), await status(app, three.headers)]).toEqual([401, 401]);
    // A login after the revokeAll is a live device again.
    const four = await device(app, 'carol', CHROME_MAC, '198.51.100.4');
    expect(await status(app, four.headers)).toBe(200);
    expect((await auth.sessions.list('carol')).map((s) => s.handle)).toEqual([four.handle]);
  });
});

describe.each(['redis', 'memory'] as const)('sealed cookie on %s', (backend) => {
  test('lastSeenAt moves when the cookie slides, at most once per touchInterval', async () => {
    const { app, auth } = build('sealed-cookie', storeFor(backend));
    const d = await device(app, 'alice', CHROME_MAC, '203.0.113.1');
    const [before] = await auth.sessions.list('alice');
    expect(await status(app, d.headers)).toBe(200);
    const [unchanged] = await auth.sessions.list('alice');
    expect(unchanged?.lastSeenAt).toEqual(before?.lastSeenAt);
    await new Promise((r) => setTimeout(r, 400));
    const slid = await request(app).get('/me').set(d.headers);
    expect(slid.status).toBe(200);
    expect(cookiePair(slid.headers['set-cookie'])).not.toBeNull();
    const [after] = await auth.sessions.list('alice');
    expect((after as SessionInfo).lastSeenAt.getTime()).toBeGreaterThan((before as SessionInfo).lastSeenAt.getTime());
  });

  test('a new login from the same browser replaces its session: the old cookie is refused and unlisted', async () => {
    const { app, auth } = build('sealed-cookie', storeFor(backend));
    const first = await device(app, 'dave', CHROME_MAC, '203.0.113.1');
    const again = await request(app).post('/login').set({ ...first.headers, 'User-Agent': CHROME_MAC }).send({ id: 'dave' });
    expect(again.status).toBe(200);
    expect(await status(app, first.headers)).toBe(401);
    expect((await auth.sessions.list('dave')).map((s) => s.handle)).toEqual([(again.body as { handle: string }).handle]);
  });
});

test('the sealed session\'s device record on Redis: its own key, no identity, gone with the session', async () => {
  const prefix = uniquePrefix('self-devices-record');
  prefixes.push(prefix);
  const { app } = build('sealed-cookie', redisStore({ client, prefix }));
  const res = await request(app).post('/login').set({ 'User-Agent': CHROME_MAC, 'X-Forwarded-For': '203.0.113.1' }).send({ id: 'frank' });
  const { sessionId } = res.body as { sessionId: string };
  const key = `${prefix}sc:${sessionId}`;
  const record = JSON.parse(await client.get(key) as string) as Record<string, unknown>;
  expect([record.id, record.roles, record.scopes, record.claims, record.device, record.address]).toEqual(['frank', [], [], {}, 'Chrome 131 on macOS', '203.0.113.0/24']);
  const ttl = await client.pTTL(key);
  expect(ttl).toBeGreaterThan(0);
  expect(ttl).toBeLessThanOrEqual(10 * 60_000); // the session's idle deadline, within its absolute one
  expect((await request(app).post('/logout').set('Cookie', cookiePair(res.headers['set-cookie']) as string)).status).toBe(200);
  expect(await client.get(key)).toBeNull();
});

describe.each(['redis', 'memory'] as const)('statelessJwt without refresh tokens on %s', (backend) => {
  test('a token re-issued by refreshPrincipal belongs to its login: ending the device refuses it too', async () => {
    const shared = storeFor(backend);
    const fresh = { refreshPrincipal: { maxAge: '300ms', load: async (id: string) => ({ id, roles: ['user'] }) } };
    const a = build('stateless-jwt', shared, fresh);
    const b = build('stateless-jwt', shared, fresh);
    const laptop = await device(a.app, 'erin', CHROME_MAC, '203.0.113.1');
    const phone = await device(a.app, 'erin', FIREFOX_WIN, '203.0.113.2');
    await new Promise((r) => setTimeout(r, 400));
    const reloaded = await request(a.app).get('/me').set(phone.headers);
    expect(reloaded.status).toBe(200);
    const reissued = reloaded.headers[REISSUED_TOKEN_HEADER.toLowerCase()] as string;
    expect(typeof reissued).toBe('string');
    const phoneNow = { Authorization: `Bearer ${reissued}` };
    expect(await status(b.app, phoneNow)).toBe(200);
    // Still one device, the same handle.
    expect((await a.auth.sessions.list('erin')).map((s) => s.handle)).toEqual([laptop.handle, phone.handle]);
    expect((await request(a.app).delete(`/sessions/${phone.handle}`).set(laptop.headers)).body).toEqual({ ended: true });
    await until(async () => (await status(b.app, phoneNow)) === 401 && (await status(b.app, phone.headers)) === 401);
  });
});
