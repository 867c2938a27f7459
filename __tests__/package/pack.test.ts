/**
 * The packaged build: `npm run build` + `npm pack`, installed from the tarball into a temporary
 * project (with express), then loaded with require() and with import(): both expose the DESIGN.md API
 * and work. npm and the build are serialised on /tmp/npm.lock (shared working tree, see .notes/TEAM.md).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(__dirname, '..', '..');
/** The runtime names DESIGN.md promises (types Principal/Identity are checked by typings.test.ts). */
const DESIGN_NAMES = [
  'principal', 'statelessJwt', 'statefulJwt', 'sessionCookie', 'redisStore', 'memoryStore', 'cookieStore', 'fromConfig',
  'requireAuth', 'requireRole', 'requireAnyRole', 'requireScope', 'allow', 'AuthError',
].sort();

let work: string;
let project: string;
let tarball: string;

function locked(command: string, cwd: string): string {
  const run = spawnSync('flock', ['/tmp/npm.lock', 'sh', '-c', command], { cwd, encoding: 'utf8', timeout: 170_000 });
  if (run.status !== 0) throw new Error(`${command} failed (${run.status}):\n${run.stdout}\n${run.stderr}`);
  return run.stdout;
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'ep-pack-'));
  locked(`npm run build && npm pack --silent --pack-destination "${work}"`, root);
  const tgz = readdirSync(work).filter((f) => f.endsWith('.tgz'));
  expect(tgz).toHaveLength(1);
  tarball = join(work, tgz[0] as string);
  project = join(work, 'app');
  execFileSync('mkdir', ['-p', project]);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'ep-pack-smoke', version: '1.0.0', private: true }));
  const flags = '--no-audit --no-fund --loglevel=error';
  try {
    locked(`npm install --offline ${flags} "${tarball}" express@5`, project);
  } catch {
    locked(`npm install --prefer-offline ${flags} "${tarball}" express@5`, project);
  }
}, 180_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

jest.setTimeout(120_000);

function node(args: string[], file: string, source: string): unknown {
  writeFileSync(join(project, file), source);
  const out = execFileSync(process.execPath, [...args, file], { cwd: project, encoding: 'utf8', timeout: 60_000 });
  return JSON.parse(out.trim().split('\n').pop() as string);
}

/** Logs in and calls a guarded route over real HTTP, using only the installed package. */
const smoke = `
  const app = express();
  app.use(express.json());
  const auth = ep.principal({ strategy: ep.statelessJwt({ secret: 'k8Jd02mXq9Lp3Zr7Tv5Wy1Ab4Cd6Ef8Gh0Ij2Kl' }) });
  app.use(auth);
  app.post('/login', async (req, res) => { res.json(await req.auth.login({ id: 'u1', roles: ['admin'] })); });
  app.get('/admin', ep.requireRole('admin'), (req, res) => { res.json({ id: req.principal.id }); });
  const server = app.listen(0, '127.0.0.1', async () => {
    const base = 'http://127.0.0.1:' + server.address().port;
    const { token } = await (await fetch(base + '/login', { method: 'POST' })).json();
    const ok = await fetch(base + '/admin', { headers: { authorization: 'Bearer ' + token } });
    const anon = await fetch(base + '/admin');
    const names = Object.keys(ep).filter((k) => k !== 'default' && k !== '__esModule').sort();
    const types = Object.fromEntries(${JSON.stringify(DESIGN_NAMES)}.map((n) => [n, typeof ep[n]]));
    server.close();
    await auth.close();
    console.log(JSON.stringify({ names, types, ok: [ok.status, (await ok.json()).id], anon: [anon.status, (await anon.json()).code] }));
  });
`;

interface SmokeResult { names: string[]; types: Record<string, string>; ok: [number, string]; anon: [number, string] }

function expectWorking(result: SmokeResult): void {
  for (const name of DESIGN_NAMES) expect([name, result.types[name]]).toEqual([name, 'function']);
  expect(result.names).toEqual(expect.arrayContaining(DESIGN_NAMES));
  expect(result.ok).toEqual([200, 'u1']);
  expect(result.anon).toEqual([401, 'ERR_AUTH_REQUIRED']);
}

test('the tarball ships the build (JS, .d.ts, ESM facade) and no sources or tests', () => {
  const list = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).split('\n').filter(Boolean);
  expect(list).toEqual(expect.arrayContaining([
    'package/package.json', 'package/dist/lib/index.js', 'package/dist/lib/index.d.ts', 'package/dist/esm/index.mjs',
    'package/dist/lib/testing.js', 'package/dist/lib/testing.d.ts', 'package/dist/esm/testing.mjs',
  ]));
  expect(list.filter((f) => /__tests__|\/lib\/.*\.ts$(?<!\.d\.ts$)|example-app|bench\//.test(f))).toEqual([]);
});

test('installing the package does not install redis or connect-redis (optional peers, needed only for redisStore)', () => {
  const installed = ['redis', '@redis', 'connect-redis'].filter((name) => existsSync(join(project, 'node_modules', name)));
  expect(installed).toEqual([]);
});

test("require('express-principal') exposes the DESIGN names and works", () => {
  const result = node([], 'check.cjs', `const ep = require('express-principal'); const express = require('express');\n${smoke}`) as SmokeResult;
  expectWorking(result);
});

test("import('express-principal') exposes the same names (named imports and dynamic import) and works", () => {
  const named = `import { ${DESIGN_NAMES.join(', ')} } from 'express-principal';\n`;
  const source = `${named}import express from 'express';\nconst ep = await import('express-principal');\n` +
    `if (ep.principal !== principal) throw new Error('named and namespace exports differ');\n${smoke}`;
  const esm = node([], 'check.mjs', source) as SmokeResult;
  expectWorking(esm);
  const cjs = node([], 'names.cjs', `console.log(JSON.stringify(Object.keys(require('express-principal')).filter((k) => k !== '__esModule').sort()))`) as string[];
  expect(esm.names).toEqual(cjs);
});

/**
 * The smallest runner with the globals the published suite uses (no jest, no vitest installed): proves it needs
 * nothing at runtime but `describe` / `it` / `afterEach` / `expect` with the matchers both runners share.
 */
const bareRunner = `
  const { isDeepStrictEqual } = require('node:util');
  const tests = [];
  const afters = [];
  globalThis.describe = (name, body) => body();
  globalThis.it = (name, body) => tests.push([name, body]);
  globalThis.afterEach = (body) => afters.push(body);
  const check = (ok, what) => { if (!ok) throw new Error(what); };
  globalThis.expect = (actual) => ({
    toBe: (e) => check(Object.is(actual, e), JSON.stringify(actual) + ' is not ' + JSON.stringify(e)),
    toEqual: (e) => check(isDeepStrictEqual(actual, e), JSON.stringify(actual) + ' does not equal ' + JSON.stringify(e)),
    toBeNull: () => check(actual === null, JSON.stringify(actual) + ' is not null'),
    toBeGreaterThan: (n) => check(actual > n, actual + ' <= ' + n),
    toBeGreaterThanOrEqual: (n) => check(actual >= n, actual + ' < ' + n),
    toBeLessThanOrEqual: (n) => check(actual <= n, actual + ' > ' + n),
  });
  async function run() {
    const failed = [];
    for (const [name, body] of tests) {
      try { await body(); } catch (err) { failed.push(name + ': ' + err.message); }
      for (const after of afters) await after();
    }
    return { count: tests.length, failed };
  }
`;

test("express-principal/testing resolves with require() and import(), and its suite passes against memoryStore without jest", () => {
  const esm = node([], 'testing.mjs', "import { testStateStore } from 'express-principal/testing';\n" +
    "import testing from 'express-principal/testing';\n" +
    "import { createRequire } from 'node:module';\n" +
    "const cjs = createRequire(import.meta.url)('express-principal/testing');\n" +
    "console.log(JSON.stringify({ type: typeof testStateStore, same: testStateStore === cjs.testStateStore && testing === cjs, names: Object.keys(cjs).sort() }));") as { type: string; same: boolean; names: string[] };
  expect(esm).toEqual({ type: 'function', same: true, names: ['testStateStore'] });
  const source = `${bareRunner}
    const { testStateStore } = require('express-principal/testing');
    const { memoryStore } = require('express-principal');
    testStateStore('memoryStore', (prefix) => memoryStore({ prefix }));
    run().then((result) => console.log(JSON.stringify(result)));`;
  const result = node([], 'testing.cjs', source) as { count: number; failed: string[] };
  expect(result.failed).toEqual([]);
  expect(result.count).toBeGreaterThanOrEqual(17);
});
