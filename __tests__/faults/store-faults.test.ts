/**
 * Store faults (issue 3): a Redis this test starts and stops itself, under each strategy and
 * with both a default node-redis client and one with `disableOfflineQueue: true`.
 * An outage answers 503 + Retry-After within 2 s (never 200, never anonymous, never a hang),
 * revocations written before it hold after it, the app recovers on its own, and a Redis
 * restarted empty means the old server-side sessions are gone (401).
 */
import request from 'supertest';
import { createClient, type RedisClientOptions } from 'redis';
import type { Express } from 'express';
import { memoryStore, redisStore, type StateStore } from '../../lib';
import { startRedisServer, type TestRedisServer } from '../helpers/redis-server';
import { credentialFrom, makeApp, makeStrategy, STRATEGY_KINDS, type StrategyKind } from '../adapters/test-app';
import { eventually, sessionsOf } from '../adapters/contract';

jest.setTimeout(60_000);

// Unhandled rejections / crashes are counted in load.test.ts, whose app runs in its own process
// (inside jest's sandbox a process.on('unhandledRejection') listener never fires).

type RedisClient = ReturnType<typeof createClient>;

/** Sends a request and measures how long the answer took. */
async function timed(r: request.Test): Promise<{ res: request.Response; ms: number }> {
  const t0 = Date.now();
  const res = await r.timeout({ deadline: 10_000 });
  return { res, ms: Date.now() - t0 };
}

function expectOutage({ res, ms }: { res: request.Response; ms: number }, what: string): void {
  if (res.status !== 503) throw new Error(`${what}: expected 503, got ${res.status} ${JSON.stringify(res.body)}`);
  expect(res.headers['retry-after']).toMatch(/^\d+$/);
  expect(ms).toBeLessThan(2_000);
}

const CLIENTS: [string, Partial<RedisClientOptions>][] = [
  ['default node-redis client', {}],
  ['client with disableOfflineQueue', { disableOfflineQueue: true }],
];

describe.each(CLIENTS)('store outage with a %s', (_label, clientOptions) => {
  let server: TestRedisServer;
  let client: RedisClient;

  beforeAll(async () => {
    server = await startRedisServer({ appendonly: true });
    client = createClient({ url: server.url, ...clientOptions });
    client.on('error', () => undefined); // the app's job: without a listener node-redis crashes the process
    await client.connect();
  }, 30_000);

  afterAll(async () => {
    client?.destroy();
    await server?.destroy();
  });

  describe.each(STRATEGY_KINDS)('%s', (kind: StrategyKind) => {
    it('fails closed during the outage, keeps revocations, recovers by itself, and forgets sessions when Redis comes back empty', async () => {
      if (!server.running) await server.start();
      const store = redisStore({ client, prefix: `faults:${kind}:` });
      const { app, auth } = makeApp(makeStrategy(kind, store));
      try {
        const login = async (id: string) => {
          const res = await request(app).post('/login').send({ id });
          expect(res.status).toBe(200);
          return credentialFrom(kind, res);
        };
        await eventually(async () => (await request(app).post('/login').send({ id: 'warm' })).status === 200, 'client ready', 15_000);
        const alive = await login('alice');
        const loggedOut = await login('bob');
        const revoked = await login('carol');
        expect((await request(app).post('/logout').set(loggedOut)).status).toBe(204);
        expect((await request(app).post('/revoke-all/carol')).status).toBe(204);
        expect((await request(app).get('/me').set(alive)).status).toBe(200);
        expect((await request(app).get('/me').set(loggedOut)).status).toBe(401);
        expect((await request(app).get('/me').set(revoked)).status).toBe(401);

        // ---- outage ----
        await server.stop();

        if (kind === 'stateless-jwt') {
          // statelessJwt on Redis checks revocations in a local cache fed by the revocation log; it may answer
          // from it for up to maxRevocationLag (default 1 s) after its last sync, then asks Redis → 503.
          // Known revocations stay refused from the cache (401), never 200.
          const started = Date.now();
          for (;;) {
            const r = await timed(request(app).get('/me').set(alive));
            expect(r.ms).toBeLessThan(2_000);
            if (r.res.status === 503) { expectOutage(r, 'lookup of a live credential once the cache is stale'); break; }
            expect(r.res.status).toBe(200);
            expect(Date.now() - started).toBeLessThan(3_000); // 1 s lag bound + a generous margin
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
          for (const [cred, what] of [[loggedOut, 'logged-out'], [revoked, 'revoked']] as const) {
            const r = await timed(request(app).get('/me').set(cred));
            expect(r.ms).toBeLessThan(2_000);
            if (r.res.status !== 503) {
              expect({ what, status: r.res.status, body: r.res.body }).toEqual({ what, status: 401, body: expect.objectContaining({ code: 'ERR_CREDENTIAL_REVOKED' }) });
            }
          }
        } else {
          expectOutage(await timed(request(app).get('/me').set(alive)), 'lookup of a live credential');
          expectOutage(await timed(request(app).get('/me').set(loggedOut)), 'lookup of a logged-out credential');
          expectOutage(await timed(request(app).get('/me').set(revoked)), 'lookup of a revoked credential');
        }
        // no credential at all is anonymous whatever the store does: 401, not 200
        expect((await request(app).get('/me')).status).toBe(401);

        // Every strategy here stores something at login: statelessJwt with a store records the login (a device the
        // user can list and end), so no token is issued that the store could not account for.
        const loginDuring = await timed(request(app).post('/login').send({ id: 'dave' }));
        expectOutage(loginDuring, 'login');
        // Checked at the end so the rest of the scenario still runs (see .notes/BUGS.md: unguarded logout).
        const logoutDuring = await timed(request(app).post('/logout').set(alive));
        // (another subject: statelessJwt applies a revokeAll locally at once even when the store write fails)
        expectOutage(await timed(request(app).post('/revoke-all/zed')), 'revokeAll');
        // a second round: the client is now reconnecting in the background, still no hang
        expectOutage(await timed(request(app).get('/me').set(alive)), 'lookup while reconnecting');

        // ---- Redis back, same data (appendonly) ----
        await server.start();
        // statelessJwt answers /me from its revocation log, which follows Redis on a connection of its own: it can
        // be back before the app's client, whose writes (logout below) are refused with 503 until it reconnects.
        await eventually(async () => client.isReady && (await request(app).get('/me').set(alive)).status === 200, 'recovery without an app restart', 20_000, 50);
        const bob = await request(app).get('/me').set(loggedOut);
        expect(bob.status).toBe(401);
        const carol = await request(app).get('/me').set(revoked);
        expect(carol.status).toBe(401);
        if (kind === 'stateless-jwt') {
          expect(bob.body).toMatchObject({ code: 'ERR_CREDENTIAL_REVOKED' });
          expect(carol.body).toMatchObject({ code: 'ERR_CREDENTIAL_REVOKED' });
        }
        // everything works again
        const again = await login('erin');
        expect((await request(app).get('/me').set(again)).body).toMatchObject({ id: 'erin' });
        expect((await request(app).post('/logout').set(again)).status).toBe(204);
        expect((await request(app).get('/me').set(again)).status).toBe(401);

        // ---- Redis restarted empty ----
        await server.restartEmpty();
        await eventually(async () => (await request(app).get('/me').set(alive)).status !== 503, 'answers after the empty restart', 20_000, 50);
        const after = await request(app).get('/me').set(alive);
        if (kind === 'stateless-jwt') {
          // The token carries its own state: it stays valid until exp (documented trade-off).
          expect(after.status).toBe(200);
        } else {
          expect(after.status).toBe(401);
          expect(after.body).toMatchObject({ code: 'ERR_INVALID_CREDENTIAL' });
        }
        // A logout the server could not carry out must not answer 2xx: the session (alive, above) outlived it.
        expectOutage(logoutDuring, 'logout (unguarded route, as in DESIGN.md)');
      } finally {
        await auth.close();
      }
    });
  });

  it('an outage that starts while requests are in flight: every answer is 200 or 503, none over 2 s, none anonymous', async () => {
    if (!server.running) await server.start();
    const apps: [StrategyKind, Express, Record<string, string>][] = [];
    const closers: (() => Promise<void>)[] = [];
    for (const kind of STRATEGY_KINDS) {
      const store = redisStore({ client, prefix: `faults-inflight:${kind}:` });
      const { app, auth } = makeApp(makeStrategy(kind, store));
      closers.push(() => auth.close());
      await eventually(async () => (await request(app).post('/login').send({ id: 'warm' })).status === 200, 'ready', 15_000);
      const res = await request(app).post('/login').send({ id: `inflight-${kind}` });
      apps.push([kind, app, credentialFrom(kind, res)]);
    }
    try {
      const statuses: number[] = [];
      const slow: number[] = [];
      const fire = async () => {
        for (let round = 0; round < 15; round += 1) {
          await Promise.all(apps.map(async ([, app, cred]) => {
            const { res, ms } = await timed(request(app).get('/me').set(cred));
            statuses.push(res.status);
            if (ms >= 2_000) slow.push(ms);
            if (res.status === 503) expect(res.headers['retry-after']).toMatch(/^\d+$/);
          }));
        }
      };
      await Promise.all([fire(), fire(), server.kill(), fire()]);
      expect(statuses.length).toBe(3 * 15 * 3);
      expect(statuses.filter((s) => s !== 200 && s !== 503)).toEqual([]);
      expect(statuses).toContain(503);
      expect(slow).toEqual([]);
      await server.start();
      for (const [, app, cred] of apps) {
        await eventually(async () => (await request(app).get('/me').set(cred)).status === 200, 'recovers', 20_000, 50);
      }
    } finally {
      for (const close of closers) await close();
    }
  });
});

describe('express-session "no session" path (store reports a disconnect)', () => {
  const stores: [string, () => Promise<{ store: StateStore; done: () => Promise<void> }>][] = [
    ['memoryStore', async () => {
      const store = memoryStore({ prefix: 'faults-disc:' });
      return { store, done: () => store.close() };
    }],
    ['redisStore', async () => {
      const c = createClient({ url: process.env.REDIS_URL });
      c.on('error', () => undefined);
      await c.connect();
      const store = redisStore({ client: c, prefix: `faults-disc:${process.pid}:${Date.now()}:` });
      return { store, done: async () => { await store.close(); c.destroy(); } };
    }],
  ];

  it.each(stores)('%s: express-session skips the session while its store is "disconnected"; that is a 503, not anonymity', async (_name, make) => {
    const { store, done } = await make();
    const { app, auth } = makeApp(makeStrategy('session-cookie', store));
    try {
      const cred = credentialFrom('session-cookie', await request(app).post('/login').send({ id: 'frank' }));
      expect((await request(app).get('/me').set(cred)).status).toBe(200);
      sessionsOf(store).emit('disconnect');
      const during = await timed(request(app).get('/me').set(cred));
      expectOutage(during, 'lookup while express-session considers its store disconnected');
      expect(during.res.body).toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' });
      expectOutage(await timed(request(app).post('/login').send({ id: 'gina' })), 'login while disconnected');
      const logoutDuring = await timed(request(app).post('/logout').set(cred));
      sessionsOf(store).emit('connect');
      expect((await request(app).get('/me').set(cred)).body).toMatchObject({ id: 'frank' });
      expectOutage(logoutDuring, 'logout while disconnected (the session above survived it)');
    } finally {
      await auth.close();
      await done();
    }
  });
});
