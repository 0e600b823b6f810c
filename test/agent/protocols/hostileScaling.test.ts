// Parsers run in time linear in the captured bytes: for each hostile segment shape, 16x the bytes
// must cost about 16x the time (best of several runs, generous margin), not 16^2. The capture keeps
// at most 4 KiB per syscall; 64 KiB here makes any super-linear step stand out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Http1Parser } from '../../../src/agent/protocols/http1/http1Parser';
import { RedisParser } from '../../../src/agent/protocols/redis/redisParser';
import { jsonField } from '../../../src/agent/protocols/nats/natsParser';
import type { SegmentContext } from '../../../src/agent/protocols/types';

const client: SegmentContext = { egress: true, localPort: 40000, peerPort: 6379, l4: 'TCP' };

/** Best time (ms) of `runs` runs of `fn`. */
function best(fn: () => void, runs = 7): number {
  let min = Infinity;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    fn();
    min = Math.min(min, performance.now() - t0);
  }
  return min;
}

/** Asserts that `make(64 KiB)` costs less than 40x `make(4 KiB)` (linear: ~16x; quadratic: ~256x). */
function assertLinear(name: string, run: (n: number) => () => void): void {
  const small = best(run(4096));
  const large = best(run(65536));
  assert.ok(large < small * 40 + 2, `${name}: 4 KiB ${small.toFixed(3)} ms, 64 KiB ${large.toFixed(3)} ms`);
}

test('HTTP/1: header lines without a colon (each used to search to the end of the head)', () => {
  const p = new Http1Parser();
  assertLinear('http1 colon-less lines', (n) => {
    const seg = Buffer.from(`GET / HTTP/1.1\r\n${'b\r\n'.repeat(n / 3)}`.slice(0, n), 'latin1');
    return () => {
      for (let i = 0; i < 20; i++) {
        p.parse(seg, seg.length);
      }
    };
  });
  const seg = Buffer.from(`GET /x HTTP/1.1\r\n${'b\r\n'.repeat(100)}Host: h\r\nContent-Length: 3\r\n\r\nabc`, 'latin1');
  const m = p.parse(seg, seg.length)!;
  assert.deepEqual([m.resource, m.domain, m.totalLength], ['/x', 'h', seg.length]);
});

test('Redis: pipelined inline commands (each used to search the rest of the segment for " HTTP/1.")', () => {
  assertLinear('redis inline pipeline', (n) => {
    const seg = Buffer.from('GET somekey1\r\n'.repeat(n / 14), 'latin1');
    return () => {
      const p = new RedisParser().forConnection!();
      p.parse(seg, seg.length, undefined, client);
    };
  });
});

test('NATS CONNECT fields: many keys, long values, no closing quote', () => {
  assertLinear('nats json', (n) => {
    const json = `{${'"name": "x", '.repeat(n / 28)}"name":"${'a'.repeat(n / 2)}`;
    return () => {
      for (let i = 0; i < 20; i++) {
        jsonField(json, 'name');
      }
    };
  });
  assert.equal(jsonField('{"verbose":true,"name":"app \\"one\\""}', 'name'), 'app \\"one\\"');
  assert.equal(jsonField('{"verbose" : false}', 'verbose'), 'false');
  assert.equal(jsonField(`{"name":"${'a'.repeat(600)}"}`, 'name'), undefined, 'longer than 512: not taken');
});
