import { configError } from '../errors';

const WEAK = new Set([
  'secret', 'changeme', 'change-me', 'keyboard cat', 'password', 'session-secret', 'supersecret', 'mysecret', 'jwt-secret', 'jwtsecret',
  'your-256-bit-secret', 'shhhhh', 'development', 'test', 'default', '12345678901234567890123456789012',
]);

/**
 * A well-known value, fewer than 8 distinct characters, or a short value repeated to reach the length
 * check ('keyboard cat keyboard cat keyboard cat', 'changeme'.repeat(4)). Used for every HS and cookie secret.
 */
export function isWeakSecret(secret: string): boolean {
  if (WEAK.has(secret.toLowerCase()) || new Set(secret).size < 8) return true;
  const s = secret.toLowerCase();
  for (let period = 1; period <= s.length / 2; period += 1) {
    let repeats = true;
    for (let i = period; i < s.length && repeats; i += 1) repeats = s[i] === s[i - period];
    if (repeats) return true;
  }
  return false;
}

/** Checks cookie-signing / encryption secrets: each at least 32 bytes, none well known. First one signs. */
export function checkSecrets(input: string | string[] | undefined, field: string): string[] {
  const list = typeof input === 'string' ? [input] : input;
  if (!Array.isArray(list) || list.length === 0) throw configError(`${field} is required (a string of at least 32 bytes, or a list for rotation)`);
  for (const secret of list) {
    if (typeof secret !== 'string' || Buffer.byteLength(secret) < 32) {
      throw configError(`${field}: every secret must be a string of at least 32 bytes; generate one with \`openssl rand -base64 48\``);
    }
    if (isWeakSecret(secret)) throw configError(`${field}: a well-known or low-entropy secret`);
  }
  return [...list];
}

/** Stable `code` of the warning emitted when sessionCookie accepts an express-session app's secrets (`legacy`). */
export const LEGACY_SECRET_WARNING = 'EXPRESS_PRINCIPAL_LEGACY_SECRET';

/**
 * An express-session app's secrets, kept only to verify the cookies it signed: any length (express-session had
 * no minimum), never used to sign. One warning per strategy says so, and how many are weak.
 */
export function checkLegacySecrets(input: string | string[] | undefined, field: string): string[] {
  const list = typeof input === 'string' ? [input] : input;
  if (!Array.isArray(list) || list.length === 0 || !list.every((s) => typeof s === 'string' && s.length > 0)) {
    throw configError(`${field} is required: the \`secret\` (string or list) of the express-session app whose sessions you are moving`);
  }
  const weak = list.filter((s) => Buffer.byteLength(s) < 32 || isWeakSecret(s)).length;
  process.emitWarning(
    `express-principal: ${list.length} legacy express-session secret(s) accepted for verifying old cookies only (never for signing)`
      + (weak > 0 ? `; ${weak} of them weak (shorter than 32 bytes or well known), so anyone who guesses one can forge an old cookie` : '')
      + '. Remove `legacy` once your users have moved (at most the old cookies\' lifetime).',
    { type: 'ExpressPrincipalWarning', code: LEGACY_SECRET_WARNING },
  );
  return [...list];
}
