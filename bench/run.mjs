#!/usr/bin/env node
// express-principal benchmark: plain Express baseline (interleaved) vs peers vs ours.
//
//   node bench/run.mjs            full run (every scenario, 8 s measured each; < 10 min)
//   node bench/run.mjs --quick    fewer scenarios, 2 s each (< 2 min)
//   node bench/run.mjs --quick --smoke   exit 1 unless every scenario ran with throughput > 0 and no non-2xx
//
// Options: --passes N (N passes, alternate passes in reverse order; default 1), --duration S, --warmup S,
//          --paired (baseline in 1-s slices alternating with each scenario's; for busy machines),
//          --nice N (run server and load generator N steps above normal priority, needs root; for shared machines),
//          --connections N, --only a,b,c (scenario names; the baseline always runs), --build (force `npm run build`),
//          --no-build (never build), --out DIR (default bench/results; bench/results/tmp with --smoke).
//
// The server runs in a child process (bench/server.mjs) pinned to core 1; this process (the load generator,
// autocannon) pins itself to core 0 — when `taskset` exists.

import { spawnSync, execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { all, baselineScenario, scenarios } from './scenarios.mjs';
import { prepare as prepareServer, stopServer } from './server-process.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');

// ------------------------------------------------------------------------------------------- options

function parseArgs(argv) {
  let outGiven = false;
  const opts = { quick: false, smoke: false, passes: 1, nice: 0, connections: 10, only: null, build: 'auto', out: path.join(here, 'results') };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => { const v = argv[++i]; if (v === undefined) throw new Error(`${a} needs a value`); return v; };
    if (a === '--quick') opts.quick = true;
    else if (a === '--smoke') opts.smoke = true;
    else if (a === '--passes') opts.passes = Math.max(1, parseInt(val(), 10));
    else if (a === '--duration') opts.duration = Number(val());
    else if (a === '--warmup') opts.warmup = Number(val());
    else if (a === '--connections') opts.connections = parseInt(val(), 10);
    else if (a === '--nice') opts.nice = parseInt(val(), 10);
    else if (a === '--paired') opts.paired = true;
    else if (a === '--only') opts.only = val().split(',').map((s) => s.trim()).filter(Boolean);
    else if (a === '--build') opts.build = 'always';
    else if (a === '--no-build') opts.build = 'never';
    else if (a === '--out') { opts.out = path.resolve(val()); outGiven = true; }
    else if (a === '--help' || a === '-h') { console.log(readmeHint()); process.exit(0); }
    else throw new Error(`unknown option ${a} (try --help)`);
  }
  if (opts.smoke && !outGiven) opts.out = path.join(here, 'results', 'tmp'); // keep the committed results intact
  opts.duration ??= opts.quick ? 2 : 8;
  opts.warmup ??= opts.quick ? 1 : 2;
  return opts;
}

function readmeHint() {
  return 'usage: node bench/run.mjs [--quick] [--smoke] [--passes N] [--duration S] [--warmup S] '
    + '[--connections N] [--nice N] [--paired] [--only a,b] [--build|--no-build] [--out DIR]\nscenarios: ' + all.map((s) => s.name).join(', ');
}

// ------------------------------------------------------------------------------------------- helpers

const hasTaskset = spawnSync('taskset', ['-V'], { stdio: 'ignore' }).status === 0 && os.cpus().length >= 2;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const round = (n, d = 2) => (n == null || !Number.isFinite(n) ? null : Math.round(n * 10 ** d) / 10 ** d);
const mean = (xs) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);

function pinSelf() {
  if (!hasTaskset) return false;
  try {
    execFileSync('taskset', ['-a', '-c', '-p', '0', String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch { return false; }
}

function ensureBuild(mode) {
  const entry = path.join(root, 'dist', 'lib', 'index.js');
  if (mode === 'never' || (mode === 'auto' && existsSync(entry))) return null;
  process.stderr.write('building express-principal (npm run build)…\n');
  const r = spawnSync('npm', ['run', 'build'], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) {
    const out = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n').slice(-8).join('\n');
    process.stderr.write(`build failed — our scenarios will be recorded as errors:\n${out}\n`);
    return `npm run build failed: ${out.split('\n').find((l) => /error/i.test(l)) ?? out.split('\n').pop()}`;
  }
  return null;
}

/**
 * Servers load express-principal from a copy of dist/ taken now, so a rebuild during the run (rm -rf dist) cannot
 * break scenarios half-way. The copy lives inside the repo (git-ignored) so node_modules still resolves.
 */
function snapshotDist(buildError) {
  const src = path.join(root, 'dist');
  if (buildError || !existsSync(path.join(src, 'lib', 'index.js'))) return;
  const dest = path.join(here, 'results', 'tmp', `dist-${process.pid}`);
  try {
    cpSync(src, dest, { recursive: true });
    process.env.BENCH_DIST = dest;
    process.on('exit', () => { try { rmSync(dest, { recursive: true, force: true }); } catch { /* ignore */ } });
  } catch (err) {
    process.stderr.write(`could not snapshot dist/ (${err.message}); servers load it directly\n`);
  }
}

/** Run autocannon; also record every response time (autocannon's own histogram has 1 ms resolution). */
function cannon(opts, latencies) {
  return new Promise((resolve, reject) => {
    const instance = autocannon(opts, (err, result) => (err ? reject(err) : resolve(result)));
    if (latencies) instance.on('response', (client, statusCode, bytes, responseTime) => latencies.push(responseTime));
  });
}

/** Nearest-rank percentile (ms) of a sorted Float64Array. */
function percentile(sorted, p) {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

let cpuSeq = 0;
/** The server's cumulative CPU time (µs, user + system). */
function serverCpu(child) {
  return new Promise((resolve, reject) => {
    const id = ++cpuSeq;
    const t = setTimeout(() => { child.off('message', on); reject(new Error('server did not report its CPU time')); }, 5_000);
    const on = (m) => {
      if (m?.type === 'cpu' && m.id === id) { clearTimeout(t); child.off('message', on); resolve(m.usage.user + m.usage.system); }
    };
    child.on('message', on);
    child.send({ type: 'cpu', id });
  });
}

/** Start a scenario's server on core 1 (the child inherits --nice), log in, probe; resolve { server, load }. */
const prepare = (scenario, opts) => prepareServer(scenario, { connections: opts.connections, wrap: hasTaskset ? ['taskset', '-c', '1'] : [] });

/** One measured window; returns raw counters to be summed over windows. */
async function measure(target, duration) {
  const latencies = [];
  const cpu0 = await serverCpu(target.server.child);
  const r = await cannon({ ...target.load, duration }, latencies);
  const cpu1 = await serverCpu(target.server.child);
  return {
    requests: r.requests.total, seconds: r.duration > 1000 ? r.duration / 1000 : r.duration, // autocannon: seconds
    cpu: cpu1 - cpu0, latencies, non2xx: r.non2xx, errors: r.errors, timeouts: r.timeouts,
  };
}

function summarize(scenario, windows, started) {
  const sum = (k) => windows.reduce((a, w) => a + w[k], 0);
  const latencies = windows.flatMap((w) => w.latencies);
  const sorted = Float64Array.from(latencies).sort();
  const requests = sum('requests');
  return {
    name: scenario.name, label: scenario.label, kind: scenario.kind, status: 'ok',
    rps: requests / sum('seconds'),
    cpuUs: sum('cpu') / requests, // server CPU per request (µs), Redis's own CPU not included
    p50: round(percentile(sorted, 50), 3), p99: round(percentile(sorted, 99), 3),
    mean: round(mean(latencies), 3), max: round(sorted[sorted.length - 1], 2),
    non2xx: sum('non2xx'), errors: sum('errors'), timeouts: sum('timeouts'), requests,
    seconds: round((Date.now() - started) / 1000, 1),
  };
}

const errorRow = (scenario, err) => ({
  name: scenario.name, label: scenario.label, kind: scenario.kind, status: 'error', error: err.message.split('\n')[0].slice(0, 300),
});

async function runOne(scenario, opts) {
  const started = Date.now();
  let target;
  try {
    target = await prepare(scenario, opts);
    if (opts.warmup > 0) await cannon({ ...target.load, duration: opts.warmup });
    return summarize(scenario, [await measure(target, opts.duration)], started);
  } catch (err) {
    return errorRow(scenario, err);
  } finally {
    if (target) await stopServer(target.server.child);
  }
}

/**
 * --paired: the baseline server stays up for the whole run; each scenario is measured in 1-second slices that
 * alternate with baseline slices (S B B S S B …), so both see the same background load. Returns the scenario's
 * row (with `pairedBaseRps`) and the baseline row of its pairs.
 */
async function runPaired(scenario, baseTarget, opts) {
  const started = Date.now();
  let target;
  try {
    target = await prepare(scenario, opts);
    if (opts.warmup > 0) await cannon({ ...target.load, duration: opts.warmup });
    const slices = Math.max(2, Math.round(opts.duration));
    const mine = [], theirs = [];
    for (let i = 0; i < slices; i++) {
      const order = i % 2 === 0 ? [[target, mine], [baseTarget, theirs]] : [[baseTarget, theirs], [target, mine]];
      for (const [t, into] of order) into.push(await measure(t, opts.duration / slices));
    }
    const row = summarize(scenario, mine, started);
    const baseRow = summarize(baselineScenario, theirs, started);
    row.pairedBaseRps = baseRow.rps;
    row.pairedBaseP99 = baseRow.p99;
    // One ratio per pair of adjacent slices: their spread says how far this run's ratio can be trusted.
    row.pairRatios = mine.map((w, i) => (w.requests / w.seconds) / (theirs[i].requests / theirs[i].seconds));
    return [row, baseRow];
  } catch (err) {
    return [errorRow(scenario, err)];
  } finally {
    if (target) await stopServer(target.server.child);
  }
}

// ------------------------------------------------------------------------------------------- plan

function plan(opts) {
  let list = scenarios.filter((s) => !opts.quick || s.quick);
  if (opts.only) {
    const unknown = opts.only.filter((n) => !all.some((s) => s.name === n));
    if (unknown.length) throw new Error(`unknown scenario(s): ${unknown.join(', ')}\n${readmeHint()}`);
    list = all.filter((s) => s !== baselineScenario && opts.only.includes(s.name));
  }
  const runs = [];
  for (let p = 0; p < opts.passes; p++) {
    const order = p % 2 === 0 ? list : [...list].reverse();
    const mid = Math.ceil(order.length / 2);
    runs.push(baselineScenario, ...order.slice(0, mid), baselineScenario, ...order.slice(mid), baselineScenario);
  }
  return { list, runs };
}

// ------------------------------------------------------------------------------------------- aggregate

/** Two-sided 95 % Student t quantiles for 1..30 degrees of freedom (beyond: 1.96). */
const T95 = [12.71, 4.30, 3.18, 2.78, 2.57, 2.45, 2.36, 2.31, 2.26, 2.23, 2.20, 2.18, 2.16, 2.14, 2.13,
  2.12, 2.11, 2.10, 2.09, 2.09, 2.08, 2.07, 2.07, 2.06, 2.06, 2.06, 2.05, 2.05, 2.05, 2.04];

/** Half-width of the 95 % confidence interval of the mean of `xs` (null below two values). */
function ci95(xs) {
  if (xs.length < 2) return null;
  const m = mean(xs);
  const sd = Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1));
  return (T95[xs.length - 2] ?? 1.96) * sd / Math.sqrt(xs.length);
}

function aggregate(list, raw) {
  const baseRuns = raw.filter((r) => r.kind === 'baseline');
  const baseOk = baseRuns.filter((r) => r.status === 'ok');
  const baseRps = mean(baseOk.map((r) => r.rps));
  const baseP99 = mean(baseOk.map((r) => r.p99));
  const baseCpu = mean(baseOk.map((r) => r.cpuUs));
  const rows = [];
  for (const s of [baselineScenario, ...list]) {
    const runs = raw.filter((r) => r.name === s.name);
    const ok = runs.filter((r) => r.status === 'ok');
    if (!ok.length) {
      rows.push({ name: s.name, label: s.label, kind: s.kind, status: 'error', error: runs[0]?.error ?? 'did not run' });
      continue;
    }
    const rps = mean(ok.map((r) => r.rps));
    const p99 = mean(ok.map((r) => r.p99));
    const cpuUs = mean(ok.map((r) => r.cpuUs));
    rows.push({
      name: s.name, label: s.label, kind: s.kind, status: 'ok',
      rps: round(rps, 0),
      // --paired: over the baseline slices interleaved with this scenario's; otherwise over the mean baseline.
      ratio: round(ok.every((r) => r.pairedBaseRps) ? rps / mean(ok.map((r) => r.pairedBaseRps)) : rps / baseRps, 3),
      // --paired: ± half-width of the 95 % confidence interval, from the ratios of adjacent slice pairs.
      ratioCi95: round(ci95(ok.flatMap((r) => r.pairRatios ?? [])), 3),
      cpuUs: round(cpuUs, 1),
      cpuRatio: round(baseCpu / cpuUs, 3), // baseline CPU/request over this one's (less sensitive to other load than req/s)
      p50: round(mean(ok.map((r) => r.p50)), 2),
      p99: round(p99, 2),
      // p99 minus the baseline's (target: ≤ 1 ms); --paired: the baseline slices interleaved with this scenario's.
      dp99: round(p99 - (ok.every((r) => r.pairedBaseP99 != null) ? mean(ok.map((r) => r.pairedBaseP99)) : baseP99), 2),
      non2xx: ok.reduce((a, r) => a + r.non2xx, 0),
      errors: ok.reduce((a, r) => a + r.errors + r.timeouts, 0),
      runs: ok.map((r) => round(r.rps, 0)),
      ...(ok.length < runs.length ? { error: runs.find((r) => r.status === 'error').error } : {}),
    });
  }
  const baseline = {
    rps: round(baseRps, 0),
    p99: round(baseP99, 2),
    cpuUs: round(baseCpu, 1),
    runs: baseRuns.map((r) => (r.status === 'ok' ? round(r.rps, 0) : null)),
    spread: baseOk.length ? round((Math.max(...baseOk.map((r) => r.rps)) - Math.min(...baseOk.map((r) => r.rps))) / baseRps, 3) : null,
  };
  return { baseline, rows };
}

// ------------------------------------------------------------------------------------------- output

function table(rows) {
  const head = ['scenario', 'kind', 'req/s', 'ratio', 'cpu µs/req', 'cpu ratio', 'p50 ms', 'p99 ms', 'Δp99', 'non2xx'];
  const body = rows.map((r) => (r.status === 'ok'
    ? [r.name, r.kind, String(r.rps), r.ratio.toFixed(2) + (r.ratioCi95 != null ? ` ±${r.ratioCi95.toFixed(2)}` : ''), r.cpuUs.toFixed(0), r.cpuRatio.toFixed(2), r.p50.toFixed(2), r.p99.toFixed(2), (r.dp99 >= 0 ? '+' : '') + r.dp99.toFixed(2), String(r.non2xx + (r.errors ? ` (+${r.errors} err)` : ''))]
    : [r.name, r.kind, 'error', '', '', '', '', '', '', r.error]));
  const last = head.length - 1;
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (i === last ? 0 : b[i].length))));
  const line = (cells) => cells.map((c, i) => (i === 0 || i === 1 || i === last ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

function markdown(result) {
  const { meta, baseline, rows } = result;
  const lines = [
    `Measured ${meta.date.slice(0, 10)} on ${meta.machine} (${meta.cores} cores), Node ${meta.node}, Express ${meta.express}; `
      + `${meta.mode} run, ${meta.duration} s per scenario after ${meta.warmup} s warm-up, ${meta.connections} connections, `
      + `${meta.passes} pass(es), server and load generator ${meta.pinned ? 'pinned to separate cores' : 'not pinned (no taskset)'}. `
      + `Baseline (plain Express, no auth): ${baseline.rps} req/s, mean of ${baseline.runs.length} interleaved runs`
      + `${meta.paired ? ' (paired mode: each ratio is over the 1-s baseline slices alternated with that scenario\'s; ± is the 95 % confidence interval from the ratios of adjacent slice pairs)' : ''} `
      + `(spread ${baseline.spread == null ? 'n/a' : `${Math.round(baseline.spread * 100)} %`}).`,
    '',
    '| scenario | kind | req/s | × baseline | server CPU µs/req | × baseline (CPU) | p50 ms | p99 ms | p99 − baseline p99 | non-2xx |',
    '|---|---|--:|--:|--:|--:|--:|--:|--:|--:|',
    ...rows.map((r) => (r.status === 'ok'
      ? `| ${r.label} | ${r.kind} | ${r.rps} | ${r.ratio.toFixed(2)}${r.ratioCi95 != null ? ` ±${r.ratioCi95.toFixed(2)}` : ''} | ${r.cpuUs.toFixed(0)} | ${r.cpuRatio.toFixed(2)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${(r.dp99 >= 0 ? '+' : '') + r.dp99.toFixed(2)} | ${r.non2xx} |`
      : `| ${r.label} | ${r.kind} | error | | | | | | | ${r.error.replace(/\|/g, '\\|')} |`)),
    '',
  ];
  return lines.join('\n');
}

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function svg(result) {
  const { meta, rows } = result;
  const colors = { baseline: '#6b7280', reference: '#9ca3af', peer: '#f59e0b', ours: '#2563eb' };
  const W = 900, labelW = 330, rightPad = 70, rowH = 24, top = 58, barH = 16;
  const plotW = W - labelW - rightPad;
  const maxRatio = Math.max(1.1, ...rows.filter((r) => r.status === 'ok').map((r) => r.ratio)) * 1.02;
  const x = (ratio) => labelW + (ratio / maxRatio) * plotW;
  const H = top + rows.length * rowH + 56;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="12" y="22" font-size="15" font-weight="600" fill="#111827">Throughput as a ratio of plain Express (higher is better)</text>`,
    `<text x="12" y="40" fill="#4b5563">${esc(`${meta.date.slice(0, 10)} · ${meta.machine} · ${meta.cores} cores · Node ${meta.node} · ${meta.mode} run, ${meta.connections} connections`)}</text>`,
  ];
  for (let t = 0; t <= maxRatio + 1e-9; t += 0.25) {
    const tx = x(t).toFixed(1);
    out.push(`<line x1="${tx}" y1="${top - 4}" x2="${tx}" y2="${top + rows.length * rowH}" stroke="#e5e7eb"/>`);
    out.push(`<text x="${tx}" y="${top + rows.length * rowH + 14}" text-anchor="middle" fill="#6b7280">${t.toFixed(2)}×</text>`);
  }
  rows.forEach((r, i) => {
    const y = top + i * rowH;
    out.push(`<text x="${labelW - 8}" y="${y + barH - 3}" text-anchor="end" fill="#111827">${esc(r.label)}</text>`);
    if (r.status === 'ok') {
      const w = Math.max(1, x(r.ratio) - labelW);
      out.push(`<rect x="${labelW}" y="${y}" width="${w.toFixed(1)}" height="${barH}" rx="2" fill="${colors[r.kind]}"><title>${esc(`${r.label}: ${r.rps} req/s, ${r.ratio}×, p50 ${r.p50} ms, p99 ${r.p99} ms`)}</title></rect>`);
      out.push(`<text x="${(labelW + w + 5).toFixed(1)}" y="${y + barH - 3}" fill="#111827">${r.ratio.toFixed(2)}×</text>`);
    } else {
      out.push(`<text x="${labelW + 5}" y="${y + barH - 3}" fill="#b91c1c">error: ${esc(r.error.length > 88 ? `${r.error.slice(0, 87)}…` : r.error)}</text>`);
    }
  });
  const one = x(1).toFixed(1);
  out.push(`<line x1="${one}" y1="${top - 8}" x2="${one}" y2="${top + rows.length * rowH}" stroke="#dc2626" stroke-width="1.5" stroke-dasharray="4 3"/>`);
  const ly = H - 12;
  [['ours', 'express-principal'], ['peer', 'peers'], ['baseline', 'baseline']].forEach(([k, txt], i) => {
    const lx = labelW + i * 150;
    out.push(`<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${colors[k]}"/><text x="${lx + 17}" y="${ly}" fill="#374151">${txt}</text>`);
  });
  out.push('</svg>', '');
  return out.join('\n');
}

// ------------------------------------------------------------------------------------------- main

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const pinned = pinSelf();
  if (opts.nice) {
    try { os.setPriority(process.pid, -opts.nice); opts.niceApplied = true; }
    catch (err) { process.stderr.write(`--nice ${opts.nice}: cannot raise priority (${err.code ?? err.message}); running at normal priority\n`); }
  }
  const buildError = ensureBuild(opts.build);
  snapshotDist(buildError);
  const { list, runs } = plan(opts);
  const perRun = opts.paired ? opts.warmup + 2 * opts.duration + 1 : opts.warmup + opts.duration + 0.7;
  const nRuns = opts.paired ? list.length : runs.length;
  const load0 = os.loadavg()[0];
  if (load0 > 0.7) process.stderr.write(`warning: load average ${load0.toFixed(2)} before the run — other processes are using the CPU; expect noisy req/s (the CPU-per-request columns are steadier)\n`);
  process.stderr.write(`${nRuns} runs × ~${perRun.toFixed(1)} s ≈ ${Math.ceil((nRuns * perRun) / 60)} min`
    + `${pinned ? ' (load generator on core 0, server on core 1)' : ' (not pinned)'}\n`);

  const raw = [];
  const report = (r) => process.stderr.write(r.status === 'ok'
    ? `${Math.round(r.rps)} req/s${r.pairedBaseRps ? ` (${(r.rps / r.pairedBaseRps).toFixed(2)}× its paired baseline)` : ''}  ${Math.round(r.cpuUs)} µs cpu/req  p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms${r.non2xx ? `  non2xx ${r.non2xx}` : ''}\n`
    : `error: ${r.error}\n`);
  if (opts.paired) {
    const baseTarget = await prepare(baselineScenario, opts);
    await cannon({ ...baseTarget.load, duration: Math.max(opts.warmup, 1) });
    for (const [i, s] of list.entries()) {
      process.stderr.write(`[${String(i + 1).padStart(2)}/${list.length}] ${s.name.padEnd(36)} `);
      const rows = s.kind === 'ours' && buildError ? [errorRow(s, new Error(buildError))] : await runPaired(s, baseTarget, opts);
      raw.push(...rows);
      report(rows[0]);
    }
    await stopServer(baseTarget.server.child);
  }
  for (const [i, s] of (opts.paired ? [] : runs).entries()) {
    process.stderr.write(`[${String(i + 1).padStart(2)}/${runs.length}] ${s.name.padEnd(36)} `);
    const r = s.kind === 'ours' && buildError ? { name: s.name, label: s.label, kind: s.kind, status: 'error', error: buildError } : await runOne(s, opts);
    raw.push(r);
    report(r);
    await sleep(200);
  }

  const { baseline, rows } = aggregate(list, raw);
  let expressVersion = 'unknown';
  try { expressVersion = JSON.parse((await import('node:fs')).readFileSync(path.join(root, 'node_modules/express/package.json'), 'utf8')).version; } catch { /* ignore */ }
  const meta = {
    date: new Date().toISOString(),
    machine: os.cpus()[0]?.model?.trim() ?? 'unknown',
    cores: os.cpus().length,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version.replace(/^v/, ''),
    express: expressVersion,
    mode: opts.quick ? 'quick' : 'full',
    duration: opts.duration, warmup: opts.warmup, connections: opts.connections, passes: opts.passes, paired: !!opts.paired,
    pinned,
    priorityBoost: opts.niceApplied ? opts.nice : 0,
    loadavgBefore: round(load0, 2),
    loadavgAfter: round(os.loadavg()[0], 2),
  };
  const result = { meta, baseline, rows, raw };

  console.log(`\nbaseline: ${baseline.rps} req/s (runs ${baseline.runs.join(', ')}; spread ${baseline.spread == null ? 'n/a' : `${Math.round(baseline.spread * 100)} %`})\n`);
  console.log(table(rows));
  if (baseline.spread > 0.2 && meta.paired) {
    console.log(`\nnote: the baseline moved by ${Math.round(baseline.spread * 100)} % between scenarios (load average ${meta.loadavgBefore} → ${meta.loadavgAfter}); `
      + 'paired ratios compare each scenario with baseline slices taken in the same seconds, which cancels most of it.');
  } else if (baseline.spread > 0.2) {
    console.log(`\nwarning: the baseline moved by ${Math.round(baseline.spread * 100)} % between its runs (load average ${meta.loadavgBefore} → ${meta.loadavgAfter}): `
      + 'something else used the CPU; the req/s ratios are unreliable in this run — read the cpu ratio column or rerun on a quiet machine.');
  }

  mkdirSync(opts.out, { recursive: true });
  writeFileSync(path.join(opts.out, 'latest.json'), JSON.stringify(result, null, 2) + '\n');
  writeFileSync(path.join(opts.out, 'latest.md'), markdown(result));
  writeFileSync(path.join(opts.out, 'latest.svg'), svg(result));
  console.log(`\nwrote ${path.relative(process.cwd(), opts.out) || '.'}/latest.{json,md,svg}`);

  if (opts.smoke) {
    const bad = raw.filter((r) => r.status !== 'ok' || !(r.rps > 0) || r.non2xx > 0 || r.errors > 0);
    if (bad.length) {
      console.error(`\nsmoke: FAILED — ${bad.map((r) => `${r.name}: ${r.status !== 'ok' ? r.error : `rps ${Math.round(r.rps)}, non2xx ${r.non2xx}, errors ${r.errors}`}`).join('; ')}`);
      process.exit(1);
    }
    console.log('smoke: ok — every scenario completed with throughput > 0 and no non-2xx');
  }
}

main().then(() => process.exit(process.exitCode ?? 0), (err) => { console.error(err.stack ?? err); process.exit(2); });
