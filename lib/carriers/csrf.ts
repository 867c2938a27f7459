import type { Request } from 'express';
import { configError, CsrfError } from '../errors';

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);
const DEFAULT_PORT: Record<string, string> = { http: '80', https: '443' };

/**
 * Whether an unsafe request comes from another site. Browsers always send `Sec-Fetch-Site`
 * or `Origin` on cross-site unsafe requests; a request with neither is not a browser and passes.
 */
export function isCrossSite(req: Request, trustedOrigins: ReadonlySet<string>): boolean {
  if (SAFE.has(req.method)) return false;
  const origin = req.headers.origin;
  if (typeof origin === 'string' && origin !== '') {
    if (trustedOrigins.has(origin)) return false;
    return origin !== ownOrigin(req);
  }
  const site = req.headers['sec-fetch-site'];
  if (typeof site === 'string') return site !== 'same-origin' && site !== 'none';
  return false;
}

/**
 * `trustedOrigins`, checked once. A browser's `Origin` is exactly `scheme://host[:port]`, so any other spelling
 * (a trailing slash, a path, upper case, a default port) would never match and the SPA would get 403s with no clue
 * why; a RegExp or a function, which `cors({ origin })` accepts, would be ignored the same way.
 */
export function trustedOriginSet(list: unknown): ReadonlySet<string> {
  if (list === undefined) return new Set();
  if (!Array.isArray(list)) throw configError('trustedOrigins must be an array of origins, e.g. [\'https://app.example.com\']');
  return new Set(list.map((entry: unknown) => {
    if (typeof entry !== 'string') {
      throw configError(`trustedOrigins takes exact origin strings (a ${entry instanceof RegExp ? 'RegExp' : typeof entry} is not one, though cors() accepts it): list each origin, e.g. 'https://app.example.com'`);
    }
    let origin: string;
    try {
      origin = new URL(entry).origin;
    } catch {
      origin = 'null';
    }
    if (origin === 'null' || !/^https?:/.test(origin)) throw configError(`trustedOrigins: '${entry}' is not an http(s) origin (scheme://host[:port])`);
    if (origin !== entry) throw configError(`trustedOrigins: '${entry}' never matches a browser's Origin header; did you mean '${origin}'?`);
    return origin;
  }));
}

/** Longest Origin value quoted back: a real origin is far shorter; a hostile one gets no amplification. */
const MAX_SHOWN = 200;

/**
 * The 403 for a request `isCrossSite` refused, saying which origin and which option admits it. CORS and this check
 * are separate: `cors({ origin, credentials: true })` lets the browser read answers from another origin, while only
 * `trustedOrigins` lets that origin send unsafe requests that carry the cookie.
 */
export function crossSiteError(req: Request): CsrfError {
  const origin = req.headers.origin;
  const own = ownOrigin(req);
  if (typeof origin === 'string' && origin !== '') {
    const shown = origin.length > MAX_SHOWN ? `${origin.slice(0, MAX_SHOWN)}…` : origin;
    return new CsrfError(`Origin ${shown} is not this app's origin (${own}) and not in principal({ trustedOrigins }); `
      + 'add it there to accept cookie-carried unsafe requests from it (cors({ origin }) alone does not)');
  }
  const site = String(req.headers['sec-fetch-site']).slice(0, MAX_SHOWN);
  return new CsrfError(`Sec-Fetch-Site: ${site} and no Origin header on an unsafe request carrying a cookie credential; `
    + 'a same-origin request, or an origin listed in principal({ trustedOrigins }), is accepted');
}

/** The origin the browser sees: `req.protocol` and the host both honour `trust proxy`, as Express's own getters do. */
function ownOrigin(req: Request): string {
  const protocol = req.protocol;
  const host = publicHost(req);
  // A browser's Origin never carries the scheme's default port; a proxy's Host header may.
  const colon = host.lastIndexOf(':');
  const port = colon > host.lastIndexOf(']') ? host.slice(colon + 1) : '';
  return `${protocol}://${port !== '' && port === DEFAULT_PORT[protocol] ? host.slice(0, colon) : host}`;
}

/**
 * Host and port as the client addressed them: `X-Forwarded-Host` only when `trust proxy` trusts the peer.
 * Express 5's `req.host` does exactly this, but Express 4's `req.host` / `req.hostname` drop the port,
 * so the same rule is applied here for both, through the app's compiled `trust proxy fn`.
 */
function publicHost(req: Request): string {
  const forwarded = req.headers['x-forwarded-host'];
  const trust = req.app?.get('trust proxy fn') as ((addr: string | undefined, hop: number) => boolean) | undefined;
  if (typeof forwarded === 'string' && forwarded !== '' && typeof trust === 'function' && trust(req.socket.remoteAddress, 0)) {
    // Normally a single value; a chain names the client-facing host first.
    return (forwarded.split(',')[0] ?? '').trim();
  }
  return req.headers.host ?? '';
}
