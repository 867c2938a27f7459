/**
 * The "after" app of docs/guides/from-express-session.md: the same routes on express-principal's sessionCookie.
 * Users logged in on the before app stay logged in: `legacy` reads their old cookie and record once, and moves them.
 */
import express from 'express';
import type { RedisClientType } from 'redis';
import { principal, redisStore, requireAuth, sessionCookie, type PrincipalMiddleware } from '../../../lib';
import { page, USERS } from './users';

export interface AfterConfig {
  client: RedisClientType;
  /** The before app's connect-redis prefix. @default 'sess:' */
  legacyPrefix?: string;
  /** The before app's express-session secret (verify only). */
  legacySecret: string;
  /** The new cookie-signing secret: at least 32 random bytes. */
  secret: string;
  /** redisStore's own prefix. @default 'ep:' */
  prefix?: string;
  /** Plain-http localhost only (the browser test); production keeps the default Secure cookie. */
  secure?: boolean;
}

export function afterApp(config: AfterConfig): { app: express.Express; auth: PrincipalMiddleware } {
  const auth = principal({
    strategy: sessionCookie({
      secret: config.secret,
      secure: config.secure,
      store: redisStore({ client: config.client, prefix: config.prefix }),
      legacy: {
        prefix: config.legacyPrefix,
        secret: config.legacySecret,
        // The before app's own fields: who the session belongs to, or null for nobody.
        identify: (sess) => (typeof sess.userId === 'string'
          ? { id: sess.userId, roles: Array.isArray(sess.roles) ? sess.roles.filter((r): r is string => typeof r === 'string') : [] }
          : null),
      },
    }),
  });
  const app = express();
  app.use(express.urlencoded({ extended: false }));
  app.use(auth);
  app.get('/', (req, res) => res.type('html').send(page(req.principal?.id ?? null)));
  app.post('/login', async (req, res, next) => {
    const user = USERS.find((u) => u.id === req.body.username && u.password === req.body.password);
    if (user === undefined) return void res.status(401).type('html').send(page(null, 'wrong username or password'));
    try {
      await req.auth.login({ id: user.id, roles: user.roles });
      res.redirect(303, '/');
    } catch (err) {
      next(err);
    }
  });
  app.get('/me', requireAuth(), (req, res) => res.json({ id: req.principal?.id, roles: req.principal?.roles }));
  app.post('/logout', async (req, res, next) => {
    try {
      await req.auth.logout();
      res.redirect(303, '/');
    } catch (err) {
      next(err);
    }
  });
  return { app, auth };
}
