import { constants, createHmac, randomBytes, timingSafeEqual, verify as cryptoVerify } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { CredentialExpiredError, InvalidCredentialError } from '../errors';
import type { ResolvedKey } from './jwt-keys';
import { isHighS, toLowS } from './ecdsa';
import { CredentialCache } from '../cache/credential-cache';

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
  /**
   * Changes whenever the source replaces its key set (constant for local keys). A verified-token cache entry
   * records it, so while the set is unchanged a cache hit costs one comparison, not a key lookup.
   */
  readonly generation: number;
  /** Until when (ms) the current set needs no revalidation: `Infinity` for local keys, fetch + `maxAge` for a JWKS. */
  readonly freshUntil: number;
  /**
   * Whether `key`, found for `kid` when the token was verified, still verifies tokens now: false once the
   * issuer's JWKS no longer lists it. A set past its `maxAge` is refreshed in the background meanwhile.
   */
  holds(key: ResolvedKey, kid: string | undefined): boolean;
}

export interface JwtEnvelopeOptions {
  keys: KeySource;
  issuer: string | string[] | undefined;
  audience: string | string[] | undefined;
  clockToleranceMs: number;
  /** Accepted `typ` header values, each as `mediaType()` writes it (`NO_TYP`: no `typ` header); `null` accepts any. */
  typ: readonly string[] | null;
  /** `typ` of the tokens this envelope signs. */
  signTyp: string;
  /** Entries in the verified-token cache; 0 turns it off. */
  cacheSize: number;
}

export interface VerifiedJwt {
  readonly payload: Readonly<Record<string, unknown>>;
  readonly expMs: number;
  /** What the strategy derived from this token (e.g. its Principal), reused on every cache hit. */
  memo: unknown;
}

export interface SignedJwt {
  readonly token: string;
  readonly jti: string;
  readonly issuedAtMs: number;
  readonly expiresAtMs: number;
}

/** Header typ of the access tokens we issue (RFC 9068). */
export const ACCESS_TOKEN_TYP = 'at+jwt';
/**
 * Header typ of statefulJwt tokens: they carry only `sub` + `sid`, so a statelessJwt sharing the key must
 * not take one for an access token with no roles (and the other way round).
 */
export const SESSION_TOKEN_TYP = 'session+jwt';
/** The accepted-`typ` entry of a token with no `typ` header (`mediaType()` never writes an empty string). */
export const NO_TYP = '';

/**
 * A `typ` value in one comparable form: media types are case-insensitive, and a `typ` without a `/` means the
 * same type under `application/` (RFC 7515 §4.1.9), so `at+jwt` and `application/at+jwt` (RFC 9068 §4) are one.
 */
export function mediaType(typ: string): string {
  const lower = typ.toLowerCase();
  return lower.includes('/') ? lower : `application/${lower}`;
}

const B64URL = /^[A-Za-z0-9_-]*$/;
const MAX_KID = 256;
const MAX_HEADERS = 64;

interface Header { readonly alg: string; readonly kid: string | undefined }

/** A verified token as cached: served while its key set is unchanged and fresh, else its key is looked up again. */
interface CachedJwt {
  readonly verified: VerifiedJwt;
  readonly key: ResolvedKey;
  readonly kid: string | undefined;
  generation: number;
  /** The earlier of `exp` and the key set's `freshUntil`: past it, a hit is checked against the key source. */
  recheckAtMs: number;
}

export interface JwtEnvelope {
  sign(claims: Record<string, unknown>, ttlMs: number): SignedJwt;
  /** Synchronous for local keys; a Promise when keys come from a remote JWKS. */
  verify(token: string): VerifiedJwt | Promise<VerifiedJwt>;
}

export function jwtEnvelope(options: JwtEnvelopeOptions): JwtEnvelope {
  return new Envelope(options);
}

/**
 * `verify` runs on every request. Its cache hit reads instance fields and allocates nothing; the one closure
 * (for a remote key lookup) lives in acceptLater, so no other call creates it or its context.
 */
class Envelope implements JwtEnvelope {
  private readonly cache: CredentialCache<CachedJwt> | null;
  private readonly keys: KeySource;
  /** Header verdicts by header text (see readHeader). */
  private readonly headers = new Map<string, Header>();
  private readonly rules: ClaimRules;

  constructor(private readonly options: JwtEnvelopeOptions) {
    this.cache = options.cacheSize > 0 ? new CredentialCache<CachedJwt>(options.cacheSize) : null;
    this.keys = options.keys;
    this.rules = claimRules(options);
  }

  sign(claims: Record<string, unknown>, ttlMs: number): SignedJwt {
    return signJwt(this.options, claims, ttlMs);
  }

  verify(token: string): VerifiedJwt | Promise<VerifiedJwt> {
    const hit = this.cache?.get(token);
    if (hit !== undefined) {
      if ((Date.now() < hit.recheckAtMs && hit.generation === this.keys.generation) || this.stillValid(hit)) return hit.verified;
      this.cache?.delete(token);
    }
    return this.verifyAnew(token);
  }

  /** A cache hit past its recheck time or key set: valid while unexpired and its key is still in the source's set. */
  private stillValid(hit: CachedJwt): boolean {
    const keys = this.keys;
    if (Date.now() >= hit.verified.expMs || !keys.holds(hit.key, hit.kid)) return false;
    hit.generation = keys.generation;
    hit.recheckAtMs = Math.min(hit.verified.expMs, keys.freshUntil);
    return true;
  }

  /** Full verification: everything that can be checked without a key first, so garbage never reaches a JWKS fetch. */
  private verifyAnew(token: string): VerifiedJwt | Promise<VerifiedJwt> {
    const first = token.indexOf('.');
    const second = token.indexOf('.', first + 1);
    const signature = signatureSegment(token, first, second);
    const headerText = token.slice(0, first);
    const header = readHeader(this.headers, this.options.typ, headerText);
    const claims = parseObject(token.slice(first + 1, second));
    // Read before the (possibly asynchronous) lookup: a set replaced meanwhile makes the entry's first hit recheck its key.
    const pending: Pending = { token, second, headerText, signature, header, claims, generation: this.keys.generation, freshUntil: this.keys.freshUntil };
    const found = this.keys.find(header.kid, header.alg);
    return found instanceof Promise ? this.acceptLater(pending, found) : this.accept(pending, found);
  }

  /** Kept apart from verifyAnew so that only a remote key lookup creates a closure. */
  private acceptLater(pending: Pending, found: Promise<ResolvedKey | undefined>): Promise<VerifiedJwt> {
    return found.then((key) => this.accept(pending, key));
  }

  /** The signature against the key found, then the claims; a token that passes is cached and its header remembered. */
  private accept(pending: Pending, key: ResolvedKey | undefined): VerifiedJwt {
    const { token, header, headerText, claims } = pending;
    const alg = header.alg;
    if (key === undefined || key.alg !== alg) throw new InvalidCredentialError();
    const signature = Buffer.from(pending.signature, 'base64url');
    if (alg.startsWith('ES') && this.keys.acceptHighS !== true && isHighS(alg, signature)) throw new InvalidCredentialError();
    if (!verifySignature(key, token.slice(0, pending.second), signature)) throw new InvalidCredentialError();
    const verified: VerifiedJwt = { payload: claims, expMs: checkClaims(this.rules, claims), memo: undefined };
    const headers = this.headers;
    if (headers.size < MAX_HEADERS && !headers.has(headerText)) headers.set(headerText, header);
    this.cache?.set(token, { verified, key, kid: header.kid, generation: pending.generation, recheckAtMs: Math.min(verified.expMs, pending.freshUntil) });
    return verified;
  }
}

function signJwt(options: JwtEnvelopeOptions, claims: Record<string, unknown>, ttlMs: number): SignedJwt {
  const signer = options.keys.signer;
  if (!signer?.signKey) throw new TypeError('express-principal: this strategy is verify-only (no private key or secret), it cannot issue tokens');
  const issuedAtMs = Date.now();
  const iat = Math.floor(issuedAtMs / 1000);
  const exp = Math.floor((issuedAtMs + ttlMs) / 1000);
  const jti = randomBytes(16).toString('base64url');
  const payload: Record<string, unknown> = { ...claims, jti, iat, iat_ms: issuedAtMs, exp };
  if (options.issuer !== undefined) payload.iss = Array.isArray(options.issuer) ? options.issuer[0] : options.issuer;
  if (options.audience !== undefined) payload.aud = options.audience;
  const signOptions: jwt.SignOptions = { algorithm: signer.alg, header: { alg: signer.alg, typ: options.signTyp, ...(signer.kid ? { kid: signer.kid } : {}) } };
  let token = jwt.sign(payload, signer.signKey, signOptions);
  // Our ES tokens are always low-s, so a verifier that refuses high-s signatures (ours does) accepts them.
  if (signer.alg.startsWith('ES')) {
    const dot = token.lastIndexOf('.');
    token = `${token.slice(0, dot + 1)}${toLowS(signer.alg, Buffer.from(token.slice(dot + 1), 'base64url')).toString('base64url')}`;
  }
  return { token, jti, issuedAtMs, expiresAtMs: exp * 1000 };
}

/**
 * A token checked up to its signature, waiting for its key. `generation` and `freshUntil`: the key set as it was
 * before the lookup, which may be asynchronous.
 */
interface Pending {
  readonly token: string;
  /** Index of the second dot: the signing input ends there. */
  readonly second: number;
  readonly headerText: string;
  readonly signature: string;
  readonly header: Header;
  readonly claims: Record<string, unknown>;
  readonly generation: number;
  readonly freshUntil: number;
}

/** Compact JWS: three base64url segments (the bearer carrier leaves this check to the envelope). Returns the third. */
function signatureSegment(token: string, first: number, second: number): string {
  if (first < 0 || second < 0 || token.indexOf('.', second + 1) >= 0) throw new InvalidCredentialError();
  if (!B64URL.test(token.slice(0, first)) || !B64URL.test(token.slice(first + 1, second))) throw new InvalidCredentialError();
  const signature = token.slice(second + 1);
  // Header and payload are signed as text, so any re-encoding breaks the signature; only the
  // signature segment can hide spare bits, and it must be canonical.
  if (signature === '' || !canonical(signature)) throw new InvalidCredentialError();
  return signature;
}

/** A header's `typ` as compared: absent is `NO_TYP`; a non-string `typ` matches nothing. */
function headerTyp(typ: unknown): string | null {
  if (typ === undefined) return NO_TYP;
  return typeof typ === 'string' ? mediaType(typ) : null;
}

function acceptsTyp(accepted: readonly string[], typ: string | null): boolean {
  return typ !== null && accepted.includes(typ);
}

/**
 * The header's verdict, remembered per header text: an issuer's tokens share a handful of headers (one per
 * key), so most verifications skip its decoding. Kept (by accept) only once a token with that header verified,
 * so a flood of forged headers cannot fill it; at most MAX_HEADERS.
 */
function readHeader(headers: ReadonlyMap<string, Header>, typ: readonly string[] | null, segment: string): Header {
  const known = headers.get(segment);
  if (known !== undefined) return known;
  const header = parseObject(segment);
  const alg = header.alg;
  if (typeof alg !== 'string' || 'crit' in header) throw new InvalidCredentialError();
  if (typ !== null && !acceptsTyp(typ, headerTyp(header.typ))) throw new InvalidCredentialError();
  const kid = header.kid;
  if (kid !== undefined && (typeof kid !== 'string' || kid === '' || kid.length > MAX_KID)) throw new InvalidCredentialError();
  return { alg, kid };
}

/** What checkClaims holds a token to, resolved once per envelope. */
interface ClaimRules {
  readonly issuers: readonly string[] | null;
  readonly audiences: readonly string[] | null;
  readonly toleranceMs: number;
}

function claimRules(options: JwtEnvelopeOptions): ClaimRules {
  return {
    issuers: options.issuer === undefined ? null : ([] as string[]).concat(options.issuer),
    audiences: options.audience === undefined ? null : ([] as string[]).concat(options.audience),
    toleranceMs: options.clockToleranceMs,
  };
}

/** Registered claims, checked only after the signature: exp required, nbf/iat not in the future, iss/aud. Returns exp in ms. */
function checkClaims(rules: ClaimRules, claims: Record<string, unknown>): number {
  const now = Date.now();
  const tolerance = rules.toleranceMs;
  const { exp, nbf, iat } = claims;
  if (typeof exp !== 'number' || !Number.isFinite(exp)) throw new InvalidCredentialError();
  if (iat !== undefined && (typeof iat !== 'number' || iat * 1000 > now + tolerance)) throw new InvalidCredentialError();
  if (nbf !== undefined && (typeof nbf !== 'number' || nbf * 1000 > now + tolerance)) throw new InvalidCredentialError();
  const issuers = rules.issuers;
  if (issuers !== null && (typeof claims.iss !== 'string' || !issuers.includes(claims.iss))) throw new InvalidCredentialError();
  const audiences = rules.audiences;
  if (audiences !== null) {
    const aud = claims.aud;
    const list = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : [];
    if (!list.some((a) => typeof a === 'string' && audiences.includes(a))) throw new InvalidCredentialError();
  }
  if (exp * 1000 + tolerance <= now) throw new CredentialExpiredError();
  // A cached entry is served until exp exactly (never the tolerance), then re-verified.
  return exp * 1000;
}

/** Rejects non-canonical base64url (e.g. altered trailing bits that decode to the same bytes). */
function canonical(segment: string): boolean {
  if (!B64URL.test(segment)) return false;
  const rest = segment.length % 4;
  if (rest === 0) return true;
  if (rest === 1) return false;
  // The last character carries 4 (rest 2) or 2 (rest 3) spare bits, which must be zero.
  const last = ALPHABET.indexOf(segment.charAt(segment.length - 1));
  return (last & (rest === 2 ? 0x0f : 0x03)) === 0;
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

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

const HASH: Record<string, string> = { '256': 'sha256', '384': 'sha384', '512': 'sha512' };

/** Signature check with node:crypto over the KeyObject parsed once at construction. */
function verifySignature(key: ResolvedKey, signingInput: string, signature: Buffer): boolean {
  const hash = HASH[key.alg.slice(2)] as string;
  switch (key.alg.slice(0, 2)) {
    case 'HS': {
      const expected = createHmac(hash, key.verifyKey).update(signingInput).digest();
      return expected.length === signature.length && timingSafeEqual(expected, signature);
    }
    case 'RS':
      return cryptoVerify(hash, Buffer.from(signingInput), key.verifyKey, signature);
    case 'PS':
      return cryptoVerify(hash, Buffer.from(signingInput), { key: key.verifyKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }, signature);
    case 'ES':
      return cryptoVerify(hash, Buffer.from(signingInput), { key: key.verifyKey, dsaEncoding: 'ieee-p1363' }, signature);
    default:
      return false;
  }
}
