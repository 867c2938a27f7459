/**
 * The StateStore contract, one suite for every adapter that holds server-side state.
 * Not a test file itself (does not match `*.test.ts`): memory.test.ts, redis.test.ts and
 * redis-cluster.test.ts call `testStateStore(name, makeStore, options)`.
 */
import request from 'supertest';
import type { SessionData, Store } from 'express-session';
import type { StateStore } from '../../lib';
import { uniquePrefix } from '../helpers/redis';
import { credentialFrom, makeApp, makeStrategy, STRATEGY_KINDS } from './test-app';

/** Raw access to the backend, for adapters that have one (Redis): used to check prefixes and TTLs. */
export interface StoreInspector {
  /** Every key whose name starts with `prefix`. */
  keys(prefix: string): Promise<string[]>;
  /** PTTL of a key (-1 no TTL, -2 missing). */
  pttl(key: string): Promise<number>;
  /** Raw GET of a full key name. */
  rawGet(key: string): Promise<string | null>;
}

export interface ContractOptions {
  /** Called at test time (clients are usually connected in beforeAll). */
  inspect?: () => StoreInspector;
  /** Called after each test with the prefixes it used (e.g. delete the keys). */
  cleanup?: (prefixes: string[]) => Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until check() is true; throws after timeoutMs. */
export async function eventually(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 5_000, everyMs = 25): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await sleep(everyMs);
  }
}

/** Waits until at least `ms` have passed since `since`, checking `invariant` on the way (no blind sleep). */
async function holdsFor(since: number, ms: number, invariant: () => Promise<boolean>, what: string): Promise<void> {
  while (Date.now() - since < ms) {
    if (!(await invariant())) throw new Error(`invariant broke after ${Date.now() - since} ms: ${what}`);
    await sleep(25);
  }
  if (!(await invariant())) throw new Error(`invariant broke at the end: ${what}`);
}

const cb = <T>(fn: (done: (err?: unknown, value?: T) => void) => void): Promise<T | undefined> =>
  new Promise((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value))));

export function testStateStore(name: string, makeStore: (prefix: string) => StateStore, options: ContractOptions = {}): void {
  describe(`StateStore contract: ${name}`, () => {
    let used: string[] = [];
    let opened: StateStore[] = [];
    const fresh = (label = 'c'): { store: StateStore; prefix: string } => {
      const prefix = uniquePrefix(`${name}-${label}`);
      const store = makeStore(prefix);
      used.push(prefix);
      opened.push(store);
      return { store, prefix };
    };

    afterEach(async () => {
      await Promise.all(opened.map((s) => s.close()));
      if (options.cleanup) await options.cleanup(used);
      used = [];
      opened = [];
    });

    it('set/get round trip, a missing key is null, and a value expires with its TTL', async () => {
      const { store, prefix } = fresh('ttl');
      expect(store.prefix).toBe(prefix);
      expect(await store.get('missing')).toBeNull();
      await store.set('a', 'value-a', 60_000);
      expect(await store.get('a')).toBe('value-a');
      await store.set('a', 'value-a2', 60_000);
      expect(await store.get('a')).toBe('value-a2');
      const t0 = Date.now();
      await store.set('short', 'x', 250);
      expect(await store.get('short')).toBe('x');
      await eventually(async () => (await store.get('short')) === null, 'short key expires', 5_000);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(200);
      expect(await store.get('a')).toBe('value-a2');
    });

    it('getMany keeps the order of the keys and answers null for missing ones', async () => {
      const { store } = fresh('many');
      await store.set('k1', 'one', 60_000);
      await store.set('k3', 'three', 60_000);
      expect(await store.getMany(['k1', 'k2', 'k3'])).toEqual(['one', null, 'three']);
      expect(await store.getMany(['k3', 'k1'])).toEqual(['three', 'one']);
      expect(await store.getMany(['nope'])).toEqual([null]);
      expect(await store.getMany([])).toEqual([]);
      // keys that land in different cluster slots
      const many = Array.from({ length: 20 }, (_, i) => `spread:${i}`);
      await Promise.all(many.filter((_, i) => i % 2 === 0).map((k) => store.set(k, `v-${k}`, 60_000)));
      expect(await store.getMany(many)).toEqual(many.map((k, i) => (i % 2 === 0 ? `v-${k}` : null)));
    });

    it('delete removes a key (and deleting a missing key is fine)', async () => {
      const { store } = fresh('del');
      await store.set('d', 'x', 60_000);
      await store.delete('d');
      expect(await store.get('d')).toBeNull();
      await expect(store.delete('never-there')).resolves.toBeUndefined();
    });

    it('swap replaces only an unchanged value, never re-creates a deleted key, and sets the TTL', async () => {
      const { store } = fresh('swap');
      await store.set('w', 'v1', 60_000);
      expect(await store.swap('w', 'v1', 'v2', 300)).toBe(true);
      expect(await store.get('w')).toBe('v2');
      expect(await store.swap('w', 'v1', 'v3', 60_000)).toBe(false);
      expect(await store.get('w')).toBe('v2');
      await eventually(async () => (await store.get('w')) === null, 'the swapped value expires with the new TTL');
      expect(await store.swap('w', 'v2', 'v4', 60_000)).toBe(false);
      expect(await store.get('w')).toBeNull();
    });

    it('setMax keeps the larger number and the longer TTL, whichever writes last', async () => {
      const { store } = fresh('max');
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
    });

    it('touch extends the TTL of a live key and does not create a missing one', async () => {
      const { store } = fresh('touch');
      const t0 = Date.now();
      await store.set('t', 'x', 400);
      await store.touch('t', 10_000);
      await holdsFor(t0, 900, async () => (await store.get('t')) === 'x', 'touched key still there past its first TTL');
      await store.touch('t', 200);
      await eventually(async () => (await store.get('t')) === null, 'touch can also shorten to a new TTL');
      await store.touch('ghost', 10_000);
      expect(await store.get('ghost')).toBeNull();
    });

    it('per-subject index: add, members, remove', async () => {
      const { store } = fresh('idx');
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
      // subjects with characters that matter to Redis hash tags and globs
      for (const subject of ['a}b', '{x}', 'user:42', 'é*?[']) {
        await store.indexAdd(subject, 'm', 60_000);
        expect(await store.indexMembers(subject)).toEqual(['m']);
      }
    });

    it('index entries expire; a longer TTL added later keeps the index alive', async () => {
      const { store } = fresh('idxttl');
      await store.indexAdd('carol', 'old', 250);
      await eventually(async () => (await store.indexMembers('carol')).length === 0, 'index expires');
      const t0 = Date.now();
      await store.indexAdd('dave', 'a', 300);
      await store.indexAdd('dave', 'b', 10_000);
      await holdsFor(t0, 700, async () => (await store.indexMembers('dave')).includes('b'), 'member with the long TTL stays');
      await store.indexAdd('erin', 'a', 10_000);
      await store.indexAdd('erin', 'b', 200);
      await holdsFor(Date.now(), 500, async () => (await store.indexMembers('erin')).includes('a'), 'a shorter TTL never shortens the index');
    });

    it('two prefixes never see each other\'s keys, indexes or sessions', async () => {
      const { store: one } = fresh('iso1');
      const { store: two } = fresh('iso2');
      await one.set('shared', 'from-one', 60_000);
      expect(await two.get('shared')).toBeNull();
      expect(await two.getMany(['shared'])).toEqual([null]);
      await two.set('shared', 'from-two', 60_000);
      expect(await one.get('shared')).toBe('from-one');
      await two.delete('shared');
      expect(await one.get('shared')).toBe('from-one');
      await one.indexAdd('sub', 'm1', 60_000);
      expect(await two.indexMembers('sub')).toEqual([]);
      await two.indexRemove('sub', ['m1']);
      expect(await one.indexMembers('sub')).toEqual(['m1']);
      const sess = { cookie: { originalMaxAge: 60_000 } } as unknown as SessionData;
      await cb<void>((done) => one.sessionStore().set('sid-1', sess, done));
      expect(await cb<SessionData | null>((done) => two.sessionStore().get('sid-1', done))).toBeNull();
      expect(await cb<SessionData | null>((done) => one.sessionStore().get('sid-1', done))).not.toBeNull();
    });

    it('sessionStore(): express-session get/set/destroy round trip', async () => {
      const { store } = fresh('sess');
      const sessions: Store = store.sessionStore();
      expect(sessions).toBe(store.sessionStore());
      expect(await cb<SessionData | null>((done) => sessions.get('nope', done))).toBeNull();
      const data = { cookie: { originalMaxAge: 60_000, path: '/', httpOnly: true }, extra: { n: 1 } } as unknown as SessionData;
      await cb<void>((done) => sessions.set('abc', data, done));
      const back = await cb<SessionData | null>((done) => sessions.get('abc', done));
      expect(back).toMatchObject({ extra: { n: 1 } });
      await cb<void>((done) => sessions.destroy('abc', done));
      expect(await cb<SessionData | null>((done) => sessions.get('abc', done))).toBeNull();
    });

    it('keys carry the prefix (raw backend check where there is one)', async () => {
      const { store, prefix } = fresh('keys');
      expect(store.prefix).toBe(prefix);
      await store.set('plain', 'v', 60_000);
      await store.indexAdd('frank', 'm', 60_000);
      await cb<void>((done) => store.sessionStore().set('sid-x', { cookie: { originalMaxAge: 60_000 } } as unknown as SessionData, done));
      const inspector = options.inspect?.();
      if (inspector) {
        expect(await inspector.rawGet(`${prefix}plain`)).toBe('v');
        const keys = await inspector.keys(prefix);
        expect(keys.length).toBe(3);
        expect(keys.every((k) => k.startsWith(prefix))).toBe(true);
        expect(keys).toContain(`${prefix}plain`);
        expect(keys.some((k) => k.startsWith(`${prefix}sess:`))).toBe(true);
        expect(keys.some((k) => k.startsWith(`${prefix}idx:`) && k.includes('frank'))).toBe(true);
      } else {
        // No raw backend: a second store on another prefix must not see the value.
        const { store: other } = fresh('keys2');
        expect(await other.get('plain')).toBeNull();
        expect(await store.get('plain')).toBe('v');
      }
    });

    describe.each(STRATEGY_KINDS)('%s: login / logout / revokeAll cycle', (kind) => {
      it('works end to end and leaves only keys with a TTL under the prefix', async () => {
        const { store, prefix } = fresh(`cycle-${kind}`);
        const { app, auth } = makeApp(makeStrategy(kind, store));
        try {
          const login = async (id: string) => {
            const res = await request(app).post('/login').send({ id });
            expect(res.status).toBe(200);
            return credentialFrom(kind, res);
          };
          const a = await login('u1');
          expect((await request(app).get('/me').set(a)).body).toMatchObject({ id: 'u1' });
          expect((await request(app).post('/logout').set(a)).status).toBe(204);
          expect((await request(app).get('/me').set(a)).status).toBe(401);

          const b = await login('u1');
          const c = await login('u1');
          const other = await login('u2');
          expect((await request(app).get('/me').set(b)).status).toBe(200);
          expect((await request(app).get('/me').set(c)).status).toBe(200);
          expect((await request(app).post('/revoke-all/u1')).status).toBe(204);
          expect((await request(app).get('/me').set(b)).status).toBe(401);
          expect((await request(app).get('/me').set(c)).status).toBe(401);
          expect((await request(app).get('/me').set(other)).status).toBe(200);
          expect((await request(app).get('/me')).status).toBe(401);

          const inspector = options.inspect?.();
          if (inspector) {
            const keys = await inspector.keys(prefix);
            expect(keys.length).toBeGreaterThan(0);
            const ttls = await Promise.all(keys.map(async (k) => [k, await inspector.pttl(k)] as const));
            const without = ttls.filter(([, ttl]) => !(ttl > 0));
            expect(without).toEqual([]);
          }
        } finally {
          await auth.close();
        }
      });
    });
  });
}
