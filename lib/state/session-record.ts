import type { Identity, Principal, StrategyName } from '../types';
import { configError, CredentialExpiredError, InvalidCredentialError } from '../errors';
import { toMs } from '../duration';
import { sanitizeIdentity, type MappedIdentity } from '../claims';
import { makePrincipal } from '../principal-of';
import type { DeviceFacts } from './device';

/** What a stateful session holds, wherever it is kept (store or encrypted cookie). */
export interface SessionRecord {
  id: string;
  roles: string[];
  scopes: string[];
  claims: Record<string, unknown>;
  /** ms timestamps */
  issuedAt: number;
  authAt: number;
  loadedAt: number;
  absExp: number;
  lastSeen: number;
  idleMs: number;
  /** What the login's device was ("Chrome 131 on macOS") and where from (as `principal({ devices })` keeps it). */
  device?: string | null;
  address?: string | null;
}

/** Idle and absolute timeouts, enforced server-side from the record, whatever the cookie says. */
export interface SessionTimeouts {
  /** Session ends after this long without a request. @default '30m' */
  idleTimeout?: string | number;
  /** Session ends this long after login, whatever the activity. @default '12h' */
  absoluteTimeout?: string | number;
  /** The idle deadline slides at most once per this interval (no write per request). @default idleTimeout / 10 */
  touchInterval?: string | number;
}

export interface ResolvedTimeouts {
  idleMs: number;
  absoluteMs: number;
  touchMs: number;
}

export function resolveTimeouts(options: SessionTimeouts): ResolvedTimeouts {
  const idleMs = toMs(options.idleTimeout ?? '30m', 'idleTimeout');
  const absoluteMs = toMs(options.absoluteTimeout ?? '12h', 'absoluteTimeout');
  if (idleMs <= 0 || absoluteMs <= 0) throw configError('idleTimeout and absoluteTimeout must be positive');
  const touchMs = options.touchInterval === undefined ? Math.floor(idleMs / 10) : toMs(options.touchInterval, 'touchInterval');
  if (touchMs >= idleMs) throw configError('touchInterval must be shorter than idleTimeout');
  return { idleMs: Math.min(idleMs, absoluteMs), absoluteMs, touchMs };
}

export function newRecord(identity: Identity, timeouts: ResolvedTimeouts, authAt: number, facts?: DeviceFacts): SessionRecord {
  const id = sanitizeIdentity(identity);
  const now = Date.now();
  const record: SessionRecord = {
    id: id.id, roles: [...id.roles], scopes: [...id.scopes], claims: { ...id.claims },
    issuedAt: now, authAt, loadedAt: now, absExp: now + timeouts.absoluteMs, lastSeen: now, idleMs: timeouts.idleMs,
  };
  if (facts?.device) record.device = facts.device;
  if (facts?.address) record.address = facts.address;
  return record;
}

/** Milliseconds the record may still live: the earlier of the idle and absolute deadlines. */
export function remainingMs(record: SessionRecord, now = Date.now()): number {
  return Math.min(record.absExp, record.lastSeen + record.idleMs) - now;
}

export function parseRecord(raw: unknown): SessionRecord {
  let value: unknown = raw;
  if (typeof raw === 'string') {
    try { value = JSON.parse(raw); } catch { throw new InvalidCredentialError(); }
  }
  const r = value as Partial<SessionRecord> | null;
  if (typeof r !== 'object' || r === null || typeof r.id !== 'string' || typeof r.absExp !== 'number' || typeof r.lastSeen !== 'number' || typeof r.idleMs !== 'number') {
    throw new InvalidCredentialError();
  }
  return r as SessionRecord;
}

/** Throws when either deadline has passed; returns whether the idle deadline is due to slide. */
export function checkRecord(record: SessionRecord, touchMs: number, now = Date.now()): boolean {
  if (remainingMs(record, now) <= 0) throw new CredentialExpiredError();
  return now - record.lastSeen >= touchMs;
}

export function recordPrincipal(record: SessionRecord, strategy: StrategyName, sessionId: string): Principal {
  const identity: MappedIdentity = sanitizeIdentity({ id: record.id, roles: record.roles, scopes: record.scopes, claims: record.claims });
  return makePrincipal(identity, strategy, sessionId, {
    issuedAtMs: record.issuedAt, expiresAtMs: Math.min(record.absExp, record.lastSeen + record.idleMs),
    authenticatedAtMs: record.authAt, loadedAtMs: record.loadedAt,
  });
}

export function patchRecord(record: SessionRecord, patch: Partial<Omit<Identity, 'id'>>): SessionRecord {
  const merged = sanitizeIdentity({ id: record.id, roles: patch.roles ?? record.roles, scopes: patch.scopes ?? record.scopes, claims: patch.claims ?? record.claims });
  return { ...record, roles: [...merged.roles], scopes: [...merged.scopes], claims: { ...merged.claims }, loadedAt: Date.now() };
}
