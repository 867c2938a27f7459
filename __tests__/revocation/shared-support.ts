/**
 * One instance of an app whose cookie-only sessions (10-minute lifetime) and stateless JWTs (2 s) revoke through
 * one redisStore, as the issue 12 review set it up; used by shared-store.test.ts and shared-retention.test.ts.
 */
import express from 'express';
import { createClient } from 'redis';
import { cookieStore, principal, redisStore, requireAuth, sessionCookie, statelessJwt } from '../../lib';
import type { PrincipalMiddleware } from '../../lib/principal';
import { listenOnLoopback } from '../helpers/apps';
import type { AdminLike } from '../helpers/redis-admin';
import { redisUrl } from '../helpers/redis';
import { cookieSecret, secret } from './support';

export const JWT_TTL_MS = 2000;
export const COOKIE_LIFETIME = '10m';

export interface App { url: string; auth: PrincipalMiddleware; close(): Promise<void> }
export interface Cred { cookie: string | null; token: string | null }

export async function startApp(name: string, prefix: string): Promise<App> {
  const client = createClient({ url: redisUrl(), name });
  client.on('error', () => { /* surfaced by the failing command */ });
  await client.connect();
  const store = redisStore({ client: client as unknown as Parameters<typeof redisStore>[0]['client'], prefix, timeout: '3s' }); // no outage here: a loaded machine must not turn a slow first lookup into a 503
  const auth = principal({
    strategy: [
      sessionCookie({ store: cookieStore({ secret: cookieSecret }), revocation: store, secure: false, idleTimeout: COOKIE_LIFETIME, absoluteTimeout: COOKIE_LIFETIME }),
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

export async function login(app: App, strategy: 'cookie' | 'jwt', id: string): Promise<Cred> {
  const res = await fetch(`${app.url}/login/${strategy}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id }) });
  if (res.status !== 200) throw new Error(`login: ${res.status} ${await res.text()}`);
  return (await res.json()) as Cred;
}
export async function me(app: App, cred: Cred): Promise<{ status: number; code: string | undefined }> {
  const res = await fetch(`${app.url}/me`, { headers: headers(cred) });
  const body = (await res.json().catch(() => ({}))) as { code?: string };
  return { status: res.status, code: body.code };
}
export async function logout(app: App, cred: Cred): Promise<number> {
  const res = await fetch(`${app.url}/logout`, { method: 'POST', headers: headers(cred) });
  await res.arrayBuffer();
  return res.status;
}

/** Waits for a moment in time (the lifetime or retention a test is about), polling the clock. */
export async function until(epochMs: number): Promise<void> {
  while (Date.now() < epochMs) await new Promise((resolve) => setTimeout(resolve, Math.min(200, Math.max(1, epochMs - Date.now()))));
}

/**
 * Whether the connection named `name` is blocked (CLIENT LIST flag `b`) in XREAD. When the log had entries for
 * it, its first read returned at once; blocked means that round completed and its cache counts as in sync.
 */
export async function blockedInXread(admin: AdminLike, name: string): Promise<boolean> {
  const list = String(await admin.sendCommand(['CLIENT', 'LIST', 'TYPE', 'normal']));
  return list.split('\n').some((line) => line.includes(` name=${name} `) && / flags=\w*b/.test(line) && / cmd=xread/.test(line));
}
