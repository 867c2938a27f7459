/**
 * Tokens from other issuers: a `jwksUri` verifier accepts by default the `typ` values issuers send — RFC 9068's
 * `at+jwt` (either spelling), `JWT`, or none — and still refuses a statefulJwt `session+jwt`; `typ` given
 * explicitly is strict. Tokens are minted with node:crypto (not the library's jsonwebtoken path) and verified
 * against a JWKS served over loopback HTTP.
 */
import express from 'express';
import request from 'supertest';
import { randomUUID, sign, type KeyObject } from 'node:crypto';
import { memoryStore, principal, requireAuth, statefulJwt, statelessJwt, type PrincipalMiddleware, type Strategy } from '../../lib';
import type { TypSetting } from '../../lib/strategies/jwt-common';
import { AUDIENCE, ISSUER, ecKeys, publicJwk, startJwksServer, type JwksServer } from './support';

const key = ecKeys();
const middlewares: PrincipalMiddleware[] = [];
let server: JwksServer;
beforeAll(async () => { server = await startJwksServer(() => ({ keys: [publicJwk(key.publicKey, 'k1', 'ES256')] })); });
afterAll(async () => {
  await Promise.all(middlewares.map((m) => m.close()));
  await server.close();
});

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** P-256's group order: a signature's s above n/2 is replaced by n - s (local keys refuse high-S, malleable ones). */
const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
function lowS(signature: Buffer): Buffer {
  const s = BigInt(`0x${signature.subarray(32).toString('hex')}`);
  if (s <= N / 2n) return signature;
  return Buffer.concat([signature.subarray(0, 32), Buffer.from((N - s).toString(16).padStart(64, '0'), 'hex')]);
}

/** An ES256 JWS built by hand: the header is exactly what is given (no library adds a `typ`). */
function mint(typ: unknown, signer: KeyObject = key.privateKey): string {
  const now = Math.floor(Date.now() / 1000);
  const header = { alg: 'ES256', kid: 'k1', ...(typ === undefined ? {} : { typ }) };
  const input = `${b64(header)}.${b64({ sub: 'alice', jti: randomUUID(), iss: ISSUER, aud: AUDIENCE, iat: now, exp: now + 300 })}`;
  const signature = lowS(sign('sha256', Buffer.from(input), { key: signer, dsaEncoding: 'ieee-p1363' })).toString('base64url');
  return `${input}.${signature}`;
}

const headerOf = (token: string) => JSON.parse(Buffer.from(token.slice(0, token.indexOf('.')), 'base64url').toString()) as Record<string, unknown>;

function app(strategy: Strategy): express.Express {
  const auth = principal({ strategy });
  middlewares.push(auth);
  const a = express();
  a.use(auth);
  a.get('/me', requireAuth(), (req, res) => res.json({ id: req.principal?.id }));
  a.post('/login', async (req, res, next) => {
    try { res.json(await req.auth.login({ id: 'alice' })); } catch (err) { next(err); }
  });
  return a;
}

const verifier = (typ?: TypSetting) => app(statelessJwt({ jwksUri: server.url, issuer: ISSUER, audience: AUDIENCE, ...(typ === undefined ? {} : { typ }) }));

/** The status a token gets, checking the body of either answer. */
async function status(target: express.Express, token: string): Promise<number> {
  const res = await request(target).get('/me').set('Authorization', `Bearer ${token}`);
  if (res.status === 200) expect(res.body).toEqual({ id: 'alice' });
  else expect(res.body.code).toBe('ERR_INVALID_CREDENTIAL');
  return res.status;
}

async function statuses(target: express.Express, typs: unknown[]): Promise<[unknown, number][]> {
  const out: [unknown, number][] = [];
  for (const typ of typs) out.push([typ, await status(target, mint(typ))]);
  return out;
}

test('by default a jwksUri verifier accepts at+jwt, application/at+jwt, JWT and no typ', async () => {
  const target = verifier();
  const accepted = ['at+jwt', 'application/at+jwt', 'AT+JWT', 'JWT', 'jwt', 'application/jwt', undefined];
  expect(await statuses(target, accepted)).toEqual(accepted.map((t) => [t, 200]));
  const refused = ['session+jwt', 'application/session+jwt', 'JOSE', 'id+jwt', '', 1, null, ['at+jwt']];
  expect(await statuses(target, refused)).toEqual(refused.map((t) => [t, 401]));
});

test("typ: 'at+jwt' configured explicitly is strict: JWT and no typ are refused", async () => {
  const strict = verifier('at+jwt');
  expect(await statuses(strict, ['at+jwt', 'application/at+jwt'])).toEqual([['at+jwt', 200], ['application/at+jwt', 200]]);
  expect(await statuses(strict, ['JWT', undefined, 'session+jwt'])).toEqual([['JWT', 401], [undefined, 401], ['session+jwt', 401]]);
});

test('an explicit list accepts what it names; null names a token with no typ', async () => {
  const named = verifier(['at+jwt', 'JWT']);
  expect(await statuses(named, ['JWT', 'at+jwt', undefined])).toEqual([['JWT', 200], ['at+jwt', 200], [undefined, 401]]);
  const untyped = verifier(['at+jwt', null]);
  expect(await statuses(untyped, [undefined, 'at+jwt', 'JWT'])).toEqual([[undefined, 200], ['at+jwt', 200], ['JWT', 401]]);
});

test('a statefulJwt session+jwt signed by a key in the JWKS is never taken for an access token', async () => {
  const issuer = app(statefulJwt({ keys: [{ kid: 'k1', privateKey: key.privateKey, publicKey: key.publicKey }], issuer: ISSUER, audience: AUDIENCE, store: memoryStore() }));
  const session = (await request(issuer).post('/login').expect(200)).body.token as string;
  const header = headerOf(session);
  expect(header).toMatchObject({ typ: 'session+jwt', kid: 'k1', alg: 'ES256' });
  expect(await status(issuer, session)).toBe(200);
  expect(await status(verifier(), session)).toBe(401);
  expect(await status(verifier(false), session)).toBe(200); // the same token is otherwise valid: typ alone refused it
});

test('local keys keep their default (at+jwt only) and tokens we issue stay at+jwt', async () => {
  const local = app(statelessJwt({ keys: [{ kid: 'k1', privateKey: key.privateKey, publicKey: key.publicKey }], issuer: ISSUER, audience: AUDIENCE }));
  const issued = (await request(local).post('/login').expect(200)).body.token as string;
  expect(headerOf(issued).typ).toBe('at+jwt');
  expect(await status(local, issued)).toBe(200);
  expect(await status(verifier('at+jwt'), issued)).toBe(200);
  expect(await statuses(local, ['at+jwt'])).toEqual([['at+jwt', 200]]);
  expect(await statuses(local, ['JWT', undefined])).toEqual([['JWT', 401], [undefined, 401]]);
});

test('a typ option that is not a media type, a list of them, null or false is refused at start-up', () => {
  for (const typ of [[], [''], [1], ''] as unknown as TypSetting[]) {
    expect(() => statelessJwt({ jwksUri: server.url, issuer: ISSUER, audience: AUDIENCE, typ })).toThrow(/`typ` must be a media type/);
  }
});
