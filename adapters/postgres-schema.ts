import { configError } from '../lib/errors';

/**
 * The tables of postgresStore(), as SQL. `adapters/postgres-schema.sql` in the package is this text for the
 * current schema (`table('x')` = `x`); `store.migrate()` runs it with every name qualified by the store's schema.
 *
 * - `ep_records`: every value (session records, deny-list entries, revocation marks), under its prefixed key.
 * - `ep_subject_index`: a subject's session ids, primary key (prefix, subject, member): listing them is an index
 *   range scan, never a table scan.
 * - `ep_log` / `ep_log_heads`: the revocation and invalidation logs. The head row of a log hands out its dense
 *   sequence numbers under a row lock, so entries become visible in sequence order and a follower can tell a
 *   trimmed entry (a hole before the first retained one) from one still to come.
 * Every row has an `expires_at`: reads ignore expired rows, a background sweep deletes them.
 */
export function schemaStatements(table: (name: string) => string): string[] {
  return [
    `CREATE TABLE IF NOT EXISTS ${table('ep_records')} (
  key text PRIMARY KEY,
  value text NOT NULL,
  expires_at timestamptz NOT NULL
)`,
    `CREATE INDEX IF NOT EXISTS ep_records_expires_at ON ${table('ep_records')} (expires_at)`,
    `CREATE TABLE IF NOT EXISTS ${table('ep_subject_index')} (
  prefix text NOT NULL,
  subject text NOT NULL,
  member text NOT NULL,
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (prefix, subject, member)
)`,
    `CREATE INDEX IF NOT EXISTS ep_subject_index_expires_at ON ${table('ep_subject_index')} (expires_at)`,
    `CREATE TABLE IF NOT EXISTS ${table('ep_log_heads')} (
  log text PRIMARY KEY,
  generation uuid NOT NULL DEFAULT gen_random_uuid(),
  seq bigint NOT NULL,
  appended_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL
)`,
    `CREATE TABLE IF NOT EXISTS ${table('ep_log')} (
  log text NOT NULL,
  seq bigint NOT NULL,
  fields text[] NOT NULL,
  appended_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (log, seq)
)`,
    `CREATE INDEX IF NOT EXISTS ep_log_expires_at ON ${table('ep_log')} (expires_at)`,
  ];
}

const HEADER = `-- express-principal: the tables of postgresStore() (PostgreSQL 13 or later).
-- Creates them in the current schema (the first of search_path); for another one, run
--   SET search_path TO your_schema;
-- first and pass postgresStore({ pool, schema: 'your_schema' }). store.migrate() runs the same statements.
`;

/** The text of `adapters/postgres-schema.sql`. */
export function schemaFile(): string {
  return `${HEADER}\n${schemaStatements((name) => name).map((s) => `${s};\n`).join('\n')}`;
}

/** A schema name as an SQL identifier; refused unless it is a plain one (no quoting games in generated SQL). */
export function quoteSchema(schema: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(schema)) {
    throw configError(`postgresStore: schema must be a plain identifier (letters, digits, _; at most 63), got ${JSON.stringify(schema)}`);
  }
  return `"${schema}"`;
}
