/**
 * docs/guides/from-express-jwt.md: the guide's before app (real express-jwt with the issuer's RS256 public key) and
 * after app (express-principal with the issuer's jwksUri), over HTTP with the same tokens from one external issuer:
 * tokens with no `typ` (as many issuers send) and with `typ: JWT` work on both; refusals agree.
 */
import { randomUUID, sign, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import request from 'supertest';
import { createApp as before } from '../../docs/guides/examples/express-jwt-before';
import { createApp as after } from '../../docs/guides/examples/express-jwt-after';
import { publicJwk, rsaKeys, startJwksServer, type JwksServer } from '../microservice/support';

const issuer = 'https://auth.example.com/';
const audience = 'orders-api';
const key = rsaKeys();
const stranger = rsaKeys();
let jwks: JwksServer;
let old: ReturnType<typeof before>;
let next: ReturnType<typeof after>;
beforeAll(async () => {
  jwks = await startJwksServer(() => ({ keys: [publicJwk(key.publicKey, 'k1', 'RS256')] }));
  old = before({ publicKey: key.publicKey.export({ type: 'spki', format: 'pem' }).toString(), issuer, audience });
  next = after({ jwksUri: jwks.url, issuer, audience });
});
afterAll(async () => {
  await next.auth.close();
  await jwks.close();
});

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** An RS256 token as the issuer mints it; `typ` exactly as given (none when undefined): no library adds one. */
function issue(claims: Record<string, unknown>, typ?: string, signer: KeyObject = key.privateKey): string {
  const now = Math.floor(Date.now() / 1000);
  const header = { alg: 'RS256', kid: 'k1', ...(typ === undefined ? {} : { typ }) };
  const input = `${b64(header)}.${b64({ iss: issuer, aud: audience, iat: now, exp: now + 300, jti: randomUUID(), ...claims })}`;
  return `${input}.${sign('sha256', Buffer.from(input), signer).toString('base64url')}`;
}

async function answers(app: Parameters<typeof request>[0], token: string | null) {
  const out: Record<string, [number, unknown]> = {};
  for (const path of ['/health', '/me', '/orders']) {
    const req = request(app).get(path);
    const res = await (token === null ? req : req.set('Authorization', `Bearer ${token}`));
    out[path] = [res.status, res.status === 200 ? res.body : null];
  }
  return out;
}

test('tokens with no typ and with typ JWT work the same on both apps', async () => {
  const noTyp = issue({ sub: 'alice', scope: 'orders:read profile' });
  const typJwt = jwt.sign({ scope: 'profile' }, key.privateKey, { algorithm: 'RS256', keyid: 'k1', subject: 'bob', issuer, audience, expiresIn: 300 });
  expect((jwt.decode(typJwt, { complete: true }) as jwt.Jwt).header.typ).toBe('JWT');
  const alice = { '/health': [200, { ok: true }], '/me': [200, { id: 'alice' }], '/orders': [200, { orders: [], for: 'alice' }] };
  expect(await answers(old, noTyp)).toEqual(alice);
  expect(await answers(next.app, noTyp)).toEqual(alice);
  const bob = { '/health': [200, { ok: true }], '/me': [200, { id: 'bob' }], '/orders': [403, null] };
  expect(await answers(old, typJwt)).toEqual(bob);
  expect(await answers(next.app, typJwt)).toEqual(bob);
});

test('refusals agree: no token, another key, expired, another audience, another issuer', async () => {
  const now = Math.floor(Date.now() / 1000);
  const refused = { '/health': [200, { ok: true }], '/me': [401, null], '/orders': [401, null] };
  const bad = [
    null,
    issue({ sub: 'alice', scope: 'orders:read' }, undefined, stranger.privateKey),
    issue({ sub: 'alice', scope: 'orders:read', iat: now - 600, exp: now - 300 }),
    issue({ sub: 'alice', scope: 'orders:read', aud: 'another-api' }),
    issue({ sub: 'alice', scope: 'orders:read', iss: 'https://evil.example/' }),
  ];
  for (const token of bad) {
    expect(await answers(old, token)).toEqual(refused);
    expect(await answers(next.app, token)).toEqual(refused);
  }
});

test('the after app answers problem+json with RFC 6750 challenges', async () => {
  const res = await request(next.app).get('/orders').set('Authorization', `Bearer ${issue({ sub: 'bob', scope: 'profile' })}`);
  expect(res.status).toBe(403);
  expect(res.body.code).toBe('ERR_INSUFFICIENT_SCOPE');
  expect(res.headers['www-authenticate']).toContain('error="insufficient_scope"');
});
