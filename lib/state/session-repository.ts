import type { Identity, StateStore } from '../types';
import { InvalidCredentialError, StoreUnavailableError } from '../errors';
import { patchRecord, remainingMs, type SessionRecord } from './session-record';
import { layoutOfKey, recordKeys, type Decoded, type RecordLayout } from './record-layout';
import type { RecordCache } from './record-cache';

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

/** A live session of a subject as the repository holds it: its id (the index member), layout and record. */
export interface ListedSession extends Decoded {
  readonly sid: string;
  readonly layout: RecordLayout;
}

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
  async announce(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    let told = false;
    for (const cache of this.caches) {
      if (told) cache.forget(keys);
      else { told = true; await cache.invalidate(keys); }
    }
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
  }

  /** Ends one session: announced before the delete too, so a failed announcement deletes nothing and a retry still finds it. */
  async destroy(key: string, subject: string | null, sid: string): Promise<void> {
    await this.announce([key]);
    await this.store.delete(key);
    await this.announce([key]);
    if (subject !== null) await this.store.indexRemove(subject, [sid]);
  }

  /** "Log out everywhere": every session of the subject, whatever strategy wrote it. Resolves to how many were live. */
  async revokeAll(subject: string): Promise<number> {
    const members = await this.store.indexMembers(subject);
    const keys = members.flatMap(recordKeys);
    if (keys.length === 0) return 0;
    const live = await this.liveKeys(keys);
    await this.announce(keys);
    await Promise.all(keys.map((key) => this.store.delete(key)));
    await this.announce(keys);
    await this.store.indexRemove(subject, members);
    return live.length;
  }

  private async liveKeys(keys: readonly string[]): Promise<string[]> {
    if (keys.length === 0) return [];
    const values = await this.store.getMany(keys);
    return keys.filter((_, i) => values[i] !== null && values[i] !== undefined);
  }

  /**
   * Every live session of the subject, whatever layout holds it, in one read of the index and one of the records.
   * A record that does not decode, names another subject or is past its deadlines is not listed.
   */
  async list(subject: string): Promise<ListedSession[]> {
    const sids = await this.store.indexMembers(subject);
    const keys = sids.flatMap((sid) => recordKeys(sid).map((key) => ({ sid, key })));
    const values = keys.length === 0 ? [] : await this.store.getMany(keys.map(({ key }) => key));
    const now = Date.now();
    return keys.flatMap(({ sid, key }, i) => {
      const raw = values[i];
      const layout = layoutOfKey(key);
      if (raw === null || raw === undefined || layout === undefined) return [];
      try {
        const decoded = layout.decode(raw);
        return decoded.record.id === subject && remainingMs(decoded.record, now) > 0 ? [{ sid, layout, ...decoded }] : [];
      } catch {
        return [];
      }
    });
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
