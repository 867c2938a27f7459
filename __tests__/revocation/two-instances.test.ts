/**
 * Revocation for statelessJwt (and the cookieStore session) across two instances sharing one Redis:
 * a revocation made on A is enforced on B within maxRevocationLag, with no Redis command per request
 * while B is in sync, and without failing open when B's log follower is killed.
 */
import { performance } from 'node:perf_hooks';
import { createClient } from 'redis';
import { cleanupPrefix, connectRedis, redisUrl, uniquePrefix, type TestRedisClient } from '../helpers/redis';
import { clientIds, login, logout, me, refusedWithin, startInstance, waitUntil, type Instance } from './support';

const LAG_MS = 1000;
let admin: TestRedisClient;
const prefix = uniquePrefix('revocation-two');
const tag = `${process.pid}-${Date.now().toString(36)}`;
let A: Instance;
let B: Instance;

beforeAll(async () => {
  admin = await connectRedis();
  A = await startInstance({ redisUrl: redisUrl(), prefix, name: `rvA-${tag}` });
  B = await startInstance({ redisUrl: redisUrl(), prefix, name: `rvB-${tag}` });
}, 30_000);
afterAll(async () => {
  await A?.close();
  await B?.close();
  await cleanupPrefix(admin, prefix);
  await admin.close();
});

async function bothAccept(id: string) {
  const cred = await login(A, id);
  expect(await me(A, cred)).toMatchObject({ status: 200 });
  expect(await me(B, cred)).toMatchObject({ status: 200 });
  return cred;
}

test('logout (jti revoke) on A: the token is refused on B within maxRevocationLag', async () => {
  const cred = await bothAccept('alice');
  const other = await bothAccept('alice'); // same subject, another token: stays valid
  expect(await logout(A, cred)).toBe(204);
  const since = performance.now();
  expect(await me(A, cred)).toMatchObject({ status: 401, code: 'ERR_CREDENTIAL_REVOKED' }); // at once on A
  const r = await refusedWithin(B, cred, since, LAG_MS * 3);
  expect(r).toMatchObject({ status: 401, code: 'ERR_CREDENTIAL_REVOKED' });
  expect(r.elapsed).toBeLessThanOrEqual(LAG_MS);
  expect(await me(B, other)).toMatchObject({ status: 200 });
});

test('revokeAll on A: B refuses every older token of the subject, accepts one issued right after', async () => {
  const old1 = await bothAccept('bob');
  const old2 = await login(B, 'bob');
  const carol = await bothAccept('carol');
  await A.auth.revokeAll('bob');
  const fresh = await login(A, 'bob'); // immediately after (possibly the same second: iat_ms decides)
  const since = performance.now();
  const r1 = await refusedWithin(B, old1, since, LAG_MS * 3);
  expect(r1).toMatchObject({ status: 401, code: 'ERR_CREDENTIAL_REVOKED' });
  expect(r1.elapsed).toBeLessThanOrEqual(LAG_MS);
  expect(await me(B, old2)).toMatchObject({ status: 401 });
  expect(await me(A, old2)).toMatchObject({ status: 401 });
  expect(await me(A, fresh)).toMatchObject({ status: 200 });
  expect(await me(B, fresh)).toMatchObject({ status: 200 });
  expect(await me(B, await login(B, 'bob'))).toMatchObject({ status: 200 });
  expect(await me(B, carol)).toMatchObject({ status: 200 });
});

test('revokeAll right after a login (often the same millisecond) refuses that token on A and on B; a login after it resolves is accepted', async () => {
  const pairs: { old: Awaited<ReturnType<typeof login>>; id: string }[] = [];
  for (let i = 0; i < 40; i++) {
    const id = `same-ms-${i}`;
    const old = await login(A, id);
    await A.auth.revokeAll(id);
    pairs.push({ old, id });
  }
  const since = performance.now();
  for (const { old } of pairs) expect((await me(A, old)).status).toBe(401);
  const last = pairs[pairs.length - 1] as (typeof pairs)[number];
  const r = await refusedWithin(B, last.old, since, LAG_MS * 3);
  expect(r.status).toBe(401);
  for (const { old } of pairs) expect((await me(B, old)).status).toBe(401);
  const after = await login(A, last.id);
  expect(await me(B, after)).toMatchObject({ status: 200 });
});

test('killing B’s log follower connection: a revocation made meanwhile is still refused within the bound, and B recovers without a restart', async () => {
  const followerName = `${B.name}:rv-log`;
  const cred = await bothAccept('dave');
  await waitUntil(async () => (await clientIds(admin, followerName)).length === 1, 10_000, 'B follower connection');
  const [conn] = await clientIds(admin, followerName);
  await admin.sendCommand(['CLIENT', 'KILL', 'ID', (conn as { id: string }).id]);
  expect(await logout(A, cred)).toBe(204);
  const since = performance.now();
  const r = await refusedWithin(B, cred, since, LAG_MS * 3);
  expect(r).toMatchObject({ status: 401, code: 'ERR_CREDENTIAL_REVOKED' });
  expect(r.elapsed).toBeLessThanOrEqual(LAG_MS);

  // Recovery: a new follower connection (new id) reads the log again; later revocations propagate too.
  await waitUntil(async () => {
    const now = await clientIds(admin, followerName);
    return now.length === 1 && now[0]?.id !== conn?.id && now[0]?.cmd === 'xread';
  }, 10_000, 'B follower to reconnect');
  const second = await bothAccept('dave');
  expect(await logout(A, second)).toBe(204);
  const since2 = performance.now();
  const r2 = await refusedWithin(B, second, since2, LAG_MS * 3);
  expect(r2.status).toBe(401);
  expect(r2.elapsed).toBeLessThanOrEqual(LAG_MS);
});

test('a new instance bootstraps from the log: revocations made before it started are enforced at once', async () => {
  const cred = await bothAccept('erin');
  await A.auth.revokeAll('frank');
  const frank = await login(A, 'frank');
  expect(await logout(A, cred)).toBe(204);
  const C = await startInstance({ redisUrl: redisUrl(), prefix, name: `rvC-${tag}` });
  try {
    expect(await me(C, cred)).toMatchObject({ status: 401, code: 'ERR_CREDENTIAL_REVOKED' });
    expect(await me(C, frank)).toMatchObject({ status: 200 });
  } finally {
    await C.close();
  }
});

test('auth.close() stops the follower and closes its connection, never the app client', async () => {
  const D = await startInstance({ redisUrl: redisUrl(), prefix, name: `rvD-${tag}` });
  const cred = await login(D, 'gina');
  expect(await me(D, cred)).toMatchObject({ status: 200 }); // starts the follower
  await waitUntil(async () => (await clientIds(admin, `${D.name}:rv-log`)).length === 1, 10_000, 'D follower');
  await D.auth.close();
  await waitUntil(async () => (await clientIds(admin, `${D.name}:rv-log`)).length === 0, 10_000, 'D follower to close');
  expect(await D.client.ping()).toBe('PONG');
  expect((await clientIds(admin, D.name)).length).toBe(1);
  await D.close();
});

test('cookieStore session with a Redis revocation store: logout on A is refused on B within the bound', async () => {
  const SA = await startInstance({ redisUrl: redisUrl(), prefix, name: `rvSA-${tag}`, kind: 'sealed' });
  const SB = await startInstance({ redisUrl: redisUrl(), prefix, name: `rvSB-${tag}`, kind: 'sealed' });
  try {
    const cred = await login(SA, 'hank');
    expect(cred.cookie).toMatch(/^sid=/);
    expect(await me(SB, cred)).toMatchObject({ status: 200 });
    expect(await logout(SA, cred)).toBe(204);
    const since = performance.now();
    const r = await refusedWithin(SB, cred, since, LAG_MS * 3);
    expect(r).toMatchObject({ status: 401, code: 'ERR_CREDENTIAL_REVOKED' });
    expect(r.elapsed).toBeLessThanOrEqual(LAG_MS);
  } finally {
    await SA.close();
    await SB.close();
  }
});

test('the log is a bounded Redis Stream: entries carry jti / subject, never token bytes, and old entries are trimmed', async () => {
  const entries = (await admin.sendCommand(['XRANGE', `${prefix}rv:log`, '-', '+'])) as [string, string[]][];
  expect(entries.length).toBeGreaterThan(0);
  for (const [, fields] of entries) {
    expect(['j', 's']).toContain(fields[0]);
    expect(fields.join(' ')).not.toMatch(/eyJ/); // no JWT bytes
  }
  // A fresh log holding 250 entries from 1970: the next revocation's XADD (MINID ~ now - lifetime) trims them.
  const p2 = uniquePrefix('revocation-trim');
  for (let i = 1; i <= 250; i++) await admin.sendCommand(['XADD', `${p2}rv:log`, `1000-${i}`, 'j', `ancient${i}`, 'e', '2000']);
  const T = await startInstance({ redisUrl: redisUrl(), prefix: p2, name: `rvT-${tag}` });
  try {
    const cred = await login(T, 'ivy');
    expect(await me(T, cred)).toMatchObject({ status: 200 });
    expect(await logout(T, cred)).toBe(204);
    expect(Number(await admin.sendCommand(['XLEN', `${p2}rv:log`]))).toBeLessThan(100);
    // The log key itself expires (a lifetime + margin after the last revocation), like every key.
    const logTtl = Number(await admin.sendCommand(['PTTL', `${p2}rv:log`]));
    expect(logTtl).toBeGreaterThan(15 * 60_000);
    expect(logTtl).toBeLessThanOrEqual(15 * 60_000 + 5_000 + 60_000);
    const payload = JSON.parse(Buffer.from(String(cred.token).split('.')[1] as string, 'base64url').toString()) as { jti: string };
    const ttl = Number(await admin.sendCommand(['PTTL', `${p2}rv:j:${payload.jti}`]));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(15 * 60_000 + 5_000);
    expect(await me(T, cred)).toMatchObject({ status: 401, code: 'ERR_CREDENTIAL_REVOKED' });
  } finally {
    await T.close();
    await cleanupPrefix(admin, p2);
  }
});

// keep the import used for typing helpers
void createClient;
