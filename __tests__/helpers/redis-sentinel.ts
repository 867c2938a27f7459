/**
 * A master, a replica and one sentinel on loopback (real redis-server processes, one in --sentinel mode, on free
 * ports), for failover tests. Test-only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, pingPort, rawCommand, startRedisServer, type TestRedisServer } from './redis-server';

const HOST = '127.0.0.1';

export interface TestSentinelSet {
  /** The master name the sentinel monitors. */
  readonly name: string;
  readonly sentinel: { host: string; port: number };
  readonly servers: TestRedisServer[];
  /** Port of the current master, as the sentinel reports it. */
  masterPort(): Promise<number>;
  /** SENTINEL FAILOVER, then waits until the sentinel names the other server and it reports role:master. */
  failover(timeoutMs?: number): Promise<number>;
  /** Waits until every replica has every write the master acknowledged (equal replication offsets). */
  replicated(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

const field = (info: unknown, name: string) => new RegExp(`${name}:(\\S+)`).exec(String(info))?.[1];

export async function startSentinelSet(): Promise<TestSentinelSet> {
  const name = 'ep-master';
  const master = await startRedisServer();
  const replica = await startRedisServer({ extraConfig: [`replicaof ${HOST} ${master.port}`] });
  await until(async () => (field(await rawCommand(replica.port, ['INFO', 'replication']), 'master_link_status') === 'up' ? true : undefined), 'the replica to sync', 30_000);
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'ep-sentinel-'));
  writeFileSync(join(dir, 'sentinel.conf'), [
    `port ${port}`, `bind ${HOST}`, `dir ${dir}`, 'protected-mode no',
    `sentinel monitor ${name} ${HOST} ${master.port} 1`,
    `sentinel down-after-milliseconds ${name} 2000`,
    `sentinel failover-timeout ${name} 10000`,
    `sentinel parallel-syncs ${name} 1`,
  ].join('\n') + '\n');
  const child: ChildProcess = spawn('redis-server', [join(dir, 'sentinel.conf'), '--sentinel'], { stdio: 'ignore' });
  const servers = [master, replica];
  const stop = async () => {
    child.kill('SIGKILL');
    await Promise.all(servers.map((s) => s.destroy()));
    rmSync(dir, { recursive: true, force: true });
  };
  const masterPort = async () => Number((await rawCommand(port, ['SENTINEL', 'get-master-addr-by-name', name]) as string[])[1]);
  // The sentinel must know the replica before it can fail over to it.
  try {
    await until(async () => ((await pingPort(port)) ? true : undefined), 'the sentinel to answer', 15_000);
    await until(async () => ((await rawCommand(port, ['SENTINEL', 'replicas', name]) as unknown[]).length > 0 ? true : undefined), 'the sentinel to find the replica', 30_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    name,
    sentinel: { host: HOST, port },
    servers,
    masterPort,
    async failover(timeoutMs = 30_000) {
      const before = await masterPort();
      await until(async () => (String(await rawCommand(port, ['SENTINEL', 'FAILOVER', name])) === 'OK' ? true : undefined), 'SENTINEL FAILOVER accepted', timeoutMs);
      return until(async () => {
        const now = await masterPort();
        if (now === before) return undefined;
        return field(await rawCommand(now, ['INFO', 'replication']), 'role') === 'master' ? now : undefined;
      }, 'the failover to complete', timeoutMs);
    },
    async replicated(timeoutMs = 15_000) {
      const current = await masterPort();
      const others = servers.filter((s) => s.port !== current);
      await until(async () => {
        const offset = field(await rawCommand(current, ['INFO', 'replication']), 'master_repl_offset');
        for (const s of others) {
          if (field(await rawCommand(s.port, ['INFO', 'replication']), 'slave_repl_offset') !== offset) return undefined;
        }
        return true;
      }, 'replicas to catch up', timeoutMs);
    },
    stop,
  };
}
