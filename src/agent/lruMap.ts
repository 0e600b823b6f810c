// The one bounded table of the agent: a map of at most `maxEntries` entries that evicts the least
// recently used one to admit a new one, counts its evictions and can settle an evicted value
// (onEvict). Every per-key table the agent keeps of things it observes (connections, processes,
// flows, caches keyed by pid or file) is one of these: captured traffic chooses the keys, so no
// such table may grow with it. Lives at the agent's root as conntrack, network, metrics and
// profiling all use it.
//
// Recency is a doubly linked list beside the Map, so get, set and eviction are O(1). (Using the
// Map's own insertion order, re-inserting on use and evicting its first key, is not: V8 leaves a
// hole per deleted entry until the next rehash, and finding the first live key walks them; a full
// table of 65536 connections evicted ~10x slower per entry than it inserted.)

/** One table's figures for the agent's status line. */
export interface TableStats {
  name: string;
  size: number;
  max: number;
  evicted: number;
}

interface Node<K, V> {
  key: K;
  value: V;
  /** towards the most recently used */
  newer?: Node<K, V>;
  /** towards the least recently used */
  older?: Node<K, V>;
}

export class LruMap<K, V> {
  private readonly m = new Map<K, Node<K, V>>();
  private newest?: Node<K, V>;
  private oldestNode?: Node<K, V>;
  /** entries evicted to make room (not deletes) */
  evictions = 0;

  /** `onEvict` runs after the evicted entry left the table (it may read or change the table). */
  constructor(
    readonly maxEntries: number,
    private readonly onEvict?: (key: K, value: V) => void
  ) {
    if (!(maxEntries >= 1)) {
      throw new RangeError(`LruMap bound ${maxEntries}: expected at least 1 entry`);
    }
  }

  get size(): number {
    return this.m.size;
  }

  /** The value, now the most recently used. */
  get(k: K): V | undefined {
    const n = this.m.get(k);
    if (n === undefined) {
      return undefined;
    }
    if (n !== this.newest) {
      this.unlink(n);
      this.linkNewest(n);
    }
    return n.value;
  }

  /** The value without changing its recency. */
  peek(k: K): V | undefined {
    return this.m.get(k)?.value;
  }

  has(k: K): boolean {
    return this.m.has(k);
  }

  /** Sets `k` as the most recently used entry, evicting the least recently used one when full. */
  set(k: K, v: V): this {
    const n = this.m.get(k);
    if (n) {
      n.value = v;
      if (n !== this.newest) {
        this.unlink(n);
        this.linkNewest(n);
      }
      return this;
    }
    if (this.m.size >= this.maxEntries) {
      this.evictOldest();
    }
    const added: Node<K, V> = { key: k, value: v };
    this.m.set(k, added);
    this.linkNewest(added);
    return this;
  }

  delete(k: K): boolean {
    const n = this.m.get(k);
    if (!n) {
      return false;
    }
    this.m.delete(k);
    this.unlink(n);
    return true;
  }

  clear(): void {
    this.m.clear();
    this.newest = this.oldestNode = undefined;
  }

  /** The least recently used entry. */
  oldest(): [K, V] | undefined {
    return this.oldestNode ? [this.oldestNode.key, this.oldestNode.value] : undefined;
  }

  private evictOldest(): void {
    const n = this.oldestNode;
    if (n) {
      this.m.delete(n.key);
      this.unlink(n);
      this.evictions++;
      this.onEvict?.(n.key, n.value);
    }
  }

  private unlink(n: Node<K, V>): void {
    if (n.newer) {
      n.newer.older = n.older;
    } else {
      this.newest = n.older;
    }
    if (n.older) {
      n.older.newer = n.newer;
    } else {
      this.oldestNode = n.newer;
    }
    n.newer = n.older = undefined;
  }

  private linkNewest(n: Node<K, V>): void {
    n.older = this.newest;
    if (this.newest) {
      this.newest.newer = n;
    } else {
      this.oldestNode = n;
    }
    this.newest = n;
  }

  /** In insertion order (not recency). Deleting entries while iterating is safe. */
  *keys(): IterableIterator<K> {
    for (const k of this.m.keys()) {
      yield k;
    }
  }

  *values(): IterableIterator<V> {
    for (const n of this.m.values()) {
      yield n.value;
    }
  }

  *entries(): IterableIterator<[K, V]> {
    for (const n of this.m.values()) {
      yield [n.key, n.value];
    }
  }

  [Symbol.iterator](): IterableIterator<[K, V]> {
    return this.entries();
  }

  stats(name: string): TableStats {
    return { name, size: this.m.size, max: this.maxEntries, evicted: this.evictions };
  }
}

/** The status line's segment: `tables (entries/bound evicted): connections 1234/32768 0, processes ...` */
export function tablesText(tables: TableStats[]): string {
  return `tables (entries/bound evicted): ${tables.map((t) => `${t.name} ${t.size}/${t.max} ${t.evicted}`).join(', ')}`;
}
