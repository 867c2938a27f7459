#!/usr/bin/env node
// Where a request's CPU goes, in a form that does not depend on how fast the machine happens to be:
// the share of V8 CPU-profile samples spent in express-principal's own code.
//
//   node bench/profile.mjs                         every scenario of ours (and the baseline, as a check: 0 %)
//   node bench/profile.mjs ours-stateless-rs256    some scenarios
//   options: --requests N (profiled requests per scenario, default 100000), --out DIR (default bench/results),
//            --dist DIR (the build to profile, default dist/: e.g. another commit's build, to compare before/after)
//
// Why: on a shared VM the req/s of plain Express moved by 30–50 % between runs of the throughput bench
// (bench/run.mjs), so a 1 µs change cannot be seen there. Within one profile, every function is slowed alike, so
// shares stay put. Each scenario runs in a child process of its own: its real Express app (bench/scenarios.mjs) is
// driven in-process with socket-less IncomingMessage / ServerResponse objects, warmed up, then profiled.
//
// A sample is ours when, walking from the running function towards the caller, the first frame that belongs to
// someone is in dist/lib or dist/adapters; Node's built-ins (crypto, Buffer, Map…) count for whoever called them.
// Frames of Express and its router, of the app's handlers, and Node's HTTP code are not ours. The Redis client
// (node-redis) is reported apart, as "store client": the app pays it for any Redis-backed auth. Not counted as
// ours: Express's own cost of running one more middleware layer and the guard's route layer (≈ 1–2 µs), which any
// auth middleware pays.

import http from 'node:http';
import { Session } from 'node:inspector/promises';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import express from 'express';
import { all, byName, scenarios } from './scenarios.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const argv = process.argv.slice(2);

function option(name, fallback) {
  const i = argv.indexOf(name);
  if (i < 0) return fallback;
  const value = argv[i + 1];
  argv.splice(i, 2);
  return value;
}

const dist = path.resolve(option('--dist', process.env.PROFILE_DIST ?? path.join(root, 'dist')));
const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const ours = new RegExp(`^(file://)?${escape(dist)}/(lib|adapters)/`);
const storeClient = /\/node_modules\/(@redis|redis|connect-redis|cluster-key-slot|generic-pool)\//;
/** Frames that belong to someone else: Express, its router and helpers, the app (bench/), Node's HTTP stack. */
const theirs = /\/node_modules\/(express|router|finalhandler|send|serve-static|body-parser|parseurl|content-type|etag|fresh|mime-types|mime-db|accepts|negotiator|type-is|qs|depd|on-finished|statuses|encodeurl|escape-html|proxy-addr|forwarded|vary|cookie|cookie-signature|range-parser|path-to-regexp|debug|ms|setprototypeof|merge-descriptors|http-errors|utils-merge|methods|media-typer|safe-buffer|iconv-lite|raw-body|bytes|unpipe|destroy|ee-first|toidentifier|inherits|content-disposition|is-promise|call-bound|get-intrinsic|es-errors|function-bind|hasown|side-channel|object-inspect|math-intrinsics|dunder-proto|gopd|has-symbols|es-object-atoms|es-define-property|get-proto|call-bind-apply-helpers|side-channel-list|side-channel-map|side-channel-weakmap)\/|\/bench\/|^node:_http|^node:events$|^node:internal\/(streams|timers|process|async_hooks)/;

// ------------------------------------------------------------------------------------------- child

async function child(name, requests) {
  let redis;
  const ctx = {
    redisUrl: process.env.REDIS_URL || 'redis://127.0.0.1:6379',
    prefix: `bench-profile:${process.pid}:${name}:`,
    onClose() {},
    async redis() {
      if (!redis) {
        const { createClient } = await import('redis');
        redis = createClient({ url: ctx.redisUrl });
        await redis.connect();
      }
      return redis;
    },
    async lib() {
      const mod = await import(pathToFileURL(path.join(dist, 'lib', 'index.js')).href);
      return mod.principal ? mod : mod.default;
    },
  };
  const app = express();
  const credential = await byName(name).setup(app, ctx);
  let headers = credential.headers ?? {};

  /** One request through the app; resolves with its status and body once the response ended. */
  const send = (method, url, extra) => new Promise((resolve, reject) => {
    // No real socket: just what Express and express-session read from one (req.protocol, req.ip).
    const req = new http.IncomingMessage({ encrypted: false, remoteAddress: '127.0.0.1' });
    req.method = method;
    req.url = url;
    req.headers = { host: 'bench.local', ...extra };
    req.push(method === 'POST' ? '{}' : null);
    if (method === 'POST') req.push(null);
    const res = new http.ServerResponse(req);
    const end = res.end;
    let body = '';
    res.end = function (chunk, ...rest) {
      if (chunk && typeof chunk !== 'function') body += chunk;
      end.call(this, chunk, ...rest);
      resolve({ status: this.statusCode, body, setCookie: this.getHeader('set-cookie') });
    };
    try { app(req, res); } catch (err) { reject(err); }
  });

  if (credential.login) {
    const r = await send('POST', credential.login, { 'content-type': 'application/json', 'content-length': '2' });
    let token = null;
    try { token = JSON.parse(r.body).token ?? null; } catch { /* not JSON */ }
    const cookies = [].concat(r.setCookie ?? []).map((c) => String(c).split(';')[0]).filter((c) => !/=$/.test(c));
    headers = token ? { authorization: `Bearer ${token}` } : { cookie: cookies.join('; ') };
  }
  const run = async (n) => {
    for (let i = 0; i < n; i++) {
      // A request answered synchronously resolves in a microtask: without a turn of the event loop now and then,
      // I/O such as the record cache's invalidation follower would starve, as it never does in a real server.
      if (i % 10 === 0) await new Promise((resolve) => setImmediate(resolve));
      const r = await send('GET', '/me', headers);
      if (r.status !== 200) throw new Error(`GET /me answered ${r.status}: ${r.body.slice(0, 200)}`);
    }
  };
  await run(Math.min(20_000, requests));

  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 50 });
  const cpu0 = process.cpuUsage();
  await session.post('Profiler.start');
  await run(requests);
  const { profile } = await session.post('Profiler.stop');
  const cpu = process.cpuUsage(cpu0);
  session.disconnect();
  if (redis) {
    for await (const keys of redis.scanIterator({ MATCH: `${ctx.prefix}*`, COUNT: 1000 })) {
      const list = Array.isArray(keys) ? keys : [keys];
      if (list.length) await redis.del(list);
    }
    await redis.quit();
  }
  return { name, requests, cpuUsPerRequest: (cpu.user + cpu.system) / requests, ...attribute(profile) };
}

/** Samples by owner (ours / store client / rest) and our top functions. */
function attribute(profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const owner = new Map();
  const ownerOf = (id) => {
    const known = owner.get(id);
    if (known !== undefined) return known;
    const { url, functionName } = byId.get(id).callFrame;
    let who;
    if (functionName === '(idle)') who = 'idle';
    else if (ours.test(url)) who = 'ours';
    else if (storeClient.test(url)) who = 'store';
    else if (theirs.test(url) || functionName === '(garbage collector)' || functionName === '(program)' || functionName === '(root)') who = 'rest';
    else who = parent.has(id) ? ownerOf(parent.get(id)) : 'rest';
    owner.set(id, who);
    return who;
  };
  const counts = { ours: 0, store: 0, rest: 0, idle: 0 };
  const mine = new Map();
  for (const id of profile.samples) {
    const who = ownerOf(id);
    counts[who] += 1;
    if (who === 'ours') {
      // Name the function of ours the sample is in (or under).
      let at = id;
      while (!ours.test(byId.get(at).callFrame.url)) at = parent.get(at);
      const f = byId.get(at).callFrame;
      const key = `${f.functionName || '(anonymous)'} ${f.url.replace(/.*?\/dist\//, '')}:${f.lineNumber + 1}`;
      mine.set(key, (mine.get(key) ?? 0) + 1);
    }
  }
  const busy = counts.ours + counts.store + counts.rest;
  const share = (k) => (busy ? counts[k] / busy : 0);
  return {
    samples: busy,
    oursShare: share('ours'),
    storeShare: share('store'),
    top: [...mine].sort((a, b) => b[1] - a[1]).slice(0, 6).map(([fn, n]) => ({ fn, share: n / busy })),
  };
}

// ------------------------------------------------------------------------------------------- parent

async function parentMain() {
  const requests = Number(option('--requests', '100000'));
  const out = path.resolve(option('--out', path.join(here, 'results')));
  const names = argv.length ? argv : ['baseline', ...scenarios.filter((s) => s.kind === 'ours').map((s) => s.name)];
  const unknown = names.filter((n) => !all.some((s) => s.name === n));
  if (unknown.length) throw new Error(`unknown scenario(s): ${unknown.join(', ')}`);
  if (!existsSync(path.join(dist, 'lib', 'index.js'))) throw new Error(`${dist}/lib/index.js is missing (run \`npm run build\` first)`);
  const rows = [];
  for (const name of names) {
    process.stderr.write(`${name.padEnd(36)} `);
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', name, String(requests)], { cwd: root, encoding: 'utf8', env: { ...process.env, NODE_ENV: 'production', PROFILE_DIST: dist } });
    const line = r.stdout.trim().split('\n').pop();
    if (r.status !== 0 || !line?.startsWith('{')) {
      process.stderr.write(`error: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ')}\n`);
      rows.push({ name, error: (r.stderr || r.stdout).trim().split('\n').pop() });
      continue;
    }
    const row = JSON.parse(line);
    rows.push(row);
    process.stderr.write(`ours ${(row.oursShare * 100).toFixed(1)} %  store client ${(row.storeShare * 100).toFixed(1)} %  (${row.cpuUsPerRequest.toFixed(1)} µs CPU/request in-process)\n`);
  }
  const pct = (x) => `${(x * 100).toFixed(1)} %`;
  const md = [
    `Profiled ${new Date().toISOString().slice(0, 10)}, Node ${process.version.slice(1)}, ${requests} requests per scenario after a warm-up, in-process (no sockets)${dist === path.join(root, 'dist') ? '' : `, build ${path.relative(root, dist) || dist}`}.`,
    '',
    '| scenario | express-principal\'s own code | store client (node-redis) | CPU µs/request (in-process, this run) | where ours goes |',
    '|---|--:|--:|--:|---|',
    ...rows.map((r) => (r.error
      ? `| ${r.name} | error | | | ${r.error.replace(/\|/g, '\\|')} |`
      : `| ${r.name} | ${pct(r.oursShare)} | ${pct(r.storeShare)} | ${r.cpuUsPerRequest.toFixed(1)} | ${r.top.slice(0, 3).map((t) => `${t.fn.split(' ')[0]} ${pct(t.share)}`).join(', ')} |`)),
    '',
  ].join('\n');
  mkdirSync(out, { recursive: true });
  writeFileSync(path.join(out, 'profile.json'), `${JSON.stringify({ date: new Date().toISOString(), node: process.version, requests, dist: path.relative(root, dist) || dist, rows }, null, 2)}\n`);
  writeFileSync(path.join(out, 'profile.md'), md);
  console.log(`\n${md}`);
  console.log(`wrote ${path.relative(process.cwd(), out) || '.'}/profile.{json,md}`);
}

if (argv[0] === '--child') {
  child(argv[1], Number(argv[2])).then((r) => { console.log(JSON.stringify(r)); process.exit(0); }, (err) => { console.error(err?.stack ?? err); process.exit(1); });
} else {
  parentMain().catch((err) => { console.error(err?.stack ?? err); process.exit(2); });
}
