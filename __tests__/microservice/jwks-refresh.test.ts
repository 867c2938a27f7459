/**
 * Stale-while-revalidate: past `jwks.maxAge` the verifier refetches the JWKS in the background. With the issuer
 * hanging (a real HTTP server that accepts the request and never answers), requests whose `kid` the cached set
 * holds answer while that refetch is still pending; only a request for a `kid` the set lacks waits for it.
 * The fetch timeout is set far above what a request may take here, so "answered while the refetch is pending"
 * cannot be confused with "answered after the refetch gave up".
 */
import express from 'express';
import request from 'supertest';
import jwt from 'jsonwebtoken';
import { principal, statelessJwt, requireAuth, type PrincipalMiddleware } from '../../lib';
import { AUDIENCE, ISSUER, ecKeys, publicJwk, startJwksServer, until, type JwksServer } from './support';

const k1 = ecKeys();
const k2 = ecKeys();
const FETCH_TIMEOUT_MS = 20_000;
/** Far more than a loopback request takes on a loaded machine, far less than the fetch timeout. */
const PROMPT_MS = FETCH_TIMEOUT_MS / 2;

const servers: JwksServer[] = [];
const middlewares: PrincipalMiddleware[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await Promise.all(middlewares.map((m) => m.close()));
});

function mint(sub: string, kid = 'k1', key = k1): string {
  const now = Math.floor(Date.now() / 1000);
  return jwt.sign({ sub, iss: ISSUER, aud: AUDIENCE, iat: now, exp: now + 300 }, key.privateKey, {
    algorithm: 'ES256', header: { alg: 'ES256', typ: 'at+jwt', kid } as jwt.JwtHeader,
  });
}

/** Resolves with `promise`, or fails if it is still pending after `ms`. */
async function within<T>(promise: PromiseLike<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms); });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

test('issuer hangs past maxAge: known kids answer while the refetch is pending, an unknown kid waits for it, and the recovered set is picked up', async () => {
  const server = await startJwksServer(() => ({ keys: [publicJwk(k1.publicKey, 'k1', 'ES256')] }));
  servers.push(server);
  const auth = principal({
    strategy: statelessJwt({ jwksUri: server.url, issuer: ISSUER, audience: AUDIENCE, jwks: { maxAge: '200ms', timeout: FETCH_TIMEOUT_MS } }),
  });
  middlewares.push(auth);
  const app = express();
  app.use(auth);
  app.get('/me', requireAuth(), (req, res) => res.json({ id: req.principal?.id }));
  const me = (token: string) => request(app).get('/me').set('Authorization', `Bearer ${token}`);

  const cached = mint('alice');
  expect((await me(cached).expect(200)).body).toEqual({ id: 'alice' });
  expect(server.requests).toBe(1);

  server.hang();
  const servedAt = server.lastServedAt;
  await until(() => Date.now() - servedAt > 400, 5000, 'maxAge to pass');

  // The first request past maxAge starts the refetch and does not wait for it.
  const first = await within(me(mint('bob')), PROMPT_MS, 'a known-kid request past maxAge');
  expect(first.status).toBe(200);
  expect(first.body).toEqual({ id: 'bob' });
  await until(() => server.held === 1, 5000, 'the refetch to reach the hanging issuer');

  // A kid the cached set lacks has to wait for the issuer.
  let unknownAnswered = false;
  const unknown = me(mint('carol', 'k2', k2)).then((res) => { unknownAnswered = true; return res; });

  for (let i = 0; i < 5; i++) {
    const fresh = await within(me(mint(`user${i}`)), PROMPT_MS, `known-kid request ${i} during the hang`);
    expect(fresh.status).toBe(200);
    expect(fresh.body).toEqual({ id: `user${i}` });
    const again = await within(me(cached), PROMPT_MS, `cached-token request ${i} during the hang`);
    expect(again.status).toBe(200);
  }
  // Still the one refetch, still pending: nobody started another, nobody waited for it but the unknown kid.
  expect(server.held).toBe(1);
  expect(server.requests).toBe(1);
  expect(unknownAnswered).toBe(false);

  // The issuer recovers, with k1 rotated out and k2 in: the pending refetch brings the new set.
  server.setBody(() => ({ keys: [publicJwk(k2.publicKey, 'k2', 'ES256')] }));
  server.recover();
  const waited = await within(unknown, PROMPT_MS, 'the unknown-kid request after the issuer recovered');
  expect(waited.status).toBe(200);
  expect(waited.body).toEqual({ id: 'carol' });
  expect(server.requests).toBe(2);

  const refused = await me(cached);
  expect(refused.status).toBe(401);
  expect(refused.body.code).toBe('ERR_INVALID_CREDENTIAL');
  expect(refused.body.id).toBeUndefined();
  expect((await me(mint('dave', 'k2', k2)).expect(200)).body).toEqual({ id: 'dave' });
  expect(server.held).toBe(0);
}, 60_000);
