import type { CookieOptions as ExpressCookieOptions, Request, Response } from 'express';
import type { CookieOptions } from '../types';
import { CredentialTooLargeError } from '../errors';

export interface ResolvedCookie {
  readonly name: string;
  readonly secure: boolean;
  readonly sameSite: 'lax' | 'strict' | 'none';
  readonly path: string;
  readonly domain: string | undefined;
}

/** Secure unless explicitly disabled; `__Host-` prefixed when Secure (no Domain, Path=/). */
export function resolveCookie(options: CookieOptions | undefined, baseName: string): ResolvedCookie {
  const secure = options?.secure !== false;
  const name = options?.name ?? (secure ? `__Host-${baseName}` : baseName);
  const hostPrefixed = name.startsWith('__Host-');
  if (hostPrefixed && !secure) throw new TypeError(`express-principal: cookie '${name}' needs secure: true (the __Host- prefix requires Secure)`);
  if (options?.sameSite === 'none' && !secure) throw new TypeError('express-principal: sameSite: "none" requires secure: true');
  return {
    name,
    secure,
    sameSite: options?.sameSite ?? 'lax',
    path: hostPrefixed ? '/' : (options?.path ?? '/'),
    domain: hostPrefixed ? undefined : options?.domain,
  };
}

/**
 * The raw value of the first cookie with this name. Browsers send the most specific
 * (longest path) cookie first, so the first occurrence is the deterministic choice.
 */
export function readCookie(req: Request, cookie: ResolvedCookie, maxBytes: number): string | null {
  const header = req.headers.cookie;
  if (typeof header !== 'string') return null;
  const prefix = `${cookie.name}=`;
  for (const part of header.split(';')) {
    const trimmed = part.trim();
    if (!trimmed.startsWith(prefix)) continue;
    const raw = trimmed.slice(prefix.length);
    if (raw.length > maxBytes) throw new CredentialTooLargeError();
    const value = raw.startsWith('"') && raw.endsWith('"') ? raw.slice(1, -1) : raw;
    // Without a '%' decoding changes nothing, and it cost ≈ 1.2 µs for a 400-character sealed session on every read.
    if (!value.includes('%')) return value;
    try {
      return decodeURIComponent(value);
    } catch {
      return raw;
    }
  }
  return null;
}

/** Whether a cookie with this name is present (`readCookie(...) !== null`), without decoding its value. */
export function hasCookie(req: Request, cookie: ResolvedCookie): boolean {
  const header = req.headers.cookie;
  if (typeof header !== 'string') return false;
  const prefix = `${cookie.name}=`;
  for (const part of header.split(';')) {
    if (part.trim().startsWith(prefix)) return true;
  }
  return false;
}

export function cookieAttributes(cookie: ResolvedCookie, maxAgeMs?: number): ExpressCookieOptions {
  const attrs: ExpressCookieOptions = { httpOnly: true, secure: cookie.secure, sameSite: cookie.sameSite, path: cookie.path };
  if (cookie.domain !== undefined) attrs.domain = cookie.domain;
  if (maxAgeMs !== undefined) attrs.maxAge = maxAgeMs;
  return attrs;
}

export function writeCookie(res: Response, cookie: ResolvedCookie, value: string, maxAgeMs: number): void {
  res.cookie(cookie.name, value, cookieAttributes(cookie, maxAgeMs));
}

/** Expires the cookie and forbids caches from keeping the logged-out answer. */
export function clearCookie(res: Response, cookie: ResolvedCookie): void {
  res.clearCookie(cookie.name, cookieAttributes(cookie));
  res.setHeader('Cache-Control', 'no-store');
}
