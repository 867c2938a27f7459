/**
 * principal({ strategy: next, migrateFrom: previous }): a logged-in user is moved
 * sessionCookie → statefulJwt → statelessJwt → sessionCookie without a single 401, over real HTTP,
 * with one supertest agent carrying every cookie. Each old credential is ended where it has state.
 */
import express, { type RequestHandler } from 'express';
import request from 'supertest';
import {
  principal, statelessJwt, statefulJwt, sessionCookie, memoryStore, redisStore, requireAuth, requireRole,
  type PrincipalMiddleware, type StateStore,
} from '../../lib';
import type { MigrationOutcome } from '../../lib/migration';
import { cleanupPrefix, connectRedis, uniquePrefix, type TestRedisClient } from '../helpers/redis';
import { listen, type Listening } from '../microservice/support';

const SESSION_SECRET = 'Zr7Tv5Wy1Ab4Cd6Ef8Gh0Ij2Klk8Jd02mXq9Lp3';
const JWT_SECRET = 'k8Jd02mXq9Lp3Zr7Tv5Wy1Ab4Cd6Ef8Gh0Ij2Kl';
const JWT_SECRET_2 = 'Q1w2E3r4T5y6U7i8O9p0A1s2D3f4G5h6J7k8L9z0';

let redis: TestRedisClient;
let prefix: string;
const middlewares: PrincipalMiddleware[] = [];
const servers: Listening[] = [];

beforeAll(async () => {
  redis = await connectRedis();
  prefix = uniquePrefix('migration');
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  for (const m of middlewares) await m.close();
  await cleanupPrefix(redis, prefix);
  await redis.close();
});

/** One app whose auth middleware is swapped between "deploys"; the routes never change. */
async function deployableApp() {
  let current: RequestHandler = (_req, _res, next) => next();
  const app = express();
  app.use(express.json());
  app.use((req, res, next) => current(req, res, next));
  app.post('/login', async (req, res) => {
    const issued = await req.auth.login({ id: String(req.body.id), roles: ['user', 'editor'], scopes: ['orders:read'], claims: { plan: 'pro' } });
    res.json(issued);
  });
  app.get('/me', requireAuth(), (req, res) => {
    const p = req.principal!;
    res.json({ id: p.id, roles: p.roles, scopes: p.scopes, plan: p.claims.plan, strategy: p.strategy, authenticatedAt: p.authenticatedAt.getTime() });
  });
  app.get('/edit', requireRole('editor'), (_req, res) => res.json({ ok: true }));
  app.post('/logout', async (req, res) => { await req.auth.logout(); res.sendStatus(204); });
  const server = await listen(app);
  servers.push(server);
  return {
    url: server.url,
    deploy(auth: PrincipalMiddleware) { middlewares.push(auth); current = auth; },
  };
}

const cookiesOf = (res: request.Response): string[] => (res.headers['set-cookie'] as unknown as string[] | undefined) ?? [];
const pair = (setCookie: string) => setCookie.split(';')[0] as string;
const named = (res: request.Response, name: string) => cookiesOf(res).find((c) => c.startsWith(`${name}=`));
const isCleared = (setCookie: string | undefined) => setCookie !== undefined && /Expires=Thu, 01 Jan 1970/.test(setCookie);

test('sessionCookie → statefulJwt → statelessJwt → sessionCookie: never a 401, authenticatedAt kept, old credentials ended', async () => {
  const { url, deploy } = await deployableApp();
  const agent = request.agent(url);
  const redisStateStore: StateStore = redisStore({ client: redis as never, prefix: `${prefix}rs:` });
  const outcomes: MigrationOutcome[] = [];

  // Stage 1: classic server-side sessions.
  const sessions1 = sessionCookie({ secret: SESSION_SECRET, store: memoryStore(), secure: false });
  deploy(principal({ strategy: sessions1 }));
  const login = await agent.post('/login').send({ id: 'alice' }).expect(200);
  const oldSid = pair(named(login, 'sid') as string);
  const first = await agent.get('/me').expect(200);
  expect(first.body).toMatchObject({ id: 'alice', strategy: 'session-cookie', roles: ['user', 'editor'], scopes: ['orders:read'], plan: 'pro' });
  const authenticatedAtSec = Math.floor(first.body.authenticatedAt / 1000);

  // Stage 2: statefulJwt in a cookie, sessions still accepted and converted.
  const stateful = statefulJwt({ secret: JWT_SECRET, store: redisStateStore, carrier: 'cookie', cookie: { secure: false, name: 'ep_sf' } });
  const stage2 = principal({ strategy: stateful, migrateFrom: sessions1 });
  stage2.on('migrated', (o) => outcomes.push(o));
  deploy(stage2);
  const moved1 = await agent.get('/me').expect(200);
  expect(moved1.body.strategy).toBe('session-cookie'); // this request was authenticated by the old credential
  expect(named(moved1, 'ep_sf')).toBeDefined();
  expect(isCleared(named(moved1, 'sid'))).toBe(true);
  expect(moved1.headers['cache-control']).toBe('no-store');
  const oldStateful = pair(named(moved1, 'ep_sf') as string);
  const now2 = await agent.get('/me').expect(200);
  expect(now2.body).toMatchObject({ id: 'alice', strategy: 'stateful-jwt', roles: ['user', 'editor'], scopes: ['orders:read'], plan: 'pro' });
  expect(Math.floor(now2.body.authenticatedAt / 1000)).toBe(authenticatedAtSec);
  await agent.get('/edit').expect(200);
  // The old session was destroyed in its store: a stolen copy of the sid cookie is worthless.
  await request(url).get('/me').set('Cookie', oldSid).expect(401);

  // Stage 3: statelessJwt in a cookie (with a store, so the old credential can be revoked: a deny-list).
  const stateless = statelessJwt({ secret: JWT_SECRET_2, carrier: 'cookie', cookie: { secure: false, name: 'ep_sl' }, store: memoryStore() });
  const stage3 = principal({ strategy: stateless, migrateFrom: stateful });
  stage3.on('migrated', (o) => outcomes.push(o));
  deploy(stage3);
  const moved2 = await agent.get('/me').expect(200);
  expect(moved2.body.strategy).toBe('stateful-jwt');
  expect(named(moved2, 'ep_sl')).toBeDefined();
  expect(isCleared(named(moved2, 'ep_sf'))).toBe(true);
  const oldStateless = pair(named(moved2, 'ep_sl') as string);
  const now3 = await agent.get('/me').expect(200);
  expect(now3.body).toMatchObject({ id: 'alice', strategy: 'stateless-jwt', roles: ['user', 'editor'], scopes: ['orders:read'], plan: 'pro' });
  expect(Math.floor(now3.body.authenticatedAt / 1000)).toBe(authenticatedAtSec);
  // The stateful record is gone from Redis.
  await request(url).get('/me').set('Cookie', oldStateful).expect(401);

  // Stage 4: back to server-side sessions (a fresh store).
  const sessions2 = sessionCookie({ secret: SESSION_SECRET, store: memoryStore(), secure: false });
  const stage4 = principal({ strategy: sessions2, migrateFrom: stateless });
  stage4.on('migrated', (o) => outcomes.push(o));
  deploy(stage4);
  const moved3 = await agent.get('/me').expect(200);
  expect(moved3.body.strategy).toBe('stateless-jwt');
  expect(named(moved3, 'sid')).toBeDefined();
  expect(isCleared(named(moved3, 'ep_sl'))).toBe(true);
  const now4 = await agent.get('/me').expect(200);
  expect(now4.body).toMatchObject({ id: 'alice', strategy: 'session-cookie', roles: ['user', 'editor'], scopes: ['orders:read'], plan: 'pro' });
  expect(Math.floor(now4.body.authenticatedAt / 1000)).toBe(authenticatedAtSec);
  // The stateless token was put on the deny-list (its jti): a copy replayed later is refused.
  const replay = await request(url).get('/me').set('Cookie', oldStateless).expect(401);
  expect(replay.body.code).toBe('ERR_CREDENTIAL_REVOKED');

  expect(outcomes.map((o) => [o.from, o.to, o.oldRevoked, o.id])).toEqual([
    ['session-cookie', 'stateful-jwt', true, 'alice'],
    ['stateful-jwt', 'stateless-jwt', true, 'alice'],
    ['stateless-jwt', 'session-cookie', true, 'alice'],
  ]);

  // A new login after the move is a new proof of identity; logout ends the new session.
  await agent.post('/logout').expect(204);
  await agent.get('/me').expect(401);
});

test('bearer to bearer (statefulJwt → statelessJwt): the new token comes back in X-Access-Token, the old session ends', async () => {
  const { url, deploy } = await deployableApp();
  const store = redisStore({ client: redis as never, prefix: `${prefix}hb:` });
  const stateful = statefulJwt({ secret: JWT_SECRET, store });
  deploy(principal({ strategy: stateful }));
  const login = await request(url).post('/login').send({ id: 'bob' }).expect(200);
  const oldToken = login.body.token as string;
  const before = await request(url).get('/me').set('Authorization', `Bearer ${oldToken}`).expect(200);

  const next = principal({ strategy: statelessJwt({ secret: JWT_SECRET_2 }), migrateFrom: stateful });
  const events: unknown[] = [];
  next.on('migrated', (o) => events.push(o));
  deploy(next);
  const moved = await request(url).get('/me').set('Authorization', `Bearer ${oldToken}`).set('Origin', url).expect(200);
  const fresh = moved.headers['x-access-token'] as string;
  // The event names the move, never the credentials themselves.
  expect(events).toHaveLength(1);
  expect(JSON.stringify(events)).not.toContain(fresh);
  expect(JSON.stringify(events)).not.toContain(oldToken);
  expect(fresh).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
  expect(moved.headers['access-control-expose-headers']).toMatch(/X-Access-Token/);
  const after = await request(url).get('/me').set('Authorization', `Bearer ${fresh}`).expect(200);
  expect(after.body).toMatchObject({ id: 'bob', strategy: 'stateless-jwt' });
  expect(Math.floor(after.body.authenticatedAt / 1000)).toBe(Math.floor(before.body.authenticatedAt / 1000));
  await request(url).get('/me').set('Authorization', `Bearer ${oldToken}`).expect(401);
});

test('if the new credential cannot be issued, nothing is revoked and the old credential keeps working', async () => {
  const { url, deploy } = await deployableApp();
  const sessions = sessionCookie({ secret: SESSION_SECRET, store: memoryStore(), secure: false });
  deploy(principal({ strategy: sessions }));
  const agent = request.agent(url);
  await agent.post('/login').send({ id: 'carol' }).expect(200);

  // A store that is full refuses writes (fail closed): the move cannot happen yet.
  const full = memoryStore({ maxEntries: 1 });
  await full.set('filler', 'x', 60_000);
  const target = statefulJwt({ secret: JWT_SECRET, store: full, carrier: 'cookie', cookie: { secure: false, name: 'ep_sf' } });
  const failing = principal({ strategy: target, migrateFrom: sessions });
  const outcomes: MigrationOutcome[] = [];
  failing.on('migrated', (o) => outcomes.push(o));
  deploy(failing);
  const res = await agent.get('/me').expect(200);
  expect(res.body).toMatchObject({ id: 'carol', strategy: 'session-cookie' });
  expect(named(res, 'ep_sf')).toBeUndefined();
  expect(outcomes).toHaveLength(1);
  expect(outcomes[0]?.error?.code).toBe('ERR_STORE_UNAVAILABLE');
  expect(outcomes[0]?.oldRevoked).toBe(false);
  await agent.get('/me').expect(200);
  await full.delete('filler');
  const moved = await agent.get('/me').expect(200);
  expect(named(moved, 'ep_sf')).toBeDefined();
  const now = await agent.get('/me').expect(200);
  expect(now.body.strategy).toBe('stateful-jwt');
});

test('configuration: migrateFrom must be a strategy that is not also current', () => {
  const s = statelessJwt({ secret: JWT_SECRET });
  expect(() => principal({ strategy: s, migrateFrom: s })).toThrow(/both in `strategy` and in `migrateFrom`/);
  expect(() => principal({ strategy: s, migrateFrom: {} as never })).toThrow(/migrateFrom must be a strategy/);
});
