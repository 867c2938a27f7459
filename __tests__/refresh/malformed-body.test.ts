/**
 * A malformed JSON body sent to the endpoints that parse their own body (`refreshHandler()`, `logoutHandler()`),
 * over HTTP against real Redis: the answer is 400 ERR_MALFORMED_REQUEST, and no part of the error an app's error
 * handler (and its logger) sees holds any piece of the refresh token the body carried.
 */
import { inspect } from 'node:util';
import express, { type NextFunction, type Request, type Response } from 'express';
import request from 'supertest';
import { principal, redisStore, statelessJwt, type PrincipalMiddleware } from '../../lib';
import { cleanupPrefix, connectRedis, uniquePrefix, type TestRedisClient } from '../helpers/redis';
import { SECRET } from '../freshness/support';

let client: TestRedisClient;
const prefix = uniquePrefix('refresh-malformed-body');
const built: PrincipalMiddleware[] = [];
let n = 0;

beforeAll(async () => { client = await connectRedis(); });
afterAll(async () => {
  for (const auth of built) await auth.close();
  await cleanupPrefix(client, prefix);
  await client.close();
});

/** No app-wide body parser: the endpoints parse their own bodies. The error handler keeps what it is given. */
function app(onError: 'respond' | 'next') {
  const store = redisStore({ client, prefix: `${prefix}${n++}:` });
  const auth = principal({ strategy: statelessJwt({ secret: SECRET, store, refresh: { store } }), onError });
  built.push(auth);
  const errors: unknown[] = [];
  const a = express();
  a.use(auth);
  a.post('/login', express.json(), async (req: Request, res: Response, next: NextFunction) => {
    try { res.json(await req.auth.login({ id: (req.body as { id: string }).id })); } catch (err) { next(err); }
  });
  a.post('/auth/refresh', auth.refreshHandler());
  a.post('/auth/refresh/logout', auth.logoutHandler());
  a.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    errors.push(err);
    const status = (err as { status?: unknown }).status;
    res.status(typeof status === 'number' ? status : 500).json({ code: (err as { code?: unknown }).code ?? null });
  });
  return { app: a, errors };
}

/** Every string reachable from `value` (own properties, enumerable or not, prototypes' getters excluded), plus its inspection. */
function everyString(value: unknown, seen = new Set<unknown>()): string[] {
  if (typeof value === 'string') return [value];
  if (typeof value !== 'object' || value === null || seen.has(value)) return [];
  seen.add(value);
  const out: string[] = [];
  for (const key of Reflect.ownKeys(value)) {
    out.push(String(key));
    out.push(...everyString((value as Record<PropertyKey, unknown>)[key], seen));
  }
  return out;
}

/** Any 8-character piece of the token: JSON.parse messages quote a snippet of their input. */
function leaks(haystack: string, token: string): string[] {
  const found: string[] = [];
  for (let i = 0; i + 8 <= token.length; i += 1) if (haystack.includes(token.slice(i, i + 8))) found.push(token.slice(i, i + 8));
  return found;
}

const malformed = (token: string) => `{"refreshToken":"${token}",`;

for (const path of ['/auth/refresh', '/auth/refresh/logout']) {
  test(`${path}: malformed JSON holding a refresh token reaches the error handler as 400 ERR_MALFORMED_REQUEST, with no piece of the token`, async () => {
    const t = app('next');
    const token = (await request(t.app).post('/login').send({ id: 'alice' }).expect(200)).body.refreshToken as string;
    const res = await request(t.app).post(path).set('Content-Type', 'application/json').send(malformed(token));
    expect(res.status).toBe(400);
    expect(t.errors).toHaveLength(1);
    const err = t.errors[0];
    const text = [...everyString(err), inspect(err, { showHidden: true, depth: null }), String(err), JSON.stringify(err)].join('\n');
    expect(leaks(text, token)).toEqual([]);
    expect(res.body.code).toBe('ERR_MALFORMED_REQUEST');
    // The token was not consumed by the failed request.
    await request(t.app).post('/auth/refresh').send(JSON.stringify({ refreshToken: token })).set('Content-Type', 'application/json').expect(200);
  });

  test(`${path}: with onError 'respond', a 400 problem+json that echoes nothing`, async () => {
    const t = app('respond');
    const token = (await request(t.app).post('/login').send({ id: 'bob' }).expect(200)).body.refreshToken as string;
    const res = await request(t.app).post(path).set('Content-Type', 'application/json').send(malformed(token));
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(res.body.code).toBe('ERR_MALFORMED_REQUEST');
    expect(leaks(JSON.stringify(res.headers) + res.text, token)).toEqual([]);
    expect(t.errors).toEqual([]);
  });
}
