import type { StateStore } from '../types';
import type { SessionRecord } from './session-record';
import { SEALED_LAYOUT } from './record-layout';
import { sessionHandle, sessionRepository, type SessionDirectory, type SessionRepository } from './session-repository';
import type { Revocation } from './revocation';
import type { DeviceFacts } from './device';
import type { LogMark } from './receipts';

const keyOf = (sid: string) => SEALED_LAYOUT.prefix + sid;

/** What the listing needs of a sealed session: its dates and device, never its identity or claims. */
function deviceRecord(session: SessionRecord, facts?: DeviceFacts): SessionRecord {
  const record: SessionRecord = {
    id: session.id, roles: [], scopes: [], claims: {},
    issuedAt: session.issuedAt, authAt: session.authAt, loadedAt: session.issuedAt, absExp: session.absExp, lastSeen: session.lastSeen, idleMs: session.idleMs,
  };
  if (facts?.device) record.device = facts.device;
  if (facts?.address) record.address = facts.address;
  return record;
}

/**
 * sessionCookie({ store: cookieStore(), revocation }): the session lives in its sealed cookie, and each login is
 * also listed as a device through the revocation store's session repository. Ending one denies its session id in
 * the revocation store (every instance refuses the cookie within maxRevocationLag) and deletes its record.
 */
export class SealedDevices {
  private readonly repository: SessionRepository;
  readonly directory: SessionDirectory;

  constructor(store: StateStore, private readonly revocation: Revocation, private readonly absoluteMs: number) {
    this.repository = sessionRepository(store);
    this.directory = {
      list: async (subject) => (await this.repository.list(subject)).filter((s) => s.layout === SEALED_LAYOUT),
      handleOf: (who) => (who.strategy === 'session-cookie' && who.sessionId !== null ? SealedDevices.handle(who.sessionId) : null),
      revokeHandle: async (subject, handle) => {
        const found = (await this.directory.list(subject)).find((s) => s.info.handle === handle);
        return found === undefined ? null : { ...found, marks: await this.end(found.sid, subject, found.record.absExp) };
      },
    };
  }

  static handle(sid: string): string {
    return sessionHandle(keyOf(sid));
  }

  /** A login: its record, indexed under its subject for the absolute timeout. */
  async add(sid: string, session: SessionRecord, facts?: DeviceFacts): Promise<void> {
    const key = keyOf(sid);
    const record = deviceRecord(session, facts);
    try {
      await this.repository.write(key, record, SEALED_LAYOUT.encode(record, null));
    } catch (err) {
      // A write that timed out may still land: the delete queued behind it removes the orphan.
      this.repository.store.delete(key).catch(() => undefined);
      throw err;
    }
    await this.repository.track(record.id, sid, this.absoluteMs);
  }

  /** The cookie slid (at most once per touchInterval): so does the record, unless it has ended meanwhile. */
  async seen(sid: string, subject: string, lastSeen: number): Promise<void> {
    await this.repository.rewrite(keyOf(sid), ({ record }) => (record.id !== subject ? null : record.lastSeen >= lastSeen ? record : { ...record, lastSeen }));
  }

  /** Ends one session: denied first (its cookie is refused from then on), then unlisted. */
  async end(sid: string, subject: string | null, expiresAtMs: number): Promise<LogMark[]> {
    const denied = await this.revocation.revoke(sid, expiresAtMs);
    const gone = await this.repository.destroy(keyOf(sid), subject, sid);
    return [...denied, ...gone];
  }

  /** "Log out everywhere": the subject's mark first (it covers every cookie issued so far), then the records. */
  async endSubject(subject: string): Promise<LogMark[]> {
    const marks = await this.revocation.revokeAll(subject, this.absoluteMs);
    const listed = await this.directory.list(subject);
    const gone = await Promise.all(listed.map((s) => this.repository.destroy(s.key, subject, s.sid)));
    return [...marks, ...gone.flat()];
  }
}
