/**
 * The verified-token cache is bounded: a flood of unique valid tokens leaves it at `cache.max` entries.
 * Measured as retained heap after a forced GC, against the same flood through an effectively unbounded cache
 * (which shows the measurement would notice growth).
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
const N = 12_000;

async function serve(auth: PrincipalMiddleware): Promise<{ url: URL; close: () => Promise<void> }> {
  const app = express();
  app.use(auth);
  app.get('/me', requireAuth(), (_req, res) => { res.end('ok'); });
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

async function retainedMb(max: number, tokens: readonly string[]): Promise<number> {
  const auth = principal({ strategy: statelessJwt({ secret, cache: { max } }) });
  const { url, close } = await serve(auth);
  gc();
  const before = process.memoryUsage().heapUsed;
  expect(await flood(url, tokens)).toBe(tokens.length);
  gc();
  const grown = (process.memoryUsage().heapUsed - before) / 1024 / 1024;
  await close();
  await auth.close();
  return grown;
}

test('a flood of unique valid tokens keeps the verified-token cache at its bound', async () => {
  const now = Math.floor(Date.now() / 1000);
  const tokens = Array.from({ length: N }, (_, i) => jwt.sign(
    { sub: `user-${i}`, roles: ['user'], iat: now, exp: now + 600, jti: `j${i}`, claims_pad: 'x'.repeat(200) },
    secret, { algorithm: 'HS256', header: { alg: 'HS256', typ: 'at+jwt' } },
  ));
  const bounded = await retainedMb(100, tokens);
  const unbounded = await retainedMb(1_000_000, tokens);
  console.log(`verified-token cache after ${N} unique tokens: max 100 → ${bounded.toFixed(1)} MB retained; max 1e6 → ${unbounded.toFixed(1)} MB`);
  expect(unbounded).toBeGreaterThan(5);       // the measurement sees a cache that keeps everything…
  expect(bounded).toBeLessThan(unbounded / 4); // …and the bounded one does not
}, 60_000);
