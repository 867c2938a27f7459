/**
 * Revocation faults on a Redis this file starts itself (so INFO counters and ACL changes are ours alone):
 * zero Redis commands per request while in sync; the fallback to direct lookups when B's log follower
 * cannot read; 503 (never 200) when Redis is down; a cache flood beyond its bound stays correct.
 */
import { performance } from 'node:perf_hooks';
import { createClient } from 'redis';
import { startRedisServer, type TestRedisServer } from '../helpers/redis-server';
import { clientAddr, commandsOf } from '../helpers/redis-monitor';
import { commandsProcessed, login, logout, me, refusedWithin, startInstance, waitUntil, type Cred, type Instance } from './support';

const LAG_MS = 1000;
let server: TestRedisServer;
let admin: ReturnType<typeof createClient>;
const instances: Instance[] = [];
const prefix = 'rvf:';

async function instance(name: string, extra: { revocationCacheSize?: number; maxRevocationLag?: string } = {}): Promise<Instance> {
  const inst = await startInstance({ redisUrl: server.url, prefix, name, ...extra });
  instances.push(inst);
  return inst;
}

async function connectAdmin(): Promise<ReturnType<typeof createClient>> {
  const c = createClient({ url: server.url, socket: { reconnectStrategy: (n: number) => Math.min(20 * 2 ** n, 200) } });
  c.on('error', () => {});
  await c.connect();
  return c;
}

beforeAll(async () => {
  server = await startRedisServer({ appendonly: true });
  admin = await connectAdmin();
}, 30_000);
afterAll(async () => {
  for (const inst of instances) await inst.close();
  if (admin?.isOpen) admin.destroy();
  await server?.destroy();
});

/** Redis commands processed while `work` runs (minus the INFO calls themselves). */
async function commandsDuring(work: () => Promise<void>): Promise<number> {
  const before = await commandsProcessed(admin);
  await work();
  return (await commandsProcessed(admin)) - before - 1;
}

async function requests(inst: Instance, cred: Cred, n: number, expected = 200): Promise<void> {
  const workers = Array.from({ length: 10 }, async (_, w) => {
    for (let i = w; i < n; i += 10) expect((await me(inst, cred)).status).toBe(expected);
  });
  await Promise.all(workers);
}

/** Commands the request path of `inst` sends (its own connection; the follower has another) while `work` runs. */
async function requestPathCommands(inst: Instance, work: () => Promise<unknown>): Promise<string[][]> {
  return (await commandsOf(server.url, admin, await clientAddr(admin, inst.name), work)).map((c) => c.args);
}

/** Polls until a request on `inst` costs its request path no Redis command (the instance is in sync). */
async function inSync(inst: Instance, cred: Cred): Promise<void> {
  await waitUntil(async () => (await requestPathCommands(inst, () => requests(inst, cred, 1))).length === 0, 15_000, `${inst.name} in sync`);
}

test('in sync, the per-request revocation check makes zero Redis commands (500 requests)', async () => {
  // The bound is far above any event-loop stall of a loaded machine, so B stays provably in sync: this is
  // about what an in-sync check costs; how soon a revocation arrives is two-instances.test.ts's subject.
  const A = await instance('fA', { maxRevocationLag: '10s' });
  const B = await instance('fB', { maxRevocationLag: '10s' });
  const cred = await login(A, 'zoe');
  // Before its follower's first round B cannot vouch for anything: a direct lookup, which the count sees.
  const first = await requestPathCommands(B, async () => expect((await me(B, cred)).status).toBe(200));
  expect(first.length).toBeGreaterThan(0);
  await inSync(B, cred);
  expect(await requestPathCommands(B, () => requests(B, cred, 500))).toEqual([]);
  // And revocation still works from that state: the log brings it, the check stays local.
  expect(await logout(A, cred)).toBe(204);
  const propagation = await requestPathCommands(B, () => waitUntil(async () => (await me(B, cred)).status === 401, 15_000, 'B to refuse the logged-out token'));
  expect(propagation).toEqual([]);
  expect(await me(B, cred)).toMatchObject({ status: 401, code: 'ERR_CREDENTIAL_REVOKED' });
}, 90_000);

test('B’s follower cannot read the log (XREAD refused) for longer than the bound: B falls back to direct lookups, still refuses revoked tokens, and recovers by itself', async () => {
  const A = await instance('gA');
  const B = await instance('gB');
  const keep = await login(A, 'yan');
  const victim = await login(A, 'yan');
  await inSync(B, keep);
  await admin.sendCommand(['ACL', 'SETUSER', 'default', '-xread']);
  try {
    // Past the bound, B's checks become lookups: every request costs Redis commands now.
    await waitUntil(async () => (await commandsDuring(() => requests(B, keep, 10))) >= 10, LAG_MS * 5, 'B to fall back to direct lookups');
    expect(await logout(A, victim)).toBe(204);
    // No log entry can reach B; the direct lookup refuses the token at once.
    expect(await me(B, victim)).toMatchObject({ status: 401, code: 'ERR_CREDENTIAL_REVOKED' });
    expect(await me(B, keep)).toMatchObject({ status: 200 });
  } finally {
    await admin.sendCommand(['ACL', 'SETUSER', 'default', '+xread']);
  }
  // Restart-free recovery: the follower reads again, catches up, and requests are local again.
  await inSync(B, keep);
  expect(await me(B, victim)).toMatchObject({ status: 401 });
});

test('Redis down: B answers 503 for what it cannot vouch for (never 200 past the bound), 401 for what it knows is revoked; recovers after restart', async () => {
  const A = await instance('hA');
  const B = await instance('hB');
  const ok = await login(A, 'xia');
  const revoked = await login(A, 'xia');
  await inSync(B, ok);
  expect(await logout(A, revoked)).toBe(204);
  await waitUntil(async () => (await me(B, revoked)).status === 401, LAG_MS * 3, 'B to refuse the revoked token');
  await server.kill();
  const since = performance.now();
  let last = { status: 200, code: undefined as string | undefined };
  for (;;) {
    last = await me(B, ok);
    if (last.status !== 200 || performance.now() - since > LAG_MS * 5) break;
  }
  expect(last).toMatchObject({ status: 503, code: 'ERR_STORE_UNAVAILABLE' });
  expect(performance.now() - since).toBeLessThanOrEqual(LAG_MS + 300);
  expect(await me(B, revoked)).toMatchObject({ status: 401, code: 'ERR_CREDENTIAL_REVOKED' });

  await server.start();
  await waitUntil(async () => (await me(B, ok)).status === 200, 15_000, 'B to recover');
  expect(await me(B, revoked)).toMatchObject({ status: 401 });
  if (!admin.isReady) await waitUntil(() => admin.isReady, 10_000, 'admin reconnect');
  await inSync(B, ok);
}, 60_000);

test('a flood of unique revocations beyond the cache bound: B stays correct (held ones local, the rest looked up)', async () => {
  const A = await instance('iA');
  const B = await instance('iB', { revocationCacheSize: 50 });
  const spare = await login(A, 'walt');
  await inSync(B, spare);
  const creds: Cred[] = [];
  for (let i = 0; i < 200; i++) creds.push(await login(A, `flood${i % 20}`));
  for (const cred of creds) expect(await logout(A, cred)).toBe(204);
  const since = performance.now();
  const lastOne = creds[creds.length - 1] as Cred;
  const r = await refusedWithin(B, lastOne, since, LAG_MS * 3);
  expect(r.status).toBe(401);
  for (const cred of creds) expect(await me(B, cred)).toMatchObject({ status: 401, code: 'ERR_CREDENTIAL_REVOKED' });
  // Not revoked, still accepted — through a direct lookup, since the cache cannot vouch for misses now.
  const lookups = await commandsDuring(() => requests(B, spare, 20));
  expect(lookups).toBeGreaterThanOrEqual(20);
}, 60_000);
