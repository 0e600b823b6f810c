import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AmqpParser } from '../../../src/agent/protocols/amqp/amqpParser';
import { loadCapture, replay, pieces } from './mqttReplay';

// Recorded between RabbitMQ 3.10 and Python pika 1.4.4 (blocking client): see test/e2e/protocols/amqp.e2e.test.ts.
const cap = loadCapture('amqp', 'rabbitmq-pika-session.json');
const make = () => new AmqpParser();

const SESSION = [
  'Connection.StartOk|||200|ok|',
  'Connection.Open|/|/|200|ok|',
  'Channel.Open||/|200|ok|',
  'Exchange.Declare|orders|/|200|ok|',
  'Queue.Declare|work|/|200|ok|',
  'Queue.Bind|orders/work|/|200|ok|',
  'Basic.Publish|orders/new|/|-1|ok| oneWay',
  'Basic.Publish|work|/|-1|ok| oneWay',
  'Basic.Get|work|/|200|ok|',
  'Basic.Ack||/|-1|ok| oneWay',
  'Basic.Get|work|/|200|ok|',
  'Basic.Get|work|/|200|ok|',
  'Confirm.Select||/|200|ok|',
  'Basic.Publish|work|/|200|ok|',
  'Queue.Purge|work|/|200|ok|',
  "Queue.Declare|missing-queue|/|404|client_error|NOT_FOUND - no queue 'missing-queue' in vhost '/'",
  'Connection.Close||/|200|ok|',
];

test('a pika session: sync methods paired per channel, publishes one-way until confirm mode, 404 channel close', () => {
  for (const view of ['client', 'server'] as const) {
    for (const cut of [undefined, pieces(5), pieces(1)]) {
      const r = replay(cap, 1, make, view, cut);
      assert.deepEqual(r.lines, SESSION, view);
      assert.equal(r.orphans, 0);
    }
  }
});

test('a refused login: StartOk answered by Connection.Close 403', () => {
  for (const view of ['client', 'server'] as const) {
    assert.deepEqual(replay(cap, 2, make, view).lines, [
      'Connection.StartOk|||403|client_error|ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. For details see the broker logfile.',
    ]);
  }
});

test('the role is learnt from the protocol header when connect/accept were not seen', () => {
  assert.deepEqual(replay(cap, 1, make, 'server', undefined, 1024, false).lines, SESSION);
});

test('PLAIN credentials are never in a parsed field', () => {
  for (const conn of [1, 2]) {
    for (const p of replay(cap, conn, make, 'server').pairs) {
      const all = JSON.stringify([p.request.msg, p.response?.msg]);
      assert.ok(!all.includes('guest') && !all.includes('badpass'), all);
    }
  }
});

test('a capture cut at 64 bytes still frames the stream', () => {
  // syscalls holding several frames lose the ones past the capture; the next syscall resynchronises
  const r = replay(cap, 1, make, 'client', undefined, 64);
  assert.ok(r.lines.length >= SESSION.length - 2, r.lines.join('\n'));
  assert.ok(r.lines.includes(SESSION[15]) && r.lines.includes(SESSION[16]));
});

test('inference: the protocol header or a whole method frame; not HTTP', () => {
  const p = new AmqpParser();
  assert.equal(p.infer(Buffer.from('AMQP\x00\x00\x09\x01', 'latin1')), true);
  assert.equal(p.infer(Buffer.from(cap[1].hex, 'hex')), true);
  assert.equal(p.infer(Buffer.from('GET / HTTP/1.1\r\n\r\n')), false);
  assert.equal(p.infer(Buffer.from('0100000000000c000a001e07ff00020000003cff', 'hex')), false, 'no frame end');
});

test('a hostile delivery tag in a confirm Basic.Ack neither loops nor pairs', () => {
  const p = make().forConnection!();
  const out = { egress: true, localPort: 40000, peerPort: 5672, l4: 'TCP' as const };
  const frame = (ch: number, payload: Buffer) => {
    const f = Buffer.alloc(8 + payload.length);
    f[0] = 1;
    f.writeUInt16BE(ch, 1);
    f.writeUInt32BE(payload.length, 3);
    payload.copy(f, 7);
    f[f.length - 1] = 0xce;
    return f;
  };
  p.parse(Buffer.from('AMQP\x00\x00\x09\x01', 'latin1'), 8, undefined, out);
  p.parse(frame(1, Buffer.from('0055000a00', 'hex')), 13, undefined, out); // Confirm.Select
  const ack = frame(1, Buffer.from('003c0050ffffffffffffffff01', 'hex')); // Basic.Ack tag 2^64-1, multiple
  const t0 = Date.now();
  assert.equal(p.parse(ack, ack.length, undefined, { ...out, egress: false }), null);
  assert.ok(Date.now() - t0 < 50);
});
