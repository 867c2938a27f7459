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
  for (;;) {
    const counts = await Promise.all(marks.map((m) => (m.log.applied as NonNullable<RevocationLog['applied']>)(m.position)));
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
