/**
 * An SPA on another origin, the real `cors` package in front: CORS lets the page read answers, but only
 * `trustedOrigins` lets it send cookie-carried unsafe requests. The 403 says which origin was refused and which
 * option admits it; with the same list in `trustedOrigins` the same requests pass. Over supertest, then in Chromium
 * (a page on one port calling the API on another with `credentials: 'include'`).
 */
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import cors from 'cors';
import express, { type Express } from 'express';
import request from 'supertest';
import type { Browser } from 'playwright-core';
import { handle, memoryStore, principal, requireAuth, sessionCookie, type Identity, type PrincipalMiddleware } from '../lib';
import { launchBrowser } from './browser/support';

jest.setTimeout(60_000);

const secret = 'k8Jd02mXq9Lp3Zr7Tv5Wy1Ab4Cd6Ef8Gh0Ij2Kl';
const SPA = 'http://spa.test:5173';

interface Api { app: Express; auth: PrincipalMiddleware; orders: string[] }
const made: Api[] = [];

function api(allowed: string[], trustedOrigins?: string[]): Api {
  const auth = principal({ strategy: sessionCookie({ secret, store: memoryStore(), secure: false }), ...(trustedOrigins ? { trustedOrigins } : {}) });
  const orders: string[] = [];
  const app = express();
  app.use(cors({ origin: allowed, credentials: true }));
  app.use(express.json());
  app.use(auth);
  app.post('/login', handle(async (req, res) => { res.json(await req.auth.login(req.body as Identity)); }));
  app.post('/orders', requireAuth(), (req, res) => {
    orders.push(req.principal?.id ?? '?');
    res.status(201).json({ by: req.principal?.id });
  });
  const built = { app, auth, orders };
  made.push(built);
  return built;
}
afterAll(async () => { for (const { auth } of made) await auth.close(); });

/** Logs in same-origin (no Origin header: not a browser's cross-site request) and returns the cookie. */
async function cookieFor(app: Express): Promise<string> {
  const res = await request(app).post('/login').send({ id: 'u1' }).expect(200);
  const cookie = ([] as string[]).concat(res.headers['set-cookie'] ?? [])[0];
  if (cookie === undefined) throw new Error('login set no cookie');
  return cookie.split(';')[0] as string;
}

describe('cors({ origin, credentials: true }) without trustedOrigins', () => {
  test('a cookie POST from the SPA origin: 403 ERR_CSRF naming the origin and trustedOrigins; the route never runs', async () => {
    const { app, orders } = api([SPA]);
    const cookie = await cookieFor(app);
    const preflight = await request(app).options('/orders').set('Origin', SPA).set('Access-Control-Request-Method', 'POST');
    expect([preflight.status, preflight.headers['access-control-allow-origin'], preflight.headers['access-control-allow-credentials']]).toEqual([204, SPA, 'true']);

    const res = await request(app).post('/orders').set('Origin', SPA).set('Cookie', cookie).send({ item: 'x' });
    expect(res.status).toBe(403);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body.code).toBe('ERR_CSRF');
    expect(res.body.detail).toContain(`Origin ${SPA} is not this app's origin`);
    expect(res.body.detail).toContain('trustedOrigins');
    // cors still labels the answer, so the SPA can read this detail.
    expect(res.headers['access-control-allow-origin']).toBe(SPA);
    expect(JSON.stringify(res.body)).not.toContain(cookie.split('=')[1] as string);
    expect(res.headers['set-cookie']).toBeUndefined();
    expect(orders).toEqual([]);
  });

  test('a cross-origin login is refused the same way and issues no cookie', async () => {
    const { app } = api([SPA]);
    const res = await request(app).post('/login').set('Origin', SPA).send({ id: 'u1' });
    expect([res.status, res.body.code]).toEqual([403, 'ERR_CSRF']);
    expect(res.body.detail).toContain(SPA);
    expect(res.headers['set-cookie']).toBeUndefined();
  });

  test('a hostile, very long Origin is quoted back cut short', async () => {
    const { app } = api([SPA]);
    const cookie = await cookieFor(app);
    const origin = `https://${'a'.repeat(2000)}.example`;
    const res = await request(app).post('/orders').set('Origin', origin).set('Cookie', cookie).send({});
    expect([res.status, res.body.code]).toEqual([403, 'ERR_CSRF']);
    expect(res.body.detail.length).toBeLessThan(500);
  });
});

describe('the same list in trustedOrigins', () => {
  test('the SPA origin passes; any other origin is still 403 and named', async () => {
    const { app, orders } = api([SPA], [SPA]);
    const cookie = await cookieFor(app);
    const ok = await request(app).post('/orders').set('Origin', SPA).set('Cookie', cookie).send({ item: 'x' });
    expect([ok.status, ok.body]).toEqual([201, { by: 'u1' }]);
    const evil = await request(app).post('/orders').set('Origin', 'https://evil.example').set('Cookie', cookie).send({});
    expect([evil.status, evil.body.code]).toEqual([403, 'ERR_CSRF']);
    expect(evil.body.detail).toContain('Origin https://evil.example is not');
    expect(orders).toEqual(['u1']);
  });
});

describe('trustedOrigins at start-up', () => {
  const strategy = () => sessionCookie({ secret, store: memoryStore(), secure: false });
  test.each([
    [['https://app.example.com/'], "'https://app.example.com/' never matches a browser's Origin header; did you mean 'https://app.example.com'?"],
    [['https://App.Example.com:443'], "did you mean 'https://app.example.com'?"],
    [[/\.example\.com$/], 'trustedOrigins takes exact origin strings (a RegExp is not one, though cors() accepts it)'],
    [['*'], "'*' is not an http(s) origin"],
    [['null'], "'null' is not an http(s) origin"],
    ['https://app.example.com', 'trustedOrigins must be an array of origins'],
  ])('%p is refused with a clear TypeError', (list, message) => {
    expect(() => principal({ strategy: strategy(), trustedOrigins: list as string[] })).toThrow(message);
    expect(() => principal({ strategy: strategy(), trustedOrigins: list as string[] })).toThrow(TypeError);
  });
});

describe('in Chromium: a page on one port, the API on another (same site, other origin)', () => {
  let browser: Browser;
  const servers: Server[] = [];
  const listen = (handler: RequestListener) => new Promise<number>((resolve) => {
    const server = createServer(handler);
    servers.push(server);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
  beforeAll(async () => { browser = await launchBrowser(); });
  afterAll(async () => {
    await browser.close();
    for (const s of servers) { s.closeAllConnections(); s.close(); }
  });

  /** The SPA's script: log in, then place an order, both with the cookie; what it could read of each answer. */
  async function runSpa(trusted: boolean) {
    const spaPort = await listen((_req, res) => { res.setHeader('Content-Type', 'text/html'); res.end('<!doctype html><title>spa</title>'); });
    const spa = `http://127.0.0.1:${spaPort}`;
    const target = api([spa], trusted ? [spa] : undefined);
    const apiBase = `http://127.0.0.1:${await listen(target.app)}`;
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${spa}/`);
    const answers = await page.evaluate(async (base) => {
      const call = async (path: string, body: unknown) => {
        const r = await fetch(`${base}${path}`, { method: 'POST', credentials: 'include', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
        return { status: r.status, body: await r.json() as Record<string, unknown> };
      };
      return [await call('/login', { id: 'spa-user' }), await call('/orders', { item: 'x' })];
    }, apiBase);
    await context.close();
    return { spa, answers, orders: target.orders };
  }

  test('without trustedOrigins the page reads a 403 naming its origin and the option', async () => {
    const { spa, answers, orders } = await runSpa(false);
    const [login, order] = answers;
    expect([login?.status, login?.body.code]).toEqual([403, 'ERR_CSRF']);
    expect(String(login?.body.detail)).toContain(`Origin ${spa} is not`);
    expect(String(login?.body.detail)).toContain('trustedOrigins');
    expect(order?.status).toBe(401);
    expect(orders).toEqual([]);
  });

  test('with the cors list in trustedOrigins the page logs in and its cookie POST passes', async () => {
    const { answers, orders } = await runSpa(true);
    const [login, order] = answers;
    expect(login?.status).toBe(200);
    expect([order?.status, order?.body]).toEqual([201, { by: 'spa-user' }]);
    expect(orders).toEqual(['spa-user']);
  });
});
