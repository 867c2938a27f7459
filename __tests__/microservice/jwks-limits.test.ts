/**
 * A JWKS is read up to its first 100 keys (each key costs an import on every fetch). Keys past the cap are not
 * ignored silently: every fetch of such a set emits one process warning with a stable code.
 */
import express from 'express';
import request from 'supertest';
import jwt from 'jsonwebtoken';
import { principal, statelessJwt, requireAuth, type PrincipalMiddleware } from '../../lib';
import { JWKS_TOO_MANY_KEYS } from '../../lib/envelopes/jwks-source';
import { AUDIENCE, ISSUER, ecKeys, publicJwk, startJwksServer, type JwksServer } from './support';

const servers: JwksServer[] = [];
const middlewares: PrincipalMiddleware[] = [];
/**
 * The warnings as emitted. Jest gives each test file its own `process` object, whose `on('warning')` never hears
 * what `emitWarning` sends the real process; so the calls are observed (and still go through to Node).
 */
interface Emitted { message: string; type: unknown; code: unknown }
const warnings: Emitted[] = [];
let spy: jest.SpyInstance | undefined;
beforeAll(() => {
  const emit = process.emitWarning.bind(process) as (...args: unknown[]) => void;
  spy = jest.spyOn(process, 'emitWarning').mockImplementation(((warning: string | Error, options?: { type?: string; code?: string }) => {
    if (typeof options === 'object' && options?.code === JWKS_TOO_MANY_KEYS) warnings.push({ message: String(warning), type: options.type, code: options.code });
    emit(warning, options);
  }) as typeof process.emitWarning);
});
afterAll(async () => {
  spy?.mockRestore();
  await Promise.all(servers.map((s) => s.close()));
  await Promise.all(middlewares.map((m) => m.close()));
});

/** `count` published keys, kids k0…; the private halves of `signers` are kept to mint with. */
function keySet(count: number, signers: number[]) {
  const pairs = Array.from({ length: count }, () => ecKeys());
  const jwks = pairs.map((p, i) => publicJwk(p.publicKey, `k${i}`, 'ES256'));
  const mint = (i: number) => {
    if (!signers.includes(i)) throw new Error(`k${i} was not kept for signing`);
    const now = Math.floor(Date.now() / 1000);
    return jwt.sign({ sub: `user${i}`, iss: ISSUER, aud: AUDIENCE, iat: now, exp: now + 300 }, (pairs[i] as ReturnType<typeof ecKeys>).privateKey, {
      algorithm: 'ES256', header: { alg: 'ES256', typ: 'at+jwt', kid: `k${i}` } as jwt.JwtHeader,
    });
  };
  return { jwks, mint };
}

async function verifierOf(keys: Record<string, unknown>[]) {
  const server = await startJwksServer(() => ({ keys }));
  servers.push(server);
  const auth = principal({ strategy: statelessJwt({ jwksUri: server.url, issuer: ISSUER, audience: AUDIENCE, cache: false, jwks: { cooldown: '0s' } }) });
  middlewares.push(auth);
  const app = express();
  app.use(auth);
  app.get('/me', requireAuth(), (req, res) => res.json({ id: req.principal?.id }));
  return { server, me: (token: string) => request(app).get('/me').set('Authorization', `Bearer ${token}`) };
}

test('a JWKS of 150 keys: the first 100 verify, the rest are refused, and each fetch warns once with a stable code', async () => {
  warnings.length = 0;
  const { jwks, mint } = keySet(150, [5, 99, 100, 149]);
  const { server, me } = await verifierOf(jwks);
  expect((await me(mint(5)).expect(200)).body).toEqual({ id: 'user5' });
  expect((await me(mint(99)).expect(200)).body).toEqual({ id: 'user99' });
  expect(server.requests).toBe(1);
  expect(warnings.length).toBe(1);
  const [first] = warnings as [Emitted];
  expect(first.type).toBe('ExpressPrincipalWarning');
  expect(first.message).toContain('lists 150 keys; only the first 100 are read, tokens signed with the other 50 are refused');
  expect(first.message).toContain(new URL(server.url).pathname);

  // Past the cap: refused, after one unknown-kid refetch each (cooldown 0), and each refetch warns again.
  for (const i of [100, 149]) {
    const res = await me(mint(i));
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('ERR_INVALID_CREDENTIAL');
    expect(res.body.id).toBeUndefined();
  }
  expect(server.requests).toBe(3);
  expect(warnings.length).toBe(3);
  expect(warnings.every((w) => w.type === 'ExpressPrincipalWarning' && w.message === first.message)).toBe(true);
});

test('a JWKS of exactly 100 keys: all verify, no warning', async () => {
  warnings.length = 0;
  const { jwks, mint } = keySet(100, [0, 99]);
  const { server, me } = await verifierOf(jwks);
  expect((await me(mint(0)).expect(200)).body).toEqual({ id: 'user0' });
  expect((await me(mint(99)).expect(200)).body).toEqual({ id: 'user99' });
  expect(server.requests).toBe(1);
  // emitWarning is called while the fetched set is parsed, before the first token was verified.
  expect(warnings).toEqual([]);
});
