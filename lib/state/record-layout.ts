import type { StrategyName } from '../types';
import { InvalidCredentialError } from '../errors';
import { parseRecord, type SessionRecord } from './session-record';

/**
 * How one kind of session record is kept in a store: its key prefix and its serialisation. Prefixes differ
 * between layouts, so a record key (which is also the per-subject index member) names its layout.
 */
export interface RecordLayout {
  readonly strategy: StrategyName;
  readonly prefix: string;
  /**
   * False for records that hold no identity of their own (a refresh-token family: its tokens carry the snapshot),
   * which `update` leaves as they are. @default true
   */
  readonly patchable?: boolean;
  /**
   * True for records whose strategy lists and ends them itself, because ending one must also refuse credentials
   * that carry their own state (refresh families, sealed cookies): the repository's directory leaves them out.
   */
  readonly selfListed?: boolean;
  /** The record, and whatever else the stored value holds (kept as it is when the record is rewritten). */
  decode(raw: string): Decoded;
  encode(record: SessionRecord, rest: Readonly<Record<string, unknown>> | null): string;
}

export interface Decoded {
  readonly record: SessionRecord;
  readonly rest: Readonly<Record<string, unknown>> | null;
}

/** statefulJwt: the record itself, as JSON. */
export const RECORD_LAYOUT: RecordLayout = {
  strategy: 'stateful-jwt',
  prefix: 's:',
  decode: (raw) => ({ record: parseRecord(raw), rest: null }),
  encode: (record) => JSON.stringify(record),
};

/**
 * sessionCookie: express-session's session object (what connect-redis stores as JSON under `sess:<sid>`), with
 * the record under `ep`. Apps moving between express-session and sessionCookie read each other's records.
 */
export const EXPRESS_SESSION_LAYOUT: RecordLayout = {
  strategy: 'session-cookie',
  prefix: 'sess:',
  decode(raw) {
    let data: unknown;
    try { data = JSON.parse(raw); } catch { throw new InvalidCredentialError(); }
    if (typeof data !== 'object' || data === null || (data as { ep?: unknown }).ep === undefined) throw new InvalidCredentialError();
    const { ep, ...rest } = data as Record<string, unknown>;
    return { record: parseRecord(ep), rest };
  },
  encode: (record, rest) => JSON.stringify({ ...rest, ep: record }),
};

/**
 * statelessJwt's refresh-token families (one per login: a device), as JSON: the record's deadlines are the
 * family's (`issuedAt` its birth, `lastSeen` its last rotation, `idleMs` the refresh ttl, no absolute limit) and
 * its identity is empty (each token carries the snapshot it was issued with); `device` sits beside the record.
 * Known to every repository from the start, so a process without refresh tokens never prunes a family from an index.
 */
export const FAMILY_LAYOUT: RecordLayout = {
  strategy: 'stateless-jwt',
  prefix: 'rt:fam:',
  patchable: false,
  selfListed: true,
  decode: (raw) => ({ record: parseRecord(raw), rest: null }),
  encode: (record) => JSON.stringify(record),
};

/**
 * sessionCookie with cookieStore and a `revocation` store: each login's device, as JSON. The session itself is in
 * the sealed cookie; this record only lists it (identity empty; `issuedAt`, `authAt`, deadlines and `lastSeen` are
 * the cookie's, `device` / `address` the login's). Known from the start, like families, so it is never pruned.
 */
export const SEALED_LAYOUT: RecordLayout = {
  strategy: 'session-cookie',
  prefix: 'sc:',
  patchable: false,
  selfListed: true,
  decode: (raw) => ({ record: parseRecord(raw), rest: null }),
  encode: (record) => JSON.stringify(record),
};

/**
 * Every layout a repository must reach: the presets', and any a composed strategy brings (`registerLayout`).
 * A subject's sessions may be in any of them, so revokeAll and update look in each.
 */
const layouts: RecordLayout[] = [RECORD_LAYOUT, EXPRESS_SESSION_LAYOUT, FAMILY_LAYOUT, SEALED_LAYOUT];

/** Makes a composed strategy's layout known to every repository; its prefix must not overlap another's. */
export function registerLayout(layout: RecordLayout): void {
  if (layouts.includes(layout)) return;
  const clash = layouts.find((l) => l.prefix.startsWith(layout.prefix) || layout.prefix.startsWith(l.prefix));
  if (clash !== undefined) throw new TypeError(`express-principal: record layout prefix '${layout.prefix}' overlaps '${clash.prefix}'`);
  layouts.push(layout);
}

/**
 * The record keys a per-subject index member (a session id) may name: one per layout. Session ids are random, so
 * at most one of them holds a record; the index need not say which strategy wrote it.
 */
export function recordKeys(sid: string): string[] {
  return layouts.map((layout) => layout.prefix + sid);
}

export function layoutOfKey(key: string): RecordLayout | undefined {
  return layouts.find((layout) => key.startsWith(layout.prefix));
}

/** The layout a strategy writes its records in (the first registered for that name). */
export function layoutOfStrategy(strategy: StrategyName): RecordLayout | undefined {
  return layouts.find((layout) => layout.strategy === strategy);
}
