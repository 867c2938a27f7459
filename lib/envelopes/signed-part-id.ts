import { createHash } from 'node:crypto';

/**
 * The deny-list id of a verified token that has no `jti` (issuers that omit it, tokens carried over from
 * passport-jwt), so that logging out still revokes it. A digest of the signed part (`header.payload`), never
 * of the whole token: nobody can change the signed part without the issuer's key, while a signature can be
 * re-encoded (ECDSA's is malleable), so every copy of a revoked token stays revoked. 16 bytes in base64url:
 * the shape of the jtis this package issues, which the revocation cache holds compactly.
 */
export function signedPartId(token: string): string {
  const signedPart = token.slice(0, token.lastIndexOf('.'));
  return createHash('sha256').update(signedPart).digest().subarray(0, 16).toString('base64url');
}
