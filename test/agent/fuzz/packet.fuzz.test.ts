// The packet decoder and the flow tracker behind it on random and mutated captures: nothing may
// throw, every bad record is counted, and the flow table stays bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FUZZ_ITERATIONS, mutate, prng } from './fuzzHarness';
import { decodePacketBatch, TCP_ACK, TCP_PSH, TCP_SYN } from '../../../src/agent/network/packets/packetDecoder';
import { PacketFlows } from '../../../src/agent/network/packets/packetFlows';
import { defaultParsers } from '../../../src/agent/protocols/registry';
import { record, tcpPacket, udpPacket } from '../network/packetFixtures';

const corpus = [
  tcpPacket({ src: '10.0.0.1', dst: '10.0.0.2', sport: 40000, dport: 80, seq: 1, flags: TCP_SYN }),
  tcpPacket({ src: '10.0.0.2', dst: '10.0.0.1', sport: 80, dport: 40000, seq: 9, ack: 2, flags: TCP_SYN | TCP_ACK }),
  tcpPacket({
    src: '10.0.0.1',
    dst: '10.0.0.2',
    sport: 40000,
    dport: 80,
    seq: 2,
    ack: 10,
    flags: TCP_ACK | TCP_PSH,
    payload: 'GET /a HTTP/1.1\r\nHost: x\r\n\r\n',
  }),
  tcpPacket({
    src: '10.0.0.2',
    dst: '10.0.0.1',
    sport: 80,
    dport: 40000,
    seq: 10,
    ack: 30,
    flags: TCP_ACK | TCP_PSH,
    payload: 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
  }),
  tcpPacket({
    src: 'fd00::1',
    dst: 'fd00::2',
    sport: 5000,
    dport: 6379,
    seq: 77,
    flags: TCP_ACK | TCP_PSH,
    payload: '*1\r\n$4\r\nPING\r\n',
  }),
  udpPacket(
    '10.0.0.1',
    '10.0.0.3',
    5353,
    53,
    Buffer.from(
      '2fbb01200001000000000001056b6e6f776e0474657374000001000100002904d000000000000c000a0008b1c1a7e0f6bc1b4e',
      'hex'
    )
  ),
];

test('packet decoder + flow tracker survive random and mutated packets; malformed ones are counted', () => {
  const rnd = prng(11);
  const flows = new PacketFlows({
    host: 'fuzz',
    parsers: defaultParsers(),
    iface: () => ({ netns: '', ifname: 'eth0', localAddrs: new Set(['10.0.0.1']) }),
    maxFlows: 64,
    sink: { timeline: () => undefined, l7: () => undefined },
    directory: { pidOf: () => 0, comm: () => '', service: () => '', remoteService: () => '' },
  });
  let decoded = 0;
  let malformed = 0;
  for (let i = 0; i < FUZZ_ITERATIONS; i++) {
    const data =
      rnd() < 0.85
        ? mutate(corpus[Math.floor(rnd() * corpus.length)], rnd)
        : Buffer.from(Array.from({ length: Math.floor(rnd() * 80) }, () => Math.floor(rnd() * 256)));
    const rec = record(data.subarray(0, 65535), {
      sockId: 1 + Math.floor(rnd() * 3),
      tsUs: 1_700_000_000_000_000 + i * 100,
      outgoing: rnd() < 0.5,
    });
    // now and then a record header is mutated too (the framing the native side writes)
    const batch = rnd() < 0.05 ? mutate(rec, rnd) : rec;
    try {
      const before = decoded;
      const bad = decodePacketBatch(batch, (p) => {
        decoded++;
        flows.onPacket(p);
      });
      malformed += bad;
      assert.ok(bad + (decoded - before) >= 1 || batch.length < 24, 'every record is either decoded or counted');
    } catch (err) {
      assert.fail(`input #${i} (seed 11) ${batch.toString('hex').slice(0, 300)}: ${(err as Error).stack}`);
    }
    if (i % 500 === 0) {
      flows.sweep(1_700_000_000_000_000 + i * 100 + 200e6);
    }
    assert.ok(flows.size <= 64);
  }
  flows.finish();
  assert.ok(decoded > FUZZ_ITERATIONS / 10, `only ${decoded} packets decoded`);
  assert.ok(malformed > FUZZ_ITERATIONS / 10, `only ${malformed} malformed`);
});
