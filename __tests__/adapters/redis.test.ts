import { createClient } from 'redis';
import { redisStore } from '../../lib';
import { testStateStore, type StoreInspector } from '../../lib/testing';
import { cleanupPrefix, connectRedis, keysWithPrefix, redisUrl, uniquePrefix, type TestRedisClient } from '../helpers/redis';
import { startRedisServer, type TestRedisServer } from '../helpers/redis-server';
import { testStrategiesOnStore } from './contract';

let client: TestRedisClient;
beforeAll(async () => {
  client = await connectRedis();
});
afterAll(async () => {
  await client.close();
});

const inspector = (of: () => TestRedisClient) => (): StoreInspector => ({
  keys: (prefix) => keysWithPrefix(of(), prefix),
  pttl: (key) => of().pTTL(key),
  rawGet: (key) => of().get(key),
});
const cleanup = (of: () => TestRedisClient) => async (prefixes: string[]) => {
  for (const p of prefixes) await cleanupPrefix(of(), p);
};

testStateStore('redisStore', (prefix) => redisStore({ client, prefix }), {
  prefix: uniquePrefix,
  logs: ['revocationLog', 'invalidationLog'],
  inspect: inspector(() => client),
  cleanup: cleanup(() => client),
  // A client that never connected: every call must reject, not answer.
  unreachable: () => redisStore({ client: createClient({ url: redisUrl() }), prefix: uniquePrefix('unreachable') }),
});
testStrategiesOnStore('redisStore', (prefix) => redisStore({ client, prefix }), { inspect: inspector(() => client), cleanup: cleanup(() => client) });

describe('on a private redis-server that restarts empty', () => {
  let server: TestRedisServer;
  let own: TestRedisClient;
  beforeAll(async () => {
    server = await startRedisServer();
    own = await connectRedis({ url: server.url });
  }, 30_000);
  afterAll(async () => {
    own?.destroy();
    await server?.destroy();
  });
  testStateStore('redisStore (private server)', (prefix) => redisStore({ client: own, prefix }), {
    prefix: uniquePrefix,
    logs: ['revocationLog', 'invalidationLog'],
    inspect: inspector(() => own),
    restartEmpty: () => server.restartEmpty(),
  });
});

describe('redisStore construction', () => {
  it('refuses a missing or wrong client with a TypeError naming what fits', () => {
    expect(() => redisStore({ client: undefined as never })).toThrow(TypeError);
    expect(() => redisStore({ client: {} as never })).toThrow(/createClient/);
  });
});
