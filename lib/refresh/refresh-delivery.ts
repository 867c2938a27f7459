import type { Request, Response } from 'express';
import type { RefreshContext, RefreshOptions } from './refresh-options';
import { configError } from '../errors';
import { cookieAttributes, readCookie, type ResolvedCookie } from '../carriers/cookie';

/** Longest refresh token read from a request (ours are 43 characters). */
export const MAX_TOKEN_CHARS = 256;

/** Where a refresh token travels: an HttpOnly cookie scoped to the refresh path, the JSON body, or both. */
export class RefreshDelivery {
  readonly cookie: boolean;
  readonly body: boolean;
  private readonly attributes: ResolvedCookie;

  constructor(options: RefreshOptions, context: RefreshContext) {
    const path = options.cookiePath ?? '/auth/refresh';
    if (!path.startsWith('/')) throw configError("refresh.cookiePath must start with '/'");
    const secure = options.secure ?? context.accessCookieSecure ?? true;
    const name = options.cookieName ?? (secure ? '__Secure-ep_rt' : 'ep_rt');
    if (name.startsWith('__Host-')) throw configError('the refresh cookie is path-scoped: a __Host- name (Path=/ only) does not fit');
    if (name.startsWith('__Secure-') && !secure) throw configError(`refresh cookie '${name}' needs secure: true`);
    this.attributes = { name, secure, sameSite: 'strict', path, domain: undefined };
    const carriers = context.carriers;
    const deliver = options.deliver ?? (carriers.includes('cookie') ? (carriers.includes('header') ? 'both' : 'cookie') : 'body');
    if (deliver !== 'cookie' && deliver !== 'body' && deliver !== 'both') throw configError("refresh.deliver must be 'cookie', 'body' or 'both'");
    this.cookie = deliver !== 'body';
    this.body = deliver !== 'cookie';
  }

  read(req: Request): string | null {
    if (this.cookie) {
      const fromCookie = readCookie(req, this.attributes, MAX_TOKEN_CHARS * 2);
      if (fromCookie !== null) return fromCookie;
    }
    const body = (req as Request & { body?: unknown }).body;
    if (this.body && typeof body === 'object' && body !== null) {
      const value = (body as { refreshToken?: unknown }).refreshToken;
      if (typeof value === 'string') return value;
    }
    return null;
  }

  write(res: Response, token: string, ttlMs: number): void {
    if (this.cookie) res.cookie(this.attributes.name, token, cookieAttributes(this.attributes, ttlMs));
  }

  clear(res: Response): void {
    if (this.cookie) res.clearCookie(this.attributes.name, cookieAttributes(this.attributes));
  }
}
