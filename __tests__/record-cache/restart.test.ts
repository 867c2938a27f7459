/**
 * The session-record cache when Redis restarts empty (a private redis-server this file starts and wipes): the
 * records are gone, so the cached sessions must be refused within `maxStaleness` of the data vanishing, as they are
 * without a cache, not served until the entries' own TTL (10 × maxStaleness) runs out.
 */
import { createClient } from 'redis';
import { startRedisServer, type TestRedisServer } from '../helpers/redis-server';
import { login, me, startInstance, waitUntil, warm, type Kind } from './support';

const MAX_STALENESS_MS = 1000;
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

/** XREAD calls the (restarted) server has completed: the follower's rounds, the only XREADs on this server. */
async function xreadCalls(): Promise<number> {
  const info = String(await admin.sendCommand(['INFO', 'commandstats']));
  return Number(/cmdstat_xread:calls=(\d+)/.exec(info)?.[1] ?? 0);
}

describe.each<Kind>(['stateful-jwt', 'session-cookie'])('%s', (kind) => {
  test('after Redis restarts empty, a cached session is refused (401) once the follower is back in sync, not served from the cache', async () => {
    const inst = await startInstance({ kind, redisUrl: server.url, prefix: `restart-${kind}:`, name: `restart-${kind}`, recordCache: { max: 100, maxStaleness: `${MAX_STALENESS_MS}ms` } });
    try {
      const cred = await login(inst, 'rita');
      await warm(admin, inst, cred, MAX_STALENESS_MS);

      await server.restartEmpty();
      // No request until the follower is back and has completed a round on the new server: a request made while
      // it is behind reads Redis (and drops the entry), which would hide what the cache does once it is in sync.
      await waitUntil(async () => (await xreadCalls().catch(() => 0)) >= 2, 10_000, 'the follower reading the restarted server');

      expect(await me(inst, cred)).toMatchObject({ status: 401, code: 'ERR_INVALID_CREDENTIAL' });
      // It stays refused, and Redis holds no record for it (nothing was written back from the cache).
      expect(await me(inst, cred)).toMatchObject({ status: 401 });
      const keys = await admin.keys(`restart-${kind}:*`);
      const records = keys.filter((k) => !k.includes('rv:log'));
      expect(records).toEqual([]);
    } finally {
      await inst.close();
    }
  }, 60_000);
});
