/**
 * A private PostgreSQL for fault tests: initdb in a temporary folder, its own loopback port, stopped and started
 * by the test. initdb and postgres refuse to run as root, so as root they run as the `postgres` user (the
 * folder is handed to it). Readiness is polled with pg_isready, never waited for by the clock.
 */
import { execFile, execFileSync } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './redis-server';

const run = promisify(execFile);

export interface TestPostgresServer {
  readonly port: number;
  readonly url: string;
  readonly running: boolean;
  start(): Promise<void>;
  /** `immediate`: as if the server crashed (connections cut, no checkpoint); committed data survives. */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  destroy(): Promise<void>;
}

function asOwner(dir: string): (cmd: string, args: string[]) => Promise<unknown> {
  if (userInfo().uid !== 0) return (cmd, args) => run(cmd, args, { timeout: 120_000 });
  const { uid, gid } = ownerIds();
  chownSync(dir, uid, gid);
  return (cmd, args) => run('runuser', ['-u', 'postgres', '--', cmd, ...args], { timeout: 120_000, cwd: dir });
}

function ownerIds(): { uid: number; gid: number } {
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

export async function startPostgresServer(): Promise<TestPostgresServer> {
  const dir = mkdtempSync('/tmp/ep-pg-');
  const data = join(dir, 'data');
  const as = asOwner(dir);
  const port = await freePort();
  await as('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
  const options = `-p ${port} -c listen_addresses=127.0.0.1 -k ${dir} -c fsync=off -c max_connections=40`;
  let running = false;
  const server: TestPostgresServer = {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    get running() { return running; },
    async start() {
      await as('pg_ctl', ['-D', data, '-o', options, '-l', join(dir, 'log'), '-w', '-t', '60', 'start']);
      running = true;
    },
    async stop(mode = 'fast') {
      await as('pg_ctl', ['-D', data, '-m', mode, '-w', '-t', '60', 'stop']);
      running = false;
    },
    async destroy() {
      if (running) await server.stop('immediate').catch(() => { /* already down */ });
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}
