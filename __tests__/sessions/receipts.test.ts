/**
 * Receipts: a revocation can resolve to how many live instances had applied it, of how many, within how many ms.
 * Three real instances (processes) on one Redis prefix; one is stopped with SIGSTOP and is reported as not
 * applied, and once it runs again it still refuses the revoked token (its maxRevocationLag has passed, so it asks
 * the store). Stored sessions with recordCache give receipts too (two instances in this process).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import express from 'express';
import request from 'supertest';
import { principal, redisStore, requireAuth, statefulJwt, type RevocationReceipt } from '../../lib';
import { cleanupPrefix, connectRedis, redisUrl, uniquePrefix, type TestRedisClient } from '../helpers/redis';

let client: TestRedisClient;
const prefixes: string[] = [];
const children: ChildProcess[] = [];
beforeAll(async () => { client = await connectRedis(); });
afterAll(async () => {
  for (const child of children) { child.kill('SIGCONT'); child.kill('SIGKILL'); }
  for (const p of prefixes) await cleanupPrefix(client, p);
  await client.close();
});

async function instance(prefix: string): Promise<{ url: string; child: ChildProcess }> {
  const child = fork(join(__dirname, 'receipt-instance.ts'), [], {
    execArgv: ['-r', 'ts-node/register/transpile-only'],
    env: { ...process.env, REDIS_URL: redisUrl(), EP_PREFIX: prefix },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  children.push(child);
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`instance exited with ${String(code)}`)));
  });
  return { url: `http://127.0.0.1:${port}`, child };
}

async function until(what: string, check: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('three instances, one stalled: the receipt says 2 of 3, and the stalled one still refuses once it runs', async () => {
  const prefix = uniquePrefix('receipts');
  prefixes.push(prefix);
  const [a, b, c] = await Promise.all([instance(prefix), instance(prefix), instance(prefix)]);
  const token = ((await request(a.url).post('/login').send({ id: 'alice' })).body as { token: string }).token;
  const bearer = { Authorization: `Bearer ${token}` };
  // A guarded request starts each instance's follower; each then reports its position with a heartbeat.
  for (const i of [a, b, c]) expect((await request(i.url).get('/me').set(bearer)).status).toBe(200);
  await until('three heartbeats', async () => (await client.hLen(`${prefix}rv:log:applied`)) === 3);

  const all = (await request(a.url).post('/revoke-all').send({ id: 'bob' })).body as RevocationReceipt;
  expect(all).toMatchObject({ applied: 3, instances: 3, complete: true, ended: null });
  expect(all.withinMs).toBeGreaterThanOrEqual(0);

  c.child.kill('SIGSTOP');
  const receipt = (await request(a.url).post('/revoke-all').send({ id: 'alice' })).body as RevocationReceipt;
  expect(receipt).toMatchObject({ applied: 2, instances: 3, complete: false });
  expect((await request(b.url).get('/me').set(bearer)).status).toBe(401);
  expect((await request(a.url).get('/me').set(bearer)).status).toBe(401);

  // Stopped for longer than its maxRevocationLag (1 s): once it runs, it may not trust its stale cache.
  await new Promise((r) => setTimeout(r, 1_500));
  c.child.kill('SIGCONT');
  const late = await request(c.url).get('/me').set(bearer);
  expect(late.status).toBe(401);
  expect(late.text).not.toContain('alice');
}, 90_000);

test('stored sessions with recordCache: ending one session reports both instances', async () => {
  const prefix = uniquePrefix('receipts-stored');
  prefixes.push(prefix);
  const secret = 'Vq3Lm8Zt1Rk6Wy0Hb5Nc2Xf7Pd4Sg9Ja';
  const clients = [await connectRedis(), await connectRedis()];
  const auths = clients.map((c) => principal({ strategy: statefulJwt({ secret, store: redisStore({ client: c, prefix }), recordCache: true }) }));
  const apps = auths.map((auth) => {
    const app = express();
    app.use(express.json());
    app.use(auth);
    app.post('/login', async (req, res) => { res.json(await req.auth.login({ id: 'alice' })); });
    app.get('/me', requireAuth(), (req, res) => { res.json({ id: req.principal?.id }); });
    return app;
  });
  try {
    const [first, second] = auths as [typeof auths[0], typeof auths[0]];
    const token = ((await request(apps[0] as express.Express).post('/login').send({})).body as { token: string }).token;
    for (const app of apps) expect((await request(app).get('/me').set('Authorization', `Bearer ${token}`)).status).toBe(200);
    await until('two heartbeats', async () => (await client.hLen(`${prefix}rc:rv:log:applied`)) === 2);
    const [session] = await first.sessions.list('alice');
    const receipt = await second.sessions.revoke('alice', session?.handle as string, { receipt: true });
    expect(receipt).toMatchObject({ ended: 1, applied: 2, instances: 2, complete: true });
    for (const app of apps) expect((await request(app).get('/me').set('Authorization', `Bearer ${token}`)).status).toBe(401);
    expect(await second.sessions.revoke('alice', session?.handle as string, { receipt: true })).toBeNull();
  } finally {
    await Promise.all(auths.map((a) => a.close()));
    await Promise.all(clients.map((c) => c.close()));
  }
}, 60_000);
