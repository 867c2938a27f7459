import type { CarrierKind, CookieOptions } from '../types';
import { configError } from '../errors';
import { toMs } from '../duration';
import { resolveKeys, type JwtKeyOptions } from '../envelopes/jwt-keys';
import { localKeySource } from '../envelopes/key-source';
import { ACCESS_TOKEN_TYP, NO_TYP, jwtEnvelope, mediaType, type JwtEnvelope, type KeySource } from '../envelopes/jwt';
import { tokenCarrier, type TokenCarrier } from '../carriers/token-carrier';

/** Options shared by `statelessJwt` and `statefulJwt`. */
export interface JwtCommonOptions extends JwtKeyOptions {
  /** `iss` to set and require. */
  issuer?: string | string[];
  /** `aud` to set and require. */
  audience?: string | string[];
  /** Accepted clock skew for `exp`/`nbf`/`iat`. @default '5s' */
  clockTolerance?: string | number;
  /** Where the token travels. @default 'header' */
  carrier?: CarrierKind | CarrierKind[];
  /** Cookie attributes when `carrier` includes 'cookie'. */
  cookie?: CookieOptions;
  /**
   * Accepted header `typ` values, compared as media types (`application/` optional); `null` in the list accepts
   * a token with no `typ`; `false` accepts any. Given explicitly, only these are accepted.
   * @default 'at+jwt' (local keys); ['at+jwt', 'JWT', null] with `jwksUri` (what other issuers send)
   */
  typ?: TypSetting;
  /** Verified-token cache (LRU, never past `exp`); `false` turns it off. @default { max: 1000 } */
  cache?: boolean | {
    /** Most tokens held. */
    max: number;
  };
}

/** Values of the `typ` option. */
export type TypSetting = string | readonly (string | null)[] | false;

export interface JwtParts {
  envelope: JwtEnvelope;
  carrier: TokenCarrier;
  keys: KeySource;
  clockToleranceMs: number;
}

/** Builds keys, envelope and carrier once, at construction; `keySource` overrides local keys (JWKS). */
export function jwtParts(options: JwtCommonOptions, keySource?: KeySource, defaultTyp: TypSetting = ACCESS_TOKEN_TYP): JwtParts {
  if (typeof options !== 'object' || options === null) throw configError('JWT strategies need an options object');
  refuseEdDsa(options);
  const keys = keySource ?? localKeySource(resolveKeys(options));
  const clockToleranceMs = toMs(options.clockTolerance ?? '5s', 'clockTolerance');
  if (clockToleranceMs > 300_000) throw configError('clockTolerance above 5 minutes defeats expiry; keep it small');
  const typ = typList(options.typ ?? defaultTyp);
  const accepted = typ === null ? null : typ.map((t) => (t === null ? NO_TYP : mediaType(t)));
  const cacheSize = options.cache === false ? 0 : typeof options.cache === 'object' ? options.cache.max : 1000;
  if (!Number.isInteger(cacheSize) || cacheSize < 0) throw configError('cache.max must be a non-negative integer');
  const envelope = jwtEnvelope({ keys, issuer: options.issuer, audience: options.audience, clockToleranceMs, typ: accepted, signTyp: signTyp(typ, typeof defaultTyp === 'string' ? defaultTyp : ACCESS_TOKEN_TYP), cacheSize });
  return { envelope, carrier: tokenCarrier(options.carrier, options.cookie, 'ep'), keys, clockToleranceMs };
}

/** The `typ` option as a list (`null`: accept any); anything but strings and `null` is a configuration error. */
function typList(setting: TypSetting): readonly (string | null)[] | null {
  if (setting === false) return null;
  const list: readonly unknown[] = Array.isArray(setting) ? setting : [setting];
  if (list.length === 0 || list.some((t) => t !== null && (typeof t !== 'string' || t === ''))) {
    throw configError("`typ` must be a media type such as 'at+jwt', a non-empty list of them (null: no typ header), or false");
  }
  return list as readonly (string | null)[];
}

/** Tokens we sign carry the first listed type, lower-cased; with none listed, the strategy's own type. */
function signTyp(typ: readonly (string | null)[] | null, fallback: string): string {
  return typ?.find((t): t is string => t !== null)?.toLowerCase() ?? fallback;
}

/** jsonwebtoken 9 can neither sign nor verify EdDSA: say so at start-up rather than with a generic message. */
function refuseEdDsa(options: JwtKeyOptions): void {
  const named = [...(options.algorithms ?? []), ...(options.keys ?? []).map((k) => k?.algorithm)].map((a) => String(a).toUpperCase());
  if (named.includes('EDDSA') || named.includes('ED25519')) {
    throw configError('EdDSA (Ed25519) is not supported: jsonwebtoken 9 cannot sign or verify it; use ES256 (P-256), RS256 or PS256 keys');
  }
}
