/**
 * redisStore on ioredis and iovalkey clients (standalone) against real Redis servers: the published store
 * contract, the strategies on top of it, a private server that restarts empty, and the follower on its own
 * named connection. Keys are inspected through a node-redis client on the same server.
 */
import { Redis } from 'ioredis';
import Valkey from 'iovalkey';
import { redisStore } from '../../lib';
import { testStateStore, type StoreInspector } from '../../lib/testing';
import { cleanupPrefix, connectRedis, keysWithPrefix, redisUrl, uniquePrefix, type TestRedisClient } from '../helpers/redis';
import { startRedisServer, type TestRedisServer } from '../helpers/redis-server';
import { eventually, testStrategiesOnStore } from './contract';
import { credentialFrom, makeApp, makeStrategy } from './test-app';
import request from 'supertest';

jest.setTimeout(60_000);

const url = new URL(redisUrl());
const at = { host: url.hostname, port: Number(url.port || 6379) };

let admin: TestRedisClient;
let io: Redis;
let valkey: Valkey;
beforeAll(async () => {
  admin = await connectRedis();
  io = new Redis({ ...at, connectionName: 'ep-ioredis-test' });
  valkey = new Valkey({ ...at, connectionName: 'ep-iovalkey-test' });
  await Promise.all([io, valkey].map(ready));
});

/** Resolves once an ioredis / iovalkey client can take commands. */
function ready(c: { status: string; once(event: 'ready', listener: () => void): unknown }): Promise<void> {
  return new Promise((resolve) => { if (c.status === 'ready') resolve(); else c.once('ready', () => resolve()); });
}
afterAll(async () => {
  await Promise.all([io?.quit(), valkey?.quit(), admin?.close()]);
});

const inspector = (of: () => TestRedisClient) => (): StoreInspector => ({
  keys: (prefix) => keysWithPrefix(of(), prefix),
  pttl: (key) => of().pTTL(key),
  rawGet: (key) => of().get(key),
});
const cleanup = (of: () => TestRedisClient) => async (prefixes: string[]) => {
  for (const p of prefixes) await cleanupPrefix(of(), p);
};

testStateStore('redisStore on ioredis', (prefix) => redisStore({ client: io, prefix }), {
  prefix: uniquePrefix,
  logs: ['revocationLog', 'invalidationLog'],
  inspect: inspector(() => admin),
  cleanup: cleanup(() => admin),
  // lazyConnect and never connected: every call must reject, not answer or hang.
  unreachable: () => redisStore({ client: new Redis({ ...at, lazyConnect: true }), prefix: uniquePrefix('io-unreachable') }),
});
testStrategiesOnStore('redisStore on ioredis', (prefix) => redisStore({ client: io, prefix }), { inspect: inspector(() => admin), cleanup: cleanup(() => admin) });

testStateStore('redisStore on iovalkey', (prefix) => redisStore({ client: valkey, prefix }), {
  prefix: uniquePrefix,
  logs: ['revocationLog', 'invalidationLog'],
  inspect: inspector(() => admin),
  cleanup: cleanup(() => admin),
});

describe('redisStore on ioredis: a private redis-server that restarts empty', () => {
  let server: TestRedisServer;
  let own: Redis;
  let ownAdmin: TestRedisClient;
  beforeAll(async () => {
    server = await startRedisServer();
    own = new Redis({ host: server.host, port: server.port, retryStrategy: () => 50 });
    own.on('error', () => undefined);
    await ready(own);
    ownAdmin = await connectRedis({ url: server.url });
  }, 30_000);
  afterAll(async () => {
    own?.disconnect();
    ownAdmin?.destroy();
    await server?.destroy();
  });
  testStateStore('redisStore on ioredis (private server)', (prefix) => redisStore({ client: own, prefix }), {
    prefix: uniquePrefix,
    logs: ['revocationLog', 'invalidationLog'],
    inspect: inspector(() => ownAdmin),
    restartEmpty: () => server.restartEmpty(),
  });
});

describe('redisStore on ioredis: the follower and record cache', () => {
  it('follows the revocation log on a connection of its own (named <connectionName>:rv-log), closed with the app', async () => {
    const prefix = uniquePrefix('io-follower');
    const { app, auth } = makeApp(makeStrategy('stateless-jwt', redisStore({ client: io, prefix })));
    const followers = async () => String(await admin.sendCommand(['CLIENT', 'LIST'])).split('\n').filter((l) => / name=ep-ioredis-test:rv-log /.test(` ${l} `));
    try {
      const cred = credentialFrom('stateless-jwt', await request(app).post('/login').send({ id: 'f1' }));
      expect((await request(app).get('/me').set(cred)).status).toBe(200);
      await eventually(async () => (await followers()).length >= 1, 'a follower connection in CLIENT LIST', 10_000);
      expect((await request(app).post('/logout').set(cred)).status).toBe(204);
      expect((await request(app).get('/me').set(cred)).status).toBe(401);
    } finally {
      await auth.close();
    }
    await eventually(async () => (await followers()).length === 0, 'the follower connection closed', 10_000);
  });
});
