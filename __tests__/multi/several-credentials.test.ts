/**
 * Several credentials on the same routes: principal({ strategy: [statelessJwt(header), sessionCookie(...)] }).
 * Bearer header before cookie by default; two credentials naming different subjects → 400 ERR_CREDENTIAL_CONFLICT;
 * req.principal.strategy names the one used; login() issues with the first strategy unless told otherwise.
 */
import express from 'express';
import request from 'supertest';
import { principal, statelessJwt, statefulJwt, sessionCookie, memoryStore, requireAuth, type PrincipalMiddleware, type Strategy } from '../../lib';
import type { Precedence } from '../../lib/multi';

const SECRET = 'k8Jd02mXq9Lp3Zr7Tv5Wy1Ab4Cd6Ef8Gh0Ij2Kl';
const SESSION_SECRET = 'Zr7Tv5Wy1Ab4Cd6Ef8Gh0Ij2Klk8Jd02mXq9Lp3';
const closers: PrincipalMiddleware[] = [];
afterAll(async () => { await Promise.all(closers.map((c) => c.close())); });

function makeApp(strategies: Strategy[], precedence?: Precedence) {
  const auth = principal({ strategy: strategies, ...(precedence ? { precedence } : {}) });
  closers.push(auth);
  const app = express();
  app.use(express.json());
  app.use(auth);
  app.post('/login', async (req, res, next) => {
    try {
      const strategy = req.body.strategy as 'session-cookie' | 'stateless-jwt' | undefined;
      const issued = await req.auth.login({ id: String(req.body.id), roles: ['user'] }, strategy ? { strategy } : undefined);
      res.json(issued);
    } catch (err) { next(err); }
  });
  app.get('/me', requireAuth(), (req, res) => res.json({ id: req.principal?.id, strategy: req.principal?.strategy, via: req.auth.strategy }));
  app.use((err: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    res.status(500).json({ message: err.message, isTypeError: err instanceof TypeError });
  });
  return app;
}

const jwtHeader = () => statelessJwt({ secret: SECRET, issuer: 'auth', audience: 'api' });
const session = () => sessionCookie({ secret: SESSION_SECRET, store: memoryStore(), secure: false });

/** A logged-in cookie for `id` and a bearer token for `id2`, from the same app. */
async function credentials(app: express.Express, id: string, id2: string) {
  const cookieLogin = await request(app).post('/login').send({ id, strategy: 'session-cookie' }).expect(200);
  const cookie = (cookieLogin.headers['set-cookie'] as unknown as string[]).map((c) => c.split(';')[0]).join('; ');
  const tokenLogin = await request(app).post('/login').send({ id: id2, strategy: 'stateless-jwt' }).expect(200);
  return { cookie, token: tokenLogin.body.token as string };
}

describe('principal({ strategy: [statelessJwt, sessionCookie] })', () => {
  test('each credential alone works; the strategy that authenticated is named', async () => {
    const app = makeApp([jwtHeader(), session()]);
    const { cookie, token } = await credentials(app, 'alice', 'alice');
    expect(cookie).toMatch(/^sid=/);
    const byHeader = await request(app).get('/me').set('Authorization', `Bearer ${token}`).expect(200);
    expect(byHeader.body).toEqual({ id: 'alice', strategy: 'stateless-jwt', via: 'stateless-jwt' });
    const byCookie = await request(app).get('/me').set('Cookie', cookie).expect(200);
    expect(byCookie.body).toEqual({ id: 'alice', strategy: 'session-cookie', via: 'session-cookie' });
    await request(app).get('/me').expect(401);
  });

  test('login() issues with the first strategy; login(identity, { strategy }) with the named one; an unknown name is a TypeError', async () => {
    const app = makeApp([jwtHeader(), session()]);
    const first = await request(app).post('/login').send({ id: 'bob' }).expect(200);
    expect(typeof first.body.token).toBe('string');
    expect(first.headers['set-cookie']).toBeUndefined();
    const named = await request(app).post('/login').send({ id: 'bob', strategy: 'session-cookie' }).expect(200);
    expect(named.body.token).toBeNull();
    expect(String(named.headers['set-cookie'])).toMatch(/sid=/);
    const unknown = await request(app).post('/login').send({ id: 'bob', strategy: 'stateful-jwt' }).expect(500);
    expect(unknown.body.isTypeError).toBe(true);
    expect(unknown.body.message).toMatch(/no strategy named 'stateful-jwt'/);
  });

  test('the same subject on both carriers: the header wins (default precedence), no conflict', async () => {
    // The cookie strategy is listed first: header-first precedence still prefers the bearer token.
    const app = makeApp([session(), jwtHeader()]);
    const { cookie, token } = await credentials(app, 'carol', 'carol');
    const res = await request(app).get('/me').set('Cookie', cookie).set('Authorization', `Bearer ${token}`).expect(200);
    expect(res.body).toEqual({ id: 'carol', strategy: 'stateless-jwt', via: 'stateless-jwt' });
  });

  test("precedence: 'listed' follows the list order instead", async () => {
    const app = makeApp([session(), jwtHeader()], 'listed');
    const { cookie, token } = await credentials(app, 'carol', 'carol');
    const res = await request(app).get('/me').set('Cookie', cookie).set('Authorization', `Bearer ${token}`).expect(200);
    expect(res.body.strategy).toBe('session-cookie');
  });

  test('two valid credentials naming different subjects: 400 ERR_CREDENTIAL_CONFLICT, never merged', async () => {
    const app = makeApp([jwtHeader(), session()]);
    const { cookie, token } = await credentials(app, 'alice', 'mallory');
    const res = await request(app).get('/me').set('Cookie', cookie).set('Authorization', `Bearer ${token}`).expect(400);
    expect(res.body.code).toBe('ERR_CREDENTIAL_CONFLICT');
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(JSON.stringify(res.body)).not.toMatch(/alice|mallory/);
    // Each alone is still fine.
    await request(app).get('/me').set('Cookie', cookie).expect(200);
    await request(app).get('/me').set('Authorization', `Bearer ${token}`).expect(200);
  });

  test('a second credential that does not verify is ignored: the winning one decides', async () => {
    const app = makeApp([jwtHeader(), session()]);
    const { token } = await credentials(app, 'alice', 'alice');
    const res = await request(app).get('/me').set('Cookie', 'sid=s%3Aforged.forged').set('Authorization', `Bearer ${token}`).expect(200);
    expect(res.body.strategy).toBe('stateless-jwt');
    // A bad winning credential is refused, even with a good cookie behind it.
    const { cookie } = await credentials(app, 'alice', 'alice');
    await request(app).get('/me').set('Cookie', cookie).set('Authorization', 'Bearer not.a.token').expect(401);
  });

  test('two JWT strategies (stateful header + stateless cookie) disagreeing: conflict as well', async () => {
    const store = memoryStore();
    const stateful = statefulJwt({ secret: SECRET, store, issuer: 'auth', audience: 'api' });
    const stateless = statelessJwt({ secret: 'Q1w2E3r4T5y6U7i8O9p0A1s2D3f4G5h6J7k8L9z0', carrier: 'cookie', cookie: { secure: false, name: 'ep_web' } });
    const app = makeApp([stateful, stateless]);
    const a = await request(app).post('/login').send({ id: 'alice' }).expect(200);
    const b = await request(app).post('/login').send({ id: 'bob', strategy: 'stateless-jwt' }).expect(200);
    const cookie = (b.headers['set-cookie'] as unknown as string[])[0]?.split(';')[0] as string;
    expect(cookie).toMatch(/^ep_web=/);
    await request(app).get('/me').set('Cookie', cookie).set('Authorization', `Bearer ${a.body.token}`).expect(400);
    const solo = await request(app).get('/me').set('Cookie', cookie).expect(200);
    expect(solo.body).toEqual({ id: 'bob', strategy: 'stateless-jwt', via: 'stateless-jwt' });
  });

  test('a cross-site unsafe request: the cookie is not consulted for a conflict, the bearer decides', async () => {
    const app = makeApp([jwtHeader(), session()]);
    app.post('/act', requireAuth(), (req, res) => res.json({ id: req.principal?.id }));
    const { cookie, token } = await credentials(app, 'alice', 'mallory');
    const res = await request(app).post('/act').set('Origin', 'https://evil.example').set('Cookie', cookie).set('Authorization', `Bearer ${token}`);
    expect(res.status).toBe(200);
    expect(res.body.id).toBe('mallory');
  });

  test('precedence is checked at construction', () => {
    expect(() => principal({ strategy: [jwtHeader()], precedence: 'cookie-first' as never })).toThrow(/precedence must be/);
  });
});
