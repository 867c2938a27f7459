/**
 * Token forgery and parsing (issue 3): every forged or malformed token is refused with 401,
 * while the honest control token next to it passes, so each refusal is meaningful.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { memoryStore, principal, statelessJwt } from '../../lib';
import {
  AUDIENCE, ISSUER, SECRET, b64, buildApp, claims, countingServer, es, forge, hs, nowS, ps, rs,
  trailingBitVariant, withSignature, type TestApp,
} from './support';

jest.setTimeout(30_000);

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const attacker = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const rsPublicPem = rsa.publicKey.export({ format: 'pem', type: 'spki' }) as string;
const common = { issuer: ISSUER, audience: AUDIENCE };

const hsAuth = principal({ strategy: statelessJwt({ secret: SECRET, ...common }) });
const rsAuth = principal({ strategy: statelessJwt({ keys: [{ kid: 'rs1', privateKey: rsa.privateKey, publicKey: rsa.publicKey, algorithm: 'RS256' }], ...common }) });
const rsNoKid = principal({ strategy: statelessJwt({ privateKey: rsa.privateKey, publicKey: rsa.publicKey, algorithms: ['RS256'], ...common }) });
const esAuth = principal({ strategy: statelessJwt({ keys: [{ kid: 'es1', privateKey: ec.privateKey, publicKey: ec.publicKey, algorithm: 'ES256' }], ...common }) });
const revStore = memoryStore({ prefix: 'hostile-forgery:' });
const revAuth = principal({ strategy: statelessJwt({ secret: SECRET, store: revStore, ...common }) });

let hsApp: TestApp, rsApp: TestApp, rsNoKidApp: TestApp, esApp: TestApp, revApp: TestApp;

beforeAll(() => {
  hsApp = buildApp(hsAuth);
  rsApp = buildApp(rsAuth);
  rsNoKidApp = buildApp(rsNoKid);
  esApp = buildApp(esAuth);
  revApp = buildApp(revAuth);
});

afterAll(async () => {
  for (const a of [hsAuth, rsAuth, rsNoKid, esAuth, revAuth]) await a.close();
  for (const t of [hsApp, rsApp, rsNoKidApp, esApp, revApp]) expect(t.escaped).toEqual([]);
});

/** P-256 order; (r, s) and (r, n - s) both verify. */
const N = BigInt('0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551');
const sOf = (token: string) => BigInt(`0x${Buffer.from(token.slice(token.lastIndexOf('.') + 1), 'base64url').subarray(32).toString('hex')}`);
function highS(token: string): string {
  const sig = Buffer.from(token.slice(token.lastIndexOf('.') + 1), 'base64url');
  const flipped = Buffer.from((N - sOf(token)).toString(16).padStart(64, '0'), 'hex');
  return withSignature(token, Buffer.concat([sig.subarray(0, 32), flipped]).toString('base64url'));
}
const lowS = (token: string) => (sOf(token) > N / 2n ? highS(token) : token);

const HS = { alg: 'HS256', typ: 'at+jwt' };
const RS = { alg: 'RS256', typ: 'at+jwt', kid: 'rs1' };

async function status(t: TestApp, token: string, path = '/me'): Promise<number> {
  const res = await request(t.app).get(path).set('Authorization', `Bearer ${token}`);
  if (res.status === 401) expect(res.body.code).toMatch(/^ERR_(INVALID_CREDENTIAL|CREDENTIAL_EXPIRED|CREDENTIAL_REVOKED)$/);
  return res.status;
}

describe('controls: honest hand-made tokens pass', () => {
  test('HS256, RS256 (with and without kid), ES256', async () => {
    expect(await status(hsApp, forge(HS, claims(), hs(SECRET)))).toBe(200);
    expect(await status(rsApp, forge(RS, claims(), rs(rsa.privateKey)))).toBe(200);
    expect(await status(rsNoKidApp, forge({ alg: 'RS256', typ: 'at+jwt' }, claims(), rs(rsa.privateKey)))).toBe(200);
    expect(await status(esApp, lowS(forge({ alg: 'ES256', typ: 'at+jwt', kid: 'es1' }, claims(), es(ec.privateKey))))).toBe(200);
  });
});

describe('alg none and empty signatures', () => {
  test.each(['none', 'None', 'NONE', 'nOnE'])('alg %s with no signature, a fake one and a real HS one', async (alg) => {
    const header = { alg, typ: 'at+jwt' };
    const unsigned = forge(header, claims(), null);
    expect(await status(hsApp, unsigned)).toBe(401);
    expect(await status(hsApp, `${unsigned}${randomBytes(32).toString('base64url')}`)).toBe(401);
    expect(await status(hsApp, forge(header, claims(), hs(SECRET)))).toBe(401);
    expect(await status(rsApp, forge({ ...header, kid: 'rs1' }, claims(), null))).toBe(401);
  });

  test('an HS256 header with an empty signature', async () => {
    expect(await status(hsApp, forge(HS, claims(), null))).toBe(401);
    expect(await status(hsApp, withSignature(forge(HS, claims(), hs(SECRET)), ''))).toBe(401);
  });
});

describe('algorithm confusion and pinning', () => {
  test('HS256 signed with the RS public key PEM as the HMAC secret', async () => {
    const header = { alg: 'HS256', typ: 'at+jwt', kid: 'rs1' };
    expect(await status(rsApp, forge(header, claims(), hs(rsPublicPem)))).toBe(401);
    expect(await status(rsNoKidApp, forge({ alg: 'HS256', typ: 'at+jwt' }, claims(), hs(rsPublicPem)))).toBe(401);
    const der = rsa.publicKey.export({ format: 'der', type: 'spki' });
    expect(await status(rsNoKidApp, forge({ alg: 'HS256', typ: 'at+jwt' }, claims(), hs(der)))).toBe(401);
  });

  test('RS512 / RS384 / PS256 signed by the right private key, but the key is pinned to RS256', async () => {
    expect(await status(rsApp, forge({ ...RS, alg: 'RS512' }, claims(), rs(rsa.privateKey, 512)))).toBe(401);
    expect(await status(rsApp, forge({ ...RS, alg: 'RS384' }, claims(), rs(rsa.privateKey, 384)))).toBe(401);
    expect(await status(rsApp, forge({ ...RS, alg: 'PS256' }, claims(), ps(rsa.privateKey)))).toBe(401);
    expect(await status(rsNoKidApp, forge({ alg: 'PS256', typ: 'at+jwt' }, claims(), ps(rsa.privateKey)))).toBe(401);
    expect(await status(hsApp, forge({ ...HS, alg: 'HS512' }, claims(), hs(SECRET, 512)))).toBe(401);
  });

  test('the pinned algorithm spelled in another case is a different (unknown) algorithm', async () => {
    expect(await status(rsApp, forge({ ...RS, alg: 'rs256' }, claims(), rs(rsa.privateKey)))).toBe(401);
    expect(await status(hsApp, forge({ ...HS, alg: 'hs256' }, claims(), hs(SECRET)))).toBe(401);
    expect(await status(hsApp, forge({ ...HS, alg: 'HS256 ' }, claims(), hs(SECRET)))).toBe(401);
  });
});

describe('header-supplied keys are never fetched, never trusted', () => {
  let certB64 = '';
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ep-hostile-x5c-'));
    writeFileSync(join(dir, 'key.pem'), attacker.privateKey.export({ format: 'pem', type: 'pkcs8' }));
    execFileSync('openssl', ['req', '-new', '-x509', '-key', join(dir, 'key.pem'), '-subj', '/CN=attacker', '-days', '1', '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
    certB64 = readFileSync(join(dir, 'cert.pem'), 'utf8').replace(/-----[^-]+-----|\s/g, '');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('jwk, jku, x5u, x5c pointing at attacker keys: refused, zero requests to the attacker URL', async () => {
    const server = await countingServer();
    try {
      const jwk = { ...(attacker.publicKey.export({ format: 'jwk' }) as Record<string, unknown>), kid: 'rs1', alg: 'RS256' };
      const headers = [
        { ...RS, jwk },
        { ...RS, jku: `${server.url}/jwks.json` },
        { ...RS, x5u: `${server.url}/cert.pem` },
        { ...RS, x5c: [certB64] },
        { alg: 'RS256', typ: 'at+jwt', jwk, jku: `${server.url}/jwks.json`, x5u: `${server.url}/c`, x5c: [certB64] },
        { alg: 'RS256', typ: 'at+jwt', kid: 'attacker', jku: `${server.url}/jwks.json` },
      ];
      for (const header of headers) {
        expect(await status(rsApp, forge(header, claims(), rs(attacker.privateKey)))).toBe(401);
        expect(await status(rsNoKidApp, forge(header, claims(), rs(attacker.privateKey)))).toBe(401);
      }
      expect(server.hits()).toBe(0);
    } finally {
      await server.close();
    }
  });
});

describe('hostile kid values', () => {
  test('paths, shell and SQL fragments, empty, long and non-string kids: 401 in < 50 ms, no file or network access', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ep-hostile-kid-'));
    const keyFile = join(dir, 'attacker.key');
    const fileSecret = randomBytes(40).toString('base64');
    writeFileSync(keyFile, fileSecret);
    const marker = join(dir, 'pwned');
    const server = await countingServer();
    try {
      const kids: unknown[] = [
        '../../../../etc/passwd', '/dev/null', keyFile, `; touch ${marker}`, `$(touch ${marker})`, `\`touch ${marker}\``,
        "' OR 1=1 --", '', 'x'.repeat(5000), `${server.url}/key`, '\u0000', 'rs1\u0000', ' rs1',
        '__proto__', 'constructor', 'hasOwnProperty', 'toString',
        123, 0, true, null, {}, ['rs1'], { toString: 'rs1' },
      ];
      await request(rsApp.app).get('/me'); // warm-up
      for (const kid of kids) {
        const header = { alg: 'HS256', typ: 'at+jwt', kid };
        const candidates = [
          forge(header, claims(), hs(fileSecret)), // HMAC keyed with the file the kid points at
          forge(header, claims(), hs(Buffer.alloc(0))), // /dev/null as the key
          forge({ ...header, alg: 'RS256' }, claims(), rs(attacker.privateKey)),
        ];
        for (const token of candidates) {
          // Best of 3: a kid that reaches a file, the network or a shell is slow every time; a busy CI core only sometimes.
          let best = Infinity;
          for (let attempt = 0; attempt < 3 && best >= 50; attempt += 1) {
            const started = process.hrtime.bigint();
            const code = await status(rsApp, token);
            best = Math.min(best, Number(process.hrtime.bigint() - started) / 1e6);
            const label = JSON.stringify(kid).slice(0, 40);
            expect({ label, code }).toEqual({ label, code: 401 });
          }
          expect(best).toBeLessThan(50);
        }
      }
      expect(existsSync(marker)).toBe(false);
      expect(server.hits()).toBe(0);
      expect(readFileSync('/etc/passwd', 'utf8').length).toBeGreaterThan(0); // the path kid above was real
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('malformed segments and non-object header / payload', () => {
  const good = () => forge(HS, claims(), hs(SECRET));

  test('2 or 4 parts, empty parts, non-base64url, non-JSON', async () => {
    const [h, p, s] = good().split('.') as [string, string, string];
    const bad = [
      `${h}.${p}`, `${h}.${p}.${s}.${s}`, `${h}.${p}.${s}.`, `.${p}.${s}`, `${h}..${s}`, '..', `${h}.${p}.${s}=`,
      `${h}=.${p}.${s}`, `${h}.${p}.${s.slice(0, -1)}*`, `${h}.${p}%41.${s}`, `${b64('not json')}.${p}.${s}`,
    ];
    for (const token of bad) expect(await status(hsApp, token)).toBe(401);
    const notJsonHeader = `${b64('{"alg":"HS256",')}.${p}`;
    expect(await status(hsApp, `${notJsonHeader}.${hs(SECRET)(notJsonHeader).toString('base64url')}`)).toBe(401);
    const notJsonPayload = `${h}.${b64('{"sub":"alice"')}`;
    expect(await status(hsApp, `${notJsonPayload}.${hs(SECRET)(notJsonPayload).toString('base64url')}`)).toBe(401);
  });

  test.each([['array', '[1,2]'], ['string', '"alice"'], ['number', '42'], ['null', 'null'], ['true', 'true']])(
    'correctly signed %s payload and header',
    async (_name, raw) => {
      expect(await status(hsApp, forge(HS, raw, hs(SECRET)))).toBe(401);
      expect(await status(hsApp, forge(raw, claims(), hs(SECRET)))).toBe(401);
    },
  );

  test('unknown crit header (and an empty one) is refused', async () => {
    expect(await status(hsApp, forge({ ...HS, crit: ['exp'] }, claims(), hs(SECRET)))).toBe(401);
    expect(await status(hsApp, forge({ ...HS, crit: ['x-custom'], 'x-custom': 1 }, claims(), hs(SECRET)))).toBe(401);
    expect(await status(hsApp, forge({ ...HS, crit: [] }, claims(), hs(SECRET)))).toBe(401);
  });
});

describe('time claims', () => {
  test('missing or non-numeric exp is refused', async () => {
    const { exp: _exp, ...noExp } = claims();
    expect(await status(hsApp, forge(HS, noExp, hs(SECRET)))).toBe(401);
    expect(await status(hsApp, forge(HS, claims({ exp: String(nowS() + 600) }), hs(SECRET)))).toBe(401);
    expect(await status(hsApp, forge(HS, claims({ exp: nowS() - 60 }), hs(SECRET)))).toBe(401);
  });

  test('iat / nbf in the future: refused beyond clockTolerance (5 s), accepted within it', async () => {
    expect(await status(hsApp, forge(HS, claims({ iat: nowS() + 60 }), hs(SECRET)))).toBe(401);
    expect(await status(hsApp, forge(HS, claims({ nbf: nowS() + 60 }), hs(SECRET)))).toBe(401);
    expect(await status(hsApp, forge(HS, claims({ iat: nowS() + 2 }), hs(SECRET)))).toBe(200);
    expect(await status(hsApp, forge(HS, claims({ nbf: nowS() + 2 }), hs(SECRET)))).toBe(200);
    expect(await status(hsApp, forge(HS, claims({ iat: 'now' }), hs(SECRET)))).toBe(401);
  });
});

describe('typ', () => {
  test.each(['JWT', 'refresh+jwt', 'id_token', 'jwt', '', 'at+jwt+refresh'])('typ %p is not an access token', async (typ) => {
    expect(await status(hsApp, forge({ ...HS, typ }, claims(), hs(SECRET)))).toBe(401);
  });
  test('missing or non-string typ is refused; at+jwt passes', async () => {
    expect(await status(hsApp, forge({ alg: 'HS256' }, claims(), hs(SECRET)))).toBe(401);
    expect(await status(hsApp, forge({ alg: 'HS256', typ: ['at+jwt'] }, claims(), hs(SECRET)))).toBe(401);
    expect(await status(hsApp, forge(HS, claims(), hs(SECRET)))).toBe(200);
  });
});

describe('prototype pollution and role shapes', () => {
  const base = () => JSON.stringify(claims({ sub: 'mallory' })).slice(0, -1);
  test('__proto__ / constructor.prototype payloads never grant admin, never pollute Object.prototype', async () => {
    const payloads = [
      `{"__proto__":{"roles":["admin"]},${base().slice(1)}}`,
      `${base()},"__proto__":{"roles":["admin"],"isAdmin":true}}`,
      `${base()},"constructor":{"prototype":{"roles":["admin"]}}}`,
      `${base()},"app":{"__proto__":{"roles":["admin"]},"constructor":{"prototype":{"roles":["admin"]}}}}`,
      `{"sub":"mallory","iat":${nowS()},"exp":${nowS() + 600},"iss":"${ISSUER}","aud":"${AUDIENCE}","__proto__":{"roles":["admin"]}}`,
    ];
    for (const raw of payloads) {
      const token = forge(HS, raw, hs(SECRET));
      const admin = await request(hsApp.app).get('/admin').set('Authorization', `Bearer ${token}`);
      expect(admin.status).not.toBe(200);
      expect([401, 403]).toContain(admin.status);
      const me = await request(hsApp.app).get('/me').set('Authorization', `Bearer ${token}`);
      if (me.status === 200) expect(me.body.roles).not.toContain('admin');
      expect(({} as Record<string, unknown>).roles).toBeUndefined();
      expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
      expect(Object.prototype).not.toHaveProperty('roles');
    }
  });

  test('a roles path through __proto__ / constructor resolves to nothing', async () => {
    const auth = principal({ strategy: statelessJwt({ secret: SECRET, ...common, claims: { roles: 'constructor.prototype.roles' } }) });
    const t = buildApp(auth);
    const token = forge(HS, `${base()},"constructor":{"prototype":{"roles":["admin"]}}}`, hs(SECRET));
    expect((await request(t.app).get('/admin').set('Authorization', `Bearer ${token}`)).status).not.toBe(200);
    expect(({} as Record<string, unknown>).roles).toBeUndefined();
    await auth.close();
  });

  test.each([['string', 'admin'], ['object', { admin: true }], ['nested array', [['admin']]], ['number', 1], ['array-like', { 0: 'admin', length: 1 }]])(
    'roles given as %s never reach 200 on requireRole(admin)',
    async (_name, roles) => {
      const token = forge(HS, claims({ roles }), hs(SECRET));
      const res = await request(hsApp.app).get('/admin').set('Authorization', `Bearer ${token}`);
      expect(res.status).not.toBe(200);
      expect([401, 403]).toContain(res.status);
    },
  );

  test('control: roles ["admin"] passes', async () => {
    expect(await status(hsApp, forge(HS, claims({ roles: ['admin'] }), hs(SECRET)), '/admin')).toBe(200);
  });
});

describe('signature malleability', () => {

  test('ECDSA high-s variant of a valid ES256 token is refused while the original passes', async () => {
    const issued = await request(esApp.app).post('/login').send({ id: 'alice' });
    const token = issued.body.token as string;
    expect(await status(esApp, token)).toBe(200);
    expect(await status(esApp, highS(token))).toBe(401);
    // and a hand-signed token whose natural s is high, both ways round
    for (let i = 0; i < 8; i += 1) {
      const t = forge({ alg: 'ES256', typ: 'at+jwt', kid: 'es1' }, claims(), es(ec.privateKey));
      const low = lowS(t);
      expect(sOf(low) <= N / 2n && sOf(highS(low)) > N / 2n).toBe(true);
      expect(await status(esApp, low)).toBe(200);
      expect(await status(esApp, highS(low))).toBe(401);
    }
  });

  test('RS256 and HS256 trailing-bit (non-canonical base64url) variants are refused', async () => {
    for (const [t, token] of [
      [rsApp, forge(RS, claims(), rs(rsa.privateKey))],
      [hsApp, forge(HS, claims(), hs(SECRET))],
    ] as const) {
      const sig = token.slice(token.lastIndexOf('.') + 1);
      const variant = trailingBitVariant(sig);
      expect(variant).not.toBeNull();
      expect(Buffer.from(variant as string, 'base64url').equals(Buffer.from(sig, 'base64url'))).toBe(true);
      expect(await status(t, token)).toBe(200);
      expect(await status(t, withSignature(token, variant as string))).toBe(401);
    }
  });
});

describe('revocation keys on jti, not on token bytes', () => {
  test('after logout, malleated and re-encoded variants of the same token are still refused', async () => {
    const issued = await request(revApp.app).post('/login').send({ id: 'alice' });
    const token = issued.body.token as string;
    expect(await status(revApp, token)).toBe(200);
    const [h, p, s] = token.split('.') as [string, string, string];
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
    const header = JSON.parse(Buffer.from(h, 'base64url').toString()) as Record<string, unknown>;
    // Same claims (same jti), different bytes, valid signature: header keys reordered, payload re-serialised.
    const reencoded = forge({ typ: header.typ, alg: header.alg }, Object.fromEntries(Object.entries(payload).reverse()), hs(SECRET));
    expect(reencoded).not.toBe(token);
    expect(await status(revApp, reencoded)).toBe(200);

    const out = await request(revApp.app).post('/logout').set('Authorization', `Bearer ${token}`);
    expect(out.status).toBe(204);

    const variants = [token, reencoded, withSignature(token, trailingBitVariant(s) as string), `${token}=`, `${h}.${p}.${s}==`];
    for (const v of variants) expect(await status(revApp, v)).toBe(401);
    const res = await request(revApp.app).get('/me').set('Authorization', `Bearer ${reencoded}`);
    expect(res.body.code).toBe('ERR_CREDENTIAL_REVOKED');
  });
});
