/**
 * The example app outside the browser: `npm run example` as a process (port, exit on an impossible pair),
 * and AUTH_STORAGE=redis for every strategy with no code change (in-process, plain fetch).
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { connectRedis, uniquePrefix, cleanupPrefix, redisUrl, keysWithPrefix, type TestRedisClient } from '../helpers/redis';
import { startExample } from './support';

jest.setTimeout(60_000);

const ROOT = join(__dirname, '..', '..');
const TS_NODE = join(ROOT, 'node_modules', '.bin', 'ts-node');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** Runs example-app/server.ts like `npm run example` does. */
function runServer(env: Record<string, string>) {
  const child = spawn(TS_NODE, ['--transpile-only', 'example-app/server.ts'], {
    cwd: ROOT,
    env: { ...process.env, AUTH_SECRET: '', AUTH_STRATEGY: '', AUTH_STORAGE: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const output = () => ({ stdout, stderr });
  const waitFor = (re: RegExp) => new Promise<void>((resolve, reject) => {
    const check = () => { if (re.test(stdout)) { cleanup(); resolve(); } };
    const early = () => { cleanup(); reject(new Error(`server exited before printing ${re}: ${stderr}`)); };
    const cleanup = () => { child.stdout.off('data', check); child.off('exit', early); };
    child.stdout.on('data', check);
    child.on('exit', early);
    check();
  });
  return { child, exited, output, waitFor };
}

describe('npm run example (example-app/server.ts)', () => {
  test('an impossible strategy/storage pair exits at once with code 1 and a one-line reason', async () => {
    const run = runServer({ AUTH_STRATEGY: 'stateful-jwt', AUTH_STORAGE: 'cookie', PORT: String(await freePort()) });
    expect(await run.exited).toBe(1);
    const lines = run.output().stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^example-app: .*'stateful-jwt' cannot use storage 'cookie'; valid storage: redis, memory$/);
    expect(run.output().stdout).not.toContain('open http://');
  });

  test('starts on PORT with the memory default and a random secret (warned), serves the page, stops on SIGTERM', async () => {
    const port = await freePort();
    const run = runServer({ PORT: String(port) });
    try {
      await run.waitFor(/open http:\/\/127\.0\.0\.1:\d+\//);
      expect(run.output().stdout).toContain(`session-cookie on memory storage — open http://127.0.0.1:${port}/`);
      expect(run.output().stderr).toMatch(/AUTH_SECRET is not set: .*sessions? .*ends? when the server restarts/);
      const config = await (await fetch(`http://127.0.0.1:${port}/api/config`)).json() as Record<string, unknown>;
      expect(config).toMatchObject({ strategy: 'session-cookie', storage: 'memory', secretSource: 'random', secure: false, cookieName: 'sid' });
      const page = await fetch(`http://127.0.0.1:${port}/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('id="login-form"');
    } finally {
      run.child.kill('SIGTERM');
    }
    expect(await run.exited).toBe(0);
  });
});

describe('AUTH_STORAGE=redis: every strategy, no code change', () => {
  let redis: TestRedisClient;
  const prefixes: string[] = [];
  beforeAll(async () => { redis = await connectRedis(); });
  afterAll(async () => {
    for (const p of prefixes) await cleanupPrefix(redis, p);
    await redis.close();
  });

  for (const strategy of ['stateless-jwt', 'stateful-jwt', 'session-cookie'] as const) {
    test(strategy, async () => {
      const prefix = uniquePrefix(`example-${strategy}`);
      prefixes.push(prefix);
      const running = await startExample({ AUTH_STRATEGY: strategy, AUTH_STORAGE: 'redis', REDIS_URL: redisUrl(), AUTH_PREFIX: prefix });
      try {
        const { base } = running;
        const cookieName = running.example.settings.cookieName;
        const login = async (username: string, password: string) => {
          const res = await fetch(`${base}/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username, password, token: true }) });
          expect(res.status).toBe(200);
          const set = res.headers.getSetCookie().find((c) => c.startsWith(`${cookieName}=`)) ?? '';
          const body = await res.json() as { token?: string };
          return { cookie: set.split(';')[0] ?? '', token: body.token };
        };
        const alice = await login('alice', 'alice-wonderland');
        expect(alice.cookie).toMatch(new RegExp(`^${cookieName}=.+`));
        if (strategy === 'session-cookie') expect(alice.token).toBeUndefined();
        else expect(alice.token).toMatch(/^ey/);
        const me = await fetch(`${base}/api/me`, { headers: { Cookie: alice.cookie } });
        expect(me.status).toBe(200);
        expect(((await me.json()) as { principal: { strategy: string } }).principal.strategy).toBe(strategy);
        // State lives in Redis under the example's prefix (revocation marks only, for stateless-jwt, once used).
        if (strategy !== 'stateless-jwt') expect((await keysWithPrefix(redis, prefix)).length).toBeGreaterThan(0);

        const bob = await login('bob', 'bob-builder');
        expect((await fetch(`${base}/admin`, { headers: { Cookie: bob.cookie, Accept: 'application/json' } })).status).toBe(403);
        if (bob.token) {
          const bearer = await fetch(`${base}/admin`, { headers: { Authorization: `Bearer ${bob.token}` } });
          expect(bearer.status).toBe(403);
          expect(bearer.headers.get('www-authenticate')).toContain('insufficient_scope');
        }

        const everywhere = await fetch(`${base}/api/logout-everywhere`, { method: 'POST', headers: { Cookie: alice.cookie } });
        expect(everywhere.status).toBe(200);
        const after = await fetch(`${base}/api/me`, { headers: { Cookie: alice.cookie } });
        expect(after.status).toBe(401);
        if (alice.token) expect((await fetch(`${base}/api/me`, { headers: { Authorization: `Bearer ${alice.token}` } })).status).toBe(401);
      } finally {
        await running.close();
      }
    });
  }
});
