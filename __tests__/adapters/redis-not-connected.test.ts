/**
 * A node-redis client that was never connected is named: the StoreUnavailableError's cause says to call
 * `await client.connect()`, and one warning (stable code) says so at first use — instead of every request
 * answering 503 with no hint. Real node-redis client, real Redis once connected, real HTTP.
 */
import express from 'express';
import request from 'supertest';
import { createClient } from 'redis';
import { memoryStore, principal, redisStore, requireAuth, statefulJwt, type PrincipalMiddleware, type StateStore } from '../../lib';
import { REDIS_NOT_CONNECTED } from '../../adapters/redis-not-connected';
import { cleanupPrefix, connectRedis, keysWithPrefix, redisUrl, uniquePrefix, type TestRedisClient } from '../helpers/redis';

const SECRET = 'Hn3xT7kQ1vZ9pL5mR2wB8cY4dF6gJ0sA';
const NOT_CONNECTED = 'the Redis client is not connected: call await client.connect() before principal() (or it was closed)';

/**
 * The warnings as emitted. Jest gives each test file its own `process` object, whose `on('warning')` never hears
 * what `emitWarning` sends the real process; so the calls are observed (and still go through to Node).
 */
const warnings: string[] = [];
let spy: jest.SpyInstance | undefined;
const middlewares: PrincipalMiddleware[] = [];
let admin: TestRedisClient;
const prefix = uniquePrefix('not-connected');
beforeAll(async () => {
  admin = await connectRedis();
  const emit = process.emitWarning.bind(process) as (...args: unknown[]) => void;
  spy = jest.spyOn(process, 'emitWarning').mockImplementation(((warning: string | Error, options?: { type?: string; code?: string }) => {
    if (typeof options === 'object' && options?.code === REDIS_NOT_CONNECTED) {
      expect(options.type).toBe('ExpressPrincipalWarning');
      warnings.push(String(warning));
    }
    emit(warning, options);
  }) as typeof process.emitWarning);
});
afterAll(async () => {
  spy?.mockRestore();
  await Promise.all(middlewares.map((m) => m.close()));
  await cleanupPrefix(admin, prefix);
  await admin.close();
});

/** An app whose login route reports the error's code and cause, as an app's error handler would log them. */
function app(store: StateStore): express.Express {
  const auth = principal({ strategy: statefulJwt({ secret: SECRET, store }) });
  middlewares.push(auth);
  const a = express();
  a.use(auth);
  a.post('/login', async (req, res) => {
    try {
      res.json(await req.auth.login({ id: 'alice' }));
    } catch (err) {
      const e = err as { status: number; code: string; cause?: unknown };
      res.status(e.status).json({ code: e.code, cause: e.cause instanceof Error ? e.cause.message : null });
    }
  });
  a.get('/me', requireAuth(), (req, res) => res.json({ id: req.principal?.id }));
  return a;
}

test('never connected: login and guarded requests answer 503, the cause names the fix, one warning', async () => {
  const client = createClient({ url: redisUrl() });
  client.on('error', () => { /* not connected yet: nothing to report */ });
  const target = app(redisStore({ client, prefix }));
  // A token of the same shape from a twin on a memory store, so the guard has a credential to look up.
  const twin = app(memoryStore());
  const token = (await request(twin).post('/login').expect(200)).body.token as string;

  for (let i = 0; i < 2; i++) {
    expect((await request(target).post('/login').expect(503)).body).toEqual({ code: 'ERR_STORE_UNAVAILABLE', cause: NOT_CONNECTED });
    const guarded = await request(target).get('/me').set('Authorization', `Bearer ${token}`).expect(503);
    expect(guarded.body.code).toBe('ERR_STORE_UNAVAILABLE');
    expect(guarded.headers['retry-after']).toBe('1');
  }
  expect(warnings).toHaveLength(1);
  expect(warnings[0]).toContain(`redisStore: ${NOT_CONNECTED}`);

  // Connected, the same store works at once: the message named the one thing missing.
  await client.connect();
  const issued = (await request(target).post('/login').expect(200)).body.token as string;
  expect((await request(target).get('/me').set('Authorization', `Bearer ${issued}`).expect(200)).body).toEqual({ id: 'alice' });
  expect((await keysWithPrefix(admin, prefix)).length).toBeGreaterThan(0);

  // Closed by the app: the same cause, no second warning from this store.
  await client.close();
  expect((await request(target).post('/login').expect(503)).body).toEqual({ code: 'ERR_STORE_UNAVAILABLE', cause: NOT_CONNECTED });
  expect(warnings).toHaveLength(1);
});
