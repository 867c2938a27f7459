/**
 * A cookie-only session (long lifetime) and a stateless JWT (short lifetime) sharing one redisStore for
 * revocation, on the Redis of this machine, through real HTTP. The subject mark written by `revokeAll` must keep
 * the cookie's TTL although the JWT strategy writes it last with its own shorter one, and a new instance whose
 * log follower cannot prove it saw every entry (the log was trimmed before it started; Redis 7.0 leaves
 * `max-deleted-entry-id` at 0-0 on a trim) must not treat the revoked cookies as clear.
 */
import express from 'express';
import { createClient } from 'redis';
import { cookieStore, principal, redisStore, requireAuth, sessionCookie, statelessJwt } from '../../lib';
import type { PrincipalMiddleware } from '../../lib/principal';
import { listenOnLoopback } from '../helpers/apps';
import { cleanupPrefix, connectRedis, keysWithPrefix, redisUrl, uniquePrefix, type TestRedisClient } from '../helpers/redis';
import { cookieSecret, secret, waitUntil } from './support';

const JWT_TTL_MS = 2000;
let admin: TestRedisClient;
const prefix = uniquePrefix('revocation-shared');
const tag = `${process.pid}-${Date.now().toString(36)}`;

interface App { url: string; auth: PrincipalMiddleware; close(): Promise<void> }
interface Cred { cookie: string | null; token: string | null }

/** One instance: a cookie-only session and a stateless JWT, both revoking through one redisStore. */
async function startApp(name: string): Promise<App> {
  const client = createClient({ url: redisUrl(), name });
  client.on('error', () => { /* surfaced by the failing command */ });
  await client.connect();
  const store = redisStore({ client: client as unknown as Parameters<typeof redisStore>[0]['client'], prefix, timeout: '500ms' });
  const auth = principal({
    strategy: [
      sessionCookie({ store: cookieStore({ secret: cookieSecret }), revocation: store, secure: false, idleTimeout: '10m', absoluteTimeout: '10m' }),
      statelessJwt({ secret, issuer: 'rv.test', audience: 'api.test', store, ttl: `${JWT_TTL_MS}ms`, clockTolerance: 0 }),
    ],
  });
  const app = express();
  app.use(express.json());
  app.use(auth);
  app.post('/login/:strategy', async (req, res, next) => {
    try {
      const strategy = req.params.strategy === 'jwt' ? 'stateless-jwt' : 'session-cookie';
      const issued = await req.auth.login({ id: String(req.body.id) }, { strategy });
      const setCookie = ([] as string[]).concat((res.getHeader('set-cookie') as string[] | string | undefined) ?? []);
      const cookie = setCookie.map((c) => c.split(';')[0] ?? '').find((c) => c.startsWith('sid=')) ?? null;
      res.json({ token: issued.token, cookie });
    } catch (err) { next(err); }
  });
  app.post('/logout', requireAuth(), async (req, res, next) => {
    try { await req.auth.logout(); res.sendStatus(204); } catch (err) { next(err); }
  });
  app.get('/me', requireAuth(), (req, res) => { res.json({ id: req.principal?.id }); });
  const { url, close: stop } = await listenOnLoopback(app);
  return {
    url,
    auth,
    async close() {
      await auth.close();
      await stop();
      client.destroy();
    },
  };
}

const headers = (c: Cred): Record<string, string> => (c.token !== null ? { authorization: `Bearer ${c.token}` } : { cookie: c.cookie ?? '' });

async function login(app: App, strategy: 'cookie' | 'jwt', id: string): Promise<Cred> {
  const res = await fetch(`${app.url}/login/${strategy}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id }) });
  expect(res.status).toBe(200);
  return (await res.json()) as Cred;
}
async function me(app: App, cred: Cred): Promise<{ status: number; code: string | undefined }> {
  const res = await fetch(`${app.url}/me`, { headers: headers(cred) });
  const body = (await res.json().catch(() => ({}))) as { code?: string };
  return { status: res.status, code: body.code };
}
async function logout(app: App, cred: Cred): Promise<number> {
  const res = await fetch(`${app.url}/logout`, { method: 'POST', headers: headers(cred) });
  await res.arrayBuffer();
  return res.status;
}
/** Whether the connection named `name` is blocked (CLIENT LIST flag `b`) in XREAD. */
async function blockedInXread(name: string): Promise<boolean> {
  const list = String(await admin.sendCommand(['CLIENT', 'LIST', 'TYPE', 'normal']));
  return list.split('\n').some((line) => line.includes(` name=${name} `) && / flags=\w*b/.test(line) && / cmd=xread/.test(line));
}
async function until(epochMs: number): Promise<void> {
  while (Date.now() < epochMs) await new Promise((resolve) => setTimeout(resolve, Math.min(50, epochMs - Date.now())));
}

beforeAll(async () => { admin = await connectRedis(); });
afterAll(async () => {
  await cleanupPrefix(admin, prefix);
  await admin.close();
});

test('cookie + JWT on one revocation store: a new instance started after the log was trimmed refuses logged-out and revoked cookies (401), never 200', async () => {
  const first = await startApp(`rvShared1-${tag}`);
  let second: App | null = null;
  try {
    const loggedOut = await login(first, 'cookie', 'alice');
    const revoked = await login(first, 'cookie', 'alice');
    const token = await login(first, 'jwt', 'alice');
    for (const cred of [loggedOut, revoked, token]) expect(await me(first, cred)).toMatchObject({ status: 200 });

    expect(await logout(first, loggedOut)).toBe(204);
    await first.auth.revokeAll('alice'); // both strategies write the subject mark; the JWT's (2 s) lands last
    const revokedAt = Date.now();
    for (const cred of [loggedOut, revoked, token]) expect(await me(first, cred)).toMatchObject({ status: 401, code: 'ERR_CREDENTIAL_REVOKED' });

    // Past the JWT's lifetime: a subject mark that took the JWT's TTL is gone now.
    await until(revokedAt + JWT_TTL_MS + 200);

    // Trim the whole log, as a writer that needs less retention does (on Redis 7.0 this leaves max-deleted-entry-id
    // at 0-0): a follower starting now can no longer read the entries.
    const log = `${prefix}rv:log`;
    await admin.sendCommand(['XTRIM', log, 'MINID', '=', String(Date.now() + 1)]);
    expect(await admin.xLen(log)).toBe(0);

    // One revocation after the trim, so the new follower's first read returns at once: once it is blocked in XREAD,
    // that first round has completed and its cache counts as in sync (answers locally, no lookup).
    const control = await login(first, 'cookie', 'bob');
    expect(await logout(first, control)).toBe(204);

    second = await startApp(`rvShared2-${tag}`);
    // Starts the cookie strategy's follower (each strategy follows the log itself; the JWT's is not started here).
    expect(await me(second, control)).toMatchObject({ status: 401, code: 'ERR_CREDENTIAL_REVOKED' });
    await waitUntil(async () => blockedInXread(`rvShared2-${tag}:rv-log`), 5_000, 'the new follower blocked in XREAD');
    expect(await me(second, loggedOut)).toMatchObject({ status: 401, code: 'ERR_CREDENTIAL_REVOKED' });
    expect(await me(second, revoked)).toMatchObject({ status: 401, code: 'ERR_CREDENTIAL_REVOKED' });
    // Not a refusal of everything: a session issued after the revocation is accepted by both.
    const fresh = await login(second, 'cookie', 'alice');
    expect(await me(second, fresh)).toMatchObject({ status: 200 });
    expect(await me(first, fresh)).toMatchObject({ status: 200 });

    // The subject mark kept the longest TTL (the cookies it revoked live 10 minutes), and nothing leaked.
    const markTtl = await admin.pTTL(`${prefix}rv:s:alice`);
    expect(markTtl).toBeGreaterThan(9 * 60_000);
    // Nothing leaked: every key under the prefix expires.
    for (const key of await keysWithPrefix(admin, prefix)) expect(await admin.pTTL(key)).toBeGreaterThan(0);
  } finally {
    await second?.close();
    await first.close();
  }
}, 30_000);
