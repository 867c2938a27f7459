import type { AnyStore, CookieStore, StateStore } from '../types';

export function isStateStore(store: unknown): store is StateStore {
  const kind = (store as AnyStore | null)?.kind;
  return kind === 'redis' || kind === 'memory';
}

export function isCookieStore(store: unknown): store is CookieStore {
  return (store as AnyStore | null)?.kind === 'cookie';
}
