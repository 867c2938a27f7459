import { createPrivateKey, createPublicKey, createSecretKey, KeyObject } from 'node:crypto';
import { configError } from '../errors';
import { isWeakSecret } from './secrets';

/** The JWS algorithms express-principal signs and verifies with (never `none`). */
export type JwtAlgorithm =
  | 'HS256' | 'HS384' | 'HS512'
  | 'RS256' | 'RS384' | 'RS512'
  | 'PS256' | 'PS384' | 'PS512'
  | 'ES256' | 'ES384' | 'ES512';

/** A key as PEM text, raw bytes (HMAC secrets) or a `KeyObject`. */
export type KeyInput = string | Buffer | KeyObject;

/** One entry of a `keys` list: the first entry with a private key (or secret) signs; every entry verifies. */
export interface JwtKey {
  /** The key id, written to the token header and matched when verifying. */
  kid: string;
  /** Pinned algorithm. @default the one that fits the key */
  algorithm?: JwtAlgorithm;
  /** HMAC secret, at least 32 bytes. */
  secret?: KeyInput;
  /** Private key (RSA, RSA-PSS or EC): signs, and verifies through its public half. */
  privateKey?: KeyInput;
  /** Public key only: verifies tokens signed elsewhere. */
  publicKey?: KeyInput;
}

export interface JwtKeyOptions {
  /** HMAC secret, at least 32 bytes. */
  secret?: KeyInput;
  /** Private key (RSA, RSA-PSS or EC) that signs; its public half verifies. */
  privateKey?: KeyInput;
  /** Public key only: verifies tokens another service signs. */
  publicKey?: KeyInput;
  /** Pinned algorithms. @default the one that fits the key (HS256, RS256, PS256, ES256/384/512) */
  algorithms?: JwtAlgorithm[];
  /** Several keys with `kid`s, for rotation. */
  keys?: JwtKey[];
}

/** A key parsed once, at construction, pinned to exactly one algorithm. */
export interface ResolvedKey {
  readonly kid: string | undefined;
  readonly alg: JwtAlgorithm;
  readonly verifyKey: KeyObject;
  readonly signKey: KeyObject | undefined;
}

const ALL: readonly JwtAlgorithm[] = ['HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512'];
const EC_ALG: Record<string, JwtAlgorithm> = { prime256v1: 'ES256', secp384r1: 'ES384', secp521r1: 'ES512' };

export function resolveKeys(options: JwtKeyOptions): ResolvedKey[] {
  const entries: JwtKey[] = options.keys ?? [];
  if (options.keys !== undefined) {
    if (options.secret !== undefined || options.privateKey !== undefined || options.publicKey !== undefined) {
      throw configError('give either `keys` or `secret` / `privateKey` / `publicKey`, not both');
    }
    if (entries.length === 0) throw configError('`keys` must hold at least one key');
    const kids = new Set(entries.map((k) => k.kid));
    if (kids.size !== entries.length || entries.some((k) => typeof k.kid !== 'string' || k.kid === '')) {
      throw configError('every entry of `keys` needs a distinct, non-empty `kid`');
    }
    return entries.flatMap((entry) => resolveOne(entry, entry.algorithm ? [entry.algorithm] : undefined, entry.kid));
  }
  const single: JwtKey = { kid: '' };
  if (options.secret !== undefined) single.secret = options.secret;
  if (options.privateKey !== undefined) single.privateKey = options.privateKey;
  if (options.publicKey !== undefined) single.publicKey = options.publicKey;
  return resolveOne(single, options.algorithms, undefined);
}

function resolveOne(entry: JwtKey, algorithms: JwtAlgorithm[] | undefined, kid: string | undefined): ResolvedKey[] {
  const label = kid ? `key '${kid}'` : 'the key';
  for (const alg of algorithms ?? []) if (!ALL.includes(alg)) throw configError(`${label}: unsupported algorithm '${String(alg)}' (use one of ${ALL.join(', ')})`);
  if (entry.secret !== undefined) {
    if (entry.privateKey !== undefined || entry.publicKey !== undefined) throw configError(`${label}: a secret and a key pair cannot be mixed`);
    const key = secretKey(entry.secret, label);
    const algs = algorithms ?? ['HS256'];
    for (const alg of algs) if (!alg.startsWith('HS')) throw configError(`${label}: a secret only fits HS256/HS384/HS512, not ${alg}`);
    return algs.map((alg) => ({ kid, alg, verifyKey: key, signKey: key }));
  }
  if (entry.privateKey === undefined && entry.publicKey === undefined) {
    throw configError('a JWT strategy needs `secret`, `privateKey`/`publicKey`, `keys` or `jwksUri`');
  }
  const signKey = entry.privateKey === undefined ? undefined : asPrivate(entry.privateKey, label);
  const verifyKey = entry.publicKey === undefined ? createPublicKey(signKey as KeyObject) : asPublic(entry.publicKey, label);
  if (signKey && !sameKey(createPublicKey(signKey), verifyKey)) throw configError(`${label}: privateKey and publicKey do not belong together`);
  checkStrength(verifyKey, label);
  const fits = fittingAlgorithms(verifyKey);
  const algs = algorithms ?? [fits[0] as JwtAlgorithm];
  for (const alg of algs) {
    if (!fits.includes(alg)) throw configError(`${label}: algorithm ${alg} does not fit a ${verifyKey.asymmetricKeyType} key (use ${fits.join(', ')})`);
  }
  return algs.map((alg) => ({ kid, alg, verifyKey, signKey }));
}

function secretKey(input: KeyInput, label: string): KeyObject {
  const key = input instanceof KeyObject ? input : createSecretKey(typeof input === 'string' ? Buffer.from(input, 'utf8') : input);
  if (key.type !== 'secret') throw configError(`${label}: \`secret\` must be a string, Buffer or secret KeyObject`);
  const bytes = key.export();
  if (bytes.length < 32) throw configError(`${label}: HS secrets must be at least 32 bytes (got ${bytes.length}); generate one with \`openssl rand -base64 48\``);
  if (isWeakSecret(bytes.toString('latin1'))) {
    throw configError(`${label}: the secret is a well-known or low-entropy value; generate one with \`openssl rand -base64 48\``);
  }
  return key;
}

function asPrivate(input: KeyInput, label: string): KeyObject {
  if (input instanceof KeyObject) {
    if (input.type !== 'private') throw configError(`${label}: privateKey must be a private key`);
    return input;
  }
  try { return createPrivateKey(input); } catch { throw configError(`${label}: privateKey is not a valid PEM private key`); }
}

function asPublic(input: KeyInput, label: string): KeyObject {
  if (input instanceof KeyObject) return input.type === 'private' ? createPublicKey(input) : assertPublic(input, label);
  try { return createPublicKey(input); } catch { throw configError(`${label}: publicKey is not a valid PEM public key or certificate`); }
}

function assertPublic(key: KeyObject, label: string): KeyObject {
  if (key.type !== 'public') throw configError(`${label}: publicKey must be a public key`);
  return key;
}

function sameKey(a: KeyObject, b: KeyObject): boolean {
  return a.export({ format: 'der', type: 'spki' }).equals(b.export({ format: 'der', type: 'spki' }));
}

function checkStrength(key: KeyObject, label: string): void {
  const details = key.asymmetricKeyDetails;
  if ((key.asymmetricKeyType === 'rsa' || key.asymmetricKeyType === 'rsa-pss') && (details?.modulusLength ?? 0) < 2048) {
    throw configError(`${label}: RSA keys must be at least 2048 bits (got ${details?.modulusLength ?? 0})`);
  }
}

function fittingAlgorithms(key: KeyObject): JwtAlgorithm[] {
  switch (key.asymmetricKeyType) {
    case 'rsa': return ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];
    case 'rsa-pss': return ['PS256', 'PS384', 'PS512'];
    case 'ec': {
      const alg = EC_ALG[key.asymmetricKeyDetails?.namedCurve ?? ''];
      if (!alg) throw configError(`EC keys must use P-256, P-384 or P-521`);
      return [alg];
    }
    default:
      throw configError(`unsupported key type '${String(key.asymmetricKeyType)}' (jsonwebtoken 9 has no EdDSA; use RSA, RSA-PSS or EC keys)`);
  }
}
