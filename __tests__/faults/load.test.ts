/**
 * Load with faults (issue 3): ~50 concurrent clients over keep-alive http.Agent on loopback log in,
 * call a protected route, log out and revoke, across all three strategies, for a fixed number of
 * requests, while the test's own Redis (appendonly, appendfsync always) is killed and restarted once
 * in the middle. Every credential's state is tracked on the client side. Afterwards: no 200 for a
 * credential known to be logged out / revoked before the request was sent, no 200 without a
 * credential, no unhandled rejection, and every session acknowledged before the fault is readable.
 */
import http from 'node:http';
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createClient } from 'redis';
import { startRedisServer, type TestRedisServer } from '../helpers/redis-server';
import { eventually } from '../adapters/contract';
import { STRATEGY_KINDS, type StrategyKind } from '../adapters/test-app';

jest.setTimeout(90_000);

const TOTAL_REQUESTS = 3_000;
const CLIENTS = 50;
const FAULT_AT = Math.floor(TOTAL_REQUESTS / 2);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Answer { status: number; body: unknown; headers: http.IncomingHttpHeaders; sentAt: number; doneAt: number }

const agent = new http.Agent({ keepAlive: true, maxSockets: 128 });

function send(port: number, method: string, path: string, headers: Record<string, string> = {}, body?: unknown): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const sentAt = Date.now();
    const req = http.request({
      host: '127.0.0.1', port, method, path, agent,
      headers: { ...headers, ...(payload ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) } : {}) },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown = text;
        try { parsed = text ? JSON.parse(text) : null; } catch { /* keep text */ }
        resolve({ status: res.statusCode ?? 0, body: parsed, headers: res.headers, sentAt, doneAt: Date.now() });
      });
      res.on('error', reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error('request timed out (hung)')));
    req.on('error', reject);
    if (payload) req.write(payload);
    req.end();
  });
}

type CredState = 'live' | 'dead' | 'unknown';
interface Credential {
  kind: StrategyKind;
  subject: string;
  headers: Record<string, string>;
  ackAt: number;
  state: CredState;
  deadAt: number;
  /** What ended it, for the report: 'logout' | 'revokeAll'. */
  deadBy?: string;
}

describe('load with a Redis restart in the middle', () => {
  let server: TestRedisServer;
  let app: ChildProcess | undefined;
  const inbox: Record<string, unknown>[] = [];

  beforeAll(async () => {
    server = await startRedisServer({ appendonly: true });
  }, 30_000);

  afterAll(async () => {
    agent.destroy();
    if (app && app.exitCode === null) {
      const exited = new Promise((r) => app?.once('exit', r));
      app.kill('SIGTERM');
      await exited;
    }
    await server?.destroy();
  });

  /** Asks the app process for its counters. */
  async function appStats(): Promise<{ unhandledRejections: number; uncaughtExceptions: number }> {
    const before = inbox.length;
    app?.send('stats');
    await eventually(() => inbox.slice(before).some((m) => 'stats' in m), 'stats from the app process', 10_000);
    return inbox.slice(before).find((m) => 'stats' in m)?.stats as { unhandledRejections: number; uncaughtExceptions: number };
  }

  it('never lets a dead or missing credential through, and loses no acknowledged session', async () => {
    // The app (all three strategies on the test's Redis) runs in its own process: see load-server.ts.
    app = fork(join(__dirname, 'load-server.ts'), [], {
      execArgv: ['-r', 'ts-node/register/transpile-only'],
      env: { ...process.env, REDIS_URL: server.url, TS_NODE_TRANSPILE_ONLY: '1' },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    app.on('message', (m) => inbox.push(m as Record<string, unknown>));
    await eventually(() => inbox.some((m) => 'ports' in m || 'fatal' in m), 'the app process listens', 60_000, 50);
    const ready = inbox.find((m) => 'ports' in m || 'fatal' in m) as { ports?: Record<StrategyKind, number>; fatal?: string };
    if (!ready.ports) throw new Error(`app process failed: ${ready.fatal}`);
    const ports = new Map<StrategyKind, number>(Object.entries(ready.ports) as [StrategyKind, number][]);
    // Self-test: a deliberate unhandled rejection in the app process is counted (so 0 later means 0).
    app.send('selftest');
    await eventually(async () => (await appStats()).unhandledRejections === 1, 'the app process counts unhandled rejections', 10_000, 50);

    const counts = {
      requests: 0, byStatus: {} as Record<string, number>, networkErrors: 0, maxLatencyMs: 0,
      logins: 0, logouts: 0, revokeAlls: 0,
      deadAccepted: 0, anonAccepted: 0, wrongPrincipal: 0, unexpectedStatus: 0,
      deadChecks: 0, anonChecks: 0, unavailableDuringFault: 0, logout204WithStoreDown: 0,
      deadAcceptedWhere: {} as Record<string, number>,
    };
    const creds: Credential[] = [];
    let budget = TOTAL_REQUESTS;
    let faultStartedAt = Number.POSITIVE_INFINITY;
    let faultEndedAt = Number.POSITIVE_INFINITY;
    let faultDone: Promise<void> | null = null;

    const tally = (a: Answer) => {
      counts.requests += 1;
      counts.byStatus[a.status] = (counts.byStatus[a.status] ?? 0) + 1;
      counts.maxLatencyMs = Math.max(counts.maxLatencyMs, a.doneAt - a.sentAt);
      if (![200, 204, 401, 503].includes(a.status)) counts.unexpectedStatus += 1;
      if (a.status === 503 && a.sentAt >= faultStartedAt) counts.unavailableDuringFault += 1;
    };

    /** One budgeted request; null when the budget is spent or the connection failed. */
    async function call(kind: StrategyKind, method: string, path: string, headers?: Record<string, string>, body?: unknown): Promise<Answer | null> {
      if (budget <= 0) return null;
      budget -= 1;
      if (faultDone === null && TOTAL_REQUESTS - budget >= FAULT_AT) {
        faultStartedAt = Date.now();
        // Down long enough to matter: until 300 answers came back 503 (or a quarter of the budget is left).
        const downUntil = async () => { while (counts.unavailableDuringFault < 300 && budget > TOTAL_REQUESTS / 4) await sleep(10); };
        faultDone = server.kill().then(downUntil).then(() => server.start()).then(() => { faultEndedAt = Date.now(); });
      }
      try {
        const a = await send(ports.get(kind) as number, method, path, headers, body);
        tally(a);
        if (a.status === 503) await sleep(20); // back off a little, as a client honouring Retry-After would
        return a;
      } catch {
        counts.networkErrors += 1;
        return null;
      }
    }

    function credentialOf(kind: StrategyKind, a: Answer): Record<string, string> {
      if (kind !== 'session-cookie') return { authorization: `Bearer ${(a.body as { token: string }).token}` };
      const sid = (a.headers['set-cookie'] ?? []).find((c) => c.startsWith('sid='));
      if (!sid) throw new Error('no sid cookie on an acknowledged login');
      return { cookie: sid.split(';')[0] as string };
    }

    async function check(cred: Credential): Promise<void> {
      const a = await call(cred.kind, 'GET', '/me', cred.headers);
      if (!a) return;
      if (cred.state === 'dead' && a.sentAt > cred.deadAt) {
        counts.deadChecks += 1;
        if (a.status === 200) {
          counts.deadAccepted += 1;
          const where = `${cred.kind}/${cred.deadBy}/${a.sentAt >= faultStartedAt && a.sentAt <= faultEndedAt + 2_000 ? 'near-fault' : 'calm'}`;
          counts.deadAcceptedWhere[where] = (counts.deadAcceptedWhere[where] ?? 0) + 1;
        }
      }
      if (a.status === 200 && (a.body as { id?: unknown }).id !== cred.subject) counts.wrongPrincipal += 1;
    }

    async function runClient(n: number): Promise<void> {
      const kind = STRATEGY_KINDS[n % STRATEGY_KINDS.length] as StrategyKind;
      const subject = `load-user-${n}`;
      const mine: Credential[] = [];
      // A keeper: logged in first, under its own subject, never logged out or revoked; it must survive the fault.
      let keeper: Credential | null = null;
      while (keeper === null && budget > 0) {
        const a = await call(kind, 'POST', '/login', {}, { id: `${subject}-keeper` });
        if (a?.status === 200) {
          keeper = { kind, subject: `${subject}-keeper`, headers: credentialOf(kind, a), ackAt: a.doneAt, state: 'live', deadAt: 0 };
          creds.push(keeper);
          counts.logins += 1;
        }
      }
      for (let round = 0; budget > 0; round += 1) {
        if (keeper && round % 2 === 0) await check(keeper);
        for (let i = 0; i < 2; i += 1) {
          const a = await call(kind, 'POST', '/login', {}, { id: subject });
          if (a?.status === 200) {
            const cred: Credential = { kind, subject, headers: credentialOf(kind, a), ackAt: a.doneAt, state: 'live', deadAt: 0 };
            mine.push(cred);
            creds.push(cred);
            counts.logins += 1;
          }
        }
        // protected calls with every credential this client ever held (live and dead)
        for (const cred of mine.slice(-6)) await check(cred);
        const anon = await call(kind, 'GET', '/me');
        if (anon) {
          counts.anonChecks += 1;
          if (anon.status === 200) counts.anonAccepted += 1;
        }
        const live = mine.filter((c) => c.state === 'live');
        if (round % 3 === 2) {
          const a = await call(kind, 'POST', `/revoke-all/${subject}`);
          const affected = mine.filter((c) => c.state !== 'dead' && a !== null && c.ackAt < a.sentAt);
          if (a?.status === 204) {
            counts.revokeAlls += 1;
            for (const c of affected) { c.state = 'dead'; c.deadAt = a.doneAt; c.deadBy = 'revokeAll'; }
          } else {
            for (const c of affected) c.state = 'unknown';
          }
        } else if (live.length > 0) {
          const victim = live[round % live.length] as Credential;
          const a = await call(kind, 'POST', '/logout', victim.headers);
          if (a?.status === 204) {
            counts.logouts += 1;
            // 204 although the store could not even identify the caller: the lib bug in BUGS.md.
            if (a.headers['x-auth-error'] === 'ERR_STORE_UNAVAILABLE') counts.logout204WithStoreDown += 1;
            victim.state = 'dead';
            victim.deadAt = a.doneAt;
            victim.deadBy = 'logout';
          } else {
            victim.state = 'unknown';
          }
        }
      }
    }

    const started = Date.now();
    await Promise.all(Array.from({ length: CLIENTS }, (_, n) => runClient(n)));
    expect(faultDone).not.toBeNull();
    await faultDone;

    // ---- after the fault: every session acknowledged before it (and still live) is readable ----
    const verify = async (cred: Credential): Promise<number> => {
      const deadline = Date.now() + 20_000;
      for (;;) {
        const a = await send(ports.get(cred.kind) as number, 'GET', '/me', cred.headers);
        if (a.status !== 503 || Date.now() > deadline) return a.status;
        await sleep(50);
      }
    };
    const beforeFault = creds.filter((c) => c.state === 'live' && c.ackAt < faultStartedAt);
    const afterFault = creds.filter((c) => c.state === 'live' && c.ackAt >= faultStartedAt);
    const dead = creds.filter((c) => c.state === 'dead');
    let lostBefore = 0;
    let lostAfter = 0;
    let deadAcceptedAfter = 0;
    for (const c of beforeFault) if ((await verify(c)) !== 200) lostBefore += 1;
    for (const c of afterFault) if ((await verify(c)) !== 200) lostAfter += 1;
    for (const c of dead) if ((await verify(c)) === 200) deadAcceptedAfter += 1;

    const finalStats = await appStats();
    // Nothing the load wrote lives forever: every key in this private Redis has a TTL.
    const inspect = createClient({ url: server.url });
    inspect.on('error', () => undefined);
    await inspect.connect();
    const noTtl = new Set<string>();
    let keyCount = 0;
    for await (const batch of inspect.scanIterator({ COUNT: 1000 })) {
      for (const key of batch) {
        keyCount += 1;
        if (!((await inspect.pTTL(key)) > 0)) noTtl.add(key.replace(/:[A-Za-z0-9_-]{16,}$/, ':<id>').replace(/load-user-\d+(-keeper)?/, '<user>'));
      }
    }
    inspect.destroy();
    const summary = {
      ms: Date.now() - started, clients: CLIENTS, ...counts,
      faultMs: faultEndedAt - faultStartedAt,
      credentials: creds.length, liveBeforeFault: beforeFault.length, liveAfterFault: afterFault.length,
      dead: dead.length, unknown: creds.filter((c) => c.state === 'unknown').length,
      lostBefore, lostAfter, deadAcceptedAfter,
      redisKeys: keyCount, keysWithoutTtl: [...noTtl],
      unhandledRejections: finalStats.unhandledRejections - 1, uncaughtExceptions: finalStats.uncaughtExceptions,
    };
     
    console.log(`load-with-faults ${JSON.stringify(summary)}`);

    expect(counts.requests + counts.networkErrors).toBe(TOTAL_REQUESTS);
    expect(counts.networkErrors).toBe(0);
    expect(counts.unexpectedStatus).toBe(0);
    expect(counts.byStatus['503'] ?? 0).toBeGreaterThan(0); // the fault was felt
    expect(counts.deadChecks).toBeGreaterThan(100);
    expect(counts.anonChecks).toBeGreaterThan(100);
    expect(counts.deadAccepted).toBe(0);
    expect(counts.anonAccepted).toBe(0);
    expect(counts.wrongPrincipal).toBe(0);
    expect(finalStats.unhandledRejections - 1).toBe(0); // minus the self-test's one
    expect(finalStats.uncaughtExceptions).toBe(0);
    expect(app.exitCode).toBeNull(); // never crashed
    expect(keyCount).toBeGreaterThan(0);
    expect([...noTtl]).toEqual([]);
    expect(beforeFault.length).toBeGreaterThan(10);
    expect(lostBefore).toBe(0);
    expect(lostAfter).toBe(0);
    expect(deadAcceptedAfter).toBe(0);
  });
});
