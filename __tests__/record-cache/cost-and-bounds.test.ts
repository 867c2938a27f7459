/**
 * The session-record cache on a Redis this file starts itself (so INFO commandstats counts our commands only):
 * a request whose record is cached makes zero Redis commands while the follower is in sync; the cache never holds
 * more than `max` records under a flood of unique sessions (the oldest are evicted and read from Redis again).
 */
import { createClient } from 'redis';
import { cookieStore, redisStore, sessionCookie } from '../../lib';
import { createRecordCache, resolveRecordCache } from '../../lib/state/record-cache';
import { startRedisServer, type TestRedisServer } from '../helpers/redis-server';
import { dataCommands, login, me, startInstance, waitUntil, type Instance, type Kind } from './support';

let server: TestRedisServer;
let admin: ReturnType<typeof createClient>;

beforeAll(async () => {
  server = await startRedisServer();
  admin = createClient({ url: server.url });
  admin.on('error', () => undefined);
  await admin.connect();
}, 30_000);
afterAll(async () => {
  admin?.destroy();
  await server?.destroy();
});

/** Redis data commands (not the follower's XREAD/XINFO, not INFO) issued while `work` runs. */
async function commandsDuring(work: () => Promise<void>): Promise<number> {
  const before = await dataCommands(admin);
  await work();
  return (await dataCommands(admin)) - before;
}

describe.each<Kind>(['stateful-jwt', 'session-cookie'])('%s', (kind) => {
  test('a request with a cached record makes zero Redis commands while in sync; without the cache it makes one read', async () => {
    const cached = await startInstance({ kind, redisUrl: server.url, prefix: `cost-${kind}:`, name: `cost-${kind}`, recordCache: true });
    const plain = await startInstance({ kind, redisUrl: server.url, prefix: `cost-${kind}:`, name: `plain-${kind}`, recordCache: false });
    try {
      const cred = await login(cached, 'zoe');
      // First request loads the record; once the follower has synced, the next ones are local.
      await waitUntil(async () => (await me(cached, cred)).status === 200 && (await commandsDuring(async () => { await me(cached, cred); })) === 0, 5_000, 'a cached answer');
      const cachedCommands = await commandsDuring(async () => {
        for (let i = 0; i < 50; i++) expect(await me(cached, cred)).toMatchObject({ status: 200 });
      });
      expect(cachedCommands).toBe(0);
      const plainCommands = await commandsDuring(async () => {
        for (let i = 0; i < 50; i++) expect(await me(plain, cred)).toMatchObject({ status: 200 });
      });
      expect(plainCommands).toBe(50); // one GET per request, no touch
    } finally {
      await cached.close();
      await plain.close();
    }
  });

  test('a flood of unique sessions: the cache keeps at most `max` records (older ones are read from Redis again)', async () => {
    const inst: Instance = await startInstance({ kind, redisUrl: server.url, prefix: `flood-${kind}:`, name: `flood-${kind}`, recordCache: { max: 20, maxStaleness: '1s' } });
    try {
      const creds = [];
      for (let i = 0; i < 60; i++) creds.push(await login(inst, `user-${i}`));
      const first = creds[0] as (typeof creds)[number];
      await waitUntil(async () => (await me(inst, first)).status === 200 && (await commandsDuring(async () => { await me(inst, first); })) === 0, 5_000, 'a cached answer');
      for (const c of creds) expect((await me(inst, c)).status).toBe(200); // 60 unique sessions through a 20-entry cache
      // The 20 most recent are cached (no command); the first was evicted (one read).
      const recent = creds.slice(-20);
      expect(await commandsDuring(async () => { for (const c of recent) expect((await me(inst, c)).status).toBe(200); })).toBe(0);
      expect(await commandsDuring(async () => { expect((await me(inst, first)).status).toBe(200); })).toBe(1);
    } finally {
      await inst.close();
    }
  });
});

test('the cache object never exceeds max under 100,000 unique keys (real Redis store, follower in sync)', async () => {
  const client = createClient({ url: server.url });
  client.on('error', () => undefined);
  await client.connect();
  const store = redisStore({ client: client as unknown as Parameters<typeof redisStore>[0]['client'], prefix: 'flood-unit:' });
  const cache = createRecordCache<{ n: number }>(store, { max: 500, maxStaleness: '1s' });
  try {
    expect(cache).not.toBeNull();
    const c = cache as NonNullable<typeof cache>;
    c.get('warm');
    await waitUntil(() => { c.put('probe', { n: -1 }, c.begin()); return c.get('probe') !== undefined; }, 5_000, 'follower in sync');
    let largest = 0;
    for (let i = 0; i < 100_000; i++) {
      c.put(`s:${i}`, { n: i }, c.begin());
      if (c.size > largest) largest = c.size;
    }
    expect(largest).toBe(500);
    expect(c.get('s:99999')).toEqual({ n: 99_999 });
    expect(c.get('s:0')).toBeUndefined();
  } finally {
    await cache?.close();
    client.destroy();
  }
});

test('recordCache settings are checked at start-up', () => {
  expect(resolveRecordCache(undefined)).toBeNull();
  expect(resolveRecordCache(false)).toBeNull();
  expect(resolveRecordCache(true)).toEqual({ max: 10_000, maxStalenessMs: 1000 });
  expect(() => resolveRecordCache({ max: 0 })).toThrow(/max/);
  expect(() => resolveRecordCache({ maxStaleness: '1ms' })).toThrow(/maxStaleness/);
});

test('recordCache with a cookieStore session is refused at start-up', () => {
  expect(() => sessionCookie({ store: cookieStore({ secret: 'k8Jd02mXq9Lp3Zr7Tv5Wy1Ab4Cd6Ef8Gh0Ij2Kl' }), secure: false, recordCache: true })).toThrow(/recordCache/);
});
