import { createHash } from 'node:crypto';
import type { Identity, Principal, SessionInfo, StateStore, StrategyName } from '../types';
import { InvalidCredentialError, StoreUnavailableError } from '../errors';
import { patchRecord, remainingMs, type SessionRecord } from './session-record';
import { layoutOfKey, layoutOfStrategy, recordKeys, type Decoded, type RecordLayout } from './record-layout';
import type { RecordCache } from './record-cache';
import type { LogMark } from './receipts';

type Patch = Partial<Omit<Identity, 'id'>>;

/**
 * Not in the StateStore contract: memoryStore() and redisStore() also hold an express-session Store over the same
 * records (adapters/session-store.ts), whose 'disconnect' / 'connect' events (connect-redis's signal, or an app's)
 * say whether the backend can be trusted. A store without one reports outages by rejecting its calls.
 */
interface ConnectionSignals {
  on(event: 'connect' | 'disconnect', listener: () => void): unknown;
}
type SignallingStore = StateStore & { sessionStore?(): ConnectionSignals };

/** What the sessions API (lib/sessions.ts) asks of a strategy's server-side state. */
export interface SessionDirectory {
  list(subject: string): Promise<ListedSession[]>;
  /** The handle of the session a principal stands for, or null when it is not one of this directory's. */
  handleOf(principal: Principal): string | null;
  revokeHandle(subject: string, handle: string): Promise<Revoked | null>;
}

/** A session ended, and where its end went in the shared logs (for receipts). */
export interface Revoked extends ListedSession {
  readonly marks: readonly LogMark[];
}

/**
 * Live sessions one subject may hold in a store, whatever `maxSessionsPerSubject` says: beyond it, a login ends the
 * subject's oldest sessions.
 */
export const MAX_SESSIONS_PER_SUBJECT = 10_000;

/** Attempts of a read–modify–compare-and-set before the writer gives up (another writer kept winning). */
const REWRITE_ATTEMPTS = 5;

/**
 * The session-record repository of one store: the only code that knows where records live, the per-subject
 * index, TTLs, the compare-and-set rewrite and which record caches to tell. Every strategy on a store shares
 * its repository, so "every session of a subject" means every layout's (statefulJwt, sessionCookie, …).
 */
export class SessionRepository {
  private readonly caches = new Set<RecordCache<unknown>>();
  private online = true;

  constructor(readonly store: StateStore) {
    // A store whose express-session Store reports "disconnect" (connect-redis's signal, or an app's) cannot be
    // trusted to hold current sessions until it reports "connect" again: fail closed meanwhile.
    const signals = (store as SignallingStore).sessionStore?.();
    signals?.on('disconnect', () => { this.online = false; });
    signals?.on('connect', () => { this.online = true; });
  }

  /** Throws StoreUnavailableError while the store reports itself disconnected. */
  ensureOnline(): void {
    if (!this.online) throw new StoreUnavailableError(new Error('the session store reported a disconnect'));
  }

  /** A record cache to keep told of every change made through this repository. */
  register(cache: RecordCache<unknown>): () => void {
    this.caches.add(cache);
    return () => this.caches.delete(cache);
  }

  /**
   * Tells every local record cache, and through the first one every other instance, that these records changed
   * or are gone. Resolves once the invalidation is in the shared log.
   */
  async announce(keys: readonly string[]): Promise<LogMark[]> {
    if (keys.length === 0) return [];
    let marks: LogMark[] | null = null;
    for (const cache of this.caches) {
      if (marks !== null) cache.forget(keys);
      else marks = await cache.invalidate(keys);
    }
    return marks ?? [];
  }

  async write(key: string, record: SessionRecord, value: string): Promise<boolean> {
    const ttl = remainingMs(record);
    if (ttl <= 0) return false;
    await this.store.set(key, value, ttl);
    return true;
  }

  /**
   * Adds a new session to its subject's index, dropping members whose records are gone (run at login, so a user
   * who logs in every day without logging out keeps a small index). A member is gone only when no layout holds
   * its record: another strategy's sessions on the same store stay indexed.
   */
  async track(subject: string, sid: string, ttlMs: number): Promise<void> {
    await this.store.indexAdd(subject, sid, ttlMs);
    const members = await this.store.indexMembers(subject);
    const alive = new Set(await this.liveKeys(members.flatMap(recordKeys)));
    const dead = members.filter((member) => !recordKeys(member).some((key) => alive.has(key)));
    if (dead.length > 0) await this.store.indexRemove(subject, dead);
    if (alive.size > MAX_SESSIONS_PER_SUBJECT) await this.endOldest(subject, alive.size - MAX_SESSIONS_PER_SUBJECT);
  }

  /** A login flood for one subject cannot grow its index (and every later login's prune) without bound. */
  private async endOldest(subject: string, count: number): Promise<void> {
    const oldest = (await this.list(subject)).slice(0, count);
    for (const s of oldest) await this.destroy(s.key, subject, s.sid);
  }

  /** Ends one session: announced before the delete too, so a failed announcement deletes nothing and a retry still finds it. */
  async destroy(key: string, subject: string | null, sid: string): Promise<LogMark[]> {
    await this.announce([key]);
    await this.store.delete(key);
    const marks = await this.announce([key]);
    if (subject !== null) await this.store.indexRemove(subject, [sid]);
    return marks;
  }

  /** "Log out everywhere": every session of the subject, whatever strategy wrote it. Resolves to how many were live. */
  async revokeAll(subject: string): Promise<{ live: number; marks: LogMark[] }> {
    const members = await this.store.indexMembers(subject);
    const keys = members.flatMap(recordKeys);
    if (keys.length === 0) return { live: 0, marks: [] };
    const live = await this.liveKeys(keys);
    await this.announce(keys);
    await Promise.all(keys.map((key) => this.store.delete(key)));
    const marks = await this.announce(keys);
    await this.store.indexRemove(subject, members);
    return { live: live.length, marks };
  }

  /**
   * Every live session of the subject, whatever layout holds it, oldest first, in one read of the index and one
   * of the records. A record that does not decode, names another subject or is past its deadlines is not listed.
   */
  async list(subject: string): Promise<ListedSession[]> {
    const members = await this.store.indexMembers(subject);
    const keys = members.flatMap(recordKeys);
    if (keys.length === 0) return [];
    const values = await this.store.getMany(keys);
    const now = Date.now();
    const found: ListedSession[] = [];
    keys.forEach((key, i) => {
      const raw = values[i];
      const layout = layoutOfKey(key);
      if (raw === null || raw === undefined || layout === undefined) return;
      let decoded: Decoded;
      try { decoded = layout.decode(raw); } catch { return; }
      const { record } = decoded;
      if (record.id !== subject || remainingMs(record, now) <= 0) return;
      found.push({ ...decoded, key, layout, sid: key.slice(layout.prefix.length), info: describe(key, layout.strategy, record) });
    });
    return found.sort((a, b) => a.info.createdAt.getTime() - b.info.createdAt.getTime());
  }

  /**
   * The sessions API's view of the stored sessions (statefulJwt, sessionCookie, composed points): every layout but
   * the self-listed ones (refresh-token families, sealed cookies), which their strategy lists itself (ending one
   * also refuses credentials that carry their own state).
   */
  readonly directory: SessionDirectory = {
    list: async (subject) => (await this.list(subject)).filter((s) => s.layout.selfListed !== true),
    handleOf: (who) => {
      const layout = layoutOfStrategy(who.strategy);
      return layout === undefined || layout.selfListed === true || who.sessionId === null ? null : sessionHandle(layout.prefix + who.sessionId);
    },
    revokeHandle: async (subject, handle) => {
      const found = (await this.directory.list(subject)).find((s) => s.info.handle === handle);
      return found === undefined ? null : { ...found, marks: await this.destroy(found.key, subject, found.sid) };
    },
  };

  private async liveKeys(keys: readonly string[]): Promise<string[]> {
    if (keys.length === 0) return [];
    const values = await this.store.getMany(keys);
    return keys.filter((_, i) => values[i] !== null && values[i] !== undefined);
  }

  /** Changes roles/scopes/claims of every live session of the subject; resolves to how many changed. */
  async update(subject: string, patch: Patch): Promise<number> {
    const keys = (await this.store.indexMembers(subject)).flatMap(recordKeys).filter((key) => layoutOfKey(key)?.patchable !== false);
    const changed: string[] = [];
    for (const key of keys) {
      const done = await this.rewrite(key, (decoded) => (decoded.record.id === subject ? patchRecord(decoded.record, patch) : null));
      if (done !== null) changed.push(key);
    }
    await this.announce(changed);
    return changed.length;
  }

  /**
   * A slide (lastSeen moves): one compare-and-set, never a resurrection. Resolves to the record as read, or null
   * when there was none (or `modify` declined).
   */
  async slideOnce(key: string, modify: (decoded: Decoded) => SessionRecord | null): Promise<SessionRecord | null> {
    const layout = layoutOfKey(key);
    if (layout === undefined) throw new InvalidCredentialError();
    const raw = await this.store.get(key);
    if (raw === null) return null;
    const decoded = layout.decode(raw);
    const next = modify(decoded);
    if (next === null) return null;
    const ttl = remainingMs(next);
    // One attempt: losing to a concurrent writer (another request sliding it, a logout) is as good as winning.
    if (next !== decoded.record && ttl > 0) await this.store.swap(key, raw, layout.encode(next, decoded.rest), ttl);
    return decoded.record;
  }

  /**
   * Read–modify–write through compare-and-set: a record deleted meanwhile (logout, revokeAll) is never
   * resurrected, a change written meanwhile is never undone. `modify` returning null leaves the record as it is;
   * returning the record it was given means it already holds the change (nothing is written).
   * Resolves to the record as it now is, or null when there was none (or `modify` declined).
   */
  async rewrite(key: string, modify: (decoded: Decoded) => SessionRecord | null): Promise<SessionRecord | null> {
    const layout = layoutOfKey(key);
    if (layout === undefined) throw new InvalidCredentialError();
    for (let attempt = 0; attempt < REWRITE_ATTEMPTS; attempt += 1) {
      const raw = await this.store.get(key);
      if (raw === null) return null;
      const decoded = layout.decode(raw);
      const next = modify(decoded);
      if (next === null) return null;
      if (next === decoded.record) return next;
      const ttl = remainingMs(next);
      if (ttl <= 0) return null;
      if (await this.store.swap(key, raw, layout.encode(next, decoded.rest), ttl)) return next;
    }
    throw new StoreUnavailableError(new Error(`session record ${key} kept changing during ${REWRITE_ATTEMPTS} rewrites`));
  }
}

/** A live session of a subject as the repository holds it: its key, id (the index member), layout and record. */
export interface ListedSession extends Decoded {
  readonly key: string;
  readonly sid: string;
  readonly layout: RecordLayout;
  /** As the sessions API shows it. */
  readonly info: SessionInfo;
}

/**
 * The handle of a record key: one-way (knowing it reveals no session id, so it authenticates nothing) and
 * stable, so a list read on one instance can be acted on through another.
 */
export function sessionHandle(key: string): string {
  return createHash('sha256').update('express-principal session handle\0').update(key).digest('base64url').slice(0, 22);
}

function describe(key: string, strategy: StrategyName, record: SessionRecord): SessionInfo {
  return Object.freeze({
    handle: sessionHandle(key), strategy,
    createdAt: new Date(record.issuedAt), lastSeenAt: new Date(record.lastSeen),
    expiresAt: new Date(Math.min(record.absExp, record.lastSeen + record.idleMs)), authenticatedAt: new Date(record.authAt),
    device: record.device ?? null, address: record.address ?? null, current: false,
  });
}

const repositories = new WeakMap<StateStore, SessionRepository>();

/** The repository of a store: one per store object, shared by every strategy using it. */
export function sessionRepository(store: StateStore): SessionRepository {
  let repository = repositories.get(store);
  if (repository === undefined) {
    repository = new SessionRepository(store);
    repositories.set(store, repository);
  }
  return repository;
}
