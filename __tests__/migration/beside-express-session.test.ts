/**
 * An app that keeps express-session (connect-redis) for its own data — a cart — beside sessionCookie: with their
 * own cookie and keys both work and neither touches the other; sharing a cookie name or a key prefix is refused
 * with a configuration error, never a 200 that logs nobody in.
 */
import express from 'express';
import session from 'express-session';
import { RedisStore } from 'connect-redis';
import request from 'supertest';
import { principal, redisStore, requireAuth, sessionCookie, type PrincipalMiddleware } from '../../lib';
import { EXPRESS_SESSION_CLASH_WARNING } from '../../lib/carriers/express-session-clash';
import { cleanupPrefix, connectRedis, keysWithPrefix, uniquePrefix, type TestRedisClient } from '../helpers/redis';

declare module 'express-session' {
  interface SessionData { cart?: string[] }
}

const APP_SECRET = 'the app secret of its own express-session';
const SECRET = 'Zr7Tv5Wy1Ab4Cd6Ef8Gh0Ij2Klk8Jd02mXq9Lp3';

let redis: TestRedisClient;
let prefix: string;
const middlewares: PrincipalMiddleware[] = [];

beforeAll(async () => {
  redis = await connectRedis();
  prefix = uniquePrefix('beside-express-session');
});
afterAll(async () => {
  for (const m of middlewares) await m.close();
  await cleanupPrefix(redis, prefix);
  await redis.close();
});

interface Layout { sessionName: string; sessionPrefix: string; cookieName: string; storePrefix: string }

/** express-session for the cart, mounted first; sessionCookie for who is logged in. */
function shop(layout: Layout): express.Express {
  const auth = principal({
    strategy: sessionCookie({
      secret: SECRET, secure: false, cookie: { name: layout.cookieName },
      store: redisStore({ client: redis as never, prefix: layout.storePrefix }),
    }),
  });
  middlewares.push(auth);
  const app = express();
  app.use(express.json());
  app.use(session({
    name: layout.sessionName, secret: APP_SECRET, resave: false, saveUninitialized: false,
    store: new RedisStore({ client: redis, prefix: layout.sessionPrefix }),
  }));
  app.use(auth);
  app.post('/cart', (req, res) => {
    req.session.cart = [...(req.session.cart ?? []), String(req.body.item)];
    res.json({ cart: req.session.cart });
  });
  app.get('/cart', (req, res) => res.json({ cart: req.session.cart ?? [] }));
  app.post('/login', async (req, res) => {
    await req.auth.login({ id: String(req.body.id) });
    res.json({ cart: req.session.cart ?? [] });
  });
  app.get('/me', requireAuth(), (req, res) => res.json({ id: req.principal?.id }));
  app.use((err: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    res.status(500).json({ error: err.message });
  });
  app.post('/logout', async (req, res) => {
    await req.auth.logout();
    res.json({ cart: req.session.cart ?? [] });
  });
  return app;
}

const cookieNames = (res: request.Response): string[] => ((res.headers['set-cookie'] as unknown as string[] | undefined) ?? []).map((c) => c.split('=')[0] as string);

describe('sessionCookie beside an app\'s own express-session', () => {
  it('coexists with its own cookie and keys: the cart survives login and logout, both cookies are set', async () => {
    const agent = request.agent(shop({ sessionName: 'connect.sid', sessionPrefix: `${prefix}ok:sess:`, cookieName: 'sid', storePrefix: `${prefix}ok:ep:` }));
    const cart = await agent.post('/cart').send({ item: 'book' }).expect(200, { cart: ['book'] });
    expect(cookieNames(cart)).toEqual(['connect.sid']);
    const login = await agent.post('/login').send({ id: 'alice' }).expect(200, { cart: ['book'] });
    expect(cookieNames(login)).toEqual(['sid']);
    await agent.get('/me').expect(200, { id: 'alice' });
    await agent.post('/cart').send({ item: 'pen' }).expect(200, { cart: ['book', 'pen'] });
    await agent.post('/logout').expect(200, { cart: ['book', 'pen'] });
    await agent.get('/me').expect(401);
    await agent.get('/cart').expect(200, { cart: ['book', 'pen'] });
    // Each kept to its own keys.
    expect((await keysWithPrefix(redis, `${prefix}ok:sess:`)).length).toBe(1);
    expect(await keysWithPrefix(redis, `${prefix}ok:ep:sess:`)).toEqual([]);
  });

  it('refuses a shared cookie name: the response that would set express-session\'s cookie is a 500 with one warning, the next request a 500 with the error', async () => {
    const spy = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      const agent = request.agent(shop({ sessionName: 'sid', sessionPrefix: `${prefix}name:sess:`, cookieName: 'sid', storePrefix: `${prefix}name:ep:` }));
      await agent.post('/cart').send({ item: 'book' }).expect(500);
      const clashes = spy.mock.calls.filter(([, options]) => (options as { code?: string } | undefined)?.code === EXPRESS_SESSION_CLASH_WARNING);
      expect(clashes).toHaveLength(1);
      expect(String(clashes[0]?.[0])).toContain("express-session on this app uses the cookie 'sid', which sessionCookie uses too");
      // The browser now holds express-session's cookie under the shared name: every request says why it is refused.
      const login = await agent.post('/login').send({ id: 'alice' }).expect(500);
      expect(login.body.error).toContain("express-session on this app uses the cookie 'sid', which sessionCookie uses too");
      expect(await keysWithPrefix(redis, `${prefix}name:ep:`)).toEqual([]);
    } finally {
      spy.mockRestore();
    }
  });

  it('refuses a shared key prefix at the first request: 500 with the configuration error', async () => {
    // redisStore's records live under `<prefix>sess:`: exactly where this express-session keeps the cart.
    const app = shop({ sessionName: 'connect.sid', sessionPrefix: `${prefix}same:sess:`, cookieName: 'sid', storePrefix: `${prefix}same:` });
    const res = await request(app).get('/cart');
    expect(res.status).toBe(500);
    expect(res.body.error).toContain(`express-session's store on this app keeps its sessions under '${prefix}same:sess:', which overlaps sessionCookie's`);
    const login = await request(app).post('/login').send({ id: 'alice' });
    expect(login.status).toBe(500);
    expect(await keysWithPrefix(redis, `${prefix}same:`)).toEqual([]);
  });

  it('refuses `legacy` on the keys express-session still serves on this app: 500 with the configuration error', async () => {
    const auth = principal({
      strategy: sessionCookie({
        secret: SECRET, secure: false, store: redisStore({ client: redis as never, prefix: `${prefix}still:ep:` }),
        legacy: { prefix: `${prefix}still:sess:`, secret: APP_SECRET, identify: () => ({ id: 'alice' }) },
      }),
    });
    middlewares.push(auth);
    const app = express();
    app.use(session({ secret: APP_SECRET, resave: false, saveUninitialized: false, store: new RedisStore({ client: redis, prefix: `${prefix}still:sess:` }) }));
    app.use(auth);
    app.get('/', (_req, res) => res.json({ ok: true }));
    app.use((err: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => res.status(500).json({ error: err.message }));
    const res = await request(app).get('/').expect(500);
    expect(res.body.error).toContain(`keeps its sessions under '${prefix}still:sess:', which overlaps sessionCookie's '${prefix}still:sess:'`);
  });
});
