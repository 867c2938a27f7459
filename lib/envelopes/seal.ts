import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * The one AES-256-GCM seal: `iv ‖ tag ‖ ciphertext`. With `header`, the bytes `header ‖ iv` are authenticated
 * as associated data (the header travels in front of the sealed bytes, e.g. a format version and a key id).
 * Sealed cookies (cookieStore) and refresh-token successors both go through it.
 */
export function seal(key: Buffer, plaintext: string, header?: Buffer): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  if (header !== undefined) cipher.setAAD(Buffer.concat([header, iv]));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]);
}

/** The plaintext, or null for anything that was not sealed with this key and `header`. */
export function unseal(key: Buffer, sealed: Buffer, header?: Buffer): string | null {
  if (sealed.length < IV_BYTES + TAG_BYTES) return null;
  try {
    const iv = sealed.subarray(0, IV_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', key, iv);
    if (header !== undefined) decipher.setAAD(Buffer.concat([header, iv]));
    decipher.setAuthTag(sealed.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    return Buffer.concat([decipher.update(sealed.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
  } catch {
    return null;
  }
}
