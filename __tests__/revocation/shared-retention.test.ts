/**
 * The revocation log shared by a cookie-only session (10 minutes) and a stateless JWT (2 s) on one redisStore, on
 * the Redis of this machine: the JWT's appends trim the log by time, but never below the retention the cookie's
 * entries need. The review saw a new instance started about a minute after a cookie logout accept that cookie
 * (200): by then the JWT's trim (2 s + the log's 60 s clock margin) had removed the cookie's entry. So this test
 * waits out that minute.
 */
import { cleanupPrefix, connectRedis, uniquePrefix, type TestRedisClient } from '../helpers/redis';
import { waitUntil } from './support';
import { blockedInXread, JWT_TTL_MS, login, logout, me, startApp, until, type App } from './shared-support';

/** How long the log keeps entries past their retention, for clocks (TRIM_MARGIN_MS in adapters/redis-log.ts). */
const LOG_MARGIN_MS = 60_000;
/** More JWT revocations than one stream node holds (100 entries), so trimming can drop the node with the cookie's. */
const FILL = 120;

let admin: TestRedisClient;
const prefix = uniquePrefix('revocation-retention');
const tag = `${process.pid}-${Date.now().toString(36)}`;
const log = `${prefix}rv:log`;

beforeAll(async () => { admin = await connectRedis(); });
afterAll(async () => {
  await cleanupPrefix(admin, prefix);
  await admin.close();
});

async function firstEntryId(): Promise<string | undefined> {
  return (await admin.xRange(log, '-', '+', { COUNT: 1 }))[0]?.id;
}

test('a JWT writer trimming the shared log keeps the cookie\'s entries: a new instance a minute later refuses the logged-out cookie (401)', async () => {
  const first = await startApp(`rvKeep1-${tag}`, prefix);
  let second: App | null = null;
  try {
    const cookie = await login(first, 'cookie', 'alice');
    expect(await me(first, cookie)).toMatchObject({ status: 200 });
    expect(await logout(first, cookie)).toBe(204);
    const cookieEntry = await firstEntryId();
    expect(cookieEntry).toBeDefined();

    for (let i = 0; i < FILL; i++) {
      const token = await login(first, 'jwt', `bob-${i % 5}`);
      expect(await logout(first, token)).toBe(204);
    }
    const filledAt = Date.now();
    expect(await admin.xLen(log)).toBe(FILL + 1);

    // Once a JWT's own retention (plus the margin) has passed for every entry above, its next append may trim them.
    await until(filledAt + JWT_TTL_MS + LOG_MARGIN_MS + 1000);
    const late = await login(first, 'jwt', 'bob-late');
    expect(await logout(first, late)).toBe(204);

    second = await startApp(`rvKeep2-${tag}`, prefix);
    expect(await me(second, cookie)).toMatchObject({ status: 401, code: 'ERR_CREDENTIAL_REVOKED' }); // starts its follower
    await waitUntil(async () => blockedInXread(admin, `rvKeep2-${tag}:rv-log`), 10_000, 'the new follower blocked in XREAD');
    expect(await me(second, cookie)).toMatchObject({ status: 401, code: 'ERR_CREDENTIAL_REVOKED' });
    expect(await me(first, cookie)).toMatchObject({ status: 401, code: 'ERR_CREDENTIAL_REVOKED' });
    const other = await login(second, 'cookie', 'alice');
    expect(await me(second, other)).toMatchObject({ status: 200 });
    // It knew from the log itself: the cookie's entry (10 minutes' retention) was not trimmed by the JWT's appends.
    expect(await firstEntryId()).toBe(cookieEntry); // the cookie's entry (10 minutes' retention) is still there

    // The retention the log keeps is itself a key with a TTL (nothing without one is left behind).
    expect(await admin.pTTL(`${log}:keep`)).toBeGreaterThan(0);
    expect(await admin.pTTL(log)).toBeGreaterThan(0);
  } finally {
    await second?.close();
    await first.close();
  }
}, 150_000);
