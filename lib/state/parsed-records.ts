import { Lru } from '../cache/lru';

/**
 * Parsed session records, per session id, for as long as the stored text is unchanged: a record read again
 * with the same bytes is not re-parsed, re-checked and re-frozen into a Principal. The store is still read
 * on every request (this is not a cache of the store, only of the parse). Bounded.
 */
export function parsedRecords<T>(max: number, parse: (raw: string, sid: string) => T): (raw: string, sid: string) => T {
  const memo = new Lru<{ raw: string; value: T }>(max);
  return (raw, sid) => {
    const hit = memo.get(sid);
    if (hit !== undefined && hit.raw === raw) return hit.value;
    const value = parse(raw, sid);
    memo.set(sid, { raw, value });
    return value;
  };
}
