/**
 * redisStore on an ioredis Cluster client against a local 3-master Redis Cluster: the store contract, the
 * strategies, keys spread over every master, and two app instances sharing it (the log followers run on a
 * Cluster of their own, and a subject's index stays in one slot through its hash tag). Keys are inspected
 * through a node-redis cluster client.
 */
import { Cluster } from 'ioredis';
import { createCluster, type RedisClusterType } from 'redis';
import request from 'supertest';
import { redisStore } from '../../lib';
import { testStateStore, type StoreInspector } from '../../lib/testing';
import { startRedisCluster, type TestRedisCluster } from '../helpers/redis-server';
import { escapeGlob, uniquePrefix } from '../helpers/redis';
import { eventually, testStrategiesOnStore } from './contract';
import { credentialFrom, makeApp, makeStrategy, STRATEGY_KINDS } from './test-app';

jest.setTimeout(60_000);

let cluster: TestRedisCluster;
let admin: RedisClusterType;
let io: Cluster;

beforeAll(async () => {
  cluster = await startRedisCluster();
  admin = createCluster({ rootNodes: cluster.rootNodes }) as unknown as RedisClusterType;
  admin.on('error', () => undefined);
  await admin.connect();
  io = new Cluster(cluster.nodes.map((n) => ({ host: n.host, port: n.port })));
  io.on('error', () => undefined);
  await new Promise<void>((resolve) => { if (io.status === 'ready') resolve(); else io.once('ready', () => resolve()); });
}, 60_000);

afterAll(async () => {
  io?.disconnect();
  admin?.destroy();
  await cluster?.stop();
});

async function clusterKeys(prefix: string): Promise<string[]> {
  const found: string[] = [];
  for (const master of admin.masters) {
    const node = await admin.nodeClient(master);
    for await (const batch of node.scanIterator({ MATCH: `${escapeGlob(prefix)}*`, COUNT: 500 })) found.push(...batch);
  }
  return found;
}

const inspector = (): StoreInspector => ({
  keys: clusterKeys,
  pttl: (key) => admin.pTTL(key),
  rawGet: (key) => admin.get(key),
});

testStateStore('redisStore on an ioredis Cluster', (prefix) => redisStore({ client: io, prefix }), {
  prefix: uniquePrefix,
  logs: ['revocationLog', 'invalidationLog'],
  inspect: inspector,
});
testStrategiesOnStore('redisStore on an ioredis Cluster', (prefix) => redisStore({ client: io, prefix }), { inspect: inspector });

describe('redisStore on an ioredis Cluster: keys spread over every master', () => {
  it('a store\'s keys land on all three masters and still read back through getMany', async () => {
    const prefix = uniquePrefix('io-cluster-spread');
    const store = redisStore({ client: io, prefix });
    const keys = Array.from({ length: 40 }, (_, i) => `k${i}`);
    await Promise.all(keys.map((k) => store.set(k, `v${k}`, 60_000)));
    const owners = new Set<string>();
    for (const master of admin.masters) {
      const node = await admin.nodeClient(master);
      let n = 0;
      for await (const batch of node.scanIterator({ MATCH: `${escapeGlob(prefix)}*`, COUNT: 500 })) n += batch.length;
      if (n > 0) owners.add(`${master.host}:${master.port}`);
    }
    expect(owners.size).toBe(3);
    expect(await store.getMany(keys)).toEqual(keys.map((k) => `v${k}`));
  });
});

describe('redisStore on an ioredis Cluster: two app instances sharing it', () => {
  it.each(STRATEGY_KINDS)('%s: a logout and a revokeAll on one instance are refused by the other (within the revocation lag bound)', async (kind) => {
    const prefix = uniquePrefix(`io-cluster-two-${kind}`);
    const one = makeApp(makeStrategy(kind, redisStore({ client: io, prefix })));
    const two = makeApp(makeStrategy(kind, redisStore({ client: io, prefix })));
    try {
      const login = async (id: string) => credentialFrom(kind, await request(one.app).post('/login').send({ id }));
      const a = await login('twin-a');
      const b1 = await login('twin-b');
      const b2 = await login('twin-b');
      for (const cred of [a, b1, b2]) expect((await request(two.app).get('/me').set(cred)).status).toBe(200);
      expect((await request(one.app).post('/logout').set(a)).status).toBe(204);
      expect((await request(one.app).post('/revoke-all/twin-b')).status).toBe(204);
      const done = Date.now();
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
