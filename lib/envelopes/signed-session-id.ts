import { createSecretKey, type KeyObject } from 'node:crypto';
import signature from 'cookie-signature';
import { CredentialCache } from '../cache/credential-cache';

/** Cookie values whose signature checked out (deterministic for a given secret list); bounded. */
const UNSIGNED_MAX = 10_000;

/** A verified session id, and the record key the caller derives from it once (kept with the cookie value). */
export interface SignedSessionId {
  readonly sid: string;
  readonly key: string;
}

/**
 * express-session's cookie envelope: `s:<sid>.<HMAC-SHA256>` (cookie-signature). The first secret signs, every
 * secret verifies, so a rotation keeps sessions, and sessions written by express-session stay readable.
 */
export class SignedSessionIdEnvelope {
  // cookie-signature over KeyObjects built once (a string secret is re-parsed by createHmac on every call).
  private readonly keys: KeyObject[];
  private readonly verified: CredentialCache<SignedSessionId>;

  constructor(secrets: readonly string[], private readonly keyOf: (sid: string) => string) {
    this.keys = secrets.map((secret) => createSecretKey(Buffer.from(secret, 'utf8')));
    this.verified = new CredentialCache<SignedSessionId>(UNSIGNED_MAX);
  }

  sign(sid: string): string {
    return `s:${signature.sign(sid, this.keys[0] as unknown as string)}`;
  }

  /** The session id of a cookie value, or null when no secret's signature matches. */
  open(raw: string): SignedSessionId | null {
    const known = this.verified.get(raw);
    if (known !== undefined) return known;
    if (!raw.startsWith('s:')) return null;
    const value = raw.slice(2);
    for (const key of this.keys) {
      const sid = signature.unsign(value, key as unknown as string);
      if (sid !== false) {
        const entry = { sid, key: this.keyOf(sid) };
        this.verified.set(raw, entry);
        return entry;
      }
    }
    return null;
  }

  clear(): void {
    this.verified.clear();
  }
}
