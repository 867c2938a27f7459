/**
 * Moving from express-session without logging anyone out, in a real browser: headless Chromium logs in on the
 * guide's before app (express-session + connect-redis); that server stops and the after app (sessionCookie with
 * `legacy`) starts on the same port and Redis prefix; the same browser context is still logged in, now on the new
 * cookie, and stays so.
 */
import type { Browser } from 'playwright-core';
import { launchBrowser } from './support';
import { cleanupPrefix, connectRedis, keysWithPrefix, uniquePrefix, type TestRedisClient } from '../helpers/redis';
import { listen, type Listening } from '../microservice/support';
import { beforeApp } from '../guides/from-express-session/before';
import { afterApp } from '../guides/from-express-session/after';

jest.setTimeout(90_000);

const OLD_SECRET = 'keyboard cat';
const SECRET = 'Zr7Tv5Wy1Ab4Cd6Ef8Gh0Ij2Klk8Jd02mXq9Lp3';

let browser: Browser;
let redis: TestRedisClient;
let prefix: string;
const running: Listening[] = [];
const closers: (() => Promise<void>)[] = [];

beforeAll(async () => {
  [browser, redis] = await Promise.all([launchBrowser(), connectRedis()]);
  prefix = uniquePrefix('browser-from-express-session');
});
afterAll(async () => {
  await Promise.all(running.map((s) => s.close()));
  for (const close of closers) await close();
  await browser?.close();
  await cleanupPrefix(redis, prefix);
  await redis.close();
});

test('a user logged in on express-session is still logged in after the restart on sessionCookie', async () => {
  const legacyPrefix = `${prefix}sess:`;
  const before = await listen(beforeApp({ client: redis as never, prefix: legacyPrefix, secret: OLD_SECRET }));
  const base = before.url;
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${base}/`);
  await page.getByLabel('username').fill('alice');
  await page.getByLabel('password').fill('wonderland');
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.locator('#who').waitFor();
  expect(await page.locator('#who').textContent()).toBe('Logged in as alice');
  const oldCookies = await context.cookies(base);
  expect(oldCookies.map((c) => c.name)).toEqual(['connect.sid']);
  expect((await keysWithPrefix(redis, legacyPrefix)).length).toBe(1);

  // The deploy: the express-session app stops, the express-principal app starts on the same port and Redis.
  await before.close();
  const { app, auth } = afterApp({
    client: redis as never, legacyPrefix, legacySecret: OLD_SECRET, secret: SECRET, prefix: `${prefix}ep:`, secure: false,
  });
  closers.push(() => auth.close());
  running.push(await listen(app, before.port));

  await page.goto(`${base}/`);
  expect(await page.locator('#who').textContent()).toBe('Logged in as alice');
  const moved = await context.cookies(base);
  expect(moved.map((c) => c.name)).toEqual(['sid']);
  expect(moved[0]).toMatchObject({ httpOnly: true, sameSite: 'Lax' });
  expect(await keysWithPrefix(redis, legacyPrefix)).toEqual([]);

  // Later requests ride on the new cookie.
  const me = await page.goto(`${base}/me`);
  expect(me?.status()).toBe(200);
  expect(await me?.json()).toEqual({ id: 'alice', roles: ['admin'] });
  await page.goto(`${base}/`);
  expect(await page.locator('#who').textContent()).toBe('Logged in as alice');

  await page.getByRole('button', { name: 'Log out' }).click();
  await page.getByRole('button', { name: 'Log in' }).waitFor();
  expect((await page.goto(`${base}/me`))?.status()).toBe(401);
  await context.close();
});
