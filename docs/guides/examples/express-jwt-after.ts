/**
 * AFTER: the same API on express-principal, verifying the same issuer's tokens from its JWKS (keys fetched, cached
 * and refetched on an unknown `kid`). A jwksUri verifier accepts what issuers send — `typ` `at+jwt`, `JWT` or none —
 * and still requires `iss`, `aud` and `exp`. `scope` (a space-separated string) becomes req.principal.scopes.
 */
import express from 'express';
// In your app: from 'express-principal'
import { principal, requireAuth, requireScope, statelessJwt, type PrincipalMiddleware } from '../../../lib';

export interface VerifierSettings {
  /** e.g. https://auth.example.com/.well-known/jwks.json (plain http only on loopback). */
  jwksUri: string;
  issuer: string;
  audience: string;
}

export function createApp({ jwksUri, issuer, audience }: VerifierSettings): { app: express.Express; auth: PrincipalMiddleware } {
  const auth = principal({ strategy: statelessJwt({ jwksUri, issuer, audience }) });
  const app = express();
  app.use(auth);
  app.get('/health', (_req, res) => { res.json({ ok: true }); });
  app.get('/me', requireAuth(), (req, res) => { res.json({ id: req.principal?.id }); });
  app.get('/orders', requireScope('orders:read'), (req, res) => { res.json({ orders: [], for: req.principal?.id }); });
  return { app, auth };
}
