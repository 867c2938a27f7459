import type { Request } from 'express';

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
