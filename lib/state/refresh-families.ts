import type { Principal, StateStore } from '../types';
import { InvalidCredentialError } from '../errors';
import type { SessionRecord } from './session-record';
import { FAMILY_LAYOUT } from './record-layout';
import { sessionHandle, sessionRepository, type ListedSession, type SessionDirectory, type SessionRepository } from './session-repository';
import type { DeviceFacts } from './device';
import type { LogMark } from './receipts';
import { pastMillisecond } from './revocation';

/** What is kept per refresh token, under `rt:t:<sha256(token)>`. Never the token itself. */
export interface TokenRecord {
  /** 2: the family has a session record. Absent on tokens written before families had one (adopted on rotation). */
  v?: 2;
  fam: string;
  sub: string;
  roles: string[];
  scopes: string[];
  claims: Record<string, unknown>;
  authAt: number;
  /** When the family was born (its login); absent on records written before it was kept: `issuedAt` stands in. */
  famAt?: number;
  issuedAt: number;
  exp: number;
  used: boolean;
  usedAt?: number;
  /** The successor, sealed with a key only the holder of this token can derive (grace-window answers). */
  succ?: string;
}

/** A token's record and the exact text it was read as (the compare-and-set's expected value). */
export interface StoredToken {
  readonly hash: string;
  readonly stored: string;
  readonly record: TokenRecord;
}

/** What the family keeps of the device that logged in (principal({ devices })). */
export interface FamilyDevice {
  readonly device: string | null;
  readonly address: string | null;
}

/** A live family as listed for its subject: one login, one device. */
export interface FamilySummary {
  readonly familyId: string;
  readonly createdAt: Date;
  readonly authenticatedAt: Date;
  /** The family's last rotation (its login, if it never rotated). */
  readonly lastSeenAt: Date;
  /** When the family ends unless it rotates again. */
  readonly expiresAt: Date;
  readonly device: FamilyDevice | null;
}

/** Denies one access token; resolves to where the denial went in the revocation log (for receipts). */
export type DenyAccess = ((jti: string, expiresAtMs: number) => Promise<readonly LogMark[] | void>) | null;

const tokenKey = (hash: string) => `rt:t:${hash}`;
/** Per-family index (through the store's index): members `t:<hash>` and `a:<jti>:<expMs>`. */
const familyIndex = (fam: string) => `rt:f:${fam}`;
/** revokeAll's mark: families born at or before it are over, indexed or not (a login racing the revokeAll). */
const subjectMark = (sub: string) => `rt:s:${sub}`;
/** Written by releases before families had records; read only for their tokens (`v` absent). */
const legacyRevoked = (fam: string) => `rt:fr:${fam}`;
const familyKey = (fam: string) => FAMILY_LAYOUT.prefix + fam;

/** A family's handle in the sessions API. */
export const familyHandle = (fam: string): string => sessionHandle(familyKey(fam));

const present = (value: string | null | undefined): value is string => value !== null && value !== undefined;
const covers = (mark: string | null | undefined, bornAtMs: number) => present(mark) && bornAtMs <= Number(mark);

export function parseToken(raw: string): TokenRecord {
  try {
    const r = JSON.parse(raw) as TokenRecord;
    if (typeof r.fam === 'string' && typeof r.sub === 'string' && typeof r.exp === 'number') return r;
  } catch { /* fall through */ }
  throw new InvalidCredentialError();
}

/** A family as a session record of its subject: it lives a refresh ttl past its last rotation. */
function familyRecord(subject: string, authAtMs: number, bornAtMs: number, nowMs: number, ttlMs: number): SessionRecord {
  return {
    id: subject, roles: [], scopes: [], claims: {},
    issuedAt: bornAtMs, authAt: authAtMs, loadedAt: bornAtMs, absExp: Number.MAX_SAFE_INTEGER, lastSeen: nowMs, idleMs: ttlMs,
  };
}

/**
 * Refresh-token families on a store's session-record repository: each family is a session record of its subject
 * (indexed with the subject's other sessions, ended by the repository's revokeAll, listed with them), rotated by
 * a compare-and-set rewrite. Its tokens and issued access tokens are kept beside it, under keys only this module knows.
 */
export class RefreshFamilies {
  private readonly repository: SessionRepository;

  constructor(private readonly store: StateStore, private readonly ttlMs: number) {
    this.repository = sessionRepository(store);
  }

  /** A new family (a login), born at `nowMs`, indexed under its subject. */
  async create(subject: string, familyId: string, authAtMs: number, nowMs: number, bornAtMs = nowMs, facts?: DeviceFacts): Promise<void> {
    const record = familyRecord(subject, authAtMs, bornAtMs, nowMs, this.ttlMs);
    if (facts?.device) record.device = facts.device;
    if (facts?.address) record.address = facts.address;
    await this.repository.write(familyKey(familyId), record, FAMILY_LAYOUT.encode(record, null));
    await this.repository.track(subject, familyId, this.ttlMs);
  }

  async readToken(hash: string): Promise<StoredToken | null> {
    const stored = await this.store.get(tokenKey(hash));
    return stored === null ? null : { hash, stored, record: parseToken(stored) };
  }

  /** Writes a new token of its family, for a refresh ttl, and adds it to the family's index. */
  async writeToken(hash: string, record: TokenRecord): Promise<void> {
    await this.store.set(tokenKey(hash), JSON.stringify(record), this.ttlMs);
    await this.store.indexAdd(familyIndex(record.fam), `t:${hash}`, this.ttlMs);
  }

  /** Compare-and-set: false when another writer changed the token first. Kept until the token would have expired. */
  replaceToken(token: StoredToken, next: TokenRecord, nowMs: number): Promise<boolean> {
    return this.store.swap(tokenKey(token.hash), token.stored, JSON.stringify(next), Math.max(1, token.record.exp - nowMs));
  }

  deleteToken(hash: string): Promise<void> {
    return this.store.delete(tokenKey(hash));
  }

  /** Remembers an access token issued from the family, so ending the family can deny it too. */
  trackAccess(familyId: string, jti: string, expiresAtMs: number): Promise<void> {
    return this.store.indexAdd(familyIndex(familyId), `a:${jti}:${expiresAtMs}`, Math.max(1, expiresAtMs - Date.now()));
  }

  /**
   * Whether a presented token's family may rotate: it has a record and no revokeAll mark covers its birth. A family
   * from before families had records is adopted here (recorded and indexed) unless that release had ended it.
   */
  async admits(token: TokenRecord, bornAtMs: number): Promise<boolean> {
    const legacy = token.v === undefined;
    const keys = [familyKey(token.fam), subjectMark(token.sub), ...(legacy ? [legacyRevoked(token.fam)] : [])];
    const [family, mark, revoked] = await this.store.getMany(keys);
    if (covers(mark, bornAtMs)) return false;
    if (present(family)) return true;
    if (!legacy || present(revoked)) return false;
    await this.create(token.sub, token.fam, token.authAt, Date.now(), bornAtMs);
    return true;
  }

  /** Asked again once an access token has been signed from the family: still recorded, and no mark covers `sinceMs`. */
  async confirms(familyId: string, subject: string, sinceMs: number): Promise<boolean> {
    const [family, mark] = await this.store.getMany([familyKey(familyId), subjectMark(subject)]);
    return present(family) && !covers(mark, sinceMs);
  }

  /**
   * A rotation: the family's record slides (compare-and-set: an ended family is never resurrected) and stays in
   * its subject's index as long; the used token (if any: a re-issue without refresh tokens uses none) leaves the
   * family's index, and so do expired access tokens. False when the family has ended meanwhile.
   */
  async rotated(familyId: string, subject: string, usedHash?: string): Promise<boolean> {
    const now = Date.now();
    const slid = await this.repository.slideOnce(familyKey(familyId), ({ record }) => (record.id !== subject ? null : record.lastSeen >= now ? record : { ...record, lastSeen: now }));
    if (slid === null) return false;
    await Promise.all([this.store.indexAdd(subject, familyId, this.ttlMs), this.prune(familyId, usedHash, now)]);
    return true;
  }

  /** Ends a family: its record first (nothing of it rotates from then on), then its tokens and access tokens. */
  async end(familyId: string, subject: string | null, deny: DenyAccess): Promise<LogMark[]> {
    const ended = await this.repository.destroy(familyKey(familyId), subject, familyId);
    const members = await this.store.indexMembers(familyIndex(familyId));
    const denied = await Promise.all(members.map(async (member) => {
      if (member.startsWith('t:')) await this.deleteToken(member.slice(2));
      else if (member.startsWith('a:') && deny) {
        const [, jti, exp] = member.split(':');
        if (jti && Number(exp) > Date.now()) return (await deny(jti, Number(exp))) ?? [];
      }
      return [];
    }));
    await this.store.indexRemove(familyIndex(familyId), members);
    return [...ended, ...denied.flat()];
  }

  /**
   * The sessions API's view of the families: one per login (a device). Ending one also denies the access tokens
   * issued from it, so they stop within maxRevocationLag. `familyOf`: the family an access token's principal names.
   */
  directory(familyOf: (who: Principal) => string | undefined, deny: DenyAccess): SessionDirectory {
    const directory: SessionDirectory = {
      list: (subject) => familySessions(this.store, subject),
      handleOf: (who) => {
        const familyId = who.strategy === 'stateless-jwt' ? familyOf(who) : undefined;
        return familyId === undefined ? null : familyHandle(familyId);
      },
      revokeHandle: async (subject, handle) => {
        const found = (await directory.list(subject)).find((s) => s.info.handle === handle);
        return found === undefined ? null : { ...found, marks: await this.end(found.sid, subject, deny) };
      },
    };
    return directory;
  }

  /**
   * "Log out everywhere": the mark first (it covers a family whose login is still being written), then every
   * session the repository indexes for the subject. Resolves once the clock has left the mark's millisecond.
   */
  async endSubject(subject: string): Promise<void> {
    const now = Date.now();
    await this.store.set(subjectMark(subject), String(now), this.ttlMs);
    // A successor handed out by a rotation that missed the mark was issued before the store acknowledged it, so
    // it expires within ttl of that acknowledgement: the mark lives that long from then, not from the time it names.
    await this.store.touch(subjectMark(subject), this.ttlMs);
    await this.repository.revokeAll(subject);
    await pastMillisecond(now);
  }

  private async prune(familyId: string, usedHash: string | undefined, now: number): Promise<void> {
    const members = await this.store.indexMembers(familyIndex(familyId));
    const stale = members.filter((m) => (usedHash !== undefined && m === `t:${usedHash}`) || (m.startsWith('a:') && Number(m.split(':')[2]) <= now));
    if (stale.length > 0) await this.store.indexRemove(familyIndex(familyId), stale);
  }
}

/** The subject's live refresh-token families (its devices under statelessJwt), newest first. */
export async function listFamilies(store: StateStore, subject: string): Promise<FamilySummary[]> {
  return (await familySessions(store, subject))
    .map(({ sid, record }) => ({
      familyId: sid,
      createdAt: new Date(record.issuedAt),
      authenticatedAt: new Date(record.authAt),
      lastSeenAt: new Date(record.lastSeen),
      expiresAt: new Date(record.lastSeen + record.idleMs),
      device: record.device || record.address ? { device: record.device ?? null, address: record.address ?? null } : null,
    }))
    .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
}

/** The subject's live families as sessions: recorded, and not covered by a revokeAll mark. */
async function familySessions(store: StateStore, subject: string): Promise<ListedSession[]> {
  const [sessions, mark] = await Promise.all([sessionRepository(store).list(subject), store.get(subjectMark(subject))]);
  return sessions.filter(({ layout, record }) => layout === FAMILY_LAYOUT && !covers(mark, record.issuedAt));
}
