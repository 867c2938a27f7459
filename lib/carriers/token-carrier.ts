import type { Request, Response } from 'express';
import type { CarrierKind, CookieOptions } from '../types';
import { configError } from '../errors';
import { DEFAULT_MAX_CREDENTIAL_BYTES, hasBearer, readBearer } from './header';
import { clearCookie, hasCookie, readCookie, resolveCookie, writeCookie, type ResolvedCookie } from './cookie';

/** Reads and writes a token on the configured carriers; the header wins when both are present. */
export interface TokenCarrier {
  readonly kinds: readonly CarrierKind[];
  readonly cookie: ResolvedCookie | null;
  present(req: Request): CarrierKind | null;
  read(req: Request): { token: string; carrier: CarrierKind } | null;
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
  return {
    kinds,
    cookie,
    present(req) {
      if (header && hasBearer(req)) return 'header';
      if (cookie && hasCookie(req, cookie)) return 'cookie';
      return null;
    },
    read(req) {
      // principal() has already refused Authorization values over its (configurable) maxCredentialBytes
      // before any strategy runs; a second, fixed 8 KB cap here would overrule a larger configured one.
      const bearer = header ? readBearer(req, Infinity) : null;
      if (bearer !== null) return { token: bearer, carrier: 'header' };
      const value = cookie ? readCookie(req, cookie, DEFAULT_MAX_CREDENTIAL_BYTES) : null;
      return value === null ? null : { token: value, carrier: 'cookie' };
    },
    write(res, token, ttlMs) {
      if (cookie) writeCookie(res, cookie, token, ttlMs);
    },
    clear(res) {
      if (cookie) clearCookie(res, cookie);
      else res.setHeader('Cache-Control', 'no-store');
    },
  };
}
