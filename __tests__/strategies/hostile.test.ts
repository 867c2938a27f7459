/**
 * Hostile JWTs over HTTP: alg none, edited payloads, foreign keys, HS/RS key confusion,
 * time claims, wrong iss/aud, unknown kid, wrong typ, and a revoked token replayed after logout.
 * Every refusal is 401 problem+json with RFC 6750 invalid_token and never echoes the token.
 */
import { createHmac, generateKeyPairSync } from 'node:crypto';
import jwt from 'jsonwebtoken';
import request from 'supertest';
import { redisStore, statefulJwt, statelessJwt, memoryStore } from '../../lib';
import { buildApp, credential, login, type TestApp } from '../helpers/apps';
import { cleanupPrefix, connectRedis, uniquePrefix, type TestRedisClient } from '../helpers/redis';

const secret = 'k8Jd02mXq9Lp3Zr7Tv5Wy1Ab4Cd6Ef8Gh0Ij2Kl';
const otherSecret = 'Zq3Xv8Lm1Np6Rt0Yw4Bc7Df2Gh5Jk9Ps2Uv6Ea';
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const rsaPublicPem = rsa.publicKey.export({ format: 'pem', type: 'spki' }) as string;
const prefix = uniquePrefix('hostile');
let client: TestRedisClient;
let hs: TestApp;
let rs: TestApp;
let stateful: TestApp;

beforeAll(async () => {
  client = await connectRedis();
  hs = buildApp({ strategy: statelessJwt({ secret, issuer: 'auth.test', audience: 'api.test', store: redisStore({ client, prefix }) }) });
  rs = buildApp({ strategy: statelessJwt({ privateKey: rsa.privateKey, issuer: 'auth.test', audience: 'api.test' }) });
  stateful = buildApp({ strategy: statefulJwt({ secret, issuer: 'auth.test', audience: 'api.test', store: memoryStore() }) });
});
afterAll(async () => {
  for (const { auth } of [hs, rs, stateful]) await auth.close();
  await cleanupPrefix(client, prefix);
  await client.close();
});

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);
const goodClaims = () => ({ sub: 'eve', roles: ['admin'], iss: 'auth.test', aud: 'api.test', iat: now(), exp: now() + 300, jti: 'j1' });

/** An HMAC-signed JWT built by hand (no library checks in the way). */
function forgeHs(headerObj: Record<string, unknown>, payload: Record<string, unknown>, key: string | Buffer, hash = 'sha256'): string {
  const signing = `${b64(headerObj)}.${b64(payload)}`;
  return `${signing}.${createHmac(hash, key).update(signing).digest('base64url')}`;
}

async function expectRefused(app: TestApp, token: string, code = 'ERR_INVALID_CREDENTIAL'): Promise<void> {
  const res = await request(app.app).get('/admin').set('Authorization', `Bearer ${token}`);
  expect(res.status).toBe(401);
  expect(res.body.code).toBe(code);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="api", error="invalid_token"/);
  expect(res.text).not.toContain(token);
  expect(res.headers['www-authenticate']).not.toContain(token);
}

test('control: a correctly forged-by-the-key token is accepted (so the refusals below are meaningful)', async () => {
  const token = forgeHs({ alg: 'HS256', typ: 'at+jwt' }, goodClaims(), secret);
  await request(hs.app).get('/admin').set('Authorization', `Bearer ${token}`).expect(200);
});

describe('alg: none', () => {
  test.each(['none', 'None', 'NONE'])('alg %s with an empty signature', async (alg) => {
    await expectRefused(hs, `${b64({ alg, typ: 'at+jwt' })}.${b64(goodClaims())}.`);
  });
  test('alg none with a junk signature', async () => {
    await expectRefused(hs, `${b64({ alg: 'none', typ: 'at+jwt' })}.${b64(goodClaims())}.c2ln`);
  });
  test('alg none against an RS strategy and a stateful one', async () => {
    await expectRefused(rs, `${b64({ alg: 'none', typ: 'at+jwt' })}.${b64(goodClaims())}.`);
    await expectRefused(stateful, `${b64({ alg: 'none', typ: 'at+jwt' })}.${b64({ ...goodClaims(), sid: 'x' })}.`);
  });
});

test('an edited payload (roles added) keeps the old signature → refused', async () => {
  const s = await login(hs.app, { id: 'eve', roles: ['user'] });
  const [h, p, sig] = (s.token as string).split('.') as [string, string, string];
  const payload = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown>;
  const edited = `${h}.${b64({ ...payload, roles: ['admin'] })}.${sig}`;
  await request(hs.app).get('/admin').set('Authorization', `Bearer ${s.token}`).expect(403);
  await expectRefused(hs, edited);
});

test('an edited RS-signed payload → refused', async () => {
  const s = await login(rs.app, { id: 'eve', roles: ['user'] });
  const [h, p, sig] = (s.token as string).split('.') as [string, string, string];
  const payload = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown>;
  await expectRefused(rs, `${h}.${b64({ ...payload, sub: 'root' })}.${sig}`);
});

test('a token signed with another key → refused', async () => {
  await expectRefused(hs, forgeHs({ alg: 'HS256', typ: 'at+jwt' }, goodClaims(), otherSecret));
  const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const token = jwt.sign(goodClaims(), other.privateKey, { algorithm: 'RS256', header: { alg: 'RS256', typ: 'at+jwt' } });
  await expectRefused(rs, token);
});

test('HS256 signed with the RS public key (key confusion) → refused', async () => {
  await expectRefused(rs, forgeHs({ alg: 'HS256', typ: 'at+jwt' }, goodClaims(), rsaPublicPem));
  const der = rsa.publicKey.export({ format: 'der', type: 'spki' });
  await expectRefused(rs, forgeHs({ alg: 'HS256', typ: 'at+jwt' }, goodClaims(), der));
});

test('another HS algorithm than the pinned one (HS512 with the right secret) → refused', async () => {
  await expectRefused(hs, forgeHs({ alg: 'HS512', typ: 'at+jwt' }, goodClaims(), secret, 'sha512'));
});

describe('time claims', () => {
  test('expired (beyond the 5 s tolerance) → ERR_CREDENTIAL_EXPIRED', async () => {
    await expectRefused(hs, forgeHs({ alg: 'HS256', typ: 'at+jwt' }, { ...goodClaims(), iat: now() - 600, exp: now() - 60 }, secret), 'ERR_CREDENTIAL_EXPIRED');
  });
  test('within the clock tolerance → still accepted', async () => {
    const token = forgeHs({ alg: 'HS256', typ: 'at+jwt' }, { ...goodClaims(), iat: now() - 600, exp: now() - 1 }, secret);
    await request(hs.app).get('/admin').set('Authorization', `Bearer ${token}`).expect(200);
  });
  test('not yet valid (nbf in the future) → refused', async () => {
    await expectRefused(hs, forgeHs({ alg: 'HS256', typ: 'at+jwt' }, { ...goodClaims(), nbf: now() + 120 }, secret));
  });
  test('issued in the future (iat) → refused', async () => {
    await expectRefused(hs, forgeHs({ alg: 'HS256', typ: 'at+jwt' }, { ...goodClaims(), iat: now() + 120 }, secret));
  });
  test('no exp at all → refused', async () => {
    const { exp: _drop, ...noExp } = goodClaims();
    await expectRefused(hs, forgeHs({ alg: 'HS256', typ: 'at+jwt' }, noExp, secret));
  });
});

describe('issuer and audience', () => {
  test('wrong iss → refused', async () => {
    await expectRefused(hs, forgeHs({ alg: 'HS256', typ: 'at+jwt' }, { ...goodClaims(), iss: 'evil.test' }, secret));
  });
  test('missing iss → refused', async () => {
    const { iss: _drop, ...noIss } = goodClaims();
    await expectRefused(hs, forgeHs({ alg: 'HS256', typ: 'at+jwt' }, noIss, secret));
  });
  test('wrong aud → refused', async () => {
    await expectRefused(hs, forgeHs({ alg: 'HS256', typ: 'at+jwt' }, { ...goodClaims(), aud: 'other-api' }, secret));
  });
});

describe('header checks', () => {
  test('an unknown kid → refused', async () => {
    await expectRefused(hs, forgeHs({ alg: 'HS256', typ: 'at+jwt', kid: 'nope' }, goodClaims(), secret));
  });
  test('a typ other than at+jwt → refused', async () => {
    await expectRefused(hs, forgeHs({ alg: 'HS256', typ: 'JWT' }, goodClaims(), secret));
  });
  test('crit header → refused', async () => {
    await expectRefused(hs, forgeHs({ alg: 'HS256', typ: 'at+jwt', crit: ['exp'] }, goodClaims(), secret));
  });
  test('garbage, two segments, and a non-object payload → refused', async () => {
    for (const t of ['garbage', 'a.b', `${b64({ alg: 'HS256', typ: 'at+jwt' })}.${b64([1])}.x`]) await expectRefused(hs, t);
  });
});

test('a revoked token replayed after logout → ERR_CREDENTIAL_REVOKED (Redis deny-list)', async () => {
  const s = await login(hs.app, { id: 'eve', roles: ['admin'] });
  await request(hs.app).get('/admin').set(credential(s)).expect(200);
  await request(hs.app).post('/logout').set(credential(s)).expect(204);
  await expectRefused(hs, s.token as string, 'ERR_CREDENTIAL_REVOKED');
  expect(await client.exists(`${prefix}rv:j:${s.sessionId}`)).toBe(1);
});

test('stateful: a token for a session id that was never issued → refused', async () => {
  await expectRefused(stateful, forgeHs({ alg: 'HS256', typ: 'session+jwt' }, { ...goodClaims(), sid: 'never-issued' }, secret));
});

test('stateful: a session of one subject cannot be used with another sub', async () => {
  const s = await login(stateful.app, { id: 'victim', roles: ['admin'] });
  await expectRefused(stateful, forgeHs({ alg: 'HS256', typ: 'session+jwt' }, { ...goodClaims(), sub: 'eve', sid: s.sessionId }, secret));
});
