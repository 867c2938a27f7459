/**
 * `express-principal/testing`: the StateStore contract (docs/stores.md) as a test suite, for people who write
 * their own store. `testStateStore(name, makeStore, options)` registers it with the test runner's globals
 * (jest, or vitest with `globals: true`); call it at the top level of a test file.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { RevocationLog, RevocationLogFollower, RevocationLogListener, StateStore } from './types';

// The runner's globals, declared here so that a project without @types/jest (or with vitest) compiles.
// Only matchers jest and vitest share.
interface Matchers {
  toBe(expected: unknown): void;
  toEqual(expected: unknown): void;
  toBeNull(): void;
  toBeGreaterThan(expected: number): void;
  toBeGreaterThanOrEqual(expected: number): void;
  toBeLessThanOrEqual(expected: number): void;
}
declare const describe: (name: string, body: () => void) => void;
declare const it: (name: string, body: () => Promise<void>, timeoutMs?: number) => void;
declare const expect: (actual: unknown) => Matchers;
declare const afterEach: (body: () => Promise<void>, timeoutMs?: number) => void;

/** Raw access to the backend, for stores that have one: used to check prefixes and that every key has a TTL. */
export interface StoreInspector {
  /** Every key whose name starts with `prefix`. */
  keys(prefix: string): Promise<string[]>;
  /** Remaining TTL of a key in ms (-1: none, -2: missing), as Redis's PTTL. */
  pttl(key: string): Promise<number>;
  /** The value held under a full key name. */
  rawGet(key: string): Promise<string | null>;
}

/** The optional logs a store can have (see `StateStore`). */
export type StoreLogName = 'revocationLog' | 'invalidationLog';

/** Options of `testStateStore()`: raw access to the backend, cleanup, and which optional parts to test. */
export interface StoreContractOptions {
  /** Called at test time (clients are usually connected in `beforeAll`). */
  inspect?: () => StoreInspector;
  /** Called after each test with the prefixes it used (e.g. to delete their keys). */
  cleanup?: (prefixes: string[]) => Promise<void>;
  /** A unique key prefix per store the suite makes. @default `ep-contract:<label>:<random>:` */
  prefix?: (label: string) => string;
  /**
   * The logs the store has. A shared store should have both: without `revocationLog` every stateless check is a
   * store round trip, without `invalidationLog` record caches stay off. @default []
   */
  logs?: readonly StoreLogName[];
  /** A store of this kind whose backend cannot answer (down, unreachable): every call must reject. */
  unreachable?: () => StateStore | Promise<StateStore>;
  /** The backend loses all its data and drops its connections (a restart without persistence). */
  restartEmpty?: () => Promise<void>;
  /** Deadline of each test. @default 30_000 */
  timeoutMs?: number;
}

/** Makes the store under test on the given key prefix. */
export type MakeStore = (prefix: string) => StateStore | Promise<StateStore>;

/** What each group of tests is given. */
interface Suite {
  readonly name: string;
  readonly options: StoreContractOptions;
  readonly timeoutMs: number;
  /** A store on a new prefix, or on `prefix` (a second store object over the same state). */
  fresh(label: string, prefix?: string): Promise<{ store: StateStore; prefix: string }>;
  /** A follower closed after the test. */
  follow(log: RevocationLog, listener: RevocationLogListener, blockMs?: number): RevocationLogFollower;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `check` holds; throws after `timeoutMs`. */
async function eventually(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 8_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await sleep(20);
  }
}

/** Waits until `ms` have passed since `since`, checking `invariant` all along (a TTL that must not have expired yet). */
async function holdsFor(since: number, ms: number, invariant: () => Promise<boolean>, what: string): Promise<void> {
  do {
    if (!(await invariant())) throw new Error(`broke after ${Date.now() - since} ms: ${what}`);
    await sleep(20);
  } while (Date.now() - since < ms);
  if (!(await invariant())) throw new Error(`broke at the end: ${what}`);
}

/** Resolves to the rejection's `code`, or fails when the call resolves (a store that cannot answer must not guess). */
async function rejectionCode(call: () => Promise<unknown>): Promise<string> {
  let outcome: unknown;
  try {
    outcome = await call();
  } catch (err) {
    return err instanceof Error ? String((err as { code?: unknown }).code) : `non-Error ${String(err)}`;
  }
  throw new Error(`resolved with ${JSON.stringify(outcome)} instead of rejecting`);
}

function defaultPrefix(label: string): string {
  return `ep-contract:${label.replace(/[^A-Za-z0-9_.-]+/g, '-').slice(0, 40)}:${Date.now().toString(36)}:${randomBytes(4).toString('hex')}:`;
}

/** Registers the StateStore contract suite for one store implementation. */
export function testStateStore(name: string, makeStore: MakeStore, options: StoreContractOptions = {}): void {
  describe(`StateStore contract: ${name}`, () => {
    let used: string[] = [];
    let opened: StateStore[] = [];
    let followers: RevocationLogFollower[] = [];
    const suite: Suite = {
      name,
      options,
      timeoutMs: options.timeoutMs ?? 30_000,
      async fresh(label, existing) {
        const prefix = existing ?? (options.prefix ?? defaultPrefix)(`${name}-${label}`);
        const store = await makeStore(prefix);
        if (existing === undefined) used.push(prefix);
        opened.push(store);
        return { store, prefix };
      },
      follow(log, listener, blockMs = 50) {
        const follower = log.follow(listener, blockMs);
        let closing: Promise<void> | null = null;
        // Closed once, whether by the test or after it.
        const once: RevocationLogFollower = { close: () => (closing ??= follower.close()) };
        followers.push(once);
        return once;
      },
    };
    afterEach(async () => {
      await Promise.all(followers.map((f) => f.close()));
      await Promise.all(opened.map((s) => s.close()));
      if (options.cleanup) await options.cleanup(used);
      used = [];
      opened = [];
      followers = [];
    }, suite.timeoutMs);

    describeValues(suite);
    describeSwap(suite);
    describeSetMax(suite);
    describeIndex(suite);
    describePrefixes(suite);
    describeLogs(suite);
    describeFailures(suite);
  });
}

function describeValues(suite: Suite): void {
  const { timeoutMs } = suite;
  describe('get / getMany / set / delete / touch', () => {
    it('set/get round trip, a missing key is null, and a value expires with its TTL', async () => {
      const { store, prefix } = await suite.fresh('ttl');
      expect(store.prefix).toBe(prefix);
      expect(await store.get('missing')).toBeNull();
      await store.set('a', 'value-a', 60_000);
      expect(await store.get('a')).toBe('value-a');
      await store.set('a', 'value-a2', 60_000);
      expect(await store.get('a')).toBe('value-a2');
      const t0 = Date.now();
      await store.set('short', 'x', 250);
      expect(await store.get('short')).toBe('x');
      await eventually(async () => (await store.get('short')) === null, 'a short key expires');
      expect(Date.now() - t0).toBeGreaterThanOrEqual(200);
      expect(await store.get('a')).toBe('value-a2');
    }, timeoutMs);

    it('values are opaque strings, kept byte for byte', async () => {
      const { store } = await suite.fresh('opaque');
      const values = ['{"ep":{"id":"u1"},"n":1.50}', 'línea 1\nlínea 2\t😀', ' leading and trailing ', 'x'.repeat(16_384), '0001'];
      await Promise.all(values.map((v, i) => store.set(`v${i}`, v, 60_000)));
      expect(await store.getMany(values.map((_, i) => `v${i}`))).toEqual(values);
      expect(await store.get('v4')).toBe('0001');
    }, timeoutMs);

    it('getMany keeps the order of the keys and answers null for missing and expired ones', async () => {
      const { store } = await suite.fresh('many');
      await store.set('k1', 'one', 60_000);
      await store.set('k3', 'three', 60_000);
      await store.set('gone', 'soon', 150);
      expect(await store.getMany(['k1', 'k2', 'k3'])).toEqual(['one', null, 'three']);
      expect(await store.getMany(['k3', 'k1', 'k3'])).toEqual(['three', 'one', 'three']);
      expect(await store.getMany(['nope'])).toEqual([null]);
      expect(await store.getMany([])).toEqual([]);
      await eventually(async () => (await store.getMany(['gone', 'k1']))[0] === null, 'an expired key reads null');
      expect(await store.getMany(['gone', 'k1'])).toEqual([null, 'one']);
      // Keys that land in different cluster slots.
      const many = Array.from({ length: 20 }, (_, i) => `spread:${i}`);
      await Promise.all(many.filter((_, i) => i % 2 === 0).map((k) => store.set(k, `v-${k}`, 60_000)));
      expect(await store.getMany(many)).toEqual(many.map((k, i) => (i % 2 === 0 ? `v-${k}` : null)));
    }, timeoutMs);

    it('delete removes a key, and deleting a missing key resolves', async () => {
      const { store } = await suite.fresh('del');
      await store.set('d', 'x', 60_000);
      await store.set('kept', 'y', 60_000);
      await store.delete('d');
      expect(await store.get('d')).toBeNull();
      expect(await store.delete('never-there')).toBe(undefined);
      expect(await store.get('kept')).toBe('y');
    }, timeoutMs);

    it('touch sets a new TTL on a live key and never creates a missing one', async () => {
      const { store } = await suite.fresh('touch');
      const t0 = Date.now();
      await store.set('t', 'x', 400);
      await store.touch('t', 10_000);
      await holdsFor(t0, 900, async () => (await store.get('t')) === 'x', 'a touched key outlives its first TTL');
      await store.touch('t', 200);
      await eventually(async () => (await store.get('t')) === null, 'touch can also shorten the TTL');
      await store.touch('ghost', 10_000);
      expect(await store.get('ghost')).toBeNull();
    }, timeoutMs);
  });
}

function describeSwap(suite: Suite): void {
  const { timeoutMs } = suite;
  describe('swap (compare-and-set)', () => {
    it('replaces only an unchanged value, never re-creates an expired key, and sets the new TTL', async () => {
      const { store } = await suite.fresh('swap');
      await store.set('w', 'v1', 60_000);
      expect(await store.swap('w', 'v1', 'v2', 300)).toBe(true);
      expect(await store.get('w')).toBe('v2');
      expect(await store.swap('w', 'v1', 'v3', 60_000)).toBe(false);
      expect(await store.get('w')).toBe('v2');
      await eventually(async () => (await store.get('w')) === null, 'the swapped value expires with the new TTL');
      expect(await store.swap('w', 'v2', 'v4', 60_000)).toBe(false);
      expect(await store.get('w')).toBeNull();
      expect(await store.swap('never', '', 'x', 60_000)).toBe(false);
      expect(await store.get('never')).toBeNull();
    }, timeoutMs);

    it('of N concurrent swaps from the same value exactly one wins, and its value is the one kept', async () => {
      const { store } = await suite.fresh('swap-race');
      for (let round = 0; round < 5; round += 1) {
        await store.set('r', `base-${round}`, 60_000);
        const results = await Promise.all(Array.from({ length: 12 }, (_, i) => store.swap('r', `base-${round}`, `next-${round}-${i}`, 60_000)));
        const winners = results.flatMap((won, i) => (won ? [i] : []));
        expect(winners.length).toBe(1);
        expect(await store.get('r')).toBe(`next-${round}-${winners[0]}`);
      }
    }, timeoutMs);

    it('a swap racing a delete never resurrects the key', async () => {
      const { store } = await suite.fresh('swap-delete');
      for (let round = 0; round < 10; round += 1) {
        await store.set(`d${round}`, 'live', 60_000);
        const attempts = [store.swap(`d${round}`, 'live', 'slid', 60_000), store.delete(`d${round}`), store.swap(`d${round}`, 'live', 'slid', 60_000)];
        await Promise.all(attempts);
        expect(await store.get(`d${round}`)).toBeNull();
      }
    }, timeoutMs);
  });
}

function describeSetMax(suite: Suite): void {
  const { timeoutMs } = suite;
  describe('setMax (shared marks)', () => {
    it('keeps the larger number and the longer TTL, whichever writes last', async () => {
      const { store } = await suite.fresh('max');
      const t0 = Date.now();
      await store.setMax('m', t0, 60_000);
      await store.setMax('m', t0 - 1, 200); // smaller and shorter: changes nothing
      expect(await store.get('m')).toBe(String(t0)); // an epoch in ms, digit for digit
      await store.setMax('m', t0 + 5, 200); // larger value, shorter TTL: value raised, TTL kept
      await holdsFor(Date.now(), 600, async () => (await store.get('m')) === String(t0 + 5), 'the mark outlives the shorter TTL');
      await store.setMax('short', 7, 250);
      expect(await store.get('short')).toBe('7');
      await eventually(async () => (await store.get('short')) === null, 'a mark expires with its own (longest) TTL');
      await store.setMax('grow', 1, 200);
      await store.setMax('grow', 1, 60_000); // a later, longer TTL extends it
      await holdsFor(Date.now(), 500, async () => (await store.get('grow')) === '1', 'the longer TTL wins');
      expect(Date.now() - t0).toBeGreaterThanOrEqual(500);
    }, timeoutMs);

    it('concurrent writers: the largest value and the longest TTL survive', async () => {
      const { store } = await suite.fresh('max-race');
      const base = Date.now();
      // Only the smallest value comes with a long TTL, so a writer that replaces instead of merging shows.
      await Promise.all(Array.from({ length: 10 }, (_, i) => store.setMax('c', base + i, i === 0 ? 60_000 : 200)));
      expect(await store.get('c')).toBe(String(base + 9));
      await holdsFor(Date.now(), 800, async () => (await store.get('c')) === String(base + 9), 'the longest TTL (60 s) holds');
    }, timeoutMs);
  });
}

function describeIndex(suite: Suite): void {
  const { timeoutMs } = suite;
  describe('per-subject index', () => {
    it('add, members, remove; subjects with any characters', async () => {
      const { store } = await suite.fresh('idx');
      expect(await store.indexMembers('alice')).toEqual([]);
      await store.indexAdd('alice', 's1', 60_000);
      await store.indexAdd('alice', 's2', 60_000);
      await store.indexAdd('alice', 's2', 60_000);
      await store.indexAdd('bob', 's3', 60_000);
      expect((await store.indexMembers('alice')).sort()).toEqual(['s1', 's2']);
      expect(await store.indexMembers('bob')).toEqual(['s3']);
      await store.indexRemove('alice', ['s1', 'not-a-member']);
      expect(await store.indexMembers('alice')).toEqual(['s2']);
      await store.indexRemove('alice', []);
      await store.indexRemove('alice', ['s2']);
      expect(await store.indexMembers('alice')).toEqual([]);
      expect(await store.indexMembers('bob')).toEqual(['s3']);
      // Characters that matter to Redis hash tags and globs, and to naive key builders.
      for (const subject of ['a}b', '{x}', 'user:42', 'é*?[', 'a b']) {
        await store.indexAdd(subject, 'm', 60_000);
        expect(await store.indexMembers(subject)).toEqual(['m']);
      }
    }, timeoutMs);

    it('concurrent adds to one subject lose no member', async () => {
      const { store } = await suite.fresh('idx-race');
      const members = Array.from({ length: 25 }, (_, i) => `sid-${i}`);
      await Promise.all(members.map((m) => store.indexAdd('busy', m, 60_000)));
      expect((await store.indexMembers('busy')).sort()).toEqual([...members].sort());
      await Promise.all(members.slice(0, 10).map((m) => store.indexRemove('busy', [m])));
      expect((await store.indexMembers('busy')).sort()).toEqual(members.slice(10).sort());
    }, timeoutMs);

    it('an index expires; its TTL only grows, whichever member is added last', async () => {
      const { store } = await suite.fresh('idxttl');
      await store.indexAdd('carol', 'old', 250);
      await eventually(async () => (await store.indexMembers('carol')).length === 0, 'the index expires');
      const t0 = Date.now();
      await store.indexAdd('dave', 'a', 300);
      await store.indexAdd('dave', 'b', 10_000);
      await holdsFor(t0, 700, async () => (await store.indexMembers('dave')).includes('b'), 'the member with the long TTL stays');
      await store.indexAdd('erin', 'a', 10_000);
      await store.indexAdd('erin', 'b', 200);
      await holdsFor(Date.now(), 500, async () => (await store.indexMembers('erin')).includes('a'), 'a shorter TTL never shortens the index');
    }, timeoutMs);
  });
}

function describePrefixes(suite: Suite): void {
  const { timeoutMs, options } = suite;
  describe('prefixes, TTLs and sharing', () => {
    it('two prefixes never see each other\'s keys or indexes', async () => {
      const { store: one } = await suite.fresh('iso1');
      const { store: two } = await suite.fresh('iso2');
      await one.set('shared', 'from-one', 60_000);
      expect(await two.get('shared')).toBeNull();
      expect(await two.getMany(['shared'])).toEqual([null]);
      await two.set('shared', 'from-two', 60_000);
      expect(await one.get('shared')).toBe('from-one');
      await two.delete('shared');
      expect(await one.get('shared')).toBe('from-one');
      expect(await two.swap('shared', 'from-one', 'x', 60_000)).toBe(false);
      await one.indexAdd('sub', 'm1', 60_000);
      expect(await two.indexMembers('sub')).toEqual([]);
      await two.indexRemove('sub', ['m1']);
      expect(await one.indexMembers('sub')).toEqual(['m1']);
    }, timeoutMs);

    it('every key carries the prefix and a TTL (raw backend check where there is one)', async () => {
      const { store, prefix } = await suite.fresh('keys');
      await exerciseEveryWrite(store, options.logs ?? []);
      const inspector = options.inspect?.();
      if (inspector === undefined) {
        const { store: other } = await suite.fresh('keys2');
        expect(await other.get('plain')).toBeNull();
        expect(await store.get('plain')).toBe('v');
        return;
      }
      expect(await inspector.rawGet(`${prefix}plain`)).toBe('v');
      const keys = await inspector.keys(prefix);
      expect(keys.length).toBeGreaterThanOrEqual(3);
      expect(keys.filter((k) => !k.startsWith(prefix))).toEqual([]);
      const ttls = await Promise.all(keys.map(async (k) => [k, await inspector.pttl(k)] as const));
      expect(ttls.filter(([, ttl]) => !(ttl > 0))).toEqual([]);
    }, timeoutMs);

    it('kind says whether state is shared: two \'redis\' stores on one prefix see each other\'s writes at once', async () => {
      const { store: one, prefix } = await suite.fresh('share');
      expect(['memory', 'redis'].includes(one.kind)).toBe(true);
      const { store: two } = await suite.fresh('share', prefix);
      await one.set('k', 'v1', 60_000);
      await one.indexAdd('sub', 'm', 60_000);
      await one.setMax('mark', 5, 60_000);
      const shared = one.kind !== 'memory';
      expect(await two.get('k')).toBe(shared ? 'v1' : null);
      expect(await two.swap('k', 'v1', 'v2', 60_000)).toBe(shared);
      expect(await one.get('k')).toBe(shared ? 'v2' : 'v1');
      expect(await two.indexMembers('sub')).toEqual(shared ? ['m'] : []);
      await two.setMax('mark', 3, 60_000);
      expect(await one.get('mark')).toBe('5');
    }, timeoutMs);
  });
}

/** One write of every kind, so the raw check sees every kind of key the store creates. */
async function exerciseEveryWrite(store: StateStore, logs: readonly StoreLogName[]): Promise<void> {
  await store.set('plain', 'v', 60_000);
  await store.set('swapped', 'a', 60_000);
  await store.swap('swapped', 'a', 'b', 60_000);
  await store.set('touched', 'a', 60_000);
  await store.touch('touched', 30_000);
  await store.setMax('mark', Date.now(), 60_000);
  await store.indexAdd('frank', 'm', 60_000);
  for (const name of logs) await store[name]?.append(['k', 'v'], 60_000);
}

/** Records what a follower reports; each `synced` with how many entries had been delivered by then. */
function recorder() {
  const entries: string[][] = [];
  const syncs: { atMs: number; delivered: number }[] = [];
  const gaps: number[] = [];
  let resets = 0;
  const listener: RevocationLogListener = {
    entries: (batch) => { for (const fields of batch) entries.push([...fields]); },
    synced: (atMs) => { syncs.push({ atMs, delivered: entries.length }); },
    gap: (untilEpochMs) => { gaps.push(untilEpochMs); },
    reset: () => { resets += 1; },
  };
  return { listener, entries, syncs, gaps, resets: () => resets };
}
type Recorder = ReturnType<typeof recorder>;

/** Appends and waits for a `synced` sent after the append resolved; every entry appended so far was delivered by then. */
async function appendAndSync(log: RevocationLog, rec: Recorder, fields: readonly string[]): Promise<void> {
  await log.append(fields, 60_000);
  await syncedSince(rec, performance.now());
}

async function syncedSince(rec: Recorder, sinceMs: number): Promise<{ atMs: number; delivered: number }> {
  await eventually(() => rec.syncs.some((s) => s.atMs >= sinceMs), 'the follower reports synced past the append');
  return rec.syncs.find((s) => s.atMs >= sinceMs) as { atMs: number; delivered: number };
}

function describeLogs(suite: Suite): void {
  const declared = suite.options.logs ?? [];
  describe('revocation and invalidation logs', () => {
    it(`has exactly the declared logs (${declared.join(', ') || 'none'})`, async () => {
      const { store } = await suite.fresh('logs');
      for (const name of ['revocationLog', 'invalidationLog'] as const) {
        expect([name, store[name] !== undefined]).toEqual([name, declared.includes(name)]);
      }
    }, suite.timeoutMs);
    if (declared.length === 2) {
      it('the two logs are separate: an entry appended to one is never delivered by the other', async () => {
        const { store } = await suite.fresh('two-logs');
        const revocations = recorder();
        const invalidations = recorder();
        suite.follow(store.revocationLog as RevocationLog, revocations.listener);
        suite.follow(store.invalidationLog as RevocationLog, invalidations.listener);
        await (store.revocationLog as RevocationLog).append(['only', 'revocations'], 60_000);
        await appendAndSync(store.invalidationLog as RevocationLog, invalidations, ['only', 'invalidations']);
        await syncedSince(revocations, performance.now());
        expect(revocations.entries).toEqual([['only', 'revocations']]);
        expect(invalidations.entries).toEqual([['only', 'invalidations']]);
      }, suite.timeoutMs);
    }
  });
  for (const name of declared) describeLog(suite, name);
}

function describeLog(suite: Suite, name: StoreLogName): void {
  const { timeoutMs } = suite;
  const logOf = (store: StateStore) => store[name] as RevocationLog;
  describe(`${name}: append / follow`, () => {
    it('delivers entries in append order, field for field, and synced() vouches for everything appended before it', async () => {
      const { store } = await suite.fresh(`${name}-order`);
      const rec = recorder();
      suite.follow(logOf(store), rec.listener);
      const sent = [['j', 'jti-1', 'e', '1700000000000'], ['s', 'user:42', 'b', '17', 'r', '60000'], ['o', 'origin', 'd', 'sess:a b', 'd', 's:é']];
      for (const fields of sent) await logOf(store).append(fields, 60_000);
      const sync = await syncedSince(rec, performance.now());
      expect(sync.delivered).toBeGreaterThanOrEqual(sent.length);
      expect(rec.entries).toEqual(sent);
      expect(sync.atMs).toBeLessThanOrEqual(performance.now());
      expect(rec.gaps).toEqual([]);
    }, timeoutMs);

    it('concurrent appends are all delivered, each once', async () => {
      const { store } = await suite.fresh(`${name}-burst`);
      const rec = recorder();
      suite.follow(logOf(store), rec.listener);
      const sent = Array.from({ length: 30 }, (_, i) => ['n', String(i)]);
      await Promise.all(sent.map((fields) => logOf(store).append(fields, 60_000)));
      await syncedSince(rec, performance.now());
      expect(rec.entries.map((f) => f[1]).sort()).toEqual(sent.map((f) => f[1]).sort());
    }, timeoutMs);

    it('a follower started after entries were appended receives them (from the start of the retained log)', async () => {
      const { store, prefix } = await suite.fresh(`${name}-late`);
      await logOf(store).append(['early', '1'], 60_000);
      await logOf(store).append(['early', '2'], 60_000);
      // A store object made later on the same prefix: a new instance of the app bootstrapping from the log.
      const reader = store.kind === 'memory' ? store : (await suite.fresh(`${name}-late`, prefix)).store;
      const rec = recorder();
      suite.follow(logOf(reader), rec.listener);
      await syncedSince(rec, performance.now());
      expect(rec.entries.slice(0, 2)).toEqual([['early', '1'], ['early', '2']]);
      await appendAndSync(logOf(store), rec, ['later', '3']);
      expect(rec.entries).toEqual([['early', '1'], ['early', '2'], ['later', '3']]);
    }, timeoutMs);

    it('an idle follower keeps reporting synced (one round per blockMs at most)', async () => {
      const { store } = await suite.fresh(`${name}-idle`);
      const rec = recorder();
      suite.follow(logOf(store), rec.listener, 50);
      const since = performance.now();
      await eventually(() => rec.syncs.filter((s) => s.atMs >= since).length >= 5, 'five synced() calls with nothing appended');
      const times = rec.syncs.map((s) => s.atMs);
      expect(times.every((t, i) => i === 0 || t >= (times[i - 1] as number))).toBe(true);
      expect(rec.entries).toEqual([]);
    }, timeoutMs);

    it('close() resolves and stops deliveries; other followers go on', async () => {
      const { store } = await suite.fresh(`${name}-close`);
      const closing = recorder();
      const staying = recorder();
      const follower = suite.follow(logOf(store), closing.listener);
      suite.follow(logOf(store), staying.listener);
      await appendAndSync(logOf(store), closing, ['before', 'close']);
      await follower.close();
      const deliveredAtClose = closing.entries.length;
      await appendAndSync(logOf(store), staying, ['after', 'close']);
      expect(closing.entries.length).toBe(deliveredAtClose);
      expect(staying.entries).toEqual([['before', 'close'], ['after', 'close']]);
    }, timeoutMs);

    it('a log is per prefix', async () => {
      const { store: one } = await suite.fresh(`${name}-p1`);
      const { store: two } = await suite.fresh(`${name}-p2`);
      const rec = recorder();
      suite.follow(logOf(two), rec.listener);
      await logOf(one).append(['elsewhere', '1'], 60_000);
      await appendAndSync(logOf(two), rec, ['here', '1']);
      expect(rec.entries).toEqual([['here', '1']]);
    }, timeoutMs);

    if (suite.options.restartEmpty) describeRestart(suite, name);
  });
}

function describeRestart(suite: Suite, name: StoreLogName): void {
  const restartEmpty = suite.options.restartEmpty as () => Promise<void>;
  const logOf = (store: StateStore) => store[name] as RevocationLog;
  it('a backend that lost its data: the follower reports reset and a gap, then delivers new entries', async () => {
    const { store } = await suite.fresh(`${name}-restart`);
    const rec = recorder();
    suite.follow(logOf(store), rec.listener);
    await appendAndSync(logOf(store), rec, ['before', 'restart']);
    const lostAt = Date.now();
    await restartEmpty();
    await eventually(() => rec.resets() > 0, 'the follower reports a reset', 15_000);
    expect(rec.gaps.some((until) => until >= lostAt)).toBe(true);
    // Written state is gone with the backend; the store answers again (or rejects) but never invents state.
    await eventually(async () => logOf(store).append(['after', 'restart'], 60_000).then(() => true, () => false), 'appends work again', 15_000);
    await syncedSince(rec, performance.now());
    expect(rec.entries.slice(-1)).toEqual([['after', 'restart']]);
  }, suite.timeoutMs);
}

function describeFailures(suite: Suite): void {
  const { unreachable } = suite.options;
  if (unreachable === undefined) return;
  describe('a backend that cannot answer', () => {
    it('every call rejects with ERR_STORE_UNAVAILABLE (none answers null, false or nothing)', async () => {
      const store = await unreachable();
      const calls: [string, () => Promise<unknown>][] = [
        ['get', () => store.get('k')],
        ['getMany', () => store.getMany(['k', 'l'])],
        ['set', () => store.set('k', 'v', 60_000)],
        ['setMax', () => store.setMax('k', 1, 60_000)],
        ['swap', () => store.swap('k', 'v', 'w', 60_000)],
        ['delete', () => store.delete('k')],
        ['touch', () => store.touch('k', 60_000)],
        ['indexAdd', () => store.indexAdd('s', 'm', 60_000)],
        ['indexMembers', () => store.indexMembers('s')],
        ['indexRemove', () => store.indexRemove('s', ['m'])],
        ...(suite.options.logs ?? []).map((name): [string, () => Promise<unknown>] => [name, () => (store[name] as RevocationLog).append(['k', 'v'], 60_000)]),
      ];
      try {
        for (const [method, call] of calls) expect([method, await rejectionCode(call)]).toEqual([method, 'ERR_STORE_UNAVAILABLE']);
      } finally {
        await store.close();
      }
    }, suite.timeoutMs);
  });
}
