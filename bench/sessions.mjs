#!/usr/bin/env node
// Sessions and devices at scale: how long `auth.sessions.list(subject)` takes, and how much memory it holds, for a
// subject with N live sessions (default 10,000), on Redis and in memory; and what one session costs in Redis
// (the record with its device data, and its index member).
//
//   npm run build && node bench/sessions.mjs [--sessions N] [--redis redis://127.0.0.1:6379]
//
// The sessions are written through the store directly (one record and one index member each, as a login writes
// them), not through N HTTP logins: what is measured is the listing.

import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';

const require = createRequire(import.meta.url);
const lib = require('../dist/lib/index.js');
const { createClient } = require('redis');

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : process.argv[i + 1];
};
const N = Number(arg('sessions', '10000'));
const url = arg('redis', process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const secret = 'bench-sessions-secret-0123456789abcdef';

function record(now, i) {
  return {
    id: 'alice', roles: ['user'], scopes: [], claims: {},
    issuedAt: now - i, authAt: now - i, loadedAt: now - i, absExp: now + 12 * 3600e3, lastSeen: now - i, idleMs: 30 * 60e3,
    device: 'Chrome 131 on macOS', address: '203.0.113.0/24',
  };
}

async function fill(store, n) {
  const now = Date.now();
  for (let start = 0; start < n; start += 1000) {
    await Promise.all(Array.from({ length: Math.min(1000, n - start) }, async (_, j) => {
      const sid = randomBytes(24).toString('base64url');
      await store.set(`s:${sid}`, JSON.stringify(record(now, start + j)), 12 * 3600e3);
      await store.indexAdd('alice', sid, 12 * 3600e3);
    }));
  }
}

async function measure(label, store) {
  await fill(store, N);
  const auth = lib.principal({ strategy: lib.statefulJwt({ secret, store }) });
  await auth.sessions.list('alice'); // warm
  global.gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  const times = [];
  let listed = 0;
  for (let i = 0; i < 5; i += 1) {
    const t = performance.now();
    listed = (await auth.sessions.list('alice')).length;
    times.push(performance.now() - t);
  }
  const held = await auth.sessions.list('alice');
  const heapAfter = process.memoryUsage().heapUsed;
  times.sort((a, b) => a - b);
  console.log(JSON.stringify({ store: label, sessions: listed, medianMs: Math.round(times[2]), maxMs: Math.round(times[4]), heldMB: +((heapAfter - heapBefore) / 1e6).toFixed(1), kept: held.length }));
  await auth.close();
}

const client = createClient({ url });
await client.connect();
const prefix = `bench-sessions:${process.pid}:`;
try {
  const redis = lib.redisStore({ client, prefix, timeout: '30s' });
  await measure('redis', redis);
  // One session's bytes in Redis: its record (with device data) and its member in the subject's index.
  const [key] = await client.keys(`${prefix}s:*`);
  const recordBytes = await client.memoryUsage(key);
  const indexBytes = await client.memoryUsage(`${prefix}idx:{alice}`);
  console.log(JSON.stringify({ redisBytesPerRecord: recordBytes, redisIndexBytesPerSession: Math.round(indexBytes / N), deviceFieldBytes: JSON.stringify({ device: 'Chrome 131 on macOS', address: '203.0.113.0/24' }).length }));
  await measure('memory', lib.memoryStore());
} finally {
  for await (const batch of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) if (batch.length) await client.unlink(batch);
  await client.close();
}
