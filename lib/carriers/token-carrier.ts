import type { Request, Response } from 'express';
import type { CarrierKind, CookieOptions, Presented } from '../types';
import { configError } from '../errors';
import { DEFAULT_MAX_CREDENTIAL_BYTES, bearerValue, hasBearer } from './header';
import { clearCookie, hasCookie, readCookie, resolveCookie, writeCookie, type ResolvedCookie } from './cookie';
import { insecureCookieWarning } from './insecure-cookie';
import { CredentialTooLargeError } from '../errors';

/** Reads and writes a token on the configured carriers; the header wins when both are present. */
export interface TokenCarrier {
  readonly kinds: readonly CarrierKind[];
  readonly cookie: ResolvedCookie | null;
  present(req: Request): CarrierKind | null;
  /** The token as presented (the header wins), read once; never throws. */
  find(req: Request): Presented | null;
  /** `find`, refused when oversized: for paths that act on a token not yet authenticated (logout of an expired one). */
  read(req: Request): Presented | null;
  write(res: Response, token: string, ttlMs: number): void;
  clear(res: Response): void;
}

export function tokenCarrier(carrier: CarrierKind | CarrierKind[] | undefined, cookieOptions: CookieOptions | undefined, baseName: string): TokenCarrier {
  const kinds: CarrierKind[] = carrier === undefined ? ['header'] : Array.isArray(carrier) ? [...new Set(carrier)] : [carrier];
  if (kinds.length === 0 || kinds.some((k) => k !== 'header' && k !== 'cookie')) {
    throw configError("`carrier` must be 'header', 'cookie' or ['header', 'cookie']");
  }
  kinds.sort((a, b) => (a === b ? 0 : a === 'header' ? -1 : 1));
  const cookie = kinds.includes('cookie') ? resolveCookie(cookieOptions, baseName) : null;
  const header = kinds.includes('header');
  const warnInsecure = cookie ? insecureCookieWarning(cookie) : null;
  return {
    kinds,
    cookie,
    present(req) {
      if (header && hasBearer(req)) return 'header';
      if (cookie && hasCookie(req, cookie)) return 'cookie';
      return null;
    },
    find(req) {
      // principal() has already refused Authorization values over its (configurable) maxCredentialBytes
      // before any strategy runs; a second, fixed cap here would overrule a larger configured one.
      const bearer = header ? bearerValue(req) : null;
      if (bearer !== null) return { carrier: 'header', value: bearer };
      const value = cookie ? readCookie(req, cookie, Infinity) : null;
      return value === null ? null : { carrier: 'cookie', value };
    },
    read(req) {
      const found = this.find(req);
      if (found !== null) refuseOversized(found);
      return found;
    },
    write(res, token, ttlMs) {
      if (!cookie) return;
      writeCookie(res, cookie, token, ttlMs);
      // Still sent (a browser on http://localhost may keep it), but most plain-http origins drop a Secure cookie.
      warnInsecure?.(res.req);
    },
    clear(res) {
      if (cookie) clearCookie(res, cookie);
      else res.setHeader('Cache-Control', 'no-store');
    },
  };
}

/** A cookie value over the credential cap is refused before any decoding (the header is capped by principal()). */
export function refuseOversized(found: Presented): void {
  if (found.carrier === 'cookie' && found.value.length > DEFAULT_MAX_CREDENTIAL_BYTES) throw new CredentialTooLargeError();
}
