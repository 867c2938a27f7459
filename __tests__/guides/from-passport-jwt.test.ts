/**
 * docs/guides/from-passport-jwt.md: the guide's before app (real passport + passport-jwt) and after app
 * (express-principal), over HTTP with the same tokens. Tokens the old app issued keep working after the move,
 * the answers agree status for status, and (for a rollback) tokens the new app issues work on the old one.
 */
import jwt from 'jsonwebtoken';
import request from 'supertest';
import { createApp as before } from '../../docs/guides/examples/passport-jwt-before';
import { createApp as after } from '../../docs/guides/examples/passport-jwt-after';

const settings = { secret: 'k8Jd02mXq9Lp3Zr7Tv5Wy1Ab4Cd6Ef8Gh0Ij2Kl', issuer: 'https://auth.example.com', audience: 'orders-api' };
const old = before(settings);
const next = after(settings);
afterAll(async () => { await next.auth.close(); });

async function tokenFrom(app: Parameters<typeof request>[0], username: string, password: string): Promise<string> {
  const res = await request(app).post('/login').send({ username, password }).expect(200);
  return (res.body as { token: string }).token;
}

/** Status and user of each route, on one app, for one Authorization header (or none). */
async function answers(app: Parameters<typeof request>[0], token: string | null) {
  const out: Record<string, [number, unknown]> = {};
  for (const path of ['/me', '/admin']) {
    const req = request(app).get(path);
    const res = await (token === null ? req : req.set('Authorization', `Bearer ${token}`));
    out[path] = [res.status, res.status === 200 ? res.body : null];
  }
  return out;
}

test('a token the passport-jwt app issued works the same on the express-principal app', async () => {
  const alice = await tokenFrom(old, 'alice', 'alice-wonderland');
  const bob = await tokenFrom(old, 'bob', 'bob-builder');
  expect((jwt.decode(alice, { complete: true }) as jwt.Jwt).header.typ).toBe('JWT');
  const want = { '/me': [200, { id: 'alice' }], '/admin': [200, { admin: 'alice' }] };
  expect(await answers(old, alice)).toEqual(want);
  expect(await answers(next.app, alice)).toEqual(want);
  const bobWant = { '/me': [200, { id: 'bob' }], '/admin': [403, null] };
  expect(await answers(old, bob)).toEqual(bobWant);
  expect(await answers(next.app, bob)).toEqual(bobWant);
});

test('refusals agree: no token, a tampered one, an expired one, another secret, another audience', async () => {
  const alice = await tokenFrom(old, 'alice', 'alice-wonderland');
  const [head, body] = alice.split('.');
  const claims = JSON.parse(Buffer.from(body as string, 'base64url').toString()) as Record<string, unknown>;
  const tampered = `${head}.${Buffer.from(JSON.stringify({ ...claims, roles: ['admin', 'root'], sub: 'mallory' })).toString('base64url')}.${alice.split('.')[2]}`;
  const sign = (extra: jwt.SignOptions, key = settings.secret) => jwt.sign({ roles: ['admin'] }, key, { algorithm: 'HS256', subject: 'alice', issuer: settings.issuer, audience: settings.audience, expiresIn: '15m', ...extra });
  const expired = jwt.sign({ roles: ['admin'], exp: Math.floor(Date.now() / 1000) - 60 }, settings.secret, { algorithm: 'HS256', subject: 'alice', issuer: settings.issuer, audience: settings.audience });
  const refused = { '/me': [401, null], '/admin': [401, null] };
  for (const token of [null, tampered, expired, sign({}, 'Zq7Wm3Xr9Lp1Tv5Yb2Nc8Hd4Gf6Js0Ka3Qe7Ru'), sign({ audience: 'another-api' })]) {
    expect(await answers(old, token)).toEqual(refused);
    expect(await answers(next.app, token)).toEqual(refused);
  }
  const res = await request(next.app).get('/me').set('Authorization', `Bearer ${tampered}`);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.body.code).toBe('ERR_INVALID_CREDENTIAL');
});

test('rollback: a token the express-principal app issued is accepted by the passport-jwt app', async () => {
  const alice = await tokenFrom(next.app, 'alice', 'alice-wonderland');
  expect((jwt.decode(alice, { complete: true }) as jwt.Jwt).header.typ).toBe('at+jwt');
  const want = { '/me': [200, { id: 'alice' }], '/admin': [200, { admin: 'alice' }] };
  expect(await answers(next.app, alice)).toEqual(want);
  expect(await answers(old, alice)).toEqual(want);
  await request(next.app).post('/login').send({ username: 'alice', password: 'nope' }).expect(401);
});
