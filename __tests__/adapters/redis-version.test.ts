/**
 * Versions: the Redis server's (>= 7.0, asked with INFO before the first command) and node-redis's (v5; v4
 * would leave session records without a TTL). The old server is a real TCP peer on loopback that speaks
 * enough RESP to say it is Redis 6.2 (no Redis 6 is installed here); the current one is the shared Redis.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import * as redis4 from 'redis4';
import { redisStore, StoreUnavailableError } from '../../lib';
import { MINIMUM_REDIS_VERSION, REDIS_TOO_OLD, redisVersionProblem } from '../../adapters/redis-version';
import { connectRedis, uniquePrefix, type TestRedisClient } from '../helpers/redis';

jest.setTimeout(30_000);

/** Encodes a reply: strings as bulk strings, null as a null bulk string. */
function resp(value: string | null): string {
  if (value === null) return '$-1\r\n';
  return `$${Buffer.byteLength(value)}\r\n${value}\r\n`;
}

/** Splits complete RESP arrays of bulk strings (what clients send) off the front of `buf`. */
function takeCommands(buf: Buffer): { commands: string[][]; rest: Buffer } {
  const commands: string[][] = [];
  let at = 0;
  for (;;) {
    const start = at;
    const line = (from: number) => { const end = buf.indexOf('\r\n', from); return end < 0 ? null : { text: buf.toString('latin1', from, end), next: end + 2 }; };
    const head = line(at);
    if (head === null || head.text[0] !== '*') return { commands, rest: buf.subarray(start) };
    const n = Number(head.text.slice(1));
    let pos = head.next;
    const args: string[] = [];
    for (let i = 0; i < n; i++) {
      const len = line(pos);
      if (len === null) return { commands, rest: buf.subarray(start) };
      const size = Number(len.text.slice(1));
      if (buf.length < len.next + size + 2) return { commands, rest: buf.subarray(start) };
      args.push(buf.toString('utf8', len.next, len.next + size));
      pos = len.next + size + 2;
    }
    commands.push(args);
    at = pos;
  }
}

/** A TCP server on loopback that answers INFO as Redis `version` would, GET as nil, and every other command (HELLO, CLIENT SETINFO, …) as OK. */
async function oldRedis(version: string): Promise<{ port: number; seen: string[]; close(): Promise<void> }> {
  const seen: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let pending: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      const { commands, rest } = takeCommands(Buffer.concat([pending, chunk]));
      pending = rest;
      for (const [name = ''] of commands) {
        const cmd = name.toUpperCase();
        seen.push(cmd);
        if (cmd === 'INFO') socket.write(resp(`# Server\r\nredis_version:${version}\r\nrun_id:${'a'.repeat(40)}\r\n# Persistence\r\nloading:0\r\n`));
        else if (cmd === 'GET') socket.write(resp(null));
        else socket.write('+OK\r\n');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    close: () => new Promise<void>((resolve) => { for (const s of sockets) s.destroy(); server.close(() => resolve()); }),
  };
}

/**
 * The warnings with `code` emitted while `body` runs. Observed at process.emitWarning (still called through):
 * jest gives each test file its own `process`, whose 'warning' event never fires.
 */
async function warningsDuring(code: string, body: () => Promise<void>): Promise<string[]> {
  const spy = jest.spyOn(process, 'emitWarning');
  try {
    await body();
    return spy.mock.calls
      .filter(([, options]) => (options as { code?: string } | undefined)?.code === code)
      .map(([warning]) => String(warning));
  } finally {
    spy.mockRestore();
  }
}

describe('redisVersionProblem: INFO server parsed', () => {
  it('refuses 6.x and older, accepts 7.0 and later, and lets a server that hides its version through', () => {
    expect(redisVersionProblem('# Server\r\nredis_version:6.2.14\r\nredis_mode:standalone\r\n')).toMatch(/6\.2\.14.*7\.0\.0/);
    expect(redisVersionProblem('redis_version:5.0.7\r\n')).toMatch(/5\.0\.7/);
    expect(redisVersionProblem('# Server\r\nredis_version:7.0.0\r\n')).toBeNull();
    expect(redisVersionProblem('# Server\r\nredis_version:8.2.1\r\n')).toBeNull();
    expect(redisVersionProblem('# Server\r\nredis_git_sha1:00000000\r\n')).toBeNull();
    expect(MINIMUM_REDIS_VERSION).toBe('7.0.0');
  });
});

describe('redisStore: the server version, checked before the first command', () => {
  let shared: TestRedisClient;
  beforeAll(async () => { shared = await connectRedis(); });
  afterAll(async () => { await shared?.close(); });

  it('the shared Redis (>= 7) passes: the store works and says nothing', async () => {
    const info = String(await shared.sendCommand(['INFO', 'server']));
    expect(redisVersionProblem(info)).toBeNull();
    const warnings = await warningsDuring(REDIS_TOO_OLD, async () => {
      const store = redisStore({ client: shared, prefix: uniquePrefix('version-ok') });
      await store.set('k', 'v', 10_000);
      expect(await store.get('k')).toBe('v');
    });
    expect(warnings).toEqual([]);
  });

  it.each(['node-redis', 'ioredis'])('%s on a Redis 6.2 server: every call answers 503 naming the versions, once warned; no write reaches it', async (kind) => {
    const server = await oldRedis('6.2.0');
    const client = kind === 'node-redis'
      ? await createClient({ url: `redis://127.0.0.1:${server.port}` }).on('error', () => undefined).connect()
      : new Redis({ host: '127.0.0.1', port: server.port, lazyConnect: true });
    try {
      if (client instanceof Redis) await client.connect();
      const store = redisStore({ client, prefix: uniquePrefix('version-old') });
      const errors: unknown[] = [];
      const warnings = await warningsDuring(REDIS_TOO_OLD, async () => {
        for (const call of [() => store.set('k', 'v', 10_000), () => store.get('k'), () => store.indexAdd('s', 'm', 10_000)]) {
          errors.push(await call().then(() => 'resolved', (err: unknown) => err));
        }
      });
      for (const err of errors) {
        expect(err).toBeInstanceOf(StoreUnavailableError);
        expect(String((err as Error & { cause?: Error }).cause?.message)).toMatch(/version 6\.2\.0.*Redis 7\.0\.0 or later/);
      }
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/6\.2\.0/);
      expect(server.seen.filter((c) => ['SET', 'GET', 'EVAL', 'SADD', 'PEXPIRE'].includes(c))).toEqual([]);
    } finally {
      if (client instanceof Redis) client.disconnect(); else client.destroy();
      await server.close();
    }
  });
});

describe('redisStore: node-redis v4 is refused', () => {
  it('a v4 client or cluster is a configuration error naming v5; a v5 client is accepted', () => {
    expect(() => redisStore({ client: redis4.createClient() as never })).toThrow(/node-redis v5 or later.*v4/);
    expect(() => redisStore({ client: redis4.createCluster({ rootNodes: [{ url: 'redis://127.0.0.1:1' }] }) as never })).toThrow(TypeError);
    expect(() => redisStore({ client: createClient() as never })).not.toThrow();
  });
});
