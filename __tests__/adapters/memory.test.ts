import { memoryStore, StoreUnavailableError } from '../../lib';
import { testStateStore } from '../../lib/testing';
import { uniquePrefix } from '../helpers/redis';
import { testStrategiesOnStore } from './contract';

testStateStore('memoryStore', (prefix) => memoryStore({ prefix }), { prefix: uniquePrefix });
testStrategiesOnStore('memoryStore', (prefix) => memoryStore({ prefix }));

describe('memoryStore specifics', () => {
  it('fails closed when full instead of evicting (a dropped revocation would fail open)', async () => {
    const store = memoryStore({ prefix: 'm:', maxEntries: 3 });
    try {
      await store.set('rv:1', '1', 60_000);
      await store.set('rv:2', '1', 60_000);
      await store.set('rv:3', '1', 60_000);
      await expect(store.set('rv:4', '1', 60_000)).rejects.toBeInstanceOf(StoreUnavailableError);
      expect(await store.getMany(['rv:1', 'rv:2', 'rv:3'])).toEqual(['1', '1', '1']);
      // overwriting an existing key is not growth
      await expect(store.set('rv:1', '2', 60_000)).resolves.toBeUndefined();
      await store.delete('rv:2');
      await expect(store.set('rv:4', '1', 60_000)).resolves.toBeUndefined();
    } finally {
      await store.close();
    }
  });
});
