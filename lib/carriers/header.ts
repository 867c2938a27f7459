import type { Request } from 'express';
import { CredentialTooLargeError, InvalidCredentialError } from '../errors';

/** Default cap on a credential's size, checked before any decoding. */
export const DEFAULT_MAX_CREDENTIAL_BYTES = 8 * 1024;

/** Whether the request carries an `Authorization: Bearer` credential (no parsing beyond the scheme). */
export function hasBearer(req: Request): boolean {
  const value = req.headers.authorization;
  return typeof value === 'string' && /^bearer(\s|$)/i.test(value);
}

/**
 * The bearer token, `null` when there is no Bearer header (another scheme belongs to someone else).
 * Oversized values are refused before they are decoded.
 */
export function readBearer(req: Request, maxBytes: number): string | null {
  const value = req.headers.authorization;
  if (typeof value !== 'string' || !/^bearer(\s|$)/i.test(value)) return null;
  if (value.length > maxBytes) throw new CredentialTooLargeError();
  const token = value.slice(6).trim();
  // RFC 6750 b64token: an empty one is malformed. The characters are checked by the JWT envelope, which accepts
  // only base64url segments (stricter than b64token), before a token is verified: a verified-token cache hit
  // then skips a scan of the whole token on every request.
  if (token === '') throw new InvalidCredentialError();
  return token;
}

/**
 * Response header carrying a re-issued access token when the old one came in `Authorization: Bearer`
 * and was re-issued (`refreshPrincipal` reloaded its data, or a migration moved it). Clients replace their stored token with it
 * (cross-origin apps: it is listed in `Access-Control-Expose-Headers`).
 */
export const REISSUED_TOKEN_HEADER = 'X-Access-Token';
