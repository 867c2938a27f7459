import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { RevocationLog, RevocationLogFollower, RevocationLogListener } from '../lib/types';

/**
 * A log (revocations, or record-cache invalidations) on PostgreSQL: rows of `ep_log` under one log name, numbered
 * by the log's head row in `ep_log_heads`.
 *
 * An append takes the head row's lock (an upsert that bumps `seq`), inserts the entry with that number and sends
 * a NOTIFY, in one statement. Appends to a log are therefore committed in sequence order, with no holes: a
 * follower that has read up to n and now sees n + 2 first knows n + 1 was trimmed (a gap), not still in flight.
 * An entry's expiry is the larger of its own retention and the previous entry's, so trimming only ever removes
 * the oldest entries, and a writer with a short retention never trims what a longer one still needs.
 *
 * Followers LISTEN on their own connection and read after each notification, and also every `blockMs` whatever
 * happens: a lost notification (a connection that dropped between NOTIFY and LISTEN, a row written by hand) delays
 * an entry by one round at most, never forever. Each round reads the head in the same snapshot as the entries: a
 * head that vanished or came back with another generation (tables truncated, log expired, data restored) is a
 * reset and a gap.
 */

/** Entries read per round; a round that returns fewer has caught up with the log. */
const BATCH = 10_000;
/** Extra time the log keeps entries, for clock differences between app servers and the database. */
const TRIM_MARGIN_MS = 60_000;
/** First wait before retrying a connection or a read, doubled on each failure up to MAX_BACKOFF_MS. */
const FIRST_BACKOFF_MS = 20;
const MAX_BACKOFF_MS = 500;
/** The NOTIFY channel (per database); the payload says which log. */
export const LOG_CHANNEL = 'ep_log';

type Run = <T>(work: () => Promise<T>) => Promise<T>;

export interface LogQueryable {
  query(text: string, values?: unknown[]): Promise<{ rows: unknown[] }>;
}

/** A connection of the follower's own (a pg `Client`). */
export interface LogConnection extends LogQueryable {
  connect(): Promise<unknown>;
  end(): Promise<unknown>;
  on(event: 'notification', listener: (message: { channel: string; payload?: string }) => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
}

export interface PostgresLogTables {
  /** Qualified table names. */
  readonly log: string;
  readonly heads: string;
  /** The schema, so two schemas' logs of one name tell their notifications apart. */
  readonly schema: string;
}

/** The NOTIFY payload of one log: short and fixed-length whatever the prefix (payloads are limited to 8000 bytes). */
export function logTag(schema: string, name: string): string {
  return createHash('sha256').update(`${schema}\0${name}`).digest('hex').slice(0, 32);
}

export function appendSql(t: PostgresLogTables): string {
  return `WITH head AS (
  INSERT INTO ${t.heads} AS h (log, seq, appended_at, expires_at)
  VALUES ($1, 1, clock_timestamp(), clock_timestamp() + $3::float8 * interval '1 millisecond')
  ON CONFLICT (log) DO UPDATE SET seq = h.seq + 1, appended_at = clock_timestamp(),
    expires_at = GREATEST(h.expires_at, excluded.expires_at)
  RETURNING seq, appended_at, expires_at
), entry AS (
  INSERT INTO ${t.log} (log, seq, fields, appended_at, expires_at)
  SELECT $1, seq, $2::text[], appended_at, expires_at FROM head
  RETURNING seq
)
SELECT pg_notify('${LOG_CHANNEL}', $4) FROM entry`;
}

export function postgresLog(pool: LogQueryable, tables: PostgresLogTables, name: string, run: Run, connect: () => LogConnection): RevocationLog {
  const tag = logTag(tables.schema, name);
  const append = appendSql(tables);
  return {
    append: (fields, retainMs) => run(async () => {
      await pool.query(append, [name, [...fields], Math.ceil(retainMs) + TRIM_MARGIN_MS, tag]);
    }),
    follow: (listener, blockMs) => new PostgresLogFollower(connect, readSql(tables), name, tag, listener, Math.max(1, Math.floor(blockMs))),
  };
}

function readSql(t: PostgresLogTables): string {
  // One row per entry after $2 (or one row of nulls), each with the head as of the same snapshot.
  return `SELECT h.generation::text AS generation, h.seq AS head_seq,
  (extract(epoch FROM h.appended_at) * 1000)::float8 AS head_at,
  e.seq, e.fields, (extract(epoch FROM e.appended_at) * 1000)::float8 AS at
FROM (SELECT 1) AS one
LEFT JOIN ${t.heads} h ON h.log = $1
LEFT JOIN LATERAL (SELECT seq, fields, appended_at FROM ${t.log} WHERE log = $1 AND seq > $2 ORDER BY seq LIMIT ${BATCH}) e ON true
ORDER BY e.seq`;
}

interface Row {
  generation: string | null;
  head_seq: string | null;
  head_at: number | null;
  seq: string | null;
  fields: string[] | null;
  at: number | null;
}

/** One instance's reader of a log, on a connection of its own; reconnects with backoff until closed. */
class PostgresLogFollower implements RevocationLogFollower {
  private closed = false;
  private conn: LogConnection | null = null;
  private wake: (() => void) | null = null;
  /** A notification came while no pause was running: the next pause is skipped. */
  private notified = false;
  /** The head generation we follow; null before the log exists (or after it vanished). */
  private generation: string | null = null;
  /** Sequence number of the last entry delivered (0: none). */
  private lastSeq = 0;
  private backoffMs = FIRST_BACKOFF_MS;
  private readonly loop: Promise<void>;

  constructor(
    private readonly connect: () => LogConnection,
    private readonly sql: string,
    private readonly name: string,
    private readonly tag: string,
    private readonly listener: RevocationLogListener,
    private readonly blockMs: number,
  ) {
    this.loop = this.run();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
    const c = this.conn;
    this.conn = null;
    await c?.end().catch(() => { /* already gone */ });
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.closed) {
      try {
        const conn = this.conn ?? await this.open();
        if (this.closed) break;
        if (await this.round(conn)) await this.pause(this.blockMs);
        this.backoffMs = FIRST_BACKOFF_MS;
      } catch {
        if (this.closed) break;
        this.drop();
        await this.pause(this.backoffMs);
        this.backoffMs = Math.min(this.backoffMs * 2, MAX_BACKOFF_MS);
      }
    }
  }

  /** Connects and LISTENs before the first read, so nothing committed after that read goes unannounced. */
  private async open(): Promise<LogConnection> {
    const conn = this.connect();
    conn.on('error', () => { /* reported through the failing query; the loop reconnects */ });
    conn.on('notification', (message) => {
      if (message.payload !== this.tag) return;
      this.notified = true;
      this.wake?.();
    });
    this.conn = conn;
    await conn.connect();
    // Never keeps the process alive (pg has no unref of its own; its socket is `connection.stream`).
    (conn as { connection?: { stream?: { unref?: () => void } } }).connection?.stream?.unref?.();
    await conn.query(`LISTEN ${LOG_CHANNEL}`);
    return conn;
  }

  private drop(): void {
    const conn = this.conn;
    this.conn = null;
    conn?.end().catch(() => { /* already gone */ });
  }

  /** One read; true when caught up (wait for a notification or blockMs), false to read again at once. */
  private async round(conn: LogConnection): Promise<boolean> {
    this.notified = false;
    const sentAt = performance.now();
    const { rows } = await conn.query(this.sql, [this.name, String(this.lastSeq)]) as unknown as { rows: Row[] };
    if (this.closed) return false;
    const head = rows[0] as Row;
    if (head.generation === null || (this.generation !== null && head.generation !== this.generation) || Number(head.head_seq) < this.lastSeq) {
      if (this.generation !== null) this.lost();
      this.generation = null;
      this.lastSeq = 0;
      if (head.generation === null) this.listener.synced(sentAt);
      return head.generation === null;
    }
    this.generation = head.generation;
    const entries = rows.filter((row) => row.seq !== null);
    const first = entries[0];
    if (first !== undefined && Number(first.seq) > this.lastSeq + 1) this.listener.gap(Number(first.at));
    if (first === undefined && Number(head.head_seq) > this.lastSeq) {
      this.listener.gap(Number(head.head_at));
      this.lastSeq = Number(head.head_seq);
    }
    if (entries.length > 0) {
      this.lastSeq = Number((entries[entries.length - 1] as Row).seq);
      this.listener.entries(entries.map((row) => row.fields as string[]));
    }
    if (entries.length < BATCH) this.listener.synced(sentAt);
    return entries.length < BATCH;
  }

  /** The log we followed is gone: anything read before may be too, and entries up to now may never come. */
  private lost(): void {
    this.listener.gap(Date.now());
    this.listener.reset?.();
  }

  /** Waits `ms`, or until a notification or close(); the timer never keeps the process alive. */
  private pause(ms: number): Promise<void> {
    if (this.notified || this.closed) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => { this.wake = null; resolve(); }, ms);
      timer.unref();
      this.wake = () => { clearTimeout(timer); this.wake = null; resolve(); };
    });
  }
}
