import { randomBytes } from 'node:crypto';
import type { Authenticated, CarrierKind, Identity, Principal, StateStore } from '../types';
import { CredentialExpiredError, InvalidCredentialError } from '../errors';
import { checkRecord, newRecord, patchRecord, recordPrincipal, remainingMs, type ResolvedTimeouts, type SessionRecord } from './session-record';
import { registerLayout, type Decoded, type RecordLayout } from './record-layout';
import { parsedRecords } from './parsed-records';
import { createRecordCache, type RecordCacheSetting } from './record-cache';
import { sessionRepository, type SessionRepository } from './session-repository';
import type { DeviceFacts } from './device';
import type { LogMark } from './receipts';

/** Whether the record already carries these roles, scopes and claims. */
function holds(record: SessionRecord, patch: Required<Omit<Identity, 'id'>>): boolean {
  const next = patchRecord(record, patch);
  return JSON.stringify([next.roles, next.scopes, next.claims]) === JSON.stringify([record.roles, record.scopes, record.claims]);
}

/** `answer`: the Authenticated handed out on hits, built once per entry and carrier. */
interface Cached { principal: Principal; slideAt: number; deadline: number; answer?: Authenticated }

interface Parsed extends Decoded { principal: Principal }

export interface SessionRecordsOptions {
  timeouts: ResolvedTimeouts;
  recordCache?: RecordCacheSetting;
  /** Bytes of randomness in a new session id. */
  sidBytes: number;
}

/**
 * One strategy's records in the store's repository: the read path (local cache, deadlines, the idle slide at most
 * once per touchInterval) and the writes a login, logout or refreshPrincipal makes. Shared state — the index,
 * revokeAll, update — stays with the repository.
 */
export class SessionRecords {
  readonly repository: SessionRepository;
  private readonly store: StateStore;
  private readonly cache;
  private readonly unregister: () => void;
  private readonly parse: (raw: string, sid: string) => Parsed;

  constructor(store: StateStore, private readonly layout: RecordLayout, private readonly options: SessionRecordsOptions) {
    this.store = store;
    registerLayout(layout);
    this.repository = sessionRepository(store);
    this.cache = createRecordCache<Cached>(store, options.recordCache);
    this.unregister = this.cache === null ? () => undefined : this.repository.register(this.cache as never);
    this.parse = parsedRecords(10_000, (raw, sid) => {
      const decoded = layout.decode(raw);
      const record = Object.freeze(decoded.record);
      return { record, rest: decoded.rest, principal: recordPrincipal(record, layout.strategy, sid) };
    });
  }

  key(sid: string): string {
    return this.layout.prefix + sid;
  }

  /**
   * The session's Principal: synchronously from the local cache when it can vouch for the record, else from the
   * store. `subject`: the subject the credential names (a JWT's `sub`), checked against the record; `key`: the
   * record key when the caller keeps one per credential (the same string every time, so lookups reuse its hash).
   */
  authenticate(sid: string, subject: string | null, carrier: CarrierKind, key = this.key(sid)): Authenticated | Promise<Authenticated> {
    const hit = this.cache?.get(key);
    if (hit !== undefined && (subject === null || hit.principal.id === subject)) {
      const now = Date.now();
      // Past a deadline, due to slide or older than entryTtlMs: the store decides (another instance may have slid it meanwhile).
      if (now < hit.slideAt && now < hit.deadline) {
        return hit.answer?.carrier === carrier ? hit.answer : (hit.answer = Object.freeze({ principal: hit.principal, carrier }));
      }
    }
    return this.fromStore(sid, subject, carrier, key);
  }

  private async fromStore(sid: string, subject: string | null, carrier: CarrierKind, key: string): Promise<Authenticated> {
    const since = this.cache?.begin() ?? 0;
    const raw = await this.store.get(key);
    if (raw === null) throw new InvalidCredentialError();
    const read = this.parse(raw, sid);
    if (subject !== null && read.record.id !== subject) throw new InvalidCredentialError();
    let due: boolean;
    try {
      due = checkRecord(read.record, this.options.timeouts.touchMs);
    } catch (err) {
      // A deadline has passed: the session ends here.
      if (err instanceof CredentialExpiredError) await this.repository.destroy(key, null, sid).catch(() => undefined);
      throw err;
    }
    if (due) return this.slide(key, raw, read, sid, carrier);
    const record = read.record;
    this.cache?.put(key, { principal: read.principal, slideAt: Math.min(record.lastSeen + this.options.timeouts.touchMs, Date.now() + this.cache.entryTtlMs), deadline: Math.min(record.absExp, record.lastSeen + record.idleMs) }, since);
    return { principal: read.principal, carrier };
  }

  /** Moves the idle deadline; the next request reloads (never cache a value this instance has just invalidated). */
  private async slide(key: string, raw: string, read: Parsed, sid: string, carrier: CarrierKind): Promise<Authenticated> {
    const record = { ...read.record, lastSeen: Date.now() };
    // Only if unchanged since we read it: never resurrect a logged-out session or undo a demotion.
    await this.store.swap(key, raw, this.layout.encode(record, read.rest), remainingMs(record));
    await this.cache?.invalidate([key]);
    return { principal: recordPrincipal(record, this.layout.strategy, sid), carrier };
  }

  /** Writes a new session (a new random id: no fixation) and indexes it under its subject. */
  async create(identity: Identity, authAtMs: number, rest: Readonly<Record<string, unknown>> | null = null, facts?: DeviceFacts): Promise<{ sid: string; record: SessionRecord }> {
    const record = newRecord(identity, this.options.timeouts, authAtMs, facts);
    const sid = randomBytes(this.options.sidBytes).toString('base64url');
    const key = this.key(sid);
    try {
      await this.repository.write(key, record, this.layout.encode(record, rest));
    } catch (err) {
      // A write that timed out may still land once the store answers: the delete queued behind it removes the orphan.
      this.store.delete(key).catch(() => undefined);
      throw err;
    }
    await this.repository.track(record.id, sid, this.options.timeouts.absoluteMs);
    return { sid, record };
  }

  destroy(sid: string, subject: string | null): Promise<LogMark[]> {
    return this.repository.destroy(this.key(sid), subject, sid);
  }

  /**
   * refreshPrincipal: the freshly loaded data replaces the record's (loadedAt = now). `staleSince`: the loadedAt the
   * caller found stale; requests sharing one load (single-flight) all get here, and after the first write the rest
   * find the record reloaded since then with this data: nothing more to write.
   */
  async rehydrate(sid: string, subject: string, identity: Identity, staleSince: number): Promise<Principal> {
    const key = this.key(sid);
    const patch = { roles: identity.roles ?? [], scopes: identity.scopes ?? [], claims: identity.claims ?? {} };
    const done = (r: SessionRecord) => r.loadedAt > staleSince && holds(r, patch);
    const record = await this.repository.rewrite(key, ({ record: r }) => (r.id !== subject ? null : done(r) ? r : patchRecord(r, patch)));
    if (record === null) throw new InvalidCredentialError();
    await this.repository.announce([key]);
    return recordPrincipal(record, this.layout.strategy, sid);
  }

  async close(): Promise<void> {
    this.unregister();
    await this.cache?.close();
  }
}
