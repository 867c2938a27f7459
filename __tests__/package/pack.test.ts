/**
 * The packaged build: `npm run build` + `npm pack`, then
 * - the tarball itself: what it ships, @arethetypeswrong/cli and publint clean on it;
 * - installed with a plain `npm install` into the apps people have (Express 4, Express 5.1, express-session +
 *   connect-redis, passport-jwt): no ERESOLVE, no peer or engine warning, and each app logs in over HTTP;
 * - loaded with require() and with import() (in the Express 5.1 app): both expose the DESIGN.md API and work.
 * The build and pack are serialised on /tmp/npm.lock (they write this tree's dist/); the installs run in parallel
 * on npm's shared cache.
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const root = resolve(__dirname, '..', '..');
/** The runtime names DESIGN.md promises (types Principal/Identity are checked by typings.test.ts). */
const DESIGN_NAMES = [
  'principal', 'statelessJwt', 'statefulJwt', 'sessionCookie', 'redisStore', 'memoryStore', 'cookieStore', 'fromConfig',
  'requireAuth', 'requireRole', 'requireAnyRole', 'requireScope', 'allow', 'AuthError',
].sort();

/** The apps of issue 14's "Done means", as their package.json had them before adding express-principal. */
const CONSUMERS: Record<string, Record<string, string>> = {
  express4: { express: '4.21.2' },
  express51: { express: '5.1.0' },
  session: { express: '^4.21.2', 'express-session': '^1.18.1', 'connect-redis': '^9.0.0', redis: '^5.0.0' },
  passport: { express: '^4.21.2', passport: '^0.7.0', 'passport-jwt': '^4.0.1' },
};
type Consumer = keyof typeof CONSUMERS;
/** What npm prints when an install does not fit: conflicts, peer ranges, engines. */
const INSTALL_TROUBLE = /ERESOLVE|EBADENGINE|peer dep|conflicting peer|Could not resolve dependency|unsupported engine/i;

let work: string;
let project: string;
let tarball: string;
/** What each linter reported on the tarball, as a list of problems (or the error that stopped it). */
let attw: string[];
let publint: string[];
const installs = new Map<Consumer, { dir: string; output: string }>();
const run = promisify(execFile);

function locked(command: string, cwd: string): string {
  const done = spawnSync('flock', ['/tmp/npm.lock', 'sh', '-c', command], { cwd, encoding: 'utf8', timeout: 170_000 });
  if (done.status !== 0) throw new Error(`${command} failed (${done.status}):\n${done.stdout}\n${done.stderr}`);
  return done.stdout;
}

/** `npm install` in `dir`, resolving to everything npm printed (warnings go to stderr). */
async function npmInstall(dir: string, args: string[]): Promise<string> {
  const flags = ['--prefer-offline', '--no-audit', '--no-fund'];
  try {
    const { stdout, stderr } = await run('npm', ['install', ...flags, ...args], { cwd: dir, encoding: 'utf8', timeout: 300_000, maxBuffer: 16 << 20 });
    return `${stdout}${stderr}`;
  } catch (err) {
    const { stdout, stderr } = err as { stdout?: string; stderr?: string };
    throw new Error(`npm install ${args.join(' ')} failed in ${dir}:\n${stdout ?? ''}\n${stderr ?? ''}`);
  }
}

/** @arethetypeswrong/cli's problems: each entry point's types must describe what require / import load. */
async function attwReport(): Promise<string[]> {
  const bin = join(root, 'node_modules', '.bin', 'attw');
  // Into a file: attw exits as soon as it finds a problem, which cuts a piped report at 64 KB.
  const file = join(work, 'attw.json');
  await run('sh', ['-c', `"${bin}" "${tarball}" --format json > "${file}"`], { cwd: work, timeout: 200_000 }).catch(() => undefined);
  type Problem = { kind: string; entrypoint?: string; resolutionKind?: string; typesFileName?: string; implementationFileName?: string };
  const report = JSON.parse(readFileSync(file, 'utf8')) as { analysis: { problems: Problem[] } };
  return report.analysis.problems.map((p) => [p.kind, p.entrypoint, p.resolutionKind, p.typesFileName, p.implementationFileName].filter(Boolean).join(' '));
}

/** publint's messages on the tarball, suggestions included (publint is ESM-only: run in its own process). */
async function publintReport(): Promise<string[]> {
  const script = `
    import { readFileSync } from 'node:fs';
    import { publint } from 'publint';
    import { formatMessage } from 'publint/utils';
    const tarball = readFileSync(process.argv[1]);
    const { messages, pkg } = await publint({ pack: { tarball: tarball.buffer.slice(tarball.byteOffset, tarball.byteOffset + tarball.length) }, level: 'suggestion', strict: true });
    console.log(JSON.stringify(messages.map((m) => m.type + ': ' + formatMessage(m, pkg))));`;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script, tarball], { cwd: root, encoding: 'utf8', timeout: 200_000 });
  return JSON.parse(stdout.trim().split('\n').pop() as string) as string[];
}

const lint = (report: () => Promise<string[]>) => report().catch((err: Error) => [`did not run: ${err.message}`]);

function newProject(name: string, dependencies: Record<string, string> = {}): string {
  const dir = join(work, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `ep-pack-${name}`, version: '1.0.0', private: true, dependencies }));
  return dir;
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'ep-pack-'));
  locked(`npm run build && npm pack --silent --pack-destination "${work}"`, root);
  const tgz = readdirSync(work).filter((f) => f.endsWith('.tgz'));
  expect(tgz).toHaveLength(1);
  tarball = join(work, tgz[0] as string);
  // The linters read only the tarball: they run while npm waits on its cache and the network.
  const linted = Promise.all([lint(attwReport), lint(publintReport)]);
  await Promise.all((Object.keys(CONSUMERS) as Consumer[]).map(async (name) => {
    const dir = newProject(name, CONSUMERS[name]);
    installs.set(name, { dir, output: await npmInstall(dir, [tarball]) });
  }));
  [attw, publint] = await linted;
  // The Express 5.1 app also serves the require() / import() checks.
  project = installs.get('express51')?.dir as string;
}, 420_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

jest.setTimeout(120_000);

function node(args: string[], file: string, source: string, cwd = project): unknown {
  writeFileSync(join(cwd, file), source);
  const out = execFileSync(process.execPath, [...args, file], { cwd, encoding: 'utf8', timeout: 60_000 });
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
    'package/dist/esm/index.d.mts', 'package/dist/esm/testing.d.mts',
  ]));
  expect(list.filter((f) => /__tests__|\/lib\/.*\.ts$(?<!\.d\.ts$)|example-app|bench\//.test(f))).toEqual([]);
});

/** Every file of the tarball, by its path inside the package, with its text. */
function unpacked(): Map<string, string> {
  const dir = join(work, 'unpacked');
  if (!existsSync(dir)) {
    mkdirSync(dir);
    execFileSync('tar', ['-xzf', tarball, '-C', dir]);
  }
  const files = new Map<string, string>();
  const walk = (at: string) => {
    for (const entry of readdirSync(join(dir, at), { withFileTypes: true })) {
      const path = join(at, entry.name);
      if (entry.isDirectory()) walk(path);
      else files.set(path.replace(/^package\//, ''), readFileSync(join(dir, path), 'utf8'));
    }
  };
  walk('package');
  return files;
}

test('source maps are not shipped without their sources: every shipped map carries them, no file points at a missing map', () => {
  const files = unpacked();
  const maps = [...files.keys()].filter((f) => f.endsWith('.map'));
  const withoutSources = maps.filter((f) => {
    const map = JSON.parse(files.get(f) as string) as { sources: string[]; sourcesContent?: (string | null)[] };
    return map.sources.some((_, i) => typeof map.sourcesContent?.[i] !== 'string');
  });
  expect(withoutSources).toEqual([]);
  const dangling = [...files].flatMap(([file, text]) => {
    const url = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(text)?.[1];
    return url !== undefined && !url.startsWith('data:') && !files.has(join(file, '..', url)) ? [`${file} -> ${url}`] : [];
  });
  expect(dangling).toEqual([]);
});

test('@arethetypeswrong/cli finds no problem in the tarball: require and import each get the types of what they load', () => {
  expect(attw).toEqual([]);
});

test('publint reports nothing on the tarball, suggestions included', () => {
  expect(publint).toEqual([]);
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

const SECRET = 'k8Jd02mXq9Lp3Zr7Tv5Wy1Ab4Cd6Ef8Gh0Ij2Kl';

/** Starts `app`, runs `client(base)` against it, prints its result as the last line, and always closes. */
const harness = `
  async function serve(app, auth, client) {
    const server = await new Promise((ok) => { const s = app.listen(0, '127.0.0.1', () => ok(s)); });
    try {
      console.log(JSON.stringify(await client('http://127.0.0.1:' + server.address().port)));
    } finally {
      server.close();
      await auth.close();
    }
  }
  const status = async (res) => [res.status, (await res.json()).code ?? null];
`;

/** The README quickstart, with a password check that can fail: what an Express 4 or 5 app adds. */
const jwtApp = `
  const express = require('express');
  const { principal, statelessJwt, handle, requireRole, InvalidCredentialError } = require('express-principal');
  ${harness}
  const app = express();
  const auth = principal({ strategy: statelessJwt({ secret: '${SECRET}', issuer: 'auth', audience: 'api', ttl: '15m' }) });
  app.use(auth);
  app.post('/login', express.json(), handle(async (req, res) => {
    if (req.body.password !== 'right') throw new InvalidCredentialError();
    res.json(await req.auth.login({ id: req.body.user, roles: ['admin'] }));
  }));
  app.get('/admin', requireRole('admin'), (req, res) => res.json({ id: req.principal.id }));
  serve(app, auth, async (base) => {
    const login = (password) => fetch(base + '/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'u1', password }) });
    const wrong = await status(await login('wrong'));
    const { token } = await (await login('right')).json();
    const ok = await fetch(base + '/admin', { headers: { authorization: 'Bearer ' + token } });
    return { express: require('express/package.json').version, wrong, ok: [ok.status, (await ok.json()).id], anon: await status(await fetch(base + '/admin')) };
  }).catch((err) => { console.error(err); process.exit(1); });
`;

/** An express-session + connect-redis app moved to sessionCookie on its node-redis client (real Redis, own prefix). */
const sessionApp = `
  const express = require('express');
  const { createClient } = require('redis');
  const { principal, sessionCookie, redisStore, handle, requireRole } = require('express-principal');
  ${harness}
  (async () => {
    const client = await createClient({ url: process.env.REDIS_URL || 'redis://127.0.0.1:6379' }).connect();
    const prefix = 'ep-package-' + process.pid + '-' + Date.now().toString(36) + ':';
    const app = express();
    const auth = principal({ strategy: sessionCookie({ secret: '${SECRET}', store: redisStore({ client, prefix }), secure: false }) });
    app.use(auth);
    app.post('/login', handle(async (req, res) => { res.json(await req.auth.login({ id: 'u1', roles: ['admin'] })); }));
    app.get('/admin', requireRole('admin'), (req, res) => res.json({ id: req.principal.id }));
    try {
      await serve(app, auth, async (base) => {
        const login = await fetch(base + '/login', { method: 'POST' });
        const cookie = (login.headers.get('set-cookie') || '').split(';')[0];
        const ok = await fetch(base + '/admin', { headers: { cookie } });
        const stored = (await client.keys(prefix + '*')).length;
        return { login: login.status, cookieName: cookie.split('=')[0], stored, ok: [ok.status, (await ok.json()).id], anon: await status(await fetch(base + '/admin')) };
      });
    } finally {
      const keys = await client.keys(prefix + '*');
      if (keys.length > 0) await client.del(keys);
      client.destroy();
    }
  })().catch((err) => { console.error(err); process.exit(1); });
`;

/** A passport-jwt app during its move: passport's routes and express-principal's side by side, one token for both. */
const passportApp = `
  const express = require('express');
  const passport = require('passport');
  const { Strategy: JwtStrategy, ExtractJwt } = require('passport-jwt');
  const { principal, statelessJwt, handle, requireRole } = require('express-principal');
  ${harness}
  passport.use(new JwtStrategy({
    jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(), secretOrKey: '${SECRET}', issuer: 'auth', audience: 'api', algorithms: ['HS256'],
  }, (payload, done) => done(null, { id: payload.sub })));
  const app = express();
  app.use(passport.initialize());
  const auth = principal({ strategy: statelessJwt({ secret: '${SECRET}', issuer: 'auth', audience: 'api', algorithms: ['HS256'] }) });
  app.use(auth);
  app.post('/login', handle(async (req, res) => { res.json(await req.auth.login({ id: 'u1', roles: ['admin'] })); }));
  app.get('/legacy', passport.authenticate('jwt', { session: false }), (req, res) => res.json({ id: req.user.id }));
  app.get('/admin', requireRole('admin'), (req, res) => res.json({ id: req.principal.id }));
  serve(app, auth, async (base) => {
    const { token } = await (await fetch(base + '/login', { method: 'POST' })).json();
    const headers = { authorization: 'Bearer ' + token };
    const legacy = await fetch(base + '/legacy', { headers });
    const ok = await fetch(base + '/admin', { headers });
    return {
      legacy: [legacy.status, (await legacy.json()).id], ok: [ok.status, (await ok.json()).id],
      anon: await status(await fetch(base + '/admin')), legacyAnon: (await fetch(base + '/legacy')).status,
    };
  }).catch((err) => { console.error(err); process.exit(1); });
`;

function installedVersion(consumer: Consumer, name: string): string {
  const dir = installs.get(consumer)?.dir as string;
  return (JSON.parse(readFileSync(join(dir, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
}

describe.each(Object.keys(CONSUMERS) as Consumer[])('an existing %s app installs the tarball with a plain npm install', (consumer) => {
  test('no ERESOLVE, no peer dependency or engine warning; npm ls finds the tree valid', async () => {
    const install = installs.get(consumer);
    expect(install).toBeDefined();
    const { dir, output } = install as { dir: string; output: string };
    expect(output.split('\n').filter((line) => INSTALL_TROUBLE.test(line))).toEqual([]);
    const ls = await run('npm', ['ls', '--all'], { cwd: dir, encoding: 'utf8', timeout: 100_000, maxBuffer: 16 << 20 })
      .then(() => 'valid', (err: { stdout?: string; stderr?: string }) => `${err.stdout ?? ''}${err.stderr ?? ''}`);
    expect(ls).toBe('valid');
    for (const [name, range] of Object.entries(CONSUMERS[consumer] as Record<string, string>)) {
      if (!range.startsWith('^')) expect([name, installedVersion(consumer, name)]).toEqual([name, range]);
    }
  });
});

test('Express 4.21 app: login, guarded route 200, no token 401, a wrong password 401 problem+json (no crash)', () => {
  const result = node([], 'app.cjs', jwtApp, installs.get('express4')?.dir);
  expect(result).toEqual({ express: '4.21.2', wrong: [401, 'ERR_INVALID_CREDENTIAL'], ok: [200, 'u1'], anon: [401, 'ERR_AUTH_REQUIRED'] });
});

test('Express 5.1 app: login, guarded route 200, no token 401, a wrong password 401 problem+json', () => {
  const result = node([], 'app.cjs', jwtApp, installs.get('express51')?.dir);
  expect(result).toEqual({ express: '5.1.0', wrong: [401, 'ERR_INVALID_CREDENTIAL'], ok: [200, 'u1'], anon: [401, 'ERR_AUTH_REQUIRED'] });
});

test('express-session + connect-redis app on sessionCookie + redisStore: the session lives in Redis, cookie 200, none 401', () => {
  expect(installedVersion('session', 'connect-redis').split('.')[0]).toBe('9');
  const result = node([], 'app.cjs', sessionApp, installs.get('session')?.dir) as { stored: number };
  expect(result.stored).toBeGreaterThan(0);
  expect(result).toEqual({ login: 200, cookieName: 'sid', stored: result.stored, ok: [200, 'u1'], anon: [401, 'ERR_AUTH_REQUIRED'] });
});

test('passport-jwt app: a token from req.auth.login() passes passport-jwt and the guards alike; no token 401 on both', () => {
  const result = node([], 'app.cjs', passportApp, installs.get('passport')?.dir);
  expect(result).toEqual({ legacy: [200, 'u1'], ok: [200, 'u1'], anon: [401, 'ERR_AUTH_REQUIRED'], legacyAnon: 401 });
});
