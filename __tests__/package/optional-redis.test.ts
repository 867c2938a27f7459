/**
 * `redis`, `connect-redis` and `pg` are optional peer dependencies: an app that never calls redisStore() or
 * postgresStore() installs none of them.
 * The package is built into a temporary project whose node_modules holds only express and the package's own
 * dependencies (symlinked), so neither can be found from it; it is then loaded and serves real requests.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(__dirname, '..', '..');
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  peerDependenciesMeta: Record<string, { optional?: boolean }>;
};
const OPTIONAL = ['redis', 'connect-redis', 'pg'];

let project: string;

beforeAll(() => {
  project = mkdtempSync(join(tmpdir(), 'ep-no-redis-'));
  const modules = join(project, 'node_modules');
  const pkg = join(modules, 'express-principal');
  mkdirSync(pkg, { recursive: true });
  // A private outDir: the shared dist/ of this tree is left to `npm run build`.
  execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json'), '--outDir', join(pkg, 'dist')], { cwd: root, timeout: 170_000 });
  cpSync(join(root, 'package.json'), join(pkg, 'package.json'));
  for (const name of ['express', ...Object.keys(manifest.dependencies)]) {
    symlinkSync(join(root, 'node_modules', name), join(modules, name), 'dir');
  }
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'ep-no-redis', version: '1.0.0', private: true }));
}, 180_000);

afterAll(() => {
  if (project) rmSync(project, { recursive: true, force: true });
});

jest.setTimeout(60_000);

function run(source: string): Record<string, unknown> {
  writeFileSync(join(project, 'check.cjs'), source);
  const out = execFileSync(process.execPath, ['check.cjs'], { cwd: project, encoding: 'utf8', timeout: 50_000 });
  return JSON.parse(out.trim().split('\n').pop() as string) as Record<string, unknown>;
}

const check = `
  const resolvable = (name) => { try { require.resolve(name, { paths: [require.resolve('express-principal')] }); return true; } catch { return false; } };
  const absent = ${JSON.stringify(OPTIONAL)}.filter((name) => !resolvable(name));
  const ep = require('express-principal');
  const express = require('express');
  const secret = 'k8Jd02mXq9Lp3Zr7Tv5Wy1Ab4Cd6Ef8Gh0Ij2Kl';
  const loadedOptional = () => Object.keys(require.cache).filter((f) => /[\\\\/]node_modules[\\\\/](redis|@redis|connect-redis|pg|pg-pool)[\\\\/]/.test(f));

  async function roundTrip(strategy) {
    const app = express();
    const auth = ep.principal({ strategy });
    app.use(auth);
    app.post('/login', async (req, res) => { res.json(await req.auth.login({ id: 'u1', roles: ['admin'] })); });
    app.get('/admin', ep.requireRole('admin'), (req, res) => { res.json({ id: req.principal.id }); });
    const server = await new Promise((ok) => { const s = app.listen(0, '127.0.0.1', () => ok(s)); });
    const base = 'http://127.0.0.1:' + server.address().port;
    try {
      const { token } = await (await fetch(base + '/login', { method: 'POST' })).json();
      const ok = await fetch(base + '/admin', { headers: { authorization: 'Bearer ' + token } });
      const anon = await fetch(base + '/admin');
      return { ok: [ok.status, (await ok.json()).id], anon: [anon.status, (await anon.json()).code] };
    } finally {
      server.close();
      await auth.close();
    }
  }

  function redisStoreRefusal() {
    // Shaped like a client for redisStore's own check; never called, since the store is refused first.
    const client = { isOpen: true, get() {}, sAdd() {} };
    try { ep.redisStore({ client }); return null; } catch (err) { return { type: err.constructor.name, message: err.message }; }
  }

  (async () => {
    const stateless = await roundTrip(ep.statelessJwt({ secret }));
    const stateful = await roundTrip(ep.statefulJwt({ secret, store: ep.memoryStore() }));
    console.log(JSON.stringify({ absent, stateless, stateful, loaded: loadedOptional(), refusal: redisStoreRefusal() }));
  })().catch((err) => { console.error(err); process.exit(1); });
`;

test('redis, connect-redis and pg are optional peer dependencies, not dependencies', () => {
  for (const name of OPTIONAL) {
    expect([name, manifest.dependencies[name]]).toEqual([name, undefined]);
    expect([name, manifest.peerDependenciesMeta[name]?.optional]).toEqual([name, true]);
  }
});

test("without redis, connect-redis or pg installed, require('express-principal') loads and statelessJwt / statefulJwt(memory) serve requests", () => {
  const result = run(check);
  expect(result.absent).toEqual(OPTIONAL);
  expect(result.stateless).toEqual({ ok: [200, 'u1'], anon: [401, 'ERR_AUTH_REQUIRED'] });
  expect(result.stateful).toEqual({ ok: [200, 'u1'], anon: [401, 'ERR_AUTH_REQUIRED'] });
  expect(result.loaded).toEqual([]);
  expect(result.refusal).toEqual({
    type: 'TypeError',
    message: 'express-principal: redisStore needs the packages `redis` and `connect-redis`: npm install redis connect-redis',
  });
});
