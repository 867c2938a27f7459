/**
 * Two principal() instances on two pools over one PostgreSQL schema: a revocation (or a role change / logout with
 * record caches) made on A is enforced on B within its bound, B answers from its local cache while in sync (no
 * query per request), and a lost NOTIFY only delays an entry to the next polling round, inside the bound.
 */
import { performance } from 'node:perf_hooks';
import express from 'express';
import type { Pool } from 'pg';
import { principal, requireAuth, requireRole, sessionCookie, statefulJwt, statelessJwt, type StateStore, type Strategy } from '../../lib';
import type { PrincipalMiddleware } from '../../lib/principal';
import type { RevocationLog } from '../../lib/types';
import { listenOnLoopback } from '../helpers/apps';
import { createTestSchema, type TestSchema } from '../helpers/postgres';
import { uniquePrefix } from '../helpers/redis';

const secret = 'k8Jd02mXq9Lp3Zr7Tv5Wy1Ab4Cd6Ef8Gh0Ij2Kl';
const LAG_MS = 1000;
type Kind = 'stateless-jwt' | 'stateful-jwt' | 'session-cookie';

interface Instance {
  url: string;
  auth: PrincipalMiddleware;
  /** Queries this instance's pool has run (its log followers have connections of their own). */
  queries(): number;
  close(): Promise<void>;
}

let db: TestSchema;
const opened: Instance[] = [];
beforeAll(async () => { db = await createTestSchema('two_instances'); }, 30_000);
afterAll(async () => {
  for (const inst of opened) await inst.close();
  await db?.drop();
});

function counted(pool: Pool): () => number {
  let n = 0;
  const query = pool.query.bind(pool) as (...args: unknown[]) => unknown;
  (pool as unknown as { query: (...args: unknown[]) => unknown }).query = (...args) => { n += 1; return query(...args); };
  return () => n;
}

async function start(kind: Kind, prefix: string, wrap: (store: StateStore) => StateStore = (s) => s): Promise<Instance> {
  const pool = db.newPool();
  const queries = counted(pool);
  const s = wrap(db.store({ pool, prefix, timeout: '2s' }));
  const strategies: Record<Kind, () => Strategy> = {
    'stateless-jwt': () => statelessJwt({ secret, store: s, maxRevocationLag: LAG_MS / 1000 }),
    'stateful-jwt': () => statefulJwt({ secret, store: s, recordCache: { maxStaleness: LAG_MS / 1000 } }),
    'session-cookie': () => sessionCookie({ secret, store: s, secure: false, recordCache: { maxStaleness: LAG_MS / 1000 } }),
  };
  const auth = principal({ strategy: strategies[kind]() });
  const app = express();
  app.use(express.json());
  app.use(auth);
  app.post('/login', async (req, res, next) => {
    try {
      const issued = await req.auth.login({ id: String(req.body.id), roles: ['user'] });
      const cookie = ([] as string[]).concat((res.getHeader('set-cookie') as string[] | undefined) ?? []).map((c) => c.split(';')[0]).find((c) => c?.startsWith('sid='));
      res.json({ token: issued.token, cookie: cookie ?? null });
    } catch (err) { next(err); }
  });
  app.post('/logout', requireAuth(), async (req, res, next) => {
    try { await req.auth.logout(); res.sendStatus(204); } catch (err) { next(err); }
  });
  app.get('/me', requireAuth(), (req, res) => { res.json({ id: req.principal?.id }); });
  app.get('/admin', requireRole('admin'), (req, res) => { res.json({ id: req.principal?.id }); });
  const { url, close } = await listenOnLoopback(app);
  const inst = { url, auth, queries, async close() { await auth.close(); await close(); } };
  opened.push(inst);
  return inst;
}

interface Cred { token: string | null; cookie: string | null }
const headers = (c: Cred): Record<string, string> => (c.token !== null ? { authorization: `Bearer ${c.token}` } : { cookie: c.cookie ?? '' });

async function login(inst: Instance, id: string): Promise<Cred> {
  const res = await fetch(`${inst.url}/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id }) });
  expect(res.status).toBe(200);
  return (await res.json()) as Cred;
}
async function status(inst: Instance, cred: Cred, path = '/me'): Promise<number> {
  const res = await fetch(`${inst.url}${path}`, { headers: headers(cred) });
  await res.arrayBuffer();
  return res.status;
}
/** Polls until `path` on `inst` answers `want`; resolves to ms since `since`. */
async function answersWithin(inst: Instance, cred: Cred, want: number, since: number, path = '/me'): Promise<number> {
  for (;;) {
    const got = await status(inst, cred, path);
    const elapsed = performance.now() - since;
    if (got === want) return elapsed;
    if (elapsed > LAG_MS * 5) throw new Error(`${path} still answers ${got} after ${Math.round(elapsed)} ms`);
    await new Promise((r) => setImmediate(r));
  }
}

describe('statelessJwt revocation across two instances', () => {
  test('logout on A: B refuses the token within maxRevocationLag, and keeps accepting another one', async () => {
    const prefix = uniquePrefix('pg-two');
    const A = await start('stateless-jwt', prefix);
    const B = await start('stateless-jwt', prefix);
    const cred = await login(A, 'alice');
    const other = await login(A, 'alice');
    expect(await status(B, cred)).toBe(200);
    const out = await fetch(`${A.url}/logout`, { method: 'POST', headers: headers(cred) });
    expect(out.status).toBe(204);
    const since = performance.now();
    expect(await status(A, cred)).toBe(401);
    expect(await answersWithin(B, cred, 401, since)).toBeLessThanOrEqual(LAG_MS);
    expect(await status(B, other)).toBe(200);
  });

  test('revokeAll on A: B refuses every older token of the subject within the bound; a new login works', async () => {
    const prefix = uniquePrefix('pg-two-all');
    const A = await start('stateless-jwt', prefix);
    const B = await start('stateless-jwt', prefix);
    const old = await login(B, 'bob');
    const carol = await login(B, 'carol');
    expect(await status(B, old)).toBe(200);
    await A.auth.revokeAll('bob');
    const since = performance.now();
    expect(await answersWithin(B, old, 401, since)).toBeLessThanOrEqual(LAG_MS);
    expect(await status(B, carol)).toBe(200);
    expect(await status(B, await login(A, 'bob'))).toBe(200);
  });

  test('while in sync, B checks tokens from its local cache: no query per request', async () => {
    const prefix = uniquePrefix('pg-two-local');
    const A = await start('stateless-jwt', prefix);
    const B = await start('stateless-jwt', prefix);
    const cred = await login(A, 'dora');
    await answersWithin(B, cred, 200, performance.now());
    const before = B.queries();
    for (let i = 0; i < 20; i++) expect(await status(B, cred)).toBe(200);
    expect(B.queries() - before).toBe(0);
  });

  test('a revocation whose NOTIFY is lost still reaches B within maxRevocationLag (watermark polling)', async () => {
    const prefix = uniquePrefix('pg-two-silent');
    // A appends its log entries with a plain INSERT that sends no notification, and writes no deny-list row: B
    // can only learn of the revocation by reading the log (a B that stopped polling would fall back to a direct
    // lookup, find nothing and accept the token).
    const silent = (store: StateStore): StateStore => ({
      ...store,
      set: (key, value, ttlMs) => (key.startsWith('rv:') ? Promise.resolve() : store.set(key, value, ttlMs)),
      revocationLog: withoutNotify(store.revocationLog as RevocationLog, `${prefix}rv:log`),
      close: () => store.close(),
    });
    const A = await start('stateless-jwt', prefix, silent);
    const B = await start('stateless-jwt', prefix);
    const creds = [await login(A, 'erin'), await login(A, 'erin'), await login(A, 'erin')];
    for (const cred of creds) expect(await status(B, cred)).toBe(200);
    for (const cred of creds) {
      const out = await fetch(`${A.url}/logout`, { method: 'POST', headers: headers(cred) });
      expect(out.status).toBe(204);
      const since = performance.now();
      expect(await answersWithin(B, cred, 401, since)).toBeLessThanOrEqual(LAG_MS);
    }
  });
});

describe.each<Kind>(['stateful-jwt', 'session-cookie'])('%s with record caches on two instances', (kind) => {
  test('a role change and a logout on A are seen on B within maxStaleness', async () => {
    const prefix = uniquePrefix(`pg-rc-${kind}`);
    const A = await start(kind, prefix);
    const B = await start(kind, prefix);
    const cred = await login(A, 'fay');
    expect(await status(B, cred)).toBe(200);
    expect(await status(B, cred, '/admin')).toBe(403); // cached on B now
    expect(await A.auth.update('fay', { roles: ['admin'] })).toBe(1);
    expect(await answersWithin(B, cred, 200, performance.now(), '/admin')).toBeLessThanOrEqual(LAG_MS);
    const out = await fetch(`${A.url}/logout`, { method: 'POST', headers: headers(cred) });
    expect(out.status).toBe(204);
    expect(await answersWithin(B, cred, 401, performance.now())).toBeLessThanOrEqual(LAG_MS);
  });
});

/** The log's append minus its pg_notify: what a follower sees when a notification is lost. */
function withoutNotify(log: RevocationLog, name: string): RevocationLog {
  return {
    follow: (listener, blockMs) => log.follow(listener, blockMs),
    async append(fields, retainMs) {
      const t = (name: string) => `"${db.name}".${name}`;
      await db.pool.query(`WITH head AS (
        INSERT INTO ${t('ep_log_heads')} AS h (log, seq, appended_at, expires_at)
        VALUES ($1, 1, clock_timestamp(), clock_timestamp() + $3::float8 * interval '1 millisecond')
        ON CONFLICT (log) DO UPDATE SET seq = h.seq + 1, appended_at = clock_timestamp(), expires_at = GREATEST(h.expires_at, excluded.expires_at)
        RETURNING seq, appended_at, expires_at)
        INSERT INTO ${t('ep_log')} (log, seq, fields, appended_at, expires_at) SELECT $1, seq, $2, appended_at, expires_at FROM head`,
      [name, [...fields], Math.ceil(retainMs) + 60_000]);
    },
  };
}
