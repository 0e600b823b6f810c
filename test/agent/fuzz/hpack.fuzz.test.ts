import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FUZZ_ITERATIONS, prng } from './fuzzHarness';
import { HpackDecoder, MAX_STRING } from '../../../src/agent/protocols/http2/hpack';

const BLOCKS = [
  '8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff',
  '4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005',
  '3fe11f 82 c1 be 7fff',
  '88c1 6196 d07a be94',
].map((h) => Buffer.from(h.replace(/\s+/g, ''), 'hex'));

test('HPACK decoder: random and mutated blocks never throw, stay bounded', () => {
  const rnd = prng(11);
  let d = new HpackDecoder();
  for (let i = 0; i < FUZZ_ITERATIONS; i++) {
    if (i % 500 === 0) {
      d = new HpackDecoder();
    }
    const base =
      rnd() < 0.6 ? Buffer.from(BLOCKS[Math.floor(rnd() * BLOCKS.length)]) : Buffer.alloc(Math.floor(rnd() * 200));
    for (let j = 0; j < base.length; j++) {
      if (rnd() < (base.every((b) => b === 0) ? 1 : 0.1)) {
        base[j] = Math.floor(rnd() * 256);
      }
    }
    const t0 = process.hrtime.bigint();
    const r = d.decode(base);
    assert.ok(Number(process.hrtime.bigint() - t0) / 1e6 < 50);
    for (const f of r.fields) {
      assert.ok(f.name.length <= MAX_STRING && (f.value ?? '').length <= MAX_STRING);
    }
    assert.ok(d.tableSize <= 1 << 16);
  }
});
