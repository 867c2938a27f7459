/**
 * Configuration (issue 3): short or well-known secrets and weak RSA keys are refused at construction,
 * with a clear TypeError that never repeats the secret.
 */
import { generateKeyPairSync } from 'node:crypto';
import { cookieStore, fromConfig, memoryStore, sessionCookie, statefulJwt, statelessJwt } from '../../lib';
import { SECRET } from './support';

jest.setTimeout(60_000);

/** Runs `build`, expects a TypeError matching `pattern` whose message does not contain `secret`. */
function refused(build: () => unknown, pattern: RegExp, secret?: string): void {
  let caught: unknown;
  try {
    build();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(TypeError);
  const message = (caught as Error).message;
  expect(message).toMatch(pattern);
  expect(message).toMatch(/^express-principal: /);
  if (secret !== undefined && secret.length >= 8) expect(message).not.toContain(secret);
}

const jwtWith = (secret: string) => [
  () => statelessJwt({ secret }),
  () => statefulJwt({ secret, store: memoryStore() }),
  () => statelessJwt({ keys: [{ kid: 'a', secret }] }),
  () => statelessJwt({ keys: [{ kid: 'good', secret: SECRET }, { kid: 'old', secret }] }),
  () => fromConfig({ strategy: 'stateless-jwt', secret }),
];
const cookieWith = (secret: string) => [
  () => sessionCookie({ secret, store: memoryStore(), secure: false }),
  () => sessionCookie({ secret: [SECRET, secret], store: memoryStore(), secure: false }),
  () => sessionCookie({ store: cookieStore({ secret }), secure: false }),
  () => cookieStore({ secret: [SECRET, secret] }),
  () => fromConfig({ strategy: 'session-cookie', storage: 'memory', secret, secure: false }),
];

describe('HS / cookie secrets shorter than 32 bytes', () => {
  const short = ['', 'x', 'AbCdEfGh', 'q7Wm3Xp1Lk9Hj5Gf2Ds8Ae4Rt6Yu0Io', /* 31 bytes */ 'é'.repeat(15) /* 30 bytes */];
  test.each(short)('JWT secret %p refused with a message mentioning 32 bytes', (secret) => {
    for (const build of jwtWith(secret)) refused(build, /32 bytes/, secret);
  });
  test.each(short)('cookie secret %p refused with a message mentioning 32 bytes', (secret) => {
    for (const build of cookieWith(secret)) refused(build, /32 bytes/, secret);
  });
  test('a short Buffer secret is refused too; exactly 32 good bytes pass', () => {
    refused(() => statelessJwt({ secret: Buffer.from('0123456789abcdefghij') }), /32 bytes/);
    const ok = 'q7Wm3Xp1Lk9Hj5Gf2Ds8Ae4Rt6Yu0Io!';
    expect(Buffer.byteLength(ok)).toBe(32);
    expect(() => statelessJwt({ secret: ok })).not.toThrow();
    expect(() => sessionCookie({ secret: ok, store: memoryStore(), secure: false })).not.toThrow();
  });
});

describe('well-known and low-entropy secrets', () => {
  const weak = [
    'secret', 'changeme', 'keyboard cat', 'password', 'your-256-bit-secret',
    '12345678901234567890123456789012', // in the list, and 32 bytes long
    'secret'.repeat(6), 'changeme'.repeat(4), 'a'.repeat(64), 'abababababababababababababababab',
    'keyboard cat keyboard cat keyboard cat', 'changeme-changeme-changeme-changeme', 'Password1Password1Password1Password1',
  ];
  test.each(weak)('JWT secret %p refused', (secret) => {
    for (const build of jwtWith(secret)) refused(build, /32 bytes|well-known|low-entropy/, secret);
  });
  test.each(weak)('cookie secret %p refused', (secret) => {
    for (const build of cookieWith(secret)) refused(build, /32 bytes|well-known|low-entropy/, secret);
  });
  test("sessionCookie({ secret: 'keyboard cat' }) (the express-session README value) is refused", () => {
    refused(() => sessionCookie({ secret: 'keyboard cat', store: memoryStore(), secure: false }), /32 bytes|well-known/, 'keyboard cat');
  });
  test('a random 48-byte secret and a rotation list of good secrets are accepted', () => {
    expect(() => statelessJwt({ secret: SECRET })).not.toThrow();
    expect(() => sessionCookie({ secret: [SECRET, 'Zq7Wm3Xp1Lk9Hj5Gf2Ds8Ae4Rt6Yu0Io3Pv7Nb1Mc'], store: memoryStore(), secure: false })).not.toThrow();
  });
});

describe('asymmetric keys', () => {
  const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 });
  const pss1024 = generateKeyPairSync('rsa-pss', { modulusLength: 1024 });
  const rsa2048 = generateKeyPairSync('rsa', { modulusLength: 2048 });
  test('RSA 1024-bit keys are refused (private, public-only, PEM, keys[] entry, RSA-PSS)', () => {
    const pem = rsa1024.publicKey.export({ format: 'pem', type: 'spki' }) as string;
    refused(() => statelessJwt({ privateKey: rsa1024.privateKey }), /2048 bits/);
    refused(() => statelessJwt({ publicKey: rsa1024.publicKey }), /2048 bits/);
    refused(() => statelessJwt({ publicKey: pem, algorithms: ['RS256'] }), /2048 bits/);
    refused(() => statelessJwt({ keys: [{ kid: 'new', privateKey: rsa2048.privateKey }, { kid: 'old', publicKey: pem }] }), /2048 bits/);
    refused(() => statefulJwt({ privateKey: rsa1024.privateKey, store: memoryStore() }), /2048 bits/);
    refused(() => statelessJwt({ privateKey: pss1024.privateKey }), /2048 bits/);
  });
  test('a 2048-bit key passes; a key pinned to an algorithm that does not fit it is refused', () => {
    expect(() => statelessJwt({ privateKey: rsa2048.privateKey, publicKey: rsa2048.publicKey })).not.toThrow();
    refused(() => statelessJwt({ privateKey: rsa2048.privateKey, algorithms: ['ES256'] }), /does not fit/);
    refused(() => statelessJwt({ privateKey: rsa2048.privateKey, algorithms: ['HS256'] }), /does not fit/);
    refused(() => statelessJwt({ secret: SECRET, algorithms: ['RS256'] }), /only fits HS/);
    refused(() => statelessJwt({ secret: SECRET, algorithms: ['none' as 'HS256'] }), /unsupported algorithm/);
  });
  test('mismatched private/public keys are refused', () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
    refused(() => statelessJwt({ privateKey: rsa2048.privateKey, publicKey: other.publicKey }), /do not belong together/);
  });
  test('clockTolerance above 5 minutes is refused', () => {
    refused(() => statelessJwt({ secret: SECRET, clockTolerance: '10m' }), /clockTolerance/);
  });
});
