import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import type { CookieStore } from '../lib/types';
import { checkSecrets } from '../lib/envelopes/secrets';
import { checkOptions } from '../lib/option-keys';

export interface CookieStoreOptions {
  /** Encryption secret(s), each ≥ 32 bytes; the first encrypts, all decrypt (rotation). */
  secret: string | string[];
}

const VERSION = 1;

interface Key { id: Buffer; key: Buffer }

/**
 * The session lives in the cookie, encrypted and authenticated with AES-256-GCM: no server state.
 * @example
 * principal({ strategy: sessionCookie({ store: cookieStore({ secret: [current, previous] }) }) })
 */
export function cookieStore(options: CookieStoreOptions): CookieStore {
  checkOptions('cookieStore', options);
  const keys: Key[] = checkSecrets(options?.secret, 'cookieStore secret').map((secret) => {
    const key = Buffer.from(hkdfSync('sha256', secret, 'express-principal', 'cookie-store aes-256-gcm', 32));
    return { id: createHash('sha256').update(key).digest().subarray(0, 4), key };
  });
  const signer = keys[0] as Key;
  return {
    kind: 'cookie',
    seal(plaintext) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', signer.key, iv);
      const header = Buffer.concat([Buffer.from([VERSION]), signer.id, iv]);
      cipher.setAAD(header);
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return Buffer.concat([header, cipher.getAuthTag(), body]).toString('base64url');
    },
    open(sealed) {
      if (!/^[A-Za-z0-9_-]+$/.test(sealed)) return null;
      const raw = Buffer.from(sealed, 'base64url');
      // One session, one spelling: spare bits in the last character must not give a second valid cookie.
      if (raw.toString('base64url') !== sealed) return null;
      if (raw.length < 1 + 4 + 12 + 16 || raw[0] !== VERSION) return null;
      const header = raw.subarray(0, 17);
      const key = keys.find((k) => k.id.equals(raw.subarray(1, 5)));
      if (!key) return null;
      try {
        const decipher = createDecipheriv('aes-256-gcm', key.key, raw.subarray(5, 17));
        decipher.setAAD(header);
        decipher.setAuthTag(raw.subarray(17, 33));
        return Buffer.concat([decipher.update(raw.subarray(33)), decipher.final()]).toString('utf8');
      } catch {
        return null;
      }
    },
  };
}
