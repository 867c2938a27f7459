#!/usr/bin/env node
// Instructions per request, counted by valgrind (callgrind): what a request costs the server's CPU, independent of
// whatever else the machine is doing. Companion to bench/run.mjs for machines where req/s is too noisy to read.
//
//   node bench/instructions.mjs                 baseline, a do-nothing middleware, fast-jwt + cache, and every scenario
//                                               of ours (≈ 25 min)
//   node bench/instructions.mjs --only a,b      a subset (the baseline always runs, first and last)
//   node bench/instructions.mjs --all           also the slow peers (express-jwt, passport-jwt, express-session)
//
// Options: --window N (requests per counted window, default 2500), --warm W (windows discarded while V8 warms up,
// default 3), --windows M (windows counted, default 4), --idle S (seconds of idle counting, default 10),
// --jobs J (servers counted at once, default 2), --start-timeout S (seconds a server may take to start under valgrind,
// default 180; a busy machine needs more), --out DIR (default bench/results), --merge a.json,b.json (pool earlier runs' instructions.json into one table).
//
// Each server runs under `valgrind --tool=callgrind`; autocannon (10 connections, the same credential) drives it
// from this process. Counters are zeroed after the warm-up and dumped after every window; a scenario's figure is the
// median window's instructions per request, less the work the server does on timers when idle (counted for --idle
// seconds after the windows; see countOne). Counted: every thread of the server process in user space (JS, V8,
// GC, libuv, OpenSSL). Not counted: the kernel (socket syscalls, the same for every scenario but Redis round trips)
// and Redis itself. So for scenarios without Redis the ratio is a lower bound of the CPU ratio (the common kernel
// cost is left out of both sides); for Redis scenarios the round trip's kernel and Redis cost is missing: read it
// with bench/run.mjs's numbers.

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { all, baselineScenario } from './scenarios.mjs';
import { prepare, stopServer } from './server-process.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
// Store calls under valgrind on a busy machine can take seconds: see bench/scenarios.mjs.
process.env.BENCH_STORE_TIMEOUT ||= '30s';
const root = path.resolve(here, '..');

function parseArgs(argv) {
  const opts = { window: 2500, warm: 3, windows: 4, idle: 10, jobs: 2, startTimeout: 180, only: null, all: false, out: path.join(here, 'results') };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => { const v = argv[++i]; if (v === undefined) throw new Error(`${a} needs a value`); return v; };
    if (a === '--window') opts.window = parseInt(val(), 10);
    else if (a === '--warm') opts.warm = parseInt(val(), 10);
    else if (a === '--windows') opts.windows = Math.max(1, parseInt(val(), 10));
    else if (a === '--idle') opts.idle = Number(val());
    else if (a === '--jobs') opts.jobs = Math.max(1, parseInt(val(), 10));
    else if (a === '--start-timeout') opts.startTimeout = Math.max(1, Number(val()));
    else if (a === '--only') opts.only = val().split(',').map((s) => s.trim()).filter(Boolean);
    else if (a === '--all') opts.all = true;
    else if (a === '--merge') opts.merge = val().split(',').map((f) => path.resolve(f));
    else if (a === '--out') opts.out = path.resolve(val());
    else throw new Error(`unknown option ${a}\nscenarios: ${all.map((s) => s.name).join(', ')}`);
  }
  return opts;
}

function plan(opts) {
  if (opts.only) {
    const unknown = opts.only.filter((n) => !all.some((s) => s.name === n));
    if (unknown.length) throw new Error(`unknown scenario(s): ${unknown.join(', ')}`);
    return all.filter((s) => s !== baselineScenario && opts.only.includes(s.name));
  }
  // Under valgrind a request costs ≈ 100× more time: the slow peers alone would take longer than all of ours.
  return all.filter((s) => s !== baselineScenario && (opts.all || s.kind !== 'peer' || s.name === 'fast-jwt-hs256-cache'));
}

// A server under valgrind on a busy machine can take seconds per response: autocannon's default 10-s timeout would
// count those as errors.
const cannon = (load, amount) => new Promise((resolve, reject) => {
  autocannon({ ...load, amount, timeout: 120 }, (err, r) => (err ? reject(err) : resolve(r)));
});

/** Total instructions in the newest callgrind dump of `pid` (each dump also resets the counters). */
function lastDumpTotal(dir, pid) {
  const dumps = readdirSync(dir).filter((f) => f.startsWith(`cg.${pid}.`));
  const newest = dumps.sort((a, b) => Number(a.split('.').pop()) - Number(b.split('.').pop())).pop();
  const m = newest && readFileSync(path.join(dir, newest), 'utf8').match(/^(?:summary|totals): (\d+)/m);
  if (!m) throw new Error(`no callgrind totals in ${dir}`);
  return Number(m[1]);
}

async function countOne(scenario, opts) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ep-instructions-'));
  const wrap = ['valgrind', '--tool=callgrind', '--smc-check=all-non-file', `--callgrind-out-file=${dir}/cg.%p`];
  const started = Date.now();
  let target;
  try {
    target = await prepare(scenario, { connections: 10, wrap, startTimeoutMs: opts.startTimeout * 1000 });
    const pid = String(target.server.child.pid);
    const windows = [];
    let non2xx = 0;
    for (let w = 0; w < opts.warm + opts.windows; w++) {
      if (w === opts.warm) execFileSync('callgrind_control', ['-z', pid], { stdio: 'ignore' });
      const t0 = performance.now();
      const r = await cannon(target.load, opts.window);
      if (w < opts.warm) continue;
      execFileSync('callgrind_control', ['-d', pid], { stdio: 'ignore' });
      non2xx += r.non2xx + r.errors; // autocannon counts timeouts among errors
      windows.push({ instructions: lastDumpTotal(dir, pid), seconds: (performance.now() - t0) / 1000, requests: r.requests.total });
    }
    // A failed request did different work from a served one.
    if (non2xx > 0) throw new Error(`${non2xx} requests failed or timed out; not counted`);
    // Work on a timer (a follower polling Redis, a cache sweep) runs per second, not per request. Under valgrind a
    // second holds ~100× fewer requests, so that work would be charged ~100× over: measure it idle and take it out.
    const idleStart = performance.now();
    await new Promise((r) => setTimeout(r, opts.idle * 1000));
    execFileSync('callgrind_control', ['-d', pid], { stdio: 'ignore' });
    const idlePerSecond = lastDumpTotal(dir, pid) / ((performance.now() - idleStart) / 1000);
    const perWindow = windows.map((w) => Math.max(0, w.instructions - idlePerSecond * w.seconds) / w.requests);
    const raw = windows.map((w) => w.instructions / w.requests); // kept in the JSON: the counts before the idle correction
    const sorted = [...perWindow].sort((a, b) => a - b);
    const median = sorted.length % 2 ? sorted[(sorted.length - 1) / 2] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
    return {
      name: scenario.name, label: scenario.label, kind: scenario.kind, status: 'ok',
      instructions: Math.round(median), windows: perWindow.map(Math.round), raw: raw.map(Math.round),
      idlePerSecond: Math.round(idlePerSecond), non2xx,
      seconds: Math.round((Date.now() - started) / 1000),
    };
  } catch (err) {
    return { name: scenario.name, label: scenario.label, kind: scenario.kind, status: 'error', error: err.message.split('\n')[0].slice(0, 300) };
  } finally {
    if (target) await stopServer(target.server.child);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Run `fn` over `items`, at most `jobs` at a time, keeping the input order in the result. */
async function pool(items, jobs, fn) {
  const out = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(jobs, items.length) }, async () => {
    while (next < items.length) { const i = next++; out[i] = await fn(items[i]); }
  }));
  return out;
}

const k = (n) => `${Math.round(n / 1000)}k`;

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;

/**
 * Pool one or more runs (each { baseline: { runs }, rows }): a scenario's count is the mean of its runs' medians,
 * its ratio the mean baseline over that; each run's own ratio is kept to show how far runs agree.
 */
function pooled(runs) {
  const baseline = runs.flatMap((r) => r.baseline.runs);
  const base = mean(baseline);
  const names = [...new Set(runs.flatMap((r) => r.rows.map((row) => row.name)))];
  const rows = names.map((name) => {
    const seen = runs.map((run) => ({ run, row: run.rows.find((row) => row.name === name) })).filter((x) => x.row);
    const ok = seen.filter((x) => x.row.status === 'ok');
    const { label, kind } = seen[0].row;
    if (!ok.length) return { name, label, kind, status: 'error', error: seen[0].row.error };
    const instructions = Math.round(mean(ok.map((x) => x.row.instructions)));
    return {
      name, label, kind, status: 'ok', instructions, ratio: base / instructions,
      perRun: ok.map((x) => x.row.instructions), ratioPerRun: ok.map((x) => mean(x.run.baseline.runs) / x.row.instructions),
    };
  });
  return { baseline: { instructions: Math.round(base), runs: baseline }, rows };
}

function markdown(result) {
  const base = result.baseline;
  const many = result.runs.length > 1;
  const lines = [
    `Counted ${result.runs.map((r) => r.date).filter((d, i, a) => a.indexOf(d) === i).join(', ')} with valgrind ${result.valgrind} (callgrind) on ${result.cpu} (${result.cores} cores), Node ${result.node}: `
    + `${many ? `${result.runs.length} runs pooled; in each, ` : ''}${result.opts.warm} warm-up windows, then the median of ${result.opts.windows} windows of ${result.opts.window} requests, 10 connections. `
    + `Baseline (plain Express): ${k(base.instructions)} instructions per request (runs ${base.runs.map(k).join(', ')}).`,
    '',
    `| scenario | kind | instructions / request | × baseline |${many ? ' × baseline, each run |' : ''}`,
    `|---|---|--:|--:|${many ? '---|' : ''}`,
    ...result.rows.map((r) => (r.status === 'ok'
      ? `| ${r.label} | ${r.kind} | ${k(r.instructions)} | ${r.ratio.toFixed(3)} |${many ? ` ${r.ratioPerRun.map((x) => x.toFixed(3)).join(' / ')} |` : ''}`
      : `| ${r.label} | ${r.kind} | error: ${r.error} | |${many ? ' |' : ''}`)),
    '',
    '× baseline is the baseline\'s instructions per request over the scenario\'s (1.00 = free). User-space instructions of',
    'the server process only: the kernel and Redis are not counted (see bench/instructions.mjs). Timer-driven work,',
    'counted while idle, is taken out of every window: natively it is spread over ~100× more requests.',
  ];
  return lines.join('\n') + '\n';
}

function write(result, out) {
  console.log(`\nbaseline ${k(result.baseline.instructions)} instructions/request (runs ${result.baseline.runs.map(k).join(', ')})\n`);
  for (const r of result.rows) console.log(`${r.name.padEnd(36)} ${r.status === 'ok' ? `${k(r.instructions).padStart(6)}  ${r.ratio.toFixed(3)}×${r.ratioPerRun.length > 1 ? `  (runs ${r.ratioPerRun.map((x) => x.toFixed(3)).join(' / ')})` : ''}` : `error: ${r.error}`}`);
  mkdirSync(out, { recursive: true });
  writeFileSync(path.join(out, 'instructions.json'), JSON.stringify(result, null, 2) + '\n');
  writeFileSync(path.join(out, 'instructions.md'), markdown(result));
  console.log(`\nwrote ${path.relative(process.cwd(), out) || '.'}/instructions.{json,md}`);
}

/** --merge a.json,b.json: pool earlier runs (each an instructions.json) without counting anything. */
function merge(files, out) {
  const loaded = files.map((f) => JSON.parse(readFileSync(f, 'utf8')));
  const runs = loaded.flatMap((d) => d.runs ?? [d]);
  const windows = [...new Set(loaded.map((d) => d.opts?.windows))].join('–');
  write({ ...loaded[0], opts: { ...loaded[0].opts, windows }, ...pooled(runs), runs }, out);
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.merge) return merge(opts.merge, opts.out);
  const vg = spawnSync('valgrind', ['--version'], { encoding: 'utf8' });
  if (vg.status !== 0) throw new Error('valgrind is not installed (Debian: apt-get install valgrind)');
  if (!existsSync(path.join(root, 'dist', 'lib', 'index.js'))) throw new Error('express-principal is not built: run `npm run build` first');
  const list = plan(opts);
  // The baseline first and last, so a drift in the counts themselves would show.
  const order = [baselineScenario, ...list, baselineScenario];
  process.stderr.write(`${order.length} servers under callgrind, ${opts.jobs} at a time, ${opts.warm + opts.windows} windows of ${opts.window} requests each\n`);
  const rows = await pool(order, opts.jobs, async (s) => {
    const r = await countOne(s, opts);
    process.stderr.write(`${s.name.padEnd(36)} ${r.status === 'ok' ? `${k(r.instructions).padStart(6)} instr/req  windows ${r.windows.map(k).join(' ')}  idle ${k(r.idlePerSecond)}/s${r.non2xx ? `  non2xx ${r.non2xx}` : ''}  (${r.seconds} s)` : `error: ${r.error}`}\n`);
    return r;
  });
  const baseRuns = [rows[0], rows[rows.length - 1]].filter((r) => r.status === 'ok');
  if (!baseRuns.length) throw new Error(`the baseline could not be counted: ${rows[0].error}`);
  const run = {
    date: new Date().toISOString().slice(0, 10),
    baseline: { runs: baseRuns.map((r) => r.instructions), windows: baseRuns.map((r) => r.windows) },
    rows: rows.slice(1, -1),
  };
  write({
    valgrind: vg.stdout.trim().replace(/^valgrind-/, ''), cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length,
    node: process.versions.node, opts: { window: opts.window, warm: opts.warm, windows: opts.windows, idle: opts.idle },
    ...pooled([run]), runs: [run],
  }, opts.out);
  if (run.rows.some((r) => r.status !== 'ok')) process.exitCode = 1;
}

main().catch((err) => { console.error(err.message); process.exit(1); });
