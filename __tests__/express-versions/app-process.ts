/**
 * The app side of the Express 4 / 5 tests, in its own process: inside jest's sandbox a
 * process.on('unhandledRejection') listener never fires, and on Express 4 an unhandled rejection is exactly the crash
 * being tested for. Started with `fork(…, { execArgv: ['-r', 'ts-node/register/transpile-only'] })`.
 * Env: EP_EXPRESS ('express' or the 'express4' alias), EP_APP ('store': REDIS_URL; 'quickstart': PORT, JWT_SECRET).
 * Messages: → { ports } once listening ('store'); ← 'stats' → { stats }; ← 'version' → { version } of the Express in
 * use; ← 'selftest' makes one unhandled rejection.
 */
import http from 'node:http';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type express from 'express';
import ts from 'typescript';
import { createClient } from 'redis';
import * as lib from '../../lib';

const stats = { unhandledRejections: 0, uncaughtExceptions: 0 };
process.on('unhandledRejection', () => { stats.unhandledRejections += 1; });
process.on('uncaughtException', () => { stats.uncaughtExceptions += 1; });

const expressOf = (): typeof express => require(process.env.EP_EXPRESS ?? 'express') as typeof express;

/** Login, logout and refresh as a README reader writes them, each wrapped in `handle()`, and an app error handler. */
function storeApp(strategy: lib.Strategy): express.Express {
  const e = expressOf();
  const app = e();
  app.use(lib.principal({ strategy }));
  app.post('/login', e.json(), lib.handle(async (req, res) => {
    res.json(await req.auth.login({ id: String((req.body as { id: unknown }).id), roles: [] }));
  }));
  app.post('/logout', e.json(), lib.handle(async (req, res) => { await req.auth.logout(); res.sendStatus(204); }));
  app.post('/refresh', e.json(), lib.handle(async (req, res) => { res.json(await req.auth.refresh()); }));
  // Not an AuthError: handle() hands it to the app's own error handler.
  app.post('/app-failure', lib.handle(async () => { await Promise.resolve(); throw new Error('the app failed'); }));
  app.use((err: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    res.status(500).json({ handledBy: 'app', message: err.message });
  });
  return app;
}

async function listen(app: express.Express): Promise<number> {
  const srv = http.createServer(app);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  return (srv.address() as AddressInfo).port;
}

async function startStoreApps(): Promise<void> {
  const client = createClient({ url: process.env.REDIS_URL });
  client.on('error', () => undefined);
  await client.connect();
  const prefix = `ep-express-versions:${process.pid}:`;
  const secret = 'express-versions-secret-0123456789abcdef';
  const stateful = lib.statefulJwt({ secret, store: lib.redisStore({ client, prefix: `${prefix}sf:` }) });
  const refreshStore = lib.redisStore({ client, prefix: `${prefix}rt:` });
  const stateless = lib.statelessJwt({ secret, refresh: { store: refreshStore, deliver: 'body' } });
  process.send?.({ ports: { stateful: await listen(storeApp(stateful)), refresh: await listen(storeApp(stateless)) } });
}

/** The first ```ts block under "## Quickstart" in README.md. */
export function quickstartSource(readme: string): string {
  const section = readme.split(/^## Quickstart\s*$/m)[1];
  const block = section === undefined ? undefined : /```ts\n([\s\S]*?)```/.exec(section.split(/^## /m)[0] ?? '')?.[1];
  if (block === undefined) throw new Error('README.md has no ```ts block under "## Quickstart"');
  return block;
}

/** A password check standing in for the reader's own: `InvalidCredentialError` for a wrong password. */
async function checkPassword(body: { name?: string; password?: string }): Promise<{ id: string; roles: string[] }> {
  await Promise.resolve();
  if (body.password !== 'right') throw new lib.InvalidCredentialError();
  return { id: String(body.name), roles: body.name === 'ada' ? ['admin'] : [] };
}

/** Runs the README's quickstart as written; `express` is the Express under test, `express-principal` this package. */
function runQuickstart(): void {
  const source = quickstartSource(readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8'));
  const js = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true } }).outputText;
  const modules: Record<string, () => unknown> = { express: expressOf, 'express-principal': () => lib };
  const load = (name: string): unknown => {
    const found = modules[name];
    if (found === undefined) throw new Error(`the quickstart imports '${name}', which this test does not provide`);
    return found();
  };
  const module = { exports: {} };
  new Function('require', 'module', 'exports', 'checkPassword', js)(load, module, module.exports, checkPassword);
}

process.on('message', (m) => {
  if (m === 'stats') process.send?.({ stats });
  if (m === 'version') process.send?.({ version: (require(`${process.env.EP_EXPRESS ?? 'express'}/package.json`) as { version: string }).version });
  if (m === 'selftest') void Promise.reject(new Error('deliberate: proves the counter works'));
});
process.on('disconnect', () => process.exit(0));

async function main(): Promise<void> {
  if (process.env.EP_APP === 'quickstart') runQuickstart();
  else await startStoreApps();
}

main().catch((err: unknown) => {
  process.send?.({ fatal: String(err instanceof Error ? err.stack : err) });
  process.exit(1);
});
