import type { SessionData, Store } from 'express-session';
import type { StateStore } from '../lib/types';
import { configError } from '../lib/errors';
import { toMs } from '../lib/duration';
import { checkOptions } from '../lib/option-keys';
import { boundedRunner } from './bounded';
import { CallbackSessionStore, sessionTtlSeconds, type SessionBackedStore } from './session-store';
import { postgresLog, type LogConnection, type PostgresLogTables } from './postgres-log';
import { quoteSchema, schemaStatements } from './postgres-schema';
import { recordSql, sweepSql, type RecordSql } from './postgres-sql';

/** What postgresStore() uses of a `pg` Pool (`new Pool(...)` from the `pg` package fits). */
export interface PgPoolLike {
  /** One statement on a pooled connection (pg's `pool.query`). */
  query(text: string, values?: unknown[]): Promise<PgResult>;
  /** A connection of the pool for a transaction (pg's `pool.connect`). */
  connect(): Promise<PgPoolClient>;
  /** Set once the app ended the pool: every call then answers 503. */
  readonly ended?: boolean;
  /** The pool's connection options; the log followers open their own connections with them. */
  readonly options?: object;
  /** The Client class the pool uses (pg sets it); followers are made of it. */
  readonly Client?: unknown;
}

/** What a pg query resolves to (the fields the store reads). */
export interface PgResult {
  /** The rows returned. */
  rows: unknown[];
  /** Rows changed (null for statements that report none). */
  rowCount: number | null;
}

/** A connection checked out of the pool. */
export interface PgPoolClient {
  /** One statement on this connection. */
  query(text: string, values?: unknown[]): Promise<unknown>;
  /** Returns it to the pool (`err` discards it). */
  release(err?: Error | boolean): void;
}

/** Options of `postgresStore()`. */
export interface PostgresStoreOptions {
  /** Your `pg` Pool. express-principal never ends it (attach `pool.on('error', …)` as pg asks). */
  pool: PgPoolLike;
  /** Schema of the tables (see `migrate()` and `adapters/postgres-schema.sql`). @default 'public' */
  schema?: string;
  /** Prefix of every key (and log name): two prefixes share nothing. @default 'ep:' */
  prefix?: string;
  /** Deadline of every store call; past it the request gets 503. @default '1s' */
  timeout?: string | number;
  /** `Retry-After` seconds on a 503. @default 1 */
  retryAfter?: number;
  /** How often expired rows are deleted (reads ignore them anyway); `false`: never (run your own job). @default '1m' */
  sweepInterval?: string | number | false;
}

/** A StateStore on PostgreSQL, plus the one thing it needs at deploy time. */
export interface PostgresStore extends StateStore {
  /** Creates the schema and tables if they are missing (idempotent; concurrent calls are serialised). */
  migrate(): Promise<void>;
}

/** Rows deleted per table and sweep: a big backlog is worked off over several sweeps, never one long lock. */
const SWEEP_BATCH = 5_000;

/**
 * State in PostgreSQL through a `pg` Pool: session records (statefulJwt, sessionCookie in express-session's
 * format), the per-subject index, revocation marks and both logs, shared by every instance on the database.
 * Expiry is enforced on every read and expired rows are swept in the background.
 * @example
 * const pool = new Pool({ connectionString: process.env.DATABASE_URL });
 * const store = postgresStore({ pool });
 * await store.migrate();
 * principal({ strategy: statefulJwt({ secret, store }) })
 */
export function postgresStore(options: PostgresStoreOptions): PostgresStore {
  checkOptions('postgresStore', options);
  const pool = options?.pool;
  if (!pool || typeof pool.query !== 'function' || typeof pool.connect !== 'function') {
    throw configError('postgresStore needs `pool`: a pg Pool (new Pool(...) from the `pg` package)');
  }
  const schemaName = options.schema ?? 'public';
  const schema = quoteSchema(schemaName);
  const prefix = options.prefix ?? 'ep:';
  const timeoutMs = toMs(options.timeout ?? '1s', 'timeout');
  const retryAfter = options.retryAfter ?? 1;
  const unavailable = () => (pool.ended === true ? 'the pg pool was ended' : null);
  const run = boundedRunner(timeoutMs, unavailable, retryAfter);
  const table = (name: string) => `${schema}."${name}"`;
  const sql = recordSql({ records: table('ep_records'), index: table('ep_subject_index') });
  const tables: PostgresLogTables = { log: table('ep_log'), heads: table('ep_log_heads'), schema: schemaName };
  const connect = followerConnection(pool, Math.max(5_000, timeoutMs * 5));
  const sweep = sweepSql([table('ep_records'), table('ep_subject_index'), tables.log, tables.heads], SWEEP_BATCH);
  const timer = startSweeper(pool, sweep, options.sweepInterval ?? '1m', run);

  const records = recordMethods(pool, sql, prefix, run);
  const sessions = new CallbackSessionStore({
    get: async (sid) => { const raw = await records.get(`sess:${sid}`); return raw === null ? null : (JSON.parse(raw) as SessionData); },
    set: (sid, sess) => records.set(`sess:${sid}`, JSON.stringify(sess), sessionTtlSeconds(sess) * 1000),
    destroy: (sid) => records.delete(`sess:${sid}`),
  });
  const store: SessionBackedStore & PostgresStore = {
    ...records,
    sessionStore: (): Store => sessions,
    revocationLog: postgresLog(pool, tables, `${prefix}rv:log`, run, connect),
    // Record-cache invalidations: a sibling log, trimmed on its own (the same name as redisStore's stream).
    invalidationLog: postgresLog(pool, tables, `${prefix}rc:rv:log`, run, connect),
    migrate: () => migrate(pool, schema, table),
    async close() { if (timer !== null) clearInterval(timer); },
  };
  return store;
}

type Run = <T>(work: () => Promise<T>) => Promise<T>;

/** The StateStore methods over the two tables; every one is a single statement (atomic on its own). */
function recordMethods(pool: PgPoolLike, sql: RecordSql, prefix: string, run: Run): Omit<StateStore, 'close'> {
  const ms = (ttlMs: number) => Math.max(1, Math.ceil(ttlMs));
  const rows = async (text: string, values: unknown[]) => (await pool.query(text, values)).rows as Record<string, string>[];
  return {
    kind: 'redis', // shared between store objects and processes (the contract's word for it)
    prefix,
    get: (key) => run(async () => (await rows(sql.get, [prefix + key]))[0]?.value ?? null),
    getMany: (keys) => run(async () => {
      if (keys.length === 0) return [];
      const found = new Map((await rows(sql.getMany, [keys.map((key) => prefix + key)])).map((row) => [row.key, row.value]));
      return keys.map((key) => found.get(prefix + key) ?? null);
    }),
    set: (key, value, ttlMs) => run(async () => { await pool.query(sql.set, [prefix + key, value, ms(ttlMs)]); }),
    setMax: (key, value, ttlMs) => run(async () => { await pool.query(sql.setMax, [prefix + key, String(value), ms(ttlMs)]); }),
    swap: (key, expected, value, ttlMs) => run(async () => (await pool.query(sql.swap, [prefix + key, expected, value, ms(ttlMs)])).rowCount === 1),
    delete: (key) => run(async () => { await pool.query(sql.delete, [prefix + key]); }),
    touch: (key, ttlMs) => run(async () => { await pool.query(sql.touch, [prefix + key, ms(ttlMs)]); }),
    indexAdd: (subject, member, ttlMs) => run(async () => { await pool.query(sql.indexAdd, [prefix, subject, member, ms(ttlMs)]); }),
    indexMembers: (subject) => run(async () => (await rows(sql.indexMembers, [prefix, subject])).map((row) => row.member as string)),
    indexRemove: (subject, members) => run(async () => {
      if (members.length > 0) await pool.query(sql.indexRemove, [prefix, subject, [...members]]);
    }),
  };
}

/** Connections for log followers: of the pool's own Client class and options, never one of the pool's. */
function followerConnection(pool: PgPoolLike, queryTimeoutMs: number): () => LogConnection {
  return () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const Client = (pool.Client ?? (require('pg') as { Client: unknown }).Client) as new (config: object) => LogConnection;
    const base = (pool.options ?? {}) as { password?: unknown; application_name?: string; connectionTimeoutMillis?: number };
    return new Client({
      ...base,
      password: base.password, // pg keeps it non-enumerable on the pool's options
      application_name: `${base.application_name ?? 'ep'}:log`,
      connectionTimeoutMillis: base.connectionTimeoutMillis || queryTimeoutMs,
      query_timeout: queryTimeoutMs,
    });
  };
}

function startSweeper(pool: PgPoolLike, sweep: string, every: string | number | false, run: Run): NodeJS.Timeout | null {
  if (every === false) return null;
  const intervalMs = toMs(every, 'sweepInterval');
  if (intervalMs < 1) throw configError('postgresStore: sweepInterval must be positive (or false: no sweep)');
  const timer = setInterval(() => {
    run(() => pool.query(sweep)).catch(() => { /* the next sweep tries again */ });
  }, intervalMs);
  timer.unref();
  return timer;
}

async function migrate(pool: PgPoolLike, schema: string, table: (name: string) => string): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    // Instances starting together: CREATE … IF NOT EXISTS is not safe against a concurrent CREATE.
    await client.query("SELECT pg_advisory_xact_lock(hashtext('express-principal:migrate'))");
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    for (const statement of schemaStatements(table)) await client.query(statement);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => { /* the connection is gone */ });
    throw err;
  } finally {
    client.release();
  }
}
