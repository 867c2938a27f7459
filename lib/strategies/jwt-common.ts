import type { CarrierKind, CookieOptions } from '../types';
import { configError } from '../errors';
import { toMs } from '../duration';
import { resolveKeys, type JwtKeyOptions } from '../envelopes/jwt-keys';
import { localKeySource } from '../envelopes/key-source';
import { ACCESS_TOKEN_TYP, jwtEnvelope, mediaType, type JwtEnvelope, type KeySource } from '../envelopes/jwt';
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
  /** Accepted header `typ` values; `false` accepts any. @default 'at+jwt' */
  typ?: string | string[] | false;
  /** Verified-token cache (LRU, never past `exp`); `false` turns it off. @default { max: 1000 } */
  cache?: boolean | { max: number };
}

export interface JwtParts {
  envelope: JwtEnvelope;
  carrier: TokenCarrier;
  keys: KeySource;
  clockToleranceMs: number;
}

/** Builds keys, envelope and carrier once, at construction; `keySource` overrides local keys (JWKS). */
export function jwtParts(options: JwtCommonOptions, keySource?: KeySource, defaultTyp: string = ACCESS_TOKEN_TYP): JwtParts {
  if (typeof options !== 'object' || options === null) throw configError('JWT strategies need an options object');
  refuseEdDsa(options);
  const keys = keySource ?? localKeySource(resolveKeys(options));
  const clockToleranceMs = toMs(options.clockTolerance ?? '5s', 'clockTolerance');
  if (clockToleranceMs > 300_000) throw configError('clockTolerance above 5 minutes defeats expiry; keep it small');
  const typ = options.typ === false ? null : (Array.isArray(options.typ) ? options.typ : [options.typ ?? defaultTyp]).map((t) => t.toLowerCase());
  const accepted = typ === null ? null : typ.map(mediaType);
  const cacheSize = options.cache === false ? 0 : typeof options.cache === 'object' ? options.cache.max : 1000;
  if (!Number.isInteger(cacheSize) || cacheSize < 0) throw configError('cache.max must be a non-negative integer');
  const envelope = jwtEnvelope({ keys, issuer: options.issuer, audience: options.audience, clockToleranceMs, typ: accepted, signTyp: typ?.[0] ?? defaultTyp, cacheSize });
  return { envelope, carrier: tokenCarrier(options.carrier, options.cookie, 'ep'), keys, clockToleranceMs };
}

/** jsonwebtoken 9 can neither sign nor verify EdDSA: say so at start-up rather than with a generic message. */
function refuseEdDsa(options: JwtKeyOptions): void {
  const named = [...(options.algorithms ?? []), ...(options.keys ?? []).map((k) => k?.algorithm)].map((a) => String(a).toUpperCase());
  if (named.includes('EDDSA') || named.includes('ED25519')) {
    throw configError('EdDSA (Ed25519) is not supported: jsonwebtoken 9 cannot sign or verify it; use ES256 (P-256), RS256 or PS256 keys');
  }
}
