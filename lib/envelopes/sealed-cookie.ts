import { createHash, hkdfSync } from 'node:crypto';
import type { CookieStore } from '../types';
import { checkSecrets } from './secrets';
import { seal, unseal } from './seal';

/** Options of `cookieStore()`. */
export interface CookieStoreOptions {
  /** Encryption secret(s), each ≥ 32 bytes; the first encrypts, all decrypt (rotation). */
  secret: string | string[];
}

const VERSION = 1;
/** `version ‖ key id`: authenticated with the body (lib/envelopes/seal.ts), so a cookie cannot be moved to another key or version. */
const HEADER_BYTES = 1 + 4;

interface Key { id: Buffer; key: Buffer }

/**
 * The sealed-cookie envelope: the session lives in the cookie, encrypted and authenticated with AES-256-GCM, no
 * server state. The wire format is `version ‖ key id ‖ iv ‖ tag ‖ ciphertext`, base64url.
 * @example
 * principal({ strategy: sessionCookie({ store: cookieStore({ secret: [current, previous] }) }) })
 */
export function cookieStore(options: CookieStoreOptions): CookieStore {
  const keys: Key[] = checkSecrets(options?.secret, 'cookieStore secret').map((secret) => {
    const key = Buffer.from(hkdfSync('sha256', secret, 'express-principal', 'cookie-store aes-256-gcm', 32));
    return { id: createHash('sha256').update(key).digest().subarray(0, 4), key };
  });
  const signer = keys[0] as Key;
  const signerHeader = Buffer.concat([Buffer.from([VERSION]), signer.id]);
  return {
    kind: 'cookie',
    seal: (plaintext) => Buffer.concat([signerHeader, seal(signer.key, plaintext, signerHeader)]).toString('base64url'),
    open(sealed) {
      if (!/^[A-Za-z0-9_-]+$/.test(sealed)) return null;
      const raw = Buffer.from(sealed, 'base64url');
      // One session, one spelling: spare bits in the last character must not give a second valid cookie.
      if (raw.toString('base64url') !== sealed) return null;
      if (raw.length < HEADER_BYTES || raw[0] !== VERSION) return null;
      const header = raw.subarray(0, HEADER_BYTES);
      const key = keys.find((k) => k.id.equals(raw.subarray(1, HEADER_BYTES)));
      return key === undefined ? null : unseal(key.key, raw.subarray(HEADER_BYTES), header);
    },
  };
}
