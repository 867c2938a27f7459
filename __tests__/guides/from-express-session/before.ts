/**
 * The "before" app of docs/guides/from-express-session.md: a classic express-session + connect-redis login.
 * The user id and roles live in the app's own session fields (`userId`, `roles`).
 */
import express from 'express';
import session from 'express-session';
import { RedisStore } from 'connect-redis';
import type { RedisClientType } from 'redis';
import { page, USERS } from './users';

declare module 'express-session' {
  interface SessionData { userId?: string; roles?: string[] }
}

export interface BeforeConfig {
  client: RedisClientType;
  /** connect-redis's prefix. @default 'sess:' */
  prefix?: string;
  /** express-session's secret: an old app's, short and weak. */
  secret: string;
}

export function beforeApp({ client, prefix = 'sess:', secret }: BeforeConfig): express.Express {
  const app = express();
  app.use(express.urlencoded({ extended: false }));
  app.use(session({
    store: new RedisStore({ client, prefix }),
    secret,
    resave: false,
    saveUninitialized: false,
    cookie: { httpOnly: true, sameSite: 'lax', maxAge: 24 * 3600 * 1000 },
  }));
  app.get('/', (req, res) => res.type('html').send(page(req.session.userId ?? null)));
  app.post('/login', (req, res, next) => {
    const user = USERS.find((u) => u.id === req.body.username && u.password === req.body.password);
    if (user === undefined) return void res.status(401).type('html').send(page(null, 'wrong username or password'));
    req.session.regenerate((err) => {
      if (err) return next(err);
      req.session.userId = user.id;
      req.session.roles = user.roles;
      res.redirect(303, '/');
    });
  });
  app.get('/me', (req, res) => {
    if (req.session.userId === undefined) return void res.sendStatus(401);
    res.json({ id: req.session.userId, roles: req.session.roles ?? [] });
  });
  app.post('/logout', (req, res, next) => req.session.destroy((err) => (err ? next(err) : res.redirect(303, '/'))));
  return app;
}
