import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fuzzParser, FUZZ_ITERATIONS } from './fuzzHarness';
import { MemcachedParser } from '../../../src/agent/protocols/memcached/memcachedParser';
import { fixture, loadCapture } from '../protocols/redisCaptureReplay';

// every recorded segment of the real capture, capped like the kernel's default capture
const corpus = loadCapture(fixture('memcached', 'pymemcache-and-nc.jsonl')).map((c) => c.data.subarray(0, 1024));

test('MemcachedParser survives random and mutated real captures', () => {
  const r = fuzzParser(() => new MemcachedParser(), corpus, 7);
  assert.equal(r.inputs, FUZZ_ITERATIONS);
  console.log(`memcached fuzz: ${r.inputs} inputs, ${r.messages} messages, slowest ${r.slowestMs.toFixed(2)} ms`);
});
