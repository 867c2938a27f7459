import { randomBytes } from 'node:crypto';
import type { Principal, StateStore } from '../types';
import { CredentialRevokedError } from '../errors';
import { RefreshFamilies, type DenyAccess } from '../state/refresh-families';
import type { SessionDirectory } from '../state/session-repository';
import type { DeviceFacts } from '../state/device';

/**
 * statelessJwt with a store but no refresh tokens: each login is a device, "the access tokens issued at one
 * login". It is kept as a refresh family without refresh tokens (its record lists it; its access tokens, which
 * carry its id as `sid`, are remembered beside it), so ending it denies every one of them that is still live.
 * The record lives as long as the login's newest token: a re-issue (refreshPrincipal) slides it.
 */
export class JwtLogins {
  private readonly families: RefreshFamilies;
  readonly directory: SessionDirectory;

  constructor(store: StateStore, lifetimeMs: number, private readonly deny: NonNullable<DenyAccess>, familyOf: (who: Principal) => string | undefined) {
    this.families = new RefreshFamilies(store, lifetimeMs);
    this.directory = this.families.directory(familyOf, deny);
  }

  newLogin(): string {
    return randomBytes(16).toString('base64url');
  }

  /** Records the login (indexed under its subject) and its first access token. */
  async begin(subject: string, loginId: string, authAtMs: number, jti: string, expiresAtMs: number, facts?: DeviceFacts): Promise<void> {
    const now = Date.now();
    await this.families.create(subject, loginId, authAtMs, now, now, facts);
    await this.families.trackAccess(loginId, jti, expiresAtMs);
  }

  /**
   * A token re-issued from the login (refreshPrincipal): remembered first, then the login is asked again, so a
   * revocation racing the re-issue either ends it here or finds the new token. Slides the login's record.
   */
  async reissued(loginId: string, subject: string, sinceMs: number, jti: string, expiresAtMs: number): Promise<void> {
    await this.families.trackAccess(loginId, jti, expiresAtMs);
    // The slide never resurrects an ended login (compare-and-set), so it need not wait for the confirmation.
    const [confirmed, slid] = await Promise.all([this.families.confirms(loginId, subject, sinceMs), this.families.rotated(loginId, subject)]);
    if (!confirmed || !slid) throw new CredentialRevokedError();
  }

  async end(loginId: string, subject: string | null): Promise<void> {
    await this.families.end(loginId, subject, this.deny);
  }

  endSubject(subject: string): Promise<void> {
    return this.families.endSubject(subject);
  }
}
