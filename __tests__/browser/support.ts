/**
 * Real-browser tests of the example app: headless Debian Chromium driven by playwright-core
 * (never a browser download). One browser per test file, a fresh context per test.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import express from 'express';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { createExampleApp, type ExampleApp, type ExampleEnv } from '../../example-app/app';

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const SCREENSHOTS = join(__dirname, '..', '..', 'example-app', 'screenshots');
const SECRET = 'k8Jd02mXq9Lp3Zr7Tv5Wy1Ab4Cd6Ef8Gh0Ij2Kl';

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

function listen(server: Server, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve((server.address() as AddressInfo).port));
  });
}

function stop(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

export interface RunningExample {
  base: string;
  example: ExampleApp;
  /** What the app received: path, method, and whether a Cookie header came with it. */
  seen: { method: string; path: string; cookie: boolean; origin: string | undefined }[];
  close(): Promise<void>;
}

/** The example app, in-process on an ephemeral port of 127.0.0.1. */
export async function startExample(env: ExampleEnv): Promise<RunningExample> {
  const example = await createExampleApp({ AUTH_SECRET: SECRET, AUTH_PREFIX: `ep-browser-${process.pid}-${Date.now()}:`, ...env });
  const seen: RunningExample['seen'] = [];
  const outer = express();
  outer.use((req, _res, next) => {
    seen.push({ method: req.method, path: req.path, cookie: typeof req.headers.cookie === 'string' && req.headers.cookie !== '', origin: req.headers.origin });
    next();
  });
  outer.use(example.app);
  const server = createServer(outer);
  const port = await listen(server, '127.0.0.1');
  return {
    base: `http://127.0.0.1:${port}`,
    example,
    seen,
    async close() { await stop(server); await example.close(); },
  };
}

/**
 * An attacker's site: pages that auto-submit a form to the app. Served on 127.0.0.1 and reached as
 * `http://localhost:<port>` (another site than http://127.0.0.1) or `http://127.0.0.1:<port>`
 * (same site, another origin).
 */
export async function startAttacker(target: string): Promise<{ port: number; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const action = req.url === '/logout' ? '/logout' : req.url === '/login' ? '/login' : '/api/demote';
    // Login CSRF: sign the victim in as the attacker's own account.
    const fields = action === '/login' ? '<input name="username" value="bob"><input name="password" value="bob-builder">' : '<input name="roles" value="user">';
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.end(`<!doctype html><title>win a prize</title><form id="f" method="post" action="${target}${action}">
${fields}</form><script>document.getElementById('f').submit()</script>`);
  });
  const port = await listen(server, '127.0.0.1');
  return { port, close: () => stop(server) };
}

export function ensureScreenshotDir(): void {
  mkdirSync(SCREENSHOTS, { recursive: true });
}

export async function logIn(context: BrowserContext, base: string, user: 'alice' | 'bob'): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${base}/`);
  await page.waitForSelector('body[data-state="logged-out"]');
  await page.click(`button.fill[data-user="${user}"]`);
  const answered = page.waitForResponse((r) => r.url() === `${base}/login` && r.request().method() === 'POST');
  await page.click('#login-button');
  expect((await answered).status()).toBe(200);
  await page.waitForSelector('body[data-state="logged-in"]');
  return page;
}
