/**
 * sessionCookie × (memoryStore, redisStore, cookieStore), over HTTP: lifecycle, revokeAll, update,
 * tampered cookies, session fixation.
 */
import request from 'supertest';
import { sign } from 'cookie-signature';
import { cookieStore, memoryStore, redisStore, sessionCookie, type StateStore } from '../../lib';
import { buildApp, credential, login, type TestApp } from '../helpers/apps';
import { cleanupPrefix, connectRedis, keysWithPrefix, uniquePrefix, type TestRedisClient } from '../helpers/redis';
import { lifecycle, revokeAllEndsOnlyThatSubject, updateChangesRoles } from './lifecycle';

const secret = 'k8Jd02mXq9Lp3Zr7Tv5Wy1Ab4Cd6Ef8Gh0Ij2Kl';
const cookieSecret = 'Zq3Xv8Lm1Np6Rt0Yw4Bc7Df2Gh5Jk9Ps2Uv6Ea';
let client: TestRedisClient;
const prefix = uniquePrefix('session-cookie');
const apps: TestApp[] = [];

beforeAll(async () => {
  client = await connectRedis();
});
afterAll(async () => {
  for (const { auth } of apps) await auth.close();
  await cleanupPrefix(client, prefix);
  await client.close();
});

type Kind = 'memory' | 'redis' | 'cookie' | 'cookie+memory-revocation' | 'cookie+redis-revocation';

function make(kind: Kind, p = `${prefix}${apps.length}:`): TestApp {
  const server = (k: 'memory' | 'redis'): StateStore => (k === 'memory' ? memoryStore({ prefix: p }) : redisStore({ client, prefix: p }));
  const strategy = kind === 'memory' || kind === 'redis'
    ? sessionCookie({ secret, store: server(kind), secure: false })
    : sessionCookie({
      store: cookieStore({ secret: cookieSecret }), secure: false,
      ...(kind === 'cookie+memory-revocation' ? { revocation: server('memory') } : {}),
      ...(kind === 'cookie+redis-revocation' ? { revocation: server('redis') } : {}),
    });
  const built = buildApp({ strategy });
  apps.push(built);
  return built;
}

describe.each<Kind>(['memory', 'redis', 'cookie', 'cookie+memory-revocation', 'cookie+redis-revocation'])('sessionCookie, store: %s', (kind) => {
  const revocable = kind !== 'cookie';

  test(`login → /me → guards → logout → replay ${revocable ? 'refused' : 'still valid (cookie-only trade-off)'}`, async () => {
    const { app } = make(kind);
    const session = await lifecycle(app, 'session-cookie', revocable ? 'refused' : 'still-valid');
    expect(session.token).toBeNull();
    expect(session.cookie).toMatch(/^sid=/);
  });

  test('the session cookie is HttpOnly, SameSite=Lax, Path=/', async () => {
    const { app } = make(kind);
    const res = await request(app).post('/login').send({ id: 'u1' }).expect(200);
    const line = ([] as string[]).concat(res.headers['set-cookie'] ?? []).find((c) => c.startsWith('sid='));
    expect(line).toMatch(/HttpOnly/i);
    expect(line).toMatch(/SameSite=Lax/i);
    expect(line).toMatch(/Path=\//);
  });

  if (revocable) {
    test('revokeAll(subject) ends every session of that subject and no other', async () => {
      const { app, auth } = make(kind);
      await revokeAllEndsOnlyThatSubject(app, auth);
    });
  } else {
    test('revokeAll without a revocation store is refused as not supported', async () => {
      const { auth } = make(kind);
      await expect(auth.revokeAll('carol')).rejects.toMatchObject({ code: 'ERR_NOT_SUPPORTED' });
    });
  }

  if (kind === 'memory' || kind === 'redis') {
    test('update(subject, { roles }) changes roles on the next request', async () => {
      const { app, auth } = make(kind);
      await updateChangesRoles(app, auth);
    });
  } else {
    test('update() of a cookie-only session is not supported', async () => {
      const { auth } = make(kind);
      await expect(auth.update('erin', { roles: ['admin'] })).rejects.toMatchObject({ code: 'ERR_NOT_SUPPORTED' });
    });
  }

  test('a tampered session cookie is refused (401 ERR_INVALID_CREDENTIAL)', async () => {
    const { app } = make(kind);
    const s = await login(app, { id: 'mallory-target', roles: ['user'] });
    const cookie = s.cookie as string;
    const value = decodeURIComponent(cookie.slice('sid='.length));
    // Change one character in the middle (signature for signed ids, ciphertext for sealed cookies).
    const i = Math.floor(value.length / 2);
    const flipped = value.slice(0, i) + (value[i] === 'A' ? 'B' : 'A') + value.slice(i + 1);
    const res = await request(app).get('/me').set('Cookie', `sid=${encodeURIComponent(flipped)}`);
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('ERR_INVALID_CREDENTIAL');
    await request(app).get('/me').set('Cookie', cookie).expect(200);
  });

  test('session fixation: an attacker\'s own session cookie, planted before login, never becomes the victim\'s session', async () => {
    const { app } = make(kind);
    const attacker = await login(app, { id: 'attacker', roles: [] });
    const victim = await login(app, { id: 'victim', roles: ['admin'] }, { Cookie: attacker.cookie as string });
    expect(victim.sessionId).not.toBe(attacker.sessionId);
    expect(victim.cookie).not.toBe(attacker.cookie);
    const withPlanted = await request(app).get('/me').set('Cookie', attacker.cookie as string);
    expect(withPlanted.body.id).not.toBe('victim');
    const mine = await request(app).get('/me').set(credential(victim)).expect(200);
    expect(mine.body.id).toBe('victim');
    expect(mine.body.sessionId).toBe(victim.sessionId);
  });
});

describe.each<'memory' | 'redis'>(['memory', 'redis'])('session fixation with a forged, correctly signed id (%s)', (kind) => {
  test('a planted sid cookie never becomes the logged-in session id', async () => {
    const { app } = make(kind);
    const planted = 'planted-session-id-0123456789';
    const cookie = `sid=${encodeURIComponent(`s:${sign(planted, secret)}`)}`;
    const before = await request(app).get('/me').set('Cookie', cookie);
    expect(before.status).toBe(401);
    const s = await login(app, { id: 'victim' }, { Cookie: cookie });
    expect(s.sessionId).not.toBe(planted);
    expect(s.cookie).not.toContain(planted);
    const res = await request(app).get('/me').set('Cookie', s.cookie as string).expect(200);
    expect(res.body.sessionId).not.toBe(planted);
    expect((await request(app).get('/me').set('Cookie', cookie)).status).toBe(401);
  });
});

test('redis: session keys are prefixed, expire, and are gone after logout', async () => {
  const p = `${prefix}keys:`;
  const { app } = make('redis', p);
  const s = await login(app, { id: 'kim' });
  const keys = await keysWithPrefix(client, p);
  expect(keys.sort()).toEqual([`${p}idx:{kim}`, `${p}sess:${s.sessionId}`].sort());
  for (const key of keys) expect(await client.pTTL(key)).toBeGreaterThan(0);
  await request(app).post('/logout').set('Cookie', s.cookie as string).expect(204);
  expect(await client.exists(`${p}sess:${s.sessionId}`)).toBe(0);
});

test('cookieStore refuses to write a sealed session over 4 KB', async () => {
  const { app, errors } = make('cookie');
  const res = await request(app).post('/login').send({ id: 'big', claims: { blob: 'x'.repeat(5000) } });
  expect(res.status).toBe(500);
  expect(res.headers['set-cookie']).toBeUndefined();
  expect(String((errors[0] as Error).message)).toMatch(/4 KB/);
});

test('cookieStore key rotation: a cookie sealed with the old secret still opens after rotation', async () => {
  const older = buildApp({ strategy: sessionCookie({ store: cookieStore({ secret: cookieSecret }), secure: false }) });
  const rotated = buildApp({ strategy: sessionCookie({ store: cookieStore({ secret: [secret, cookieSecret] }), secure: false }) });
  const dropped = buildApp({ strategy: sessionCookie({ store: cookieStore({ secret }), secure: false }) });
  apps.push(older, rotated, dropped);
  const s = await login(older.app, { id: 'rot' });
  expect((await request(rotated.app).get('/me').set('Cookie', s.cookie as string).expect(200)).body.id).toBe('rot');
  expect((await request(dropped.app).get('/me').set('Cookie', s.cookie as string)).status).toBe(401);
});

test('redis: a re-login in the same browser leaves only the current session in the subject index', async () => {
  const p = `${prefix}reidx:`;
  const { app } = make('redis', p);
  const first = await login(app, { id: 'lee' });
  const second = await login(app, { id: 'lee' }, { Cookie: first.cookie as string });
  expect(second.sessionId).not.toBe(first.sessionId);
  expect(await client.exists(`${p}sess:${first.sessionId}`)).toBe(0);
  // The old id is gone from the store; it must not linger in the index (nothing grows without bound).
  expect((await client.sMembers(`${p}idx:{lee}`)).sort()).toEqual([second.sessionId]);
});
