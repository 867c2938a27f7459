/**
 * BEFORE: a typical passport-jwt API. Its own /login signs HS256 tokens with jsonwebtoken; passport-jwt
 * verifies them and puts what the verify callback returns on req.user; role checks are hand-written.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import jwt from 'jsonwebtoken';
import passport from 'passport';
import { ExtractJwt, Strategy as JwtStrategy } from 'passport-jwt';
import { checkPassword, type Settings } from './users';

interface User { id: string; roles: string[] }

export function createApp({ secret, issuer, audience }: Settings): express.Express {
  const auth = new passport.Passport();
  auth.use(new JwtStrategy(
    { jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(), secretOrKey: secret, algorithms: ['HS256'], issuer, audience },
    (payload: { sub: string; roles?: string[] }, done: (err: unknown, user?: User | false) => void) => done(null, { id: payload.sub, roles: payload.roles ?? [] }),
  ));
  const authenticate = auth.authenticate('jwt', { session: false });
  const requireAdmin = (req: Request, res: Response, next: NextFunction) => {
    if (!(req.user as User).roles.includes('admin')) { res.status(403).json({ message: 'Forbidden' }); return; }
    next();
  };

  const app = express();
  app.use(express.json());
  app.use(auth.initialize());
  app.post('/login', (req, res) => {
    const user = checkPassword(req.body as { username?: string; password?: string });
    if (user === null) { res.status(401).json({ message: 'Wrong username or password' }); return; }
    const token = jwt.sign({ roles: user.roles }, secret, { algorithm: 'HS256', subject: user.id, issuer, audience, expiresIn: '15m' });
    res.json({ token });
  });
  app.get('/me', authenticate, (req, res) => { res.json({ id: (req.user as User).id }); });
  app.get('/admin', authenticate, requireAdmin, (req, res) => { res.json({ admin: (req.user as User).id }); });
  return app;
}
