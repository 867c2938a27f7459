/**
 * A key the issuer removes from its JWKS verifies nothing from the moment the verifier has fetched the new set:
 * tokens signed with it are refused whether or not they sit in the verified-token cache, whatever their `exp`.
 * The runbook's compromised-key step ("remove it at once: its tokens are refused from then on") walked with a
 * real issuer serving its JWKS over HTTP and a verifier whose cache is on (the default).
 */
import express, { type RequestHandler } from 'express';
import request from 'supertest';
import jwt from 'jsonwebtoken';
import { principal, statelessJwt, requireAuth, type PrincipalMiddleware, type Strategy } from '../../lib';
// The strategies' internal hooks (their public JWKS), as principal() reaches them.
import { strategyImpl } from '../../lib/strategy';
import type { JwtKey } from '../../lib/envelopes/jwt-keys';
import type { StatelessJwtOptions } from '../../lib/strategies/stateless-jwt';
import { AUDIENCE, ISSUER, ecKeys, listen, publicJwk, startJwksServer, until, type JwksServer, type Listening } from './support';

const k1 = ecKeys();
const k2 = ecKeys();
const k3 = ecKeys();
const TEN_YEARS_S = 10 * 365 * 24 * 3600;

const servers: JwksServer[] = [];
const opened: Listening[] = [];
const middlewares: PrincipalMiddleware[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await Promise.all(opened.map((o) => o.close()));
  await Promise.all(middlewares.map((m) => m.close()));
});

function verifier(jwksUri: string, extra: Partial<StatelessJwtOptions> = {}) {
  const auth = principal({ strategy: statelessJwt({ jwksUri, issuer: ISSUER, audience: AUDIENCE, ...extra }) });
  middlewares.push(auth);
  const app = express();
  app.use(auth);
  app.get('/me', requireAuth(), (req, res) => res.json({ id: req.principal?.id }));
  return app;
}

/** A third-party issuer's token: ES256 under `kid`, valid for ten years. */
function mint(sub: string, kid: string, key: ReturnType<typeof ecKeys>): string {
  const now = Math.floor(Date.now() / 1000);
  return jwt.sign({ sub, iss: ISSUER, aud: AUDIENCE, iat: now, exp: now + TEN_YEARS_S }, key.privateKey, {
    algorithm: 'ES256', header: { alg: 'ES256', typ: 'at+jwt', kid } as jwt.JwtHeader,
  });
}

const me = (app: express.Express, token: string) => request(app).get('/me').set('Authorization', `Bearer ${token}`);

/** A refusal that says nothing about the token's subject. */
function expectRefused(res: request.Response): void {
  expect(res.status).toBe(401);
  expect(res.body).toEqual({ type: 'urn:express-principal:error:ERR_INVALID_CREDENTIAL', title: 'Invalid credential', status: 401, code: 'ERR_INVALID_CREDENTIAL' });
  expect(res.headers['www-authenticate']).toMatch(/error="invalid_token"/);
}

test('a cached token whose key left the JWKS is refused on the first request after the verifier fetched the new set; keys still published keep working', async () => {
  let published = [publicJwk(k1.publicKey, 'k1', 'ES256'), publicJwk(k3.publicKey, 'k3', 'ES256')];
  const server = await startJwksServer(() => ({ keys: published }));
  servers.push(server);
  const app = verifier(server.url);
  const old = mint('alice', 'k1', k1);
  const kept = mint('bob', 'k3', k3);
  // Verified, then served from the cache.
  for (let i = 0; i < 2; i++) {
    expect((await me(app, old).expect(200)).body).toEqual({ id: 'alice' });
    expect((await me(app, kept).expect(200)).body).toEqual({ id: 'bob' });
  }
  expect(server.requests).toBe(1);

  // k1 is compromised: the issuer drops it and signs with k2. The first k2 token makes the verifier refetch.
  published = [publicJwk(k3.publicKey, 'k3', 'ES256'), publicJwk(k2.publicKey, 'k2', 'ES256')];
  expect((await me(app, mint('carol', 'k2', k2)).expect(200)).body).toEqual({ id: 'carol' });
  expect(server.requests).toBe(2);

  expectRefused(await me(app, old));
  expectRefused(await me(app, old));
  expectRefused(await me(app, mint('mallory', 'k1', k1)));
  // A key published before and after the change is untouched, cached token or new one.
  expect((await me(app, kept).expect(200)).body).toEqual({ id: 'bob' });
  expect((await me(app, mint('dave', 'k3', k3)).expect(200)).body).toEqual({ id: 'dave' });
  // The refused k1 tokens fell inside the unknown-kid cooldown: no further fetch.
  expect(server.requests).toBe(2);
});

test('runbook, compromised key: a token minted before the removal is refused once the verifier refetched at maxAge, though only cached tokens arrive', async () => {
  let current: RequestHandler = (_req, _res, next) => next();
  let strategy: Strategy | undefined;
  let jwksServed = 0;
  const issuerApp = express();
  issuerApp.use((req, res, next) => current(req, res, next));
  issuerApp.post('/login', async (req, res) => res.json(await req.auth.login({ id: 'alice' })));
  issuerApp.get('/.well-known/jwks.json', (_req, res) => {
    jwksServed += 1;
    res.type('application/jwk-set+json').send(JSON.stringify(strategyImpl(strategy)?.publicJwks?.() ?? { keys: [] }));
  });
  const deploy = (keys: JwtKey[]) => {
    strategy = statelessJwt({ keys, issuer: ISSUER, audience: AUDIENCE, ttl: `${TEN_YEARS_S}s` });
    const auth = principal({ strategy });
    middlewares.push(auth);
    current = auth;
  };
  const issuer = await listen(issuerApp);
  opened.push(issuer);
  // Step 2 of the runbook done: k2 signs, k1 still verifies.
  deploy([
    { kid: 'k2', algorithm: 'ES256', privateKey: k2.privateKey, publicKey: k2.publicKey },
    { kid: 'k1', algorithm: 'ES256', publicKey: k1.publicKey },
  ]);
  const app = verifier(`${issuer.url}/.well-known/jwks.json`, { jwks: { maxAge: '200ms' } });
  // A k1 token minted before the step (as by an instance still on step 1), living ten years.
  const beforeRemoval = mint('alice', 'k1', k1);
  const signedWithK2 = (await request(issuer.url).post('/login').expect(200)).body.token as string;
  expect((jwt.decode(signedWithK2, { complete: true })?.header.kid)).toBe('k2');
  for (let i = 0; i < 3; i++) {
    expect((await me(app, beforeRemoval).expect(200)).body).toEqual({ id: 'alice' });
    expect((await me(app, signedWithK2).expect(200)).body).toEqual({ id: 'alice' });
  }
  // At least the first fetch; on a loaded machine these requests can outlast the 200-ms maxAge and refetch.
  expect(jwksServed).toBeGreaterThanOrEqual(1);

  // k1 is compromised: removed at once.
  deploy([{ kid: 'k2', algorithm: 'ES256', privateKey: k2.privateKey, publicKey: k2.publicKey }]);
  const servedAtRemoval = jwksServed;
  await until(async () => {
    const res = await me(app, beforeRemoval);
    if (res.status === 200) return false;
    expectRefused(res);
    return true;
  }, 10_000, 'the k1 token to be refused');
  // Learned through the maxAge refetch (the verifier saw nothing but these cached tokens).
  expect(jwksServed).toBeGreaterThan(servedAtRemoval);
  for (let i = 0; i < 3; i++) expectRefused(await me(app, beforeRemoval));
  expectRefused(await me(app, mint('mallory', 'k1', k1)));
  expect((await me(app, signedWithK2).expect(200)).body).toEqual({ id: 'alice' });
}, 20_000);
