/**
 * `typ` is a media type (RFC 7515 §4.1.9): compared case-insensitively, `application/` optional when the value
 * has no other `/`. So RFC 9068 §4's `application/at+jwt` is accepted wherever `at+jwt` is, and the other way
 * round; a different type stays refused.
 */
import express from 'express';
import request from 'supertest';
import jwt from 'jsonwebtoken';
import { principal, statelessJwt, requireAuth, type PrincipalMiddleware, type Strategy } from '../../lib';
import { AUDIENCE, ISSUER, ecKeys, publicJwk, startJwksServer, type JwksServer } from '../microservice/support';

const SECRET = 'Qm4vT8xZ1pL6rW3nY9bK2hJ5dF7gS0aC';
const middlewares: PrincipalMiddleware[] = [];
const servers: JwksServer[] = [];
afterAll(async () => {
  await Promise.all(middlewares.map((m) => m.close()));
  await Promise.all(servers.map((s) => s.close()));
});

function app(strategy: Strategy) {
  const auth = principal({ strategy });
  middlewares.push(auth);
  const a = express();
  a.use(auth);
  a.get('/me', requireAuth(), (req, res) => res.json({ id: req.principal?.id }));
  return a;
}

function hs(typ: string | undefined): string {
  const header = { alg: 'HS256', ...(typ === undefined ? {} : { typ }) } as jwt.JwtHeader;
  return jwt.sign({ sub: 'alice', roles: [] }, SECRET, { algorithm: 'HS256', expiresIn: 300, header });
}

async function status(target: express.Express, token: string): Promise<number> {
  const res = await request(target).get('/me').set('Authorization', `Bearer ${token}`);
  if (res.status === 200) expect(res.body).toEqual({ id: 'alice' });
  else expect(res.body.code).toBe('ERR_INVALID_CREDENTIAL');
  return res.status;
}

test('default typ: at+jwt and application/at+jwt in any case are accepted; other types refused', async () => {
  const target = app(statelessJwt({ secret: SECRET }));
  for (const typ of ['at+jwt', 'AT+JWT', 'application/at+jwt', 'Application/AT+JWT']) {
    expect([typ, await status(target, hs(typ))]).toEqual([typ, 200]);
  }
  for (const typ of [undefined, 'JWT', 'application/jwt', 'text/at+jwt', 'application/at+jwt; v=1', 'application/', 'at+jwt/application', 'session+jwt']) {
    expect([typ, await status(target, hs(typ))]).toEqual([typ, 401]);
  }
});

test('configured typ values are media types too: JWT accepts application/jwt, application/at+jwt accepts at+jwt', async () => {
  const both = app(statelessJwt({ secret: SECRET, typ: ['at+jwt', 'JWT'] }));
  for (const typ of ['jwt', 'JWT', 'application/jwt', 'application/at+jwt']) expect([typ, await status(both, hs(typ))]).toEqual([typ, 200]);
  expect(await status(both, hs('application/jose'))).toBe(401);
  const long = app(statelessJwt({ secret: SECRET, typ: 'application/at+jwt' }));
  expect(await status(long, hs('at+jwt'))).toBe(200);
  expect(await status(long, hs('jwt'))).toBe(401);
});

test('tokens this library issues keep typ at+jwt', async () => {
  const strategy = statelessJwt({ secret: SECRET });
  const issuer = express();
  const auth = principal({ strategy });
  middlewares.push(auth);
  issuer.use(auth);
  issuer.post('/login', async (req, res) => res.json(await req.auth.login({ id: 'alice' })));
  const token = (await request(issuer).post('/login').expect(200)).body.token as string;
  expect(jwt.decode(token, { complete: true })?.header.typ).toBe('at+jwt');
});

test('a JWKS verifier accepts typ application/at+jwt', async () => {
  const key = ecKeys();
  const server = await startJwksServer(() => ({ keys: [publicJwk(key.publicKey, 'k1', 'ES256')] }));
  servers.push(server);
  const target = app(statelessJwt({ jwksUri: server.url, issuer: ISSUER, audience: AUDIENCE }));
  const now = Math.floor(Date.now() / 1000);
  const token = jwt.sign({ sub: 'alice', iss: ISSUER, aud: AUDIENCE, iat: now, exp: now + 300 }, key.privateKey, {
    algorithm: 'ES256', header: { alg: 'ES256', typ: 'application/at+jwt', kid: 'k1' } as jwt.JwtHeader,
  });
  expect(await status(target, token)).toBe(200);
});
