/**
 * A cookie-only session (long lifetime) and a stateless JWT (short lifetime) sharing one redisStore for
 * revocation, on the Redis of this machine, through real HTTP. The subject mark written by `revokeAll` must keep
 * the cookie's TTL although the JWT strategy writes it last with its own shorter one, and a new instance whose
 * log follower cannot prove it saw every entry (the log was trimmed before it started; Redis 7.0 leaves
 * `max-deleted-entry-id` at 0-0 on a trim) must not treat the revoked cookies as clear.
 */
import { cleanupPrefix, connectRedis, keysWithPrefix, uniquePrefix, type TestRedisClient } from '../helpers/redis';
import { waitUntil } from './support';
import { blockedInXread, JWT_TTL_MS, login, logout, me, startApp, until, type App } from './shared-support';

let admin: TestRedisClient;
const prefix = uniquePrefix('revocation-shared');
const tag = `${process.pid}-${Date.now().toString(36)}`;

beforeAll(async () => { admin = await connectRedis(); });
afterAll(async () => {
  await cleanupPrefix(admin, prefix);
  await admin.close();
});

test('cookie + JWT on one revocation store: a new instance started after the log was trimmed refuses logged-out and revoked cookies (401), never 200', async () => {
  const first = await startApp(`rvShared1-${tag}`, prefix);
  let second: App | null = null;
  try {
    const loggedOut = await login(first, 'cookie', 'alice');
    const revoked = await login(first, 'cookie', 'alice');
    const token = await login(first, 'jwt', 'alice');
    for (const cred of [loggedOut, revoked, token]) expect(await me(first, cred)).toMatchObject({ status: 200 });

    expect(await logout(first, loggedOut)).toBe(204);
    await first.auth.revokeAll('alice'); // both strategies write the subject mark; the JWT's (2 s) lands last
    const revokedAt = Date.now();
    for (const cred of [loggedOut, revoked, token]) expect(await me(first, cred)).toMatchObject({ status: 401, code: 'ERR_CREDENTIAL_REVOKED' });

    // Past the JWT's lifetime: a subject mark that took the JWT's TTL is gone now.
    await until(revokedAt + JWT_TTL_MS + 200);

    // Trim the whole log, as a writer that needs less retention does (on Redis 7.0 this leaves max-deleted-entry-id
    // at 0-0): a follower starting now can no longer read the entries.
    const log = `${prefix}rv:log`;
    await admin.sendCommand(['XTRIM', log, 'MINID', '=', String(Date.now() + 1)]);
    expect(await admin.xLen(log)).toBe(0);

    // One revocation after the trim, so the new follower's first read returns at once: once it is blocked in XREAD,
    // that first round has completed and its cache counts as in sync (answers locally, no lookup).
    const control = await login(first, 'cookie', 'bob');
    expect(await logout(first, control)).toBe(204);

    second = await startApp(`rvShared2-${tag}`, prefix);
    // Starts the cookie strategy's follower (each strategy follows the log itself; the JWT's is not started here).
    expect(await me(second, control)).toMatchObject({ status: 401, code: 'ERR_CREDENTIAL_REVOKED' });
    await waitUntil(async () => blockedInXread(admin, `rvShared2-${tag}:rv-log`), 5_000, 'the new follower blocked in XREAD');
    expect(await me(second, loggedOut)).toMatchObject({ status: 401, code: 'ERR_CREDENTIAL_REVOKED' });
    expect(await me(second, revoked)).toMatchObject({ status: 401, code: 'ERR_CREDENTIAL_REVOKED' });
    // Not a refusal of everything: a session issued after the revocation is accepted by both.
    const fresh = await login(second, 'cookie', 'alice');
    expect(await me(second, fresh)).toMatchObject({ status: 200 });
    expect(await me(first, fresh)).toMatchObject({ status: 200 });

    // The subject mark kept the longest TTL (the cookies it revoked live 10 minutes), and nothing leaked.
    const markTtl = await admin.pTTL(`${prefix}rv:s:alice`);
    expect(markTtl).toBeGreaterThan(9 * 60_000);
    // Nothing leaked: every key under the prefix expires.
    for (const key of await keysWithPrefix(admin, prefix)) expect(await admin.pTTL(key)).toBeGreaterThan(0);
  } finally {
    await second?.close();
    await first.close();
  }
}, 30_000);
