/**
 * Issue 14 (the example page): on a 390 px wide screen (a phone) the page does not scroll sideways, labels stay a
 * narrow column (under 40 % of their list or form), the login form stacks; a visit logs no console error and loads
 * nothing that fails (no 404 favicon, no 401 for a visitor's first request); a success message does not look like an
 * error. `npm run screenshots` also writes the 390 px screenshot here.
 */
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { eventually } from '../adapters/contract';
import { ensureScreenshotDir, launchBrowser, SCREENSHOTS, startExample, TAKE_SCREENSHOTS, type RunningExample } from './support';

jest.setTimeout(60_000);

const WIDTH = 390;
const CASES = [
  { label: 'stateless-jwt-memory', env: { AUTH_STRATEGY: 'stateless-jwt', AUTH_STORAGE: 'memory' } },
  { label: 'session-cookie-memory', env: { AUTH_STRATEGY: 'session-cookie', AUTH_STORAGE: 'memory' } },
];

let browser: Browser;
beforeAll(async () => {
  ensureScreenshotDir();
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
});

/** Everything a visitor's browser would flag: console errors, failed requests, answers of 400 and more. */
function watch(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`failed: ${r.method()} ${r.url()} ${r.failure()?.errorText ?? ''}`));
  page.on('response', (r) => { if (r.status() >= 400) problems.push(`${r.status()}: ${r.request().method()} ${r.url()}`); });
  return problems;
}

interface Layout { scrollWidth: number; labels: { text: string; ratio: number }[]; stacked: boolean }

/**
 * Widths of what labels a value (visible `dt`s of each list, the login form's captions) against their container.
 * Runs in the page; kept as source text because the tests compile without the DOM's types.
 */
const LAYOUT = `(() => {
  const visible = (el) => el.getBoundingClientRect().width > 0;
  const labels = [];
  for (const dl of document.querySelectorAll('dl.grid')) {
    if (!visible(dl)) continue;
    const width = dl.getBoundingClientRect().width;
    for (const dt of dl.querySelectorAll('dt')) labels.push({ text: dt.textContent, ratio: dt.getBoundingClientRect().width / width });
  }
  const form = document.getElementById('login-form');
  let stacked = false;
  if (form !== null && visible(form)) {
    const width = form.getBoundingClientRect().width;
    for (const caption of form.querySelectorAll('label > span')) {
      labels.push({ text: caption.textContent, ratio: caption.getBoundingClientRect().width / width });
    }
    const [user, pass] = [...form.querySelectorAll('input')].map((i) => i.getBoundingClientRect());
    stacked = user !== undefined && pass !== undefined && pass.top >= user.bottom && user.width >= 0.8 * width;
  }
  return { scrollWidth: document.documentElement.scrollWidth, labels, stacked };
})()`;

function layout(page: Page): Promise<Layout> {
  return page.evaluate<Layout>(LAYOUT);
}

function expectFits(found: Layout): void {
  expect(found.scrollWidth).toBeLessThanOrEqual(WIDTH);
  expect(found.labels.length).toBeGreaterThan(0);
  expect(found.labels.filter((l) => l.ratio >= 0.4)).toEqual([]);
}

/** How a message element looks: its class and computed colours. */
function look(page: Page, id: string): Promise<{ className: string; color: string; background: string; shown: boolean }> {
  return page.evaluate(`(() => {
    const el = document.getElementById(${JSON.stringify(id)});
    const style = getComputedStyle(el);
    return { className: el.className, color: style.color, background: style.backgroundColor, shown: el.getBoundingClientRect().height > 0 };
  })()`);
}

describe.each(CASES)('the example page at 390 px: $label', ({ label, env }) => {
  let running: RunningExample;
  beforeAll(async () => { running = await startExample(env); });
  afterAll(async () => { await running?.close(); });

  test('fits the screen, logs nothing, loads nothing that fails; success and error messages look different', async () => {
    const { base } = running;
    const context = await browser.newContext({ viewport: { width: WIDTH, height: 844 } });
    try {
      const page = await context.newPage();
      const problems = watch(page);
      await page.goto(`${base}/`);
      await page.waitForSelector('body[data-state="logged-out"]');
      const visitor = await layout(page);
      expectFits(visitor);
      expect(visitor.stacked).toBe(true);

      await page.click('button.fill[data-user="alice"]');
      await page.click('#login-button');
      await page.waitForSelector('body[data-state="logged-in"]');
      expectFits(await layout(page));
      if (TAKE_SCREENSHOTS && label === 'stateless-jwt-memory') await page.screenshot({ path: join(SCREENSHOTS, `${label}-390px.png`), fullPage: true });

      await page.click('#demote-button');
      await page.waitForSelector('body[data-roles="user"]');
      const demoted = await look(page, 'action-result');
      expect(demoted).toMatchObject({ className: 'success', shown: true });
      expectFits(await layout(page));

      await page.click('#logout-everywhere-button');
      await page.waitForSelector('body[data-state="logged-out"]');
      const notice = await look(page, 'login-notice');
      expect(notice).toMatchObject({ className: 'success', shown: true });
      expect(await page.textContent('#login-notice')).toContain('Logged out everywhere');
      expect((await look(page, 'login-error')).shown).toBe(false);
      expect(problems).toEqual([]);
      expect(running.seen.filter((s) => (s.status ?? 0) >= 400)).toEqual([]);

      // A wrong password is an error (the 401 it answers is expected here): it must not look like the notice.
      await page.fill('#username', 'alice');
      await page.fill('#password', 'wrong');
      await page.click('#login-button');
      await page.waitForSelector('#login-error:not([hidden])');
      const error = await look(page, 'login-error');
      expect(error).toMatchObject({ className: 'error', shown: true });
      expect(error.color).not.toBe(notice.color);
      expect(error.background).not.toBe(notice.background);
      expect((await look(page, 'login-notice')).shown).toBe(false);
      expectFits(await layout(page));
    } finally {
      await context.close();
    }
  });

  test('a server-rendered error page fits too, and only its own status is an error (no 404 favicon)', async () => {
    const context = await browser.newContext({ viewport: { width: WIDTH, height: 844 } });
    try {
      const page = await context.newPage();
      const problems = watch(page);
      const before = running.seen.length;
      const denied = await page.goto(`${running.base}/admin`);
      expect(denied?.status()).toBe(401);
      await page.waitForSelector('body[data-code="ERR_AUTH_REQUIRED"]');
      // The browser fetches the icon by itself, after the page: wait until it asked.
      await eventually(async () => running.seen.slice(before).some((s) => s.path === '/favicon.svg' && s.status !== undefined), 'the favicon request', 20_000);
      expect(problems.filter((p) => !p.startsWith(`401: GET ${running.base}/admin`) && !p.includes('status of 401'))).toEqual([]);
      const answered = running.seen.slice(before).map((s) => `${s.status ?? 'none'} ${s.path}`);
      expect(answered).toEqual(expect.arrayContaining(['401 /admin', '200 /style.css', '200 /favicon.svg']));
      expect(answered.filter((a) => !a.startsWith('2') && a !== '401 /admin')).toEqual([]);
      expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(WIDTH);
    } finally {
      await context.close();
    }
  });
});
