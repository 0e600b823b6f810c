import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodePacket,
  TCP_ACK,
  TCP_FIN,
  TCP_PSH,
  TCP_RST,
  TCP_SYN,
} from '../../../src/agent/network/packets/packetDecoder';
import { mean, TcpTimeline } from '../../../src/agent/network/packets/tcpTimeline';
import { tcpPacket } from './packetFixtures';

const C = '10.0.0.1';
const S = '10.0.0.2';

function pkt(dir: 0 | 1, tsUs: number, seq: number, ack: number, flags: number, payload = '', window?: number) {
  const [src, dst, sport, dport] = dir === 0 ? [C, S, 40000, 80] : [S, C, 80, 40000];
  return decodePacket(tcpPacket({ src, dst, sport, dport, seq, ack, flags, payload, window }), 1, tsUs, false, 0)!;
}

test('the four Network Profile latencies from one keep-alive conversation', () => {
  const t = new TcpTimeline(100);
  const c0 = 1000;
  const s0 = 5000;
  t.onPacket(0, pkt(0, 0, c0, 0, TCP_SYN));
  t.onPacket(1, pkt(1, 300, s0, c0 + 1, TCP_SYN | TCP_ACK));
  t.onPacket(0, pkt(0, 450, c0 + 1, s0 + 1, TCP_ACK)); // handshake done: 450 µs
  // request 1 (10 bytes), ACKed 40 µs later, answered 20 ms after its last byte
  assert.equal(t.onPacket(0, pkt(0, 1000, c0 + 1, s0 + 1, TCP_ACK | TCP_PSH, 'GET /a\r\n\r\n')), 0);
  t.onPacket(1, pkt(1, 1040, s0 + 1, c0 + 11, TCP_ACK));
  t.onPacket(1, pkt(1, 21000, s0 + 1, c0 + 11, TCP_ACK | TCP_PSH, 'HTTP 200\r\n'));
  t.onPacket(0, pkt(0, 21060, c0 + 11, s0 + 11, TCP_ACK));
  // the client waits 300 ms, then request 2, answered after 5 ms
  t.onPacket(0, pkt(0, 321000, c0 + 11, s0 + 11, TCP_ACK | TCP_PSH, 'GET /b\r\n\r\n'));
  t.onPacket(1, pkt(1, 326000, s0 + 11, c0 + 21, TCP_ACK | TCP_PSH, 'HTTP 200\r\n'));
  t.onPacket(0, pkt(0, 326100, c0 + 21, s0 + 21, TCP_ACK | TCP_FIN));
  assert.equal(t.connLatencyUs, 450);
  assert.deepEqual(t.serverResponse, { sum: 20000 + 5000, count: 2, max: 20000 });
  assert.deepEqual(t.clientWait, { sum: 300000, count: 1, max: 300000 });
  // ACK samples: request 1 (40), response 1 (60), response 2 acked by the FIN (100); request 2 is acked by response 2's ack field (5000)
  assert.deepEqual(t.ack, { sum: 40 + 60 + 5000 + 100, count: 4, max: 5000 });
  assert.equal(mean(t.serverResponse), 12500);
  assert.equal(t.packets, 10);
  assert.equal(t.eventTimeUs.length, 10);
  assert.deepEqual(t.eventDirection, [0, 1, 0, 0, 1, 1, 0, 0, 1, 0]);
});

test('retransmitted data is neither a new request nor a latency sample; the events are bounded', () => {
  const t = new TcpTimeline(3);
  t.onPacket(0, pkt(0, 0, 100, 0, TCP_SYN));
  t.onPacket(1, pkt(1, 10, 900, 101, TCP_SYN | TCP_ACK));
  t.onPacket(0, pkt(0, 20, 101, 901, TCP_ACK));
  assert.equal(t.onPacket(0, pkt(0, 100, 101, 901, TCP_ACK | TCP_PSH, 'hello')), 0);
  assert.equal(t.onPacket(0, pkt(0, 200300, 101, 901, TCP_ACK | TCP_PSH, 'hello')), -1, 'a full retransmission');
  assert.equal(
    t.onPacket(0, pkt(0, 200400, 103, 901, TCP_ACK | TCP_PSH, 'llo world')),
    3,
    'partly new: 3 bytes seen before'
  );
  t.onPacket(1, pkt(1, 250000, 901, 112, TCP_ACK | TCP_PSH, 'ok'));
  assert.equal(t.retransmissions, 1);
  assert.deepEqual(t.serverResponse, { sum: 250000 - 200400, count: 1, max: 49600 });
  assert.equal(t.clientWait.count, 0);
  assert.equal(t.eventTimeUs.length, 3);
  assert.equal(t.eventsTruncated, 4);
});

test('a resent last segment with the FIN on it and a resent lone FIN are retransmissions, as the kernel counts them', () => {
  const t = new TcpTimeline(100);
  t.onPacket(0, pkt(0, 0, 100, 0, TCP_SYN));
  t.onPacket(1, pkt(1, 10, 900, 101, TCP_SYN | TCP_ACK));
  t.onPacket(0, pkt(0, 20, 101, 901, TCP_ACK | TCP_PSH, 'GET'));
  // the server closes right after its last write: the FIN rides on that segment, which is lost
  assert.equal(t.onPacket(1, pkt(1, 1000, 901, 104, TCP_ACK | TCP_FIN, 'bye')), 0);
  assert.equal(t.onPacket(1, pkt(1, 201000, 901, 104, TCP_ACK | TCP_FIN, 'bye')), -1);
  assert.equal(t.retransmissions, 1);
  // the client's lone FIN, lost and sent again
  t.onPacket(0, pkt(0, 201100, 104, 905, TCP_ACK | TCP_FIN));
  t.onPacket(0, pkt(0, 401100, 104, 905, TCP_ACK | TCP_FIN));
  assert.equal(t.retransmissions, 2);
  t.onPacket(1, pkt(1, 401200, 905, 105, TCP_ACK));
  assert.equal(t.retransmissions, 2);
});

test('sequence numbers wrap around 2^32', () => {
  const t = new TcpTimeline(10);
  t.onPacket(0, pkt(0, 0, 0xfffffff0, 0, TCP_SYN));
  t.onPacket(1, pkt(1, 10, 7, 0xfffffff1, TCP_SYN | TCP_ACK));
  t.onPacket(0, pkt(0, 20, 0xfffffff1, 8, TCP_ACK));
  t.onPacket(0, pkt(0, 30, 0xfffffff1, 8, TCP_ACK | TCP_PSH, 'x'.repeat(32)));
  t.onPacket(1, pkt(1, 80, 8, 0x11, TCP_ACK));
  assert.equal(t.onPacket(0, pkt(0, 90, 0x11, 8, TCP_ACK | TCP_PSH, 'more')), 0, 'new data after the wrap');
  assert.deepEqual([t.connLatencyUs, t.ack.count, t.ack.sum, t.retransmissions], [20, 1, 50, 0]);
});

test("a reader that stops: its zero-window ACKs are counted and stored with every packet's window; a RST's 0 is not one", () => {
  const t = new TcpTimeline(4);
  const c0 = 1000;
  const s0 = 5000;
  t.onPacket(0, pkt(0, 0, c0, 0, TCP_SYN, '', 64240));
  t.onPacket(1, pkt(1, 100, s0, c0 + 1, TCP_SYN | TCP_ACK, '', 65160));
  t.onPacket(1, pkt(1, 200, s0 + 1, c0 + 1, TCP_ACK | TCP_PSH, 'x'.repeat(100), 502));
  t.onPacket(0, pkt(0, 300, c0 + 1, s0 + 101, TCP_ACK, '', 0)); // the client's buffer is full
  t.onPacket(0, pkt(0, 900, c0 + 1, s0 + 101, TCP_ACK, '', 0)); // a zero-window probe's answer, past the stored events
  t.onPacket(0, pkt(0, 1000, c0 + 1, s0 + 101, TCP_ACK | TCP_RST, '', 0));
  assert.equal(t.zeroWindows, 2);
  assert.deepEqual(t.eventWindow, [64240, 65160, 502, 0]);
  assert.equal(t.eventsTruncated, 2);
  t.resetInterval();
  assert.equal(t.zeroWindows, 0);
  assert.deepEqual(t.eventWindow, []);
});
