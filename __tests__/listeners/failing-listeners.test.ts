/**
 * A listener passed to auth.on() that throws, is an async function that throws, or returns a rejected promise:
 * on the synchronous path (a store-less JWT), the asynchronous one (a revocation store) and the multi-strategy
 * one, every answer is the one an app without that listener gives, the process sees no unhandled rejection
 * and no uncaught exception, and each failure is reported once: to the app's `error` listener, or as a
 * process warning with code ERR_LISTENER_FAILED when it has none. The app runs in its own process
 * (server.ts): jest's sandbox never sees process-level events.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import request from 'supertest';
import { waitFor } from '../freshness/support';
import { FAILING_EVENTS, FLAVOURS, PIPELINES, REPORTING, variantName, type Report, type Stats } from './variants';

jest.setTimeout(90_000);

let child: ChildProcess;
let base = '';

beforeAll(async () => {
  child = fork(join(__dirname, 'server.ts'), [], {
    execArgv: ['--no-warnings', '-r', 'ts-node/register/transpile-only'],
    env: { ...process.env, TS_NODE_TRANSPILE_ONLY: '1' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`the app process exited (${String(code)}) before listening`)));
  });
  base = `http://127.0.0.1:${port}`;
}, 90_000);

afterAll(async () => {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
});

async function stats(): Promise<Stats> {
  return (await request(base).get('/stats').timeout(10_000).expect(200)).body as Stats;
}

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

/** One user's round: every FAILING_EVENTS listener fires, and each answer is checked exactly. */
async function round(variant: string): Promise<void> {
  const path = (p: string) => `/v/${variant}${p}`;
  const login = await request(base).post(path('/login')).send({}).timeout(10_000);
  expect([login.status, typeof login.body.token]).toEqual([200, 'string']);
  const token = login.body.token as string;
  const me = await request(base).get(path('/me')).set(bearer(token)).timeout(10_000);
  expect([me.status, me.body]).toEqual([200, { id: 'u' }]);
  const forged = await request(base).get(path('/me')).set(bearer(`${token.slice(0, -4)}AAAA`)).timeout(10_000);
  expect([forged.status, forged.body.code]).toEqual([401, 'ERR_INVALID_CREDENTIAL']);
  const logout = await request(base).post(path('/logout')).set(bearer(token)).timeout(10_000);
  expect(logout.status).toBe(204);
}

/** authenticated fires for /me and /logout; the others once each. */
const EXPECTED: Record<(typeof FAILING_EVENTS)[number], number> = { authenticated: 2, rejected: 1, login: 1, logout: 1 };

function reportsOf(s: Stats, variant: string, reporting: string): Report[] {
  return reporting === 'error-event' ? s.errorEvents[variant] ?? [] : s.warnings.filter((w) => w.cause.startsWith(`${variant}:`));
}

test('the app process counts unhandled rejections and uncaught exceptions (so 0 below means 0)', async () => {
  await request(base).post('/selftest').timeout(10_000).expect(204);
  await waitFor(async () => { const s = await stats(); return s.unhandledRejections === 1 && s.uncaughtExceptions === 1; }, 10_000);
});

describe.each(FLAVOURS)('a listener that %s', (flavour) => {
  test.each(PIPELINES)('%s path: unchanged answers, nothing crashes, every failure reported', async (pipeline) => {
    const before = await stats();
    for (const reporting of REPORTING) await round(variantName(flavour, pipeline, reporting));
    const total = Object.values(EXPECTED).reduce((a, b) => a + b, 0);
    // Failures of promise-returning listeners are reported once their promise settles: poll for them.
    await waitFor(async () => {
      const s = await stats();
      return REPORTING.every((r) => reportsOf(s, variantName(flavour, pipeline, r), r).length >= total);
    }, 10_000);
    const after = await stats();
    expect(after.unhandledRejections - before.unhandledRejections).toBe(0);
    expect(after.uncaughtExceptions - before.uncaughtExceptions).toBe(0);
    for (const reporting of REPORTING) {
      const variant = variantName(flavour, pipeline, reporting);
      const reports = reportsOf(after, variant, reporting);
      for (const event of FAILING_EVENTS) {
        const expected = Array.from({ length: EXPECTED[event] }, () => ({ event, code: 'ERR_LISTENER_FAILED', cause: `${variant}:${event}` }));
        expect(reports.filter((r) => r.event === event)).toEqual(expected);
      }
      expect(reports).toHaveLength(total);
    }
    // An app with an `error` listener gets no warning.
    expect(after.warnings.filter((w) => w.cause.startsWith(`${variantName(flavour, pipeline, 'error-event')}:`))).toEqual([]);
    expect(child.exitCode).toBeNull();
  });
});
