// One benchmark server: `node bench/server.mjs <scenario>`.
// Started by bench/run.mjs as a child process (pinned to its own core); reports over IPC:
//   { type: 'ready', port, credential }  or  { type: 'error', message }.
// Stops on SIGTERM or when the parent goes away.

import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';
import express from 'express';
import { byName } from './scenarios.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// bench/run.mjs passes a snapshot of dist/ (BENCH_DIST) so a rebuild during the run cannot break it.
const libEntry = path.join(process.env.BENCH_DIST || path.join(root, 'dist'), 'lib', 'index.js');
const name = process.argv[2];
const report = (msg) => (process.send ? process.send(msg) : console.log(JSON.stringify(msg)));

const closers = [];
let redisClient;
let pgPool;
/** Bench tables live in their own schema of the test database; this run's rows are deleted at shutdown. */
const PG_SCHEMA = 'ep_bench';
let ioredisClient;
const ctx = {
  redisUrl: process.env.REDIS_URL || 'redis://127.0.0.1:6379',
  prefix: `bench:${process.pid}:${name}:`,
  onClose(fn) { closers.push(fn); },
  /** One shared node-redis client, connected on first use. */
  async redis() {
    if (!redisClient) {
      const { createClient } = await import('redis');
      redisClient = createClient({ url: ctx.redisUrl });
      redisClient.on('error', (err) => console.error(`[${name}] redis: ${err.message}`));
      await redisClient.connect();
    }
    return redisClient;
  },
  pgUrl: process.env.PG_URL || 'postgres://postgres@127.0.0.1:5432/test',
  /** A postgresStore on one shared pg Pool, its tables created on first use. */
  async postgresStore(lib, tag, timeout) {
    if (!pgPool) {
      const { default: pg } = await import('pg');
      pgPool = new pg.Pool({ connectionString: ctx.pgUrl, max: 10 });
      pgPool.on('error', (err) => console.error(`[${name}] pg: ${err.message}`));
      await lib.postgresStore({ pool: pgPool, schema: PG_SCHEMA }).migrate();
    }
    return lib.postgresStore({ pool: pgPool, schema: PG_SCHEMA, prefix: `${ctx.prefix}${tag}:`, timeout });
  },
  /** One shared ioredis client on the same server, ready on first use (its keys are dropped through redis()). */
  async ioredis() {
    if (!ioredisClient) {
      const { Redis } = await import('ioredis');
      ioredisClient = new Redis(ctx.redisUrl);
      ioredisClient.on('error', (err) => console.error(`[${name}] ioredis: ${err.message}`));
      await new Promise((resolve) => ioredisClient.once('ready', resolve));
      await ctx.redis();
    }
    return ioredisClient;
  },
  /** express-principal from the build output (dist/lib/index.js, CommonJS). */
  async lib() {
    if (!existsSync(libEntry)) throw new Error('express-principal is not built (dist/lib/index.js missing; run `npm run build`)');
    const mod = await import(pathToFileURL(libEntry).href);
    const lib = mod.principal ? mod : mod.default;
    const missing = ['principal', 'requireAuth'].filter((k) => typeof lib?.[k] !== 'function');
    if (missing.length) throw new Error(`dist/lib/index.js does not export ${missing.join(', ')}`);
    return lib;
  },
};

async function shutdown(server, code = 0) {
  for (const fn of closers) { try { await fn(); } catch { /* best effort */ } }
  ioredisClient?.disconnect();
  if (redisClient) {
    try {
      // Leave nothing behind: drop this run's keys.
      for await (const keys of redisClient.scanIterator({ MATCH: `${ctx.prefix}*`, COUNT: 1000 })) {
        const list = Array.isArray(keys) ? keys : [keys];
        if (list.length) await redisClient.del(list);
      }
      await redisClient.quit();
    } catch { /* best effort */ }
  }
  if (pgPool) {
    try {
      for (const [table, column] of [['ep_records', 'key'], ['ep_subject_index', 'prefix'], ['ep_log', 'log'], ['ep_log_heads', 'log']]) {
        await pgPool.query(`DELETE FROM ${PG_SCHEMA}.${table} WHERE starts_with(${column}, $1)`, [ctx.prefix]);
      }
      await pgPool.end();
    } catch { /* best effort */ }
  }
  server?.close();
  process.exit(code);
}

async function main() {
  const scenario = byName(name);
  if (!scenario) throw new Error(`unknown scenario "${name}"`);
  const app = express();
  const credential = await scenario.setup(app, ctx);
  const server = await new Promise((resolve, reject) => {
    const s = app.listen(0, '127.0.0.1', (err) => (err ? reject(err) : resolve(s)));
  });
  server.keepAliveTimeout = 60_000;
  process.on('SIGTERM', () => shutdown(server));
  process.on('disconnect', () => shutdown(server));
  // The parent asks for this process's CPU time around the measured window (µs of CPU per request is far less
  // sensitive to other load on the machine than req/s).
  process.on('message', (m) => { if (m?.type === 'cpu') report({ type: 'cpu', id: m.id, usage: process.cpuUsage() }); });
  report({ type: 'ready', port: server.address().port, credential });
}

main().catch((err) => {
  report({ type: 'error', message: err?.message ?? String(err) });
  setTimeout(() => process.exit(1), 50);
});
