import { createHash, randomBytes } from 'node:crypto';
import type { Request, Response } from 'express';
import type { Identity, Principal } from '../types';
import type { DeviceFacts } from '../state/device';
import type { SessionDirectory } from '../state/session-repository';
import { CredentialExpiredError, CredentialRevokedError, InvalidCredentialError, RefreshReusedError } from '../errors';
import { RefreshFamilies, type StoredToken, type TokenRecord } from '../state/refresh-families';
import { refreshSettings, type RefreshContext, type RefreshOptions, type RefreshSettings } from './refresh-options';
import { MAX_TOKEN_CHARS } from './refresh-delivery';
import { sealSuccessor, unsealSuccessor } from './successor';

export type { RefreshOptions, RefreshContext } from './refresh-options';

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
  /** The first token of a new family (login): the family becomes a session of the subject. */
  issue(identity: Identity, authAtMs: number, familyId: string, facts?: DeviceFacts): Promise<{ token: string; expiresAtMs: number }>;
  /** The families as the sessions API lists and ends them; `familyOf` names an access token's family. */
  directory(familyOf: (who: Principal) => string | undefined): SessionDirectory;
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
  /** `subject`: whose session index the family leaves (null: pruned at the subject's next login). */
  revokeFamily(familyId: string, subject: string | null): Promise<void>;
  /** The family a presented refresh token belongs to (used or not); null when the store knows no such token. */
  familyOf(raw: string): Promise<{ familyId: string; subject: string } | null>;
  /**
   * "Log out everywhere": every family of the subject born before now is refused, whichever of its tokens is
   * presented. Resolves once the clock has left the mark's millisecond (a login after it is not covered).
   */
  revokeSubject(subject: string): Promise<void>;
  read(req: Request): string | null;
  write(res: Response, token: string, ttlMs: number): void;
  clear(res: Response): void;
}

export function refreshTokens(options: RefreshOptions, context: RefreshContext): RefreshTokens {
  return new StoredRefreshTokens(refreshSettings(options, context), context.revokeJti);
}

const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');
const wellFormed = (raw: unknown): raw is string => typeof raw === 'string' && raw !== '' && raw.length <= MAX_TOKEN_CHARS;

type Resolve = (snapshot: Identity) => Promise<Identity | null>;

/** A presented refresh token as the store held it when it was read. */
interface Presented extends StoredToken {
  readonly raw: string;
  readonly familyAtMs: number;
  readonly now: number;
}

/**
 * Refresh tokens kept (hashed) beside their family, one family per login: each rotation issues the family's next
 * token and marks the presented one used, so a used token presented again betrays a copy and ends the family.
 * Where any of it is kept is the state layer's (lib/state/refresh-families.ts).
 */
class StoredRefreshTokens implements RefreshTokens {
  readonly deliverCookie: boolean;
  readonly deliverBody: boolean;
  private readonly families: RefreshFamilies;
  /** Rotations under way on this instance, by token hash. */
  private readonly inFlight = new Map<string, Promise<RotatedRefresh>>();

  constructor(private readonly settings: RefreshSettings, private readonly revokeJti: RefreshContext['revokeJti']) {
    this.families = new RefreshFamilies(settings.store, settings.ttlMs);
    this.deliverCookie = settings.delivery.cookie;
    this.deliverBody = settings.delivery.body;
  }

  newFamily(): string {
    return randomBytes(16).toString('base64url');
  }

  async issue(identity: Identity, authAtMs: number, familyId: string, facts?: DeviceFacts): Promise<{ token: string; expiresAtMs: number }> {
    const now = Date.now();
    await this.families.create(identity.id, familyId, authAtMs, now, now, facts);
    return this.mint(identity, authAtMs, familyId, now, now);
  }

  async trackAccess(familyId: string, jti: string, expiresAtMs: number): Promise<void> {
    if (this.revokeJti !== null) await this.families.trackAccess(familyId, jti, expiresAtMs);
  }

  rotate(raw: string, resolve: Resolve): Promise<RotatedRefresh> {
    if (!wellFormed(raw)) return Promise.reject(new InvalidCredentialError());
    const hash = sha256(raw);
    // Concurrent presentations of one token on this instance share a single rotation (same successor).
    const pending = this.inFlight.get(hash);
    if (pending) return pending;
    const work = this.rotateOnce(raw, hash, resolve).finally(() => this.inFlight.delete(hash));
    this.inFlight.set(hash, work);
    return work;
  }

  async confirm(familyId: string, subject: string, sinceMs: number): Promise<void> {
    if (!(await this.families.confirms(familyId, subject, sinceMs))) throw new CredentialRevokedError();
  }

  async revokeFamily(familyId: string, subject: string | null): Promise<void> {
    await this.families.end(familyId, subject, this.revokeJti);
  }

  directory(familyOf: (who: Principal) => string | undefined): SessionDirectory {
    return this.families.directory(familyOf, this.revokeJti);
  }

  async familyOf(raw: string): Promise<{ familyId: string; subject: string } | null> {
    if (!wellFormed(raw)) return null;
    const token = await this.families.readToken(sha256(raw));
    return token === null ? null : { familyId: token.record.fam, subject: token.record.sub };
  }

  revokeSubject(subject: string): Promise<void> {
    return this.families.endSubject(subject);
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

  /** A new token of the family, issued at `now`; `familyAtMs` (the family's birth) is carried over by rotations. */
  private async mint(identity: Identity, authAtMs: number, familyId: string, familyAtMs: number, now: number): Promise<{ token: string; expiresAtMs: number }> {
    const token = randomBytes(32).toString('base64url');
    const record: TokenRecord = {
      v: 2, fam: familyId, sub: identity.id, roles: [...(identity.roles ?? [])], scopes: [...(identity.scopes ?? [])],
      claims: { ...(identity.claims ?? {}) }, authAt: authAtMs, famAt: familyAtMs, issuedAt: now, exp: now + this.settings.ttlMs, used: false,
    };
    await this.families.writeToken(sha256(token), record);
    return { token, expiresAtMs: record.exp };
  }

  /**
   * A revokeAll mark covers a family by its birth, not by the presented token's issue time: a successor issued by a
   * rotation that raced a revokeAll belongs to a family born before the mark, so it is refused like its predecessor.
   */
  private async rotateOnce(raw: string, hash: string, resolve: Resolve): Promise<RotatedRefresh> {
    const token = await this.families.readToken(hash);
    if (token === null) throw new InvalidCredentialError();
    const { record } = token;
    const now = Date.now();
    if (record.exp <= now) throw new CredentialExpiredError();
    const familyAtMs = record.famAt ?? record.issuedAt;
    if (!(await this.families.admits(record, familyAtMs))) throw new CredentialRevokedError();
    const presented: Presented = { ...token, raw, familyAtMs, now };
    return record.used ? this.answerAgain(presented, resolve) : this.rotateUnused(presented, resolve);
  }

  /** A used token: within the grace window its holder gets the same successor again; after it, the family ends. */
  private async answerAgain({ raw, record, familyAtMs, now }: Presented, resolve: Resolve): Promise<RotatedRefresh> {
    const successor = record.succ !== undefined && now - (record.usedAt ?? 0) <= this.settings.graceMs ? unsealSuccessor(record.succ, raw) : null;
    if (successor === null) {
      // Replayed after its grace window: someone else holds a copy. End the whole login.
      await this.revokeFamily(record.fam, record.sub);
      throw new RefreshReusedError(record.sub);
    }
    const identity = await this.resolveLiving(record, resolve);
    const next = await this.families.readToken(sha256(successor));
    if (next === null) throw new CredentialRevokedError();
    return { identity, authAtMs: record.authAt, familyId: record.fam, familyAtMs, token: successor, expiresAtMs: next.record.exp };
  }

  /** An unused token: its successor is issued, then it is marked used, unless another rotation won the race. */
  private async rotateUnused(presented: Presented, resolve: Resolve): Promise<RotatedRefresh> {
    const { raw, hash, record, familyAtMs, now } = presented;
    const identity = await this.resolveLiving(record, resolve);
    if (identity.id !== record.sub) throw new TypeError('express-principal: refreshPrincipal.load returned an identity with another id');
    // Successor first, then mark used: a crash in between never strands the user.
    const successor = await this.mint(identity, record.authAt, record.fam, familyAtMs, Date.now());
    const used: TokenRecord = { ...record, used: true, usedAt: now, succ: sealSuccessor(successor.token, raw) };
    // Kept until it would have expired: a later replay must still be recognised as one. Compare-and-set:
    // if another instance rotated this token meanwhile, ours is discarded and theirs is the successor.
    if (!(await this.families.replaceToken(presented, used, now))) {
      await this.families.deleteToken(sha256(successor.token));
      return this.rotateOnce(raw, hash, resolve);
    }
    // The family's record slides through the repository; a family ended meanwhile stays ended.
    if (!(await this.families.rotated(record.fam, record.sub, hash))) throw new CredentialRevokedError();
    return { identity, authAtMs: record.authAt, familyId: record.fam, familyAtMs, token: successor.token, expiresAtMs: successor.expiresAtMs };
  }

  /** The identity the app loads for the record's subject; a subject that is gone ends the family. */
  private async resolveLiving(record: TokenRecord, resolve: Resolve): Promise<Identity> {
    const identity = await resolve({ id: record.sub, roles: record.roles, scopes: record.scopes, claims: record.claims });
    if (identity === null) {
      await this.revokeFamily(record.fam, record.sub);
      throw new CredentialRevokedError();
    }
    return identity;
  }
}
