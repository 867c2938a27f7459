import { configError } from './errors';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Milliseconds from `900`, `'15m'`, `'2h'`, `'30s'`, `'7d'`, `'250ms'` (a number means seconds, as in jsonwebtoken). */
export function toMs(value: number | string, field: string): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw configError(`${field} must be a non-negative number of seconds`);
    return value * 1000;
  }
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/.exec(value.trim());
  if (!match) throw configError(`${field} must look like '15m', '30s', '2h', '7d' or a number of seconds`);
  return Number(match[1]) * (UNITS[match[2] as string] as number);
}
