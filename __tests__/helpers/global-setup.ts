/**
 * Jest globalSetup: make sure a Redis answers at REDIS_URL.
 *
 * 1. If REDIS_URL (default redis://127.0.0.1:6379) answers PING, use it.
 * 2. Otherwise, if redis-server is on PATH, start a daemonized one on a free
 *    loopback port in a temp dir for this run and point REDIS_URL at it
 *    (workers inherit process.env). global-teardown.ts stops it.
 * 3. Otherwise fail with one line saying how to get Redis.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'redis';
import { freePort, pingPort, waitFor } from './redis-server';
import { DEFAULT_REDIS_URL } from './redis';

export interface StartedRedis {
  port: number;
  dir: string;
  pidFile: string;
}

declare global {
   
  var __EP_TEST_REDIS__: StartedRedis | undefined;
}

async function answersPing(url: string): Promise<boolean> {
  const client = createClient({
    url,
    socket: { connectTimeout: 1_500, reconnectStrategy: false },
  });
  client.on('error', () => {
    /* reported through connect() */
  });
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    if (client.isOpen) client.destroy();
  }
}

function onPath(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

export default async function globalSetup(): Promise<void> {
  const url = process.env.REDIS_URL || DEFAULT_REDIS_URL;
  if (await answersPing(url)) {
    process.env.REDIS_URL = url;
    return;
  }

  if (!onPath('redis-server')) {
    throw new Error(
      `No Redis answers at ${url} and redis-server is not on PATH: install it (apt-get install -y redis-server), start one (redis-server --daemonize yes --port 6379 --save "" --appendonly no), or set REDIS_URL.`,
    );
  }

  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'ep-jest-redis-'));
  const pidFile = join(dir, 'redis.pid');
  const res = spawnSync(
    'redis-server',
    [
      '--port', String(port),
      '--bind', '127.0.0.1',
      '--daemonize', 'yes',
      '--dir', dir,
      '--pidfile', pidFile,
      '--logfile', join(dir, 'redis.log'),
      '--save', '',
      '--appendonly', 'no',
    ],
    { encoding: 'utf8' },
  );
  if (res.status !== 0) {
    throw new Error(`could not start redis-server for the tests: ${res.stderr || res.error?.message || 'unknown error'}`);
  }
  globalThis.__EP_TEST_REDIS__ = { port, dir, pidFile };
  await waitFor(
    () => pingPort(port),
    () => `redis-server started by jest global setup on port ${port} did not answer PING (log: ${dir}/redis.log)`,
  );
  process.env.REDIS_URL = `redis://127.0.0.1:${port}`;
   
  console.log(`\n[global-setup] no Redis at ${url}; started redis-server for this run at ${process.env.REDIS_URL}`);
}
