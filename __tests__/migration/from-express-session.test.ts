/**
 * sessionCookie({ legacy }): the sessions a real express-session + connect-redis app wrote (the guide's before app)
 * are read by the after app on the same Redis; each moves to a new record and cookie on its first request.
 */
import express from 'express';
import request from 'supertest';
import signature from 'cookie-signature';
import { cookieStore, memoryStore, principal, redisStore, requireAuth, sessionCookie, statefulJwt } from '../../lib';
import { LEGACY_SECRET_WARNING } from '../../lib/envelopes/secrets';
import { cleanupPrefix, connectRedis, keysWithPrefix, uniquePrefix, type TestRedisClient } from '../helpers/redis';
import { listen, type Listening } from '../microservice/support';
import { beforeApp } from '../guides/from-express-session/before';
import { afterApp } from '../guides/from-express-session/after';

const OLD_SECRET = 'keyboard cat';
const SECRET = 'Zr7Tv5Wy1Ab4Cd6Ef8Gh0Ij2Klk8Jd02mXq9Lp3';

let redis: TestRedisClient;
let prefix: string;
const servers: Listening[] = [];
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  redis = await connectRedis();
  prefix = uniquePrefix('from-express-session');
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  for (const close of closers) await close();
  await cleanupPrefix(redis, prefix);
  await redis.close();
});

const cookiesOf = (res: request.Response): string[] => (res.headers['set-cookie'] as unknown as string[] | undefined) ?? [];
const named = (res: request.Response, name: string) => cookiesOf(res).find((c) => c.startsWith(`${name}=`));
const pair = (setCookie: string) => setCookie.split(';')[0] as string;

/** A user logged in on the before app; resolves to its `connect.sid=...` pair and the session id. */
async function loggedInBefore(legacyPrefix: string): Promise<{ cookie: string; sid: string }> {
  const server = await listen(beforeApp({ client: redis as never, prefix: legacyPrefix, secret: OLD_SECRET }));
  servers.push(server);
  const login = await request(server.url).post('/login').type('form').send({ username: 'alice', password: 'wonderland' }).expect(303);
  const cookie = pair(named(login, 'connect.sid') as string);
  await request(server.url).get('/me').set('Cookie', cookie).expect(200, { id: 'alice', roles: ['admin'] });
  const sid = decodeURIComponent(cookie.slice('connect.sid='.length)).slice(2).split('.')[0] as string;
  return { cookie, sid };
}

async function startAfter(name: string) {
  const legacyPrefix = `${prefix}${name}:sess:`;
  const storePrefix = `${prefix}${name}:ep:`;
  const { app, auth } = afterApp({ client: redis as never, legacyPrefix, legacySecret: OLD_SECRET, secret: SECRET, prefix: storePrefix, secure: false });
  closers.push(() => auth.close());
  const server = await listen(app);
  servers.push(server);
  return { url: server.url, legacyPrefix, storePrefix, auth };
}

/** An app whose identify() knows only bob. */
async function startBobOnly(name: string) {
  const legacyPrefix = `${prefix}${name}:sess:`;
  const storePrefix = `${prefix}${name}:ep:`;
  const auth = principal({
    strategy: sessionCookie({
      secret: SECRET, secure: false, store: redisStore({ client: redis as never, prefix: storePrefix }),
      legacy: { prefix: legacyPrefix, secret: OLD_SECRET, identify: (sess) => (sess.userId === 'bob' ? { id: 'bob' } : null) },
    }),
  });
  closers.push(() => auth.close());
  const app = express();
  app.use(auth);
  app.get('/me', requireAuth(), (req, res) => res.json({ id: req.principal?.id }));
  const server = await listen(app);
  servers.push(server);
  return { url: server.url, legacyPrefix, storePrefix };
}

describe('sessionCookie legacy (express-session + connect-redis)', () => {
  it('logs in an old session on its first request, moves it to a new record and cookie, and deletes the old record', async () => {
    const { url, legacyPrefix, storePrefix } = await startAfter('move');
    const old = await loggedInBefore(legacyPrefix);
    const first = await request(url).get('/me').set('Cookie', old.cookie).expect(200);
    expect(first.body).toEqual({ id: 'alice', roles: ['admin'] });
    const fresh = named(first, 'sid');
    expect(fresh).toMatch(/^sid=s%3A/);
    expect(named(first, 'connect.sid')).toMatch(/Expires=Thu, 01 Jan 1970/);
    expect(await redis.exists(`${legacyPrefix}${old.sid}`)).toBe(0);
    expect((await keysWithPrefix(redis, `${storePrefix}sess:`)).length).toBe(1);
    // The new cookie alone keeps working; the old one is spent.
    await request(url).get('/me').set('Cookie', pair(fresh as string)).expect(200, { id: 'alice', roles: ['admin'] });
    await request(url).get('/me').set('Cookie', pair(fresh as string)).expect(200);
    const replay = await request(url).get('/me').set('Cookie', old.cookie).expect(401);
    expect(replay.body.code).toBe('ERR_INVALID_CREDENTIAL');
  });

  it('refuses an old cookie with a bad signature: 401, nothing written, the old record kept', async () => {
    const { url, legacyPrefix, storePrefix } = await startAfter('forged');
    const old = await loggedInBefore(legacyPrefix);
    const forged = `connect.sid=${encodeURIComponent(`s:${signature.sign(old.sid, 'another secret')}`)}`;
    const res = await request(url).get('/me').set('Cookie', forged).expect(401);
    expect(res.body.code).toBe('ERR_INVALID_CREDENTIAL');
    expect(cookiesOf(res)).toEqual([]);
    expect(await redis.exists(`${legacyPrefix}${old.sid}`)).toBe(1);
    expect(await keysWithPrefix(redis, storePrefix)).toEqual([]);
  });

  it('refuses a session identify() maps to nobody: 401, nothing written, the old record kept', async () => {
    const { url, legacyPrefix, storePrefix } = await startBobOnly('nobody');
    const old = await loggedInBefore(legacyPrefix);
    const res = await request(url).get('/me').set('Cookie', old.cookie).expect(401);
    expect(res.body.code).toBe('ERR_INVALID_CREDENTIAL');
    expect(cookiesOf(res)).toEqual([]);
    expect(await redis.exists(`${legacyPrefix}${old.sid}`)).toBe(1);
    expect(await keysWithPrefix(redis, storePrefix)).toEqual([]);
  });

  it('revokeAll and update reach moved sessions (old ones are not indexed by user, and are skipped, not an error)', async () => {
    const { url, legacyPrefix, auth } = await startAfter('admin');
    const old = await loggedInBefore(legacyPrefix);
    const first = await request(url).get('/me').set('Cookie', old.cookie).expect(200);
    const fresh = pair(named(first, 'sid') as string);
    await expect(auth.update('alice', { roles: ['viewer'] })).resolves.toBe(1);
    await request(url).get('/me').set('Cookie', fresh).expect(200, { id: 'alice', roles: ['viewer'] });
    await expect(auth.revokeAll('alice')).resolves.toBeUndefined();
    await request(url).get('/me').set('Cookie', fresh).expect(401);
  });

  it('a logout after the move ends the new session; neither cookie logs in again', async () => {
    const { url, legacyPrefix } = await startAfter('logout');
    const old = await loggedInBefore(legacyPrefix);
    const first = await request(url).get('/me').set('Cookie', old.cookie).expect(200);
    const fresh = pair(named(first, 'sid') as string);
    await request(url).post('/logout').set('Cookie', fresh).expect(303);
    await request(url).get('/me').set('Cookie', fresh).expect(401);
    await request(url).get('/me').set('Cookie', old.cookie).expect(401);
  });
});

describe('sessionCookie legacy: identify and outages', () => {
  /** An app over `client` whose identify() loads the roles (a promise) and counts its calls. */
  async function startLoading(name: string, client: TestRedisClient) {
    const calls: unknown[] = [];
    const auth = principal({
      strategy: sessionCookie({
        secret: SECRET, secure: false, store: redisStore({ client: client as never, prefix: `${prefix}${name}:ep:` }),
        legacy: {
          prefix: `${prefix}${name}:sess:`, secret: OLD_SECRET,
          identify: async (sess) => { calls.push(sess.userId); await new Promise((r) => setImmediate(r)); return { id: String(sess.userId), roles: ['loaded'] }; },
        },
      }),
    });
    closers.push(() => auth.close());
    const app = express();
    app.use(auth);
    app.get('/me', requireAuth(), (req, res) => res.json({ id: req.principal?.id, roles: req.principal?.roles }));
    const server = await listen(app);
    servers.push(server);
    return { url: server.url, calls };
  }

  it('takes what an async identify() loads', async () => {
    const { url, calls } = await startLoading('async', redis);
    const old = await loggedInBefore(`${prefix}async:sess:`);
    const first = await request(url).get('/me').set('Cookie', old.cookie).expect(200, { id: 'alice', roles: ['loaded'] });
    await request(url).get('/me').set('Cookie', pair(named(first, 'sid') as string)).expect(200, { id: 'alice', roles: ['loaded'] });
    expect(calls).toEqual(['alice']);
  });

  it('answers 503 when Redis cannot be reached, and the old session still moves once it can', async () => {
    const old = await loggedInBefore(`${prefix}down:sess:`);
    const closed = await connectRedis();
    await closed.close();
    const down = await startLoading('down', closed);
    const res = await request(down.url).get('/me').set('Cookie', old.cookie).expect(503);
    expect(res.body.code).toBe('ERR_STORE_UNAVAILABLE');
    expect(cookiesOf(res)).toEqual([]);
    expect(down.calls).toEqual([]);
    const up = await startLoading('down', redis);
    await request(up.url).get('/me').set('Cookie', old.cookie).expect(200, { id: 'alice', roles: ['loaded'] });
  });
});

describe('sessionCookie legacy options', () => {
  // Nothing is written under it: these strategies are built, never used.
  const OPTS = 'ept:legacy-options:';
  const store = () => redisStore({ client: redis as never, prefix: OPTS });
  const identify = () => null;

  it('accepts a short legacy secret for verifying, with one warning carrying a stable code', () => {
    // Jest gives each test file its own `process`, whose on('warning') never hears emitWarning: observe the calls.
    const spy = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      sessionCookie({ secret: SECRET, store: store(), legacy: { secret: ['keyboard cat', 'another one'], identify } });
      const ours = spy.mock.calls.filter(([, options]) => (options as { code?: string } | undefined)?.code === LEGACY_SECRET_WARNING);
      expect(ours).toHaveLength(1);
      expect(String(ours[0]?.[0])).toMatch(/verifying old cookies only \(never for signing\); 2 of them weak/);
    } finally {
      spy.mockRestore();
    }
  });

  it.each([
    [{ secret: OLD_SECRET, identify, secrte: 'x' }, /unknown option 'legacy.secrte' \(did you mean 'legacy.secret'\?\)/],
    [{ identify }, /`legacy.secret` is required/],
    [{ secret: OLD_SECRET }, /`legacy.identify\(session\)` is required/],
    [{ secret: OLD_SECRET, identify, cookie: 'sid' }, /`legacy.cookie` 'sid' is also the new session cookie/],
    [{ secret: OLD_SECRET, identify, prefix: `${OPTS}sess:` }, /`legacy.prefix` .* overlaps the new records'/],
    [{ secret: OLD_SECRET, identify, prefix: '' }, /`legacy.prefix` must be a non-empty string/],
  ])('refuses a bad legacy configuration at start-up (%#)', (legacy, message) => {
    expect(() => sessionCookie({ secret: SECRET, secure: false, store: store(), legacy: legacy as never })).toThrow(message);
  });

  it('refuses legacy on a store that cannot reach the old Redis records, and on a strategy that does not issue', () => {
    expect(() => sessionCookie({ secret: SECRET, store: memoryStore(), legacy: { secret: OLD_SECRET, identify } })).toThrow(/use redisStore\(\{ client \}\) with the same Redis/);
    expect(() => sessionCookie({ secret: SECRET, store: cookieStore({ secret: SECRET }), legacy: { secret: OLD_SECRET, identify } })).toThrow(/not cookieStore/);
    const withLegacy = sessionCookie({ secret: SECRET, store: store(), legacy: { secret: OLD_SECRET, identify } });
    const jwt = statefulJwt({ secret: SECRET, store: store() });
    expect(() => principal({ strategy: [jwt, withLegacy] })).toThrow(/`legacy` must be the first strategy/);
  });
});
