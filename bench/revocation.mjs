// Revocation benchmark: `npm run build && node bench/revocation.mjs [--quick]`.
// Uses dist/lib/index.js (or EP_DIST=<path to index.js>) and the Redis at REDIS_URL (default 127.0.0.1:6379).
//
//  1. propagation: 1,000 logouts (jti revocations) on instance A, each polled on instance B until refused;
//     p50/p99 from the start of A's logout to B's first refusal. A and B are two middleware instances with
//     two node-redis clients in this one process (loopback; the poll yields with setImmediate).
//  2. memory: the local cache holding 1,000,000 revoked jtis (22-char base64url, as issued) across 100,000
//     subject marks, measured as heap growth after a forced GC.
//  3. per-request cost: the middleware called in-process (no HTTP) with one bearer token, statelessJwt without
//     a store vs with a redisStore (in sync: the check is local), interleaved rounds, same run; ratio.
// Prints a table and writes bench/results/revocation.json.

import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';
import os from 'node:os';
import { createClient } from 'redis';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const entry = process.env.EP_DIST || path.join(root, 'dist', 'lib', 'index.js');
const quick = process.argv.includes('--quick');
const lib = await import(pathToFileURL(entry).href).then((m) => (m.principal ? m : m.default));
const { RevocationCache } = await import(pathToFileURL(path.join(path.dirname(entry), 'state', 'revocation-cache.js')).href).then((m) => (m.RevocationCache ? m : m.default));
const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const secret = 'k8Jd02mXq9Lp3Zr7Tv5Wy1Ab4Cd6Ef8Gh0Ij2Kl';
const prefix = `bench:rv:${process.pid}:`;

/** Minimal req/res for calling the middleware without HTTP. */
function fakeReq(token) {
  return { method: 'GET', url: '/', path: '/', headers: token ? { authorization: `Bearer ${token}` } : {}, get(h) { return this.headers[h.toLowerCase()]; }, cookies: {} };
}
function fakeRes() {
  const headers = {};
  return { headers, statusCode: 200, setHeader(k, v) { headers[k.toLowerCase()] = v; }, getHeader(k) { return headers[k.toLowerCase()]; }, append() {}, cookie() {}, clearCookie() {}, removeHeader() {} };
}
function run(auth, req, res = fakeRes()) {
  return new Promise((resolve, reject) => auth(req, res, (err) => (err ? reject(err) : resolve(req))));
}

async function instance(name, withStore) {
  const client = createClient({ url: redisUrl, name: `bench-rv-${name}` });
  client.on('error', () => {});
  await client.connect();
  const store = withStore ? lib.redisStore({ client, prefix }) : undefined;
  const auth = lib.principal({ strategy: lib.statelessJwt({ secret, issuer: 'bench', audience: 'bench', ...(store ? { store } : {}) }) });
  return { client, auth, async close() { await auth.close(); await client.close(); } };
}

async function issue(inst, id) {
  const req = await run(inst.auth, fakeReq(null));
  return (await req.auth.login({ id })).token;
}

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

async function propagation(count) {
  const A = await instance('A', true);
  const B = await instance('B', true);
  const samples = [];
  let viaTimeout = 0;
  try {
    // Warm up: B's follower starts on its first check and reads the log.
    const warm = await issue(A, 'warm');
    await run(B.auth, fakeReq(warm));
    await new Promise((r) => setTimeout(r, 200));
    for (let i = 0; i < count; i++) {
      const token = await issue(A, `user${i % 100}`);
      const onB = await run(B.auth, fakeReq(token));
      if (!onB.principal) throw new Error('B refused a fresh token');
      const reqA = await run(A.auth, fakeReq(token));
      const t0 = performance.now();
      await reqA.auth.logout();
      for (;;) {
        const r = await run(B.auth, fakeReq(token));
        if (r.auth.error?.code === 'ERR_CREDENTIAL_REVOKED') break;
        if (r.auth.error) throw r.auth.error;
        if (performance.now() - t0 > 5000) { viaTimeout++; break; }
        await new Promise((res) => setImmediate(res));
      }
      samples.push(performance.now() - t0);
    }
  } finally {
    await A.close();
    await B.close();
  }
  samples.sort((a, b) => a - b);
  return { count, p50: pct(samples, 50), p99: pct(samples, 99), max: samples[samples.length - 1], timeouts: viaTimeout };
}

function memory(jtis, subjects) {
  // heapUsed + external: the compact jti set lives in typed arrays (ArrayBuffers are outside the JS heap).
  const used = () => { const m = process.memoryUsage(); return m.heapUsed + m.external; };
  gc(); gc();
  const before = used();
  const cache = new RevocationCache({ maxEntries: jtis + subjects + 1, retentionMs: 15 * 60_000, skewMs: 5000 });
  const now = Date.now();
  const t0 = performance.now();
  const sample = [];
  for (let i = 0; i < jtis; i++) {
    const jti = randomBytes(16).toString('base64url');
    if (i % 1000 === 0) sample.push(jti);
    cache.addJti(jti, now + 60_000 + (i % 840) * 1000);
  }
  for (let i = 0; i < subjects; i++) cache.addSubject(`user-${i}`, now, 15 * 60_000);
  const fillMs = performance.now() - t0;
  gc(); gc();
  const after = used();
  // Lookups as a request makes them: strings already in hand (they come from the verified token).
  const subjectsIn = Array.from({ length: 1000 }, (_, i) => `user-${i * 199}`);
  const missJtis = Array.from({ length: 1000 }, () => randomBytes(16).toString('base64url'));
  let hits = 0;
  const t1 = performance.now();
  for (let i = 0; i < 1_000_000; i++) if (cache.check(subjectsIn[i % 1000], i % 2 ? missJtis[i % 1000] : sample[i % sample.length], now) === 1) hits++;
  const checkNs = ((performance.now() - t1) * 1e6) / 1_000_000;
  const size = cache.size;
  // Steady state: a sweep that finds ~5 s worth of expiries (1/840 of the jtis expire each second here).
  const t3 = performance.now();
  cache.sweep(now + 65_000, true);
  const sweepStepMs = performance.now() - t3;
  const t2 = performance.now();
  cache.sweep(now + 16 * 60_000, true);
  const sweepAllMs = performance.now() - t2;
  cache.close();
  return { jtis, subjects, entries: size, bytes: after - before, bytesPerEntry: (after - before) / size, fillMs, checkNs, sweepStepMs, sweepAllMs, sizeAfterSweep: cache.size, hits };
}

async function perRequest(iterations, rounds) {
  const plain = await instance('plain', false);
  const withStore = await instance('store', true);
  const tPlain = await issue(plain, 'alice');
  const tStore = await issue(withStore, 'alice');
  // Warm up both (JIT, verified-token cache, follower in sync).
  for (let i = 0; i < 20_000; i++) { await run(plain.auth, fakeReq(tPlain)); await run(withStore.auth, fakeReq(tStore)); }
  await new Promise((r) => setTimeout(r, 300));
  // CPU time of this process per request (user + system): far less sensitive than wall time to other load
  // on the machine; wall time is reported too.
  const measure = async (inst, token) => {
    const req = fakeReq(token);
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < iterations; i++) {
      const r = await run(inst.auth, req);
      if (!r.principal) throw new Error(`refused: ${r.auth.error?.code}`);
      // A server gets every request through I/O; a loop of resolved promises would starve the follower's
      // socket (its XREAD replies) and age the cache past the bound. Yield to I/O now and then, in both variants.
      if (i % 500 === 499) await new Promise((res) => setImmediate(res));
    }
    const cpu = process.cpuUsage(c0);
    return { cpuUs: (cpu.user + cpu.system) / iterations, wallUs: ((performance.now() - t0) * 1000) / iterations };
  };
  const stats = { plain: [], store: [] };
  for (let r = 0; r < rounds; r++) {
    // Alternate the order so drift in machine load hits both variants alike.
    if (r % 2 === 0) { stats.plain.push(await measure(plain, tPlain)); stats.store.push(await measure(withStore, tStore)); }
    else { stats.store.push(await measure(withStore, tStore)); stats.plain.push(await measure(plain, tPlain)); }
  }
  await plain.close();
  await withStore.close();
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const plainUs = median(stats.plain.map((x) => x.cpuUs));
  const storeUs = median(stats.store.map((x) => x.cpuUs));
  const plainWallUs = median(stats.plain.map((x) => x.wallUs));
  const storeWallUs = median(stats.store.map((x) => x.wallUs));
  return {
    iterations, rounds, plainUs, storeUs, slowdownPct: ((storeUs - plainUs) / plainUs) * 100, throughputRatio: plainUs / storeUs,
    plainWallUs, storeWallUs, wallSlowdownPct: ((storeWallUs - plainWallUs) / plainWallUs) * 100, rounds_: stats,
  };
}

const result = { date: new Date().toISOString(), node: process.version, cpus: os.cpus().length, cpu: os.cpus()[0]?.model, loadavg: os.loadavg(), quick };
result.propagation = await propagation(quick ? 200 : 1000);
result.perRequest = await perRequest(quick ? 20_000 : 50_000, quick ? 5 : 11);
result.memory = memory(quick ? 100_000 : 1_000_000, quick ? 10_000 : 100_000);

// Clean the bench keys (SCAN by prefix).
{
  const c = createClient({ url: redisUrl });
  await c.connect();
  for await (const keys of c.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) if (keys.length) await c.unlink(keys);
  await c.close();
}

const mb = (b) => `${(b / 1024 / 1024).toFixed(1)} MB`;
const rows = [
  ['propagation A→B (1 logout)', `p50 ${result.propagation.p50.toFixed(2)} ms, p99 ${result.propagation.p99.toFixed(2)} ms, max ${result.propagation.max.toFixed(1)} ms over ${result.propagation.count}`, 'p99 < 50 ms', result.propagation.p99 < 50 ? 'met' : 'NOT met'],
  ['per request, no store (CPU)', `${result.perRequest.plainUs.toFixed(2)} µs (wall ${result.perRequest.plainWallUs.toFixed(2)} µs)`, '', ''],
  ['per request, redisStore in sync (CPU)', `${result.perRequest.storeUs.toFixed(2)} µs (${result.perRequest.slowdownPct.toFixed(1)} % slower; wall ${result.perRequest.storeWallUs.toFixed(2)} µs, ${result.perRequest.wallSlowdownPct.toFixed(1)} %)`, '≤ 5 % slower', result.perRequest.slowdownPct <= 5 ? 'met' : 'NOT met'],
  [`cache memory, ${result.memory.jtis} jtis + ${result.memory.subjects} subjects`, `${mb(result.memory.bytes)} (${result.memory.bytesPerEntry.toFixed(0)} B/entry); check ${result.memory.checkNs.toFixed(0)} ns; sweep ${result.memory.sweepStepMs.toFixed(1)} ms (5 s of expiries), ${result.memory.sweepAllMs.toFixed(0)} ms (all)`, 'bounded, stated', result.memory.sizeAfterSweep === 0 ? 'met' : 'NOT met'],
];
const w = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i].length)));
console.log(`\nRevocation benchmark — ${result.date}, Node ${result.node}, ${result.cpus}× ${result.cpu}, load ${result.loadavg.map((l) => l.toFixed(1)).join(' ')}${quick ? ' (quick)' : ''}`);
for (const r of rows) console.log(r.map((c, i) => c.padEnd(w[i])).join(' | '));
if (result.loadavg[0] > os.cpus().length) console.log(`warning: load average ${result.loadavg[0].toFixed(1)} > ${os.cpus().length} cores: timings are noisy`);
mkdirSync(path.join(root, 'bench', 'results'), { recursive: true });
writeFileSync(path.join(root, 'bench', 'results', 'revocation.json'), `${JSON.stringify(result, null, 2)}\n`);
console.log('wrote bench/results/revocation.json');
