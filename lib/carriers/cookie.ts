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
  const raw = findCookie(header, cookie.name);
  if (raw === null) return null;
  if (raw.length > maxBytes) throw new CredentialTooLargeError();
  const value = raw.startsWith('"') && raw.endsWith('"') ? raw.slice(1, -1) : raw;
  // Without a '%' decoding changes nothing, and it cost ≈ 1.2 µs for a 400-character sealed session on every read.
  if (!value.includes('%')) return value;
  // express-session writes `s%3A<sid>.<signature>`: its one escape, decoded without the general decoder.
  if (value.startsWith('s%3A') && !value.includes('%', 4)) return `s:${value.slice(4)}`;
  try {
    return decodeURIComponent(value);
  } catch {
    return raw;
  }
}

/** Whether a cookie with this name is present (`readCookie(...) !== null`), without decoding its value. */
export function hasCookie(req: Request, cookie: ResolvedCookie): boolean {
  const header = req.headers.cookie;
  return typeof header === 'string' && findCookie(header, cookie.name) !== null;
}

/**
 * The value of the first `name=value` pair of a Cookie header, as `header.split(';')`, `trim()` and
 * `startsWith(name + '=')` would find it, without building the array and the trimmed parts (this runs on every
 * request of a cookie strategy, and the split version measured ≈ 3 % of such a request's CPU).
 */
export function findCookie(header: string, name: string): string | null {
  const length = header.length;
  for (let start = 0; start <= length;) {
    let end = header.indexOf(';', start);
    if (end < 0) end = length;
    let from = start;
    while (from < end && isTrimmed(header.charCodeAt(from))) from += 1;
    if (end - from > name.length && header.startsWith(name, from) && header.charCodeAt(from + name.length) === 0x3d /* = */) {
      let to = end;
      while (to > from && isTrimmed(header.charCodeAt(to - 1))) to -= 1;
      return header.slice(from + name.length + 1, to);
    }
    start = end + 1;
  }
  return null;
}

/** The characters String.prototype.trim removes (ECMAScript WhiteSpace and LineTerminator). */
function isTrimmed(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a)
    || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;
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
