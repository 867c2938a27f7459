import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import type { ExampleEnv } from '../../example-app/app';
import { ensureScreenshotDir, launchBrowser, logIn, SCREENSHOTS, startAttacker, startExample, TAKE_SCREENSHOTS, type RunningExample } from './support';

/**
 * The same browser journey for every strategy/storage pair: the example app runs one of them,
 * chosen only by env, exactly as `npm run example` would.
 */
export interface ExampleCase {
  label: string;
  env: ExampleEnv & { AUTH_STRATEGY: string; AUTH_STORAGE: string };
}

/** One Chromium for the whole file; each case gets its own app instance and a fresh context per test. */
export function exampleSuites(cases: ExampleCase[]): void {
  jest.setTimeout(30_000);
  let browser: Browser;
  beforeAll(async () => {
    ensureScreenshotDir();
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
  });
  for (const c of cases) exampleSuite(c.label, c.env, () => browser);
}

function exampleSuite(label: string, env: ExampleCase['env'], getBrowser: () => Browser): void {
  describe(`example app in Chromium: ${label}`, () => {
    let running: RunningExample;
    let base: string;
    let cookieName: string;

    beforeAll(async () => {
      running = await startExample(env);
      base = running.base;
      cookieName = running.example.settings.cookieName;
    });

    afterAll(async () => {
      await running?.close();
    });

    async function fresh() {
      return getBrowser().newContext({ viewport: { width: 900, height: 1000 } });
    }

    test('log in through the form: the panel shows req.principal, and the cookie is HttpOnly', async () => {
      const context = await fresh();
      try {
        const page = await logIn(context, base, 'alice');
        expect(await page.textContent('#p-id')).toBe('alice');
        expect(await page.textContent('#p-strategy')).toBe(env.AUTH_STRATEGY);
        expect(await page.textContent('#p-roles')).toBe('adminuser');
        expect((await page.textContent('#p-session'))?.length).toBeGreaterThan(8);
        expect(await page.textContent('#p-loaded')).toMatch(/data age \d+\.\d s/);
        expect(await page.textContent('#p-carrier')).toContain(`cookie "${cookieName}" (HttpOnly)`);

        // The server echoes the flags it set (never the value); the browser's jar agrees.
        const flags = (await page.textContent('#cookie-flags')) ?? '';
        expect(flags).toContain('HttpOnly');
        expect(flags).toContain('SameSite=Lax');
        expect(flags).toContain('Path=/');
        expect(flags).not.toContain('Secure'); // plain-http loopback only; see example-app/app.ts
        const jar = await context.cookies(base);
        const session = jar.find((c) => c.name === cookieName);
        expect(session).toMatchObject({ httpOnly: true, sameSite: 'Lax', secure: false, path: '/' });

        // What scripts on the page can see: not the credential.
        const visible = await page.evaluate<string>('document.cookie');
        expect(visible).not.toContain(`${cookieName}=`);
        expect(visible).not.toContain(session?.value ?? '<none>');
        expect(await page.textContent('#doc-cookie-note')).toContain('HttpOnly');

        if (TAKE_SCREENSHOTS && label === 'stateless-jwt-memory') await page.screenshot({ path: join(SCREENSHOTS, `${label}-logged-in.png`), fullPage: true });
      } finally {
        await context.close();
      }
    });

    test('/admin: 200 for alice (admin), a 403 page for bob (user)', async () => {
      const aliceCtx = await fresh();
      const bobCtx = await fresh();
      try {
        const [alice, bob] = await Promise.all([logIn(aliceCtx, base, 'alice'), logIn(bobCtx, base, 'bob')]);
        const ok = await alice.goto(`${base}/admin`);
        expect(ok?.status()).toBe(200);
        expect(await alice.textContent('#admin-ok')).toContain('alice');

        await bob.click('#admin-link');
        await bob.waitForSelector('body[data-code="ERR_FORBIDDEN"]');
        const denied = await bob.goto(`${base}/admin`);
        expect(denied?.status()).toBe(403);
        expect(await denied?.headerValue('content-type')).toContain('text/html');
        expect(await bob.textContent('#error-help')).toContain('bob');
        if (TAKE_SCREENSHOTS && label === 'session-cookie-memory') await bob.screenshot({ path: join(SCREENSHOTS, `${label}-403.png`) });
      } finally {
        await aliceCtx.close();
        await bobCtx.close();
      }
    });

    test('log out: going back to /admin and reloading /api/me answer 401', async () => {
      const context = await fresh();
      try {
        const page = await logIn(context, base, 'alice');
        expect((await page.goto(`${base}/admin`))?.status()).toBe(200);
        await page.goto(`${base}/`);
        await page.waitForSelector('body[data-state="logged-in"]');
        const loggedOut = page.waitForResponse((r) => r.url() === `${base}/logout`);
        await page.click('#logout-button');
        expect((await loggedOut).status()).toBe(204);
        await page.waitForSelector('body[data-state="logged-out"]');
        expect((await context.cookies(base)).find((c) => c.name === cookieName)).toBeUndefined();

        // Back to the admin page seen while logged in: it is fetched again (no-store) and refused.
        const back = await page.goBack();
        expect(back?.status()).toBe(401);
        expect(await page.getAttribute('body', 'data-code')).toBe('ERR_AUTH_REQUIRED');

        const me = await page.goto(`${base}/api/me`);
        expect(me?.status()).toBe(401);
        const reloaded = await page.reload();
        expect(reloaded?.status()).toBe(401);
      } finally {
        await context.close();
      }
    });

    test('demote me: the role change reaches the next request', async () => {
      const context = await fresh();
      try {
        const page = await logIn(context, base, 'alice');
        expect(await page.getAttribute('body', 'data-roles')).toBe('admin,user');
        const before = (await context.cookies(base)).find((c) => c.name === cookieName)?.value;
        expect(before).toBeDefined();
        const demoted = page.waitForResponse((r) => r.url() === `${base}/api/demote`);
        await page.click('#demote-button');
        const answer = await demoted;
        expect(answer.status()).toBe(200);
        expect((await answer.json()).method).toBe(running.example.settings.demoteBy);
        await page.waitForSelector('body[data-roles="user"]');
        expect(await page.textContent('#p-id')).toBe('alice');
        const admin = await page.goto(`${base}/admin`);
        expect(admin?.status()).toBe(403);

        // The pre-demotion credential, replayed from outside the browser, no longer opens /admin.
        const replay = await fetch(`${base}/admin`, { headers: { Cookie: `${cookieName}=${before}`, Accept: 'application/json' } });
        const { storage } = running.example.settings;
        if (storage === 'cookie') {
          // A cookie-only session has no server state: the old sealed cookie stays valid until it expires.
          expect(replay.status).toBe(200);
        } else {
          expect(replay.status).toBe(running.example.settings.demoteBy === 'update' ? 403 : 401);
          if (replay.status === 401) expect(((await replay.json()) as { code: string }).code).toBe('ERR_CREDENTIAL_REVOKED');
        }
      } finally {
        await context.close();
      }
    });

    test('log out everywhere ends every session of the user (where the storage can)', async () => {
      const laptop = await fresh();
      const phone = await fresh();
      try {
        const [a, b] = await Promise.all([logIn(laptop, base, 'alice'), logIn(phone, base, 'alice')]);
        if (!running.example.settings.canRevokeAll) {
          // Cookie-only sessions have no server state to revoke: the page says so and the API answers 501.
          expect(await a.isDisabled('#logout-everywhere-button')).toBe(true);
          const status = await a.evaluate(async () => (await fetch('/api/logout-everywhere', { method: 'POST', headers: { Accept: 'application/json' } })).status);
          expect(status).toBe(501);
          return;
        }
        await a.click('#logout-everywhere-button');
        await a.waitForSelector('body[data-state="logged-out"]');
        const me = await b.goto(`${base}/api/me`);
        expect(me?.status()).toBe(401);
        await b.goto(`${base}/`);
        await b.waitForSelector('body[data-state="logged-out"]');
      } finally {
        await laptop.close();
        await phone.close();
      }
    });

    test('a form POST from another site or origin is refused and the session keeps working', async () => {
      const context = await fresh();
      const attacker = await startAttacker(base);
      try {
        const page = await logIn(context, base, 'alice');

        // http://localhost:<port> is another *site* than http://127.0.0.1: SameSite=Lax keeps the cookie home,
        // so the forged demote arrives anonymous and is refused.
        let hit = page.waitForResponse((r) => r.url() === `${base}/api/demote`);
        await page.goto(`http://localhost:${attacker.port}/demote`);
        let answer = await hit;
        expect(answer.status()).toBe(401);
        await page.waitForSelector('body[data-code="ERR_AUTH_REQUIRED"]');
        expect(running.seen.filter((s) => s.path === '/api/demote').pop()).toMatchObject({ cookie: false, origin: `http://localhost:${attacker.port}` });

        // The forged logout: refused by express-principal's Origin check (logout always checks).
        hit = page.waitForResponse((r) => r.url() === `${base}/logout`);
        await page.goto(`http://localhost:${attacker.port}/logout`);
        answer = await hit;
        expect(answer.status()).toBe(403);
        await page.waitForSelector('body[data-code="ERR_CSRF"]');

        // Login CSRF (signing the victim in as the attacker): login() checks the origin too.
        hit = page.waitForResponse((r) => r.url() === `${base}/login`);
        await page.goto(`http://localhost:${attacker.port}/login`);
        answer = await hit;
        expect(answer.status()).toBe(403);
        await page.waitForSelector('body[data-code="ERR_CSRF"]');

        // http://127.0.0.1:<other port> is the same site, another origin: the browser DOES attach the
        // SameSite=Lax cookie; the Origin check is what refuses it.
        hit = page.waitForResponse((r) => r.url() === `${base}/api/demote`);
        await page.goto(`http://127.0.0.1:${attacker.port}/demote`);
        answer = await hit;
        expect(answer.status()).toBe(403);
        await page.waitForSelector('body[data-code="ERR_CSRF"]');
        expect(running.seen.filter((s) => s.path === '/api/demote').pop()).toMatchObject({ cookie: true, origin: `http://127.0.0.1:${attacker.port}` });

        // Nothing changed: still logged in, still admin.
        await page.goto(`${base}/`);
        await page.waitForSelector('body[data-state="logged-in"]');
        expect(await page.getAttribute('body', 'data-roles')).toBe('admin,user');
        expect((await page.goto(`${base}/admin`))?.status()).toBe(200);
      } finally {
        await context.close();
        await attacker.close();
      }
    });
  });
}
