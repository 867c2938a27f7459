/**
 * The local, bounded copy of the revocation state every instance keeps (fed by the revocation log).
 *
 * - jti → expiry (seconds, relative to a base so the value is a small integer V8 stores inline), dropped at
 *   the token's expiry by a sweep over per-second buckets (no full scans);
 * - subject → "revoked at or before" (ms), dropped once every token it can affect has expired.
 *
 * It answers REVOKED, CLEAR, or UNKNOWN. UNKNOWN means "this cache cannot vouch for the token": the caller
 * must ask the store directly. That is how the cache stays bounded without failing open: when it is full,
 * new entries are not stored, and until the last of them would have expired every miss is UNKNOWN
 * (a direct lookup), never CLEAR. The same holds for tokens issued before a gap in the log (entries trimmed
 * before this instance read them).
 */
export const REVOKED = 1;
export const CLEAR = 0;
export const UNKNOWN = -1;
export type Verdict = typeof REVOKED | typeof CLEAR | typeof UNKNOWN;

export interface RevocationCacheOptions {
  /** Most jti + subject entries held. */
  maxEntries: number;
  /** Longest a subject mark can matter (the longest credential lifetime). */
  retentionMs: number;
  /** Clock difference allowed between token issuers and the log's clock (for gaps). */
  skewMs: number;
}

import { CompactJtiSet } from './revocation-jtis';

interface SubjectMark { before: number; dropAt: number }

export class RevocationCache {
  /** Jtis as issued by express-principal (16 bytes, base64url): compact typed-array set, swept every few seconds. */
  private readonly compact: CompactJtiSet;
  private compactSweptSec = 0;
  /** Any other jti (foreign issuers, session ids): Map + per-second buckets. */
  private readonly jtis = new Map<string, number>();
  private readonly jtiBuckets = new Map<number, string[]>();
  private readonly subjects = new Map<string, SubjectMark>();
  private readonly subjectBuckets = new Map<number, string[]>();
  private readonly base = Math.floor(Date.now() / 1000);
  private sweptSec = Math.floor(Date.now() / 1000);
  /** Until then (epoch ms) some revocation is not held here: misses are UNKNOWN. 0: nothing was dropped. */
  private overflowUntil = 0;
  /** Tokens issued at or before this (epoch ms) may be affected by entries this cache never saw. */
  private floor = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly options: RevocationCacheOptions) {
    this.compact = new CompactJtiSet(this.base);
    this.timer = setInterval(() => this.sweep(), 1000);
    this.timer.unref();
  }

  get size(): number {
    return this.compact.size + this.jtis.size + this.subjects.size;
  }

  check(subject: string, jti: string | null, issuedAtMs: number): Verdict {
    const mark = this.subjects.get(subject);
    if (mark !== undefined && issuedAtMs <= mark.before) return REVOKED; // same millisecond: refused (fail closed)
    // A jti kept past its expiry (until the next sweep) only matches a token that is expired anyway.
    if (jti !== null && (this.compact.has(jti) || (this.jtis.size > 0 && this.jtis.has(jti)))) return REVOKED;
    if (issuedAtMs <= this.floor) return UNKNOWN;
    if (this.overflowUntil !== 0 && Date.now() < this.overflowUntil) return UNKNOWN;
    return CLEAR;
  }

  addJti(jti: string, expiresAtMs: number): void {
    const sec = Math.ceil(expiresAtMs / 1000);
    if (sec <= this.sweptSec) return; // already expired: the token is refused by its `exp`
    if (this.compact.accepts(jti)) {
      if (!this.compact.has(jti) && !this.room()) {
        this.overflowUntil = Math.max(this.overflowUntil, sec * 1000);
        return;
      }
      this.compact.add(jti, sec);
      return;
    }
    const rel = sec - this.base;
    const held = this.jtis.get(jti);
    if (held !== undefined) {
      if (held >= rel) return;
    } else if (!this.room()) {
      this.overflowUntil = Math.max(this.overflowUntil, sec * 1000);
      return;
    }
    this.jtis.set(jti, rel);
    const bucket = this.jtiBuckets.get(sec);
    if (bucket === undefined) this.jtiBuckets.set(sec, [jti]);
    else bucket.push(jti);
  }

  addSubject(subject: string, beforeMs: number, retentionMs: number): void {
    const dropAt = beforeMs + Math.max(retentionMs, this.options.retentionMs);
    const sec = Math.ceil(dropAt / 1000);
    if (sec <= this.sweptSec) return;
    const held = this.subjects.get(subject);
    if (held !== undefined) {
      if (beforeMs > held.before) held.before = beforeMs;
      if (dropAt <= held.dropAt) return;
      held.dropAt = dropAt;
    } else if (!this.room()) {
      this.overflowUntil = Math.max(this.overflowUntil, dropAt);
      return;
    } else {
      this.subjects.set(subject, { before: beforeMs, dropAt });
    }
    const bucket = this.subjectBuckets.get(sec);
    if (bucket === undefined) this.subjectBuckets.set(sec, [subject]);
    else bucket.push(subject);
  }

  /** Entries appended to the log up to `untilEpochMs` may be missing here. */
  gap(untilEpochMs: number): void {
    this.floor = Math.max(this.floor, untilEpochMs + this.options.skewMs);
  }

  /** Drops what has expired. Runs every second (unref'd timer) and when the cache is full. */
  sweep(nowMs = Date.now(), force = false): void {
    const nowSec = Math.floor(nowMs / 1000);
    for (let sec = this.sweptSec + 1; sec <= nowSec; sec++) {
      const jtis = this.jtiBuckets.get(sec);
      if (jtis !== undefined) {
        this.jtiBuckets.delete(sec);
        for (const jti of jtis) {
          const rel = this.jtis.get(jti);
          if (rel !== undefined && rel + this.base <= sec) this.jtis.delete(jti);
        }
      }
      const subjects = this.subjectBuckets.get(sec);
      if (subjects !== undefined) {
        this.subjectBuckets.delete(sec);
        for (const subject of subjects) {
          const mark = this.subjects.get(subject);
          if (mark !== undefined && Math.ceil(mark.dropAt / 1000) <= sec) this.subjects.delete(subject);
        }
      }
    }
    if (nowSec > this.sweptSec) this.sweptSec = nowSec;
    // The compact set is swept by a scan: every 5 s (an entry outliving its token by seconds is harmless).
    if (force || nowSec - this.compactSweptSec >= 5) {
      this.compact.sweep(nowSec);
      this.compactSweptSec = nowSec;
    }
    if (this.overflowUntil !== 0 && nowMs >= this.overflowUntil) this.overflowUntil = 0;
  }

  private room(): boolean {
    if (this.size < this.options.maxEntries) return true;
    this.sweep(Date.now(), true);
    return this.size < this.options.maxEntries;
  }

  close(): void {
    clearInterval(this.timer);
  }
}
