import type { StateStore } from '../types';

/**
 * Drops the subject's index entries whose session record is gone (expired, or deleted elsewhere).
 * Run at login, so a user who logs in every day without logging out keeps a small index.
 */
export async function pruneIndex(store: StateStore, subject: string, keyOf: (sid: string) => string): Promise<void> {
  const members = await store.indexMembers(subject);
  if (members.length === 0) return;
  const alive = await store.getMany(members.map(keyOf));
  const dead = members.filter((_, i) => alive[i] === null || alive[i] === undefined);
  if (dead.length > 0) await store.indexRemove(subject, dead);
}
