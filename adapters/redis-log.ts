import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { RevocationLog, RevocationLogFollower, RevocationLogListener } from '../lib/types';
import { SET_MAX } from './redis-set-max';
import type { OwnConnection, RedisCommands } from './redis-commands';

/**
 * The revocation log on Redis: a Stream at `<prefix>rv:log`.
 *
 * Writers XADD one entry per revocation (through the app's client, bounded like every store call) and trim
 * by time (MINID ~ now − retention), so the log never holds more than one token lifetime of revocations.
 * Each instance follows it on its own duplicate connection with `XREAD BLOCK`: a log, not pub/sub, so a
 * follower that was disconnected resumes from the last id it saw and loses nothing. If entries it never saw
 * may have been trimmed meanwhile, it reports a gap so the cache sends the tokens those entries could affect to
 * a direct lookup. That is decided from the log's first entry and its count of entries ever added, never from
 * `max-deleted-entry-id` (Redis 7.0 leaves it at 0-0 when a stream is trimmed). A server that restarted (another
 * run id) or a log that vanished is reported as a reset.
 *
 * Writers with different retention (a 12-hour cookie session and a 15-minute JWT on one prefix) share the log:
 * `<log>:keep` holds the longest retention any writer still needs, and no writer trims below it.
 */

/** Entries read per round; a round that returns fewer has caught up with the log. */
const BATCH = 10_000;
/** Extra time the log keeps entries, for clock differences between app servers and Redis. */
const TRIM_MARGIN_MS = 60_000;

type Run = <T>(work: () => Promise<T>) => Promise<T>;

/** `undefined` when the client cannot give us a connection of our own (node-redis Sentinel: no `duplicate`). */
export function redisRevocationLog(redis: RedisCommands, prefix: string, run: Run): RevocationLog | undefined {
  const open = redis.openOwn;
  if (open === undefined) return undefined;
  const key = `${prefix}rv:log`;
  const keepKey = `${key}:keep`;

  return {
    append: (fields, retainMs) => run(async () => {
      const retain = Math.ceil(retainMs);
      // Raised before the entry is added: a writer that trims after our entry exists sees our retention.
      const keep = Number(await redis.evalScript(SET_MAX, [keepKey], [String(retain), String(retain + TRIM_MARGIN_MS)]));
      const minId = Math.max(0, Math.floor(Date.now() - Math.max(retain, keep) - TRIM_MARGIN_MS));
      // The log key carries a TTL like every key: with no revocation for a whole lifetime, nothing in it matters.
      const [id] = await Promise.all([
        redis.send(['XADD', key, 'MINID', '~', String(minId), '*', ...fields], key),
        redis.pExpire(key, retain + TRIM_MARGIN_MS, 'GT'),
        redis.pExpire(key, retain + TRIM_MARGIN_MS, 'NX'),
      ]);
      return String(id);
    }),
    follow: (listener, blockMs) => new LogFollower(() => open(redis.followerName), key, listener, Math.max(1, Math.floor(blockMs)), (args) => redis.send(args, `${key}:applied`)),
    applied: (position) => run(async () => {
      const reply = toMap(await redis.send(['HGETALL', `${key}:applied`], `${key}:applied`));
      return countApplied(reply, position, Date.now());
    }),
  };
}

/** A follower whose last heartbeat is older than this is gone (crashed, scaled away), not stalled. */
const LIVE_MS = 30_000;
/** How often an idle follower says it is alive. */
const HEARTBEAT_MS = 1_000;

/** `applied` hash fields are `<instance> → "<last entry id> <epoch ms>"`. */
function countApplied(reply: Map<string, unknown>, position: string, now: number): { applied: number; instances: number } {
  let applied = 0;
  let instances = 0;
  for (const value of reply.values()) {
    const [id = '0-0', at = '0'] = String(value).split(' ');
    if (now - Number(at) > LIVE_MS) continue;
    instances += 1;
    if (compareIds(id, position) >= 0) applied += 1;
  }
  return { applied, instances };
}

/** First wait before retrying a connection or a read, doubled on each failure up to MAX_BACKOFF_MS. */
const FIRST_BACKOFF_MS = 20;
const MAX_BACKOFF_MS = 500;

/**
 * One instance's reader of the log, on a connection of its own: reads with XREAD BLOCK until closed, retries
 * with backoff, and after every (re)connection works out where to resume before it reads again (see position).
 */
class LogFollower implements RevocationLogFollower {
  private closed = false;
  private conn: OwnConnection | null = null;
  /** Ends the current pause early (close() calls it). */
  private wake: (() => void) | null = null;
  /** Run id of the server at the last connection; undefined before the first. */
  private runId: string | null | undefined;
  /** Whether the log existed at some point while we followed it (its vanishing then means it was lost). */
  private seen = false;
  /** The last entry read; null until the first position. */
  private lastId: string | null = null;
  /** Set at the start and after every failure: were entries trimmed past our position meanwhile? */
  private checkGap = true;
  private backoffMs = FIRST_BACKOFF_MS;
  /** This follower's field in the `applied` hash, and when it last wrote it. */
  private readonly instance = randomBytes(8).toString('hex');
  private reportedAt = -Infinity;
  private readonly loop: Promise<void>;

  constructor(
    private readonly open: () => OwnConnection,
    private readonly key: string,
    private readonly listener: RevocationLogListener,
    private readonly blockMs: number,
    /** A command on the app's client (the follower's own connection is gone by then): the HDEL at close. */
    private readonly sendOnApp: (args: string[]) => Promise<unknown>,
  ) {
    this.loop = this.run();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
    const c = this.conn;
    this.conn = null;
    c?.destroy();
    await this.loop;
    // Gone, not stalled: receipts stop counting this instance (best effort; its heartbeat ages out anyway).
    // Not awaited: with Redis down the app's client would queue it, and close() must not wait for that.
    try {
      this.sendOnApp(['HDEL', `${this.key}:applied`, this.instance]).catch(() => undefined);
    } catch { /* the app's client is already closed */ }
  }

  private async run(): Promise<void> {
    while (!this.closed) {
      try {
        // No await while connected: a round costs the XREAD and nothing more.
        const conn = this.conn ?? await this.connect();
        if (this.closed) break;
        if (conn.ready()) await this.readRound(conn);
        else await this.backOff();
      } catch {
        if (this.closed) break;
        this.checkGap = true;
        this.dropIfUnconnected();
        await this.backOff();
      }
    }
  }

  /** The follower's own connection, opened on first use and again after a connect that failed. */
  private async connect(): Promise<OwnConnection> {
    const created = this.open();
    this.conn = created;
    await created.connect();
    return created;
  }

  /** connect() failed (Redis unreachable) or the connection gave up: start over with a fresh one. */
  private dropIfUnconnected(): void {
    const conn = this.conn;
    if (conn === null || conn.alive()) return;
    conn.destroy();
    this.conn = null;
  }

  /** One XREAD: its entries go to the listener, and a short reply proves the listener in sync. */
  private async readRound(conn: OwnConnection): Promise<void> {
    if (this.checkGap) {
      this.lastId = await this.position(conn, this.lastId);
      this.checkGap = false;
    }
    const sentAt = performance.now();
    // Read from the master: a replica's lag would stretch the staleness bound.
    const reply = await conn.send(['XREAD', 'COUNT', String(BATCH), 'BLOCK', String(this.blockMs), 'STREAMS', this.key, this.lastId as string], this.key);
    if (this.closed) return;
    const items = parseXRead(reply);
    if (items.length > 0) {
      this.lastId = (items[items.length - 1] as StreamItem).id;
      this.seen = true;
      this.listener.entries(items.map((item) => item.fields));
    }
    // Everything appended before the command left us is in this reply (or there was nothing).
    if (items.length < BATCH) this.listener.synced(sentAt);
    this.backoffMs = FIRST_BACKOFF_MS;
    if (items.length > 0 || performance.now() - this.reportedAt >= HEARTBEAT_MS) await this.report(conn);
  }

  /** Records how far this instance has applied the log (what receipts count), and that it is alive. */
  private async report(conn: OwnConnection): Promise<void> {
    this.reportedAt = performance.now();
    const applied = `${this.key}:applied`;
    await Promise.all([
      conn.send(['HSET', applied, this.instance, `${this.lastId ?? '0-0'} ${Date.now()}`], applied),
      // EXPIRE (seconds), not PEXPIRE: operators and tests can tell the follower's bookkeeping from request traffic.
      conn.send(['EXPIRE', applied, String((LIVE_MS * 2) / 1000)], applied),
    ]);
  }

  private async backOff(): Promise<void> {
    await this.pause(this.backoffMs);
    this.backoffMs = Math.min(this.backoffMs * 2, MAX_BACKOFF_MS);
  }

  /** Waits `ms`, or until close(); the timer never keeps the process alive. */
  private pause(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => { this.wake = null; resolve(); }, ms);
      timer.unref();
      this.wake = () => { clearTimeout(timer); this.wake = null; resolve(); };
    });
  }

  /** Where to resume; reports entries we can no longer read, and a server or log that lost its data. */
  private async position(c: OwnConnection, at: string | null): Promise<string> {
    let from = at === '0-0' ? null : at; // '0-0': nothing read yet, so the log is followed from its start
    const listener = this.listener;
    const restarted = await this.restarted(c);
    const info = await this.streamInfo(c);
    // Reported after the last await: the reset and the gap that goes with it reach the listener in one turn.
    if (restarted) listener.reset?.();
    if (info === null) {
      if (this.seen) this.lost();
      this.seen = false;
      return '0-0'; // nothing to read yet; a log created later is read from its start
    }
    this.seen = true;
    const lastGenerated = String(info.get('last-generated-id') ?? '0-0');
    if (from !== null && compareIds(lastGenerated, from) < 0) {
      this.lost(); // recreated below our position: what we had not read went with the old log
      from = null;
    }
    const first = firstEntryId(info);
    const length = Number(info.get('length') ?? 0);
    const added = info.has('entries-added') ? Number(info.get('entries-added')) : null; // Redis >= 7
    // From its start, the log is complete only if nothing was ever removed from it (unknown before Redis 7).
    // From a position, entries after it were trimmed if the log now starts past it: the position itself may have
    // been the last one removed, but nothing proves it, so that counts as a gap too.
    const missed = from === null
      ? added === null || added > length
      : compareIds(first ?? lastGenerated, from) > 0;
    if (missed) listener.gap(idMs(first === null ? lastGenerated : previousId(first)));
    return from ?? '0-0';
  }

  /** Everything appended up to now may be gone, and so may what was read before. */
  private lost(): void {
    this.listener.gap(Date.now());
    this.listener.reset?.();
  }

  /** Whether the server is another process than at the last connection (restarted, failed over). */
  private async restarted(c: OwnConnection): Promise<boolean> {
    let id: string | null = null;
    try {
      id = /run_id:(\w+)/.exec(String(await c.send(['INFO', 'server'], this.key)))?.[1] ?? null;
    } catch (err) {
      // Refused (ACL, a proxy without INFO): no way to tell, so every reconnection counts as a restart.
      if (!/^(NOPERM|ERR)/.test(String((err as Error)?.message))) throw err;
    }
    const previous = this.runId;
    this.runId = id;
    return previous !== undefined && (id === null || id !== previous);
  }

  private async streamInfo(c: OwnConnection): Promise<Map<string, unknown> | null> {
    try {
      return toMap(await c.send(['XINFO', 'STREAM', this.key], this.key));
    } catch (err) {
      if (/no such key/i.test(String((err as Error)?.message))) return null;
      throw err;
    }
  }
}

interface StreamItem { id: string; fields: string[] }

/**
 * XREAD reply, RESP2 (`[[key, [[id, [f, v, …]], …]]]`), RESP3 (`{ key: [...] }` / Map), or ioredis 6's
 * reply for one stream (`[key, [[id, [f, v, …]], …]]`).
 */
function parseXRead(reply: unknown): StreamItem[] {
  if (reply === null || reply === undefined) return [];
  let streams: unknown[];
  if (Array.isArray(reply) && typeof reply[0] === 'string') streams = [reply[1]];
  else if (Array.isArray(reply)) streams = reply.map((s) => (Array.isArray(s) ? s[1] : s));
  else if (reply instanceof Map) streams = [...reply.values()];
  else streams = Object.values(reply as Record<string, unknown>);
  const out: StreamItem[] = [];
  for (const messages of streams) {
    if (!Array.isArray(messages)) continue;
    for (const m of messages) {
      if (!Array.isArray(m)) continue;
      const fields = Array.isArray(m[1]) ? (m[1] as unknown[]).map(String) : m[1] instanceof Map ? [...m[1]].flat().map(String) : Object.entries(m[1] as object).flat().map(String);
      out.push({ id: String(m[0]), fields });
    }
  }
  return out;
}

function toMap(reply: unknown): Map<string, unknown> {
  if (reply instanceof Map) return new Map([...reply].map(([k, v]) => [String(k), v]));
  if (Array.isArray(reply)) {
    const m = new Map<string, unknown>();
    for (let i = 0; i + 1 < reply.length; i += 2) m.set(String(reply[i]), reply[i + 1]);
    return m;
  }
  return new Map(Object.entries((reply ?? {}) as Record<string, unknown>));
}

function firstEntryId(info: Map<string, unknown>): string | null {
  const first = info.get('first-entry');
  const id = Array.isArray(first) ? first[0] : (first as { id?: unknown } | null | undefined)?.id;
  return typeof id === 'string' && id !== '' ? id : null;
}

function splitId(id: string): [number, number] {
  const [ms, seq] = id.split('-');
  return [Number(ms ?? 0), Number(seq ?? 0)];
}
function compareIds(a: string, b: string): number {
  const [am, as] = splitId(a);
  const [bm, bs] = splitId(b);
  return am !== bm ? am - bm : as - bs;
}
function idMs(id: string): number {
  return splitId(id)[0];
}
function previousId(id: string): string {
  const [ms, seq] = splitId(id);
  return seq > 0 ? `${ms}-${seq - 1}` : `${Math.max(0, ms - 1)}-${Number.MAX_SAFE_INTEGER}`;
}
