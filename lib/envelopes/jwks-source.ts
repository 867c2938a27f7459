import { createPublicKey, type KeyObject } from 'node:crypto';
import { KeysUnavailableError, configError } from '../errors';
import { toMs } from '../duration';
import type { KeySource } from './jwt';
import type { JwtAlgorithm, ResolvedKey } from './jwt-keys';

/** How a verifier fetches and keeps the issuer's JWKS. */
export interface JwksOptions {
  /**
   * How long a fetched JWKS is used before it is fetched again. The refetch runs in the background: requests keep
   * verifying with the set they have (only a token whose `kid` it lacks waits). A key missing from the refetched set
   * is refused from then on, for tokens already verified and cached too. @default '10m'
   */
  maxAge?: string | number;
  /**
   * After a token with an unknown `kid` caused a refetch, further unknown kids cause none for this long
   * (forged kids cannot cause a refetch storm). Also the pause between attempts while the issuer is down. @default '30s'
   */
  cooldown?: string | number;
  /** When a refetch fails, the last good JWKS keeps verifying for this long after it was fetched. @default '1h' */
  staleIfError?: string | number;
  /** Per-fetch timeout. @default '5s' */
  timeout?: string | number;
  /** Plain `http:` is refused except on loopback (a network attacker could swap the keys); `true` allows it. @default false */
  allowHttp?: boolean;
}

/** Asymmetric algorithms only: a JWKS never yields an HMAC secret, and never `none`. */
const ASYMMETRIC: readonly JwtAlgorithm[] = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512'];
const EC_CURVES: Record<string, JwtAlgorithm> = { 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512' };
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
const MAX_BYTES = 256 * 1024;
const MAX_KEYS = 100;
const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/** A remote JWKS source also reports what it did (tests, metrics). */
export interface RemoteKeySource extends KeySource {
  readonly stats: { readonly fetches: number; readonly failures: number };
}

/**
 * Verification keys from an issuer's JWKS URL (verify-only: never signs).
 * Cached for `maxAge`, then refreshed in the background while the cached set keeps verifying
 * (stale-while-revalidate): only a request whose `kid` the set lacks, or one with no usable set, waits for the
 * issuer. One fetch at a time (single-flight); an unknown `kid` causes at most one refetch per `cooldown`; the
 * last good set keeps working for `staleIfError` when the issuer is down. A key the issuer stops publishing
 * verifies nothing from the moment a fetched set lacks it, cached tokens included (see `holds`).
 * Only the configured URL is ever fetched: `jku` / `x5u` / `jwk` token headers are never read.
 */
export function remoteJwks(uri: string, options: JwksOptions = {}): RemoteKeySource {
  return new RemoteJwks(checkUri(uri, options.allowHttp === true), jwksSettings(options));
}

interface JwksSettings { maxAgeMs: number; cooldownMs: number; staleMs: number; timeoutMs: number }

function jwksSettings(options: JwksOptions): JwksSettings {
  const maxAgeMs = toMs(options.maxAge ?? '10m', 'jwks.maxAge');
  const cooldownMs = toMs(options.cooldown ?? '30s', 'jwks.cooldown');
  const staleMs = Math.max(maxAgeMs, toMs(options.staleIfError ?? '1h', 'jwks.staleIfError'));
  const timeoutMs = toMs(options.timeout ?? '5s', 'jwks.timeout');
  if (timeoutMs <= 0) throw configError('jwks.timeout must be positive');
  return { maxAgeMs, cooldownMs, staleMs, timeoutMs };
}

class RemoteJwks implements RemoteKeySource {
  readonly signer = undefined;
  readonly acceptHighS = true;
  readonly stats = { fetches: 0, failures: 0 };
  /** Bumped by every fetched set: a cached verification made under another generation checks its key again. */
  generation = 0;
  freshUntil = -Infinity;
  private keys: Map<string, ResolvedKey> | null = null;
  private fetchedAt = 0;
  private failedAt = -Infinity;
  private kidRefetchAt = -Infinity;
  private inflight: Promise<void> | null = null;

  constructor(private readonly url: URL, private readonly settings: JwksSettings) {}

  /** Whether `key` is still the set's key for `kid` (a cached verification stays valid only while it is). */
  holds(key: ResolvedKey, kid: string | undefined): boolean {
    const set = this.usable(Date.now());
    return set !== null && lookup(set, kid) === key;
  }

  async find(kid: string | undefined): Promise<ResolvedKey | undefined> {
    const found = lookup(await this.current(), kid);
    if (found !== undefined || kid === undefined) return found;
    // An unknown kid: maybe the issuer rotated. Join a fetch in flight, or start one unless one ran recently.
    if (this.inflight === null) {
      if (Date.now() - this.kidRefetchAt < this.settings.cooldownMs) return undefined;
      this.kidRefetchAt = Date.now();
    }
    try { await this.refresh(); } catch { return undefined; }
    return this.keys === null ? undefined : lookup(this.keys, kid);
  }

  // A verifier republishes nothing: the issuer's JWKS is the one to fetch.
  publicJwks(): { keys: Record<string, unknown>[] } { return { keys: [] }; }

  private refresh(): Promise<void> {
    this.inflight ??= this.load().finally(() => { this.inflight = null; });
    return this.inflight;
  }

  private async load(): Promise<void> {
    this.stats.fetches += 1;
    const { url } = this;
    try {
      this.keys = keepUnchanged(this.keys, parseJwks(await download(url, this.settings.timeoutMs), `the JWKS at ${url.origin}${url.pathname}`));
      this.fetchedAt = Date.now();
      this.failedAt = -Infinity;
      this.generation += 1;
      this.freshUntil = this.fetchedAt + this.settings.maxAgeMs;
    } catch (err) {
      this.stats.failures += 1;
      this.failedAt = Date.now();
      throw err;
    }
  }

  /** A set past maxAge: refetch without making anyone wait, unless a fetch runs or the issuer failed within the cooldown. */
  private revalidate(now: number): void {
    if (this.inflight !== null || now - this.failedAt < this.settings.cooldownMs) return;
    // A failure is counted by load(); the stale set keeps serving until staleIfError.
    this.refresh().catch(() => undefined);
  }

  /** The set to use now, if any: fresh, or stale (refreshing in the background) within `staleIfError`. */
  private usable(now: number): Map<string, ResolvedKey> | null {
    if (this.keys === null || now - this.fetchedAt >= this.settings.staleMs) return null;
    if (now - this.fetchedAt >= this.settings.maxAgeMs) this.revalidate(now);
    return this.keys;
  }

  /** The key set to use now; waits for the issuer only when no fetched set is usable. */
  private async current(): Promise<Map<string, ResolvedKey>> {
    const now = Date.now();
    const set = this.usable(now);
    if (set !== null) return set;
    const { cooldownMs } = this.settings;
    // The issuer failed recently: do not retry on every request.
    if (now - this.failedAt < cooldownMs && this.inflight === null) throw keysUnavailable(COOLING_DOWN, cooldownMs - (now - this.failedAt));
    try {
      await this.refresh();
    } catch (err) {
      throw keysUnavailable(err, cooldownMs);
    }
    return this.keys as unknown as Map<string, ResolvedKey>;
  }
}

function lookup(set: Map<string, ResolvedKey>, kid: string | undefined): ResolvedKey | undefined {
  if (kid !== undefined) return set.get(kid);
  // No kid: only unambiguous when the issuer publishes exactly one key.
  return set.size === 1 ? [...set.values()][0] : undefined;
}

const COOLING_DOWN = new Error('the last JWKS fetch failed within jwks.cooldown; the issuer is not asked again yet');

/** 503 until the verifier asks the issuer again: `Retry-After` is what is left of the cooldown (at least a second). */
function keysUnavailable(cause: unknown, waitMs: number): KeysUnavailableError {
  return new KeysUnavailableError(cause, Math.max(1, Math.ceil(waitMs / 1000)));
}

/**
 * A refetched set reuses the previous set's object for every key that is still published unchanged (same kid,
 * algorithm and key material), so `holds` can compare keys by identity.
 */
function keepUnchanged(previous: Map<string, ResolvedKey> | null, next: Map<string, ResolvedKey>): Map<string, ResolvedKey> {
  if (previous === null) return next;
  for (const [id, key] of next) {
    const old = previous.get(id);
    if (old !== undefined && old.alg === key.alg && old.verifyKey.equals(key.verifyKey)) next.set(id, old);
  }
  return next;
}

function checkUri(uri: string, allowHttp: boolean): URL {
  let url: URL;
  try { url = new URL(uri); } catch { throw configError('jwksUri must be an absolute https: URL'); }
  if (url.protocol === 'https:') return url;
  if (url.protocol === 'http:' && (allowHttp || LOOPBACK.has(url.hostname))) return url;
  throw configError(`jwksUri must use https: (plain http is only accepted on loopback, or with jwks: { allowHttp: true }); got ${url.protocol}`);
}

async function download(url: URL, timeoutMs: number): Promise<unknown> {
  const res = await fetch(url, {
    headers: { accept: 'application/jwk-set+json, application/json' },
    redirect: 'error',
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (!res.ok) {
    await res.body?.cancel().catch(() => undefined);
    throw new Error(`JWKS answered ${res.status}`);
  }
  const declared = Number(res.headers.get('content-length') ?? 0);
  if (declared > MAX_BYTES) {
    await res.body?.cancel().catch(() => undefined);
    throw new Error('JWKS too large');
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (res.body) {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      size += chunk.byteLength;
      if (size > MAX_BYTES) throw new Error('JWKS too large');
      chunks.push(chunk);
    }
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
}

/**
 * Keeps only signature keys we can pin: RSA (2048+ bits) and EC P-256/384/521, each to exactly one
 * algorithm — the JWK's `alg` when given (it must fit the key), else the one its kty/crv implies
 * (RSA without `alg` → RS256). Symmetric (`oct`) keys, keys with private members, encryption keys
 * and OKP (EdDSA: jsonwebtoken 9 cannot verify it) are skipped.
 */
export function parseJwks(body: unknown, from = 'a JWKS'): Map<string, ResolvedKey> {
  const list = (body as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(list)) throw new Error('not a JWKS (no `keys` array)');
  if (list.length > MAX_KEYS) warnTruncated(from, list.length);
  const out = new Map<string, ResolvedKey>();
  const ambiguous = new Set<string>();
  for (const entry of list.slice(0, MAX_KEYS)) {
    const key = parseJwk(entry);
    if (key === null) continue;
    const id = key.kid ?? '';
    if (out.has(id)) ambiguous.add(id);
    out.set(id, key);
  }
  // Two entries with one kid are ambiguous: keep neither.
  for (const id of ambiguous) out.delete(id);
  if (out.size === 0) throw new Error('the JWKS holds no usable signature key');
  return out;
}

/** Stable `code` of the warning emitted when a JWKS lists more keys than are read. */
export const JWKS_TOO_MANY_KEYS = 'EXPRESS_PRINCIPAL_JWKS_TOO_MANY_KEYS';

/** Keys past the cap are never parsed (each costs a key import): say so, once per fetch, rather than refuse their tokens silently. */
function warnTruncated(from: string, count: number): void {
  process.emitWarning(
    `${from} lists ${count} keys; only the first ${MAX_KEYS} are read, tokens signed with the other ${count - MAX_KEYS} are refused`,
    { type: 'ExpressPrincipalWarning', code: JWKS_TOO_MANY_KEYS },
  );
}

function parseJwk(entry: unknown): ResolvedKey | null {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return null;
  const jwk = entry as Record<string, unknown>;
  if (jwk.use !== undefined && jwk.use !== 'sig') return null;
  if (jwk.key_ops !== undefined && !(Array.isArray(jwk.key_ops) && jwk.key_ops.includes('verify'))) return null;
  if (PRIVATE_MEMBERS.some((m) => m in jwk)) return null;
  if (jwk.kid !== undefined && (typeof jwk.kid !== 'string' || jwk.kid === '' || jwk.kid.length > 256)) return null;
  let implied: JwtAlgorithm[];
  if (jwk.kty === 'RSA') implied = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];
  else if (jwk.kty === 'EC' && typeof jwk.crv === 'string' && EC_CURVES[jwk.crv] !== undefined) implied = [EC_CURVES[jwk.crv] as JwtAlgorithm];
  else return null;
  let alg: JwtAlgorithm;
  if (jwk.alg === undefined) alg = implied[0] as JwtAlgorithm;
  else if (typeof jwk.alg === 'string' && ASYMMETRIC.includes(jwk.alg as JwtAlgorithm) && implied.includes(jwk.alg as JwtAlgorithm)) alg = jwk.alg as JwtAlgorithm;
  else return null;
  let verifyKey: KeyObject;
  try {
    const members: Record<string, unknown> = jwk.kty === 'RSA' ? { kty: 'RSA', n: jwk.n, e: jwk.e } : { kty: 'EC', crv: jwk.crv, x: jwk.x, y: jwk.y };
    verifyKey = createPublicKey({ key: members as never, format: 'jwk' });
  } catch {
    return null;
  }
  if (verifyKey.asymmetricKeyType === 'rsa' && (verifyKey.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) return null;
  return { kid: typeof jwk.kid === 'string' ? jwk.kid : undefined, alg, verifyKey, signKey: undefined };
}

/**
 * The `typ` values a `jwksUri` verifier accepts unless told otherwise: RFC 9068's `at+jwt`, and `JWT` or no
 * `typ` at all, which most issuers send (Spring Security 7's default too). `session+jwt` stays refused, and `iss`
 * + `aud` (required with `jwksUri`) keep another service's tokens out. Local keys keep `at+jwt` only: the app's
 * own secret may also sign other JWTs (reset links, invites) that carry `JWT`.
 */
export const FOREIGN_ACCESS_TYP: readonly (string | null)[] = ['at+jwt', 'JWT', null];

/** The `statelessJwt` options that make it a verifier of someone else's tokens. */
export interface JwksVerifierOptions {
  /** The issuer's JWKS URL: verify-only (login() is refused), keys fetched and cached. Requires `issuer` and `audience`. */
  jwksUri?: string;
  /** Caching and fetching of `jwksUri`. */
  jwks?: JwksOptions;
}

/** The remote key source for `{ jwksUri }`, or `undefined` for local keys; refuses mixed or incomplete setups at start-up. */
export function jwksKeySource(options: JwksVerifierOptions & Record<string, unknown>): RemoteKeySource | undefined {
  if (typeof options !== 'object' || options === null) return undefined;
  if (options.jwksUri === undefined) {
    if (options.jwks !== undefined) throw configError('`jwks` options need `jwksUri`');
    return undefined;
  }
  if (typeof options.jwksUri !== 'string') throw configError('jwksUri must be a string URL');
  for (const field of ['secret', 'privateKey', 'publicKey', 'keys', 'algorithms']) {
    if (options[field] !== undefined) {
      throw configError(`give either \`jwksUri\` (verify someone else's tokens) or \`${field}\` (local keys), not both; algorithms are pinned by each JWK`);
    }
  }
  // A JWKS is shared by every service of an issuer: without iss and aud, a token minted for another API would pass here.
  if (options.issuer === undefined || options.audience === undefined) {
    throw configError('statelessJwt({ jwksUri }) needs `issuer` and `audience`, so tokens minted for other services are refused');
  }
  return remoteJwks(options.jwksUri, options.jwks);
}
