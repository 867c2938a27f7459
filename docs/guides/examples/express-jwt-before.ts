/**
 * BEFORE: a typical express-jwt API behind an external issuer (Auth0, Keycloak, Cognito, your own): RS256 tokens
 * verified with the issuer's public key; express-jwt puts the decoded payload on req.auth; scope checks by hand.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import { expressjwt, type Request as JwtRequest } from 'express-jwt';

export interface IssuerSettings {
  /** The issuer's RS256 public key (PEM); express-jwt apps often fetch it with jwks-rsa instead. */
  publicKey: string;
  issuer: string;
  audience: string;
}

export function createApp({ publicKey, issuer, audience }: IssuerSettings): express.Express {
  const app = express();
  app.use(expressjwt({ secret: publicKey, algorithms: ['RS256'], issuer, audience }).unless({ path: ['/health'] }));
  const requireScope = (scope: string) => (req: JwtRequest, res: Response, next: NextFunction) => {
    const granted = String(req.auth?.scope ?? '').split(' ');
    if (!granted.includes(scope)) { res.status(403).json({ message: 'Insufficient scope' }); return; }
    next();
  };
  app.get('/health', (_req, res) => { res.json({ ok: true }); });
  app.get('/me', (req: JwtRequest, res) => { res.json({ id: req.auth?.sub }); });
  app.get('/orders', requireScope('orders:read'), (req: JwtRequest, res) => { res.json({ orders: [], for: req.auth?.sub }); });
  // express-jwt's failures (no token, bad signature, expired) arrive here as UnauthorizedError.
  app.use((err: Error & { status?: number }, _req: Request, res: Response, next: NextFunction) => {
    if (err.name !== 'UnauthorizedError') { next(err); return; }
    res.status(err.status ?? 401).json({ message: err.message });
  });
  return app;
}
