/**
 * Two-instance harness for the revocation tests: each instance is its own Express app, its own node-redis
 * client (named, so its revocation-log follower `<name>:rv-log` can be found in CLIENT LIST) and its own
 * middleware, all sharing one Redis and one key prefix.
 */
import { listenOnLoopback } from '../helpers/apps';
import express from 'express';
import { createClient, createCluster } from 'redis';
import { cookieStore, principal, redisStore, requireAuth, sessionCookie, statelessJwt } from '../../lib';
import type { PrincipalMiddleware } from '../../lib/principal';

export const secret = 'k8Jd02mXq9Lp3Zr7Tv5Wy1Ab4Cd6Ef8Gh0Ij2Kl';
export const cookieSecret = 'Zq7Lm2Xc9Vb4Nn6Mm8Kk0Jj1Hh3Gg5Ff7Dd9Ss2Aa';

export interface Instance {
  name: string;
  url: string;
  client: { ping(): Promise<unknown>; readonly isOpen: boolean; destroy(): void };
  auth: PrincipalMiddleware;
  close(): Promise<void>;
}

export interface InstanceOptions {
  redisUrl: string;
  prefix: string;
  name: string;
  maxRevocationLag?: string | number;
  revocationCacheSize?: number;
  kind?: 'jwt' | 'sealed';
  /** Redis command deadline for direct lookups. */
  timeout?: string;
  /** Use a node-redis cluster client over these nodes instead of a single client at redisUrl. */
  rootNodes?: { url: string }[];
}

export async function startInstance(o: InstanceOptions): Promise<Instance> {
  const socket = { reconnectStrategy: (n: number) => Math.min(20 * 2 ** n, 200) };
  const client = o.rootNodes
    ? createCluster({ rootNodes: o.rootNodes, defaults: { name: o.name, socket } })
    : createClient({ url: o.redisUrl, name: o.name, socket });
  client.on('error', () => { /* outages are part of the tests */ });
  await client.connect();
  const store = redisStore({ client: client as unknown as Parameters<typeof redisStore>[0]['client'], prefix: o.prefix, timeout: o.timeout ?? '500ms' });
  const tuning = {
    ...(o.maxRevocationLag !== undefined ? { maxRevocationLag: o.maxRevocationLag } : {}),
    ...(o.revocationCacheSize !== undefined ? { revocationCacheSize: o.revocationCacheSize } : {}),
  };
  const strategy = o.kind === 'sealed'
    ? sessionCookie({ store: cookieStore({ secret: cookieSecret }), revocation: store, secure: false, ...tuning } as Parameters<typeof sessionCookie>[0])
    : statelessJwt({ secret, issuer: 'rv.test', audience: 'api.test', store, ...tuning });
  const auth = principal({ strategy });
  const app = express();
  app.use(express.json());
  app.use(auth);
  app.post('/login', async (req, res, next) => {
    try {
      const issued = await req.auth.login({ id: String(req.body.id) });
      const setCookie = res.getHeader('set-cookie');
      const cookie = ([] as string[]).concat((setCookie as string[] | string | undefined) ?? []).map((c) => c.split(';')[0] ?? '').find((c) => c.startsWith('sid='));
      res.json({ token: issued.token, cookie: cookie ?? null });
    } catch (err) { next(err); }
  });
  app.post('/logout', requireAuth(), async (req, res, next) => {
    try { await req.auth.logout(); res.sendStatus(204); } catch (err) { next(err); }
  });
  app.get('/me', requireAuth(), (req, res) => { res.json({ id: req.principal?.id }); });
  app.use((err: { status?: number }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    res.status(err.status ?? 500).json({ error: String(err) });
  });
  const { url, close: stop } = await listenOnLoopback(app);
  return {
    name: o.name,
    url,
    client,
    auth,
    async close() {
      await auth.close();
      await stop();
      if (client.isOpen) client.destroy();
    },
  };
}

/** A credential: a bearer token (statelessJwt) or a cookie header (sealed session). */
export interface Cred { token: string | null; cookie: string | null }

export async function login(inst: Instance, id: string): Promise<Cred> {
  const res = await fetch(`${inst.url}/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id }) });
  if (res.status !== 200) throw new Error(`login on ${inst.name}: ${res.status} ${await res.text()}`);
  return (await res.json()) as Cred;
}

function headers(cred: Cred): Record<string, string> {
  return cred.token !== null ? { authorization: `Bearer ${cred.token}` } : { cookie: cred.cookie ?? '' };
}

export async function me(inst: Instance, cred: Cred): Promise<{ status: number; code: string | undefined }> {
  const res = await fetch(`${inst.url}/me`, { headers: headers(cred) });
  const body = (await res.json().catch(() => ({}))) as { code?: string };
  return { status: res.status, code: body.code };
}

export async function logout(inst: Instance, cred: Cred): Promise<number> {
  const res = await fetch(`${inst.url}/logout`, { method: 'POST', headers: headers(cred) });
  await res.arrayBuffer();
  return res.status;
}

/** Polls `me` on `inst` until it is refused; resolves to ms elapsed since `since` (performance.now()). */
export async function refusedWithin(inst: Instance, cred: Cred, since: number, deadlineMs: number): Promise<{ elapsed: number; status: number; code: string | undefined }> {
  for (;;) {
    const r = await me(inst, cred);
    const elapsed = performance.now() - since;
    if (r.status !== 200) return { elapsed, ...r };
    if (elapsed > deadlineMs) return { elapsed, ...r };
    await new Promise((resolve) => setImmediate(resolve));
  }
}

export { clientIds, waitUntil, type AdminLike } from '../helpers/redis-admin';
import type { AdminLike } from '../helpers/redis-admin';

export async function commandsProcessed(admin: AdminLike): Promise<number> {
  const info = String(await admin.sendCommand(['INFO', 'stats']));
  return Number(/total_commands_processed:(\d+)/.exec(info)?.[1]);
}
