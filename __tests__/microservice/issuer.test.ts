/**
 * Issuer side: statelessJwt({ keys }) with ES256 / RS256 / PS256 and kids, auth.jwks() serving only
 * public key material, EdDSA refused at construction. Tokens are checked by a separate verifier that
 * fetches the issuer's JWKS over real loopback HTTP.
 */
import express from 'express';
import request from 'supertest';
import { generateKeyPairSync } from 'node:crypto';
import { principal, statelessJwt, requireAuth, type PrincipalMiddleware } from '../../lib';
import { AUDIENCE, ISSUER, ecKeys, listen, rsaKeys, type Listening } from './support';

const SECRET = 'k8Jd02mXq9Lp3Zr7Tv5Wy1Ab4Cd6Ef8Gh0Ij2Kl';
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

function issuerApp(auth: PrincipalMiddleware) {
  const app = express();
  app.use(express.json());
  app.use(auth);
  app.get('/.well-known/jwks.json', auth.jwks());
  app.post('/login', async (req, res) => {
    const issued = await req.auth.login({ id: String(req.body.id), roles: ['user'], scopes: ['orders:read'] });
    res.json(issued);
  });
  app.get('/me', requireAuth(), (req, res) => res.json(req.principal));
  return app;
}

function verifierApp(jwksUri: string) {
  const auth = principal({ strategy: statelessJwt({ jwksUri, issuer: ISSUER, audience: AUDIENCE }) });
  const app = express();
  app.use(auth);
  app.get('/me', requireAuth(), (req, res) => res.json({ id: req.principal?.id, strategy: req.principal?.strategy, scopes: req.principal?.scopes }));
  return { app, auth };
}

describe.each([
  ['ES256', ecKeys],
  ['RS256', rsaKeys],
  ['PS256', rsaKeys],
] as const)('issuer with %s keys', (algorithm, makeKeys) => {
  const open: Listening[] = [];
  const closers: PrincipalMiddleware[] = [];
  afterAll(async () => {
    await Promise.all(open.map((l) => l.close()));
    await Promise.all(closers.map((a) => a.close()));
  });

  test('signs with the first key, publishes every public key, and a JWKS verifier accepts its tokens', async () => {
    const k2 = makeKeys();
    const k1 = makeKeys();
    const auth = principal({
      strategy: statelessJwt({
        issuer: ISSUER, audience: AUDIENCE,
        keys: [{ kid: 'k2', algorithm, privateKey: k2.privateKey, publicKey: k2.publicKey }, { kid: 'k1', algorithm, publicKey: k1.publicKey }],
      }),
    });
    closers.push(auth);
    const issuer = await listen(issuerApp(auth));
    open.push(issuer);

    const jwks = await request(issuer.url).get('/.well-known/jwks.json').expect(200);
    expect(jwks.headers['content-type']).toMatch(/^application\/jwk-set\+json/);
    expect(jwks.headers['cache-control']).toMatch(/max-age=\d+/);
    expect(jwks.headers['cache-control']).toMatch(/public/);
    const keys = JSON.parse(jwks.text).keys as Record<string, unknown>[];
    expect(keys.map((k) => k.kid)).toEqual(['k2', 'k1']);
    for (const key of keys) {
      expect(key.alg).toBe(algorithm);
      expect(key.use).toBe('sig');
      expect(key.kty).toBe(algorithm === 'ES256' ? 'EC' : 'RSA');
      for (const member of PRIVATE_MEMBERS) expect(key).not.toHaveProperty(member);
    }

    const login = await request(issuer.url).post('/login').send({ id: 'alice' }).expect(200);
    const token = login.body.token as string;
    const header = JSON.parse(Buffer.from(token.split('.')[0] as string, 'base64url').toString());
    expect(header).toEqual({ alg: algorithm, typ: 'at+jwt', kid: 'k2' });

    const verifier = verifierApp(`${issuer.url}/.well-known/jwks.json`);
    closers.push(verifier.auth);
    const me = await request(verifier.app).get('/me').set('Authorization', `Bearer ${token}`).expect(200);
    expect(me.body).toEqual({ id: 'alice', strategy: 'stateless-jwt', scopes: ['orders:read'] });
    // The issuer verifies its own token too.
    await request(issuer.url).get('/me').set('Authorization', `Bearer ${token}`).expect(200);
  });
});

describe('JWKS never exposes secrets', () => {
  test('an HS256 strategy publishes an empty key set', async () => {
    const auth = principal({ strategy: statelessJwt({ secret: SECRET }) });
    const app = express();
    app.get('/jwks', auth.jwks());
    const res = await request(app).get('/jwks').expect(200);
    expect(JSON.parse(res.text)).toEqual({ keys: [] });
    expect(res.text).not.toContain(SECRET);
    expect(res.text).not.toContain(Buffer.from(SECRET).toString('base64url'));
    await auth.close();
  });

  test('a keys list mixing an HS key and an EC key publishes only the EC public key', async () => {
    const ec = ecKeys();
    const auth = principal({
      strategy: statelessJwt({ keys: [{ kid: 'ec1', algorithm: 'ES256', privateKey: ec.privateKey }, { kid: 'hs-old', algorithm: 'HS256', secret: SECRET }] }),
    });
    const app = express();
    app.get('/jwks', auth.jwks());
    const res = await request(app).get('/jwks').expect(200);
    const keys = JSON.parse(res.text).keys as Record<string, unknown>[];
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({ kid: 'ec1', kty: 'EC', crv: 'P-256', alg: 'ES256' });
    expect(keys[0]).not.toHaveProperty('d');
    expect(res.text).not.toContain('hs-old');
    expect(res.text).not.toContain(Buffer.from(SECRET).toString('base64url'));
    // The private scalar of the EC key appears nowhere.
    const d = (ec.privateKey.export({ format: 'jwk' }) as { d: string }).d;
    expect(res.text).not.toContain(d);
    await auth.close();
  });

  test('a key given only as a private key publishes its public half', async () => {
    const rsa = rsaKeys();
    const auth = principal({ strategy: statelessJwt({ keys: [{ kid: 'r1', algorithm: 'RS256', privateKey: rsa.privateKey }] }) });
    const app = express();
    app.get('/jwks', auth.jwks());
    const res = await request(app).get('/jwks').expect(200);
    const key = (JSON.parse(res.text).keys as Record<string, unknown>[])[0];
    const pub = rsa.publicKey.export({ format: 'jwk' }) as { n: string; e: string };
    expect(key).toMatchObject({ kid: 'r1', kty: 'RSA', n: pub.n, e: pub.e });
    for (const member of PRIVATE_MEMBERS) expect(key).not.toHaveProperty(member);
    await auth.close();
  });
});

describe('EdDSA is refused at construction (jsonwebtoken 9 cannot sign or verify it)', () => {
  const ed = generateKeyPairSync('ed25519');
  test('an Ed25519 key pair', () => {
    expect(() => statelessJwt({ keys: [{ kid: 'ed', privateKey: ed.privateKey, publicKey: ed.publicKey }] })).toThrow(/EdDSA/);
    expect(() => statelessJwt({ privateKey: ed.privateKey })).toThrow(TypeError);
    expect(() => statelessJwt({ privateKey: ed.privateKey })).toThrow(/jsonwebtoken 9 has no EdDSA/);
  });
  test("algorithm: 'EdDSA' names the reason and the alternatives", () => {
    expect(() => statelessJwt({ keys: [{ kid: 'ed', algorithm: 'EdDSA' as never, privateKey: ed.privateKey }] }))
      .toThrow(/EdDSA \(Ed25519\) is not supported: jsonwebtoken 9 cannot sign or verify it; use ES256/);
    expect(() => statelessJwt({ algorithms: ['EdDSA' as never], publicKey: ed.publicKey })).toThrow(/jsonwebtoken 9/);
  });
});
