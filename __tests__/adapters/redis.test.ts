import { redisStore } from '../../lib';
import { cleanupPrefix, connectRedis, keysWithPrefix, type TestRedisClient } from '../helpers/redis';
import { testStateStore } from './contract';

let client: TestRedisClient;
beforeAll(async () => {
  client = await connectRedis();
});
afterAll(async () => {
  await client.close();
});

testStateStore('redisStore', (prefix) => redisStore({ client, prefix }), {
  inspect: () => ({
    keys: (prefix) => keysWithPrefix(client, prefix),
    pttl: (key) => client.pTTL(key),
    rawGet: (key) => client.get(key),
  }),
  cleanup: async (prefixes) => {
    for (const p of prefixes) await cleanupPrefix(client, p);
  },
});

describe('redisStore construction', () => {
  it('refuses a missing or wrong client with a TypeError naming what fits', () => {
    expect(() => redisStore({ client: undefined as never })).toThrow(TypeError);
    expect(() => redisStore({ client: {} as never })).toThrow(/createClient/);
  });
});
