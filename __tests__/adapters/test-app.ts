/**
 * A small Express app over each strategy, shared by the adapter contract suite and the fault tests.
 * Not a test file (does not match `*.test.ts`).
 */
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type { Response as SupertestResponse } from 'supertest';
import {
  principal,
  requireAuth,
  sessionCookie,
  statefulJwt,
  statelessJwt,
  type PrincipalMiddleware,
  type StateStore,
  type Strategy,
} from '../../lib';

export const SECRET = 'k8Jd02mXq9Lp3Zr7Tv5Wy1Ab4Cd6Ef8Gh0Ij2Kl';

export type StrategyKind = 'stateless-jwt' | 'stateful-jwt' | 'session-cookie';
export const STRATEGY_KINDS: readonly StrategyKind[] = ['stateless-jwt', 'stateful-jwt', 'session-cookie'];

export function makeStrategy(kind: StrategyKind, store: StateStore): Strategy {
  switch (kind) {
    case 'stateless-jwt':
      return statelessJwt({ secret: SECRET, store });
    case 'stateful-jwt':
      return statefulJwt({ secret: SECRET, store });
    case 'session-cookie':
      return sessionCookie({ secret: SECRET, store, secure: false });
  }
}

export interface TestApp {
  app: Express;
  auth: PrincipalMiddleware;
}

/**
 * Routes: POST /login {id} → {token, sessionId}; POST /logout (unguarded, as in DESIGN.md) → 204;
 * GET /me (requireAuth) → {id, sessionId}; POST /revoke-all/:sub → 204.
 * Errors go to Express's own final handler (status and headers from the error), as in a plain app.
 */
export function makeApp(strategy: Strategy): TestApp {
  const auth = principal({ strategy });
  const app = express();
  app.use(express.json());
  app.use(auth);
  app.post('/login', async (req: Request, res: Response) => {
    const id = String((req.body as { id?: unknown } | undefined)?.id ?? 'user-1');
    const issued = await req.auth.login({ id, roles: ['user'] });
    res.json({ token: issued.token, sessionId: issued.sessionId });
  });
  app.post('/logout', async (req: Request, res: Response) => {
    // Diagnostic for the load test: did identification fail before this logout?
    if (req.auth.error) res.setHeader('x-auth-error', req.auth.error.code);
    await req.auth.logout();
    res.sendStatus(204);
  });
  app.get('/me', requireAuth(), (req: Request, res: Response) => {
    res.json({ id: req.principal?.id, sessionId: req.principal?.sessionId });
  });
  app.post('/revoke-all/:sub', async (req: Request, res: Response) => {
    await auth.revokeAll(String(req.params.sub));
    res.sendStatus(204);
  });
  // Same behaviour as Express's final handler (status + err.headers) but silent and JSON.
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const e = err as { status?: number; headers?: Record<string, string>; code?: string };
    const status = typeof e.status === 'number' && e.status >= 400 ? e.status : 500;
    if (status >= 400 && e.headers) for (const [k, v] of Object.entries(e.headers)) res.setHeader(k, v);
    res.status(status).json({ code: e.code ?? 'ERR_UNEXPECTED' });
  });
  return { app, auth };
}

/** Request headers carrying the credential a /login answer handed out (bearer token or session cookie). */
export function credentialFrom(kind: StrategyKind, res: SupertestResponse | { body: unknown; headers: Record<string, unknown> }): Record<string, string> {
  if (kind !== 'session-cookie') {
    const token = (res.body as { token?: unknown }).token;
    if (typeof token !== 'string') throw new Error('login answer carries no token');
    return { authorization: `Bearer ${token}` };
  }
  const raw = res.headers['set-cookie'];
  const cookies = Array.isArray(raw) ? raw : typeof raw === 'string' ? [raw] : [];
  const sid = cookies.map(String).find((c) => c.startsWith('sid='));
  if (!sid) throw new Error('login answer sets no sid cookie');
  return { cookie: sid.split(';')[0] as string };
}
