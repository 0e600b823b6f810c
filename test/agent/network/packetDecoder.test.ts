import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodePacket,
  decodePacketBatch,
  Packet,
  TCP_ACK,
  TCP_PSH,
  TCP_SYN,
} from '../../../src/agent/network/packets/packetDecoder';
import { record, tcpPacket, udpPacket } from './packetFixtures';

test('IPv4 TCP: addresses, ports, seq/ack/flags/window, payload length beyond the captured prefix', () => {
  const data = tcpPacket({
    src: '10.1.2.3',
    dst: '10.1.2.4',
    sport: 40000,
    dport: 8080,
    seq: 0xfffffff0,
    ack: 77,
    flags: TCP_ACK | TCP_PSH,
    window: 1234,
    payload: 'GET / HTTP/1.1\r\n',
    extraLen: 500,
  });
  const p = decodePacket(data, 3, 1_000_000, true, data.length + 500)!;
  assert.deepEqual(
    { ...p, payload: p.payload.toString() },
    {
      sockId: 3,
      tsUs: 1_000_000,
      outgoing: true,
      l4: 'TCP',
      srcIp: '10.1.2.3',
      srcPort: 40000,
      dstIp: '10.1.2.4',
      dstPort: 8080,
      seq: 0xfffffff0,
      ack: 77,
      flags: TCP_ACK | TCP_PSH,
      window: 1234,
      payloadLen: 516,
      payload: 'GET / HTTP/1.1\r\n',
    }
  );
});

test('IPv6 TCP and IPv4 UDP decode', () => {
  const p6 = decodePacket(
    tcpPacket({ src: 'fd00::1', dst: 'fd00::2', sport: 1, dport: 2, seq: 5, flags: TCP_SYN }),
    1,
    0,
    false,
    0
  )!;
  assert.deepEqual([p6.srcIp, p6.dstIp, p6.flags, p6.payloadLen], ['fd00::1', 'fd00::2', TCP_SYN, 0]);
  const u = decodePacket(udpPacket('10.0.0.1', '10.0.0.2', 5353, 53, Buffer.from('abcd')), 1, 0, false, 0)!;
  assert.deepEqual([u.l4, u.srcPort, u.dstPort, u.payloadLen, u.payload.toString()], ['UDP', 5353, 53, 4, 'abcd']);
});

test('malformed packets are rejected, not thrown on', () => {
  const good = tcpPacket({
    src: '10.0.0.1',
    dst: '10.0.0.2',
    sport: 1,
    dport: 2,
    seq: 1,
    flags: TCP_ACK,
    payload: 'xyz',
  });
  const bad: Array<[string, Buffer]> = [
    ['too short', good.subarray(0, 19)],
    ['IHL 4', Buffer.concat([Buffer.from([0x44]), good.subarray(1)])],
    ['IHL past the capture', Buffer.concat([Buffer.from([0x4f]), good.subarray(1, 30)])],
    ['TCP header cut', good.subarray(0, 30)],
    [
      'data offset 3',
      (() => {
        const b = Buffer.from(good);
        b[32] = 3 << 4;
        return b;
      })(),
    ],
    [
      'data offset past the capture',
      (() => {
        const b = Buffer.from(good);
        b[32] = 15 << 4;
        return b;
      })(),
    ],
    [
      'total length below the headers',
      (() => {
        const b = Buffer.from(good);
        b.writeUInt16BE(30, 2);
        return b;
      })(),
    ],
    [
      'a later fragment',
      (() => {
        const b = Buffer.from(good);
        b.writeUInt16BE(0x0010, 6);
        return b;
      })(),
    ],
    [
      'ICMP',
      (() => {
        const b = Buffer.from(good);
        b[9] = 1;
        return b;
      })(),
    ],
    [
      'version 5',
      (() => {
        const b = Buffer.from(good);
        b[0] = 0x55;
        return b;
      })(),
    ],
    [
      'UDP length 4',
      (() => {
        const b = udpPacket('10.0.0.1', '10.0.0.2', 1, 2, Buffer.from('ab'));
        b.writeUInt16BE(4, 24);
        return b;
      })(),
    ],
  ];
  for (const [what, b] of bad) {
    assert.equal(decodePacket(b, 1, 0, false, b.length), undefined, what);
  }
  assert.ok(decodePacket(good, 1, 0, false, good.length));
});

test('a batch: every record decoded in order, malformed ones counted and skipped, broken framing stops', () => {
  const a = tcpPacket({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1000, dport: 80, seq: 1, flags: TCP_SYN });
  const b = tcpPacket({
    src: '10.0.0.2',
    dst: '10.0.0.1',
    sport: 80,
    dport: 1000,
    seq: 9,
    ack: 2,
    flags: TCP_SYN | TCP_ACK,
  });
  const seen: Packet[] = [];
  const batch = Buffer.concat([
    record(a, { tsUs: 1_700_000_000_123_456 }),
    record(a.subarray(0, 25)),
    record(b, { outgoing: true, sockId: 7 }),
  ]);
  assert.equal(
    decodePacketBatch(batch, (p) => seen.push({ ...p })),
    1
  );
  assert.deepEqual(
    seen.map((p) => [p.sockId, p.tsUs, p.outgoing, p.srcPort]),
    [
      [1, 1_700_000_000_123_456, false, 1000],
      [7, 1_700_000_000_000_000, true, 80],
    ]
  );
  const broken = Buffer.concat([record(a), Buffer.from([3, 0, 0, 0, 0, 0, 0, 0])]);
  assert.equal(
    decodePacketBatch(broken, () => undefined),
    1
  );
  const capPastLen = record(a);
  capPastLen.writeUInt16LE(200, 20);
  assert.equal(
    decodePacketBatch(capPastLen, () => assert.fail('decoded a record whose data overflows it')),
    1
  );
});
