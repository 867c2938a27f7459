/**
 * Demo API service: holds no key and no secret. It knows only the auth service's JWKS URL and
 * decides on the token's claims (scopes, roles), with no call back to the auth service per request.
 */
import express from 'express';
import { principal, requireAuth, requireRole, requireScope, statelessJwt, type PrincipalMiddleware } from '../../lib';
import type { JwksOptions } from '../../lib/envelopes/jwks-source';

export interface ApiServiceOptions {
  /** The auth service's /.well-known/jwks.json */
  jwksUri: string;
  issuer: string;
  audience: string;
  /** Key fetching (maxAge, cooldown, staleIfError, allowHttp for http: off loopback). */
  jwks?: JwksOptions;
}

const ORDERS = [
  { id: 'o-1', owner: 'alice', total: 42 },
  { id: 'o-2', owner: 'bob', total: 7 },
  { id: 'o-3', owner: 'bob', total: 19 },
];

export function createApiService(options: ApiServiceOptions): { app: express.Express; auth: PrincipalMiddleware } {
  const auth = principal({
    strategy: statelessJwt({ jwksUri: options.jwksUri, issuer: options.issuer, audience: options.audience, ...(options.jwks ? { jwks: options.jwks } : {}) }),
  });
  const app = express();
  app.disable('x-powered-by');
  app.use(auth);
  app.get('/health', (_req, res) => res.json({ ok: true }));
  app.get('/me', requireAuth(), (req, res) => res.json({ id: req.principal?.id, roles: req.principal?.roles, scopes: req.principal?.scopes }));
  /** Your own orders: needs the orders:read scope. */
  app.get('/orders', requireScope('orders:read'), (req, res) => {
    res.json({ orders: ORDERS.filter((o) => o.owner === req.principal?.id) });
  });
  /** Everyone's orders: admins only. */
  app.get('/admin/orders', requireRole('admin'), (_req, res) => res.json({ orders: ORDERS }));
  return { app, auth };
}
