/**
 * LRU over a Map (insertion order = recency). A hit re-inserts its key only once the key has drifted into the
 * colder half (a Map delete + set on every hit of a hot key costs more than the lookup itself).
 */
export class Lru<V> {
  private readonly map = new Map<string, { value: V; touched: number }>();
  private clock = 0;
  constructor(private readonly max: number) {}
  get size(): number { return this.map.size; }
  get(key: string): V | undefined {
    const entry = this.map.get(key);
    if (entry === undefined) return undefined;
    if (this.clock - entry.touched > this.max >> 1) {
      this.map.delete(key);
      entry.touched = ++this.clock;
      this.map.set(key, entry);
    }
    return entry.value;
  }
  set(key: string, value: V): void {
    this.map.delete(key);
    this.map.set(key, { value, touched: ++this.clock });
    while (this.map.size > this.max) {
      const oldest = this.map.keys().next().value as string;
      this.map.delete(oldest);
    }
  }
  delete(key: string): void { this.map.delete(key); }
  clear(): void { this.map.clear(); }
}
