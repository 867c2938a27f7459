/**
 * A PostgreSQL outage under each strategy, on a private server this test starts, stops and starts again: every
 * guarded request answers 503 + Retry-After within 2 s while it is down (never 200 once the revocation cache is
 * stale, never anonymous, never a hang), and the same app recovers on its own, sessions and revocations intact.
 */
import request from 'supertest';
import { Pool } from 'pg';
import { postgresStore } from '../../lib';
import { startPostgresServer, type TestPostgresServer } from '../helpers/postgres-server';
import { credentialFrom, makeApp, makeStrategy, STRATEGY_KINDS, type StrategyKind } from '../adapters/test-app';
import { eventually } from '../adapters/contract';

jest.setTimeout(120_000);

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

let server: TestPostgresServer;
let pool: Pool;
beforeAll(async () => {
  server = await startPostgresServer();
  pool = new Pool({ connectionString: server.url, max: 6, connectionTimeoutMillis: 1_000 });
  pool.on('error', () => { /* the app's job: an idle client's error would otherwise crash the process */ });
  await postgresStore({ pool }).migrate();
}, 120_000);
afterAll(async () => {
  await pool?.end();
  await server?.destroy();
});

describe.each(STRATEGY_KINDS)('%s on a PostgreSQL that goes down', (kind: StrategyKind) => {
  it('fails closed while it is down and recovers without an app restart', async () => {
    if (!server.running) await server.start();
    const store = postgresStore({ pool, prefix: `outage:${kind}:`, timeout: '500ms' });
    const { app, auth } = makeApp(makeStrategy(kind, store));
    try {
      const login = async (id: string) => {
        const res = await request(app).post('/login').send({ id });
        expect(res.status).toBe(200);
        return credentialFrom(kind, res);
      };
      const alive = await login('alice');
      const loggedOut = await login('bob');
      expect((await request(app).post('/logout').set(loggedOut)).status).toBe(204);
      expect((await request(app).get('/me').set(alive)).status).toBe(200);
      expect((await request(app).get('/me').set(loggedOut)).status).toBe(401);

      await server.stop('immediate');
      if (kind === 'stateless-jwt') {
        // The revocation cache may vouch for a token for up to maxRevocationLag (1 s) after its last sync.
        const started = Date.now();
        for (;;) {
          const r = await timed(request(app).get('/me').set(alive));
          if (r.res.status === 503) { expectOutage(r, 'a live token once the cache is stale'); break; }
          expect(r.res.status).toBe(200);
          expect(Date.now() - started).toBeLessThan(3_000);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        const r = await timed(request(app).get('/me').set(loggedOut));
        expect(r.ms).toBeLessThan(2_000);
        expect([401, 503]).toContain(r.res.status); // known revocation from the cache, or 503: never 200
      } else {
        expectOutage(await timed(request(app).get('/me').set(alive)), 'a live session');
        expectOutage(await timed(request(app).get('/me').set(loggedOut)), 'a logged-out session');
        expectOutage(await timed(request(app).post('/login').send({ id: 'dave' })), 'login');
      }
      // Several rounds while the pool keeps failing to connect: still 503, still fast.
      for (let i = 0; i < 5; i++) expectOutage(await timed(request(app).get('/me').set(alive)), `round ${i} of the outage`);
      expect((await request(app).get('/me')).status).toBe(401);
      expectOutage(await timed(request(app).post('/revoke-all/zed')), 'revokeAll');

      await server.start();
      await eventually(async () => (await request(app).get('/me').set(alive)).status === 200, 'recovery without an app restart', 30_000, 50);
      const bob = await request(app).get('/me').set(loggedOut);
      expect(bob.status).toBe(401);
      const again = await login('erin');
      expect((await request(app).get('/me').set(again)).body).toMatchObject({ id: 'erin' });
      expect((await request(app).post('/logout').set(again)).status).toBe(204);
      expect((await request(app).get('/me').set(again)).status).toBe(401);
    } finally {
      await auth.close();
    }
  });
});
