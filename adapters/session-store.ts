import session from 'express-session';
import type { SessionData } from 'express-session';

import type { StateStore } from '../lib/types';
import type { ForeignSessions } from '../lib/state/foreign-sessions';

/**
 * A StateStore of this package (memoryStore, redisStore) that also holds an express-session Store over the same
 * records (connect-redis for Redis). Internal: the public StateStore contract has no express-session type in it.
 */
export interface SessionBackedStore extends StateStore {
  /** Always the same object; its 'disconnect' / 'connect' events make stored strategies fail closed meanwhile. */
  sessionStore(): session.Store;
  /** Another express-session app's records under an absolute prefix (redisStore only): sessionCookie's `legacy`. */
  foreignSessions?(prefix: string): ForeignSessions;
}

type Callback<T = void> = (err?: unknown, value?: T) => void;

/** Seconds a session should live in the store, as connect-redis computes it: until its cookie expires. */
export function sessionTtlSeconds(sess: SessionData): number {
  const expires = sess.cookie?.expires;
  const ms = expires ? new Date(expires).getTime() - Date.now() : (sess.cookie?.originalMaxAge ?? 86_400_000);
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
