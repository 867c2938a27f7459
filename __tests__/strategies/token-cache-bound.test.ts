/**
 * The verified-token cache is bounded: a flood of unique valid tokens leaves it at `cache.max` entries.
 * Counted, not inferred from heap size: every request's Principal is held weakly, and after a full GC the ones still
 * alive are the ones the cache keeps. (A heap-size delta was tried first; GC timing moved it by tens of MB.)
 * The same flood through an effectively unbounded cache shows the count would notice growth.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import express from 'express';
import jwt from 'jsonwebtoken';
import { principal, requireAuth, statelessJwt, type PrincipalMiddleware } from '../../lib';

setFlagsFromString('--expose_gc');
const gc = runInNewContext('gc') as () => void;
const secret = 'k8Jd02mXq9Lp3Zr7Tv5Wy1Ab4Cd6Ef8Gh0Ij2Kl';
// The flood only has to be many times the bound (here 30×); its size is not what is tested, and every
// token is an HTTP request that a loaded machine answers slowly.
const BOUND = 10;
const N = 300;

async function serve(auth: PrincipalMiddleware, onPrincipal: (p: object) => void): Promise<{ url: URL; close: () => Promise<void> }> {
  const app = express();
  app.use(auth);
  app.get('/me', requireAuth(), (req, res) => { onPrincipal(req.principal as object); res.end('ok'); });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: new URL(`http://127.0.0.1:${port}/me`), close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }) };
}

async function flood(url: URL, tokens: readonly string[]): Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  let ok = 0;
  let next = 0;
  const worker = async () => {
    while (next < tokens.length) {
      const token = tokens[next++] as string;
      const status = await new Promise<number>((resolve, reject) => {
        http.get(url, { agent, headers: { authorization: `Bearer ${token}` } }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode ?? 0)); }).on('error', reject);
      });
      if (status === 200) ok += 1;
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  agent.destroy();
  return ok;
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

/** How many of the flood's Principals are still reachable (held by the cache) once the flood is over. */
async function principalsKept(max: number, tokens: readonly string[]): Promise<number> {
  const auth = principal({ strategy: statelessJwt({ secret, cache: { max } }) });
  const refs: WeakRef<object>[] = [];
  const { url, close } = await serve(auth, (p) => { refs.push(new WeakRef(p)); });
  expect(await flood(url, tokens)).toBe(tokens.length);
  await close();
  // A WeakRef keeps its target alive until the job that created or dereffed it ends: turn the loop before each GC.
  for (let i = 0; i < 3; i++) { await turn(); gc(); }
  const alive = refs.filter((r) => r.deref() !== undefined).length;
  await auth.close(); // after counting: the middleware, and with it the cache, is still in use until here
  return alive;
}

test('a flood of unique valid tokens keeps the verified-token cache at its bound', async () => {
  const now = Math.floor(Date.now() / 1000);
  const tokens = Array.from({ length: N }, (_, i) => jwt.sign(
    { sub: `user-${i}`, roles: ['user'], iat: now, exp: now + 600, jti: `j${i}`, claims_pad: 'x'.repeat(200) },
    secret, { algorithm: 'HS256', header: { alg: 'HS256', typ: 'at+jwt' } },
  ));
  const bounded = await principalsKept(BOUND, tokens);
  const unbounded = await principalsKept(1_000_000, tokens);
  expect(unbounded).toBe(N);                  // the count sees a cache that keeps everything…
  expect(bounded).toBeLessThanOrEqual(BOUND); // …and the bounded one keeps at most its bound
  expect(bounded).toBeGreaterThan(0);         // (it is a cache: the most recent ones are still there)
}, 60_000);

test('eviction is least recently used: a token in steady use outlives a flood; one used once does not', async () => {
  const auth = principal({ strategy: statelessJwt({ secret, cache: { max: 10 } }) });
  const seen = new Map<string, object[]>();
  const app = express();
  app.use(auth);
  app.get('/me', requireAuth(), (req, res) => {
    const list = seen.get(req.principal?.id as string) ?? [];
    list.push(req.principal as object);
    seen.set(req.principal?.id as string, list);
    res.end('ok');
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/me`);
  const now = Math.floor(Date.now() / 1000);
  const token = (sub: string) => jwt.sign({ sub, roles: ['user'], iat: now, exp: now + 600 }, secret, { algorithm: 'HS256', header: { alg: 'HS256', typ: 'at+jwt' } });
  const hot = token('hot');
  const cold = token('cold');
  expect(await flood(url, [hot, cold])).toBe(2);
  for (let i = 0; i < 60; i++) {
    expect(await flood(url, [token(`u${i}`), token(`v${i}`), hot])).toBe(3);
  }
  expect(await flood(url, [hot, cold])).toBe(2);
  server.closeAllConnections();
  server.close();
  await auth.close();
  // A cache hit hands out the Principal derived when the token was verified: the same object.
  const hots = seen.get('hot') ?? [];
  expect(hots).toHaveLength(62);
  expect(new Set(hots).size).toBe(1);
  const colds = seen.get('cold') ?? [];
  expect(colds).toHaveLength(2);
  expect(colds[0]).not.toBe(colds[1]);
});
