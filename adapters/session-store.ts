import session from 'express-session';
import type { SessionData } from 'express-session';
import { remainingMs } from '../lib/state/session-record';

type Callback<T = void> = (err?: unknown, value?: T) => void;

/** Seconds a session should live in the store: until its idle or absolute deadline, whichever is first. */
export function sessionTtlSeconds(sess: SessionData): number {
  const ms = sess.ep ? remainingMs(sess.ep) : (sess.cookie?.maxAge ?? 60_000);
  return Math.max(1, Math.ceil(ms / 1000));
}

interface PromiseSessionStore {
  get(sid: string): Promise<SessionData | null>;
  set(sid: string, sess: SessionData): Promise<void>;
  destroy(sid: string): Promise<void>;
}

/**
 * Adapts a promise store to express-session's callback Store. There is deliberately no `touch`:
 * express-session would call it on every request; we slide the idle deadline at an interval instead.
 */
export class CallbackSessionStore extends session.Store {
  constructor(private readonly inner: PromiseSessionStore) {
    super();
  }
  override get(sid: string, cb: Callback<SessionData | null>): void {
    this.inner.get(sid).then((value) => cb(null, value ?? null), cb);
  }
  override set(sid: string, sess: SessionData, cb?: Callback): void {
    this.inner.set(sid, sess).then(() => cb?.(), (err: unknown) => cb?.(err));
  }
  override destroy(sid: string, cb?: Callback): void {
    this.inner.destroy(sid).then(() => cb?.(), (err: unknown) => cb?.(err));
  }
}
