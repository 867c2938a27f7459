/**
 * Issue 14 (types without casts): `authed(handler)` over real HTTP on Express 4 and Express 5. The handler runs only
 * with a principal (anonymous and refused credentials get requireAuth()'s answers), behind other guards as usual, and
 * its failures, thrown or rejected, answer like handle()'s: AuthError as problem+json, anything else to the app.
 * Its typing (req.principal non-null with no cast) is proved by __tests__/package/typings.test.ts.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import request from 'supertest';
import { authed, ForbiddenError, principal, requireRole, statelessJwt, type PrincipalMiddleware } from '../lib';

// The Express 4 alias devDependency, loaded in this process beside Express 5: its router API is the same.
const express4 = require('express4') as typeof express;
const VERSIONS: [string, typeof express][] = [['Express 4', express4], ['Express 5', express]];

const secret = 'authed-test-secret-0123456789abcdefghij';
const PROBLEM = /^application\/problem\+json/;
const middlewares: PrincipalMiddleware[] = [];
afterAll(async () => {
  for (const auth of middlewares) await auth.close();
});

interface Built { app: express.Express; calls: string[]; appErrors: unknown[] }

function build(expressModule: typeof express, options: { mount?: boolean } = {}): Built {
  const calls: string[] = [];
  const appErrors: unknown[] = [];
  const app = expressModule();
  app.use(expressModule.json());
  if (options.mount !== false) {
    const auth = principal({ strategy: statelessJwt({ secret }) });
    middlewares.push(auth);
    app.use(auth);
  }
  app.post('/login', async (req: Request, res: Response) => {
    res.json(await req.auth.login({ id: String(req.body.id), roles: req.body.roles }));
  });
  app.get('/me', authed((req, res) => {
    calls.push(req.principal.id);
    res.json({ id: req.principal.id, roles: req.principal.roles });
  }));
  app.get('/admin', requireRole('admin'), authed((req, res) => {
    calls.push(`admin:${req.principal.id}`);
    res.json({ admin: req.principal.id });
  }));
  app.get('/forbid', authed(async () => {
    await Promise.resolve();
    throw new ForbiddenError();
  }));
  app.get('/bug', authed(async () => {
    await Promise.resolve();
    throw new Error('bug in the route');
  }));
  app.get('/replaced', (req: Request, _res: Response, next: NextFunction) => {
    Object.defineProperty(req, 'principal', { value: 'not a principal', configurable: true });
    next();
  }, authed((req, res) => {
    calls.push('replaced');
    res.json({ id: req.principal.id });
  }));
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    appErrors.push(err);
    res.status(500).json({ handledBy: 'app', message: err instanceof Error ? err.message : String(err) });
  });
  return { app, calls, appErrors };
}

async function token(app: express.Express, id: string, roles: string[]): Promise<string> {
  const res = await request(app).post('/login').send({ id, roles }).expect(200);
  return (res.body as { token: string }).token;
}

jest.setTimeout(60_000);

describe.each(VERSIONS)('authed() on %s', (_label, expressModule) => {
  test('anonymous and refused credentials get requireAuth()\'s 401; the handler never runs', async () => {
    const { app, calls } = build(expressModule);
    const anonymous = await request(app).get('/me');
    expect({ status: anonymous.status, code: anonymous.body.code }).toEqual({ status: 401, code: 'ERR_AUTH_REQUIRED' });
    expect(anonymous.headers['content-type']).toMatch(PROBLEM);
    expect(anonymous.headers['www-authenticate']).toBe('Bearer realm="api"');
    const forged = await request(app).get('/me').set('Authorization', 'Bearer abc.def.ghi');
    expect({ status: forged.status, code: forged.body.code }).toEqual({ status: 401, code: 'ERR_INVALID_CREDENTIAL' });
    expect(calls).toEqual([]);
  });

  test('with a principal the handler reads it; a guard in front still decides', async () => {
    const { app, calls } = build(expressModule);
    const ada = await token(app, 'ada', ['admin']);
    const bob = await token(app, 'bob', ['user']);
    const me = await request(app).get('/me').set('Authorization', `Bearer ${bob}`).expect(200);
    expect(me.body).toEqual({ id: 'bob', roles: ['user'] });
    const forbidden = await request(app).get('/admin').set('Authorization', `Bearer ${bob}`);
    expect({ status: forbidden.status, code: forbidden.body.code }).toEqual({ status: 403, code: 'ERR_FORBIDDEN' });
    await request(app).get('/admin').set('Authorization', `Bearer ${ada}`).expect(200, { admin: 'ada' });
    expect(calls).toEqual(['bob', 'admin:ada']);
  });

  test('a rejected AuthError answers problem+json; any other rejection reaches the app\'s error handler', async () => {
    const { app, appErrors } = build(expressModule);
    const bob = await token(app, 'bob', ['user']);
    const forbid = await request(app).get('/forbid').set('Authorization', `Bearer ${bob}`).timeout({ deadline: 10_000 });
    expect({ status: forbid.status, code: forbid.body.code }).toEqual({ status: 403, code: 'ERR_FORBIDDEN' });
    expect(forbid.headers['content-type']).toMatch(PROBLEM);
    const bug = await request(app).get('/bug').set('Authorization', `Bearer ${bob}`).timeout({ deadline: 10_000 });
    expect(bug.status).toBe(500);
    expect(bug.body).toEqual({ handledBy: 'app', message: 'bug in the route' });
    expect(appErrors).toHaveLength(1);
  });

  test('fails closed: without principal() mounted, or with req.principal replaced, the handler never runs', async () => {
    const unmounted = build(expressModule, { mount: false });
    const res = await request(unmounted.app).get('/me');
    expect(res.status).toBe(500);
    expect(res.body.message).toMatch(/mount principal\(\.\.\.\) with app\.use\(\) before using guards/);
    expect(unmounted.calls).toEqual([]);

    const { app, calls } = build(expressModule);
    const bob = await token(app, 'bob', ['user']);
    const replaced = await request(app).get('/replaced').set('Authorization', `Bearer ${bob}`);
    expect(replaced.status).toBe(500);
    expect(replaced.body.message).toMatch(/authed\(\) found no principal/);
    expect(replaced.text).not.toContain(bob);
    expect(calls).toEqual([]);
  });
});

test('authed() without a function is refused when the route is declared', () => {
  expect(() => authed(undefined as never)).toThrow(/express-principal: authed\(\) needs a route handler function/);
});
