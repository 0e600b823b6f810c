import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LruMap, tablesText } from '../../src/agent/lruMap';

test('past its bound the least recently used entry is evicted, counted and handed to onEvict after it left', () => {
  const evicted: Array<[string, number, number]> = [];
  const m: LruMap<string, number> = new LruMap(3, (k, v) => evicted.push([k, v, m.size]));
  m.set('a', 1).set('b', 2).set('c', 3);
  assert.equal(m.get('a'), 1); // a is now the most recently used
  assert.equal(m.peek('b'), 2); // a peek does not count as a use
  m.set('d', 4);
  assert.deepEqual(evicted, [['b', 2, 2]], 'b was the least recently used; the table held 2 during onEvict');
  m.set('c', 30); // an update is a use, not an insertion
  m.set('e', 5);
  assert.deepEqual(
    evicted.map(([k]) => k),
    ['b', 'a']
  );
  assert.equal(m.size, 3);
  assert.equal(m.evictions, 2);
  assert.deepEqual(m.oldest(), ['d', 4]);
  assert.deepEqual(m.stats('t'), { name: 't', size: 3, max: 3, evicted: 2 });
  assert.equal(tablesText([m.stats('t')]), 'tables (entries/bound evicted): t 3/3 2');
});

test('deletes are not evictions; iterating while deleting visits every entry once', () => {
  const m = new LruMap<number, number>(10);
  for (let i = 0; i < 10; i++) {
    m.set(i, i * i);
  }
  assert.equal(m.delete(3), true);
  assert.equal(m.delete(3), false);
  const seen: number[] = [];
  for (const [k] of m) {
    seen.push(k);
    if (k % 2 === 0) {
      m.delete(k);
    }
  }
  assert.deepEqual(seen, [0, 1, 2, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual([...m.keys()], [1, 5, 7, 9]);
  assert.equal(m.evictions, 0);
  m.set(100, 1);
  m.set(101, 1);
  assert.equal(m.evictions, 0, 'room left by deletes is used first');
  m.clear();
  assert.equal(m.size, 0);
  assert.equal(m.oldest(), undefined);
  m.set(1, 1);
  assert.deepEqual(m.oldest(), [1, 1]);
});

test('eviction stays O(1) through a full table: a million inserts through 65536 entries', () => {
  // evicting by the Map's own first key walks the holes its deletes leave
  const m = new LruMap<number, number>(65536);
  const t0 = performance.now();
  for (let i = 0; i < 1_000_000; i++) {
    m.set(i, i);
    m.get(i - 1000);
  }
  const ms = performance.now() - t0;
  assert.equal(m.size, 65536);
  assert.equal(m.evictions, 1_000_000 - 65536);
  assert.ok(ms < 6000, `${ms} ms (the Map-order version took ~15 s here, this one ~1.5 s)`);
});

test('a bound below one entry is refused', () => {
  assert.throws(() => new LruMap(0), RangeError);
});
