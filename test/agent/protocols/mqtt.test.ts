import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MqttParser } from '../../../src/agent/protocols/mqtt/mqttParser';
import { loadCapture, replay, pieces, Cutter } from './mqttReplay';

// Recorded between mosquitto 2.0.11 and mosquitto_pub/mosquitto_sub (users alice/s3cretPW; ACL on sensors/#).
const cap = loadCapture('mqtt', 'mosquitto-session.json');
const make = () => new MqttParser();

/** libmosquitto reads the fixed header one byte at a time, then the rest of the packet in one read. */
const libmosquittoReads: Cutter = (b) => {
  const out: Buffer[] = [];
  let pos = 0;
  while (pos < b.length) {
    out.push(b.subarray(pos, pos + 1));
    let i = pos + 1;
    let value = 0;
    let mult = 1;
    for (;;) {
      out.push(b.subarray(i, i + 1));
      value += (b[i] & 0x7f) * mult;
      mult *= 128;
      if (!(b[i++] & 0x80)) {
        break;
      }
    }
    if (value) {
      out.push(b.subarray(i, i + value));
    }
    pos = i + value;
  }
  return out;
};

const SUBSCRIBER = ['CONNECT|alice|sub1|0|ok|', 'SUBSCRIBE|sensors/#|sub1|0|ok|', 'DISCONNECT||sub1|-1|ok| oneWay'];

test('subscriber: CONNECT/CONNACK in order, SUBSCRIBE/SUBACK by id; deliveries are not logged', () => {
  for (const view of ['client', 'server'] as const) {
    const r = replay(cap, 1, make, view);
    assert.deepEqual(r.lines, SUBSCRIBER, view);
    assert.equal(r.orphans, 0, view);
  }
});

test('publishers: QoS 0 one-way, QoS 1 → PUBACK, QoS 2 → PUBREC, with byte-at-a-time reads on both ends', () => {
  const want: Record<number, string[]> = {
    2: ['CONNECT|alice|pub0|0|ok|', 'PUBLISH|sensors/q0|pub0|-1|ok| oneWay', 'DISCONNECT||pub0|-1|ok| oneWay'],
    3: ['CONNECT|alice|pub1|0|ok|', 'PUBLISH|sensors/q1|pub1|0|ok|', 'DISCONNECT||pub1|-1|ok| oneWay'],
    4: ['CONNECT|alice|pub2|0|ok|', 'PUBLISH|sensors/q2|pub2|0|ok|', 'DISCONNECT||pub2|-1|ok| oneWay'],
  };
  for (const [conn, lines] of Object.entries(want)) {
    for (const view of ['client', 'server'] as const) {
      for (const cut of [undefined, libmosquittoReads, pieces(1), pieces(3)]) {
        const r = replay(cap, Number(conn), make, view, cut);
        assert.deepEqual(r.lines, lines, `conn ${conn} ${view}`);
        assert.equal(r.orphans, 0);
      }
    }
  }
});

test('errors: bad password (CONNACK 5), MQTT 5 PUBACK 0x87 Not authorized, 0x10 no subscribers is ok', () => {
  assert.deepEqual(replay(cap, 5, make, 'server', libmosquittoReads).lines, [
    'CONNECT|alice|bad|5|client_error|Connection Refused: not authorized',
  ]);
  const v5 = replay(cap, 7, make, 'client').pairs;
  assert.equal(v5[0].request.msg.version, '5.0');
  assert.deepEqual(replay(cap, 7, make, 'client').lines, [
    'CONNECT|alice|pub5|0|ok|',
    'PUBLISH|sensors/v5|pub5|16|ok|',
    'DISCONNECT||pub5|-1|ok| oneWay',
  ]);
  assert.deepEqual(replay(cap, 8, make, 'server', libmosquittoReads).lines, [
    'CONNECT|alice|pub5d|0|ok|',
    'PUBLISH|secret/v5|pub5d|135|client_error|Not authorized',
    'DISCONNECT||pub5d|-1|ok| oneWay',
  ]);
});

test('the password is never in a parsed field', () => {
  for (let conn = 1; conn <= 8; conn++) {
    for (const p of replay(cap, conn, make, 'server', libmosquittoReads).pairs) {
      assert.ok(
        !JSON.stringify(p.request.msg).includes('s3cretPW') && !JSON.stringify(p.request.msg).includes('wrong')
      );
    }
  }
});

test('inference: CONNECT whole or without its fixed header; not HTTP, not random', () => {
  const p = new MqttParser();
  const connect = Buffer.from(cap[0].hex, 'hex');
  assert.equal(p.infer(connect), true);
  assert.equal(p.infer(connect.subarray(2)), true);
  assert.equal(p.infer(connect.subarray(0, 1)), false);
  assert.equal(p.infer(Buffer.from('GET / HTTP/1.1\r\n\r\n')), false);
  assert.equal(p.infer(Buffer.from([0x10, 0x02, 0x00, 0x00])), false);
});

test('SUBACK 0x80 (3.1.1 failure) is a client_error', () => {
  const p = make().forConnection();
  const ctx = { egress: true, localPort: 1, peerPort: 1883, l4: 'TCP' as const };
  p.parse(Buffer.from(cap[0].hex, 'hex'), 35, undefined, ctx);
  const sub = p.parse(Buffer.from('820e0001000973656e736f72732f2300', 'hex'), 16, undefined, ctx) as any;
  assert.equal(sub.id, 's1');
  const ack = p.parse(Buffer.from('9003000180', 'hex'), 5, undefined, { ...ctx, egress: false }) as any;
  assert.deepEqual([ack.id, ack.code, ack.status], ['s1', 0x80, 'client_error']);
});
