import type { Request } from 'express';

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

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

function ownOrigin(req: Request): string {
  return `${req.protocol}://${req.headers.host ?? ''}`;
}
