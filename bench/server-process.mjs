// A scenario's server as a child process (bench/server.mjs <scenario>), shared by bench/run.mjs (throughput, pinned
// with taskset) and bench/instructions.mjs (instruction counts, run under valgrind).

import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');

/**
 * Start bench/server.mjs <name>, behind `wrap` (e.g. ['taskset', '-c', '1'] or a valgrind command line);
 * resolve { child, port, credential } or reject. `child.pid` is the server's own pid when `wrap` execs it.
 */
export function startServer(name, { wrap = [], startTimeoutMs = 30_000 } = {}) {
  const [cmd, ...rest] = [...wrap, process.execPath, path.join(here, 'server.mjs'), name];
  const child = spawn(cmd, rest, {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    env: { ...process.env, NODE_ENV: 'production' },
  });
  let output = '';
  const keep = (d) => { output = (output + d).slice(-4000); };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  return new Promise((resolve, reject) => {
    const fail = (msg) => { clearTimeout(timer); child.kill('SIGKILL'); reject(new Error(msg)); };
    const timer = setTimeout(() => fail(`server did not start within ${startTimeoutMs / 1000} s${output ? `: ${output.trim()}` : ''}`), startTimeoutMs);
    child.on('message', (m) => {
      if (m?.type === 'ready') { clearTimeout(timer); resolve({ child, port: m.port, credential: m.credential }); }
      else if (m?.type === 'error') fail(m.message);
    });
    child.on('exit', (code, sig) => fail(`server exited (${sig ?? code}) before it was ready${output ? `: ${output.trim().split('\n').slice(-3).join(' | ')}` : ''}`));
    child.on('error', (err) => fail(`cannot start server: ${err.message}`));
  });
}

export async function stopServer(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(t);
}

/** Turn the scenario's credential recipe into request headers (logging in once if needed). */
export async function credentialHeaders(base, credential) {
  if (credential?.headers) return credential.headers;
  if (!credential?.login) throw new Error('scenario setup returned no credential ({ headers } or { login })');
  const res = await fetch(base + credential.login, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}',
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`POST ${credential.login} → ${res.status} ${text.slice(0, 200)}`);
  let token = null;
  try { token = JSON.parse(text)?.token ?? null; } catch { /* not JSON */ }
  if (token) return { authorization: `Bearer ${token}` };
  const cookies = res.headers.getSetCookie().map((c) => c.split(';')[0]).filter((c) => !/=$/.test(c));
  if (cookies.length) return { cookie: cookies.join('; ') };
  throw new Error(`POST ${credential.login} returned neither { token } nor a Set-Cookie`);
}

/** Start a scenario's server, get its credential and check it with one probe request; resolve { server, load }. */
export async function prepare(scenario, { connections, wrap, startTimeoutMs }) {
  const server = await startServer(scenario.name, { wrap, startTimeoutMs });
  try {
    const base = `http://127.0.0.1:${server.port}`;
    const headers = await credentialHeaders(base, server.credential);
    // Probe: the credential must get a 2xx before we measure anything.
    const probe = await fetch(`${base}/me`, { headers });
    const body = await probe.text();
    if (!probe.ok) throw new Error(`probe GET /me → ${probe.status} ${body.slice(0, 200)}`);
    return { server, load: { url: `${base}/me`, connections, headers, pipelining: 1 } };
  } catch (err) {
    await stopServer(server.child);
    throw err;
  }
}
