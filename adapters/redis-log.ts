import { performance } from 'node:perf_hooks';
import type { RevocationLog, RevocationLogFollower, RevocationLogListener } from '../lib/types';

/**
 * The revocation log on Redis: a Stream at `<prefix>rv:log`.
 *
 * Writers XADD one entry per revocation (through the app's client, bounded like every store call) and trim
 * by time (MINID ~ now − retention), so the log never holds more than one token lifetime of revocations.
 * Each instance follows it on its own duplicate connection with `XREAD BLOCK`: a log, not pub/sub, so a
 * follower that was disconnected resumes from the last id it saw and loses nothing. If entries it never saw
 * were trimmed meanwhile (XINFO STREAM `max-deleted-entry-id` past its position), it reports a gap so the
 * cache sends the tokens those entries could affect to a direct lookup.
 */

/** Entries read per round; a round that returns fewer has caught up with the log. */
const BATCH = 10_000;
/** Extra time the log keeps entries, for clock differences between app servers and Redis. */
const TRIM_MARGIN_MS = 60_000;

interface RawConn {
  readonly isOpen: boolean;
  readonly isReady?: boolean;
  sendCommand(...args: unknown[]): Promise<unknown>;
  connect(): Promise<unknown>;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  destroy?(): unknown;
  unref?(): void;
}

interface RawClient extends Partial<RawConn> {
  duplicate?(overrides?: Record<string, unknown>): unknown;
  readonly options?: { name?: string; defaults?: { name?: string } & Record<string, unknown> };
  /** node-redis clusters keep their options here. */
  readonly _options?: { defaults?: { name?: string } & Record<string, unknown> };
  readonly masters?: unknown;
}

type Run = <T>(work: () => Promise<T>) => Promise<T>;

/** `undefined` when the client cannot give us a connection of our own (no `duplicate`). */
export function redisRevocationLog(client: unknown, prefix: string, run: Run): RevocationLog | undefined {
  const app = client as RawClient;
  if (typeof app.duplicate !== 'function' || typeof app.sendCommand !== 'function') return undefined;
  const key = `${prefix}rv:log`;
  // node-redis clusters take (firstKey, isReadonly, args); single clients take (args).
  const cluster = app.masters !== undefined;
  const send = (conn: RawConn, readonly: boolean, args: string[]) =>
    (cluster ? conn.sendCommand(key, readonly, args) : conn.sendCommand(args));

  return {
    append: (fields, retainMs) => run(async () => {
      const minId = Math.max(0, Math.floor(Date.now() - retainMs - TRIM_MARGIN_MS));
      // The log key carries a TTL like every key: with no revocation for a whole lifetime, nothing in it matters.
      await Promise.all([
        send(app as RawConn, false, ['XADD', key, 'MINID', '~', String(minId), '*', ...fields]),
        send(app as RawConn, false, ['PEXPIRE', key, String(Math.ceil(retainMs + TRIM_MARGIN_MS)), 'GT']),
        send(app as RawConn, false, ['PEXPIRE', key, String(Math.ceil(retainMs + TRIM_MARGIN_MS)), 'NX']),
      ]);
    }),
    follow: (listener, blockMs) => follow(app, key, send, listener, Math.max(1, Math.floor(blockMs))),
  };
}

function follow(
  app: RawClient,
  key: string,
  send: (conn: RawConn, readonly: boolean, args: string[]) => Promise<unknown>,
  listener: RevocationLogListener,
  blockMs: number,
): RevocationLogFollower {
  let closed = false;
  let conn: RawConn | null = null;
  let wake: (() => void) | null = null;
  // Named so operators (and tests) can find it in CLIENT LIST.
  const name = followerName(app);
  // A cluster names the connections it opens through `defaults`.
  const overrides = app.masters !== undefined ? { defaults: { ...(app._options ?? app.options)?.defaults, name } } : { name };

  const pause = (ms: number) => new Promise<void>((resolve) => {
    const timer = setTimeout(() => { wake = null; resolve(); }, ms);
    timer.unref();
    wake = () => { clearTimeout(timer); wake = null; resolve(); };
  });

  const loop = (async () => {
    let lastId: string | null = null;
    let checkGap = true;
    let backoff = 20;
    while (!closed) {
      try {
        if (conn === null) {
          const created = (app.duplicate as (o: Record<string, unknown>) => RawConn)(overrides);
          created.on('error', () => { /* reported through the failing command; the loop retries */ });
          created.unref?.(); // never keeps the process alive (applies to every socket it opens)
          conn = created;
          await created.connect();
        }
        if (!(conn.isReady ?? conn.isOpen)) { await pause(backoff); backoff = Math.min(backoff * 2, 500); continue; }
        if (checkGap) {
          lastId = await position(conn, lastId);
          checkGap = false;
        }
        const sentAt = performance.now();
        // Read from the master: a replica's lag would stretch the staleness bound.
        const reply = await send(conn, false, ['XREAD', 'COUNT', String(BATCH), 'BLOCK', String(blockMs), 'STREAMS', key, lastId as string]);
        if (closed) break;
        const items = parseXRead(reply);
        if (items.length > 0) {
          lastId = (items[items.length - 1] as StreamItem).id;
          listener.entries(items.map((item) => item.fields));
        }
        // Everything appended before the command left us is in this reply (or there was nothing).
        if (items.length < BATCH) listener.synced(sentAt);
        backoff = 20;
      } catch {
        if (closed) break;
        checkGap = true; // after a reconnect: were entries trimmed past our position?
        if (conn !== null && !conn.isOpen) {
          // connect() failed (Redis unreachable): start over with a fresh duplicate.
          try { conn.destroy?.(); } catch { /* already gone */ }
          conn = null;
        }
        await pause(backoff);
        backoff = Math.min(backoff * 2, 500);
      }
    }
  })();

  /** Where to resume; reports entries we can no longer read. */
  async function position(c: RawConn, lastId: string | null): Promise<string> {
    let info: Map<string, unknown>;
    try {
      info = toMap(await send(c, false, ['XINFO', 'STREAM', key]));
    } catch (err) {
      if (/no such key/i.test(String((err as Error)?.message))) return lastId ?? '0-0'; // empty log
      throw err;
    }
    let trimmed = typeof info.get('max-deleted-entry-id') === 'string' ? (info.get('max-deleted-entry-id') as string) : null;
    if (trimmed === null) {
      // Redis < 7: assume everything before the first entry was trimmed.
      const first = info.get('first-entry');
      const firstId = Array.isArray(first) ? String(first[0]) : (first as { id?: string } | null)?.id;
      trimmed = firstId ? previousId(firstId) : '0-0';
    }
    const lastGenerated = String(info.get('last-generated-id') ?? '0-0');
    if (lastId !== null && compareIds(lastGenerated, lastId) < 0) lastId = null; // log recreated below us: read it all
    if (compareIds(trimmed, lastId ?? '0-0') > 0) listener.gap(idMs(trimmed));
    return lastId ?? '0-0';
  }

  return {
    async close() {
      closed = true;
      wake?.();
      const c = conn;
      conn = null;
      try { c?.destroy?.(); } catch { /* already closed */ }
      await loop;
    },
  };
}

interface StreamItem { id: string; fields: string[] }

/** XREAD reply, RESP2 (`[[key, [[id, [f, v, …]], …]]]`) or RESP3 (`{ key: [...] }` / Map). */
function parseXRead(reply: unknown): StreamItem[] {
  if (reply === null || reply === undefined) return [];
  let streams: unknown[];
  if (Array.isArray(reply)) streams = reply.map((s) => (Array.isArray(s) ? s[1] : s));
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

/** Exposed for tests and tooling: the client name the follower connection uses. */
export function followerName(client: unknown): string {
  const c = client as RawClient;
  return `${c.options?.name ?? (c._options ?? c.options)?.defaults?.name ?? 'ep'}:rv-log`;
}
