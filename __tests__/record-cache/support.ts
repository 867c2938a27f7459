/**
 * Two-instance harness for the session-record cache: each instance is its own Express app, its own named node-redis
 * client (its invalidation follower shows in CLIENT LIST as `<name>:rv-log`) and its own middleware, sharing one
 * Redis and one key prefix (or one memoryStore).
 */
import { listenOnLoopback } from '../helpers/apps';
import { performance } from 'node:perf_hooks';
import express from 'express';
import { createClient } from 'redis';
import { principal, redisStore, requireAuth, sessionCookie, statefulJwt, type StateStore } from '../../lib';
import type { PrincipalMiddleware } from '../../lib/principal';
import type { RecordCacheSetting } from '../../lib/state/record-cache';

export const secret = 'k8Jd02mXq9Lp3Zr7Tv5Wy1Ab4Cd6Ef8Gh0Ij2Kl';
export type Kind = 'stateful-jwt' | 'session-cookie';

export interface Instance {
  name: string;
  url: string;
  auth: PrincipalMiddleware;
  store: StateStore;
  close(): Promise<void>;
}

export interface InstanceOptions {
  kind: Kind;
  name: string;
  prefix: string;
  /** A Redis URL, or a shared memoryStore. */
  redisUrl?: string;
  memory?: StateStore;
  recordCache?: RecordCacheSetting;
  timeouts?: { idleTimeout?: string; absoluteTimeout?: string; touchInterval?: string };
}

export async function startInstance(o: InstanceOptions): Promise<Instance> {
  let client: ReturnType<typeof createClient> | null = null;
  let store: StateStore;
  if (o.memory) store = o.memory;
  else {
    const socket = { reconnectStrategy: (n: number) => Math.min(20 * 2 ** n, 200) };
    client = createClient({ url: o.redisUrl, name: o.name, socket });
    client.on('error', () => { /* outages are part of the tests */ });
    await client.connect();
    store = redisStore({ client: client as unknown as Parameters<typeof redisStore>[0]['client'], prefix: o.prefix, timeout: '500ms' });
  }
  const common = { store, recordCache: o.recordCache ?? { max: 1000, maxStaleness: '1s' }, ...o.timeouts };
  const strategy = o.kind === 'stateful-jwt'
    ? statefulJwt({ secret, issuer: 'rc.test', audience: 'api.test', ...common })
    : sessionCookie({ secret, secure: false, ...common });
  const auth = principal({ strategy });
  const app = express();
  app.use(express.json());
  app.use(auth);
  app.post('/login', async (req, res, next) => {
    try {
      const issued = await req.auth.login({ id: String(req.body.id), roles: ['user'] });
      res.json({ token: issued.token, sessionId: issued.sessionId });
    } catch (err) { next(err); }
  });
  app.post('/logout', requireAuth(), async (req, res, next) => {
    try { await req.auth.logout(); res.sendStatus(204); } catch (err) { next(err); }
  });
  app.get('/me', requireAuth(), (req, res) => { res.json({ id: req.principal?.id, roles: req.principal?.roles }); });
  const { url, close: stop } = await listenOnLoopback(app);
  return {
    name: o.name,
    url,
    auth,
    store,
    async close() {
      await auth.close();
      await stop();
      if (client?.isOpen) client.destroy();
    },
  };
}

export interface Cred { token: string | null; cookie: string | null; sessionId: string }

export async function login(inst: Instance, id: string): Promise<Cred> {
  const res = await fetch(`${inst.url}/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id }) });
  if (res.status !== 200) throw new Error(`login on ${inst.name}: ${res.status} ${await res.text()}`);
  const body = (await res.json()) as Cred;
  // express-session writes its cookie with the response headers, after the route ran.
  const sid = res.headers.getSetCookie().map((c) => c.split(';')[0] ?? '').find((c) => c.startsWith('sid='));
  return { ...body, cookie: body.token === null ? (sid ?? null) : null };
}

export function headers(cred: Cred): Record<string, string> {
  return cred.token !== null ? { authorization: `Bearer ${cred.token}` } : { cookie: cred.cookie ?? '' };
}

export interface Answer { status: number; code: string | undefined; roles: string[] | undefined }

export async function me(inst: Instance, cred: Cred): Promise<Answer> {
  const res = await fetch(`${inst.url}/me`, { headers: headers(cred) });
  const body = (await res.json().catch(() => ({}))) as { code?: string; roles?: string[] };
  return { status: res.status, code: body.code, roles: body.roles };
}

export async function logout(inst: Instance, cred: Cred): Promise<number> {
  const res = await fetch(`${inst.url}/logout`, { method: 'POST', headers: headers(cred) });
  await res.arrayBuffer();
  return res.status;
}

/** Polls `me` on `inst` until `done(answer)`; the elapsed ms since `since` (performance.now()) when it was. */
export async function seenWithin(inst: Instance, cred: Cred, since: number, deadlineMs: number, done: (a: Answer) => boolean): Promise<Answer & { elapsed: number; seen: boolean }> {
  for (;;) {
    const r = await me(inst, cred);
    const elapsed = performance.now() - since;
    if (done(r)) return { ...r, elapsed, seen: true };
    if (elapsed > deadlineMs) return { ...r, elapsed, seen: false };
    await new Promise((resolve) => setImmediate(resolve));
  }
}

export { clientIds, waitUntil, type AdminLike } from '../helpers/redis-admin';
import { type AdminLike, waitUntil } from '../helpers/redis-admin';

/** Calls per command from INFO commandstats, without the follower's own (XREAD/XINFO) and the INFO calls. */
export async function dataCommands(admin: AdminLike): Promise<number> {
  const info = String(await admin.sendCommand(['INFO', 'commandstats']));
  let total = 0;
  for (const m of info.matchAll(/cmdstat_([a-z|]+):calls=(\d+)/g)) {
    const name = m[1] as string;
    // The followers' own traffic: XREAD/XINFO, and their heartbeat (HSET + EXPIRE on the log's `applied` hash).
    if (/^(xread|xinfo|info|client|hello|ping|select|hset|expire)$/.test(name)) continue;
    total += Number(m[2]);
  }
  return total;
}

/**
 * Makes `inst` serve `cred` from its cache: starts the invalidation follower (first request), waits until it is
 * blocked in XREAD, then keeps requesting for a few follower rounds (the cache is used after the first completed round).
 */
export async function warm(admin: AdminLike, inst: Instance, cred: Cred, maxStalenessMs: number): Promise<void> {
  await me(inst, cred);
  const follower = `${inst.name}:rv-log`;
  await waitUntil(async () => {
    const list = String(await admin.sendCommand(['CLIENT', 'LIST', 'TYPE', 'normal']));
    return list.split('\n').some((line) => line.includes(` name=${follower} `) && / cmd=xread/.test(line));
  }, 5_000, `${follower} in XREAD`);
  const until = performance.now() + maxStalenessMs + 50;
  while (performance.now() < until) {
    if ((await me(inst, cred)).status !== 200) throw new Error(`warm: ${inst.name} refused the credential`);
  }
}
