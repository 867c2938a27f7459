/**
 * A Secure cookie set on a plain-http request outside production is never silent: one warning per middleware,
 * with a stable code, saying what to do (https, `trust proxy` behind a TLS proxy, or `secure: false` on localhost).
 */
import express from 'express';
import request from 'supertest';
import { cookieStore, memoryStore, principal, requireAuth, sessionCookie, statelessJwt, type PrincipalMiddleware, type Strategy } from '../../lib';
import { INSECURE_REQUEST_SECURE_COOKIE } from '../../lib/carriers/insecure-cookie';

const SECRET = 'Vb7nQ2xK9mL4pR8tZ1wY6cF3hJ5dS0gA';

/**
 * The warnings as emitted. Jest gives each test file its own `process` object, whose `on('warning')` never hears
 * what `emitWarning` sends the real process; so the calls are observed (and still go through to Node).
 */
const warnings: string[] = [];
let spy: jest.SpyInstance | undefined;
const middlewares: PrincipalMiddleware[] = [];
beforeAll(() => {
  const emit = process.emitWarning.bind(process) as (...args: unknown[]) => void;
  spy = jest.spyOn(process, 'emitWarning').mockImplementation(((warning: string | Error, options?: { type?: string; code?: string }) => {
    if (typeof options === 'object' && options?.code === INSECURE_REQUEST_SECURE_COOKIE) {
      expect(options.type).toBe('ExpressPrincipalWarning');
      warnings.push(String(warning));
    }
    emit(warning, options);
  }) as typeof process.emitWarning);
});
beforeEach(() => { warnings.length = 0; });
afterAll(async () => {
  spy?.mockRestore();
  await Promise.all(middlewares.map((m) => m.close()));
});

function app(strategy: Strategy, trustProxy = false): express.Express {
  const auth = principal({ strategy });
  middlewares.push(auth);
  const a = express();
  if (trustProxy) a.set('trust proxy', 'loopback');
  a.use(auth);
  a.post('/login', async (req, res, next) => {
    try { await req.auth.login({ id: 'alice' }); res.sendStatus(204); } catch (err) { next(err); }
  });
  a.get('/me', requireAuth(), (req, res) => res.json({ id: req.principal?.id }));
  return a;
}

const session = (extra: Record<string, unknown> = {}) => sessionCookie({ secret: SECRET, store: memoryStore(), ...extra });
const cookieJwt = (extra: Record<string, unknown> = {}) => statelessJwt({ secret: SECRET, carrier: 'cookie', ...extra });

function expectAdvice(message: string, cookieName: string): void {
  expect(message).toContain(`'${cookieName}'`);
  expect(message).toContain('plain-http');
  expect(message).toContain('https');
  expect(message).toContain("app.set('trust proxy'");
  expect(message).toContain('secure: false');
}

test('sessionCookie on plain http: no Set-Cookie, and one warning for the middleware however many logins', async () => {
  const target = app(session());
  for (let i = 0; i < 3; i++) {
    const res = await request(target).post('/login').expect(204);
    expect(res.headers['set-cookie']).toBeUndefined();
  }
  expect(warnings).toHaveLength(1);
  expectAdvice(warnings[0] as string, '__Host-sid');
  // A second middleware warns for itself.
  await request(app(session())).post('/login').expect(204);
  expect(warnings).toHaveLength(2);
});

test('the JWT cookie carrier on plain http: the cookie is still sent, and one warning', async () => {
  const target = app(cookieJwt());
  for (let i = 0; i < 2; i++) {
    const res = await request(target).post('/login').expect(204);
    expect(String(res.headers['set-cookie'])).toMatch(/^__Host-ep=[^;]+;.*Secure/);
  }
  expect(warnings).toHaveLength(1);
  expectAdvice(warnings[0] as string, '__Host-ep');
});

test('sessionCookie on a cookieStore on plain http: the sealed cookie is still sent, and one warning', async () => {
  const target = app(sessionCookie({ store: cookieStore({ secret: SECRET }) }));
  for (let i = 0; i < 2; i++) {
    const res = await request(target).post('/login').expect(204);
    expect(String(res.headers['set-cookie'])).toMatch(/^__Host-sid=[^;]+;.*Secure/);
  }
  expect(warnings).toHaveLength(1);
  expectAdvice(warnings[0] as string, '__Host-sid');
});

test('no warning over https (trust proxy + X-Forwarded-Proto), with secure: false, or with a header carrier', async () => {
  for (const strategy of [session(), cookieJwt()]) {
    const res = await request(app(strategy, true)).post('/login').set('X-Forwarded-Proto', 'https').expect(204);
    expect(String(res.headers['set-cookie'])).toMatch(/Secure/);
  }
  for (const strategy of [session({ secure: false }), cookieJwt({ cookie: { secure: false } })]) {
    const target = app(strategy);
    const login = await request(target).post('/login').expect(204);
    const cookie = String(login.headers['set-cookie']).split(';')[0] as string;
    expect((await request(target).get('/me').set('Cookie', cookie).expect(200)).body).toEqual({ id: 'alice' });
  }
  await request(app(statelessJwt({ secret: SECRET }))).post('/login').expect(204);
  expect(warnings).toEqual([]);
});

test("NODE_ENV=production: the cookie stays Secure and nothing is logged", async () => {
  const before = process.env.NODE_ENV;
  process.env.NODE_ENV = 'production';
  try {
    const res = await request(app(session())).post('/login').expect(204);
    expect(res.headers['set-cookie']).toBeUndefined();
    expect(String((await request(app(cookieJwt())).post('/login').expect(204)).headers['set-cookie'])).toMatch(/Secure/);
  } finally {
    process.env.NODE_ENV = before;
  }
  expect(warnings).toEqual([]);
});
