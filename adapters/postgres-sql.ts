/**
 * The statements of postgresStore(), each one atomic on its own. Times are the database's clock (`now()`), so
 * every instance agrees on what has expired; TTLs arrive in whole milliseconds ($n::float8 ms).
 */
export interface RecordSql {
  readonly get: string;
  readonly getMany: string;
  readonly set: string;
  readonly setMax: string;
  readonly swap: string;
  readonly delete: string;
  readonly touch: string;
  readonly indexAdd: string;
  readonly indexMembers: string;
  readonly indexRemove: string;
}

const after = (param: string) => `now() + ${param}::float8 * interval '1 millisecond'`;

export function recordSql(t: { records: string; index: string }): RecordSql {
  return {
    get: `SELECT value FROM ${t.records} WHERE key = $1 AND expires_at > now()`,
    getMany: `SELECT key, value FROM ${t.records} WHERE key = ANY($1::text[]) AND expires_at > now()`,
    set: `INSERT INTO ${t.records} (key, value, expires_at) VALUES ($1, $2, ${after('$3')})
ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at`,
    // The larger number and the later expiry, whichever writer comes last; a held value that is not a number
    // (or has expired) is replaced. The row lock of the upsert makes concurrent writers take turns.
    setMax: `INSERT INTO ${t.records} AS r (key, value, expires_at) VALUES ($1, $2, ${after('$3')})
ON CONFLICT (key) DO UPDATE SET
  value = CASE WHEN r.expires_at > now() AND r.value ~ '^-?[0-9]+(\\.[0-9]+)?$' AND r.value::numeric > excluded.value::numeric
    THEN r.value ELSE excluded.value END,
  expires_at = GREATEST(r.expires_at, excluded.expires_at)`,
    // Compare-and-set: a concurrent UPDATE or DELETE of the row is waited for and the condition re-checked on
    // what it left, so of N swaps from one value one wins, and a deleted or expired row is never re-created.
    swap: `UPDATE ${t.records} SET value = $3, expires_at = ${after('$4')} WHERE key = $1 AND value = $2 AND expires_at > now()`,
    delete: `DELETE FROM ${t.records} WHERE key = $1`,
    touch: `UPDATE ${t.records} SET expires_at = ${after('$2')} WHERE key = $1 AND expires_at > now()`,
    // Each member keeps the longest TTL it was given, so a later, shorter add never shortens it.
    indexAdd: `INSERT INTO ${t.index} AS i (prefix, subject, member, expires_at) VALUES ($1, $2, $3, ${after('$4')})
ON CONFLICT (prefix, subject, member) DO UPDATE SET expires_at = GREATEST(i.expires_at, excluded.expires_at)`,
    indexMembers: `SELECT member FROM ${t.index} WHERE prefix = $1 AND subject = $2 AND expires_at > now()`,
    indexRemove: `DELETE FROM ${t.index} WHERE prefix = $1 AND subject = $2 AND member = ANY($3::text[])`,
  };
}

/**
 * Deletes up to `batch` expired rows of each table. The outer `expires_at` test matters: a row rewritten (a new login on a reused key) between the inner select and
 * the delete is re-checked against it and kept.
 */
export function sweepSql(tables: readonly string[], batch: number): string {
  return tables.map((table) => `DELETE FROM ${table} WHERE ctid = ANY(ARRAY(SELECT ctid FROM ${table} WHERE expires_at <= now() LIMIT ${batch})) AND expires_at <= now()`).join(';\n');
}
