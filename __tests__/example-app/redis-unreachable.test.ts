/**
 * `AUTH_STORAGE=redis` with no Redis to reach: the example must exit with a message naming the URL, within 5 s of
 * starting to connect (node-redis's connect() alone retries forever). Measured from the example's "connecting"
 * line, so the time ts-node takes to compile the app on a loaded machine does not count.
 */
import { spawn } from 'node:child_process';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { join } from 'node:path';

jest.setTimeout(120_000);

const ROOT = join(__dirname, '..', '..');
const TS_NODE = join(ROOT, 'node_modules', '.bin', 'ts-node');

/** A port nothing listens on: bound, then released. */
function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createHttpServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

interface Run { code: number | null; stderr: string; stdout: string; msFromConnecting: number }

function runExample(redisUrl: string): Promise<Run> {
  const child = spawn(TS_NODE, ['--transpile-only', 'example-app/server.ts'], {
    cwd: ROOT,
    env: { ...process.env, AUTH_STRATEGY: 'stateful-jwt', AUTH_STORAGE: 'redis', REDIS_URL: redisUrl, AUTH_SECRET: '', PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let connectingAt: number | null = null;
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    if (connectingAt === null && stdout.includes('connecting to Redis')) connectingAt = Date.now();
  });
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  // A hang is the failure under test: end it well after the 5 s so the assertion, not jest, reports it.
  const killer = setTimeout(() => child.kill('SIGKILL'), 90_000);
  return new Promise((resolve) => child.on('exit', (code) => {
    clearTimeout(killer);
    resolve({ code, stderr, stdout, msFromConnecting: connectingAt === null ? Infinity : Date.now() - connectingAt });
  }));
}

describe('example app, AUTH_STORAGE=redis and Redis unreachable', () => {
  let silent: Server;
  const accepted: Socket[] = [];
  beforeAll(async () => {
    // Accepts the TCP connection and never answers the handshake.
    silent = createTcpServer((socket) => { accepted.push(socket); });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    for (const socket of accepted) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));
  });

  it('exits non-zero within 5 s naming the URL, for a closed port and for a server that never answers', async () => {
    const port = await closedPort();
    const silentPort = (silent.address() as AddressInfo).port;
    const [refused, mute] = await Promise.all([
      runExample(`redis://:s3cret-pw@127.0.0.1:${port}`),
      runExample(`redis://127.0.0.1:${silentPort}`),
    ]);
    for (const run of [refused, mute]) {
      expect(run.code).not.toBe(0);
      expect(run.code).not.toBeNull();
      expect(run.msFromConnecting).toBeLessThan(5_000);
      expect(run.stdout).not.toMatch(/open http/);
    }
    expect(refused.stderr).toContain(`example-app: cannot connect to Redis at redis://:***@127.0.0.1:${port}`);
    expect(refused.stderr).toMatch(/ECONNREFUSED/);
    expect(`${refused.stderr}${refused.stdout}`).not.toContain('s3cret-pw');
    expect(mute.stderr).toContain(`example-app: cannot connect to Redis at redis://127.0.0.1:${silentPort}`);
  });
});
