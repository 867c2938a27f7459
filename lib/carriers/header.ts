import type { Request } from 'express';

/** Default cap on a credential's size, checked before any decoding. */
export const DEFAULT_MAX_CREDENTIAL_BYTES = 8 * 1024;

/** Whether the request carries an `Authorization: Bearer` credential (no parsing beyond the scheme). */
export function hasBearer(req: Request): boolean {
  const value = req.headers.authorization;
  return typeof value === 'string' && /^bearer(\s|$)/i.test(value);
}

/**
 * The bearer token as sent, `null` when there is no Bearer header (another scheme belongs to someone else). Never
 * throws: an empty token (malformed under RFC 6750) comes back as '' and is refused by the envelope, whose check of
 * the characters is stricter than b64token and runs before a token is verified.
 */
export function bearerValue(req: Request): string | null {
  const value = req.headers.authorization;
  if (typeof value !== 'string' || !/^bearer(\s|$)/i.test(value)) return null;
  return value.slice(6).trim();
}

/**
 * Response header carrying a re-issued access token when the old one came in `Authorization: Bearer`
 * and was re-issued (`refreshPrincipal` reloaded its data, or a migration moved it). Clients replace their stored token with it
 * (cross-origin apps: it is listed in `Access-Control-Expose-Headers`).
 */
export const REISSUED_TOKEN_HEADER = 'X-Access-Token';
