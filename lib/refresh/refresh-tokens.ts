import { createHash, randomBytes } from 'node:crypto';
import { seal, unseal } from '../envelopes/seal';
import type { Request, Response } from 'express';
import type { CarrierKind, Identity, StateStore } from '../types';
import { configError, CredentialExpiredError, CredentialRevokedError, InvalidCredentialError, RefreshReusedError } from '../errors';
import { toMs } from '../duration';
import { isStateStore } from '../state/store-kind';
import { pastMillisecond } from '../state/revocation';
import { cookieAttributes, readCookie, type ResolvedCookie } from '../carriers/cookie';

/** `statelessJwt({ refresh })`: long-lived, single-use, rotating refresh tokens kept (hashed) in a store. */
export interface RefreshOptions {
  /** Where refresh tokens live (hashed): `redisStore()` or `memoryStore()`. */
  store: StateStore;
  /** Lifetime of each refresh token; every rotation starts a new one. @default '30d' */
  ttl?: string | number;
  /** A used token presented again within this window (two tabs refreshing at once) gets the same successor instead of revoking the family. @default '10s' */
  graceWindow?: string | number;
  /** Path the refresh cookie is scoped to: mount `auth.refreshHandler()` there. @default '/auth/refresh' */
  cookiePath?: string;
  /** Refresh cookie name. @default '__Secure-ep_rt' ('ep_rt' when not secure) */
  cookieName?: string;
  /** Secure flag of the refresh cookie. @default the access cookie's, else true */
  secure?: boolean;
  /**
   * Where the refresh token goes: an HttpOnly cookie (browsers) or the `Issued.refreshToken` / JSON body (native clients).
   * @default 'cookie' when the access token travels in a cookie, 'body' for header-only carriers
   */
  deliver?: 'cookie' | 'body' | 'both';
}

/** What is kept per refresh token, under `rt:t:<sha256(token)>`. Never the token itself. */
interface RefreshRecord {
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

export interface RotatedRefresh {
  identity: Identity;
  authAtMs: number;
  familyId: string;
  /** The family's birth: a `revokeAll` at or after it ends the family. */
  familyAtMs: number;
  token: string;
  expiresAtMs: number;
}

export interface RefreshTokens {
  readonly deliverCookie: boolean;
  readonly deliverBody: boolean;
  newFamily(): string;
  /** The first token of a new family (login). */
  issue(identity: Identity, authAtMs: number, familyId: string): Promise<{ token: string; expiresAtMs: number }>;
  /** Remembers an access token issued from a family, so a detected theft can deny it too. */
  trackAccess(familyId: string, jti: string, expiresAtMs: number): Promise<void>;
  /**
   * Single-use rotation. `resolve` may replace the identity snapshot (fresh load) or return null (user gone:
   * the family is revoked). Throws RefreshReusedError on a replay after the grace window.
   */
  rotate(raw: string, resolve: (snapshot: Identity) => Promise<Identity | null>): Promise<RotatedRefresh>;
  /**
   * Asked again once an access token has been signed from the family (rotation, rehydration): rejects with
   * CredentialRevokedError if the family was ended, or its subject revoked at or after `sinceMs`, meanwhile.
   */
  confirm(familyId: string, subject: string, sinceMs: number): Promise<void>;
  revokeFamily(familyId: string): Promise<void>;
  /** The family a presented refresh token belongs to (used or not); null when the store knows no such token. */
  familyOf(raw: string): Promise<string | null>;
  /**
   * "Log out everywhere": every family of the subject born before now is refused, whichever of its tokens is
   * presented. Resolves once the clock has left the mark's millisecond (a login after it is not covered).
   */
  revokeSubject(subject: string): Promise<void>;
  read(req: Request): string | null;
  write(res: Response, token: string, ttlMs: number): void;
  clear(res: Response): void;
}

const MAX_TOKEN_CHARS = 256;
const tokenKey = (hash: string) => `rt:t:${hash}`;
const familyRevokedKey = (fam: string) => `rt:fr:${fam}`;
const subjectKey = (sub: string) => `rt:s:${sub}`;
/** Per-family index (through the store's per-subject index): members `t:<hash>` and `a:<jti>:<expMs>`. */
const familyIndex = (fam: string) => `rt:f:${fam}`;

const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');

/** The key a successor is sealed with: derived from the used token, so only its holder can open the grace-window answer. */
const successorKey = (raw: string) => createHash('sha256').update('ep-refresh-successor\0').update(raw).digest();

function sealSuccessor(successor: string, raw: string): string {
  return seal(successorKey(raw), successor).toString('base64url');
}

function unsealSuccessor(sealed: string, raw: string): string | null {
  return unseal(successorKey(raw), Buffer.from(sealed, 'base64url'));
}

function parse(raw: string): RefreshRecord {
  try {
    const r = JSON.parse(raw) as RefreshRecord;
    if (typeof r.fam === 'string' && typeof r.sub === 'string' && typeof r.exp === 'number') return r;
  } catch { /* fall through */ }
  throw new InvalidCredentialError();
}

export interface RefreshContext {
  /** Carriers of the access token: decide where the refresh token goes by default. */
  carriers: readonly CarrierKind[];
  /** The access cookie's Secure flag, when there is one. */
  accessCookieSecure: boolean | undefined;
  /** Adds a jti to the access-token deny-list (null: the strategy has no revocation store). */
  revokeJti: ((jti: string, expiresAtMs: number) => Promise<void>) | null;
}

export function refreshTokens(options: RefreshOptions, context: RefreshContext): RefreshTokens {
  return new StoredRefreshTokens(refreshSettings(options, context), context.revokeJti);
}

/** The options, checked and resolved once at construction. */
interface RefreshSettings {
  readonly store: StateStore;
  readonly ttlMs: number;
  readonly graceMs: number;
  readonly delivery: RefreshDelivery;
}

function refreshSettings(options: RefreshOptions, context: RefreshContext): RefreshSettings {
  if (typeof options !== 'object' || options === null || !isStateStore(options.store)) {
    throw configError('statelessJwt `refresh.store` must be redisStore() or memoryStore() (refresh tokens are kept server-side, hashed)');
  }
  const ttlMs = toMs(options.ttl ?? '30d', 'refresh.ttl');
  const graceMs = toMs(options.graceWindow ?? '10s', 'refresh.graceWindow');
  if (ttlMs <= 0) throw configError('refresh.ttl must be positive');
  if (graceMs > 60_000) throw configError('refresh.graceWindow above 1 minute lets a stolen token through; keep it short');
  return { store: options.store, ttlMs, graceMs, delivery: new RefreshDelivery(options, context) };
}

/** Where a refresh token travels: an HttpOnly cookie scoped to the refresh path, the JSON body, or both. */
class RefreshDelivery {
  readonly cookie: boolean;
  readonly body: boolean;
  private readonly attributes: ResolvedCookie;

  constructor(options: RefreshOptions, context: RefreshContext) {
    const path = options.cookiePath ?? '/auth/refresh';
    if (!path.startsWith('/')) throw configError("refresh.cookiePath must start with '/'");
    const secure = options.secure ?? context.accessCookieSecure ?? true;
    const name = options.cookieName ?? (secure ? '__Secure-ep_rt' : 'ep_rt');
    if (name.startsWith('__Host-')) throw configError('the refresh cookie is path-scoped: a __Host- name (Path=/ only) does not fit');
    if (name.startsWith('__Secure-') && !secure) throw configError(`refresh cookie '${name}' needs secure: true`);
    this.attributes = { name, secure, sameSite: 'strict', path, domain: undefined };
    const carriers = context.carriers;
    const deliver = options.deliver ?? (carriers.includes('cookie') ? (carriers.includes('header') ? 'both' : 'cookie') : 'body');
    if (deliver !== 'cookie' && deliver !== 'body' && deliver !== 'both') throw configError("refresh.deliver must be 'cookie', 'body' or 'both'");
    this.cookie = deliver !== 'body';
    this.body = deliver !== 'cookie';
  }

  read(req: Request): string | null {
    if (this.cookie) {
      const fromCookie = readCookie(req, this.attributes, MAX_TOKEN_CHARS * 2);
      if (fromCookie !== null) return fromCookie;
    }
    const body = (req as Request & { body?: unknown }).body;
    if (this.body && typeof body === 'object' && body !== null) {
      const value = (body as { refreshToken?: unknown }).refreshToken;
      if (typeof value === 'string') return value;
    }
    return null;
  }

  write(res: Response, token: string, ttlMs: number): void {
    if (this.cookie) res.cookie(this.attributes.name, token, cookieAttributes(this.attributes, ttlMs));
  }

  clear(res: Response): void {
    if (this.cookie) res.clearCookie(this.attributes.name, cookieAttributes(this.attributes));
  }
}

type Resolve = (snapshot: Identity) => Promise<Identity | null>;

/** A presented refresh token and what the store held for it when it was read. */
interface Presented {
  readonly raw: string;
  readonly hash: string;
  readonly stored: string;
  readonly record: RefreshRecord;
  readonly familyAtMs: number;
  readonly now: number;
}

/**
 * Refresh tokens kept (hashed) in a store, one family per login: each rotation issues the family's next token
 * and marks the presented one used, so a used token presented again betrays a copy and ends the family.
 */
class StoredRefreshTokens implements RefreshTokens {
  readonly deliverCookie: boolean;
  readonly deliverBody: boolean;
  private readonly store: StateStore;
  /** Rotations under way on this instance, by token hash. */
  private readonly inFlight = new Map<string, Promise<RotatedRefresh>>();

  constructor(private readonly settings: RefreshSettings, private readonly revokeJti: RefreshContext['revokeJti']) {
    this.store = settings.store;
    this.deliverCookie = settings.delivery.cookie;
    this.deliverBody = settings.delivery.body;
  }

  newFamily(): string {
    return randomBytes(16).toString('base64url');
  }

  issue(identity: Identity, authAtMs: number, familyId: string): Promise<{ token: string; expiresAtMs: number }> {
    return this.mint(identity, authAtMs, familyId);
  }

  async trackAccess(familyId: string, jti: string, expiresAtMs: number): Promise<void> {
    if (this.revokeJti === null) return;
    await this.store.indexAdd(familyIndex(familyId), `a:${jti}:${expiresAtMs}`, Math.max(1, expiresAtMs - Date.now()));
  }

  rotate(raw: string, resolve: Resolve): Promise<RotatedRefresh> {
    if (typeof raw !== 'string' || raw === '' || raw.length > MAX_TOKEN_CHARS) return Promise.reject(new InvalidCredentialError());
    const hash = sha256(raw);
    // Concurrent presentations of one token on this instance share a single rotation (same successor).
    const pending = this.inFlight.get(hash);
    if (pending) return pending;
    const work = this.rotateOnce(raw, hash, resolve).finally(() => this.inFlight.delete(hash));
    this.inFlight.set(hash, work);
    return work;
  }

  async confirm(familyId: string, subject: string, sinceMs: number): Promise<void> {
    if (await this.ended(familyId, subject, sinceMs)) throw new CredentialRevokedError();
  }

  async revokeFamily(familyId: string): Promise<void> {
    const { store, revokeJti } = this;
    await store.set(familyRevokedKey(familyId), '1', this.settings.ttlMs);
    const members = await store.indexMembers(familyIndex(familyId));
    await Promise.all(members.map(async (member) => {
      if (member.startsWith('t:')) await store.delete(tokenKey(member.slice(2)));
      else if (member.startsWith('a:') && revokeJti) {
        const [, jti, exp] = member.split(':');
        if (jti && Number(exp) > Date.now()) await revokeJti(jti, Number(exp));
      }
    }));
    await store.indexRemove(familyIndex(familyId), members);
  }

  async familyOf(raw: string): Promise<string | null> {
    if (typeof raw !== 'string' || raw === '' || raw.length > MAX_TOKEN_CHARS) return null;
    const stored = await this.store.get(tokenKey(sha256(raw)));
    return stored === null ? null : parse(stored).fam;
  }

  async revokeSubject(subject: string): Promise<void> {
    const now = Date.now();
    const ttlMs = this.settings.ttlMs;
    await this.store.set(subjectKey(subject), String(now), ttlMs);
    // A successor handed out by a rotation that missed the mark was issued before the store acknowledged it, so
    // it expires within ttl of that acknowledgement: the mark lives that long from then, not from the time it names.
    await this.store.touch(subjectKey(subject), ttlMs);
    await pastMillisecond(now);
  }

  read(req: Request): string | null {
    return this.settings.delivery.read(req);
  }

  write(res: Response, token: string, ttlMs: number): void {
    this.settings.delivery.write(res, token, ttlMs);
  }

  clear(res: Response): void {
    this.settings.delivery.clear(res);
  }

  /** A new token of the family; `familyAtMs` is carried over by rotations (a login starts it now). */
  private async mint(identity: Identity, authAtMs: number, familyId: string, familyAtMs?: number): Promise<{ token: string; expiresAtMs: number }> {
    const ttlMs = this.settings.ttlMs;
    const token = randomBytes(32).toString('base64url');
    const hash = sha256(token);
    const now = Date.now();
    const record: RefreshRecord = {
      fam: familyId, sub: identity.id, roles: [...(identity.roles ?? [])], scopes: [...(identity.scopes ?? [])],
      claims: { ...(identity.claims ?? {}) }, authAt: authAtMs, famAt: familyAtMs ?? now, issuedAt: now, exp: now + ttlMs, used: false,
    };
    await this.store.set(tokenKey(hash), JSON.stringify(record), ttlMs);
    await this.store.indexAdd(familyIndex(familyId), `t:${hash}`, ttlMs);
    return { token, expiresAtMs: record.exp };
  }

  /**
   * Keeps a family's index to its live members: the used token leaves it (a replay is still caught by its
   * record, and a revoked family by its mark), and so do access tokens past their expiry.
   */
  private async pruneFamily(familyId: string, usedHash: string): Promise<void> {
    const now = Date.now();
    const members = await this.store.indexMembers(familyIndex(familyId));
    const stale = members.filter((m) => m === `t:${usedHash}` || (m.startsWith('a:') && Number(m.split(':')[2]) <= now));
    if (stale.length > 0) await this.store.indexRemove(familyIndex(familyId), stale);
  }

  /**
   * A subject mark covers a family by its birth, not by the presented token's issue time: a successor issued by a
   * rotation that raced a revokeAll belongs to a family born before the mark, so it is refused like its predecessor.
   */
  private async ended(familyId: string, subject: string, sinceMs: number): Promise<boolean> {
    const [familyRevoked, subjectMark] = await this.store.getMany([familyRevokedKey(familyId), subjectKey(subject)]);
    if (familyRevoked !== null && familyRevoked !== undefined) return true;
    return subjectMark !== null && subjectMark !== undefined && sinceMs <= Number(subjectMark);
  }

  private async rotateOnce(raw: string, hash: string, resolve: Resolve): Promise<RotatedRefresh> {
    const stored = await this.store.get(tokenKey(hash));
    if (stored === null) throw new InvalidCredentialError();
    const record = parse(stored);
    const now = Date.now();
    if (record.exp <= now) throw new CredentialExpiredError();
    const familyAtMs = record.famAt ?? record.issuedAt;
    if (await this.ended(record.fam, record.sub, familyAtMs)) throw new CredentialRevokedError();
    const presented: Presented = { raw, hash, stored, record, familyAtMs, now };
    return record.used ? this.answerAgain(presented, resolve) : this.rotateUnused(presented, resolve);
  }

  /** A used token: within the grace window its holder gets the same successor again; after it, the family ends. */
  private async answerAgain({ raw, record, familyAtMs, now }: Presented, resolve: Resolve): Promise<RotatedRefresh> {
    const successor = record.succ !== undefined && now - (record.usedAt ?? 0) <= this.settings.graceMs ? unsealSuccessor(record.succ, raw) : null;
    if (successor === null) {
      // Replayed after its grace window: someone else holds a copy. End the whole login.
      await this.revokeFamily(record.fam);
      throw new RefreshReusedError(record.sub);
    }
    const identity = await this.resolveLiving(record, resolve);
    const next = await this.store.get(tokenKey(sha256(successor)));
    if (next === null) throw new CredentialRevokedError();
    return { identity, authAtMs: record.authAt, familyId: record.fam, familyAtMs, token: successor, expiresAtMs: parse(next).exp };
  }

  /** An unused token: its successor is issued, then it is marked used, unless another rotation won the race. */
  private async rotateUnused({ raw, hash, stored, record, familyAtMs, now }: Presented, resolve: Resolve): Promise<RotatedRefresh> {
    const identity = await this.resolveLiving(record, resolve);
    if (identity.id !== record.sub) throw new TypeError('express-principal: refreshPrincipal.load returned an identity with another id');
    // Successor first, then mark used: a crash in between never strands the user.
    const successor = await this.mint(identity, record.authAt, record.fam, familyAtMs);
    const used: RefreshRecord = { ...record, used: true, usedAt: now, succ: sealSuccessor(successor.token, raw) };
    // Kept until it would have expired: a later replay must still be recognised as one. Compare-and-set:
    // if another instance rotated this token meanwhile, ours is discarded and theirs is the successor.
    if (!(await this.store.swap(tokenKey(hash), stored, JSON.stringify(used), Math.max(1, record.exp - now)))) {
      await this.store.delete(tokenKey(sha256(successor.token)));
      return this.rotateOnce(raw, hash, resolve);
    }
    await this.pruneFamily(record.fam, hash);
    return { identity, authAtMs: record.authAt, familyId: record.fam, familyAtMs, token: successor.token, expiresAtMs: successor.expiresAtMs };
  }

  /** The identity the app loads for the record's subject; a subject that is gone ends the family. */
  private async resolveLiving(record: RefreshRecord, resolve: Resolve): Promise<Identity> {
    const identity = await resolve({ id: record.sub, roles: record.roles, scopes: record.scopes, claims: record.claims });
    if (identity === null) {
      await this.revokeFamily(record.fam);
      throw new CredentialRevokedError();
    }
    return identity;
  }
}
