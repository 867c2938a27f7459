/**
 * One app instance of the receipt test, in its own process (so the test can SIGSTOP it): statelessJwt on a shared
 * Redis prefix with a 1-s maxRevocationLag. Env: REDIS_URL, EP_PREFIX. Sends { port } once listening.
 * Routes: POST /login { id } → token; GET /me (guarded); POST /revoke-all { id } → the receipt.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { createClient } from 'redis';
import { handle, principal, redisStore, requireAuth, statelessJwt } from '../../lib';

async function main(): Promise<void> {
  const client = createClient({ url: process.env.REDIS_URL });
  client.on('error', () => undefined);
  await client.connect();
  const store = redisStore({ client, prefix: process.env.EP_PREFIX as string });
  const auth = principal({ strategy: statelessJwt({ secret: 'receipt-test-secret-0123456789abcdef', store, maxRevocationLag: '1s' }) });
  const app = express();
  app.use(express.json());
  app.use(auth);
  app.post('/login', handle(async (req, res) => { res.json(await req.auth.login({ id: String((req.body as { id: unknown }).id) })); }));
  app.get('/me', requireAuth(), (req, res) => { res.json({ id: req.principal?.id }); });
  app.post('/revoke-all', handle(async (req, res) => {
    res.json(await auth.revokeAll(String((req.body as { id: unknown }).id), { receipt: true, wait: '6s' }));
  }));
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  process.send?.({ port: (server.address() as AddressInfo).port });
}

void main();
