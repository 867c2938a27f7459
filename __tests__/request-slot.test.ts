/**
 * Where `req.principal` / `req.auth` live (lib/request-slot.ts).
 *
 * For speed they are no longer own properties of the request: the first request through `principal()` installs
 * `principal` / `auth` accessors on the outermost Express app's `request` prototype, and the per-request values sit
 * in `res.locals` under a symbol. A request that did not come through Express falls back to own properties.
 * These tests pin down what that must not change, over real Express apps: per-request isolation under concurrency,
 * mounted sub-apps and routers, app code assigning `req.principal`, requests outside Express, no global prototype
 * pollution, and separate apps staying separate.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import jwt from 'jsonwebtoken';
import request from 'supertest';
import { principal, requireAuth, requireRole, statelessJwt, type Identity, type PrincipalMiddleware } from '../lib';

const secret = 'k8Jd02mXq9Lp3Zr7Tv5Wy1Ab4Cd6Ef8Gh0Ij2Kl';
const otherSecret = 'Zq7Wm3Xr9Lp1Tv5Yb2Nc8Hd4Gf6Js0Ka3Qe7Ru';

const opened: PrincipalMiddleware[] = [];
afterAll(async () => {
  for (const auth of opened) await auth.close();
});

function auth(key: string = secret): PrincipalMiddleware {
  const middleware = principal({ strategy: statelessJwt({ secret: key }) });
  opened.push(middleware);
  return middleware;
}

function token(sub: string, roles: string[] = [], key: string = secret): string {
  return jwt.sign({ sub, roles }, key, { algorithm: 'HS256', expiresIn: 300, header: { alg: 'HS256', typ: 'at+jwt' } as jwt.JwtHeader });
}

const bearer = (t: string) => ({ Authorization: `Bearer ${t}` });

/** What a handler sees: `{ id, error }` (`id` null when anonymous, `error` the refusal code or null). */
function show(req: Request, res: Response): void {
  res.json({ id: req.principal?.id ?? null, error: req.auth?.error?.code ?? null });
}

const hasOwn = (o: object, key: PropertyKey) => Object.prototype.hasOwnProperty.call(o, key);

describe('basics', () => {
  const mw = auth();
  const app = express();
  app.use(express.json());
  app.use(mw);
  app.post('/login', async (req, res) => { res.json(await req.auth.login(req.body as Identity)); });
  app.get('/open', (req, res) => {
    res.json({
      id: req.principal?.id ?? null,
      principalIsNull: req.principal === null,
      error: req.auth.error === null ? null : req.auth.error.code,
      strategy: req.auth.strategy,
      keys: Object.keys(req),
      ownPrincipal: hasOwn(req, 'principal'),
      ownAuth: hasOwn(req, 'auth'),
      inPrincipal: 'principal' in req,
      inAuth: 'auth' in req,
    });
  });

  test('a token issued by req.auth.login() → req.principal.id in the handler, not an own property of req', async () => {
    const issued = (await request(app).post('/login').send({ id: 'alice', roles: ['user'] }).expect(200)).body as { token: string };
    expect(typeof issued.token).toBe('string');
    const res = await request(app).get('/open').set(bearer(issued.token)).expect(200);
    expect(res.body).toMatchObject({ id: 'alice', error: null, strategy: 'stateless-jwt', ownPrincipal: false, ownAuth: false, inPrincipal: true, inAuth: true });
    expect(res.body.keys).not.toContain('principal');
    expect(res.body.keys).not.toContain('auth');
  });

  test('no credential → req.principal === null and req.auth.error === null', async () => {
    const res = await request(app).get('/open').expect(200);
    expect(res.body).toMatchObject({ id: null, principalIsNull: true, error: null, strategy: null, ownPrincipal: false, ownAuth: false });
  });

  test('a bad token → req.principal null, req.auth.error.code ERR_INVALID_CREDENTIAL', async () => {
    const forged = token('mallory', [], otherSecret);
    for (const value of ['abc.def.ghi', forged]) {
      const res = await request(app).get('/open').set(bearer(value)).expect(200);
      expect(res.body).toMatchObject({ id: null, principalIsNull: true, error: 'ERR_INVALID_CREDENTIAL' });
    }
  });
});

describe('isolation under concurrency', () => {
  const app = express();
  app.use(auth());
  app.get('/who', async (req, res) => {
    const before = req.principal?.id ?? null;
    await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 21)));
    const after = req.principal?.id ?? null;
    await new Promise((resolve) => setImmediate(resolve));
    res.json({ before, after, error: req.auth.error?.code ?? null, tag: req.query.tag });
  });
  app.get('/admin', requireRole('admin'), async (req, res) => {
    await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 21)));
    res.json({ id: req.principal?.id ?? null });
  });
  let server: http.Server;
  beforeAll(async () => {
    server = http.createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  test('50 concurrent requests (subjects, anonymous, bad tokens) each see only their own principal', async () => {
    const n = 50;
    const results = await Promise.all(Array.from({ length: n }, async (_, i) => {
      const req = request(server).get('/who').query({ tag: String(i) });
      if (i % 10 === 3) req.set(bearer('not.a.jwt'));
      else if (i % 10 !== 7) req.set(bearer(token(`user-${i}`)));
      return { i, res: await req };
    }));
    for (const { i, res } of results) {
      expect(res.status).toBe(200);
      expect(res.body.tag).toBe(String(i));
      const expected = i % 10 === 3 || i % 10 === 7 ? null : `user-${i}`;
      expect(res.body.before).toBe(expected);
      expect(res.body.after).toBe(expected);
      expect(res.body.error).toBe(i % 10 === 3 ? 'ERR_INVALID_CREDENTIAL' : null);
    }
  });

  test('guards decide per request while admins and non-admins interleave', async () => {
    const results = await Promise.all(Array.from({ length: 40 }, async (_, i) => {
      const roles = i % 2 === 0 ? ['admin'] : ['user'];
      return { i, res: await request(server).get('/admin').set(bearer(token(`p-${i}`, roles))) };
    }));
    for (const { i, res } of results) {
      if (i % 2 === 0) {
        expect(res.status).toBe(200);
        expect(res.body.id).toBe(`p-${i}`);
      } else {
        expect(res.status).toBe(403);
        expect(res.body.code).toBe('ERR_FORBIDDEN');
      }
    }
  });
});

describe('principal() on the parent app', () => {
  const parent = express();
  parent.use(auth());
  const sub = express();
  sub.get('/me', requireAuth(), show);
  sub.get('/admin', requireRole('admin'), show);
  sub.get('/open', show);
  parent.use('/api', sub);
  const deeper = express();
  deeper.get('/me', requireAuth(), show);
  sub.use('/deeper', deeper);
  const router = express.Router();
  router.get('/me', requireAuth(), show);
  router.get('/admin', requireRole('admin'), show);
  parent.use('/r', router);
  // Reached after the sub-app's router found nothing: the request is back on the parent's prototype.
  parent.get('/api/after', requireAuth(), show);

  test('a mounted sub-app sees req.principal and its guards answer 200 / 401 / 403', async () => {
    const admin = bearer(token('root', ['admin']));
    const user = bearer(token('joe', ['user']));
    expect((await request(parent).get('/api/me').set(user).expect(200)).body).toEqual({ id: 'joe', error: null });
    expect((await request(parent).get('/api/admin').set(admin).expect(200)).body).toEqual({ id: 'root', error: null });
    expect((await request(parent).get('/api/admin').set(user).expect(403)).body.code).toBe('ERR_FORBIDDEN');
    expect((await request(parent).get('/api/me').expect(401)).body.code).toBe('ERR_AUTH_REQUIRED');
    expect((await request(parent).get('/api/me').set(bearer('bad.token.here')).expect(401)).body.code).toBe('ERR_INVALID_CREDENTIAL');
    expect((await request(parent).get('/api/open').expect(200)).body).toEqual({ id: null, error: null });
  });

  test('a sub-app two levels down sees it too', async () => {
    expect((await request(parent).get('/api/deeper/me').set(bearer(token('deep'))).expect(200)).body.id).toBe('deep');
    await request(parent).get('/api/deeper/me').expect(401);
  });

  test('back on the parent after falling through the sub-app, the principal is still there', async () => {
    expect((await request(parent).get('/api/after').set(bearer(token('back'))).expect(200)).body.id).toBe('back');
    await request(parent).get('/api/after').expect(401);
  });

  test('an express.Router() mounted on the parent sees it', async () => {
    expect((await request(parent).get('/r/me').set(bearer(token('routed'))).expect(200)).body.id).toBe('routed');
    expect((await request(parent).get('/r/admin').set(bearer(token('routed', ['user']))).expect(403)).body.code).toBe('ERR_FORBIDDEN');
    expect((await request(parent).get('/r/admin').set(bearer(token('boss', ['admin']))).expect(200)).body.id).toBe('boss');
    await request(parent).get('/r/me').expect(401);
  });

  test('the accessors sit on express.request (shared by every app), not on the app or sub-app prototypes', async () => {
    await request(parent).get('/api/me').set(bearer(token('x'))).expect(200);
    expect(hasOwn(express.request, 'principal')).toBe(true);
    expect(hasOwn(express.request, 'auth')).toBe(true);
    expect(hasOwn(parent.request, 'principal')).toBe(false);
    expect(hasOwn(sub.request, 'principal')).toBe(false);
  });
});

describe('principal() only inside a sub-app', () => {
  const parent = express();
  const sub = express();
  sub.use(auth());
  sub.get('/me', requireAuth(), show);
  sub.get('/admin', requireRole('admin'), show);
  parent.use('/api', sub);
  parent.get('/outside', requireAuth(), show);
  parent.get('/outside-open', (req, res) => { res.json({ principal: req.principal === undefined ? 'undefined' : req.principal, auth: req.auth === undefined ? 'undefined' : 'set' }); });
  const errors: unknown[] = [];
  parent.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    errors.push(err);
    res.status(500).json({ handledBy: 'app' });
  });

  test('routes of the sub-app see the principal and guards work there', async () => {
    expect((await request(parent).get('/api/me').set(bearer(token('inner'))).expect(200)).body.id).toBe('inner');
    expect((await request(parent).get('/api/admin').set(bearer(token('inner', ['admin']))).expect(200)).body.id).toBe('inner');
    await request(parent).get('/api/admin').set(bearer(token('inner', ['user']))).expect(403);
    await request(parent).get('/api/me').expect(401);
  });

  test('a parent route that principal() never ran for: req.principal / req.auth undefined, the guard fails closed (500, never 200)', async () => {
    // The sub-app has served requests (previous test), so the accessors are on the parent prototype by now.
    await request(parent).get('/api/me').set(bearer(token('inner'))).expect(200);
    const open = await request(parent).get('/outside-open').set(bearer(token('outer'))).expect(200);
    expect(open.body).toEqual({ principal: 'undefined', auth: 'undefined' });
    errors.length = 0;
    const res = await request(parent).get('/outside').set(bearer(token('outer')));
    expect(res.status).not.toBe(200);
    expect(res.status).toBe(500);
    expect(res.body).toEqual({ handledBy: 'app' });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(TypeError);
    expect((errors[0] as TypeError).message).toMatch(/mount principal\(\.\.\.\) with app\.use\(\)/);
  });
});

describe('app code assigning req.principal / req.auth', () => {
  test('req.principal = null after principal() → requireAuth() answers 401', async () => {
    const app = express();
    app.use(auth());
    app.use((req, _res, next) => {
      if (req.query.drop === '1') req.principal = null;
      next();
    });
    app.get('/me', requireAuth(), show);
    const t = bearer(token('dropped'));
    expect((await request(app).get('/me').set(t).expect(200)).body.id).toBe('dropped');
    expect((await request(app).get('/me').query({ drop: '1' }).set(t).expect(401)).body.code).toBe('ERR_AUTH_REQUIRED');
  });

  test('a principal assigned after principal() is what guards and the handler see (same slot)', async () => {
    const app = express();
    app.use(auth());
    app.use((req, _res, next) => {
      if (req.principal) req.principal = { ...req.principal, id: `${req.principal.id}+sudo`, roles: ['admin'] };
      next();
    });
    app.get('/admin', requireRole('admin'), show);
    expect((await request(app).get('/admin').set(bearer(token('op', ['user']))).expect(200)).body.id).toBe('op+sudo');
    await request(app).get('/admin').expect(401);
  });

  test('a principal forged before principal() is overwritten: no credential → 401 (first request and later ones)', async () => {
    const app = express(); // fresh app: its first request is the one that installs the accessors
    app.use((req, _res, next) => {
      (req as { principal: unknown }).principal = { id: 'forged', roles: ['admin'], scopes: [], claims: {} };
      next();
    });
    app.use(auth());
    app.get('/me', requireAuth(), show);
    app.get('/admin', requireRole('admin'), show);
    app.get('/open', show);
    for (let i = 0; i < 3; i++) {
      expect((await request(app).get('/me').expect(401)).body.code).toBe('ERR_AUTH_REQUIRED');
      await request(app).get('/admin').expect(401);
      expect((await request(app).get('/open').expect(200)).body).toEqual({ id: null, error: null });
    }
    // Once installed, a valid credential is what counts, not the forgery.
    expect((await request(app).get('/admin').set(bearer(token('real', ['admin']))).expect(200)).body.id).toBe('real');
  });
});

describe('requests that do not come through Express', () => {
  const mw = auth();
  let server: http.Server;
  let base = '';
  const seen: { id: string | null; ownPrincipal: boolean; ownAuth: boolean; error: string | null }[] = [];
  beforeAll(async () => {
    server = http.createServer((rawReq, rawRes) => {
      // Optionally give it a `res.locals` (some frameworks do): still no Express app prototype → own properties.
      if (rawReq.url === '/with-locals') (rawRes as unknown as { locals: Record<string, unknown> }).locals = {};
      const req = rawReq as unknown as Request;
      const res = rawRes as unknown as Response;
      mw(req, res, () => {
        seen.push({
          id: req.principal?.id ?? null,
          ownPrincipal: hasOwn(req, 'principal'),
          ownAuth: hasOwn(req, 'auth'),
          error: req.auth.error?.code ?? null,
        });
        rawRes.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  test('plain http.createServer: req.principal / req.auth are own properties and correct', async () => {
    seen.length = 0;
    await request(base).get('/').set(bearer(token('plain'))).expect(204);
    await request(base).get('/').expect(204);
    await request(base).get('/with-locals').set(bearer(token('with-locals'))).expect(204);
    await request(base).get('/').set(bearer('bad.token.x')).expect(204);
    expect(seen).toEqual([
      { id: 'plain', ownPrincipal: true, ownAuth: true, error: null },
      { id: null, ownPrincipal: true, ownAuth: true, error: null },
      { id: 'with-locals', ownPrincipal: true, ownAuth: true, error: null },
      { id: null, ownPrincipal: true, ownAuth: true, error: 'ERR_INVALID_CREDENTIAL' },
    ]);
  });

  test('Node’s IncomingMessage prototype gets nothing; express.request gets non-enumerable accessors', async () => {
    await request(base).get('/').set(bearer(token('plain'))).expect(204);
    expect('principal' in http.IncomingMessage.prototype).toBe(false);
    expect('auth' in http.IncomingMessage.prototype).toBe(false);
    const app = express();
    app.use(auth());
    app.get('/', show);
    expect((await request(app).get('/').set(bearer(token('app'))).expect(200)).body.id).toBe('app');
    expect(hasOwn(express.request, 'principal')).toBe(true);
    expect(Object.keys(express.request)).not.toContain('principal');
    expect(Object.keys(express.request)).not.toContain('auth');
    for (const key of ['principal', 'auth']) {
      expect(hasOwn(http.IncomingMessage.prototype, key)).toBe(false);
      expect(hasOwn(app.request, key)).toBe(false);
    }
  });

  test('an app without principal() reads req.principal as undefined and can still assign it', async () => {
    const app = express();
    app.get('/', (req, res) => {
      const before = (req as { principal?: unknown }).principal;
      (req as { principal?: unknown }).principal = { id: 'own' };
      res.json({ before: before === undefined ? 'undefined' : before, after: (req as { principal?: { id: string } }).principal?.id });
    });
    expect((await request(app).get('/').expect(200)).body).toEqual({ before: 'undefined', after: 'own' });
  });
});

describe('two separate apps', () => {
  const appA = express();
  appA.use(auth(secret));
  appA.get('/me', requireAuth(), show);
  const appB = express();
  appB.use(auth(otherSecret));
  appB.get('/me', requireAuth(), show);

  test('each accepts its own tokens and refuses the other one’s', async () => {
    const forA = bearer(token('a-user', [], secret));
    const forB = bearer(token('b-user', [], otherSecret));
    for (let round = 0; round < 2; round++) {
      const [aOwn, bOwn, aOther, bOther] = await Promise.all([
        request(appA).get('/me').set(forA),
        request(appB).get('/me').set(forB),
        request(appA).get('/me').set(forB),
        request(appB).get('/me').set(forA),
      ]);
      expect([aOwn.status, aOwn.body.id]).toEqual([200, 'a-user']);
      expect([bOwn.status, bOwn.body.id]).toEqual([200, 'b-user']);
      expect([aOther.status, aOther.body.code]).toEqual([401, 'ERR_INVALID_CREDENTIAL']);
      expect([bOther.status, bOther.body.code]).toEqual([401, 'ERR_INVALID_CREDENTIAL']);
    }
    expect(appA.request).not.toBe(appB.request);
  });
});

/** A separate copy of express (as with two installed versions): its request prototype has never been seen. */
function freshExpress(): typeof express {
  let copy: typeof express | undefined;
  jest.isolateModules(() => { copy = (require('express') as { default?: typeof express }).default ?? (require('express') as typeof express); });
  if (copy === undefined || copy.request === express.request) throw new Error('no fresh express copy');
  return copy;
}

/** Cases a first review of lib/request-slot.ts found broken (fixed: own properties are dropped, accessors are shared). */
describe('properties assigned before the accessors existed, and sub-apps with two parents', () => {
  test('first request of an app: req.principal assigned before principal() does not shadow the real principal', async () => {
    // A fresh copy of express: its request prototype has no accessors yet, so the assignment makes an own property.
    const app = freshExpress()();
    app.use((req, _res, next) => { (req as { principal: unknown }).principal = { id: 'forged' }; next(); });
    app.use(auth());
    app.get('/me', requireAuth(), show);
    expect((await request(app).get('/me').set(bearer(token('real'))).expect(200)).body.id).toBe('real');
  });

  test('first request of an app: req.auth assigned before principal() (express-jwt does) does not break guards', async () => {
    const app = freshExpress()();
    app.use((req, _res, next) => { (req as { auth: unknown }).auth = { sub: 'from-another-lib' }; next(); });
    app.use(auth());
    app.get('/me', requireAuth(), show);
    await request(app).get('/me').set(bearer(token('real'))).expect(200);
  });

  test('a sub-app also mounted on a second parent: the handler sees the principal its guard let through', async () => {
    // Express points sub.request at the last parent mounted: accessors on the first parent's prototype would be lost.
    const sub = express();
    sub.get('/me', requireAuth(), show);
    const parentA = express();
    parentA.use(auth());
    parentA.use('/api', sub);
    const parentB = express();
    parentB.use('/api', sub);
    expect((await request(parentA).get('/api/me').set(bearer(token('a'))).expect(200)).body.id).toBe('a');
  });

  test('principal() inside a sub-app that gets mounted on a second parent after serving requests', async () => {
    // The re-mount moves sub.request under parentB.request: the accessors must still be in the chain.
    const sub = express();
    sub.use(auth());
    sub.get('/me', requireAuth(), show);
    const parentA = express();
    parentA.use('/api', sub);
    expect((await request(parentA).get('/api/me').set(bearer(token('a'))).expect(200)).body.id).toBe('a');
    const parentB = express();
    parentB.use('/api', sub);
    expect((await request(parentB).get('/api/me').set(bearer(token('b'))).expect(200)).body.id).toBe('b');
  });
});

test('principal() puts the accessors on the express it resolves to at construction, before any request', () => {
  jest.isolateModules(() => {
    // A registry of its own: this express copy and this copy of the package have never seen each other.
    const ex = require('express') as typeof express;
    const lib = require('../lib') as typeof import('../lib');
    expect(hasOwn(ex.request, 'principal')).toBe(false);
    const mw = lib.principal({ strategy: lib.statelessJwt({ secret }) });
    expect(hasOwn(ex.request, 'principal')).toBe(true);
    expect(hasOwn(ex.request, 'auth')).toBe(true);
    expect(typeof mw).toBe('function');
  });
});

test('two copies of the package on one express (as npm may install): each copy\'s requests see their own principal', async () => {
  // A second copy of the package, loaded in a registry of its own; its apps are made with the express of this file.
  let other: typeof import('../lib') | undefined;
  jest.isolateModules(() => { other = require('../lib') as typeof import('../lib'); });
  if (other === undefined || other.principal === principal) throw new Error('no second copy of the package');
  const second = other.principal({ strategy: other.statelessJwt({ secret: otherSecret }) });
  const app = express();
  const a = express.Router();
  a.use(auth());
  a.get('/me', requireAuth(), show);
  const b = express.Router();
  b.use(second);
  b.get('/me', other.requireAuth(), show);
  b.get('/mixed', requireAuth(), show); // this copy's guard behind the other copy's middleware
  app.use('/a', a);
  app.use('/b', b);
  try {
    // The second copy's first request is what installs it on this express: before, it would replace the accessors.
    for (let round = 0; round < 2; round += 1) {
      expect((await request(app).get('/b/me').set(bearer(token('b-user', [], otherSecret))).expect(200)).body).toEqual({ id: 'b-user', error: null });
      expect((await request(app).get('/a/me').set(bearer(token('a-user'))).expect(200)).body).toEqual({ id: 'a-user', error: null });
    }
    // Each copy still refuses the other's tokens (different keys): the slot is shared, the verdicts are not.
    expect((await request(app).get('/a/me').set(bearer(token('b-user', [], otherSecret)))).status).toBe(401);
    expect((await request(app).get('/b/me').set(bearer(token('a-user')))).status).toBe(401);
    // Mixing copies is not supported, and fails closed rather than open.
    const mixed = await request(app).get('/b/mixed').set(bearer(token('b-user', [], otherSecret)));
    expect(mixed.status).toBe(500);
    expect(JSON.stringify(mixed.body)).not.toContain('b-user');

    // Both middlewares on one request: the later one's result is what req.principal shows; the first copy's
    // guards find a slot that is not theirs and fail closed.
    const stacked = express();
    stacked.use(auth());
    stacked.use(second);
    stacked.get('/first', requireAuth(), show);
    stacked.get('/second', other.requireAuth(), show);
    const withSecondToken = bearer(token('b-user', [], otherSecret));
    expect((await request(stacked).get('/second').set(withSecondToken).expect(200)).body).toEqual({ id: 'b-user', error: null });
    const first = await request(stacked).get('/first').set(withSecondToken);
    expect(first.status).toBe(500);
    expect(JSON.stringify(first.body)).not.toContain('b-user');
  } finally {
    await second.close();
  }
});
