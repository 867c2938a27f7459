// µs per insert into a full LRU (every insert evicts), ours against lru-cache, and µs per hit.
// Run after `npm run build`: node bench/lru.cjs [--max 10000] [--inserts 100000]
// lru-cache is not a dependency; it is read from node_modules when some dev tool has installed it there.
const { Lru } = require('../dist/lib/cache/lru');

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
};
const MAX = arg('max', 10_000);
const INSERTS = arg('inserts', 100_000);
const ROUNDS = 11;

function optionalLruCache() {
  try { return require('lru-cache').LRUCache; } catch { return null; }
}

const keys = Array.from({ length: MAX + INSERTS }, (_, i) => `k${i}:${Math.random().toString(36).slice(2)}`);

/** Fills to max, then times INSERTS new keys (each one evicts the least recently used). */
function timeInserts(make) {
  const cache = make(MAX);
  for (let i = 0; i < MAX; i++) cache.set(keys[i], i);
  const start = process.hrtime.bigint();
  for (let i = MAX; i < MAX + INSERTS; i++) cache.set(keys[i], i);
  const ns = Number(process.hrtime.bigint() - start);
  if (cache.size !== MAX) throw new Error(`size ${cache.size}, expected ${MAX}`);
  return ns / INSERTS / 1000;
}

/** Times INSERTS hits spread over the whole (full) cache, so entries keep moving to the recent end. */
function timeHits(make) {
  const cache = make(MAX);
  for (let i = 0; i < MAX; i++) cache.set(keys[i], i);
  let sum = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < INSERTS; i++) sum += cache.get(keys[(i * 7919) % MAX]);
  const ns = Number(process.hrtime.bigint() - start);
  if (Number.isNaN(sum)) throw new Error('a hit missed');
  return ns / INSERTS / 1000;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

/** Rounds alternate between the implementations, so background load on the machine falls on both alike. */
function compare(implementations) {
  const results = implementations.map(() => ({ inserts: [], hits: [] }));
  for (let r = 0; r < ROUNDS; r++) {
    implementations.forEach(([, make], i) => {
      results[i].inserts.push(timeInserts(make));
      results[i].hits.push(timeHits(make));
    });
  }
  implementations.forEach(([name], i) => {
    const { inserts, hits } = results[i];
    console.log(`${name.padEnd(10)} insert+evict ${median(inserts).toFixed(3)} µs   hit ${median(hits).toFixed(3)} µs   (median of ${ROUNDS})`);
  });
}

console.log(`max ${MAX}, ${INSERTS} inserts past max`);
const implementations = [['ours', (max) => new Lru(max)]];
const LRUCache = optionalLruCache();
if (LRUCache !== null) implementations.push(['lru-cache', (max) => new LRUCache({ max })]);
else console.log('lru-cache: not installed, skipped');
compare(implementations);
