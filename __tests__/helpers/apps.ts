/**
 * A small, real Express app around express-principal, shared by the HTTP tests.
 *
 *   const { app, auth } = buildApp({ strategy: statelessJwt({ secret }) });
 *   const { token } = await login(app, { id: 'u1', roles: ['admin'] });
 *   await request(app).get('/me').set('Authorization', `Bearer ${token}`).expect(200);
 *   await auth.close();
 *
 * Routes:
 *   POST /login        body = Identity → req.auth.login(body) → 200 { token, expiresAt, sessionId }
 *   POST /logout       req.auth.logout() → 204
 *   GET|POST /me       requireAuth()            → 200 req.principal (JSON: dates as ISO strings)
 *   GET /admin         requireRole('admin')     → 200 { ok: true, id }
 *   GET /scoped        requireScope(scope)      → 200 { ok: true, id }   (scope: 'orders:read' unless set)
 *   GET /owner/:id     allow(p.id === :id)      → 200 { ok: true, id }
 *   GET /open          no guard                 → 200 { principal: id | null, error: code | null }
 * Errors reaching the app's error handler (login/logout failures, guards with onError: 'next') are
 * answered as application/problem+json { code, status, handledBy: 'app' } with the error's status
 * (500 + code 'ERR_INTERNAL' for anything without a status), and recorded in `errors` for assertions.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import request from 'supertest';
import type { Identity, Strategy } from '../../lib';
import { allow, principal, requireAuth, requireRole, requireScope } from '../../lib';
import type { PrincipalMiddleware, PrincipalOptions } from '../../lib';

export interface BuildAppOptions extends Omit<PrincipalOptions, 'strategy'> {
  strategy: Strategy | Strategy[];
  /** Scope required by GET /scoped. @default 'orders:read' */
  scope?: string;
}

export interface TestApp {
  app: express.Express;
  auth: PrincipalMiddleware;
  /** Every error that reached the app's error handler, in order. */
  errors: unknown[];
}

/**
 * An async route whose rejection reaches the error handler, as Express 5 does by itself: the same app then runs on
 * Express 4 too (the express4 jest project), where an unhandled rejection would leave the request hanging.
 */
export function wrap(fn: (req: Request, res: Response) => Promise<void>): (req: Request, res: Response, next: NextFunction) => void {
  return (req, res, next) => { fn(req, res).catch(next); };
}

export function buildApp(options: BuildAppOptions): TestApp {
  const { strategy, scope = 'orders:read', ...rest } = options;
  const auth = principal({ strategy, ...rest });
  const errors: unknown[] = [];
  const app = express();
  app.use(express.json());
  app.use(auth);
  app.post('/login', wrap(async (req, res) => {
    const issued = await req.auth.login(req.body as Identity);
    res.json({ token: issued.token, expiresAt: issued.expiresAt, sessionId: issued.sessionId });
  }));
  app.post('/logout', wrap(async (req, res) => {
    await req.auth.logout();
    res.sendStatus(204);
  }));
  const me = (req: Request, res: Response) => { res.json(req.principal); };
  app.get('/me', requireAuth(), me);
  app.post('/me', requireAuth(), me);
  const ok = (req: Request, res: Response) => { res.json({ ok: true, id: req.principal?.id }); };
  app.get('/admin', requireRole('admin'), ok);
  app.get('/scoped', requireScope(scope), ok);
  app.get('/owner/:id', allow((p, req) => req.params.id === p.id), ok);
  app.get('/open', (req: Request, res: Response) => {
    res.json({ principal: req.principal?.id ?? null, error: req.auth.error?.code ?? null });
  });
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    errors.push(err);
    const e = err as { status?: unknown; code?: unknown };
    const status = typeof e.status === 'number' ? e.status : 500;
    const code = typeof e.code === 'string' ? e.code : 'ERR_INTERNAL';
    res.status(status).type('application/problem+json').send(JSON.stringify({ code, status, handledBy: 'app' }));
  });
  return { app, auth, errors };
}

export interface LoggedIn {
  /** The bearer token (null for cookie sessions and cookie-only JWT carriers). */
  token: string | null;
  /** `name=value` of the credential cookie set at login, or null. */
  cookie: string | null;
  sessionId: string | null;
  body: { token: string | null; expiresAt: string; sessionId: string | null };
}

/** POST /login and collect what came back; fails the test unless it answered 200. */
export async function login(app: express.Express, identity: Identity, headers: Record<string, string> = {}): Promise<LoggedIn> {
  const res = await request(app).post('/login').set(headers).send(identity);
  if (res.status !== 200) throw new Error(`login answered ${res.status}: ${res.text}`);
  const body = res.body as LoggedIn['body'];
  return { token: body.token, cookie: cookiePair(res.headers['set-cookie']), sessionId: body.sessionId, body };
}

/** The first `name=value` pair of a Set-Cookie header that is not a clearing one, or null. */
export function cookiePair(setCookie: string | string[] | undefined): string | null {
  const list = setCookie === undefined ? [] : Array.isArray(setCookie) ? setCookie : [setCookie];
  for (const line of list) {
    const pair = line.split(';')[0] ?? '';
    const value = pair.slice(pair.indexOf('=') + 1);
    if (value !== '' && !/expires=Thu, 01 Jan 1970/i.test(line)) return pair;
  }
  return null;
}

/** Headers that present a login's credential: the bearer token if there is one, else the cookie. */
export function credential(l: LoggedIn): Record<string, string> {
  if (l.token) return { Authorization: `Bearer ${l.token}` };
  if (l.cookie) return { Cookie: l.cookie };
  throw new Error('login returned neither a token nor a cookie');
}

/** Asserts the Principal shape every strategy must produce (as serialised by GET /me). */
export function expectPrincipalShape(body: unknown, expected: { id: string; roles: string[]; scopes?: string[]; strategy: string }): void {
  const p = body as Record<string, unknown>;
  for (const key of ['id', 'roles', 'scopes', 'claims', 'strategy', 'sessionId', 'issuedAt', 'expiresAt']) expect(p).toHaveProperty(key);
  expect(p.id).toBe(expected.id);
  expect(p.roles).toEqual(expected.roles);
  expect(p.scopes).toEqual(expected.scopes ?? []);
  expect(p.strategy).toBe(expected.strategy);
  expect(typeof p.claims).toBe('object');
  expect(typeof p.sessionId).toBe('string');
  const issued = Date.parse(String(p.issuedAt));
  const expires = Date.parse(String(p.expiresAt));
  expect(Number.isFinite(issued)).toBe(true);
  expect(expires).toBeGreaterThan(issued);
  expect(Math.abs(issued - Date.now())).toBeLessThan(60_000);
}

/** Serves `app` on a loopback port; `close()` stops it and drops its keep-alive connections. */
export async function listenOnLoopback(app: express.Express): Promise<{ url: string; close: () => Promise<void> }> {
  const server: Server = await new Promise((resolve) => { const s = app.listen(0, '127.0.0.1', () => resolve(s)); });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections?.();
    },
  };
}
