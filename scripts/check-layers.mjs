#!/usr/bin/env node
// Fails when a module in lib/ or adapters/ imports from a layer it may not depend on: the grid stays visible
// (carriers, envelopes and state never reach into each other; nothing reaches up into strategies or the pipeline).
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Layer of a module (path relative to the root, without extension). */
function layerOf(module) {
  if (module === 'lib/index') return 'index';
  if (module.startsWith('adapters/')) return 'adapters';
  const folder = /^lib\/([^/]+)\//.exec(module)?.[1];
  if (folder !== undefined) return folder;
  return CORE.has(module) ? 'core' : 'pipeline';
}

/** Top-level modules every layer may use: values and rules with no knowledge of requests, stores or strategies. */
const CORE = new Set(['lib/errors', 'lib/types', 'lib/strategy', 'lib/duration', 'lib/claims', 'lib/roles', 'lib/principal-of', 'lib/auth-time', 'lib/options', 'lib/option-keys']);

/** What each layer may import (besides itself). */
const ALLOWED = {
  core: [],
  cache: ['core'],
  carriers: ['core', 'cache'],
  envelopes: ['core', 'cache'],
  state: ['core', 'cache'],
  adapters: ['core', 'cache', 'envelopes'],
  refresh: ['core', 'cache', 'carriers', 'envelopes', 'state'],
  strategies: ['core', 'cache', 'carriers', 'envelopes', 'state', 'refresh'],
  pipeline: ['core', 'cache', 'carriers', 'envelopes', 'state', 'refresh', 'strategies', 'adapters'],
  index: ['core', 'cache', 'carriers', 'envelopes', 'state', 'refresh', 'strategies', 'adapters', 'pipeline'],
};

function* sources(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* sources(path);
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) yield path;
  }
}

const problems = [];
for (const file of [...sources(join(root, 'lib')), ...sources(join(root, 'adapters'))]) {
  const from = relative(root, file).replace(/\.ts$/, '');
  const layer = layerOf(from);
  if (ALLOWED[layer] === undefined) problems.push(`${from}: folder '${layer}' has no layer; add it to scripts/check-layers.mjs`);
  const text = readFileSync(file, 'utf8');
  // Type-only imports are erased at build time: the option-key lists name every options interface that way.
  const runtime = text.replace(/^import type [^;]+;$/gm, '');
  for (const match of runtime.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) {
    const to = relative(root, resolve(dirname(file), match[1])).replace(/\.(ts|js)$/, '');
    const target = layerOf(to);
    if (target !== layer && !(ALLOWED[layer] ?? []).includes(target)) problems.push(`${from} (${layer}) imports ${to} (${target})`);
  }
}

if (problems.length > 0) {
  console.error(`check-layers: ${problems.length} import(s) against the layering:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log('check-layers: ok');
