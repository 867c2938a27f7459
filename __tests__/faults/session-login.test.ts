/**
 * sessionCookie login over redisStore (issue 12, item 10), against a Redis this file starts itself:
 * a login writes its session once, and a login the store cannot carry out answers 503 within 2 s (default
 * store timeout), sends no Set-Cookie and leaves the client's current session working once the store is back.
 * Store writes are counted with MONITOR; the faults are a server frozen with SIGSTOP (connections stay open,
 * nothing answers) and writes held with CLIENT PAUSE WRITE (reads answer, so the login gets as far as its write).
 */
import request from 'supertest';
import { createClient } from 'redis';
import { redisStore } from '../../lib';
import { startRedisServer, type TestRedisServer } from '../helpers/redis-server';
import { keysWithPrefix, uniquePrefix, type TestRedisClient } from '../helpers/redis';
import { credentialFrom, makeApp, makeStrategy, type TestApp } from '../adapters/test-app';
import { eventually } from '../adapters/contract';

jest.setTimeout(60_000);

type RedisClient = ReturnType<typeof createClient>;

let server: TestRedisServer;
let client: RedisClient;
let monitor: RedisClient;
const monitored: string[] = [];

beforeAll(async () => {
  server = await startRedisServer();
  client = createClient({ url: server.url });
  client.on('error', () => undefined); // faults below; the commands themselves still reject
  await client.connect();
  monitor = client.duplicate();
  monitor.on('error', () => undefined);
  await monitor.connect();
  await monitor.monitor((line) => { monitored.push(String(line)); });
}, 30_000);

afterAll(async () => {
  monitor?.destroy();
  client?.destroy();
  await server?.destroy();
});

/** A fresh app on its own key prefix (default store timeout: the 2 s bound below is stated for it). */
function appOn(name: string): TestApp & { prefix: string } {
  const prefix = uniquePrefix(name);
  return { ...makeApp(makeStrategy('session-cookie', redisStore({ client, prefix }))), prefix };
}

/** The quoted command and arguments of one MONITOR line. */
function parseMonitorLine(line: string): string[] {
  return [...line.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1] as string);
}

let marks = 0;
/** Every command Redis executed while `work` ran (MONITOR is in execution order; a marker command closes the window). */
async function commandsDuring(work: () => Promise<void>): Promise<string[][]> {
  const from = monitored.length;
  await work();
  const marker = `session-login-mark:${process.pid}:${(marks += 1)}`;
  await client.get(marker);
  await eventually(() => monitored.slice(from).some((l) => l.includes(`"${marker}"`)), 'MONITOR shows the marker');
  const lines = monitored.slice(from);
  return lines.slice(0, lines.findIndex((l) => l.includes(`"${marker}"`))).map(parseMonitorLine);
}

/** `<COMMAND> <session id>` for each command that changed a session record of this prefix. */
function sessionWrites(commands: string[][], prefix: string): string[] {
  const sessKey = `${prefix}sess:`;
  return commands
    .filter(([name]) => name !== undefined && !['get', 'mget', 'exists', 'ttl', 'pttl'].includes(name.toLowerCase()))
    .flatMap(([name, ...args]) => args.filter((a) => a.startsWith(sessKey)).map((key) => `${(name as string).toUpperCase()} ${key.slice(sessKey.length)}`));
}

function setCookieOf(res: request.Response): string[] {
  const raw = res.headers['set-cookie'] as unknown;
  return Array.isArray(raw) ? raw.map(String) : typeof raw === 'string' ? [raw] : [];
}

describe('sessionCookie login writes its session once', () => {
  it('a first login is one SET of the new session; a login over a session is that SET plus the DEL of the old one', async () => {
    const { app, auth, prefix } = appOn('login-writes');
    try {
      const agent = request.agent(app);
      let first = '';
      let firstCookie: Record<string, string> = {};
      const firstLogin = await commandsDuring(async () => {
        const res = await agent.post('/login').send({ id: 'alice' });
        expect(res.status).toBe(200);
        first = (res.body as { sessionId: string }).sessionId;
        firstCookie = credentialFrom('session-cookie', res);
      });
      expect(sessionWrites(firstLogin, prefix)).toEqual([`SET ${first}`]);

      let second = '';
      const secondLogin = await commandsDuring(async () => {
        const res = await agent.post('/login').send({ id: 'alice' });
        expect(res.status).toBe(200);
        second = (res.body as { sessionId: string }).sessionId;
      });
      expect(second).not.toBe(first);
      expect(sessionWrites(secondLogin, prefix).sort()).toEqual([`DEL ${first}`, `SET ${second}`].sort());

      // The one write is the whole session: the agent's new cookie works, the old one is gone.
      expect((await agent.get('/me')).body).toEqual({ id: 'alice', sessionId: second });
      expect((await request(app).get('/me').set(firstCookie)).status).toBe(401);
    } finally {
      await auth.close();
    }
  });
});

interface Fault { name: string; begin(): Promise<void>; end(): Promise<void> }

async function redisPid(): Promise<number> {
  const info = await client.info('server');
  const pid = Number(/process_id:(\d+)/.exec(info)?.[1]);
  if (!Number.isInteger(pid) || pid <= 0) throw new Error('no process_id in INFO server');
  return pid;
}

const frozen: Fault = (() => {
  let pid = 0;
  return {
    name: 'server frozen (SIGSTOP)',
    async begin() { pid = await redisPid(); process.kill(pid, 'SIGSTOP'); },
    async end() { if (pid > 0) process.kill(pid, 'SIGCONT'); pid = 0; },
  };
})();

const writesPaused: Fault = (() => {
  let admin: RedisClient | null = null;
  return {
    name: 'writes paused (CLIENT PAUSE WRITE)',
    async begin() {
      admin = client.duplicate();
      admin.on('error', () => undefined);
      await admin.connect();
      // Long enough that only CLIENT UNPAUSE below ends it.
      await admin.sendCommand(['CLIENT', 'PAUSE', '60000', 'WRITE']);
    },
    async end() {
      if (admin === null) return;
      await admin.sendCommand(['CLIENT', 'UNPAUSE']);
      admin.destroy();
      admin = null;
    },
  };
})();

const CASES: [string, Fault, boolean][] = [
  [`${writesPaused.name}, the client sends its current cookie`, writesPaused, true],
  [`${frozen.name}, the client sends its current cookie`, frozen, true],
  [`${frozen.name}, no cookie`, frozen, false],
];

describe('a sessionCookie login the store cannot carry out', () => {
  it.each(CASES)('%s: 503 within 2 s, no Set-Cookie, and the current session still works afterwards', async (_name, fault, sendsCookie) => {
    const { app, auth, prefix } = appOn('login-outage');
    try {
      const agent = request.agent(app);
      const before = await agent.post('/login').send({ id: 'alice' });
      expect(before.status).toBe(200);
      const current = (before.body as { sessionId: string }).sessionId;
      const cookie = credentialFrom('session-cookie', before);

      await fault.begin();
      let res: request.Response;
      let ms: number;
      try {
        const t0 = Date.now();
        res = await (sendsCookie ? agent.post('/login') : request(app).post('/login')).send({ id: 'bob' }).timeout({ deadline: 10_000 });
        ms = Date.now() - t0;
      } finally {
        await fault.end();
      }
      expect(res.status).toBe(503);
      expect(res.body).toEqual({ code: 'ERR_STORE_UNAVAILABLE' });
      expect(res.headers['retry-after']).toMatch(/^\d+$/);
      expect(setCookieOf(res)).toEqual([]);
      expect(ms).toBeLessThan(2_000);

      // Commands that timed out still reach Redis once it runs again; a command sent now is answered after them.
      await client.get('session-login-drain');
      const me = await agent.get('/me');
      expect({ status: me.status, body: me.body as unknown }).toEqual({ status: 200, body: { id: 'alice', sessionId: current } });
      expect((await request(app).get('/me').set(cookie)).status).toBe(200);
      // Nothing of the failed login is left: no session record for it (a late write is deleted), no index for bob.
      const keys = await keysWithPrefix(client as unknown as TestRedisClient, prefix);
      expect(keys.filter((k) => k.startsWith(`${prefix}sess:`))).toEqual([`${prefix}sess:${current}`]);
      expect(keys.filter((k) => k.includes('bob'))).toEqual([]);
    } finally {
      await fault.end();
      await auth.close();
    }
  });
});
