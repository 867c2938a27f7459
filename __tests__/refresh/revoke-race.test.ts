/**
 * `revokeAll` while refreshes of the subject's families are in flight, through real HTTP: once `revokeAll` has
 * resolved, no refresh sent afterwards succeeds and no access token obtained from those families (including the
 * ones handed out by refreshes that were in flight) is accepted. On Redis and on memoryStore, on one instance and
 * across two sharing the store (the second one serves the refreshes, the first one calls revokeAll).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { memoryStore, redisStore, statelessJwt, type StateStore } from '../../lib';
import { cleanupPrefix, connectRedis, uniquePrefix, type TestRedisClient } from '../helpers/redis';
import { SECRET, freshApp, waitFor, type FreshApp } from '../freshness/support';

const TRIALS = 30;

let client: TestRedisClient;
const prefix = uniquePrefix('refresh-revoke-race');
const servers: Server[] = [];
const apps: FreshApp[] = [];

beforeAll(async () => { client = await connectRedis(); });
afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  for (const { auth } of apps) await auth.close();
  await cleanupPrefix(client, prefix);
  await client.close();
});

interface Instance { url: string; fa: FreshApp }

async function instance(store: StateStore): Promise<Instance> {
  const fa = freshApp({ strategy: statelessJwt({ secret: SECRET, ttl: '5m', store, refresh: { store, graceWindow: '300ms' } }) });
  apps.push(fa);
  const server = createServer(fa.app);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, fa };
}

/** A generous store timeout: a busy machine must not turn a refresh into a 503 (that is not what is tested here). */
const redis = (p: string) => redisStore({ client, prefix: p, timeout: '5s' });

/** `revoker` calls revokeAll and checks access tokens; `refresher` serves every refresh. */
interface Pair { revoker: Instance; refresher: Instance }

/** Resolves after `n` turns of the event loop: varies where revokeAll lands inside a refresh. */
const turns = (n: number) => new Promise<void>((resolve) => {
  const step = (left: number) => (left === 0 ? resolve() : setImmediate(() => step(left - 1)));
  step(n);
});

interface Trial {
  access: string[];
  refresh: string[];
  /** Refreshes sent before revokeAll was called and answered after: the race this suite is about. */
  inFlight: number;
  /** Refreshes sent after revokeAll resolved that did not answer 401, and chains that never stopped. */
  violations: string[];
}

/** Two devices of one subject refresh in a loop; revokeAll lands while refreshes are in flight. */
async function trial(pair: Pair, subject: string, seed: number): Promise<Trial> {
  const out: Trial = { access: [], refresh: [], inFlight: 0, violations: [] };
  let called = false;
  let resolved = false;
  let rotations = 0;
  let startRevoke: () => void = () => {};
  const rotated = new Promise<void>((resolve) => { startRevoke = resolve; });
  const threshold = 1 + (seed % 4);

  async function device(): Promise<void> {
    const login = await request(pair.revoker.url).post('/login').send({ id: subject }).expect(200);
    out.access.push(login.body.token as string);
    let token = login.body.refreshToken as string;
    out.refresh.push(token);
    // Ends at the first 401, or at the first 200 to a refresh sent after revokeAll resolved (a violation).
    for (;;) {
      const sentBeforeRevokeAll = !called;
      const sentAfterRevokeAll = resolved;
      const res = await request(pair.refresher.url).post('/auth/refresh').send({ refreshToken: token });
      if (sentBeforeRevokeAll && called) out.inFlight += 1;
      if (res.status === 200) {
        out.access.push(res.body.token as string);
        out.refresh.push(res.body.refreshToken as string);
        token = res.body.refreshToken as string;
        if (sentAfterRevokeAll) {
          out.violations.push(`${subject}: a refresh sent after revokeAll resolved answered 200`);
          return;
        }
        rotations += 1;
        if (rotations >= threshold) startRevoke();
        continue;
      }
      if (res.status !== 401) out.violations.push(`${subject}: refresh answered ${res.status} ${JSON.stringify(res.body)}`);
      return;
    }
  }

  const devices = Promise.all([device(), device()]);
  await rotated;
  await turns(seed % 5);
  called = true;
  try {
    await pair.revoker.fa.auth.revokeAll(subject);
  } finally {
    resolved = true; // also stops the loops if revokeAll failed
  }
  await devices;
  return out;
}

/** Every access token is refused (401 ERR_CREDENTIAL_REVOKED) by `at`; every refresh token gets 401. */
async function refusedEverywhere(pair: Pair, subject: string, t: Trial): Promise<string[]> {
  const accepted: string[] = [];
  const checkAccess = async (at: Instance, where: string) => {
    await Promise.all(t.access.map(async (token, i) => {
      const me = await request(at.url).get('/me').set('Authorization', `Bearer ${token}`);
      if (me.status !== 401 || me.body.code !== 'ERR_CREDENTIAL_REVOKED') accepted.push(`${subject}: access token #${i} answered ${me.status} on the ${where}`);
    }));
  };
  await checkAccess(pair.revoker, 'instance that called revokeAll');
  if (pair.refresher !== pair.revoker) {
    // The other instance follows the revocation log (maxRevocationLag); wait until it provably holds the mark.
    const first = t.access[0] as string;
    await waitFor(async () => (await request(pair.refresher.url).get('/me').set('Authorization', `Bearer ${first}`)).status === 401);
    await checkAccess(pair.refresher, 'other instance');
  }
  await Promise.all(t.refresh.map(async (token, i) => {
    const res = await request(pair.refresher.url).post('/auth/refresh').send({ refreshToken: token });
    if (res.status !== 401) accepted.push(`${subject}: refresh token #${i} answered ${res.status}`);
  }));
  return accepted;
}

async function runTrials(pair: Pair, label: string): Promise<void> {
  const failures: string[] = [];
  let inFlight = 0;
  for (let i = 0; i < TRIALS; i += 1) {
    const subject = `${label}-${i}`;
    const t = await trial(pair, subject, i);
    inFlight += t.inFlight;
    failures.push(...t.violations, ...(await refusedEverywhere(pair, subject, t)));
  }
  expect(failures).toEqual([]);
  expect(inFlight).toBeGreaterThan(0); // the race was exercised
}

describe('revokeAll against refreshes in flight', () => {
  test('Redis, one instance', async () => {
    const a = await instance(redis(`${prefix}one:`));
    await runTrials({ revoker: a, refresher: a }, 'redis-one');
  }, 60_000);

  test('Redis, two instances (refreshes on the second)', async () => {
    const a = await instance(redis(`${prefix}two:`));
    const b = await instance(redis(`${prefix}two:`));
    await runTrials({ revoker: a, refresher: b }, 'redis-two');
  }, 60_000);

  test('memoryStore, one instance', async () => {
    const a = await instance(memoryStore({ prefix: 'race-one:' }));
    await runTrials({ revoker: a, refresher: a }, 'memory-one');
  }, 60_000);

  test('memoryStore, two instances sharing it (refreshes on the second)', async () => {
    const store = memoryStore({ prefix: 'race-two:' });
    const a = await instance(store);
    const b = await instance(store);
    await runTrials({ revoker: a, refresher: b }, 'memory-two');
  }, 60_000);
});
