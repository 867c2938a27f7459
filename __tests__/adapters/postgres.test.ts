/**
 * postgresStore on the machine's PostgreSQL, in a schema of this file's own: the published StateStore contract,
 * the strategies and express-session Store on it, and what is PostgreSQL's own (schema, sweep, NOTIFY + polling).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { postgresStore, type RevocationLogListener } from '../../lib';
import type { RevocationLog } from '../../lib/types';
import { testStateStore } from '../../lib/testing';
import { schemaFile } from '../../adapters/postgres-schema';
import { logTag } from '../../adapters/postgres-log';
import { uniquePrefix } from '../helpers/redis';
import { createTestSchema, testPool, type TestSchema } from '../helpers/postgres';
import { freePort } from '../helpers/redis-server';
import { eventually, testStrategiesOnStore } from './contract';

let db: TestSchema;
beforeAll(async () => {
  db = await createTestSchema('adapters');
}, 30_000);
afterAll(async () => {
  await db?.drop();
});

const make = (prefix: string) => db.store({ prefix });
const cleanup = (prefixes: string[]) => db.cleanup(prefixes);

testStateStore('postgresStore', make, {
  prefix: uniquePrefix,
  logs: ['revocationLog', 'invalidationLog'],
  inspect: () => db.inspector(),
  cleanup,
  restartEmpty: () => db.restartEmpty(),
  // Nothing listens on that port: every call must reject, not answer.
  unreachable: async () => postgresStore({ pool: testPool({ connectionString: `postgres://postgres@127.0.0.1:${await freePort()}/test` }), prefix: uniquePrefix('unreachable') }),
});
testStrategiesOnStore('postgresStore', make, { inspect: () => db.inspector(), cleanup });

/** An append as postgresStore makes it, minus its pg_notify. */
async function silentAppend(log: string, fields: string[]): Promise<void> {
  const t = (name: string) => `"${db.name}".${name}`;
  await db.pool.query(`WITH head AS (
    INSERT INTO ${t('ep_log_heads')} AS h (log, seq, appended_at, expires_at) VALUES ($1, 1, now(), now() + interval '1 hour')
    ON CONFLICT (log) DO UPDATE SET seq = h.seq + 1, appended_at = now() RETURNING seq, appended_at, expires_at)
    INSERT INTO ${t('ep_log')} (log, seq, fields, appended_at, expires_at) SELECT $1, seq, $2, appended_at, expires_at FROM head`,
  [log, fields]);
}

function recorder() {
  const entries: string[][] = [];
  let lastSync = -Infinity;
  const listener: RevocationLogListener = {
    entries: (batch) => { for (const fields of batch) entries.push([...fields]); },
    synced: (atMs) => { lastSync = Math.max(lastSync, atMs); },
    gap: () => {},
  };
  return { listener, entries, lastSync: () => lastSync };
}

describe('postgresStore specifics', () => {
  it('ships its schema as SQL: adapters/postgres-schema.sql is what migrate() runs (regenerate: npx ts-node --transpile-only scripts/postgres-schema.ts)', () => {
    expect(readFileSync(join(__dirname, '..', '..', 'adapters', 'postgres-schema.sql'), 'utf8')).toBe(schemaFile());
    const manifest = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { files: string[] };
    expect(manifest.files).toContain('adapters/postgres-schema.sql');
  });

  it('migrate() is idempotent and safe when instances start together', async () => {
    const schema = `${db.name}_m`;
    try {
      await Promise.all([1, 2, 3].map(() => postgresStore({ pool: db.pool, schema }).migrate()));
      await postgresStore({ pool: db.pool, schema }).migrate();
      const store = postgresStore({ pool: db.pool, schema, prefix: uniquePrefix('migrated') });
      await store.set('k', 'v', 60_000);
      expect(await store.get('k')).toBe('v');
      const { rows } = await db.pool.query('SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1', [schema]);
      expect(rows.map((r: { table_name: string }) => r.table_name)).toEqual(['ep_log', 'ep_log_heads', 'ep_records', 'ep_subject_index']);
    } finally {
      await db.pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    }
  });

  it('refuses a missing pool and a schema that is not a plain identifier, naming what fits', () => {
    expect(() => postgresStore({ pool: undefined as never })).toThrow(/pg Pool/);
    expect(() => postgresStore({ pool: db.pool, schema: 'a"; DROP TABLE x; --' })).toThrow(/plain identifier/);
    expect(() => postgresStore({ pool: db.pool, poool: 1 } as never)).toThrow(TypeError);
  });

  it('lists a subject\'s sessions through the primary-key index, not a table scan', async () => {
    const client = await db.pool.connect();
    let plan: string;
    try {
      // With sequential scans priced out, the plan names an index only if one serves the query (on a tiny
      // table the planner would otherwise pick a scan whatever indexes exist).
      await client.query('BEGIN');
      await client.query('SET LOCAL enable_seqscan = off');
      const { rows } = await client.query(
        `EXPLAIN (FORMAT JSON) SELECT member FROM "${db.name}".ep_subject_index WHERE prefix = 'p' AND subject = 's' AND expires_at > now()`,
      );
      plan = JSON.stringify(rows[0]);
      await client.query('ROLLBACK');
    } finally {
      client.release();
    }
    expect(plan).toMatch(/ep_subject_index_pkey/);
    expect(plan).not.toMatch(/Seq Scan/);
  });

  it('the background sweep deletes expired records and index rows; live ones and retained log entries stay', async () => {
    const prefix = uniquePrefix('sweep');
    const store = db.store({ prefix, sweepInterval: '100ms' });
    try {
      await store.set('dead', 'x', 50);
      await store.indexAdd('sub', 'dead', 50);
      await store.revocationLog?.append(['j', 'x'], 1); // the log keeps entries one trim margin longer
      await store.set('live', 'y', 60_000);
      const count = async (table: string, column: string) => Number((await db.pool.query(
        `SELECT count(*) AS n FROM "${db.name}".${table} WHERE starts_with(${column}, $1)`, [prefix],
      )).rows[0].n);
      await eventually(async () => (await count('ep_records', 'key')) === 1 && (await count('ep_subject_index', 'prefix')) === 0, 'expired rows are deleted', 15_000);
      expect(await store.get('live')).toBe('y');
      expect(await count('ep_log', 'log')).toBe(1);
    } finally {
      await store.close();
    }
  }, 30_000);

  it('a database slower than the deadline: the call rejects with ERR_STORE_UNAVAILABLE at the deadline, not when it answers', async () => {
    const store = db.store({ prefix: uniquePrefix('slow'), timeout: '300ms' });
    const blocker = await db.pool.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query(`LOCK TABLE "${db.name}".ep_records IN ACCESS EXCLUSIVE MODE`);
      const t0 = Date.now();
      await expect(store.get('k')).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE', status: 503 });
      await expect(store.swap('k', 'a', 'b', 60_000)).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' });
      expect(Date.now() - t0).toBeLessThan(5_000);
    } finally {
      await blocker.query('ROLLBACK');
      blocker.release();
      await store.close();
    }
  }, 30_000);

  it('entries trimmed before a follower read them are reported as a gap, at start and while following', async () => {
    const prefix = uniquePrefix('trimmed');
    const store = db.store({ prefix });
    const log = store.revocationLog as RevocationLog;
    const name = `${prefix}rv:log`;
    const trim = (seqs: number[]) => db.pool.query(`DELETE FROM "${db.name}".ep_log WHERE log = $1 AND seq = ANY($2::bigint[])`, [name, seqs]);
    const gaps: number[] = [];
    const rec = recorder();
    rec.listener.gap = (until) => { gaps.push(until); };
    await log.append(['n', '1'], 60_000);
    await log.append(['n', '2'], 60_000);
    await trim([1]);
    const follower = log.follow(rec.listener, 60_000);
    try {
      await eventually(() => rec.entries.length === 1, 'the retained entry is delivered');
      expect(rec.entries).toEqual([['n', '2']]);
      expect(gaps.length).toBe(1); // from the start, entry 1 was gone
      // Following: entries 3 and 4 arrive while the follower waits, 3 is trimmed before it reads.
      const before = Date.now();
      await silentAppend(name, ['n', '3']);
      await silentAppend(name, ['n', '4']);
      await trim([3]);
      await db.pool.query("SELECT pg_notify('ep_log', $1)", [logTag(db.name, name)]);
      await eventually(() => rec.entries.length >= 2 && gaps.length === 2, 'entry 4 and a gap for entry 3');
      expect(rec.entries.slice(1).filter(([, n]) => n === '4')).toEqual([['n', '4']]);
      expect(gaps[1]).toBeGreaterThanOrEqual(before - 1_000);
    } finally {
      await follower.close();
      await store.close();
    }
  }, 30_000);

  it('a NOTIFY that never comes (an entry written without one) is still delivered, within a polling round', async () => {
    const prefix = uniquePrefix('lost-notify');
    const store = db.store({ prefix });
    const rec = recorder();
    const follower = (store.revocationLog as RevocationLog).follow(rec.listener, 200);
    try {
      await eventually(() => rec.lastSync() > -Infinity, 'the follower is in sync');
      // The same append, minus pg_notify: as if the notification had been lost.
      await silentAppend(`${prefix}rv:log`, ['j', 'silent-jti', 'e', String(Date.now() + 60_000)]);
      const since = performance.now();
      await eventually(() => rec.entries.length === 1, 'the silent entry is delivered');
      expect(rec.entries).toEqual([['j', 'silent-jti', 'e', expect.any(String)]]);
      // Three rounds of 200 ms at most, with room for a busy machine; without polling it would never come.
      expect(performance.now() - since).toBeLessThan(5_000);
    } finally {
      await follower.close();
      await store.close();
    }
  }, 30_000);

  it('an append wakes an idle follower through NOTIFY, long before its polling round', async () => {
    const store = db.store({ prefix: uniquePrefix('notify') });
    const rec = recorder();
    const follower = (store.revocationLog as RevocationLog).follow(rec.listener, 60_000);
    try {
      await eventually(() => rec.lastSync() > -Infinity, 'the follower is in sync');
      const since = performance.now();
      await (store.revocationLog as RevocationLog).append(['j', 'loud-jti'], 60_000);
      await eventually(() => rec.entries.length === 1, 'the entry is delivered', 20_000);
      expect(performance.now() - since).toBeLessThan(20_000);
      expect(rec.entries).toEqual([['j', 'loud-jti']]);
    } finally {
      await follower.close();
      await store.close();
    }
  }, 40_000);
});
