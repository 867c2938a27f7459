import type { StateStore } from '../types';
import { configError } from '../errors';

/**
 * Sessions another express-session app wrote into the same backend under its own key prefix (connect-redis's
 * `sess:` by default), outside this store's prefix: read and deleted, never written. Calls are bounded like every
 * other call of the store (a store that cannot answer rejects with StoreUnavailableError).
 */
export interface ForeignSessions {
  /** The absolute key prefix the sessions live under. */
  readonly prefix: string;
  /** The session object as express-session saved it, or null when there is none. */
  get(sid: string): Promise<Record<string, unknown> | null>;
  destroy(sid: string): Promise<void>;
}

/** Not in the StateStore contract: redisStore() reaches keys outside its prefix through connect-redis. */
interface ForeignSessionSource {
  foreignSessions?(prefix: string): ForeignSessions;
}

export function foreignSessions(store: StateStore, prefix: string): ForeignSessions {
  const source = (store as StateStore & ForeignSessionSource).foreignSessions;
  if (typeof source !== 'function') {
    throw configError('`legacy` reads the sessions your express-session app kept in Redis: use redisStore({ client }) with the same Redis');
  }
  return source.call(store, prefix);
}

/** The absolute prefix of the express-session records a store holds itself (sessionCookie's), when it has one. */
export function ownSessionPrefix(store: StateStore): string | null {
  return store.kind === 'redis' ? `${store.prefix}sess:` : null;
}
