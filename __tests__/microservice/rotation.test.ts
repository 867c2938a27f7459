/**
 * The key rotation runbook, walked with two issuer instances (A and B, behind one JWKS URL that
 * alternates between them like a load balancer) and one JWKS verifier:
 *   1. add the new key as a verify-only entry everywhere (it is published in the JWKS);
 *      wait one JWKS cache lifetime (the verifier's jwks.maxAge / the Cache-Control max-age);
 *   2. move it to the front so it signs (instance by instance: the others already verify it);
 *   3. after the longest token lifetime, remove the old key.
 * No token is refused at any step. The verifier's one unknown-kid refetch is used up by a forged
 * token at the start (cooldown 1h), so it can learn the new key only through step 1.
 */
import express, { type RequestHandler } from 'express';
import request from 'supertest';
import jwt from 'jsonwebtoken';
import { principal, statelessJwt, requireAuth, type PrincipalMiddleware, type Strategy } from '../../lib';
// The strategies' internal hooks (their public JWKS), as principal() reaches them.
import { strategyImpl } from '../../lib/strategy';
import type { JwtKey } from '../../lib/envelopes/jwt-keys';
import { AUDIENCE, ISSUER, ecKeys, listen, startJwksServer, until, type JwksServer, type Listening } from './support';

const k1 = ecKeys();
const k2 = ecKeys();
const TTL = '5s';
const opened: Listening[] = [];
const middlewares: PrincipalMiddleware[] = [];
let lb: JwksServer;

afterAll(async () => {
  await Promise.all(opened.map((o) => o.close()));
  await lb?.close();
  for (const m of middlewares) await m.close();
});

interface Instance { url: string; strategy: Strategy; deploy(keys: JwtKey[]): void }

async function issuerInstance(keys: JwtKey[]): Promise<Instance> {
  let current: RequestHandler;
  const app = express();
  app.use((req, res, next) => current(req, res, next));
  app.post('/login', async (req, res) => res.json(await req.auth.login({ id: 'alice', scopes: ['orders:read'] })));
  app.get('/me', requireAuth(), (req, res) => res.json({ id: req.principal?.id }));
  const server = await listen(app);
  opened.push(server);
  const instance: Instance = {
    url: server.url,
    strategy: undefined as unknown as Strategy,
    deploy(next) {
      instance.strategy = statelessJwt({ keys: next, issuer: ISSUER, audience: AUDIENCE, ttl: TTL, clockTolerance: '0s', cache: false });
      const auth = principal({ strategy: instance.strategy });
      middlewares.push(auth);
      current = auth;
    },
  };
  instance.deploy(keys);
  return instance;
}

const signing = (kid: string, pair: ReturnType<typeof ecKeys>): JwtKey => ({ kid, algorithm: 'ES256', privateKey: pair.privateKey, publicKey: pair.publicKey });
const verifyOnly = (kid: string, pair: ReturnType<typeof ecKeys>): JwtKey => ({ kid, algorithm: 'ES256', publicKey: pair.publicKey });
const kidOf = (token: string) => (jwt.decode(token, { complete: true })?.header.kid as string);
const expOf = (token: string) => (jwt.decode(token) as { exp: number }).exp * 1000;

test('three-step key rotation across two issuers and a JWKS verifier: no token refused at any step', async () => {
  const a = await issuerInstance([signing('k1', k1)]);
  const b = await issuerInstance([signing('k1', k1)]);
  let turn = 0;
  lb = await startJwksServer(() => (strategyImpl((turn++ % 2 === 0 ? a : b).strategy)?.publicJwks?.() ?? { keys: [] }));

  const auth = principal({
    strategy: statelessJwt({ jwksUri: lb.url, issuer: ISSUER, audience: AUDIENCE, clockTolerance: '0s', cache: false, jwks: { maxAge: '200ms', cooldown: '1h' } }),
  });
  middlewares.push(auth);
  const verifier = express();
  verifier.use(auth);
  verifier.get('/me', requireAuth(), (req, res) => res.json({ id: req.principal?.id }));

  const tokens: string[] = [];
  const login = async (at: Instance) => {
    const token = (await request(at.url).post('/login').expect(200)).body.token as string;
    tokens.push(token);
    return token;
  };
  /** Every token still within its lifetime must pass at A, B and the verifier. */
  const everyTokenEverywhere = async (step: string) => {
    for (const token of tokens) {
      if (expOf(token) <= Date.now()) continue; // expired by its own ttl: not a rotation matter
      for (const [name, target] of [['A', a.url], ['B', b.url], ['verifier', verifier]] as const) {
        const res = await request(target as string).get('/me').set('Authorization', `Bearer ${token}`);
        if (res.status !== 200) throw new Error(`${step}: a ${kidOf(token)} token was refused by ${name} (${res.status} ${res.body.code})`);
      }
    }
  };

  // Step 0: both sign with k1. Burn the verifier's unknown-kid refetch with a forged kid.
  await login(a);
  await login(b);
  await everyTokenEverywhere('start');
  const forged = jwt.sign({ sub: 'x', iss: ISSUER, aud: AUDIENCE, exp: Math.floor(Date.now() / 1000) + 60 }, k2.privateKey, { algorithm: 'ES256', header: { alg: 'ES256', kid: 'zz', typ: 'at+jwt' } as jwt.JwtHeader });
  await request(verifier).get('/me').set('Authorization', `Bearer ${forged}`).expect(401);

  // Step 1: k2 verify-only, instance by instance; k1 still signs.
  a.deploy([signing('k1', k1), verifyOnly('k2', k2)]);
  await login(a);
  await everyTokenEverywhere('step 1 (A deployed)');
  b.deploy([signing('k1', k1), verifyOnly('k2', k2)]);
  await login(b);
  await everyTokenEverywhere('step 1 (B deployed)');
  expect((strategyImpl(a.strategy)?.publicJwks?.().keys ?? []).map((k) => k.kid)).toEqual(['k1', 'k2']);
  expect((strategyImpl(b.strategy)?.publicJwks?.().keys ?? []).map((k) => k.kid)).toEqual(['k1', 'k2']);
  expect(tokens.every((t) => kidOf(t) === 'k1')).toBe(true);
  // Wait one JWKS cache lifetime: the verifier refetches (maxAge) and now knows k2.
  const fetchedBefore = lb.requests;
  await until(async () => {
    await request(verifier).get('/me').set('Authorization', `Bearer ${tokens[0]}`).expect(200);
    return lb.requests > fetchedBefore;
  }, 5000, 'the verifier to refetch the JWKS');

  // Step 2: k2 signs, k1 verify-only; A first (B, still on step 1, already verifies k2).
  a.deploy([signing('k2', k2), verifyOnly('k1', k1)]);
  expect(kidOf(await login(a))).toBe('k2');
  await everyTokenEverywhere('step 2 (A deployed)');
  b.deploy([signing('k2', k2), verifyOnly('k1', k1)]);
  expect(kidOf(await login(b))).toBe('k2');
  await everyTokenEverywhere('step 2 (B deployed)');

  // Step 3: after the longest token lifetime, drop k1.
  const lastK1Exp = Math.max(...tokens.filter((t) => kidOf(t) === 'k1').map(expOf));
  await until(() => Date.now() > lastK1Exp, 10_000, 'the last k1 token to expire');
  expect(tokens.filter((t) => kidOf(t) === 'k1').every((t) => expOf(t) < Date.now())).toBe(true);
  a.deploy([signing('k2', k2)]);
  await login(a);
  await everyTokenEverywhere('step 3 (A deployed)');
  b.deploy([signing('k2', k2)]);
  await login(b);
  await everyTokenEverywhere('step 3 (B deployed)');
  expect((strategyImpl(b.strategy)?.publicJwks?.().keys ?? []).map((k) => k.kid)).toEqual(['k2']);
  expect(tokens.filter((t) => expOf(t) > Date.now()).length).toBeGreaterThanOrEqual(2);
}, 30_000);
