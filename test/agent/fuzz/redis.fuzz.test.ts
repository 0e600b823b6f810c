import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fuzzParser, FUZZ_ITERATIONS } from './fuzzHarness';
import { RedisParser } from '../../../src/agent/protocols/redis/redisParser';
import { fixture, loadCapture } from '../protocols/redisCaptureReplay';

// every recorded segment of the real capture, capped like the kernel's default capture
const corpus = loadCapture(fixture('redis', 'redis-py-and-redis-cli.jsonl')).map((c) => c.data.subarray(0, 1024));

test('RedisParser survives random and mutated real captures', () => {
  const r = fuzzParser(() => new RedisParser(), corpus, 7);
  assert.equal(r.inputs, FUZZ_ITERATIONS);
  console.log(`redis fuzz: ${r.inputs} inputs, ${r.messages} messages, slowest ${r.slowestMs.toFixed(2)} ms`);
});
