// HTTP/2 parser on real captures (nginx h2c with curl and node:http2), cut into syscalls and
// truncated by the capture size, plus inference and RST_STREAM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Http2Parser, PREFACE } from '../../../src/agent/protocols/http2/http2Parser';
import { loadCapture, replay, summary } from './http2Replay';

const nginx = loadCapture('http2', 'nginx.json');
const conn = (name: string) => nginx.connections.find((c) => c.name === name)!.chunks;
const AUTH = '127.0.0.1:28241';

test('curl against nginx: one request per connection, both ends, trace header', () => {
  for (const view of ['client', 'server'] as const) {
    const ok = replay(conn('curl_ok'), view);
    assert.deepEqual(summary(ok), [`1 GET ${AUTH} /ok?x=1 /ok -> 200 ok`]);
    assert.equal(ok.pairs[0].request.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
    assert.equal(ok.pairs[0].request.spanId, '00f067aa0ba902b7');
    assert.equal(ok.parser.protocol, 'HTTP2');
    assert.deepEqual(summary(replay(conn('curl_missing'), view)), [
      `1 GET ${AUTH} /missing /missing -> 404 client_error`,
    ]);
    assert.deepEqual(summary(replay(conn('curl_fail'), view)), [`1 GET ${AUTH} /fail /fail -> 500 server_error`]);
  }
});

const MULTIPLEXED = [
  `1 GET ${AUTH} /ok /ok -> 200 ok`,
  `3 GET ${AUTH} /missing /missing -> 404 client_error`,
  `5 GET ${AUTH} /fail /fail -> 500 server_error`,
  `7 GET ${AUTH} /ok?y=2 /ok -> 200 ok`,
  `9 GET ${AUTH} /big /big -> 200 ok`,
];
const sorted = (a: string[]) => [...a].sort((x, y) => Number(x.split(' ')[0]) - Number(y.split(' ')[0]));

test('node:http2 against nginx: five streams on one connection, several frames per read, HPACK dynamic table', () => {
  const r = replay(conn('node_multiplexed'));
  assert.deepEqual(sorted(summary(r)), MULTIPLEXED);
  assert.deepEqual(r.unpaired, []);
  assert.equal(r.pairs.find((p) => p.request.id === 3)!.request.xRequestId, 'req-missing');
});

test('frames split across syscalls at every size give the same rows', () => {
  for (const cut of [1, 2, 5, 9, 10, 17, 64, 100]) {
    assert.deepEqual(sorted(summary(replay(conn('node_multiplexed'), 'client', cut))), MULTIPLEXED, `cut ${cut}`);
    assert.deepEqual(sorted(summary(replay(conn('node_multiplexed'), 'server', cut))), MULTIPLEXED, `cut ${cut}`);
  }
});

test('syscalls cut by the capture size: resync, no throw, no invented rows', () => {
  for (const capture of [16, 40, 64, 128]) {
    const r = replay(conn('node_multiplexed'), 'client', Infinity, capture);
    for (const line of summary(r)) {
      assert.ok(MULTIPLEXED.includes(line) || /-> \S+ unknown/.test(line) || /GET/.test(line), `${capture}: ${line}`);
    }
  }
});

test('inference: preface or a first SETTINGS frame, not HTTP/1 or junk', () => {
  const p = new Http2Parser();
  const ctx = { egress: true, localPort: 1, peerPort: 2, l4: 'TCP' as const };
  assert.equal(p.infer(Buffer.from(conn('curl_ok')[0].hex, 'hex'), ctx), true);
  assert.equal(p.infer(Buffer.from(conn('curl_ok')[1].hex, 'hex'), ctx), true, 'nginx SETTINGS');
  assert.equal(p.infer(PREFACE.subarray(0, 16), ctx), true);
  assert.equal(p.infer(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), ctx), false);
  assert.equal(p.infer(Buffer.from('PRI * HTTP/1.1\r\n'), ctx), false);
  assert.equal(p.infer(Buffer.from('000000040000000000', 'hex'), ctx), true, 'an empty SETTINGS alone');
  assert.equal(p.infer(Buffer.from('0000000400000000000000', 'hex'), ctx), false, 'zeros after it');
  assert.equal(p.infer(Buffer.from('000006040000000000000000000000', 'hex'), ctx), false, 'setting id 0');
  assert.equal(p.infer(Buffer.from('*1\r\n$4\r\nPING\r\n'), ctx), false);
});

test('RST_STREAM from the server answers the stream as a server error', () => {
  const p = new Http2Parser().forConnection();
  const client = { egress: true, localPort: 1, peerPort: 2, l4: 'TCP' as const };
  // preface, then HEADERS (stream 1, END_HEADERS|END_STREAM): :method GET, :scheme http, :path /, :authority a
  const req = Buffer.concat([PREFACE, Buffer.from('000006010500000001828684410161', 'hex')]);
  const q = p.parse(req, req.length, undefined, client) as any[];
  assert.deepEqual([q[0].type, q[0].id, q[0].requestType, q[0].resource, q[0].domain], ['request', 1, 'GET', '/', 'a']);
  const rst = Buffer.from('00000403000000000100000002', 'hex');
  assert.equal(p.parse(rst, rst.length, undefined, client), null, "the client's own reset is not a response");
  const p2 = new Http2Parser().forConnection();
  p2.parse(req, req.length, undefined, client);
  const s = p2.parse(rst, rst.length, undefined, { ...client, egress: false }) as any[];
  assert.deepEqual(
    [s[0].type, s[0].id, s[0].code, s[0].status, s[0].exception],
    ['response', 1, 2, 'server_error', 'RST_STREAM INTERNAL_ERROR']
  );
});
