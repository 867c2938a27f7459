// Heap taken by 100,000 cached session records (what statefulJwt / sessionCookie keep with recordCache).
// Run after `npm run build`: node --expose-gc bench/record-cache-memory.cjs
const { randomBytes } = require('node:crypto');
const { memoryStore } = require('../dist/lib');
const { createRecordCache } = require('../dist/lib/state/record-cache');
const { newRecord, recordPrincipal, resolveTimeouts } = require('../dist/lib/state/session-record');

const N = 100_000;
const heap = () => { global.gc(); global.gc(); return process.memoryUsage().heapUsed; };

for (const kind of ['session-cookie', 'stateful-jwt']) {
  const store = memoryStore();
  const timeouts = resolveTimeouts({});
  const before = heap();
  const cache = createRecordCache(store, { max: N });
  for (let i = 0; i < N; i++) {
    const sid = randomBytes(18).toString('base64url');
    const record = newRecord({ id: `user-${i}`, roles: ['user'], claims: { plan: 'pro' } }, timeouts, Date.now());
    const principal = recordPrincipal(record, kind, sid);
    const entry = { principal, slideAt: record.lastSeen + timeouts.touchMs, deadline: Math.min(record.absExp, record.lastSeen + record.idleMs) };
    cache.put(kind === 'stateful-jwt' ? `s:${sid}` : `sess:${sid}`, entry, cache.begin());
  }
  const after = heap();
  console.log(`${kind}: ${cache.size} cached records: ${((after - before) / 1e6).toFixed(1)} MB heap (${Math.round((after - before) / N)} bytes each; identity { id, roles: ['user'], claims: { plan } })`);
  cache.close();
  store.close();
}
