import { configError } from './errors';

/** The keys one options object may hold, and the shapes of the option objects nested in it. */
export interface OptionShape {
  readonly keys: Readonly<Record<string, true>>;
  /** Checked when the value is an object, or each element when it is an array (e.g. `keys: [{ kid, ... }]`). */
  readonly nested?: Readonly<Record<string, OptionShape>>;
}

/** Farther than this and a suggestion is more likely wrong than helpful. */
const MAX_SUGGESTION_DISTANCE = 2;

/**
 * Refuses an options key the factory does not know, so a typo (`tll`) is an error at start-up rather than a
 * default silently kept (a 15-minute token that was meant to live 5). Non-objects are left to the factory's own checks.
 */
export function checkKeys(factory: string, options: unknown, shape: OptionShape, path = ''): void {
  if (!isObject(options)) return;
  for (const key of Object.keys(options)) {
    if (!Object.hasOwn(shape.keys, key)) throw unknownOption(factory, path, key, Object.keys(shape.keys));
    const inner = shape.nested?.[key];
    if (inner === undefined) continue;
    const value = options[key];
    if (Array.isArray(value)) value.forEach((item, i) => checkKeys(factory, item, inner, `${path}${key}[${i}].`));
    else checkKeys(factory, value, inner, `${path}${key}.`);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function unknownOption(factory: string, path: string, key: string, known: readonly string[]): TypeError {
  const near = closest(key, known);
  const hint = near === undefined ? `; known options: ${known.join(', ')}` : ` (did you mean '${path}${near}'?)`;
  return configError(`${factory}: unknown option '${path}${key}'${hint}`);
}

/** The known key nearest to `key` (case-insensitive), if any is within MAX_SUGGESTION_DISTANCE edits. */
export function closest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = MAX_SUGGESTION_DISTANCE + 1;
  for (const candidate of known) {
    const distance = editDistance(key.toLowerCase(), candidate.toLowerCase());
    // A distance as long as the key itself means nothing of it was kept: `x` is not a typo of `ttl`.
    if (distance < bestDistance && distance < key.length) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** Damerau–Levenshtein (optimal string alignment): a swap of two neighbours (`tlt` → `ttl`) counts as one edit. */
export function editDistance(a: string, b: string): number {
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) (rows[0] as number[])[j] = j;
  for (let i = 1; i <= a.length; i++) {
    const row = rows[i] as number[];
    const above = rows[i - 1] as number[];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min((above[j] as number) + 1, (row[j - 1] as number) + 1, (above[j - 1] as number) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, (rows[i - 2] as number[])[j - 2] as number + 1);
      row[j] = d;
    }
  }
  return (rows[a.length] as number[])[b.length] as number;
}
