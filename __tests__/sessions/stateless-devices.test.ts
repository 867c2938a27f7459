/**
 * statelessJwt with refresh tokens: a device is a refresh-token family. Listed with its device and address, the
 * caller's marked current through its access token; ending one refuses its refresh token at once and its live
 * access tokens within maxRevocationLag (here on every instance sharing the store).
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import request from 'supertest';
import { memoryStore, principal, redisStore, requireAuth, statelessJwt, type PrincipalMiddleware, type SessionInfo, type StateStore } from '../../lib';
import { cleanupPrefix, connectRedis, uniquePrefix, type TestRedisClient } from '../helpers/redis';

const secret = 'Vq3Lm8Zt1Rk6Wy0Hb5Nc2Xf7Pd4Sg9Ja';
const CHROME_MAC = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const FIREFOX_WIN = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0';

let client: TestRedisClient;
const prefixes: string[] = [];
const open: PrincipalMiddleware[] = [];
beforeAll(async () => { client = await connectRedis(); });
afterAll(async () => {
  await Promise.all(open.map((a) => a.close()));
  for (const p of prefixes) await cleanupPrefix(client, p);
  await client.close();
});

function build(store: StateStore): { app: express.Express; auth: PrincipalMiddleware } {
  const auth = principal({ strategy: statelessJwt({ secret, store, maxRevocationLag: '200ms', refresh: { store, deliver: 'body' } }) });
  open.push(auth);
  const app = express();
  app.set('trust proxy', true);
  app.use(express.json());
  app.use(auth);
  app.post('/login', async (req, res) => { res.json(await req.auth.login({ id: String((req.body as { id: string }).id) })); });
  app.post('/refresh', async (req, res, next) => { try { res.json(await req.auth.refresh()); } catch (err) { next(err); } });
  app.get('/me', requireAuth(), (req, res) => { res.json({ id: req.principal?.id }); });
  app.get('/sessions', requireAuth(), async (req, res) => { res.json(await req.auth.sessions()); });
  app.delete('/sessions/:handle', requireAuth(), async (req, res) => { res.json({ ended: await req.auth.revokeSession(String(req.params.handle)) }); });
  app.post('/logout-others', requireAuth(), async (req, res) => { res.json({ ended: await req.auth.logoutOthers() }); });
  app.use((err: { status?: number; code?: string }, _req: Request, res: Response, _next: NextFunction) => { res.status(err.status ?? 500).json({ code: err.code }); });
  return { app, auth };
}

interface Device { bearer: Record<string, string>; refreshToken: string; handle: string }

async function device(app: express.Express, id: string, ua: string, ip: string): Promise<Device> {
  const res = await request(app).post('/login').set({ 'User-Agent': ua, 'X-Forwarded-For': ip }).send({ id });
  expect(res.status).toBe(200);
  const body = res.body as { token: string; refreshToken: string; handle: string };
  return { bearer: { Authorization: `Bearer ${body.token}` }, refreshToken: body.refreshToken, handle: body.handle };
}

async function until(check: () => Promise<boolean>, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe.each(['redis', 'memory'] as const)('refresh-token families as devices (%s)', (backend) => {
  function store(): StateStore {
    if (backend === 'memory') return memoryStore();
    const prefix = uniquePrefix('stateless-devices');
    prefixes.push(prefix);
    return redisStore({ client, prefix });
  }

  test('lists each login as a device, marks the caller, and ending one stops its tokens', async () => {
    const shared = store();
    const a = build(shared);
    const b = build(shared);
    const laptop = await device(a.app, 'alice', CHROME_MAC, '203.0.113.7');
    const phone = await device(a.app, 'alice', FIREFOX_WIN, '203.0.113.8');
    expect((await request(b.app).get('/me').set(phone.bearer)).status).toBe(200);
    const listed = (await request(a.app).get('/sessions').set(laptop.bearer)).body as SessionInfo[];
    expect(listed.map((s) => [s.strategy, s.device, s.address, s.current])).toEqual([
      ['stateless-jwt', 'Chrome 131 on macOS', '203.0.113.0/24', true],
      ['stateless-jwt', 'Firefox 133 on Windows', '203.0.113.0/24', false],
    ]);
    expect(listed.map((s) => s.handle)).toEqual([laptop.handle, phone.handle]);
    // A handle is no credential, neither as an access token nor as a refresh token.
    expect((await request(a.app).get('/me').set('Authorization', `Bearer ${phone.handle}`)).status).toBe(401);
    expect((await request(a.app).post('/refresh').send({ refreshToken: phone.handle })).status).toBe(401);

    const ended = await request(a.app).delete(`/sessions/${phone.handle}`).set(laptop.bearer);
    expect(ended.body).toEqual({ ended: true });
    expect((await request(a.app).post('/refresh').send({ refreshToken: phone.refreshToken })).status).toBe(401);
    expect((await request(a.app).get('/me').set(phone.bearer)).status).toBe(401);
    // The other instance refuses the phone's live access token within maxRevocationLag.
    await until(async () => (await request(b.app).get('/me').set(phone.bearer)).status === 401);
    expect((await request(b.app).get('/me').set(laptop.bearer)).status).toBe(200);
    expect((await a.auth.sessions.list('alice')).map((s) => s.handle)).toEqual([laptop.handle]);
  });

  test('logoutOthers keeps the caller\'s family and ends the rest', async () => {
    const { app, auth } = build(store());
    const devices = [await device(app, 'bob', CHROME_MAC, '198.51.100.1'), await device(app, 'bob', FIREFOX_WIN, '198.51.100.2'), await device(app, 'bob', CHROME_MAC, '198.51.100.3')];
    expect((await request(app).post('/logout-others').set((devices[2] as Device).bearer)).body).toEqual({ ended: 2 });
    const statuses = await Promise.all(devices.map(async (d) => (await request(app).post('/refresh').send({ refreshToken: d.refreshToken })).status));
    expect(statuses).toEqual([401, 401, 200]);
    expect((await auth.sessions.list('bob')).length).toBe(1);
  });
});

test('statelessJwt without any store says what to add', async () => {
  const auth = principal({ strategy: statelessJwt({ secret }) });
  open.push(auth);
  await expect(auth.sessions.list('alice')).rejects.toMatchObject({ code: 'ERR_NOT_SUPPORTED', message: expect.stringMatching(/statelessJwt\(\{ store \}\)/) });
});
