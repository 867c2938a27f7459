import { performance } from 'node:perf_hooks';
import type { RevocationLog, RevocationReceipt } from '../types';

/** Where a revocation was appended, so a receipt can ask which followers have read past it. */
export interface LogMark {
  readonly log: RevocationLog;
  readonly position: string;
}

export function markOf(log: RevocationLog, position: string | void): LogMark[] {
  return typeof position === 'string' && typeof log.applied === 'function' ? [{ log, position }] : [];
}

const POLL_MS = 20;

/**
 * Waits up to `waitMs` for every live follower of every log to report a position at or past its mark. With no
 * mark (direct lookups: every instance reads the store itself) there is nothing to wait for.
 */
export async function awaitReceipt(marks: readonly LogMark[], waitMs: number, ended: number | null): Promise<RevocationReceipt> {
  const started = performance.now();
  let applied = 0;
  let instances = 0;
  let reachedAt = started;
  const logs = byLog(marks);
  for (;;) {
    const counts = await Promise.all([...logs].map(([log, positions]) => countLog(log, positions)));
    const nowApplied = counts.reduce((n, c) => n + c.applied, 0);
    instances = counts.reduce((n, c) => n + c.instances, 0);
    if (nowApplied !== applied) reachedAt = performance.now();
    applied = nowApplied;
    if (applied >= instances || performance.now() - started >= waitMs) break;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  return Object.freeze({
    ended, applied, instances,
    withinMs: instances === 0 ? null : Math.round(reachedAt - started),
    complete: applied >= instances,
  });
}

function byLog(marks: readonly LogMark[]): Map<RevocationLog, string[]> {
  const logs = new Map<RevocationLog, string[]>();
  for (const m of marks) logs.set(m.log, [...(logs.get(m.log) ?? []), m.position]);
  return logs;
}

/** One log's followers: an instance has applied the revocation once it is past every one of its entries. */
async function countLog(log: RevocationLog, positions: readonly string[]): Promise<{ applied: number; instances: number }> {
  const counts = await Promise.all(positions.map((p) => (log.applied as NonNullable<RevocationLog['applied']>)(p)));
  return { applied: Math.min(...counts.map((c) => c.applied)), instances: Math.max(...counts.map((c) => c.instances)) };
}
