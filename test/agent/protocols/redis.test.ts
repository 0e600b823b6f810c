import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RedisParser, scanValue } from '../../../src/agent/protocols/redis/redisParser';
import { MemcachedParser } from '../../../src/agent/protocols/memcached/memcachedParser';
import { Http1Parser } from '../../../src/agent/protocols/http1/http1Parser';
import type { ParsedMessage, SegmentContext } from '../../../src/agent/protocols/types';
import { describe, fixture, loadCapture, replay } from './redisCaptureReplay';

// Recorded between redis-py 8.1.0 (RESP2 and RESP3), nc (inline commands), redis-cli 7.0.15 and
// redis-server 7.0.15 (requirepass s3cretpw) through a recording proxy; see the e2e test for the mix.
const capture = loadCapture(fixture('redis', 'redis-py-and-redis-cli.jsonl'));
const out: SegmentContext = { egress: true, localPort: 40000, peerPort: 6380, l4: 'TCP' };
const back: SegmentContext = { ...out, egress: false };
const b = (s: string) => Buffer.from(s, 'latin1');
const list = (m: ParsedMessage | ParsedMessage[] | null): ParsedMessage[] =>
  m === null ? [] : Array.isArray(m) ? m : [m];

const SETINFO_ERR = "CLIENT|CLIENT SETINFO|CLIENT|-1|client_error|ERR unknown subcommand 'SETINFO'. Try CLIENT HELP.";
const CLIENT_RESP2 = ['AUTH|AUTH ***|AUTH|-1|ok|', SETINFO_ERR, SETINFO_ERR];

const EXPECTED = [
  // connection 5: redis-py RESP2
  ...CLIENT_RESP2,
  'SET|SET user:1|SET|-1|ok|',
  'GET|GET user:1|GET|-1|ok|',
  'GET|GET missing|GET|-1|ok|',
  'HSET|HSET h:1|HSET|-1|ok|',
  'HGETALL|HGETALL h:1|HGETALL|-1|ok|',
  'LPUSH|LPUSH user:1|LPUSH|-1|client_error|WRONGTYPE Operation against a key holding the wrong kind of value',
  "NOSUCHCMD|NOSUCHCMD a|NOSUCHCMD|-1|client_error|ERR unknown command 'NOSUCHCMD', with args beginning with: 'a' ",
  'SET|SET k:0|SET|-1|ok|',
  'SET|SET k:1|SET|-1|ok|',
  'SET|SET k:2|SET|-1|ok|',
  'SET|SET k:3|SET|-1|ok|',
  'SET|SET k:4|SET|-1|ok|',
  'GET|GET k:3|GET|-1|ok|',
  'INCRBY|INCRBY counter|INCRBY|-1|ok|',
  'MGET|MGET k:1|MGET|-1|ok|',
  'LRANGE|LRANGE nolist|LRANGE|-1|ok|',
  'SET|SET big|SET|-1|ok|',
  'GET|GET big|GET|-1|ok|',
  // connection 6: redis-py RESP3 (HELLO 3 AUTH), then pub/sub
  'HELLO|HELLO ***|HELLO|-1|ok|',
  "CLIENT|CLIENT MAINT_NOTIFICATIONS|CLIENT|-1|client_error|ERR unknown subcommand 'MAINT_NOTIFICATIONS'. Try CLIENT HELP.",
  SETINFO_ERR,
  SETINFO_ERR,
  'SET|SET r3|SET|-1|ok|',
  'HGETALL|HGETALL h:1|HGETALL|-1|ok|',
  'GET|GET nokey|GET|-1|ok|',
  'PING|PING|PING|-1|ok|',
  'SUBSCRIBE|SUBSCRIBE news|SUBSCRIBE|-1|ok|',
  'PUBLISH|PUBLISH news|PUBLISH|-1|ok|',
  // connection 7: RESP2 pub/sub
  ...CLIENT_RESP2,
  'SUBSCRIBE|SUBSCRIBE news|SUBSCRIBE|-1|ok|',
  'PUBLISH|PUBLISH news|PUBLISH|-1|ok|',
  // connection 8: wrong password
  'HELLO|HELLO ***|HELLO|-1|client_error|WRONGPASS invalid username-password pair or user is disabled.',
  // connection 19: nc with inline commands
  'AUTH|AUTH ***|AUTH|-1|ok|',
  'PING|PING|PING|-1|ok|',
  'GET|GET user:1|GET|-1|ok|',
  'QUIT|QUIT|QUIT|-1|ok|',
  // connection 20: redis-cli
  'AUTH|AUTH ***|AUTH|-1|ok|',
  'LRANGE|LRANGE nolist|LRANGE|-1|ok|',
];

for (const side of ['client', 'server'] as const) {
  test(`real capture, seen from the ${side}: every command paired with its reply, pushes not logged`, () => {
    const r = replay(capture, side);
    assert.deepEqual([...new Set(r.protocols.values())], ['Redis']);
    const got = r.pairs.sort((x, y) => x.request.capSeq - y.request.capSeq || 0).map(describe);
    // pairs are emitted per connection in order; compare as a multiset per connection order
    assert.deepEqual([...got].sort(), [...EXPECTED].sort());
    assert.equal(r.orphans, 0);
    assert.ok(!got.join('\n').includes('s3cretpw') && !got.join('\n').includes('wrongpw'));
  });
}

test('a reply larger than the capture ends where its length says, so the next reply pairs', () => {
  const r = replay(capture, 'client', 256);
  // the one limit: a pipelined write longer than the capture hides the commands past it
  // (here the LRANGE at the end of a 295-byte pipeline): its reply is then an orphan
  assert.equal(r.orphans, 1);
  const big = r.pairs.find((p) => p.request.msg.resource === 'GET big')!;
  assert.equal(big.response!.length, 5009);
  assert.equal(big.response!.msg.totalLength, 5009);
  const set = r.pairs.find((p) => p.request.msg.resource === 'SET big')!;
  assert.equal(set.request.length, 5031);
  const expected = [...EXPECTED];
  expected.splice(expected.indexOf('LRANGE|LRANGE nolist|LRANGE|-1|ok|'), 1);
  assert.deepEqual(r.pairs.map(describe).sort(), expected.sort());
});

test('a command whose value spans syscalls: the continuation is not parsed as commands', () => {
  const p = new RedisParser().forConnection!();
  const value = '*1\r\n$4\r\nPING\r\nxxxxxx'; // 20 bytes that look like a command
  const head = b(`*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$20\r\n${value.slice(0, 14)}`);
  const m = list(p.parse(head, head.length, undefined, out));
  assert.deepEqual(
    m.map((x) => [x.requestType, x.resource, x.totalLength]),
    [['SET', 'SET k', 47]]
  );
  assert.equal(p.parse(b('xxxxxx\r\n'), 8, undefined, out), null);
  const next = list(p.parse(b('\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n'), 24, undefined, out));
  assert.deepEqual(
    next.map((x) => x.resource),
    ['GET k']
  );
});

test('a pipeline cut by the capture: the commands seen, the cut one without a length', () => {
  const p = new RedisParser().forConnection!();
  const cmds = b('*2\r\n$3\r\nGET\r\n$1\r\na\r\n*2\r\n$3\r\nGET\r\n$1\r\nb\r\n');
  const m = list(p.parse(cmds.subarray(0, 34), cmds.length, undefined, out));
  assert.deepEqual(
    m.map((x) => [x.resource, x.totalLength]),
    [
      ['GET a', 20],
      ['GET', undefined],
    ]
  );
  // where the cut command ends is unknown: the client's next write continues it until the server replies
  assert.equal(p.parse(cmds.subarray(0, 20), 20, undefined, out), null);
  assert.equal(list(p.parse(b('$1\r\na\r\n$1\r\nb\r\n'), 14, undefined, back)).length, 2);
  assert.deepEqual(
    list(p.parse(cmds.subarray(0, 20), 20, undefined, out)).map((x) => x.resource),
    ['GET a']
  );
});

test('RESP3 types, errors, null replies and server-state errors', () => {
  const p = new RedisParser().forConnection!();
  p.parse(b('*1\r\n$4\r\nPING\r\n'), 14, undefined, out);
  const replies = b(
    '_\r\n,3.14\r\n#t\r\n(12345678901234567890\r\n=9\r\ntxt:hello\r\n~2\r\n:1\r\n:2\r\n|1\r\n+k\r\n+v\r\n:7\r\n!9\r\nERR oops!\r\n-LOADING Redis is loading\r\n$-1\r\n*-1\r\n'
  );
  const m = list(p.parse(replies, replies.length, undefined, back));
  assert.deepEqual(
    m.map((x) => `${x.status}:${x.exception ?? ''}`),
    [
      'ok:',
      'ok:',
      'ok:',
      'ok:',
      'ok:',
      'ok:',
      'ok:',
      'client_error:ERR oops!',
      'server_error:LOADING Redis is loading',
      'ok:',
      'ok:',
    ]
  );
  assert.equal(
    m.reduce((n, x) => n + (x.totalLength ?? 0), 0),
    replies.length
  );
  assert.equal(scanValue(b('*3\r\n:1\r\n'), 0), -1);
  assert.equal(scanValue(b('$5\r\nhel'), 0), 11);
  assert.equal(scanValue(b('?x\r\n'), 0), -2);
});

test('pub/sub: extra confirmations and messages are unsolicited, the first confirmation answers', () => {
  const p = new RedisParser().forConnection!();
  p.parse(b('*3\r\n$9\r\nSUBSCRIBE\r\n$1\r\na\r\n$1\r\nb\r\n'), 32, undefined, out);
  const conf = b(
    '*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$2\r\nhi\r\n'
  );
  const m = list(p.parse(conf, conf.length, undefined, back));
  assert.deepEqual(
    m.map((x) => !!x.unsolicited),
    [false, true, true]
  );
  // outside pub/sub an array starting with "message" is just data (LRANGE of a list)
  const q = new RedisParser().forConnection!();
  q.parse(b('*4\r\n$6\r\nLRANGE\r\n$1\r\nl\r\n$1\r\n0\r\n$2\r\n-1\r\n'), 40, undefined, out);
  assert.equal((q.parse(b('*1\r\n$7\r\nmessage\r\n'), 17, undefined, back) as ParsedMessage).unsolicited, undefined);
});

test('inference: arrays and inline commands; not HTTP, not lower-case memcached commands', () => {
  const r = new RedisParser();
  assert.ok(r.infer(b('*2\r\n$3\r\nGET\r\n$1\r\nk\r\n'), out));
  assert.ok(r.infer(b('PING\r\n'), out));
  assert.ok(r.infer(b('GET user:1\r\n'), out));
  assert.ok(!r.infer(b('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), out));
  assert.ok(!r.infer(b('get user:1\r\n'), out));
  assert.ok(r.infer(b('get user:1\r\n'), { ...out, peerPort: 6379 }));
  assert.ok(!r.infer(b('HTTP/1.1 200 OK\r\n'), out));
  assert.ok(!r.infer(b('*\r\n'), out));
  assert.ok(!new Http1Parser().infer(b('*1\r\n$4\r\nPING\r\n')));
  assert.ok(!new MemcachedParser().infer(b('*1\r\n$4\r\nPING\r\n'), out));
});

test('secrets: AUTH and HELLO arguments never reach a field', () => {
  const p = new RedisParser().forConnection!();
  const auth = list(
    p.parse(b('*3\r\n$4\r\nAUTH\r\n$5\r\nalice\r\n$6\r\nhunter\r\nAUTH hunter2\r\n'), 50, undefined, out)
  );
  assert.deepEqual(
    auth.map((x) => x.resource),
    ['AUTH ***', 'AUTH ***']
  );
  assert.ok(!JSON.stringify(auth).includes('hunter'));
});
