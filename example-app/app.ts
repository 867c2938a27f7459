/**
 * The express-principal example app: one Express app, any strategy, chosen by env with no code change.
 *
 *   AUTH_STRATEGY = stateless-jwt | stateful-jwt | session-cookie   (default session-cookie)
 *   AUTH_STORAGE  = memory | redis | cookie                         (default memory; redis needs REDIS_URL)
 *   AUTH_SECRET   = ≥ 32 random bytes (default: a random one per start, so sessions end at restart)
 *
 * `createExampleApp(env)` builds everything without listening, so tests can run it in-process on an
 * ephemeral port; `server.ts` is the thin `npm run example` entry that listens.
 */
import { randomBytes, createHash, timingSafeEqual } from 'node:crypto';
import { join } from 'node:path';
import express, { type NextFunction, type Request, type Response } from 'express';
import {
  principal, fromConfig, authed, requireRole, AuthError,
  type AuthConfig, type CarrierKind, type PrincipalMiddleware, type Principal,
} from '../lib';
import { renderPage } from './pages';
import { createExampleRedis, DEFAULT_REDIS_URL } from './redis';

export type ExampleEnv = Record<string, string | undefined>;

export interface ExampleApp {
  app: express.Express;
  auth: PrincipalMiddleware;
  /** Releases the middleware and, with AUTH_STORAGE=redis, the Redis connection the example opened. */
  close(): Promise<void>;
  /** What was picked from env (no secret in it). */
  settings: ExampleSettings;
  /** Lines the server should print at start (e.g. the random-secret warning). */
  warnings: string[];
}

export interface ExampleSettings {
  strategy: AuthConfig['strategy'];
  storage: NonNullable<AuthConfig['storage']>;
  secretSource: 'AUTH_SECRET' | 'random';
  secure: boolean;
  carriers: string[];
  cookieName: string;
  canRevokeAll: boolean;
  demoteBy: 'update' | 'reissue';
}

/** The demo user table. Passwords are shown on the page: this is a demo, not a user store. */
export const DEMO_USERS: Record<string, { password: string; roles: string[]; name: string }> = {
  alice: { password: 'alice-wonderland', roles: ['admin', 'user'], name: 'Alice (admin)' },
  bob: { password: 'bob-builder', roles: ['user'], name: 'Bob (user)' },
};

const STRATEGIES = ['stateless-jwt', 'stateful-jwt', 'session-cookie'] as const;
const STORAGES = ['memory', 'redis', 'cookie'] as const;
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);
const JWT_CARRIERS: CarrierKind[] = ['header', 'cookie'];

function pick<T extends string>(value: string | undefined, allowed: readonly T[], name: string, fallback: T): T {
  if (value === undefined || value === '') return fallback;
  const found = allowed.find((a) => a === value);
  if (found !== undefined) return found;
  throw new TypeError(`${name}='${value}' is not one of ${allowed.join(', ')}`);
}

function checkPassword(username: string, password: string): { id: string; roles: string[]; name: string } | null {
  const user = Object.prototype.hasOwnProperty.call(DEMO_USERS, username) ? DEMO_USERS[username] : undefined;
  // Compare digests in constant time, and spend the same work for unknown users.
  const want = createHash('sha256').update(user?.password ?? 'no such user').digest();
  const got = createHash('sha256').update(password).digest();
  if (!timingSafeEqual(want, got) || user === undefined) return null;
  return { id: username, roles: [...user.roles], name: user.name };
}

/** Cookie attributes from a Set-Cookie header, without the value (never echo a credential). */
function cookieShape(header: string): { name: string; attributes: string[] } {
  const [pair = '', ...attrs] = header.split(';').map((s) => s.trim());
  return { name: pair.split('=')[0] ?? '', attributes: attrs };
}

function wantsHtml(req: Request): boolean {
  return req.accepts(['json', 'html']) === 'html';
}

function principalView(p: Principal, req: Request) {
  const now = Date.now();
  const auth = req.headers.authorization;
  return {
    id: p.id,
    roles: p.roles,
    scopes: p.scopes,
    claims: p.claims,
    strategy: p.strategy,
    sessionId: p.sessionId,
    issuedAt: p.issuedAt.toISOString(),
    expiresAt: p.expiresAt.toISOString(),
    authenticatedAt: p.authenticatedAt.toISOString(),
    loadedAt: p.loadedAt.toISOString(),
    dataAgeMs: now - p.loadedAt.getTime(),
    carrier: typeof auth === 'string' && /^bearer /i.test(auth) ? 'header' : 'cookie',
  };
}

export async function createExampleApp(env: ExampleEnv = process.env): Promise<ExampleApp> {
  const strategy = pick(env.AUTH_STRATEGY, STRATEGIES, 'AUTH_STRATEGY', 'session-cookie');
  const storage = pick(env.AUTH_STORAGE, STORAGES, 'AUTH_STORAGE', 'memory');
  const warnings: string[] = [];

  const secret = env.AUTH_SECRET || randomBytes(32).toString('base64url');
  if (!env.AUTH_SECRET) {
    warnings.push('AUTH_SECRET is not set: using a random secret for this run, so every session and token ends when the server restarts.');
  }

  // Cookies are `Secure` by default, and a browser never sends a Secure cookie over plain http.
  // The example listens on plain http on a loopback address, so — only then — it turns Secure off.
  // Behind a TLS-terminating proxy set TRUST_PROXY=1 and Secure stays on (cookies get the __Host- prefix).
  const host = env.HOST ?? '127.0.0.1';
  const behindTls = env.TRUST_PROXY !== undefined && env.TRUST_PROXY !== '' && env.TRUST_PROXY !== '0';
  const secure = behindTls || !LOOPBACK.has(host);
  if (!secure) warnings.push(`Cookies are sent without the Secure flag because the example serves plain http on ${host}; never do that on a public address.`);

  // Built but not connected yet: an impossible strategy/storage pair must fail before any I/O.
  const connection = storage === 'redis' ? createExampleRedis(env.REDIS_URL || DEFAULT_REDIS_URL) : undefined;
  const redis = connection?.client;
  const isJwt = strategy !== 'session-cookie';
  const config: AuthConfig = {
    strategy,
    storage,
    secret,
    secure,
    prefix: env.AUTH_PREFIX || 'ep-example:',
    // JWT strategies: the browser gets the token in an HttpOnly cookie (JavaScript never sees it);
    // curl and other non-browser clients may send the same token as `Authorization: Bearer`.
    ...(isJwt ? { carrier: JWT_CARRIERS, issuer: 'express-principal-example', audience: 'example-api' } : {}),
    ...(env.AUTH_TTL ? { ttl: env.AUTH_TTL } : {}),
  };
  const built = fromConfig(config, redis ? { redis } : {});
  // onError 'next': guards hand their AuthError to the error handler below, which renders an HTML
  // page for browser navigations and problem+json for API clients.
  const auth = principal({ strategy: built, onError: 'next' });
  if (connection) {
    try {
      await connection.connect();
    } catch (err) {
      await auth.close().catch(() => {});
      throw err;
    }
  }
  const cookieName = secure ? (isJwt ? '__Host-ep' : '__Host-sid') : (isJwt ? 'ep' : 'sid');
  const statefulStore = strategy === 'stateful-jwt' || (strategy === 'session-cookie' && storage !== 'cookie');
  const settings: ExampleSettings = {
    strategy,
    storage,
    secretSource: env.AUTH_SECRET ? 'AUTH_SECRET' : 'random',
    secure,
    carriers: [...built.carriers],
    cookieName,
    // revokeAll needs server state: a session store, or a deny-list for stateless JWTs.
    canRevokeAll: storage !== 'cookie',
    demoteBy: statefulStore ? 'update' : 'reissue',
  };

  /** Set-Cookie attributes the server used for each credential it issued, keyed by session id. */
  const cookieEcho = new Map<string, { name: string; attributes: string[] }>();

  const app = express();
  if (behindTls) app.set('trust proxy', 1);
  app.disable('x-powered-by');
  app.use(express.json({ limit: '4kb' }));
  app.use(express.urlencoded({ extended: false, limit: '4kb' }));

  // Capture the Set-Cookie of a login at the moment headers are written (express-session sets its
  // cookie only then), so /api/me can show the flags the browser received — without the value.
  app.use((req: Request, res: Response, next: NextFunction) => {
    const writeHead = res.writeHead;
    res.writeHead = function (this: Response, ...args: unknown[]) {
      const sid: unknown = res.locals.issuedSessionId;
      const header = res.getHeader('set-cookie');
      const list = header === undefined ? [] : Array.isArray(header) ? header : [String(header)];
      const issued = list.map(cookieShape).filter((c) => c.name === cookieName).pop();
      if (typeof sid === 'string' && sid !== '' && issued) {
        cookieEcho.set(sid, issued);
        const oldest = cookieEcho.keys().next();
        if (cookieEcho.size > 1000 && oldest.done !== true) cookieEcho.delete(oldest.value);
      }
      return Reflect.apply(writeHead, this, args);
    };
    next();
  });

  app.use(auth);
  app.use(express.static(join(__dirname, 'public'), { index: 'index.html' }));

  app.get('/api/config', (_req, res) => {
    res.json(settings);
  });

  app.post('/login', async (req: Request, res: Response, next: NextFunction) => {
    const body: Record<string, unknown> = typeof req.body === 'object' && req.body !== null ? req.body : {};
    const user = checkPassword(String(body.username ?? ''), String(body.password ?? ''));
    const html = req.is('application/x-www-form-urlencoded') && wantsHtml(req);
    if (user === null) {
      if (html) { res.status(401).type('html').send(renderPage('Login failed', '<p>Wrong username or password.</p><p><a href="/">Try again</a></p>', 'ERR_BAD_PASSWORD')); return; }
      res.status(401).json({ code: 'ERR_BAD_PASSWORD', title: 'Wrong username or password' });
      return;
    }
    try {
      const issued = await req.auth.login({ id: user.id, roles: user.roles, claims: { name: user.name } });
      if (issued.sessionId) res.locals.issuedSessionId = issued.sessionId;
      if (html) { res.redirect(303, '/'); return; }
      // The token goes in the body only when a non-browser client asks for it ({"token": true});
      // the page never asks, so its credential stays in the HttpOnly cookie, out of reach of scripts.
      const giveToken = body.token === true || body.token === 'true';
      res.json({
        id: user.id,
        expiresAt: issued.expiresAt.toISOString(),
        sessionId: issued.sessionId,
        ...(giveToken && issued.token ? { token: issued.token, tokenType: 'Bearer' } : {}),
      });
    } catch (err) {
      next(err);
    }
  });

  app.post('/logout', async (req: Request, res: Response, next: NextFunction) => {
    try {
      const sid = req.principal?.sessionId;
      await req.auth.logout();
      if (sid) cookieEcho.delete(sid);
      if (wantsHtml(req)) res.redirect(303, '/');
      else res.status(204).end();
    } catch (err) {
      next(err);
    }
  });

  /** `req.principal` as the page shows it, and the cookie flags the server set for it. */
  const sessionView = (p: Principal | null, req: Request) => ({
    principal: p === null ? null : principalView(p, req),
    cookie: p?.sessionId ? (cookieEcho.get(p.sessionId) ?? null) : null,
    settings,
  });
  // Unguarded: the page asks who is logged in without an error status for a visitor (req.principal may be null).
  app.get('/api/session', (req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.json(sessionView(req.principal, req));
  });
  app.get('/api/me', authed((req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.json(sessionView(req.principal, req));
  }));

  app.post('/api/logout-everywhere', authed(async (req, res) => {
    const p = req.principal;
    await auth.revokeAll(p.id);
    // This browser's own session is revoked too; also drop its cookie.
    await req.auth.logout().catch(() => {});
    res.json({ revoked: p.id });
  }));

  app.post('/api/demote', authed(async (req, res) => {
    const p = req.principal;
    const roles = ['user'];
    if (settings.demoteBy === 'update') {
      // Stateful: rewrite every live session record of this subject; the next request of each
      // of them (this browser, other devices) sees the new roles.
      const changed = await auth.update(p.id, { roles });
      res.json({ method: 'update', changed, roles });
      return;
    }
    // Stateless (JWT or sealed cookie): the claims travel with the credential, so re-issue it with
    // fewer roles. login() keeps the original authentication time for the same subject.
    // The old credential is revoked first (where a deny-list exists), so it cannot be replayed with the old roles.
    await req.auth.logout();
    const issued = await req.auth.login({ id: p.id, roles, scopes: [...p.scopes], claims: { ...p.claims } });
    if (issued.sessionId) res.locals.issuedSessionId = issued.sessionId;
    // A bearer client already holds a token: hand it the replacement. Browsers get it in the cookie only.
    const bearer = /^bearer /i.test(req.headers.authorization ?? '');
    res.json({ method: 'reissue', changed: 1, roles, ...(bearer && issued.token ? { token: issued.token, tokenType: 'Bearer' } : {}) });
  }));

  app.get('/admin', requireRole('admin'), authed((req, res) => {
    const p = req.principal;
    res.setHeader('Cache-Control', 'no-store');
    if (!wantsHtml(req)) { res.json({ admin: true, id: p.id }); return; }
    res.type('html').send(renderPage('Admin area', `<p id="admin-ok">Welcome, <b>${escapeHtml(p.id)}</b>. Only principals with the <code>admin</code> role can open this page.</p><p>Your roles: <code>${escapeHtml(p.roles.join(', '))}</code></p><p><a href="/">Back</a></p>`, null));
  }));

  app.use((err: unknown, req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) { next(err); return; }
    if (!(err instanceof AuthError)) {
       
      console.error('example-app: unexpected error:', err instanceof Error ? err.message : err);
      res.status(500).json({ code: 'ERR_INTERNAL', title: 'Internal error' });
      return;
    }
    res.status(err.status);
    for (const [k, v] of Object.entries(err.headers)) res.setHeader(k, v);
    res.setHeader('Cache-Control', 'no-store');
    const bearer = /^bearer /i.test(req.headers.authorization ?? '');
    if (bearer && err.status === 401) res.setHeader('WWW-Authenticate', `Bearer realm="example", error="invalid_token"`);
    if (bearer && err.status === 403) res.setHeader('WWW-Authenticate', `Bearer realm="example", error="insufficient_scope"`);
    if (wantsHtml(req)) {
      res.type('html').send(renderPage(`${err.status} — ${err.message}`, errorHelp(err, req), err.code));
      return;
    }
    res.type('application/problem+json').send(JSON.stringify({ type: `urn:express-principal:error:${err.code}`, title: err.message, status: err.status, code: err.code, ...(err.detail === undefined ? {} : { detail: err.detail }) }));
  });

  return {
    app,
    auth,
    settings,
    warnings,
    async close() {
      await auth.close();
      if (redis?.isOpen) await redis.close();
    },
  };
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function errorHelp(err: AuthError, req: Request): string {
  const who = req.principal;
  const lines: Record<string, string> = {
    ERR_AUTH_REQUIRED: 'You are not logged in (or your session ended).',
    ERR_FORBIDDEN: who ? `You are logged in as <b>${escapeHtml(who.id)}</b> with roles <code>${escapeHtml(who.roles.join(', '))}</code>; this page needs <code>admin</code>.` : 'Your roles do not allow this.',
    ERR_CSRF: 'This request came from another site with your cookie attached. express-principal refuses cross-site unsafe requests that carry a cookie credential.',
    ERR_CREDENTIAL_REVOKED: 'This credential was revoked (logout or "log out everywhere").',
    ERR_NOT_SUPPORTED: escapeHtml(err.message),
  };
  return `<p id="error-help">${lines[err.code] ?? escapeHtml(err.message)}</p><p>Code: <code id="error-code">${err.code}</code></p><p><a href="/">Back to the example</a></p>`;
}
