/**
 * JWT keys and algorithms over HTTP: HS256/384/512, RS256/PS256/ES256 (PEM and KeyObject),
 * kid rotation, claim mapping, and the RFC 7515 A.1 test vector.
 */
import { readFileSync } from 'node:fs';
import { createHmac, generateKeyPairSync, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import request from 'supertest';
import { statefulJwt, statelessJwt, memoryStore, type Strategy } from '../../lib';
import { buildApp, login, type TestApp } from '../helpers/apps';

const secret = 'k8Jd02mXq9Lp3Zr7Tv5Wy1Ab4Cd6Ef8Gh0Ij2Kl';
const apps: TestApp[] = [];
afterAll(async () => {
  for (const { auth } of apps) await auth.close();
});

function make(strategy: Strategy): TestApp {
  const built = buildApp({ strategy });
  apps.push(built);
  return built;
}

function header(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[0] as string, 'base64url').toString('utf8')) as Record<string, unknown>;
}

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const pem = (k: KeyObject, type: 'pkcs8' | 'spki') => k.export({ format: 'pem', type }) as string;

describe.each(['HS256', 'HS384', 'HS512'] as const)('%s with a secret', (alg) => {
  test('signs with that algorithm and verifies over HTTP', async () => {
    const { app } = make(statelessJwt({ secret, algorithms: [alg] }));
    const s = await login(app, { id: 'u1', roles: ['admin'] });
    expect(header(s.token as string)).toMatchObject({ alg, typ: 'at+jwt' });
    expect((await request(app).get('/admin').set('Authorization', `Bearer ${s.token}`).expect(200)).body.id).toBe('u1');
  });
});

test('the default algorithm for a secret is HS256', async () => {
  const { app } = make(statelessJwt({ secret }));
  expect(header((await login(app, { id: 'u1' })).token as string).alg).toBe('HS256');
});

const asymmetric = [
  { alg: 'RS256', pair: rsa },
  { alg: 'PS256', pair: rsa },
  { alg: 'ES256', pair: ec },
] as const;

describe.each(asymmetric)('$alg', ({ alg, pair }) => {
  test.each(['PEM', 'KeyObject'] as const)('with %s keys: signs and verifies; statefulJwt too', async (form) => {
    const keys = form === 'PEM'
      ? { privateKey: pem(pair.privateKey, 'pkcs8'), publicKey: pem(pair.publicKey, 'spki') }
      : { privateKey: pair.privateKey, publicKey: pair.publicKey };
    for (const strategy of [statelessJwt({ ...keys, algorithms: [alg] }), statefulJwt({ ...keys, algorithms: [alg], store: memoryStore() })]) {
      const { app } = make(strategy);
      const s = await login(app, { id: 'u2', roles: ['admin'] });
      expect(header(s.token as string).alg).toBe(alg);
      // Independent check: the token verifies with the public key outside the library.
      expect(() => jwt.verify(s.token as string, pair.publicKey, { algorithms: [alg] })).not.toThrow();
      await request(app).get('/admin').set('Authorization', `Bearer ${s.token}`).expect(200);
    }
  });

  test('a verify-only instance (public key) accepts tokens of the signer and cannot log in', async () => {
    const signer = make(statelessJwt({ privateKey: pair.privateKey, algorithms: [alg] }));
    const verifier = make(statelessJwt({ publicKey: pem(pair.publicKey, 'spki'), algorithms: [alg] }));
    const s = await login(signer.app, { id: 'u3' });
    expect((await request(verifier.app).get('/me').set('Authorization', `Bearer ${s.token}`).expect(200)).body.id).toBe('u3');
    expect((await request(verifier.app).post('/login').send({ id: 'u3' })).status).toBe(500);
  });
});

test('default algorithm: RS256 for an RSA key, ES256 for a P-256 key', async () => {
  const r = make(statelessJwt({ privateKey: rsa.privateKey }));
  const e = make(statelessJwt({ privateKey: ec.privateKey }));
  expect(header((await login(r.app, { id: 'a' })).token as string).alg).toBe('RS256');
  expect(header((await login(e.app, { id: 'a' })).token as string).alg).toBe('ES256');
});

describe('a keys list with kids (rotation)', () => {
  const k1 = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const k2 = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const before = () => statelessJwt({ keys: [{ kid: 'k1', privateKey: k1.privateKey, publicKey: k1.publicKey, algorithm: 'ES256' }] });
  const after = () => statelessJwt({
    keys: [
      { kid: 'k2', privateKey: k2.privateKey, publicKey: k2.publicKey, algorithm: 'ES256' },
      { kid: 'k1', publicKey: k1.publicKey, algorithm: 'ES256' },
    ],
  });

  test('the old key still verifies, the new one signs, and an unknown kid is refused', async () => {
    const oldApp = make(before()).app;
    const newApp = make(after()).app;
    const oldToken = (await login(oldApp, { id: 'rot' })).token as string;
    expect(header(oldToken).kid).toBe('k1');
    const newToken = (await login(newApp, { id: 'rot' })).token as string;
    expect(header(newToken).kid).toBe('k2');
    await request(newApp).get('/me').set('Authorization', `Bearer ${oldToken}`).expect(200);
    await request(newApp).get('/me').set('Authorization', `Bearer ${newToken}`).expect(200);
    const refused = await request(oldApp).get('/me').set('Authorization', `Bearer ${newToken}`);
    expect(refused.status).toBe(401);
    expect(refused.body.code).toBe('ERR_INVALID_CREDENTIAL');
  });

  test('auth.jwks() serves the public halves with their kids and no private material', async () => {
    const built = make(after());
    built.app.get('/jwks', built.auth.jwks());
    const res = await request(built.app).get('/jwks').expect(200);
    const body = JSON.parse(res.text) as { keys: Record<string, unknown>[] };
    expect(body.keys.map((k) => k.kid).sort()).toEqual(['k1', 'k2']);
    for (const k of body.keys) expect(k).not.toHaveProperty('d');
  });
});

describe('claim mapping', () => {
  const external = (payload: Record<string, unknown>) =>
    jwt.sign({ sub: 'kc-user', ...payload }, secret, { algorithm: 'HS256', expiresIn: 60, header: { alg: 'HS256', typ: 'at+jwt' } });

  test('roles under realm_access.roles and a space-separated scope string', async () => {
    const { app } = make(statelessJwt({ secret, claims: { roles: 'realm_access.roles' } }));
    const token = external({ realm_access: { roles: ['admin', 'user'] }, scope: 'orders:read orders:write' });
    const me = await request(app).get('/me').set('Authorization', `Bearer ${token}`).expect(200);
    expect(me.body.roles).toEqual(['admin', 'user']);
    expect(me.body.scopes).toEqual(['orders:read', 'orders:write']);
    await request(app).get('/admin').set('Authorization', `Bearer ${token}`).expect(200);
    await request(app).get('/scoped').set('Authorization', `Bearer ${token}`).expect(200);
  });

  test('without the mapping, the same token has no roles (403 on /admin)', async () => {
    const { app } = make(statelessJwt({ secret }));
    const token = external({ realm_access: { roles: ['admin'] } });
    await request(app).get('/admin').set('Authorization', `Bearer ${token}`).expect(403);
  });

  test('a roles claim that is a string is a malformed credential, never a grant', async () => {
    const { app } = make(statelessJwt({ secret }));
    const res = await request(app).get('/admin').set('Authorization', `Bearer ${external({ roles: 'admin' })}`);
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('ERR_INVALID_CREDENTIAL');
  });

  test('claims.map takes full control', async () => {
    const { app } = make(statelessJwt({ secret, claims: { map: (p) => ({ id: `x-${String(p.sub)}`, roles: (p.groups as string[]) ?? [] }) } }));
    const me = await request(app).get('/me').set('Authorization', `Bearer ${external({ groups: ['admin'] })}`).expect(200);
    expect(me.body.id).toBe('x-kc-user');
    expect(me.body.roles).toEqual(['admin']);
  });
});

describe('RFC 7515 appendix A.1 vector', () => {
  const vector = JSON.parse(readFileSync('/work/shared/vectors/rfc7515-a1.json', 'utf8')) as {
    token: string; key_jwk: { k: string }; valid_at_unix: number;
  };
  const key = Buffer.from(vector.key_jwk.k, 'base64url');

  test('the key is the 64 decoded bytes and the vector verifies at its valid time (sanity check outside the library)', () => {
    expect(key.length).toBe(64);
    expect(jwt.verify(vector.token, key, { algorithms: ['HS256'], clockTimestamp: vector.valid_at_unix })).toMatchObject({ iss: 'joe' });
    const [h, p, s] = vector.token.split('.') as [string, string, string];
    expect(createHmac('sha256', key).update(`${h}.${p}`).digest('base64url')).toBe(s);
  });

  test('the signature verifies: refused only as expired (ERR_CREDENTIAL_EXPIRED)', async () => {
    const { app } = make(statelessJwt({ secret: key, typ: 'JWT' }));
    const res = await request(app).get('/me').set('Authorization', `Bearer ${vector.token}`);
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('ERR_CREDENTIAL_EXPIRED');
    expect(res.text).not.toContain(vector.token);
  });

  test('a one-byte change to the payload gives ERR_INVALID_CREDENTIAL', async () => {
    const { app } = make(statelessJwt({ secret: key, typ: 'JWT' }));
    const [h, p, s] = vector.token.split('.') as [string, string, string];
    const bytes = Buffer.from(p, 'base64url');
    const at = bytes.indexOf('joe');
    bytes[at + 2] = 'f'.charCodeAt(0); // "joe" → "jof"
    const edited = `${h}.${bytes.toString('base64url')}.${s}`;
    expect(edited).not.toBe(vector.token);
    const res = await request(app).get('/me').set('Authorization', `Bearer ${edited}`);
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('ERR_INVALID_CREDENTIAL');
  });

  test('with the default typ (at+jwt) the vector (typ JWT) is refused before anything else', async () => {
    const { app } = make(statelessJwt({ secret: key }));
    const res = await request(app).get('/me').set('Authorization', `Bearer ${vector.token}`);
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('ERR_INVALID_CREDENTIAL');
  });
});
