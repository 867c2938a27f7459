/**
 * redisStore on Sentinel clients (ioredis `new Redis({ sentinels })`, node-redis `createSentinel()`) against a
 * real master, replica and sentinel on loopback: requests under load through a `SENTINEL FAILOVER` never accept
 * a revoked credential and never hang. ioredis keeps the revocation follower and recordCache (its sentinel
 * client has duplicate()); node-redis's has none, and the store says so at start-up.
 */
import { Redis } from 'ioredis';
import { createSentinel } from 'redis';
import request from 'supertest';
import { redisStore, type StateStore } from '../../lib';
import { REDIS_NO_OWN_CONNECTION } from '../../adapters/redis-sentinel';
import { startSentinelSet, type TestSentinelSet } from '../helpers/redis-sentinel';
import { uniquePrefix } from '../helpers/redis';
import { eventually } from './contract';
import { credentialFrom, makeApp, makeStrategy, type StrategyKind } from './test-app';

jest.setTimeout(180_000);

let set: TestSentinelSet;
beforeAll(async () => { set = await startSentinelSet(); }, 90_000);
afterAll(async () => { await set?.stop(); });

type Client = { store: (prefix: string) => StateStore; close(): Promise<void> };

async function ioredisSentinel(): Promise<Client> {
  const client = new Redis({ sentinels: [set.sentinel], name: set.name, retryStrategy: () => 100 });
  client.on('error', () => undefined);
  await new Promise<void>((resolve) => { if (client.status === 'ready') resolve(); else client.once('ready', () => resolve()); });
  return { store: (prefix) => redisStore({ client, prefix }), close: async () => { client.disconnect(); } };
}

async function nodeRedisSentinel(): Promise<Client> {
  const client = createSentinel({ name: set.name, sentinelRootNodes: [set.sentinel] });
  client.on('error', () => undefined);
  await client.connect();
  return { store: (prefix) => redisStore({ client: client as never, prefix }), close: async () => { client.destroy(); } };
}

/** Warnings with `code` passed to process.emitWarning while `body` runs (jest's per-file `process` never emits them). */
function warningsDuring<T>(code: string, body: () => T): { value: T; warnings: string[] } {
  const spy = jest.spyOn(process, 'emitWarning');
  try {
    const value = body();
    const warnings = spy.mock.calls.filter(([, o]) => (o as { code?: string } | undefined)?.code === code).map(([w]) => String(w));
    return { value, warnings };
  } finally {
    spy.mockRestore();
  }
}

/** One GET /me: its status, or 'hung' when no answer came within the bound. */
async function probe(app: Parameters<typeof request>[0], cred: Record<string, string>): Promise<number | 'hung'> {
  try {
    return (await request(app).get('/me').set(cred).timeout(5_000)).status;
  } catch (err) {
    if ((err as { timeout?: unknown }).timeout !== undefined) return 'hung';
    throw err;
  }
}

const KINDS: readonly StrategyKind[] = ['stateless-jwt', 'stateful-jwt', 'session-cookie'];

describe.each([
  ['ioredis', ioredisSentinel, true],
  ['node-redis', nodeRedisSentinel, false],
] as const)('redisStore on a %s Sentinel client', (label, connect, follows) => {
  it(`${follows ? 'keeps the follower (no warning)' : 'says at start-up that the follower and recordCache are off'}; through a failover under load: 0 revoked credentials accepted, 0 hung requests`, async () => {
    const client = await connect();
    const apps: { kind: StrategyKind; app: ReturnType<typeof makeApp> }[] = [];
    try {
      for (const kind of KINDS) {
        const { value: store, warnings } = warningsDuring(REDIS_NO_OWN_CONNECTION, () => client.store(uniquePrefix(`sentinel-${label}-${kind}`)));
        expect(store.revocationLog !== undefined).toBe(follows);
        expect(warnings).toHaveLength(follows ? 0 : 1);
        if (!follows) expect(warnings[0]).toMatch(/revocation log follower and recordCache are off/);
        apps.push({ kind, app: makeApp(makeStrategy(kind, store)) });
      }
      const valid: { app: (typeof apps)[number]['app']; cred: Record<string, string> }[] = [];
      const revoked: typeof valid = [];
      for (const { kind, app } of apps) {
        for (let i = 0; i < 4; i++) {
          const login = async () => credentialFrom(kind, await request(app.app).post('/login').send({ id: `${kind}-u${i}` }));
          valid.push({ app, cred: await login() });
          const gone = await login();
          expect((await request(app.app).post('/logout').set(gone)).status).toBe(204);
          revoked.push({ app, cred: gone });
        }
      }
      // What a failover can lose is what the replica has not received yet: these revocations are on it.
      await set.replicated();

      const counts = { ok: 0, unavailable: 0, revokedAccepted: 0, revokedRefused: 0, hung: 0, other: 0 };
      let stop = false;
      const loop = async (n: number) => {
        for (let i = n; !stop; i += 1) {
          const isRevoked = i % 2 === 1;
          const pool = isRevoked ? revoked : valid;
          const { app, cred } = pool[i % pool.length] as (typeof valid)[number];
          const status = await probe(app.app, cred);
          if (status === 'hung') counts.hung += 1;
          else if (status === 200) counts[isRevoked ? 'revokedAccepted' : 'ok'] += 1;
          else if (status === 401 && isRevoked) counts.revokedRefused += 1;
          else if (status === 503) counts.unavailable += 1;
          else counts.other += 1;
        }
      };
      const loops = Array.from({ length: 6 }, (_, n) => loop(n));
      await eventually(() => counts.ok > 20, 'load before the failover', 30_000);
      const before = await set.masterPort();
      const after = await set.failover();
      expect(after).not.toBe(before);
      // Served again by the new master, for every strategy.
      for (const { app, cred } of valid) await eventually(async () => (await probe(app.app, cred)) === 200, 'a valid credential answers 200 after the failover', 30_000, 100);
      const okAfter = counts.ok;
      await eventually(() => counts.ok > okAfter + 20, 'load after the failover', 30_000);
      stop = true;
      await Promise.all(loops);
      console.log(`${label} sentinel failover: ${JSON.stringify(counts)}`);
      expect(counts.revokedAccepted).toBe(0);
      expect(counts.hung).toBe(0);
      expect(counts.other).toBe(0);
      expect(counts.revokedRefused).toBeGreaterThan(0);

      // A revocation written to the new master is enforced.
      for (const { kind, app } of apps) {
        const cred = credentialFrom(kind, await request(app.app).post('/login').send({ id: `${kind}-late` }));
        expect((await request(app.app).get('/me').set(cred)).status).toBe(200);
        expect((await request(app.app).post('/logout').set(cred)).status).toBe(204);
        expect((await request(app.app).get('/me').set(cred)).status).toBe(401);
      }
    } finally {
      await Promise.all(apps.map(({ app }) => app.auth.close()));
      await client.close();
    }
  });
});
