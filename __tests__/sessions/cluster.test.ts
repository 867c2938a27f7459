/**
 * Sessions and devices on a real 3-master Redis Cluster: a subject's sessions (keys on every master, the index in
 * one slot) are listed, one is ended through another instance, the others are logged out, and the receipts count
 * both instances' record caches.
 */
import express from 'express';
import request from 'supertest';
import { createCluster, type RedisClusterType } from 'redis';
import { principal, redisStore, requireAuth, sessionCookie, statefulJwt, type PrincipalMiddleware, type Strategy } from '../../lib';
import { startRedisCluster, type TestRedisCluster } from '../helpers/redis-server';
import { uniquePrefix } from '../helpers/redis';
import { cookiePair } from '../helpers/apps';

jest.setTimeout(90_000);
const secret = 'Vq3Lm8Zt1Rk6Wy0Hb5Nc2Xf7Pd4Sg9Ja';
let cluster: TestRedisCluster;
const clients: RedisClusterType[] = [];

beforeAll(async () => {
  cluster = await startRedisCluster();
  for (let i = 0; i < 2; i += 1) {
    const c = createCluster({ rootNodes: cluster.rootNodes }) as unknown as RedisClusterType;
    c.on('error', () => undefined);
    await c.connect();
    clients.push(c);
  }
}, 90_000);
afterAll(async () => {
  for (const c of clients) c.destroy();
  await cluster?.stop();
});

function app(auth: PrincipalMiddleware): express.Express {
  const a = express();
  a.set('trust proxy', true);
  a.use(express.json());
  a.use(auth);
  a.post('/login', async (req, res) => { const i = await req.auth.login({ id: 'alice' }); res.json({ token: i.token }); });
  a.get('/me', requireAuth(), (_req, res) => { res.json({ ok: true }); });
  a.post('/logout-others', requireAuth(), async (req, res) => { res.json(await req.auth.logoutOthers({ receipt: true })); });
  return a;
}

describe.each(['stateful-jwt', 'session-cookie'] as const)('%s on a cluster', (kind) => {
  test('list, revoke through another instance, log out the others, with receipts', async () => {
    const prefix = uniquePrefix(`cluster-sessions-${kind}`);
    const strategy = (i: number): Strategy => {
      const store = redisStore({ client: clients[i] as RedisClusterType, prefix });
      return kind === 'stateful-jwt' ? statefulJwt({ secret, store, recordCache: true }) : sessionCookie({ secret, store, secure: false, recordCache: true });
    };
    const auths = [principal({ strategy: strategy(0) }), principal({ strategy: strategy(1) })];
    const apps = auths.map(app);
    try {
      const devices: Record<string, string>[] = [];
      for (let i = 0; i < 4; i += 1) {
        const res = await request(apps[0] as express.Express).post('/login').set('User-Agent', 'curl/8.5.0').set('X-Forwarded-For', `198.51.100.${i}`);
        const body = res.body as { token: string | null };
        devices.push(body.token ? { Authorization: `Bearer ${body.token}` } : { Cookie: cookiePair(res.headers['set-cookie']) as string });
      }
      for (const a of apps) for (const d of devices) expect((await request(a).get('/me').set(d)).status).toBe(200);
      const listed = await (auths[1] as PrincipalMiddleware).sessions.list('alice');
      expect(listed.map((s) => s.address)).toEqual(['198.51.100.0/24', '198.51.100.0/24', '198.51.100.0/24', '198.51.100.0/24']);
      const first = await (auths[1] as PrincipalMiddleware).sessions.revoke('alice', (listed[0] as { handle: string }).handle, { receipt: true, wait: '5s' });
      expect(first).toMatchObject({ ended: 1, applied: 2, instances: 2, complete: true });
      for (const a of apps) expect((await request(a).get('/me').set(devices[0] as Record<string, string>)).status).toBe(401);
      const others = await request(apps[1] as express.Express).post('/logout-others').set(devices[3] as Record<string, string>);
      expect(others.body).toMatchObject({ ended: 2, applied: 2, instances: 2, complete: true });
      const statuses = await Promise.all(apps.flatMap((a) => devices.map(async (d) => (await request(a).get('/me').set(d)).status)));
      expect(statuses).toEqual([401, 401, 401, 200, 401, 401, 401, 200]);
    } finally {
      await Promise.all(auths.map((a) => a.close()));
    }
  });
});
