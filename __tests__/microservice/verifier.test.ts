/**
 * Verifier side: statelessJwt({ jwksUri, issuer, audience }) against a real JWKS server on loopback
 * that counts the requests it answers. Caching, single-flight, unknown-kid refetch with cooldown,
 * stale-if-error, no jku/x5u, asymmetric-only with per-JWK pinned algorithms, claim mapping.
 */
import express from 'express';
import request from 'supertest';
import jwt from 'jsonwebtoken';
import { randomBytes, type KeyObject } from 'node:crypto';
import { principal, statelessJwt, requireAuth, requireRole, requireScope, AuthError, type PrincipalMiddleware } from '../../lib';
import type { StatelessJwtOptions } from '../../lib/strategies/stateless-jwt';
import { AUDIENCE, ISSUER, ecKeys, publicJwk, rsaKeys, startJwksServer, until, type JwksServer } from './support';

const SECRET = 'k8Jd02mXq9Lp3Zr7Tv5Wy1Ab4Cd6Ef8Gh0Ij2Kl';
const k1 = ecKeys();
const k2 = ecKeys();
const rsa = rsaKeys();

/** A third-party issuer: tokens minted with jsonwebtoken directly, any header/payload we like. */
function mint(payload: Record<string, unknown>, opts: { key?: string | KeyObject; alg?: jwt.Algorithm; kid?: string; header?: Record<string, unknown>; typ?: string } = {}): string {
  const alg = opts.alg ?? 'ES256';
  const now = Math.floor(Date.now() / 1000);
  return jwt.sign({ iss: ISSUER, aud: AUDIENCE, iat: now, exp: now + 300, ...payload }, (opts.key ?? k1.privateKey) as jwt.Secret, {
    algorithm: alg,
    header: { alg, typ: opts.typ ?? 'at+jwt', ...(opts.kid === undefined ? { kid: 'k1' } : { kid: opts.kid }), ...opts.header } as jwt.JwtHeader,
  });
}

const servers: JwksServer[] = [];
const middlewares: PrincipalMiddleware[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await Promise.all(middlewares.map((m) => m.close()));
});

async function jwksServer(keys: () => Record<string, unknown>[]): Promise<JwksServer> {
  const server = await startJwksServer(() => ({ keys: keys() }));
  servers.push(server);
  return server;
}

function verifier(jwksUri: string, extra: Partial<StatelessJwtOptions> = {}) {
  const auth = principal({ strategy: statelessJwt({ jwksUri, issuer: ISSUER, audience: AUDIENCE, ...extra }) });
  middlewares.push(auth);
  const app = express();
  app.use(auth);
  app.get('/me', requireAuth(), (req, res) => res.json(req.principal));
  app.get('/admin', requireRole('admin'), (_req, res) => res.json({ ok: true }));
  app.get('/orders', requireScope('orders:read'), (_req, res) => res.json({ ok: true }));
  app.post('/login', async (req, res, next) => {
    try { await req.auth.login({ id: 'x' }); res.sendStatus(200); } catch (err) { next(err); }
  });
  app.use((err: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    res.status(500).json({ name: err.name, isTypeError: err instanceof TypeError, isAuthError: err instanceof AuthError, message: err.message });
  });
  return app;
}

const bearer = (token: string) => `Bearer ${token}`;

describe('construction', () => {
  test('jwksUri refuses local keys, missing issuer/audience, and plain http off loopback', () => {
    const uri = 'https://auth.example/.well-known/jwks.json';
    expect(() => statelessJwt({ jwksUri: uri, issuer: ISSUER, audience: AUDIENCE, secret: SECRET })).toThrow(/either `jwksUri`.*or `secret`/);
    expect(() => statelessJwt({ jwksUri: uri, issuer: ISSUER, audience: AUDIENCE, algorithms: ['HS256'] })).toThrow(/pinned by each JWK/);
    expect(() => statelessJwt({ jwksUri: uri, audience: AUDIENCE })).toThrow(/needs `issuer` and `audience`/);
    expect(() => statelessJwt({ jwksUri: uri, issuer: ISSUER })).toThrow(/needs `issuer` and `audience`/);
    expect(() => statelessJwt({ jwksUri: 'http://auth.internal/jwks', issuer: ISSUER, audience: AUDIENCE })).toThrow(/must use https/);
    expect(() => statelessJwt({ jwksUri: 'file:///etc/jwks.json', issuer: ISSUER, audience: AUDIENCE })).toThrow(/must use https/);
    expect(() => statelessJwt({ jwksUri: 'not a url', issuer: ISSUER, audience: AUDIENCE })).toThrow(TypeError);
    expect(() => statelessJwt({ secret: SECRET, jwks: { maxAge: '1m' } })).toThrow(/need `jwksUri`/);
    // Allowed: https, loopback http, and explicit allowHttp (e.g. a private network).
    expect(() => statelessJwt({ jwksUri: uri, issuer: ISSUER, audience: AUDIENCE })).not.toThrow();
    expect(() => statelessJwt({ jwksUri: 'http://localhost:4000/jwks', issuer: ISSUER, audience: AUDIENCE })).not.toThrow();
    expect(() => statelessJwt({ jwksUri: 'http://auth:4000/jwks', issuer: ISSUER, audience: AUDIENCE, jwks: { allowHttp: true } })).not.toThrow();
  });

  test('construction fetches nothing (lazy), login() is refused with a TypeError naming verify-only', async () => {
    const server = await jwksServer(() => [publicJwk(k1.publicKey, 'k1', 'ES256')]);
    const app = verifier(server.url);
    expect(server.requests).toBe(0);
    const res = await request(app).post('/login').expect(500);
    expect(res.body.isTypeError).toBe(true);
    expect(res.body.isAuthError).toBe(false);
    expect(res.body.message).toMatch(/verify-only/);
  });
});

describe('fetching and caching', () => {
  test('fetched once, cached across requests; concurrent first requests share one fetch (single-flight)', async () => {
    const server = await jwksServer(() => [publicJwk(k1.publicKey, 'k1', 'ES256')]);
    const app = verifier(server.url, { cache: false });
    const tokens = Array.from({ length: 30 }, (_, i) => mint({ sub: `u${i}` }));
    const results = await Promise.all(tokens.map((t) => request(app).get('/me').set('Authorization', bearer(t))));
    expect(results.map((r) => r.status)).toEqual(tokens.map(() => 200));
    expect(results[7]?.body.id).toBe('u7');
    expect(server.requests).toBe(1);
    for (const t of tokens.slice(0, 5)) await request(app).get('/me').set('Authorization', bearer(t)).expect(200);
    expect(server.requests).toBe(1);
  });

  test('100 tokens with forged random kids cause at most one refetch (cooldown), and are all refused', async () => {
    const server = await jwksServer(() => [publicJwk(k1.publicKey, 'k1', 'ES256')]);
    const app = verifier(server.url, { cache: false, jwks: { cooldown: '1h' } });
    await request(app).get('/me').set('Authorization', bearer(mint({ sub: 'warm' }))).expect(200);
    expect(server.requests).toBe(1);
    const forged = Array.from({ length: 100 }, () => mint({ sub: 'mallory' }, { kid: randomBytes(8).toString('hex') }));
    // Half at once, half one after another.
    const burst = await Promise.all(forged.slice(0, 50).map((t) => request(app).get('/me').set('Authorization', bearer(t))));
    for (const t of forged.slice(50)) {
      const res = await request(app).get('/me').set('Authorization', bearer(t));
      expect(res.status).toBe(401);
    }
    expect(burst.every((r) => r.status === 401 && r.body.code === 'ERR_INVALID_CREDENTIAL')).toBe(true);
    expect(server.requests).toBeLessThanOrEqual(2);
    // Known kids keep working throughout.
    await request(app).get('/me').set('Authorization', bearer(mint({ sub: 'alice' }))).expect(200);
  });

  test('a token with a new kid after a rotation triggers one refetch and is accepted', async () => {
    let published = [publicJwk(k1.publicKey, 'k1', 'ES256')];
    const server = await jwksServer(() => published);
    const app = verifier(server.url);
    await request(app).get('/me').set('Authorization', bearer(mint({ sub: 'alice' }))).expect(200);
    published = [publicJwk(k2.publicKey, 'k2', 'ES256'), publicJwk(k1.publicKey, 'k1', 'ES256')];
    const fresh = mint({ sub: 'alice' }, { key: k2.privateKey, kid: 'k2' });
    const res = await request(app).get('/me').set('Authorization', bearer(fresh)).expect(200);
    expect(res.body.id).toBe('alice');
    expect(server.requests).toBe(2);
  });

  test('stale-if-error: with the JWKS server stopped and the cache expired, known kids still verify; unknown kids are refused', async () => {
    const server = await jwksServer(() => [publicJwk(k1.publicKey, 'k1', 'ES256')]);
    const app = verifier(server.url, { cache: false, jwks: { maxAge: '150ms', cooldown: '50ms', staleIfError: '1h', timeout: '1s' } });
    await request(app).get('/me').set('Authorization', bearer(mint({ sub: 'before' }))).expect(200);
    await server.stop();
    const served = server.lastServedAt;
    await until(() => Date.now() - served > 200, 2000, 'the JWKS cache to expire');
    // Minted after the outage began: only the stale key set can verify it.
    for (let i = 0; i < 5; i++) {
      const res = await request(app).get('/me').set('Authorization', bearer(mint({ sub: `during${i}` })));
      expect(res.status).toBe(200);
    }
    await request(app).get('/me').set('Authorization', bearer(mint({ sub: 'x' }, { key: k2.privateKey, kid: 'k2' }))).expect(401);
    // The issuer comes back: the verifier fetches again (after its cooldown) and follows.
    await server.start();
    const before = server.requests;
    await until(async () => {
      await request(app).get('/me').set('Authorization', bearer(mint({ sub: 'after' })));
      return server.requests > before;
    }, 3000, 'a refetch once the issuer is back');
  });

  test('issuer unreachable and nothing cached: 503 with Retry-After (fail closed), then recovers', async () => {
    const server = await jwksServer(() => [publicJwk(k1.publicKey, 'k1', 'ES256')]);
    await server.stop();
    const app = verifier(server.url, { jwks: { cooldown: '50ms', timeout: '1s' } });
    const res = await request(app).get('/me').set('Authorization', bearer(mint({ sub: 'alice' }))).expect(503);
    expect(res.body.code).toBe('ERR_KEYS_UNAVAILABLE');
    expect(res.headers['retry-after']).toBeDefined();
    await server.start();
    await until(async () => (await request(app).get('/me').set('Authorization', bearer(mint({ sub: 'alice' })))).status === 200, 3000, 'recovery');
  });

  test('stale-if-error has an end: after staleIfError the verifier fails closed (503)', async () => {
    const server = await jwksServer(() => [publicJwk(k1.publicKey, 'k1', 'ES256')]);
    const app = verifier(server.url, { cache: false, jwks: { maxAge: '50ms', cooldown: '20ms', staleIfError: '250ms', timeout: '1s' } });
    await request(app).get('/me').set('Authorization', bearer(mint({ sub: 'a' }))).expect(200);
    await server.stop();
    const served = server.lastServedAt;
    await until(() => Date.now() - served > 350, 2000, 'staleIfError to pass');
    const res = await request(app).get('/me').set('Authorization', bearer(mint({ sub: 'b' })));
    expect(res.status).toBe(503);
  });
});

describe('what a token may not choose', () => {
  test('jku, x5u and an embedded jwk in the header are never followed or used', async () => {
    const server = await jwksServer(() => [publicJwk(k1.publicKey, 'k1', 'ES256')]);
    const attacker = ecKeys();
    const evil = await jwksServer(() => [publicJwk(attacker.publicKey, 'evil', 'ES256')]);
    const app = verifier(server.url, { cache: false });
    const headers = [
      { jku: evil.url },
      { x5u: evil.url },
      { jwk: publicJwk(attacker.publicKey, 'evil', 'ES256') },
    ];
    for (const header of headers) {
      const token = mint({ sub: 'mallory', roles: ['admin'] }, { key: attacker.privateKey, kid: 'evil', header });
      await request(app).get('/admin').set('Authorization', bearer(token)).expect(401);
      // Same key id as the real key, attacker's signature: refused too.
      const sameKid = mint({ sub: 'mallory', roles: ['admin'] }, { key: attacker.privateKey, kid: 'k1', header });
      await request(app).get('/admin').set('Authorization', bearer(sameKid)).expect(401);
    }
    expect(evil.requests).toBe(0);
  });

  test('HS256 signed with the published public key (key confusion) and alg none are refused', async () => {
    const server = await jwksServer(() => [publicJwk(rsa.publicKey, 'r1', 'RS256')]);
    const app = verifier(server.url, { cache: false });
    await request(app).get('/me').set('Authorization', bearer(mint({ sub: 'ok' }, { key: rsa.privateKey, alg: 'RS256', kid: 'r1' }))).expect(200);
    const pem = rsa.publicKey.export({ format: 'pem', type: 'spki' }) as string;
    const confused = mint({ sub: 'mallory' }, { key: pem, alg: 'HS256', kid: 'r1' });
    await request(app).get('/me').set('Authorization', bearer(confused)).expect(401);
    const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt', kid: 'r1' })).toString('base64url');
    const now = Math.floor(Date.now() / 1000);
    const payload = Buffer.from(JSON.stringify({ sub: 'mallory', iss: ISSUER, aud: AUDIENCE, iat: now, exp: now + 60 })).toString('base64url');
    await request(app).get('/me').set('Authorization', bearer(`${header}.${payload}.`)).expect(401);
  });

  test("the algorithm is pinned by the JWK's alg: an RS256 key does not verify PS256 tokens", async () => {
    const server = await jwksServer(() => [publicJwk(rsa.publicKey, 'r1', 'RS256')]);
    const app = verifier(server.url, { cache: false });
    const ps = mint({ sub: 'x' }, { key: rsa.privateKey, alg: 'PS256', kid: 'r1' });
    await request(app).get('/me').set('Authorization', bearer(ps)).expect(401);
  });

  test('without alg the key type decides (EC P-256 → ES256); oct, encryption and private JWKs are ignored', async () => {
    const { alg: _drop, ...noAlg } = publicJwk(k1.publicKey, 'k1', 'ES256');
    const server = await jwksServer(() => [
      { kty: 'oct', kid: 'hs', k: Buffer.from(SECRET).toString('base64url'), alg: 'HS256' },
      { ...publicJwk(k2.publicKey, 'enc', 'ES256'), use: 'enc' },
      { ...(k2.privateKey.export({ format: 'jwk' }) as Record<string, unknown>), kid: 'priv', alg: 'ES256' },
      noAlg,
    ]);
    const app = verifier(server.url, { cache: false });
    await request(app).get('/me').set('Authorization', bearer(mint({ sub: 'ok' }))).expect(200);
    await request(app).get('/me').set('Authorization', bearer(mint({ sub: 'm' }, { key: SECRET, alg: 'HS256', kid: 'hs' }))).expect(401);
    await request(app).get('/me').set('Authorization', bearer(mint({ sub: 'm' }, { key: k2.privateKey, kid: 'enc' }))).expect(401);
    await request(app).get('/me').set('Authorization', bearer(mint({ sub: 'm' }, { key: k2.privateKey, kid: 'priv' }))).expect(401);
  });

  test('issuer and audience are enforced', async () => {
    const server = await jwksServer(() => [publicJwk(k1.publicKey, 'k1', 'ES256')]);
    const app = verifier(server.url, { cache: false });
    await request(app).get('/me').set('Authorization', bearer(mint({ sub: 'a', aud: 'billing-api' }))).expect(401);
    await request(app).get('/me').set('Authorization', bearer(mint({ sub: 'a', iss: 'https://other.test' }))).expect(401);
  });
});

describe('claim mapping for common issuers (the claims option)', () => {
  let server: JwksServer;
  beforeAll(async () => { server = await jwksServer(() => [publicJwk(k1.publicKey, 'k1', 'ES256')]); });

  test('Keycloak: realm_access.roles, scope string, typ JWT', async () => {
    const app = verifier(server.url, { typ: ['at+jwt', 'jwt'], claims: { roles: 'realm_access.roles' } });
    const token = mint({ sub: 'kc-user', realm_access: { roles: ['admin', 'offline_access'] }, scope: 'openid orders:read profile' }, { typ: 'JWT' });
    const me = await request(app).get('/me').set('Authorization', bearer(token)).expect(200);
    expect(me.body.roles).toEqual(['admin', 'offline_access']);
    expect(me.body.scopes).toEqual(['openid', 'orders:read', 'profile']);
    await request(app).get('/admin').set('Authorization', bearer(token)).expect(200);
    await request(app).get('/orders').set('Authorization', bearer(token)).expect(200);
    const user = mint({ sub: 'kc-user', realm_access: { roles: ['user'] }, scope: 'openid' }, { typ: 'JWT' });
    await request(app).get('/admin').set('Authorization', bearer(user)).expect(403);
    const noScope = await request(app).get('/orders').set('Authorization', bearer(user)).expect(403);
    expect(noScope.headers['www-authenticate']).toMatch(/insufficient_scope/);
  });

  test("Auth0: permissions array as scopes via claims: { scopes: 'permissions' }", async () => {
    const app = verifier(server.url, { typ: false, claims: { scopes: 'permissions' } });
    const token = mint({ sub: 'auth0|42', permissions: ['orders:read', 'orders:write'], scope: 'openid' }, { typ: 'JWT' });
    const me = await request(app).get('/me').set('Authorization', bearer(token)).expect(200);
    expect(me.body.scopes).toEqual(['orders:read', 'orders:write']);
    await request(app).get('/orders').set('Authorization', bearer(token)).expect(200);
    const none = mint({ sub: 'auth0|43', permissions: [], scope: 'openid orders:read' }, { typ: 'JWT' });
    await request(app).get('/orders').set('Authorization', bearer(none)).expect(403);
  });

  test('Auth0 namespaced roles (a claim name with dots) through claims.map', async () => {
    const NS = 'https://example.com/roles';
    const app = verifier(server.url, {
      typ: false,
      claims: { map: (p) => ({ id: String(p.sub), roles: (p[NS] as string[] | undefined) ?? [], scopes: (p.permissions as string[] | undefined) ?? [] }) },
    });
    const token = mint({ sub: 'auth0|42', [NS]: ['admin'], permissions: ['orders:read'] }, { typ: 'JWT' });
    const me = await request(app).get('/me').set('Authorization', bearer(token)).expect(200);
    expect(me.body.roles).toEqual(['admin']);
    await request(app).get('/admin').set('Authorization', bearer(token)).expect(200);
    await request(app).get('/admin').set('Authorization', bearer(mint({ sub: 'auth0|7', [NS]: ['user'] }, { typ: 'JWT' }))).expect(403);
  });

  test('a plain scope string (default mapping) and scp arrays', async () => {
    const app = verifier(server.url);
    const token = mint({ sub: 'svc', scope: 'orders:read orders:write' });
    const me = await request(app).get('/me').set('Authorization', bearer(token)).expect(200);
    expect(me.body.scopes).toEqual(['orders:read', 'orders:write']);
    const scp = mint({ sub: 'svc', scp: ['orders:read'] });
    await request(app).get('/orders').set('Authorization', bearer(scp)).expect(200);
  });

  test('a malformed roles claim is a bad credential, never a grant', async () => {
    const app = verifier(server.url, { claims: { roles: 'realm_access.roles' } });
    const token = mint({ sub: 'kc', realm_access: { roles: 'admin' } });
    await request(app).get('/admin').set('Authorization', bearer(token)).expect(401);
  });
});
