import { configError } from '../errors';

const WEAK = new Set(['secret', 'changeme', 'change-me', 'keyboard cat', 'password', 'session-secret', 'supersecret', 'mysecret']);

/** Checks cookie-signing / encryption secrets: each at least 32 bytes, none well known. First one signs. */
export function checkSecrets(input: string | string[] | undefined, field: string): string[] {
  const list = typeof input === 'string' ? [input] : input;
  if (!Array.isArray(list) || list.length === 0) throw configError(`${field} is required (a string of at least 32 bytes, or a list for rotation)`);
  for (const secret of list) {
    if (typeof secret !== 'string' || Buffer.byteLength(secret) < 32) {
      throw configError(`${field}: every secret must be a string of at least 32 bytes; generate one with \`openssl rand -base64 48\``);
    }
    if (WEAK.has(secret.toLowerCase()) || new Set(secret).size < 8) throw configError(`${field}: a well-known or low-entropy secret`);
  }
  return [...list];
}
