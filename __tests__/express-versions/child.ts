/** Forks app-process.ts and talks to it over IPC (see there). */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

/** [label, module the app requires, its major version]: `express4` is the npm alias devDependency of Express 4. */
export const EXPRESS_VERSIONS: [string, string, number][] = [['Express 4', 'express4', 4], ['Express 5', 'express', 5]];

export interface Stats { unhandledRejections: number; uncaughtExceptions: number }

export interface AppChild {
  readonly process: ChildProcess;
  /** The first message that has `key` (e.g. 'ports'); rejects if the child reports `fatal` or exits first. */
  message<T>(key: string): Promise<T>;
  stats(): Promise<Stats>;
  /** The major version of the Express the app runs on. */
  expressMajor(): Promise<number>;
  stop(): Promise<void>;
}

export function forkApp(env: Record<string, string>): AppChild {
  const child = fork(join(__dirname, 'app-process.ts'), [], {
    execArgv: ['-r', 'ts-node/register/transpile-only'],
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const message = <T>(key: string): Promise<T> => new Promise((resolve, reject) => {
    const onMessage = (m: Record<string, unknown>) => {
      if (typeof m.fatal === 'string') done(() => reject(new Error(`app process failed: ${m.fatal as string}`)));
      else if (key in m) done(() => resolve(m[key] as T));
    };
    const onExit = (code: number | null, signal: string | null) =>
      done(() => reject(new Error(`app process exited (code ${String(code)}, signal ${String(signal)})`)));
    const done = (settle: () => void) => { child.off('message', onMessage); child.off('exit', onExit); settle(); };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
  return {
    process: child,
    message,
    async stats() {
      const answer = message<Stats>('stats');
      child.send('stats');
      return answer;
    },
    async expressMajor() {
      const answer = message<string>('version');
      child.send('version');
      return Number((await answer).split('.')[0]);
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.disconnect();
      await exited;
    },
  };
}
