/**
 * Refresh-token families as session records of their subject on the store's session-record repository, over
 * real HTTP: each login is one family (a device) listed with its times, a rotation slides it, logout and
 * revokeAll end it, another strategy's revokeAll on the same store ends it too, update() leaves it alone, and
 * tokens written before families had records are adopted at their next rotation.
 */
import { createHash } from 'node:crypto';
import request from 'supertest';
import { memoryStore, principal, redisStore, statefulJwt, statelessJwt, type StateStore } from '../../lib';
import { listFamilies } from '../../lib/state/refresh-families';
import { cleanupPrefix, connectRedis, uniquePrefix, type TestRedisClient } from '../helpers/redis';
import { SECRET, freshApp, waitPast, type FreshApp } from '../freshness/support';

let client: TestRedisClient;
const prefix = uniquePrefix('refresh-families');
const closers: { close(): Promise<void> }[] = [];
let n = 0;

beforeAll(async () => { client = await connectRedis(); });
afterAll(async () => {
  for (const c of closers) await c.close();
  await cleanupPrefix(client, prefix);
  await client.close();
});

type Kind = 'redis' | 'memory';
const newStore = (kind: Kind): StateStore => (kind === 'redis' ? redisStore({ client, prefix: `${prefix}${n++}:`, timeout: '5s' }) : memoryStore({ prefix: `fam-${n++}:` }));

function app(store: StateStore): FreshApp {
  const fa = freshApp({ strategy: statelessJwt({ secret: SECRET, ttl: '5m', store, refresh: { store, ttl: '30d', graceWindow: '300ms' } }) });
  closers.push(fa.auth);
  return fa;
}

const sidOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')).sid as string;
const login = async (fa: FreshApp, id: string) => (await request(fa.app).post('/login').send({ id }).expect(200)).body as { token: string; refreshToken: string };
const refresh = (fa: FreshApp, token: string) => request(fa.app).post('/auth/refresh').send({ refreshToken: token });

describe.each<Kind>(['redis', 'memory'])('families on a %s store', (kind) => {
  test('two logins of one subject are two families, listed with their times; revokeAll leaves none', async () => {
    const store = newStore(kind);
    const fa = app(store);
    const before = Date.now();
    const one = await login(fa, 'alice');
    const two = await login(fa, 'alice');
    await login(fa, 'bob');
    const listed = await listFamilies(store, 'alice');
    expect(listed.map((f) => f.familyId).sort()).toEqual([sidOf(one.token), sidOf(two.token)].sort());
    for (const family of listed) {
      expect(family.createdAt.getTime()).toBeGreaterThanOrEqual(before);
      expect(family.authenticatedAt.getTime()).toBeLessThanOrEqual(family.createdAt.getTime());
      expect(family.lastSeenAt.getTime()).toBe(family.createdAt.getTime());
      expect(family.expiresAt.getTime() - family.lastSeenAt.getTime()).toBe(30 * 86_400_000);
      // supertest sends no User-Agent; the address is kept truncated by default.
      expect(family.device).toEqual({ device: null, address: '127.0.0.0/24' });
    }
    expect(await listFamilies(store, 'bob')).toHaveLength(1);

    await fa.auth.revokeAll('alice');
    expect(await listFamilies(store, 'alice')).toEqual([]);
    expect((await refresh(fa, two.refreshToken).expect(401)).body.code).toBe('ERR_CREDENTIAL_REVOKED');
    expect(await listFamilies(store, 'bob')).toHaveLength(1);
  });

  test('a rotation slides its family (same family, later lastSeenAt and expiresAt); logout ends it', async () => {
    const store = newStore(kind);
    const fa = app(store);
    const first = await login(fa, 'carol');
    const [born] = await listFamilies(store, 'carol');
    await waitPast(born?.lastSeenAt.getTime() ?? 0, 5);
    const rotated = (await refresh(fa, first.refreshToken).expect(200)).body as { token: string; refreshToken: string };
    const [slid] = await listFamilies(store, 'carol');
    expect(slid?.familyId).toBe(born?.familyId);
    expect(slid?.createdAt).toEqual(born?.createdAt);
    expect(slid?.lastSeenAt.getTime()).toBeGreaterThan(born?.lastSeenAt.getTime() ?? Infinity);
    expect(slid?.expiresAt.getTime()).toBeGreaterThan(born?.expiresAt.getTime() ?? Infinity);

    await request(fa.app).post('/logout').set('Authorization', `Bearer ${rotated.token}`).expect(204);
    expect(await listFamilies(store, 'carol')).toEqual([]);
  });

  test('a family that keeps rotating outlives its first ttl in the subject index: still listed, still ended by revokeAll', async () => {
    const store = newStore(kind);
    const fa = freshApp({ strategy: statelessJwt({ secret: SECRET, ttl: '5m', store, refresh: { store, ttl: '6s', graceWindow: '300ms' } }) });
    closers.push(fa.auth);
    const loggedInAt = Date.now();
    const first = await login(fa, 'frank');
    await waitPast(loggedInAt, 3000);
    const rotated = (await refresh(fa, first.refreshToken).expect(200)).body as { refreshToken: string };
    // Past the login's ttl: only a rotation that re-indexed the family keeps it in the subject's index.
    await waitPast(loggedInAt, 6500);
    expect(await listFamilies(store, 'frank')).toHaveLength(1);
    const stateful = principal({ strategy: statefulJwt({ secret: SECRET, store }) });
    closers.push(stateful);
    await stateful.revokeAll('frank');
    expect((await refresh(fa, rotated.refreshToken).expect(401)).body.code).toBe('ERR_CREDENTIAL_REVOKED');
  }, 30_000);

  test('a family is a session of its subject: statefulJwt on the same store ends it with revokeAll, and update() leaves it alone', async () => {
    const store = newStore(kind);
    const fa = app(store);
    const stateful = principal({ strategy: statefulJwt({ secret: SECRET, store }) });
    closers.push(stateful);
    const device = await login(fa, 'dave');
    expect(await stateful.update('dave', { roles: ['admin'] })).toBe(0);
    const rotated = (await refresh(fa, device.refreshToken).expect(200)).body as { token: string; refreshToken: string };
    const me = await request(fa.app).get('/me').set('Authorization', `Bearer ${rotated.token}`).expect(200);
    expect(me.body.roles).toEqual([]);

    await stateful.revokeAll('dave');
    expect(await listFamilies(store, 'dave')).toEqual([]);
    expect((await refresh(fa, rotated.refreshToken).expect(401)).body.code).toBe('ERR_CREDENTIAL_REVOKED');
  });
});

describe('tokens written before families had records (Redis)', () => {
  /** A token record as the previous release wrote it: no `v`, no family record, no subject-index entry. */
  async function legacyToken(p: string, fam: string, sub: string): Promise<string> {
    const raw = `legacy-${fam}-${'x'.repeat(20)}`;
    const now = Date.now();
    const record = { fam, sub, roles: ['user'], scopes: [], claims: {}, authAt: now - 1000, famAt: now - 1000, issuedAt: now - 1000, exp: now + 86_400_000, used: false };
    await client.set(`${p}rt:t:${createHash('sha256').update(raw).digest('hex')}`, JSON.stringify(record), { PX: 86_400_000 });
    return raw;
  }

  test('an unended family is adopted at its next rotation (then listed); one its release had ended stays refused', async () => {
    const p = `${prefix}${n++}:`;
    const store = redisStore({ client, prefix: p, timeout: '5s' });
    const fa = app(store);
    const alive = await legacyToken(p, 'old-family', 'erin');
    const next = (await refresh(fa, alive).expect(200)).body as { refreshToken: string };
    expect((await listFamilies(store, 'erin')).map((f) => f.familyId)).toEqual(['old-family']);
    await refresh(fa, next.refreshToken).expect(200);

    const ended = await legacyToken(p, 'ended-family', 'erin');
    await client.set(`${p}rt:fr:ended-family`, '1', { PX: 86_400_000 });
    expect((await refresh(fa, ended).expect(401)).body.code).toBe('ERR_CREDENTIAL_REVOKED');
    expect((await listFamilies(store, 'erin')).map((f) => f.familyId)).toEqual(['old-family']);
  });
});
