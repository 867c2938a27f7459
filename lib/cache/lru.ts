interface Node<V> {
  key: string;
  value: V;
  /** Towards the most recently used end. */
  newer: Node<V> | null;
  /** Towards the least recently used end. */
  older: Node<V> | null;
}

/**
 * LRU: a Map for lookup and a doubly linked list for recency, so a hit and an eviction are O(1).
 * Why not the Map's insertion order alone: V8 keeps a deleted Map entry as a hole until the table is rehashed, and
 * `map.keys().next()` walks every hole at the front, so with eviction on every insert that walk grew with the size.
 */
export class Lru<V> {
  private readonly map = new Map<string, Node<V>>();
  private newest: Node<V> | null = null;
  private oldest: Node<V> | null = null;
  constructor(private readonly max: number) {}
  get size(): number { return this.map.size; }
  get(key: string): V | undefined {
    const node = this.map.get(key);
    if (node === undefined) return undefined;
    if (node !== this.newest) { this.unlink(node); this.pushNewest(node); }
    return node.value;
  }
  set(key: string, value: V): void {
    const existing = this.map.get(key);
    if (existing !== undefined) {
      existing.value = value;
      if (existing !== this.newest) { this.unlink(existing); this.pushNewest(existing); }
      return;
    }
    const node: Node<V> = { key, value, newer: null, older: null };
    this.map.set(key, node);
    this.pushNewest(node);
    if (this.map.size > this.max) this.evictOldest();
  }
  delete(key: string): void {
    const node = this.map.get(key);
    if (node === undefined) return;
    this.map.delete(key);
    this.unlink(node);
  }
  clear(): void {
    this.map.clear();
    this.newest = null;
    this.oldest = null;
  }
  private evictOldest(): void {
    const victim = this.oldest;
    if (victim === null) return;
    this.map.delete(victim.key);
    this.unlink(victim);
  }
  private unlink(node: Node<V>): void {
    if (node.newer === null) this.newest = node.older; else node.newer.older = node.older;
    if (node.older === null) this.oldest = node.newer; else node.older.newer = node.newer;
    node.newer = null;
    node.older = null;
  }
  private pushNewest(node: Node<V>): void {
    node.older = this.newest;
    if (this.newest !== null) this.newest.newer = node;
    this.newest = node;
    if (this.oldest === null) this.oldest = node;
  }
}
