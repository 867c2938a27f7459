/** The local revocation cache on its own: bounded, expiring, and never CLEAR for what it cannot vouch for. */
import { CLEAR, REVOKED, RevocationCache, UNKNOWN } from '../../lib/state/revocation-cache';

const caches: RevocationCache[] = [];
function make(maxEntries: number, retentionMs = 60_000) {
  const c = new RevocationCache({ maxEntries, retentionMs, skewMs: 1000 });
  caches.push(c);
  return c;
}
afterAll(() => { for (const c of caches) c.close(); });

test('jti and subject marks', () => {
  const c = make(100);
  const now = Date.now();
  c.addJti('j1', now + 60_000);
  c.addSubject('alice', now, 60_000);
  expect(c.check('bob', 'j1', now)).toBe(REVOKED);
  expect(c.check('bob', 'j2', now)).toBe(CLEAR);
  expect(c.check('alice', 'j2', now - 1)).toBe(REVOKED);
  expect(c.check('alice', 'j2', now)).toBe(REVOKED); // issued in the same millisecond as the mark: refused (fail closed)
  expect(c.check('alice', 'j2', now + 1)).toBe(CLEAR);
  expect(c.check('alice', null, now + 5)).toBe(CLEAR);
  c.addSubject('alice', now - 10_000, 60_000); // an older mark never weakens a newer one
  expect(c.check('alice', null, now - 1)).toBe(REVOKED);
});

test('entries are dropped at expiry by the sweep; subject marks after the retention', () => {
  const c = make(100, 10_000);
  const now = Date.now();
  c.addJti('short', now + 2_000);
  c.addJti('long', now + 50_000);
  c.addSubject('s', now, 0);
  expect(c.size).toBe(3);
  c.sweep(now + 3_500);
  expect(c.check('x', 'short', now)).toBe(CLEAR);
  expect(c.check('x', 'long', now)).toBe(REVOKED);
  expect(c.check('s', null, now - 1)).toBe(REVOKED);
  c.sweep(now + 12_000);
  expect(c.check('s', null, now - 1)).toBe(CLEAR);
  expect(c.size).toBe(1);
  c.addJti('expired', now - 1_000); // never stored
  expect(c.size).toBe(1);
});

test('a flood beyond maxEntries stays bounded and turns misses into UNKNOWN (direct lookup), never CLEAR', () => {
  const c = make(1000);
  const now = Date.now();
  for (let i = 0; i < 5000; i++) c.addJti(`j${i}`, now + 60_000 + i);
  for (let i = 0; i < 500; i++) c.addSubject(`u${i}`, now, 60_000);
  expect(c.size).toBeLessThanOrEqual(1000);
  expect(c.check('x', 'j0', now)).toBe(REVOKED); // held
  expect(c.check('x', 'j4999', now)).toBe(UNKNOWN); // dropped: must be looked up
  expect(c.check('x', 'never-revoked', now)).toBe(UNKNOWN);
  expect(c.check('u499', null, now - 1)).toBe(UNKNOWN);
  // Once everything that was dropped has expired, the cache vouches again.
  c.sweep(now + 200_000);
  expect(c.size).toBe(0);
  expect(c.check('x', 'never-revoked', now)).toBe(CLEAR);
});

test('tokens issued before a gap in the log (trimmed unseen entries) are UNKNOWN; later ones CLEAR', () => {
  const c = make(100);
  const now = Date.now();
  c.gap(now - 10_000);
  expect(c.check('x', 'j', now - 20_000)).toBe(UNKNOWN);
  expect(c.check('x', 'j', now - 9_500)).toBe(UNKNOWN); // within the clock skew allowance
  expect(c.check('x', 'j', now)).toBe(CLEAR);
});

test('the compact jti set (16-byte base64url jtis) agrees with a Map under random adds, lookups and sweeps', () => {
  const { CompactJtiSet } = jest.requireActual('../../lib/state/revocation-jtis') as typeof import('../../lib/state/revocation-jtis');
  const { randomBytes } = jest.requireActual('node:crypto') as typeof import('node:crypto');
  const base = 1_700_000_000;
  const set = new CompactJtiSet(base);
  const model = new Map<string, number>();
  const all: string[] = [];
  for (let round = 0; round < 10; round++) {
    for (let i = 0; i < 3000; i++) {
      const jti = randomBytes(16).toString('base64url');
      const exp = base + round * 10 + (i % 50);
      expect(set.add(jti, exp)).toBe(true);
      model.set(jti, exp);
      all.push(jti);
    }
    const now = base + round * 10;
    set.sweep(now);
    for (const [k, e] of model) if (e <= now) model.delete(k);
    expect(set.size).toBe(model.size);
    for (let i = 0; i < all.length; i += 13) expect(set.has(all[i] as string)).toBe(model.has(all[i] as string));
  }
  // Foreign or non-canonical jtis are refused (the cache keeps them in its Map instead).
  expect(set.add('not-a-16-byte-jti', base + 100)).toBe(false);
  expect(set.add('AAAAAAAAAAAAAAAAAAAAAB', base + 100)).toBe(false); // last 4 bits set: non-canonical
  expect(set.has('AAAAAAAAAAAAAAAAAAAAAA')).toBe(false);
  expect(set.add('AAAAAAAAAAAAAAAAAAAAAA', base + 100)).toBe(true);
  expect(set.has('AAAAAAAAAAAAAAAAAAAAAA')).toBe(true);
  // Decoding is exact: the four words are the token's 16 bytes, and a one-character difference is another key.
  const probe = new CompactJtiSet(base) as unknown as { decode(j: string): boolean; word: Uint32Array };
  for (let i = 0; i < 200; i++) {
    const bytes = randomBytes(16);
    expect(probe.decode(bytes.toString('base64url'))).toBe(true);
    expect([...probe.word]).toEqual([0, 4, 8, 12].map((o) => bytes.readUInt32BE(o)));
  }
  expect(set.has('AAAAAAAAAAAAAAAAAAAAAQ')).toBe(false);
});

test('the cache holds issued-style jtis compactly and other jtis (session ids) in its map, both bounded', () => {
  const c = make(10);
  const now = Date.now();
  const issued = 'q8Jd02mXq9Lp3Zr7Tv5WyA'; // 22 chars, canonical
  const sid = 'k8Jd02mXq9Lp3Zr7Tv5Wy1Ab'; // 24 chars (sealed session id)
  c.addJti(issued, now + 60_000);
  c.addJti(sid, now + 60_000);
  expect(c.check('x', issued, now)).toBe(REVOKED);
  expect(c.check('x', sid, now)).toBe(REVOKED);
  expect(c.size).toBe(2);
  for (let i = 0; i < 20; i++) c.addJti(`${String(i).padStart(2, '0')}Jd02mXq9Lp3Zr7Tv5WyA`, now + 60_000);
  expect(c.size).toBeLessThanOrEqual(10);
  expect(c.check('x', '19Jd02mXq9Lp3Zr7Tv5WyA', now)).toBe(UNKNOWN);
});
