/**
 * redisStore on a node-redis cluster client against a local 3-master Redis Cluster:
 * the contract suite, then a failover-free restart of one node.
 */
import { createCluster, type RedisClusterType } from 'redis';
import { redisStore, StoreUnavailableError, type StateStore } from '../../lib';
import { startRedisCluster, type TestRedisCluster } from '../helpers/redis-server';
import { escapeGlob, uniquePrefix } from '../helpers/redis';
import request from 'supertest';
import { testStateStore, type StoreInspector } from '../../lib/testing';
import { eventually, testStrategiesOnStore } from './contract';
import { credentialFrom, makeApp, makeStrategy, STRATEGY_KINDS } from './test-app';

jest.setTimeout(60_000);

let cluster: TestRedisCluster;
let client: RedisClusterType;

beforeAll(async () => {
  cluster = await startRedisCluster();
  client = createCluster({ rootNodes: cluster.rootNodes }) as unknown as RedisClusterType;
  client.on('error', () => undefined);
  await client.connect();
}, 60_000);

afterAll(async () => {
  client?.destroy();
  await cluster?.stop();
});

async function clusterKeys(prefix: string): Promise<string[]> {
  const found: string[] = [];
  for (const master of client.masters) {
    const node = await client.nodeClient(master);
    for await (const batch of node.scanIterator({ MATCH: `${escapeGlob(prefix)}*`, COUNT: 500 })) found.push(...batch);
  }
  return found;
}

const inspector = (): StoreInspector => ({
  keys: clusterKeys,
  pttl: (key) => client.pTTL(key),
  rawGet: (key) => client.get(key),
});

testStateStore('redisStore on a cluster client', (prefix) => redisStore({ client, prefix }), {
  prefix: uniquePrefix,
  logs: ['revocationLog', 'invalidationLog'],
  inspect: inspector,
});
testStrategiesOnStore('redisStore on a cluster client', (prefix) => redisStore({ client, prefix }), { inspect: inspector });

describe('redisStore on a cluster: keys spread over every master', () => {
  it('a store\'s keys land on all three masters and still read back through getMany', async () => {
    const prefix = uniquePrefix('cluster-spread');
    const store = redisStore({ client, prefix });
    const keys = Array.from({ length: 40 }, (_, i) => `k${i}`);
    await Promise.all(keys.map((k) => store.set(k, `v${k}`, 60_000)));
    const owners = new Set<string>();
    for (const master of client.masters) {
      const node = await client.nodeClient(master);
      let n = 0;
      for await (const batch of node.scanIterator({ MATCH: `${escapeGlob(prefix)}*`, COUNT: 500 })) n += batch.length;
      if (n > 0) owners.add(`${master.host}:${master.port}`);
    }
    expect(owners.size).toBe(3);
    expect(await store.getMany(keys)).toEqual(keys.map((k) => `v${k}`));
  });
});

describe('redisStore on a cluster: one node restarted (no failover)', () => {
  it('answers 503 or correct values during the restart, and correct values after it', async () => {
    const prefix = uniquePrefix('cluster-restart');
    const store: StateStore = redisStore({ client, prefix, timeout: '1s' });
    const keys = Array.from({ length: 30 }, (_, i) => `r${i}`);
    await Promise.all(keys.map((k) => store.set(k, `v${k}`, 120_000)));

    const victim = cluster.nodes[1];
    if (!victim) throw new Error('no node 1');
    // Which keys live on the node we restart? (no persistence: they are lost with it)
    const victimNode = client.masters.find((m) => m.port === victim.port);
    if (!victimNode) throw new Error('victim is not a master');
    const onVictim = new Set<string>();
    {
      const node = await client.nodeClient(victimNode);
      for await (const batch of node.scanIterator({ MATCH: `${escapeGlob(prefix)}*`, COUNT: 500 })) {
        for (const k of batch) onVictim.add(k.slice(prefix.length));
      }
    }
    expect(onVictim.size).toBeGreaterThan(0);
    expect(onVictim.size).toBeLessThan(keys.length);

    // Hammer the store while the node restarts: every answer is a correct value or a StoreUnavailableError.
    let stop = false;
    const outcomes = { ok: 0, unavailable: 0, wrong: 0, otherError: 0, slowest: 0 };
    const hammer = (async () => {
      while (!stop) {
        await Promise.all(keys.map(async (k) => {
          const t0 = Date.now();
          try {
            const v = await store.get(k);
            if (v === `v${k}` || (v === null && onVictim.has(k))) outcomes.ok += 1;
            else outcomes.wrong += 1;
          } catch (err) {
            if (err instanceof StoreUnavailableError) outcomes.unavailable += 1;
            else outcomes.otherError += 1;
          }
          outcomes.slowest = Math.max(outcomes.slowest, Date.now() - t0);
        }));
      }
    })();
    await cluster.restartNode(1);
    // After the restart: keep going until the store answers every key again.
    await eventually(async () => {
      try {
        const got = await store.getMany(keys);
        return got.every((v, i) => v === `v${keys[i]}` || (v === null && onVictim.has(keys[i] as string)));
      } catch {
        return false;
      }
    }, 'cluster store answers after the node restart', 30_000, 50);
    stop = true;
    await hammer;

    expect(outcomes.wrong).toBe(0);
    expect(outcomes.otherError).toBe(0);
    expect(outcomes.ok).toBeGreaterThan(0);
    expect(outcomes.slowest).toBeLessThan(2_000);

    // Correct answers after it: keys on the surviving nodes kept, the restarted node is empty
    // (no persistence in this cluster), and writes to its slots work again.
    const after = await store.getMany(keys);
    keys.forEach((k, i) => expect(after[i]).toBe(onVictim.has(k) ? null : `v${k}`));
    await eventually(async () => {
      try {
        await Promise.all(keys.map((k) => store.set(k, `w${k}`, 60_000)));
        return true;
      } catch {
        return false;
      }
    }, 'writes to every slot succeed', 15_000, 50);
    expect(await store.getMany(keys)).toEqual(keys.map((k) => `w${k}`));
    await store.indexAdd('after-restart', 'm', 60_000);
    expect(await store.indexMembers('after-restart')).toEqual(['m']);
     
    console.log(`cluster restart: ${JSON.stringify(outcomes)}`);
  });
});

describe('redisStore on a cluster: two app instances sharing it', () => {
  it.each(STRATEGY_KINDS)('%s: a logout and a revokeAll on one instance are refused by the other (within the revocation lag bound)', async (kind) => {
    const prefix = uniquePrefix(`cluster-two-${kind}`);
    const one = makeApp(makeStrategy(kind, redisStore({ client, prefix })));
    const two = makeApp(makeStrategy(kind, redisStore({ client, prefix })));
    try {
      const login = async (id: string) => credentialFrom(kind, await request(one.app).post('/login').send({ id }));
      const a = await login('twin-a');
      const b1 = await login('twin-b');
      const b2 = await login('twin-b');
      for (const cred of [a, b1, b2]) expect((await request(two.app).get('/me').set(cred)).status).toBe(200);
      expect((await request(one.app).post('/logout').set(a)).status).toBe(204);
      expect((await request(one.app).post('/revoke-all/twin-b')).status).toBe(204);
      const done = Date.now();
      // statelessJwt: other instances learn through the revocation log within maxRevocationLag (1 s by default)
      for (const cred of [a, b1, b2]) {
        await eventually(async () => (await request(two.app).get('/me').set(cred)).status === 401, 'the other instance refuses it', 5_000);
      }
      expect(Date.now() - done).toBeLessThan(kind === 'stateless-jwt' ? 2_500 : 1_000);
      for (const cred of [a, b1, b2]) expect((await request(one.app).get('/me').set(cred)).status).toBe(401);
    } finally {
      await one.auth.close();
      await two.auth.close();
    }
  });
});
