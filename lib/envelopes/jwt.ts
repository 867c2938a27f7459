import { randomBytes } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { CredentialExpiredError, InvalidCredentialError } from '../errors';
import type { ResolvedKey } from './jwt-keys';
import { isHighS, toLowS } from './ecdsa';

/** Where verification keys come from: a local list, or a remote JWKS (verify-only). */
export interface KeySource {
  /** The key new tokens are signed with; `undefined` for verify-only sources. */
  readonly signer: ResolvedKey | undefined;
  find(kid: string | undefined, alg: string): ResolvedKey | undefined | Promise<ResolvedKey | undefined>;
  publicJwks(): { keys: Record<string, unknown>[] };
  /**
   * Accept high-s ECDSA signatures (remote JWKS: other issuers do not normalise s, so refusing them
   * would refuse about half of their ES tokens). Tokens we sign are always low-s.
   */
  readonly acceptHighS?: boolean;
}

export interface JwtEnvelopeOptions {
  keys: KeySource;
  issuer: string | string[] | undefined;
  audience: string | string[] | undefined;
  clockToleranceMs: number;
  /** Accepted `typ` header values (lower-cased); `null` accepts any. */
  typ: readonly string[] | null;
  /** Entries in the verified-token cache; 0 turns it off. */
  cacheSize: number;
}

export interface VerifiedJwt {
  readonly payload: Readonly<Record<string, unknown>>;
  readonly expMs: number;
}

export interface SignedJwt {
  readonly token: string;
  readonly jti: string;
  readonly issuedAtMs: number;
  readonly expiresAtMs: number;
}

/** Header typ of the access tokens we issue (RFC 9068). */
export const ACCESS_TOKEN_TYP = 'at+jwt';
const B64URL = /^[A-Za-z0-9_-]*$/;
const MAX_KID = 256;

export interface JwtEnvelope {
  sign(claims: Record<string, unknown>, ttlMs: number): SignedJwt;
  verify(token: string): Promise<VerifiedJwt>;
}

export function jwtEnvelope(options: JwtEnvelopeOptions): JwtEnvelope {
  const cache = new Map<string, VerifiedJwt>();
  const tolerance = options.clockToleranceMs;

  function sign(claims: Record<string, unknown>, ttlMs: number): SignedJwt {
    const signer = options.keys.signer;
    if (!signer?.signKey) throw new TypeError('express-principal: this strategy is verify-only (no private key or secret), it cannot issue tokens');
    const issuedAtMs = Date.now();
    const iat = Math.floor(issuedAtMs / 1000);
    const exp = Math.floor((issuedAtMs + ttlMs) / 1000);
    const jti = randomBytes(16).toString('base64url');
    const payload: Record<string, unknown> = { ...claims, jti, iat, iat_ms: issuedAtMs, exp };
    if (options.issuer !== undefined) payload.iss = Array.isArray(options.issuer) ? options.issuer[0] : options.issuer;
    if (options.audience !== undefined) payload.aud = options.audience;
    const signOptions: jwt.SignOptions = { algorithm: signer.alg, header: { alg: signer.alg, typ: ACCESS_TOKEN_TYP, ...(signer.kid ? { kid: signer.kid } : {}) } };
    let token = jwt.sign(payload, signer.signKey, signOptions);
    if (signer.alg.startsWith('ES')) {
      const dot = token.lastIndexOf('.');
      token = `${token.slice(0, dot + 1)}${toLowS(signer.alg, Buffer.from(token.slice(dot + 1), 'base64url')).toString('base64url')}`;
    }
    return { token, jti, issuedAtMs, expiresAtMs: exp * 1000 };
  }

  async function verify(token: string): Promise<VerifiedJwt> {
    const hit = cache.get(token);
    if (hit !== undefined) {
      if (Date.now() < hit.expMs) {
        cache.delete(token);
        cache.set(token, hit);
        return hit;
      }
      cache.delete(token);
    }
    const parts = token.split('.');
    if (parts.length !== 3) throw new InvalidCredentialError();
    const [h, p, s] = parts as [string, string, string];
    if (s === '' || !canonical(h) || !canonical(p) || !canonical(s)) throw new InvalidCredentialError();
    const header = parseObject(h);
    const claims = parseObject(p);
    const alg = header.alg;
    if (typeof alg !== 'string' || 'crit' in header) throw new InvalidCredentialError();
    if (options.typ !== null && !options.typ.includes(typeof header.typ === 'string' ? header.typ.toLowerCase() : '')) throw new InvalidCredentialError();
    const kid = header.kid;
    if (kid !== undefined && (typeof kid !== 'string' || kid === '' || kid.length > MAX_KID)) throw new InvalidCredentialError();
    const key = await options.keys.find(kid, alg);
    if (key === undefined || key.alg !== alg) throw new InvalidCredentialError();
    if (alg.startsWith('ES') && options.keys.acceptHighS !== true && isHighS(alg, Buffer.from(s, 'base64url'))) throw new InvalidCredentialError();
    try {
      const verifyOptions: jwt.VerifyOptions = { algorithms: [key.alg], clockTolerance: tolerance / 1000 };
      if (options.issuer !== undefined) verifyOptions.issuer = options.issuer as string | [string, ...string[]];
      if (options.audience !== undefined) verifyOptions.audience = options.audience as string | [string, ...string[]];
      jwt.verify(token, key.verifyKey, verifyOptions);
    } catch (err) {
      if (err instanceof jwt.TokenExpiredError) throw new CredentialExpiredError();
      throw new InvalidCredentialError(err);
    }
    const now = Date.now();
    // jsonwebtoken accepts a token without exp and an iat in the future; an auth layer must not.
    if (typeof claims.exp !== 'number') throw new InvalidCredentialError();
    if (claims.iat !== undefined && (typeof claims.iat !== 'number' || claims.iat * 1000 > now + tolerance)) throw new InvalidCredentialError();
    if (claims.nbf !== undefined && (typeof claims.nbf !== 'number' || claims.nbf * 1000 > now + tolerance)) throw new InvalidCredentialError();
    const verified: VerifiedJwt = { payload: claims, expMs: claims.exp * 1000 };
    if (options.cacheSize > 0) {
      if (cache.size >= options.cacheSize) cache.delete(cache.keys().next().value as string);
      cache.set(token, verified);
    }
    return verified;
  }

  return { sign, verify };
}

/** Rejects non-canonical base64url (e.g. altered trailing bits that decode to the same bytes). */
function canonical(segment: string): boolean {
  return B64URL.test(segment) && Buffer.from(segment, 'base64url').toString('base64url') === segment;
}

function parseObject(segment: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidCredentialError();
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InvalidCredentialError();
  return value as Record<string, unknown>;
}
