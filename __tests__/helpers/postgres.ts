/**
 * Test-only PostgreSQL helpers: pools on the machine's PostgreSQL (PG_URL, default
 * postgres://postgres@127.0.0.1:5432/test), one schema per test file (random name, dropped afterwards), and
 * raw access to the store's tables for inspectors.
 */
import { randomBytes } from 'node:crypto';
import { Pool, type PoolConfig } from 'pg';
import { postgresStore, type PostgresStore, type PostgresStoreOptions } from '../../lib';
import type { StoreInspector } from '../../lib/testing';

export const DEFAULT_PG_URL = 'postgres://postgres@127.0.0.1:5432/test';

export function pgUrl(): string {
  return process.env.PG_URL || DEFAULT_PG_URL;
}

/** A pool whose idle-client errors (a server going away) are ignored: queries still reject. */
export function testPool(config: PoolConfig = {}): Pool {
  const pool = new Pool({ connectionString: pgUrl(), max: 4, ...config });
  pool.on('error', () => { /* outages are part of the tests */ });
  return pool;
}

/** A schema name unique to this file and run, e.g. `ep_t_adapters_lz1x2c_9f3a1b`. */
export function uniqueSchema(label: string): string {
  return `ep_t_${label.replace(/[^a-z0-9]+/gi, '_').toLowerCase().slice(0, 20)}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
}

export interface TestSchema {
  readonly name: string;
  /** The application_name every pool of this schema uses (followers add `:log`). */
  readonly appName: string;
  /** The admin pool (no tables of its own). */
  readonly pool: Pool;
  /** A pool of this file's own, tagged with its application_name. */
  newPool(config?: PoolConfig): Pool;
  store(options?: Partial<PostgresStoreOptions>): PostgresStore;
  inspector(): StoreInspector;
  /** Deletes every row under these prefixes. */
  cleanup(prefixes: string[]): Promise<void>;
  /** Truncates the tables and terminates this file's connections: a database that lost its data. */
  restartEmpty(): Promise<void>;
  drop(): Promise<void>;
}

/** Creates the schema and its tables (through migrate()); call in beforeAll, drop() in afterAll. */
export async function createTestSchema(label: string): Promise<TestSchema> {
  const name = uniqueSchema(label);
  const appName = `ep-test-${name}`;
  const pools: Pool[] = [];
  const newPool = (config: PoolConfig = {}) => {
    const p = testPool({ application_name: appName, ...config });
    pools.push(p);
    return p;
  };
  const pool = newPool();
  const t = (table: string) => `"${name}"."${table}"`;
  const store = (options: Partial<PostgresStoreOptions> = {}) => postgresStore({ pool, schema: name, ...options });
  await store().migrate();
  return {
    name, appName, pool, newPool, store,
    inspector: () => inspector(pool, name),
    async cleanup(prefixes) {
      for (const p of prefixes) {
        await pool.query(`DELETE FROM ${t('ep_records')} WHERE starts_with(key, $1)`, [p]);
        await pool.query(`DELETE FROM ${t('ep_subject_index')} WHERE prefix = $1`, [p]);
        await pool.query(`DELETE FROM ${t('ep_log')} WHERE starts_with(log, $1)`, [p]);
        await pool.query(`DELETE FROM ${t('ep_log_heads')} WHERE starts_with(log, $1)`, [p]);
      }
    },
    async restartEmpty() {
      await pool.query(`TRUNCATE ${['ep_records', 'ep_subject_index', 'ep_log', 'ep_log_heads'].map(t).join(', ')}`);
      await pool.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE starts_with(application_name, $1) AND pid <> pg_backend_pid()', [appName]);
    },
    async drop() {
      await pool.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`);
      await Promise.all(pools.map((p) => p.end()));
    },
  };
}

/**
 * Raw view of the tables as keys: a record is its key, a subject's index `<prefix>idx:<subject>`, a log its name;
 * the TTL of an index or a log is its longest-lived row's.
 */
function inspector(pool: Pool, schema: string): StoreInspector {
  const t = (table: string) => `"${schema}"."${table}"`;
  const ttl = (expr: string) => `ceil(extract(epoch FROM ${expr} - now()) * 1000)::float8`;
  const all = `SELECT key, ${ttl('expires_at')} AS ttl FROM ${t('ep_records')} WHERE expires_at > now()
    UNION ALL SELECT prefix || 'idx:' || subject, ${ttl('max(expires_at)')} FROM ${t('ep_subject_index')} WHERE expires_at > now() GROUP BY prefix, subject
    UNION ALL SELECT log, ${ttl('expires_at')} FROM ${t('ep_log_heads')} WHERE expires_at > now()`;
  return {
    async keys(prefix) {
      const { rows } = await pool.query<{ key: string }>(`SELECT key FROM (${all}) k WHERE starts_with(key, $1)`, [prefix]);
      return rows.map((r) => r.key);
    },
    async pttl(key) {
      const { rows } = await pool.query<{ ttl: number }>(`SELECT ttl FROM (${all}) k WHERE key = $1`, [key]);
      return rows[0]?.ttl ?? -2;
    },
    async rawGet(key) {
      const { rows } = await pool.query<{ value: string }>(`SELECT value FROM ${t('ep_records')} WHERE key = $1 AND expires_at > now()`, [key]);
      return rows[0]?.value ?? null;
    },
  };
}
