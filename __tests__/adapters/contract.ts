/**
 * What a StateStore must do for the strategies on top of it, through real Express apps and the express-session
 * Store it hands out. The store-level contract itself is the published suite in lib/testing.ts
 * (`express-principal/testing`); memory.test.ts, redis.test.ts and redis-cluster.test.ts run both.
 * Not a test file itself (does not match `*.test.ts`).
 */
import request from 'supertest';
import type { SessionData, Store } from 'express-session';
import type { StateStore } from '../../lib';
import type { StoreInspector } from '../../lib/testing';
import type { SessionBackedStore } from '../../adapters/session-store';
import { uniquePrefix } from '../helpers/redis';
import { credentialFrom, makeApp, makeStrategy, STRATEGY_KINDS } from './test-app';

export type { StoreInspector } from '../../lib/testing';

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

/** The express-session Store the package's own stores hold (not part of the public StateStore). */
export const sessionsOf = (store: StateStore): Store => (store as SessionBackedStore).sessionStore();

const cb = <T>(fn: (done: (err?: unknown, value?: T) => void) => void): Promise<T | undefined> =>
  new Promise((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value))));

export function testStrategiesOnStore(name: string, makeStore: (prefix: string) => StateStore, options: ContractOptions = {}): void {
  describe(`strategies and express-session on ${name}`, () => {
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

    it('two prefixes never see each other\'s sessions', async () => {
      const { store: one } = fresh('iso1');
      const { store: two } = fresh('iso2');
      const sess = { cookie: { originalMaxAge: 60_000 } } as unknown as SessionData;
      await cb<void>((done) => sessionsOf(one).set('sid-1', sess, done));
      expect(await cb<SessionData | null>((done) => sessionsOf(two).get('sid-1', done))).toBeNull();
      expect(await cb<SessionData | null>((done) => sessionsOf(one).get('sid-1', done))).not.toBeNull();
    });

    it('sessionStore(): express-session get/set/destroy round trip', async () => {
      const { store } = fresh('sess');
      const sessions: Store = sessionsOf(store);
      // One object per store, an event source for connect / disconnect (what lib/state/session-repository.ts listens to).
      expect(sessions).toBe(sessionsOf(store));
      expect(typeof sessions.on).toBe('function');
      expect(await cb<SessionData | null>((done) => sessions.get('nope', done))).toBeNull();
      const data = { cookie: { originalMaxAge: 60_000, path: '/', httpOnly: true }, extra: { n: 1 } } as unknown as SessionData;
      await cb<void>((done) => sessions.set('abc', data, done));
      const back = await cb<SessionData | null>((done) => sessions.get('abc', done));
      expect(back).toMatchObject({ extra: { n: 1 } });
      await cb<void>((done) => sessions.destroy('abc', done));
      expect(await cb<SessionData | null>((done) => sessions.get('abc', done))).toBeNull();
    });

    it('records, sessions and indexes carry the prefix (raw backend check where there is one)', async () => {
      const { store, prefix } = fresh('keys');
      expect(store.prefix).toBe(prefix);
      await store.set('plain', 'v', 60_000);
      await store.indexAdd('frank', 'm', 60_000);
      await cb<void>((done) => sessionsOf(store).set('sid-x', { cookie: { originalMaxAge: 60_000 } } as unknown as SessionData, done));
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
