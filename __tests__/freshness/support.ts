/**
 * Shared by the freshness, refresh-token and events suites: a real Express app around principal(),
 * a fake "users table" with a counting loader, cookie helpers and a poll helper (no fixed sleeps).
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import request from 'supertest';
import type { Identity, PrincipalMiddleware, PrincipalOptions } from '../../lib';
import { principal, requireAuth, requireFreshLogin, requireRole } from '../../lib';

export const SECRET = 'k8Jd02mXq9Lp3Zr7Tv5Wy1Ab4Cd6Ef8Gh0Ij2Kl';
export const COOKIE_SECRET = 'Zq3Xv8Lm1Np6Rt0Yw4Bc7Df2Gh5Jk9Ps2Uv6Ea';

export interface Users {
  table: Map<string, Identity>;
  /** How many times `load` was called, per subject. */
  calls: Map<string, number>;
  /** Milliseconds each load takes (lets concurrent requests overlap). */
  delayMs: number;
  /** When set, `load` throws it. */
  failWith: Error | null;
  /** When set, `load` waits for it (after `delayMs`): the test decides when a load may finish. */
  gate: Promise<void> | null;
  load: (id: string) => Promise<Identity | null>;
}

export function users(initial: Identity[] = []): Users {
  const u: Users = {
    table: new Map(initial.map((i) => [i.id, i])),
    calls: new Map(),
    delayMs: 0,
    failWith: null,
    gate: null,
    load: async (id) => {
      u.calls.set(id, (u.calls.get(id) ?? 0) + 1);
      if (u.delayMs > 0) await new Promise((r) => setTimeout(r, u.delayMs));
      if (u.gate) await u.gate;
      if (u.failWith) throw u.failWith;
      return u.table.get(id) ?? null;
    },
  };
  return u;
}

export interface FreshApp {
  app: express.Express;
  auth: PrincipalMiddleware;
  errors: unknown[];
}

/** Routes: POST /login, POST /logout, GET /me (principal + times), GET /admin, GET /sensitive (fresh login '1s'), POST /auth/refresh. */
export function freshApp(options: PrincipalOptions, freshLogin: string = '1s'): FreshApp {
  const auth = principal(options);
  const errors: unknown[] = [];
  const app = express();
  app.use(express.json());
  app.use(auth);
  app.post('/login', async (req: Request, res: Response, next: NextFunction) => {
    try {
      const issued = await req.auth.login(req.body as Identity);
      res.json(issued);
    } catch (err) { next(err); }
  });
  app.post('/logout', async (req: Request, res: Response, next: NextFunction) => {
    try { await req.auth.logout(); res.sendStatus(204); } catch (err) { next(err); }
  });
  const me = (req: Request, res: Response) => {
    const p = req.principal;
    res.json(p && {
      id: p.id, roles: p.roles, sessionId: p.sessionId, strategy: p.strategy,
      authenticatedAt: p.authenticatedAt.getTime(), loadedAt: p.loadedAt.getTime(), issuedAt: p.issuedAt.getTime(),
    });
  };
  app.get('/me', requireAuth(), me);
  app.get('/admin', requireRole('admin'), me);
  app.get('/sensitive', requireFreshLogin(freshLogin), me);
  app.all('/auth/refresh', auth.refreshHandler());
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    errors.push(err);
    const e = err as { status?: unknown; code?: unknown };
    res.status(typeof e.status === 'number' ? e.status : 500).json({ code: typeof e.code === 'string' ? e.code : 'ERR_INTERNAL' });
  });
  return { app, auth, errors };
}

/** `name=value` pairs of every Set-Cookie in a response (expired ones included, value ''), by name. */
export function setCookies(res: request.Response): Map<string, { value: string; line: string }> {
  const out = new Map<string, { value: string; line: string }>();
  for (const line of ([] as string[]).concat(res.headers['set-cookie'] ?? [])) {
    const pair = line.split(';')[0] ?? '';
    const eq = pair.indexOf('=');
    out.set(pair.slice(0, eq), { value: decodeURIComponent(pair.slice(eq + 1)), line });
  }
  return out;
}

/** A credential as a request decorator: Authorization header, or Cookie header. */
export type Credential = { bearer: string } | { cookie: string };

export function withCredential(test: request.Test, credential: Credential): request.Test {
  return 'bearer' in credential ? test.set('Authorization', `Bearer ${credential.bearer}`) : test.set('Cookie', credential.cookie);
}

/** Logs in and returns the credential the client would keep (bearer token, or the cookie the strategy set). */
export async function loginAs(app: express.Express, identity: Identity, cookieName?: string): Promise<{ credential: Credential; body: Record<string, unknown>; res: request.Response }> {
  const res = await request(app).post('/login').send(identity).expect(200);
  const body = res.body as Record<string, unknown>;
  if (cookieName === undefined) return { credential: { bearer: body.token as string }, body, res };
  const set = setCookies(res).get(cookieName);
  if (!set) throw new Error(`no ${cookieName} cookie at login`);
  return { credential: { cookie: `${cookieName}=${encodeURIComponent(set.value)}` }, body, res };
}

/** Polls `check` (every 25 ms) until it returns true, or fails after `timeoutMs`. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error('waitFor: condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Waits until `ms` have passed since `sinceMs` (a time condition, polled). */
export function waitPast(sinceMs: number, ms: number): Promise<void> {
  return waitFor(() => Date.now() > sinceMs + ms, ms + 5000);
}
