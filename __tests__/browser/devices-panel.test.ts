/**
 * Issue 15 (the example app's "Your devices" panel), in headless Chromium: two browser contexts with different user
 * agents are two devices of one user. Device A sees both, its own marked "this device"; A ends B's session and B's
 * next request is logged out while A stays in; "log out other devices" ends a third one. Where the strategy keeps no
 * server-side sessions the panel says what to configure, and shows no list. `npm run screenshots` writes the panel.
 */
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { eventually } from '../adapters/contract';
import { ensureScreenshotDir, launchBrowser, logIn, SCREENSHOTS, startExample, TAKE_SCREENSHOTS, type RunningExample } from './support';

jest.setTimeout(90_000);

const CHROME_MAC = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const FIREFOX_WIN = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0';
const SAFARI_IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1';

const SUPPORTED = [
  { label: 'stateful-jwt-memory', env: { AUTH_STRATEGY: 'stateful-jwt', AUTH_STORAGE: 'memory' } },
  { label: 'session-cookie-memory', env: { AUTH_STRATEGY: 'session-cookie', AUTH_STORAGE: 'memory' } },
  // A device is a refresh-token family; ending it denies its live access token through the deny-list.
  { label: 'stateless-jwt-refresh-memory', env: { AUTH_STRATEGY: 'stateless-jwt', AUTH_STORAGE: 'memory', AUTH_REFRESH: '1' } },
  // Without refresh tokens a device is one login (the access tokens issued at it), kept in the revocation store.
  { label: 'stateless-jwt-memory', env: { AUTH_STRATEGY: 'stateless-jwt', AUTH_STORAGE: 'memory' } },
];
const UNSUPPORTED = [
  { label: 'session-cookie-cookie', env: { AUTH_STRATEGY: 'session-cookie', AUTH_STORAGE: 'cookie' } },
];

let browser: Browser;
const contexts: BrowserContext[] = [];
beforeAll(async () => {
  ensureScreenshotDir();
  browser = await launchBrowser();
});
afterEach(async () => {
  await Promise.all(contexts.splice(0).map((c) => c.close()));
});
afterAll(async () => {
  await browser?.close();
});

async function device(userAgent: string, width = 900): Promise<BrowserContext> {
  const context = await browser.newContext({ userAgent, viewport: { width, height: 900 } });
  contexts.push(context);
  return context;
}

/** What a request from this page's origin, with this page's cookies, answers. */
function status(page: Page, method: string, path: string): Promise<number> {
  return page.evaluate(async ([m, p]) => (await fetch(p, { method: m, headers: { Accept: 'application/json' } })).status, [method, path] as const);
}

interface Row { device: string; current: boolean; marked: string | null; meta: string; button: string | null; handle: string }

/** The rows of the panel as the user sees them. Runs in the page; source text, the tests compile without DOM types. */
function rows(page: Page): Promise<Row[]> {
  return page.evaluate<Row[]>(`[...document.querySelectorAll('#devices-list li')].map((li) => ({
    device: li.querySelector('.device-name').textContent,
    current: li.dataset.current === 'true',
    marked: li.querySelector('.this-device')?.textContent ?? null,
    meta: li.querySelector('.device-meta').textContent,
    button: li.querySelector('button.end-session')?.textContent ?? null,
    handle: li.dataset.handle,
  }))`);
}

/** Reloads the page (a fresh GET /api/devices) and waits until it lists `count` devices. */
async function showsDevices(page: Page, base: string, count: number): Promise<void> {
  await page.goto(`${base}/`);
  await page.waitForSelector(`body[data-devices="${count}"]`);
}

describe.each(SUPPORTED)('the devices panel: $label', ({ label, env }) => {
  // A fresh app per test: each starts with no session of alice's.
  let running: RunningExample;
  let base: string;
  beforeEach(async () => {
    running = await startExample(env);
    base = running.base;
  });
  afterEach(async () => { await running?.close(); });

  test('A lists both devices, ends B (logged out at its next request), then logs out a third one', async () => {
    const a = await logIn(await device(CHROME_MAC), base, 'alice');
    const b = await logIn(await device(FIREFOX_WIN), base, 'alice');
    await showsDevices(a, base, 2);
    const listed = await rows(a);
    expect(listed.map((r) => [r.device, r.current, r.marked, r.button])).toEqual([
      ['Chrome 131 on macOS', true, 'this device', null],
      ['Firefox 133 on Windows', false, null, 'End this session'],
    ]);
    // Loopback clients: the address is kept truncated to its network, like any other.
    for (const r of listed) expect(r.meta).toMatch(/^127\.0\.0\.0\/24 · signed in \d+ s ago · last seen \d+ s ago$/);
    // B sees the same two, with itself marked.
    await showsDevices(b, base, 2);
    expect((await rows(b)).map((r) => [r.device, r.current])).toEqual([['Chrome 131 on macOS', false], ['Firefox 133 on Windows', true]]);
    if (TAKE_SCREENSHOTS && label === 'session-cookie-memory') await a.locator('#devices-panel').screenshot({ path: join(SCREENSHOTS, 'devices-panel.png') });

    const ended = a.waitForResponse((r) => r.url().startsWith(`${base}/api/devices/`) && r.request().method() === 'DELETE');
    await a.click('#devices-list li[data-current="false"] button.end-session');
    expect((await ended).status()).toBe(200);
    await a.waitForSelector('body[data-devices="1"]');
    expect(await a.textContent('#devices-result')).toContain('Session ended');

    // B's next request is anonymous: the guarded API answers 401, a reload shows the login form.
    await eventually(async () => (await status(b, 'GET', '/api/me')) === 401, "B's /api/me answering 401", 10_000);
    await b.reload();
    await b.waitForSelector('body[data-state="logged-out"]');
    expect(await status(a, 'GET', '/api/me')).toBe(200);
    expect((await rows(a)).map((r) => r.device)).toEqual(['Chrome 131 on macOS']);

    // A third device logs in; "log out other devices" ends it and keeps A.
    const c = await logIn(await device(SAFARI_IPHONE, 390), base, 'alice');
    await showsDevices(a, base, 2);
    expect((await rows(a)).map((r) => r.device)).toEqual(['Chrome 131 on macOS', 'Safari 18 on iOS']);
    const others = a.waitForResponse((r) => r.url() === `${base}/api/devices/logout-others`);
    await a.click('#logout-others-button');
    const answer = await others;
    expect(answer.status()).toBe(200);
    expect(await answer.json()).toEqual({ ended: 1 });
    await a.waitForSelector('body[data-devices="1"]');
    expect(await a.isDisabled('#logout-others-button')).toBe(true);
    await eventually(async () => (await status(c, 'GET', '/api/me')) === 401, "C's /api/me answering 401", 10_000);
    await c.reload();
    await c.waitForSelector('body[data-state="logged-out"]');
    expect(await status(a, 'GET', '/api/me')).toBe(200);
    await showsDevices(a, base, 1);
  });

  test("another user's handle ends nothing (404), and the panel fits a 390 px screen with two devices", async () => {
    const a = await logIn(await device(SAFARI_IPHONE, 390), base, 'alice');
    await logIn(await device(FIREFOX_WIN), base, 'alice');
    const bob = await logIn(await device(CHROME_MAC), base, 'bob');
    await showsDevices(bob, base, 1);
    const [bobs] = await rows(bob);
    expect(await status(a, 'DELETE', `/api/devices/${encodeURIComponent(bobs?.handle ?? '')}`)).toBe(404);
    expect(await status(bob, 'GET', '/api/me')).toBe(200);
    await showsDevices(bob, base, 1);

    await showsDevices(a, base, 2);
    const fits = await a.evaluate<{ scrollWidth: number; right: number }>(`(() => {
      const button = document.querySelector('#devices-list button.end-session').getBoundingClientRect();
      const others = document.getElementById('logout-others-button').getBoundingClientRect();
      return { scrollWidth: document.documentElement.scrollWidth, right: Math.max(button.right, others.right) };
    })()`);
    expect(fits.scrollWidth).toBeLessThanOrEqual(390);
    expect(fits.right).toBeLessThanOrEqual(390);
  });
});

describe('AUTH_REFRESH=1: an expired access token is renewed by the page, and the device stays the same', () => {
  let running: RunningExample;
  beforeAll(async () => { running = await startExample({ AUTH_STRATEGY: 'stateless-jwt', AUTH_STORAGE: 'memory', AUTH_REFRESH: '1', AUTH_TTL: '2s' }); });
  afterAll(async () => { await running?.close(); });

  test('after expiry a reload renews through POST /auth/refresh and lists the same device as current', async () => {
    const { base } = running;
    const page = await logIn(await device(CHROME_MAC), base, 'alice');
    await showsDevices(page, base, 1);
    const [before] = await rows(page);
    // Until the 2 s access token has expired, and the browser has dropped its cookie.
    await eventually(async () => (await status(page, 'GET', '/api/me')) === 401, 'the access token to expire', 20_000, 250);
    const renewed = page.waitForResponse((r) => r.url() === `${base}/auth/refresh`);
    await page.goto(`${base}/`);
    expect((await renewed).status()).toBe(200);
    await page.waitForSelector('body[data-devices="1"]');
    const [after] = await rows(page);
    expect(after).toMatchObject({ handle: before?.handle, current: true, device: 'Chrome 131 on macOS' });
  });
});

describe.each(UNSUPPORTED)('no server-side sessions: $label', ({ env }) => {
  let running: RunningExample;
  beforeAll(async () => { running = await startExample(env); });
  afterAll(async () => { await running?.close(); });

  test('the panel says what to configure and shows no list; the API answers 501', async () => {
    const page = await logIn(await device(CHROME_MAC), running.base, 'alice');
    await page.waitForSelector('body[data-devices="unsupported"]');
    expect(await page.textContent('#devices-unsupported')).toContain('Restart with AUTH_STRATEGY=stateful-jwt');
    expect(await page.isVisible('#devices-unsupported')).toBe(true);
    expect(await page.isVisible('#devices-list')).toBe(false);
    expect(await page.isVisible('#logout-others-button')).toBe(false);
    expect(await rows(page)).toEqual([]);
    // The page never asked for a list that cannot exist; an API client that does gets the library's 501.
    expect(running.seen.filter((s) => s.path.startsWith('/api/devices'))).toEqual([]);
    const answer = await page.evaluate(async () => {
      const res = await fetch('/api/devices', { headers: { Accept: 'application/json' } });
      const body = await res.text();
      return { status: res.status, body };
    });
    expect(answer.status).toBe(501);
    expect(JSON.parse(answer.body)).toMatchObject({ code: 'ERR_NOT_SUPPORTED' });
    expect(await status(page, 'POST', '/api/devices/logout-others')).toBe(501);
  });
});
