/**
 * Test-only helpers that run private redis-server processes on free loopback
 * ports, for fault tests (stop / start / restart) and for cluster tests.
 *
 * Nothing here waits a fixed time: readiness and shutdown are polled.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readdirSync, readFileSync, existsSync } from 'node:fs';
import { createServer, createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const HOST = '127.0.0.1';
const READY_TIMEOUT_MS = 15_000;
const POLL_MS = 20;

/* ------------------------------------------------------------------ */
/* small utilities                                                     */
/* ------------------------------------------------------------------ */

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, HOST, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port > 0 ? resolve(port) : reject(new Error('could not get a free port'))));
    });
  });
}

/** RESP reply as decoded by {@link rawCommand}. */
export type RespValue = string | number | null | RespValue[] | Error;

/** Parse one RESP value from buf at offset; returns undefined if incomplete. */
function parseResp(buf: Buffer, offset: number): { value: RespValue; next: number } | undefined {
  const lineEnd = buf.indexOf('\r\n', offset);
  if (lineEnd === -1) return undefined;
  const type = String.fromCharCode(buf[offset] ?? 0);
  const line = buf.toString('utf8', offset + 1, lineEnd);
  const after = lineEnd + 2;
  switch (type) {
    case '+':
      return { value: line, next: after };
    case '-':
      return { value: new Error(line), next: after };
    case ':':
      return { value: Number(line), next: after };
    case '$': {
      const len = Number(line);
      if (len < 0) return { value: null, next: after };
      if (buf.length < after + len + 2) return undefined;
      return { value: buf.toString('utf8', after, after + len), next: after + len + 2 };
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return { value: null, next: after };
      const items: RespValue[] = [];
      let pos = after;
      for (let i = 0; i < count; i++) {
        const item = parseResp(buf, pos);
        if (!item) return undefined;
        items.push(item.value);
        pos = item.next;
      }
      return { value: items, next: pos };
    }
    default:
      throw new Error(`unexpected RESP type byte ${JSON.stringify(type)}`);
  }
}

/**
 * Send one command over a fresh TCP connection and return the decoded reply.
 * Rejects on connection errors (e.g. ECONNREFUSED) and on timeout. A Redis
 * error reply resolves to an Error value (it does not reject).
 */
export function rawCommand(port: number, args: string[], timeoutMs = 2_000, host = HOST): Promise<RespValue> {
  return new Promise((resolve, reject) => {
    const sock = createConnection({ host, port });
    let buf = Buffer.alloc(0);
    let settled = false;
    const timer = setTimeout(() => {
      done(new Error(`redis ${host}:${port} ${args[0] ?? ''}: timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    const done = (err: Error | null, value?: RespValue): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(value ?? null);
    };
    sock.once('error', (err) => {
      if (!settled) done(err);
    });
    sock.once('close', () => {
      if (!settled) done(new Error(`redis ${host}:${port} closed the connection before replying`));
    });
    sock.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      try {
        const parsed = parseResp(buf, 0);
        if (parsed) done(null, parsed.value);
      } catch (err) {
        done(err as Error);
      }
    });
    sock.once('connect', () => {
      let out = `*${args.length}\r\n`;
      for (const a of args) out += `$${Buffer.byteLength(a)}\r\n${a}\r\n`;
      sock.write(out);
    });
  });
}

/** True if a server on host:port answers PING with PONG. */
export async function pingPort(port: number, host = HOST, timeoutMs = 1_000): Promise<boolean> {
  try {
    return (await rawCommand(port, ['PING'], timeoutMs, host)) === 'PONG';
  } catch {
    return false;
  }
}

/** Poll until check() is truthy, or throw describe() after timeoutMs. */
export async function waitFor(
  check: () => Promise<boolean> | boolean,
  describe: () => string,
  timeoutMs = READY_TIMEOUT_MS,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(describe());
    await sleep(POLL_MS);
  }
}

/* ------------------------------------------------------------------ */
/* process bookkeeping: never leave redis-servers behind              */
/* ------------------------------------------------------------------ */

const liveChildren = new Set<ChildProcess>();
const tempDirs = new Set<string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of liveChildren) {
      try {
        child.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    }
    for (const dir of tempDirs) {
      try {
        rmSync(dir, { recursive: true, force: true });
      } catch {
        /* best effort */
      }
    }
  });
}

function logTail(dir: string, lines = 15): string {
  const file = join(dir, 'redis.log');
  if (!existsSync(file)) return '(no redis.log)';
  return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}

/* ------------------------------------------------------------------ */
/* a single redis-server process                                      */
/* ------------------------------------------------------------------ */

interface ProcSpec {
  port: number;
  dir: string;
  confLines: string[];
}

class RedisProc {
  child: ChildProcess | undefined;
  private exited: Promise<void> | undefined;

  constructor(readonly spec: ProcSpec) {
    const conf = [
      `port ${spec.port}`,
      `bind ${HOST}`,
      'daemonize no',
      'protected-mode no',
      `dir ${spec.dir}`,
      'logfile redis.log',
      'save ""',
      ...spec.confLines,
      '',
    ].join('\n');
    writeFileSync(join(spec.dir, 'redis.conf'), conf);
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  async start(): Promise<void> {
    if (this.child) throw new Error(`redis-server on port ${this.spec.port} is already running`);
    installExitHook();
    const child = spawn('redis-server', [join(this.spec.dir, 'redis.conf')], {
      cwd: this.spec.dir,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    let spawnError: Error | undefined;
    let exitInfo: string | undefined;
    this.exited = new Promise<void>((resolve) => {
      child.once('error', (err) => {
        spawnError = err;
        resolve();
      });
      child.once('exit', (code, signal) => {
        exitInfo = `code ${String(code)}, signal ${String(signal)}`;
        resolve();
      });
    });
    void this.exited.then(() => {
      liveChildren.delete(child);
      if (this.child === child) this.child = undefined;
    });
    this.child = child;
    liveChildren.add(child);

    await waitFor(
      async () => {
        if (spawnError || exitInfo) return true;
        return pingPort(this.spec.port);
      },
      () =>
        `redis-server on port ${this.spec.port} did not answer PING within ${READY_TIMEOUT_MS} ms\n` +
        logTail(this.spec.dir),
    );
    if (spawnError) {
      throw new Error(
        (spawnError as NodeJS.ErrnoException).code === 'ENOENT'
          ? 'redis-server is not on PATH (install it: apt-get install -y redis-server)'
          : `could not spawn redis-server: ${spawnError.message}`,
      );
    }
    if (exitInfo) {
      throw new Error(
        `redis-server on port ${this.spec.port} exited during start (${exitInfo})\n${stderr}\n${logTail(this.spec.dir)}`,
      );
    }
  }

  /** Stop the process with `signal` and wait until it has exited and the port refuses connections. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child) return;
    const exited = this.exited;
    child.kill(signal);
    const deadline = Date.now() + 10_000;
    while (this.child === child && Date.now() < deadline) {
      await Promise.race([exited, sleep(100)]);
    }
    if (this.child === child) {
      child.kill('SIGKILL');
      await exited;
    }
    await waitFor(
      async () => !(await pingPort(this.spec.port, HOST, 300)),
      () => `port ${this.spec.port} still answers after stopping redis-server`,
    );
  }
}

/* ------------------------------------------------------------------ */
/* startRedisServer                                                    */
/* ------------------------------------------------------------------ */

export interface StartRedisServerOptions {
  /** Persist every write (`appendonly yes`, `appendfsync always`) so stop/start keeps acknowledged writes. */
  appendonly?: boolean;
  /** Extra redis.conf lines, e.g. ['maxmemory 10mb']. */
  extraConfig?: string[];
}

export interface TestRedisServer {
  readonly host: string;
  readonly port: number;
  /** redis://127.0.0.1:<port> */
  readonly url: string;
  /** Temp directory holding redis.conf, redis.log and any data files. */
  readonly dir: string;
  readonly running: boolean;
  /** Graceful stop (SIGTERM). Resolves once connections to the port are refused. */
  stop(): Promise<void>;
  /** Crash-like stop (SIGKILL): no shutdown save. With appendonly, acknowledged writes survive. */
  kill(): Promise<void>;
  /** Start again on the same port with the same directory (data kept if appendonly). */
  start(): Promise<void>;
  /** Stop, delete all data files, start again on the same port: an empty server. */
  restartEmpty(): Promise<void>;
  /** Stop and delete the temp directory. Call in afterAll. */
  destroy(): Promise<void>;
}

/** Spawn a private redis-server on a free loopback port in a temp dir and wait until it answers PING. */
export async function startRedisServer(opts: StartRedisServerOptions = {}): Promise<TestRedisServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'ep-redis-'));
  tempDirs.add(dir);
  const confLines = opts.appendonly
    ? ['appendonly yes', 'appendfsync always', 'appenddirname appendonlydir']
    : ['appendonly no'];
  confLines.push(...(opts.extraConfig ?? []));
  const proc = new RedisProc({ port, dir, confLines });
  await proc.start();

  const wipeData = (): void => {
    for (const entry of readdirSync(dir)) {
      if (entry === 'redis.conf' || entry === 'redis.log') continue;
      rmSync(join(dir, entry), { recursive: true, force: true });
    }
  };

  return {
    host: HOST,
    port,
    url: `redis://${HOST}:${port}`,
    dir,
    get running() {
      return proc.running;
    },
    stop: () => proc.stop('SIGTERM'),
    kill: () => proc.stop('SIGKILL'),
    start: () => proc.start(),
    async restartEmpty() {
      await proc.stop('SIGKILL');
      wipeData();
      await proc.start();
    },
    async destroy() {
      await proc.stop('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      tempDirs.delete(dir);
    },
  };
}

/* ------------------------------------------------------------------ */
/* startRedisCluster                                                   */
/* ------------------------------------------------------------------ */

export interface ClusterNodeAddress {
  host: string;
  port: number;
}

export interface TestRedisCluster {
  /** The masters, e.g. for createCluster({ rootNodes: nodes.map(n => ({ url: `redis://${n.host}:${n.port}` })) }). */
  readonly nodes: ClusterNodeAddress[];
  /** rootNodes ready for node-redis createCluster. */
  readonly rootNodes: { url: string }[];
  /** Stop node i (SIGTERM), start it again on the same port, wait for cluster_state:ok everywhere. */
  restartNode(i: number): Promise<void>;
  /** Wait until every running node reports cluster_state:ok. */
  waitForOk(timeoutMs?: number): Promise<void>;
  /** Stop all nodes and delete their temp dirs. */
  stop(): Promise<void>;
}

async function clusterState(port: number): Promise<string | undefined> {
  try {
    const info = await rawCommand(port, ['CLUSTER', 'INFO'], 1_000);
    if (typeof info !== 'string') return undefined;
    return /cluster_state:(\w+)/.exec(info)?.[1];
  } catch {
    return undefined;
  }
}

function runRedisCli(args: string[], timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('redis-cli', args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) reject(new Error(`redis-cli ${args.join(' ')} failed: ${err.message}\n${stdout}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/** Start 3 cluster-enabled masters on free ports, join them (no replicas), wait for cluster_state:ok. */
export async function startRedisCluster(opts: { masters?: number } = {}): Promise<TestRedisCluster> {
  const count = opts.masters ?? 3;
  if (count < 3) throw new Error('redis-cli --cluster create needs at least 3 masters');
  const procs: RedisProc[] = [];
  const dirs: string[] = [];
  const stopAll = async (): Promise<void> => {
    await Promise.all(procs.map((p) => p.stop('SIGKILL')));
    for (const d of dirs) {
      rmSync(d, { recursive: true, force: true });
      tempDirs.delete(d);
    }
  };

  try {
    const used = new Set<number>();
    const nextPort = async (): Promise<number> => {
      for (;;) {
        const p = await freePort();
        if (!used.has(p)) {
          used.add(p);
          return p;
        }
      }
    };
    for (let i = 0; i < count; i++) {
      const port = await nextPort();
      const busPort = await nextPort();
      const dir = mkdtempSync(join(tmpdir(), `ep-redis-cluster-${i}-`));
      dirs.push(dir);
      tempDirs.add(dir);
      procs.push(
        new RedisProc({
          port,
          dir,
          confLines: [
            'appendonly no',
            'cluster-enabled yes',
            'cluster-config-file nodes.conf',
            'cluster-node-timeout 2000',
            `cluster-port ${busPort}`,
            `cluster-announce-ip ${HOST}`,
            'cluster-require-full-coverage yes',
          ],
        }),
      );
    }
    await Promise.all(procs.map((p) => p.start()));
    await runRedisCli([
      '--cluster',
      'create',
      ...procs.map((p) => `${HOST}:${p.spec.port}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ]);
  } catch (err) {
    await stopAll();
    throw err;
  }

  const waitForOk = async (timeoutMs = 20_000): Promise<void> => {
    await waitFor(
      async () => {
        const states = await Promise.all(procs.map((p) => clusterState(p.spec.port)));
        return states.every((s) => s === 'ok');
      },
      () => `redis cluster did not reach cluster_state:ok within ${timeoutMs} ms`,
      timeoutMs,
    );
  };

  try {
    await waitForOk();
  } catch (err) {
    await stopAll();
    throw err;
  }

  const nodes = procs.map((p) => ({ host: HOST, port: p.spec.port }));
  return {
    nodes,
    rootNodes: nodes.map((n) => ({ url: `redis://${n.host}:${n.port}` })),
    waitForOk,
    async restartNode(i: number) {
      const proc = procs[i];
      if (!proc) throw new Error(`no cluster node ${i} (have ${procs.length})`);
      await proc.stop('SIGTERM');
      await proc.start();
      await waitForOk();
    },
    stop: stopAll,
  };
}
