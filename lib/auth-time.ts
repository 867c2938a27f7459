import type { Identity, Principal } from './types';

/** Principals handed to `login` as `previous` by a re-issue (a migration): not a new proof of identity. */
const reissues = new WeakSet<Principal>();

/** Marks `previous` as re-issued: the login it is handed to keeps its `authenticatedAt`. */
export function markReissue(previous: Principal): void {
  reissues.add(previous);
}

/**
 * The `authenticatedAt` a strategy's `login` records: now for a real login (a new proof of identity),
 * the previous one when a migration re-issues the same user's credential through the same login path.
 */
export function loginAuthTime(identity: Identity, previous: Principal | null): number {
  return previous !== null && reissues.has(previous) && previous.id === identity.id ? previous.authenticatedAt.getTime() : Date.now();
}
