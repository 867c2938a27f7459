import fc from 'fast-check';
import { Lru } from '../lib/cache/lru';

/** Which candidates are still cached (a final check: each hit reorders the entries). */
function survivors(lru: Lru<number>, candidates: readonly string[]): string[] {
  return candidates.filter((key) => lru.get(key) !== undefined);
}

describe('Lru', () => {
  test('an insert past max evicts the least recently used entry, and size never exceeds max', () => {
    const lru = new Lru<number>(3);
    lru.set('a', 1);
    lru.set('b', 2);
    lru.set('c', 3);
    lru.set('d', 4);
    expect(lru.size).toBe(3);
    expect(lru.get('a')).toBeUndefined();
    expect([lru.get('b'), lru.get('c'), lru.get('d')]).toEqual([2, 3, 4]);
  });

  test('a hit moves its entry to the most recent end, even when it was already near it', () => {
    const lru = new Lru<number>(4);
    for (const [i, key] of ['a', 'b', 'c', 'd'].entries()) lru.set(key, i);
    expect(lru.get('c')).toBe(2);
    lru.set('e', 4);
    lru.set('f', 5);
    lru.set('g', 6);
    // Recency after the hit was a, b, d, c: three inserts evict a, b and d, not c.
    expect(survivors(lru, ['a', 'b', 'c', 'd', 'e', 'f', 'g'])).toEqual(['c', 'e', 'f', 'g']);
  });

  test('set on an existing key replaces its value and makes it the most recent', () => {
    const lru = new Lru<number>(2);
    lru.set('a', 1);
    lru.set('b', 2);
    lru.set('a', 10);
    lru.set('c', 3);
    expect(lru.size).toBe(2);
    expect(lru.get('b')).toBeUndefined();
    expect(lru.get('a')).toBe(10);
  });

  test('delete and clear leave a list that keeps evicting in order', () => {
    const lru = new Lru<number>(2);
    lru.set('a', 1);
    lru.set('b', 2);
    lru.delete('a');
    lru.delete('missing');
    lru.set('c', 3);
    expect(lru.size).toBe(2);
    lru.set('d', 4);
    expect(survivors(lru, ['a', 'b', 'c', 'd'])).toEqual(['c', 'd']);
    lru.clear();
    expect(lru.size).toBe(0);
    lru.set('e', 5);
    lru.set('f', 6);
    lru.set('g', 7);
    expect(survivors(lru, ['e', 'f', 'g'])).toEqual(['f', 'g']);
  });

  test('behaves as an exact LRU under any sequence of operations', () => {
    const key = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h');
    const op = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), key, value: fc.integer() }),
      fc.record({ kind: fc.constant('get' as const), key }),
      fc.record({ kind: fc.constant('delete' as const), key }),
    );
    fc.assert(fc.property(fc.integer({ min: 1, max: 6 }), fc.array(op, { minLength: 20, maxLength: 80 }), (max, ops) => {
      const lru = new Lru<number>(max);
      // Reference: least recently used first.
      let model: Array<[string, number]> = [];
      for (const o of ops) {
        const at = model.findIndex(([k]) => k === o.key);
        if (o.kind === 'set') {
          if (at !== -1) model.splice(at, 1);
          model.push([o.key, o.value]);
          if (model.length > max) model = model.slice(model.length - max);
          lru.set(o.key, o.value);
        } else if (o.kind === 'get') {
          const expected = at === -1 ? undefined : model[at]![1];
          if (at !== -1) model.push(...model.splice(at, 1));
          expect(lru.get(o.key)).toBe(expected);
        } else {
          if (at !== -1) model.splice(at, 1);
          lru.delete(o.key);
        }
        expect(lru.size).toBe(model.length);
      }
    }), { numRuns: 300 });
  });
});
