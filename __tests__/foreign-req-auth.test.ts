/**
 * express-jwt (real, v8) mounted beside principal() during a move: both write `req.auth`. Guards keep principal()'s
 * verdict whichever is mounted first, `req.principal` stays right, and the collision is named once per principal()
 * with the fix (express-jwt's `requestProperty`). Where principal()'s own value is unreachable, the guard fails
 * closed with a 500 that names what req.auth holds instead of the misleading "mount principal(...)".
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { expressjwt } from 'express-jwt';
import jwt from 'jsonwebtoken';
import request from 'supertest';
import { handle, principal, requireAuth, requireRole, statelessJwt, type PrincipalMiddleware } from '../lib';
import { FOREIGN_REQ_AUTH } from '../lib/foreign-auth';

const secret = 'k8Jd02mXq9Lp3Zr7Tv5Wy1Ab4Cd6Ef8Gh0Ij2Kl';
const opened: PrincipalMiddleware[] = [];
afterAll(async () => { for (const m of opened) await m.close(); });

/** Tokens as the old express-jwt app's issuer minted them: HS256, `typ: JWT`, iss/aud, roles. */
function oldToken(sub: string, roles: string[]): string {
  return jwt.sign({ sub, roles, email: `${sub}@example.com` }, secret, { algorithm: 'HS256', expiresIn: 300, issuer: 'old-auth', audience: 'api' });
}
const bearer = (t: string) => ({ Authorization: `Bearer ${t}` });

function ours(): PrincipalMiddleware {
  const m = principal({ strategy: statelessJwt({ secret, issuer: 'old-auth', audience: 'api', typ: ['at+jwt', 'JWT'] }) });
  opened.push(m);
  return m;
}
const theirs = (extra: { requestProperty?: string } = {}) =>
  expressjwt({ secret, algorithms: ['HS256'], issuer: 'old-auth', audience: 'api', credentialsRequired: false, ...extra });

/**
 * Warnings with our code emitted while `fn` runs. Jest gives each test file its own `process`, whose
 * `on('warning')` never hears the real one: the calls are observed instead (and still go through to Node).
 */
async function warningsDuring(fn: () => Promise<void>): Promise<string[]> {
  const seen: string[] = [];
  const emit = process.emitWarning.bind(process) as (...args: unknown[]) => void;
  const spy = jest.spyOn(process, 'emitWarning').mockImplementation(((warning: string | Error, options?: { code?: string }) => {
    if (options?.code === FOREIGN_REQ_AUTH) seen.push(String(warning));
    emit(warning, options);
  }) as typeof process.emitWarning);
  try {
    await fn();
  } finally {
    spy.mockRestore();
  }
  return seen;
}

interface Seen { id: string | null; authKind: string; sub: unknown }
function routes(app: express.Express, errors: unknown[]): void {
  const show = (req: Request, res: Response) => {
    const auth = req.auth as unknown as { login?: unknown; sub?: unknown } | undefined;
    const seen: Seen = { id: req.principal?.id ?? null, authKind: typeof auth?.login === 'function' ? 'principal' : typeof auth, sub: auth?.sub ?? null };
    res.json(seen);
  };
  app.get('/me', requireAuth(), show);
  app.get('/admin', requireRole('admin'), show);
  app.post('/login', handle(async (req, res) => { res.json(await req.auth.login({ id: 'new-user' })); }));
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    errors.push(err);
    res.status(500).json({ message: (err as Error).message });
  });
}

function appWith(order: RequestHandler[]): { app: express.Express; errors: unknown[] } {
  const app = express();
  for (const mw of order) app.use(mw);
  const errors: unknown[] = [];
  routes(app, errors);
  return { app, errors };
}

describe('express-jwt mounted after principal()', () => {
  test('guards and req.principal keep working; one warning names the payload and requestProperty', async () => {
    const { app, errors } = appWith([ours(), theirs()]);
    const alice = bearer(oldToken('alice', ['admin']));
    const bob = bearer(oldToken('bob', ['user']));
    const warnings = await warningsDuring(async () => {
      const me = await request(app).get('/me').set(alice).expect(200);
      // The route sees express-jwt's payload in req.auth (that is what overwrote it) and our principal.
      expect(me.body).toEqual({ id: 'alice', authKind: 'object', sub: 'alice' });
      expect((await request(app).get('/admin').set(alice).expect(200)).body.id).toBe('alice');
      expect((await request(app).get('/admin').set(bob)).status).toBe(403);
      expect((await request(app).get('/me')).status).toBe(401);
    });
    expect(errors).toEqual([]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('req.auth was replaced after principal() ran');
    expect(warnings[0]).toContain('a decoded JWT payload (keys: sub, roles, email, iat, exp, aud, iss)');
    expect(warnings[0]).toContain("requestProperty: 'jwt'");
    // Key names only: no claim value reaches the log.
    expect(warnings[0]).not.toContain('alice@example.com');
  });

  test('a route calling req.auth.login() on the replaced value fails, and the warning says why', async () => {
    const { app, errors } = appWith([ours(), theirs()]);
    const warnings = await warningsDuring(async () => {
      expect((await request(app).post('/login').set(bearer(oldToken('alice', [])))).status).toBe(500);
    });
    expect((errors[0] as Error).message).toMatch(/login is not a function/);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('req.auth.login()');
  });
});

describe('express-jwt mounted before principal()', () => {
  test('req.auth becomes principal()\'s, guards work, and one warning says the earlier value was replaced', async () => {
    const { app, errors } = appWith([theirs(), ours()]);
    const warnings = await warningsDuring(async () => {
      const me = await request(app).get('/me').set(bearer(oldToken('carol', ['admin'])));
      expect([me.status, me.body]).toEqual([200, { id: 'carol', authKind: 'principal', sub: null }]);
      await request(app).get('/admin').set(bearer(oldToken('carol', ['admin']))).expect(200);
      await request(app).get('/admin').set(bearer(oldToken('dave', ['user']))).expect(403);
      await request(app).post('/login').set(bearer(oldToken('carol', []))).expect(200);
    });
    expect(errors).toEqual([]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('principal() replaced a req.auth set by a middleware mounted before it (a decoded JWT payload');
    expect(warnings[0]).toContain('requestProperty');
  });
});

test("express-jwt with requestProperty: 'jwt': both work side by side, no warning", async () => {
  const app = express();
  app.use(ours());
  app.use(theirs({ requestProperty: 'jwt' }));
  app.get('/both', requireAuth(), (req, res) => {
    res.json({ id: req.principal?.id, jwtSub: (req as Request & { jwt?: { sub?: string } }).jwt?.sub, ours: typeof req.auth.login });
  });
  const warnings = await warningsDuring(async () => {
    expect((await request(app).get('/both').set(bearer(oldToken('erin', []))).expect(200)).body).toEqual({ id: 'erin', jwtSub: 'erin', ours: 'function' });
  });
  expect(warnings).toEqual([]);
});

test('a guard with only express-jwt in front: 500 naming the foreign req.auth, never 200', async () => {
  ours(); // accessors installed, as in any app that uses the package somewhere
  const { app, errors } = appWith([theirs()]);
  const res = await request(app).get('/me').set(bearer(oldToken('frank', ['admin'])));
  expect(res.status).toBe(500);
  const message = (errors[0] as TypeError).message;
  expect(errors[0]).toBeInstanceOf(TypeError);
  expect(message).toContain('req.auth holds a decoded JWT payload (keys: sub, roles, email');
  expect(message).toContain('not principal()\'s');
  expect(message).toContain('Mount principal(...) with app.use() before using guards');
  expect(message).toContain("requestProperty: 'jwt'");
  // No principal, no mount: the old message, unchanged.
  const bare = appWith([]);
  await request(bare.app).get('/me').expect(500);
  expect((bare.errors[0] as TypeError).message).toBe('express-principal: mount principal(...) with app.use() before using guards');
});

describe('a request outside Express (own properties): express-jwt after principal() overwrites the only copy', () => {
  let server: http.Server;
  let base = '';
  const outcomes: { status: number; message?: string }[] = [];
  beforeAll(async () => {
    const mw = ours();
    const ejwt = theirs();
    const guard = requireAuth();
    server = http.createServer((rawReq, rawRes) => {
      const req = rawReq as unknown as Request;
      const res = rawRes as unknown as Response;
      const done = (status: number, message?: string) => { outcomes.push({ status, ...(message ? { message } : {}) }); rawRes.statusCode = status; rawRes.end(); };
      mw(req, res, () => ejwt(req, res, () => guard(req, res, (err?: unknown) => (err ? done(500, (err as Error).message) : done(200)))));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => { await new Promise((resolve) => server.close(resolve)); });

  test('the guard fails closed with a 500 that names the payload', async () => {
    const res = await fetch(`${base}/`, { headers: bearer(oldToken('gina', ['admin'])) });
    expect(res.status).toBe(500);
    expect(outcomes).toHaveLength(1);
    expect(outcomes[0]?.message).toContain('req.auth holds a decoded JWT payload');
  });
});
