/**
 * A `jwksUri` verifier with a revocation store, given a token without `jti` (issuers that omit it, tokens
 * carried over from passport-jwt): logout revokes that token — on this instance and on another one sharing
 * the store — under an id derived from its signed part, so a re-encoded signature (ECDSA's (r, n − s)) does
 * not bring it back, while another token of the same user keeps working. Keys come from a JWKS served over
 * loopback HTTP; the store is the shared Redis under a unique prefix.
 */
import express from 'express';
import request from 'supertest';
import jwt from 'jsonwebtoken';
import { principal, redisStore, requireAuth, statelessJwt, type PrincipalMiddleware } from '../../lib';
import { cleanupPrefix, connectRedis, keysWithPrefix, uniquePrefix, type TestRedisClient } from '../helpers/redis';
import { AUDIENCE, ISSUER, ecKeys, publicJwk, startJwksServer, until, type JwksServer } from './support';

const key = ecKeys();
const prefix = uniquePrefix('nojti');
let client: TestRedisClient;
let jwks: JwksServer;
const middlewares: PrincipalMiddleware[] = [];

beforeAll(async () => {
  client = await connectRedis();
  jwks = await startJwksServer(() => ({ keys: [publicJwk(key.publicKey, 'k1', 'ES256')] }));
});
afterAll(async () => {
  await Promise.all(middlewares.map((m) => m.close()));
  await jwks.close();
  await cleanupPrefix(client, prefix);
  await client.close();
});

/** One verifier instance (its own middleware and caches) on the shared store. */
function verifier(): express.Express {
  const auth = principal({ strategy: statelessJwt({ jwksUri: jwks.url, issuer: ISSUER, audience: AUDIENCE, store: redisStore({ client, prefix }) }) });
  middlewares.push(auth);
  const app = express();
  app.use(auth);
  app.get('/me', requireAuth(), (req, res) => { res.json({ id: req.principal?.id, sessionId: req.principal?.sessionId }); });
  app.post('/logout', async (req, res, next) => {
    try { await req.auth.logout(); res.sendStatus(204); } catch (err) { next(err); }
  });
  app.use((err: { status?: number; code?: string }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    res.status(err.status ?? 500).json({ code: err.code ?? 'ERR_INTERNAL' });
  });
  return app;
}

/** A third-party access token without `jti`, as such issuers mint it. */
function mintWithoutJti(sub: string, extra: Record<string, unknown> = {}): string {
  const now = Math.floor(Date.now() / 1000);
  return jwt.sign({ iss: ISSUER, aud: AUDIENCE, sub, iat: now, exp: now + 300, ...extra }, key.privateKey, {
    algorithm: 'ES256', header: { alg: 'ES256', typ: 'at+jwt', kid: 'k1' },
  });
}

const P256_ORDER = BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551');

/** The same token with its ECDSA signature re-encoded as (r, n − s): different bytes, still a valid signature. */
function malleate(token: string): string {
  const dot = token.lastIndexOf('.');
  const sig = Buffer.from(token.slice(dot + 1), 'base64url');
  const s = BigInt(`0x${sig.subarray(32).toString('hex')}`);
  const flipped = Buffer.from((P256_ORDER - s).toString(16).padStart(64, '0'), 'hex');
  return `${token.slice(0, dot)}.${Buffer.concat([sig.subarray(0, 32), flipped]).toString('base64url')}`;
}

const me = (app: express.Express, token: string) => request(app).get('/me').set('Authorization', `Bearer ${token}`);

test('logout revokes a jti-less token everywhere, every encoding of it, and nothing else', async () => {
  const A = verifier();
  const B = verifier();
  const token = mintWithoutJti('alice');
  const sameTokenOtherSignature = malleate(token);
  const otherToken = mintWithoutJti('alice', { device: 'phone' });
  expect(sameTokenOtherSignature).not.toBe(token);
  expect(jwt.decode(token)).not.toHaveProperty('jti');
  for (const app of [A, B]) {
    for (const t of [token, sameTokenOtherSignature, otherToken]) {
      const res = await me(app, t);
      expect([res.status, res.body]).toEqual([200, { id: 'alice', sessionId: null }]);
    }
  }

  const logout = await request(A).post('/logout').set('Authorization', `Bearer ${token}`);
  expect(logout.status).toBe(204);

  // Refused at once where the logout happened, and on the other instance once its follower has the entry.
  for (const t of [token, sameTokenOtherSignature]) {
    const res = await me(A, t);
    expect([res.status, res.body.code]).toEqual([401, 'ERR_CREDENTIAL_REVOKED']);
  }
  await until(async () => (await me(B, token)).status === 401, 10_000, 'B to refuse the logged-out token');
  for (const t of [token, sameTokenOtherSignature]) {
    const res = await me(B, t);
    expect([res.status, res.body.code]).toEqual([401, 'ERR_CREDENTIAL_REVOKED']);
  }
  // Not a revokeAll: the user's other token keeps working on both.
  for (const app of [A, B]) expect((await me(app, otherToken)).status).toBe(200);

  // Nothing without a TTL; the deny-list entry expires with the token (300 s + clock tolerance).
  const keys = await keysWithPrefix(client, prefix);
  const denied = keys.filter((k) => k.includes(':rv:j:'));
  expect(denied).toHaveLength(1);
  for (const k of keys) expect(await client.pTTL(k)).toBeGreaterThan(0);
  expect(await client.pTTL(denied[0] as string)).toBeLessThanOrEqual(305_000);
});
