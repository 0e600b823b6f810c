import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemcachedParser } from '../../../src/agent/protocols/memcached/memcachedParser';
import { RedisParser } from '../../../src/agent/protocols/redis/redisParser';
import type { ParsedMessage, SegmentContext } from '../../../src/agent/protocols/types';
import { describe, fixture, loadCapture, replay } from './redisCaptureReplay';

// Recorded between pymemcache 4.0.0 (connection 1), nc with meta commands (connection 2) and
// memcached 1.6.18 through a recording proxy.
const capture = loadCapture(fixture('memcached', 'pymemcache-and-nc.jsonl'));
const out: SegmentContext = { egress: true, localPort: 40000, peerPort: 11211, l4: 'TCP' };
const back: SegmentContext = { ...out, egress: false };
const b = (s: string) => Buffer.from(s, 'latin1');
const list = (m: ParsedMessage | ParsedMessage[] | null): ParsedMessage[] =>
  m === null ? [] : Array.isArray(m) ? m : [m];

const EXPECTED = [
  'SET|SET user:1|SET|-1|ok|',
  'GET|GET user:1|GET|1|ok|',
  'GET|GET missing|GET|0|ok|',
  'GET|GET user:1|GET|1|ok|',
  'ADD|ADD user:1|ADD|-1|ok|',
  'REPLACE|REPLACE nokey|REPLACE|-1|ok|',
  'APPEND|APPEND user:1|APPEND|-1|ok|',
  'PREPEND|PREPEND user:1|PREPEND|-1|ok|',
  'GETS|GETS user:1|GETS|1|ok|',
  'CAS|CAS user:1|CAS|-1|ok|',
  'CAS|CAS user:1|CAS|-1|ok|EXISTS',
  'SET|SET n|SET|-1|ok|',
  'INCR|INCR n|INCR|-1|ok|',
  'DECR|DECR n|DECR|-1|ok|',
  'INCR|INCR nokey|INCR|-1|ok|NOT_FOUND',
  'DELETE|DELETE n|DELETE|-1|ok|',
  'DELETE|DELETE n|DELETE|-1|ok|NOT_FOUND',
  'TOUCH|TOUCH user:1|TOUCH|-1|ok|',
  'TOUCH|TOUCH nokey|TOUCH|-1|ok|NOT_FOUND',
  'SET|SET quiet|SET|-1|ok|',
  'SET|SET big|SET|-1|ok|',
  'GET|GET big|GET|1|ok|',
  'VERSION|VERSION|VERSION|-1|ok|',
  'STATS|STATS|STATS|-1|ok|',
  'FLUSH_ALL|FLUSH_ALL|FLUSH_ALL|-1|ok|',
  'BOGUS|BOGUS|BOGUS|-1|client_error|ERROR',
  // nc, meta commands
  'MS|MS mk|MS|-1|ok|',
  'MG|MG mk|MG|1|ok|',
  'MG|MG nokey|MG|0|ok|',
  'MD|MD mk|MD|-1|ok|',
  'MD|MD mk|MD|-1|ok|NOT_FOUND',
  'MG|MG a|MG|-1|ok|',
  'MG|MG mk2|MG|-1|ok|',
  'MN|MN|MN|-1|ok|',
  'INCR|INCR|INCR|-1|client_error|ERROR',
  // pymemcache again, on a fresh connection after a flush_all
  'INCR|INCR user:1|INCR|-1|ok|NOT_FOUND',
];

for (const side of ['client', 'server'] as const) {
  for (const captureBytes of [1024, 128]) {
    test(`real capture from the ${side}, ${captureBytes}-byte capture: every command paired, noreply and quiet one-way`, () => {
      const r = replay(capture, side, captureBytes);
      assert.deepEqual([...new Set(r.protocols.values())], ['Memcached']);
      assert.deepEqual(r.pairs.map(describe).sort(), [...EXPECTED].sort());
      assert.equal(r.orphans, 0);
      const big = r.pairs.find((p) => p.request.msg.resource === 'GET big')!;
      assert.equal(big.response!.length, 5025);
    });
  }
}

test('errors: CLIENT_ERROR and SERVER_ERROR with their text', () => {
  const p = new MemcachedParser().forConnection!();
  p.parse(b('set k 0 0 3\r\ntoolong\r\n'), 22, undefined, out);
  const m = list(
    p.parse(
      b('CLIENT_ERROR bad data chunk\r\nERROR\r\nSERVER_ERROR object too large for cache\r\n'),
      75,
      undefined,
      back
    )
  );
  assert.deepEqual(
    m.map((x) => `${x.status}:${x.exception}`),
    [
      'client_error:CLIENT_ERROR bad data chunk',
      'client_error:ERROR',
      'server_error:SERVER_ERROR object too large for cache',
    ]
  );
});

test('a multi-get reply longer than the capture ends at END', () => {
  const p = new MemcachedParser().forConnection!();
  p.parse(b('get a b\r\n'), 9, undefined, out);
  const reply = b(`VALUE a 0 300\r\n${'x'.repeat(300)}\r\nVALUE b 0 2\r\nhi\r\nEND\r\n`);
  const m = p.parse(reply.subarray(0, 100), reply.length, undefined, back) as ParsedMessage;
  assert.deepEqual([m.code, m.totalLength, m.terminator?.toString()], [1, undefined, 'END\r\n']);
  // the client's next read continues the reply, even though it starts like one
  assert.equal(p.parse(b('VALUE b 0 2\r\nhi\r\nEND\r\n'), 22, undefined, back), null);
  assert.equal(list(p.parse(b('version\r\n'), 9, undefined, out)).length, 1);
});

test('inference: lower-case commands with their syntax; not Redis, not HTTP', () => {
  const m = new MemcachedParser();
  for (const s of [
    'get k\r\n',
    'set k 0 0 5\r\nhello\r\n',
    'cas k 0 0 1 7\r\nx\r\n',
    'mg k v\r\n',
    'ms k 2 T0\r\nhi\r\n',
    'version\r\n',
    'stats\r\n',
    'delete k\r\n',
  ]) {
    assert.ok(m.infer(b(s), out), s);
  }
  for (const s of [
    'GET / HTTP/1.1\r\n\r\n',
    '*1\r\n$4\r\nPING\r\n',
    'set k v\r\n',
    'hello world\r\n',
    'PING\r\n',
    'get k',
  ]) {
    assert.ok(!m.infer(b(s), out), s);
  }
  assert.ok(!m.infer(b('get k\r\n'), { ...out, peerPort: 6379 }));
  assert.ok(!new RedisParser().infer(b('set k 0 0 5\r\nhello\r\n'), out));
});
