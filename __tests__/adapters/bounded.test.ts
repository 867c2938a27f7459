/**
 * The store-call deadline (adapters/bounded.ts): one timer per runner enforces every pending call's own deadline.
 * Real promises only; a call that "never answers" is a promise nobody resolves (what a frozen Redis gives node-redis).
 */
import { boundedRunner } from '../../adapters/bounded';
import { StoreUnavailableError } from '../../lib/errors';

const TIMEOUT = 200;
const never = () => new Promise<string>(() => undefined);
const available = () => null;

async function rejection(p: Promise<unknown>): Promise<{ err: unknown; at: number }> {
  try {
    await p;
  } catch (err) {
    return { err, at: Date.now() };
  }
  throw new Error('expected a rejection');
}

test('a call that never answers fails with ERR_STORE_UNAVAILABLE, not before its deadline; answers in time pass through', async () => {
  const run = boundedRunner(TIMEOUT, available, 3);
  const started = Date.now();
  const hung = rejection(run(never));
  await expect(run(async () => 'v')).resolves.toBe('v');
  const { err, at } = await hung;
  expect(err).toBeInstanceOf(StoreUnavailableError);
  expect((err as StoreUnavailableError).code).toBe('ERR_STORE_UNAVAILABLE');
  expect((err as StoreUnavailableError).message).toBeDefined();
  expect(at - started).toBeGreaterThanOrEqual(TIMEOUT - 5);
});

test('each pending call keeps its own deadline: a later call is not failed by an earlier one’s', async () => {
  const run = boundedRunner(TIMEOUT, available, 1);
  const firstAt = Date.now();
  const first = rejection(run(never));
  await new Promise((r) => setTimeout(r, TIMEOUT / 2));
  const secondAt = Date.now();
  const second = rejection(run(never));
  const a = await first;
  // The second call is still pending when the first one's deadline fires.
  let secondDone = false;
  void second.then(() => { secondDone = true; });
  await Promise.resolve();
  expect(secondDone).toBe(false);
  const b = await second;
  expect(a.at - firstAt).toBeGreaterThanOrEqual(TIMEOUT - 5);
  expect(b.at - secondAt).toBeGreaterThanOrEqual(TIMEOUT - 5);
  expect(b.err).toBeInstanceOf(StoreUnavailableError);
});

test('after an idle spell a new hung call still gets a deadline (the shared timer re-arms)', async () => {
  const run = boundedRunner(TIMEOUT, available, 1);
  await expect(run(async () => 1)).resolves.toBe(1);
  await new Promise((r) => setTimeout(r, TIMEOUT * 2));
  const at = Date.now();
  const { err, at: failedAt } = await rejection(run(never));
  expect(err).toBeInstanceOf(StoreUnavailableError);
  expect(failedAt - at).toBeGreaterThanOrEqual(TIMEOUT - 5);
});

test('a client that throws instead of rejecting, or cannot take commands, fails as unavailable', async () => {
  const run = boundedRunner(TIMEOUT, available, 1);
  const thrown = await rejection(run(() => { throw new Error('socket closed'); }));
  expect(thrown.err).toBeInstanceOf(StoreUnavailableError);
  const rejected = await rejection(run(() => Promise.reject(new Error('READONLY'))));
  expect(rejected.err).toBeInstanceOf(StoreUnavailableError);
  const offline = boundedRunner(TIMEOUT, () => 'the Redis client is reconnecting', 1);
  let called = false;
  const refused = await rejection(offline(async () => { called = true; return 1; }));
  expect(refused.err).toBeInstanceOf(StoreUnavailableError);
  expect(called).toBe(false);
});
