/**
 * AFTER: the same API on express-principal. Same secret, issuer and audience, so every token the old app issued
 * keeps working until it expires; `typ` also admits the old tokens' `typ: "JWT"` (jsonwebtoken's default).
 * No route reads a token: req.principal is set for every request, guards answer 401 / 403 as problem+json.
 */
import express from 'express';
// In your app: from 'express-principal'
import { handle, InvalidCredentialError, principal, requireAuth, requireRole, statelessJwt, type PrincipalMiddleware } from '../../../lib';
import { checkPassword, type Settings } from './users';

export function createApp({ secret, issuer, audience }: Settings): { app: express.Express; auth: PrincipalMiddleware } {
  const auth = principal({
    strategy: statelessJwt({ secret, issuer, audience, ttl: '15m', typ: ['at+jwt', 'JWT'] }),
  });

  const app = express();
  app.use(express.json());
  app.use(auth);
  app.post('/login', handle(async (req, res) => {
    const user = checkPassword(req.body as { username?: string; password?: string });
    if (user === null) throw new InvalidCredentialError();
    const { token } = await req.auth.login({ id: user.id, roles: user.roles });
    res.json({ token });
  }));
  app.get('/me', requireAuth(), (req, res) => { res.json({ id: req.principal?.id }); });
  app.get('/admin', requireRole('admin'), (req, res) => { res.json({ admin: req.principal?.id }); });
  return { app, auth };
}
