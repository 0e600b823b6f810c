import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DnsParser, readName } from '../../../src/agent/protocols/dns/dnsParser';
import type { SegmentContext } from '../../../src/agent/protocols/types';

// Captured from dig against dnsmasq (test/e2e/protocols/dns.e2e.test.ts).
const QUERY = Buffer.from(
  '2fbb01200001000000000001056b6e6f776e0474657374000001000100002904d000000000000c000a0008b1c1a7e0f6bc1b4e',
  'hex'
);
const ANSWER = Buffer.from(
  '2fbb85800001000100000001056b6e6f776e0474657374000001000100c00c000100010000000000040a010203000029',
  'hex'
);
const udp: SegmentContext = { egress: true, localPort: 40000, peerPort: 53, l4: 'UDP' };

test('query and answer: id, type, name, rcode', () => {
  const p = new DnsParser();
  const q = p.parse(QUERY, QUERY.length, undefined, udp) as any;
  assert.deepEqual([q.type, q.id, q.requestType, q.resource], ['request', 0x2fbb, 'A', 'known.test']);
  const a = p.parse(ANSWER, ANSWER.length, undefined, { ...udp, egress: false }) as any;
  assert.deepEqual([a.type, a.id, a.code, a.status], ['response', 0x2fbb, 0, 'ok']);
  const nx = Buffer.from(ANSWER);
  nx.writeUInt16BE(0x8583, 2); // rcode 3
  const n = p.parse(nx, nx.length, undefined, udp) as any;
  assert.deepEqual([n.code, n.status, n.exception], [3, 'client_error', 'NXDOMAIN']);
  nx.writeUInt16BE(0x8582, 2);
  assert.equal((p.parse(nx, nx.length, undefined, udp) as any).status, 'server_error');
});

test('TCP: length-prefixed, several per segment, and the prefix on its own', () => {
  const p = new DnsParser();
  const tcp: SegmentContext = { ...udp, l4: 'TCP' };
  const framed = (m: Buffer) => Buffer.concat([Buffer.from([m.length >> 8, m.length & 0xff]), m]);
  const two = Buffer.concat([framed(QUERY), framed(QUERY)]);
  assert.equal((p.parse(two, two.length, undefined, tcp) as any[]).length, 2);
  assert.equal(p.parse(framed(QUERY).subarray(0, 2), 2, undefined, tcp), null);
  assert.equal((p.parse(QUERY, QUERY.length, undefined, tcp) as any).resource, 'known.test');
});

test('inference: any port for a textbook query, DNS ports only for the rest', () => {
  const p = new DnsParser();
  assert.equal(p.infer(QUERY, { ...udp, peerPort: 28300 }), true);
  assert.equal(p.infer(ANSWER, { ...udp, peerPort: 28300 }), false, 'a response off a DNS port is not enough');
  assert.equal(p.infer(ANSWER, udp), true);
  assert.equal(p.infer(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), udp), false);
});

test('compression loops and overlong names are refused, not followed forever', () => {
  const loop = Buffer.from([0xc0, 0x00]);
  assert.equal(readName(loop, 0), null);
  const long = Buffer.concat(
    [...Array(10)].map(() => Buffer.concat([Buffer.from([63]), Buffer.alloc(63, 0x61)])).concat([Buffer.from([0])])
  );
  assert.equal(readName(long, 0), null);
});
