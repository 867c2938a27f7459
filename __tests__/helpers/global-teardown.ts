/** Jest globalTeardown: stop the redis-server that global-setup.ts started, if it started one. */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { pingPort, rawCommand, waitFor } from './redis-server';
import type { StartedRedis } from './global-setup';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export default async function globalTeardown(): Promise<void> {
  const started: StartedRedis | undefined = globalThis.__EP_TEST_REDIS__;
  if (!started) return;
  globalThis.__EP_TEST_REDIS__ = undefined;

  const pid = existsSync(started.pidFile) ? Number(readFileSync(started.pidFile, 'utf8').trim()) : NaN;
  try {
    await rawCommand(started.port, ['SHUTDOWN', 'NOSAVE'], 2_000);
  } catch {
    /* the server closes the connection without a reply: expected */
  }
  try {
    await waitFor(
      async () => !(await pingPort(started.port, '127.0.0.1', 300)) && !(Number.isInteger(pid) && alive(pid)),
      () => 'timeout',
      5_000,
    );
  } catch {
    if (Number.isInteger(pid) && alive(pid)) process.kill(pid, 'SIGKILL');
  }
  rmSync(started.dir, { recursive: true, force: true });
}
