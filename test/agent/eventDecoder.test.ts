import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { decodeBatch, EVENT_LAYOUT, checkLayout } from '../../src/agent/capture/eventDecoder';
import { EventKind, SocketEvent } from '../../src/agent/capture/socketEvent';
import { ADDON_PATH } from '../../src/agent/capture/nativeTracer';

const L = EVENT_LAYOUT;

/** One ring record as bpf/socket_trace.bpf.c writes it, framed as the addon's drain() frames it. */
export function record(o: {
  kind?: number;
  payload?: string;
  sport?: number;
  dport?: number;
  tgid?: number;
  v6?: boolean;
  capLen?: number;
}): Buffer {
  const payload = Buffer.from(o.payload ?? '', 'latin1');
  const rec = Buffer.alloc(L.size + payload.length);
  rec.writeBigUInt64LE(123456789n, L.ts_ns);
  rec.writeBigUInt64LE(0xffff888812345678n, L.sock_id);
  rec.writeUInt32LE(o.tgid ?? 42, L.tgid);
  rec.writeUInt32LE(43, L.tid);
  rec.writeInt32LE(7, L.fd);
  rec.writeUInt16LE(o.kind ?? EventKind.Data, L.kind);
  rec.writeUInt32LE(payload.length, L.ret_len);
  rec.writeUInt32LE(o.capLen ?? payload.length, L.cap_len);
  if (o.v6) {
    rec.writeUInt16LE(10, L.family);
    rec[L.saddr + 15] = 1; // ::1
    rec[L.daddr + 15] = 1;
  } else {
    rec.writeUInt16LE(2, L.family);
    Buffer.from([127, 0, 0, 1]).copy(rec, L.saddr);
    Buffer.from([10, 1, 2, 3]).copy(rec, L.daddr);
  }
  rec.writeUInt16LE(o.sport ?? 40000, L.sport);
  rec.writeUInt16LE(o.dport ?? 80, L.dport);
  rec[L.l4_proto] = 6;
  rec.writeBigUInt64LE(1_795_558_421_443_412n, L.syscall_trace_id); // ids start at the wall clock in µs
  payload.copy(rec, L.size);
  const framed = Buffer.alloc(8 + ((rec.length + 7) & ~7));
  framed.writeUInt32LE(rec.length, 0);
  rec.copy(framed, 8);
  return framed;
}

test('decodes addresses, ports, payload and the folded socket id', () => {
  const out: SocketEvent[] = [];
  const bad = decodeBatch(
    Buffer.concat([record({ payload: 'GET / HTTP/1.1\r\n\r\n' }), record({ v6: true, sport: 1, dport: 2 })]),
    (e) => out.push({ ...e })
  );
  assert.equal(bad, 0);
  assert.equal(out.length, 2);
  assert.equal(out[0].localIp, '127.0.0.1');
  assert.equal(out[0].peerIp, '10.1.2.3');
  assert.equal(out[0].localPort, 40000);
  assert.equal(out[0].payload.toString(), 'GET / HTTP/1.1\r\n\r\n');
  assert.equal(out[0].tsNs, 123456789);
  assert.equal(out[0].syscallTraceId, 1_795_558_421_443_412);
  assert.ok(Number.isSafeInteger(out[0].sockId));
  assert.equal(out[1].localIp, '0:0:0:0:0:0:0:1'.replace(/(^|:)0(:0)+(:|$)/, '::'));
  assert.equal(out[1].peerPort, 2);
});

test('malformed records are skipped and counted, and decoding goes on', () => {
  const good = record({ payload: 'x' });
  const lying = record({ payload: 'abc', capLen: 4000 }); // claims more payload than it holds
  const out: SocketEvent[] = [];
  assert.equal(
    decodeBatch(Buffer.concat([lying, good, lying]), (e) => out.push(e)),
    2
  );
  assert.equal(out.length, 1);
  // a frame shorter than a header breaks the framing: counted once, the rest is not guessed at
  const short = Buffer.alloc(16);
  short.writeUInt32LE(8, 0);
  assert.equal(
    decodeBatch(Buffer.concat([good, short, good]), () => undefined),
    1
  );
  // a truncated tail frame is not read past the buffer
  assert.equal(
    decodeBatch(good.subarray(0, good.length - 16), () => assert.fail('no event')),
    1
  );
});

test('random bytes never throw', () => {
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
  for (let i = 0; i < 2000; i++) {
    const buf = Buffer.alloc(rnd() % 600);
    for (let j = 0; j < buf.length; j++) {
      buf[j] = rnd() & 0xff;
    }
    decodeBatch(buf, () => undefined);
  }
});

test(
  'the built addon has the layout this decoder reads',
  { skip: !existsSync(ADDON_PATH) && 'addon not built' },
  () => {
    const addon = require(ADDON_PATH);
    checkLayout(addon.layout());
    assert.throws(() => checkLayout({ ...addon.layout(), tgid: 99 }), /layout mismatch: tgid/);
  }
);
