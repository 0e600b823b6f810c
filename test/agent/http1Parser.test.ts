import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Http1Parser } from '../../src/agent/protocols/http1/http1Parser';

const p = new Http1Parser();
const b = (s: string) => Buffer.from(s, 'latin1');

test('request line, host, endpoint without query, and length with body', () => {
  const raw = 'POST /api/users?id=7 HTTP/1.1\r\nHost: shop.local\r\nContent-Length: 5\r\n\r\nhello';
  const m = p.parse(b(raw), raw.length)!;
  assert.equal(m.type, 'request');
  assert.equal(m.requestType, 'POST');
  assert.equal(m.resource, '/api/users?id=7');
  assert.equal(m.endpoint, '/api/users');
  assert.equal(m.domain, 'shop.local');
  assert.equal(m.version, '1.1');
  assert.equal(m.totalLength, raw.length);
});

test('status codes map to response statuses', () => {
  const cases: Array<[number, string]> = [
    [200, 'ok'],
    [302, 'ok'],
    [404, 'client_error'],
    [500, 'server_error'],
    [503, 'server_error'],
  ];
  for (const [code, status] of cases) {
    const raw = `HTTP/1.1 ${code} Whatever\r\nContent-Length: 0\r\n\r\n`;
    const m = p.parse(b(raw), raw.length)!;
    assert.equal(m.type, 'response');
    assert.equal(m.code, code);
    assert.equal(m.status, status);
    assert.equal(m.totalLength, raw.length);
  }
});

test('HEAD responses and 204/304 have no body; chunked ends with its terminator', () => {
  const head = 'HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n';
  assert.equal(p.parse(b(head), head.length, { type: 'request', requestType: 'HEAD' })!.totalLength, head.length);
  const chunked = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n';
  const m = p.parse(b(chunked), chunked.length)!;
  assert.equal(m.totalLength, undefined);
  assert.equal(m.terminator?.toString(), '0\r\n\r\n');
});

test('trace headers: traceparent, b3, uber-trace-id, X-Request-ID', () => {
  const raw =
    'GET / HTTP/1.1\r\ntraceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n' +
    'X-Request-ID: req-42\r\n\r\n';
  const m = p.parse(b(raw), raw.length)!;
  assert.equal(m.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
  assert.equal(m.spanId, '00f067aa0ba902b7');
  assert.equal(m.xRequestId, 'req-42');
  const uber = 'GET / HTTP/1.1\r\nuber-trace-id: abc123:def456:0:1\r\n\r\n';
  const u = p.parse(b(uber), uber.length)!;
  assert.equal(u.traceId, 'abc123');
  assert.equal(u.spanId, 'def456');
  assert.equal(u.parentSpanId, undefined);
  const b3 = 'GET / HTTP/1.1\r\nb3: 80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90\r\n\r\n';
  const m3 = p.parse(b(b3), b3.length)!;
  assert.equal(m3.traceId, '80f198ee56343ba864fe8b2a57d3eff7');
  assert.equal(m3.parentSpanId, '05e3ac9a4f6e3b90');
});

test('traceparent: upper-case hex is lower-cased; a malformed one names no trace', () => {
  const parse = (value: string) => {
    const raw = `GET / HTTP/1.1\r\nTraceparent: ${value}\r\n\r\n`;
    return p.parse(b(raw), raw.length)!;
  };
  const upper = parse('00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01');
  assert.equal(upper.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
  assert.equal(upper.spanId, '00f067aa0ba902b7');
  const future = parse('cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-comes-later');
  assert.equal(future.traceId, '4bf92f3577b34da6a3ce929d0e0e4736', 'a later version may append fields');
  for (const bad of [
    '00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01', // not hex
    '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01', // span id one digit short
    '00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01', // wrong separators
    '00-4bf92f3577b34da6a3ce929d0e0e4736', // cut
  ]) {
    const m = parse(bad);
    assert.equal(m.traceId, undefined, bad);
    assert.equal(m.spanId, undefined, bad);
  }
});

test('method and status recognised on the bytes: every method, and near misses are not messages', () => {
  for (const method of ['GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE']) {
    const raw = `${method} /x HTTP/1.1\r\n\r\n`;
    assert.equal(p.parse(b(raw), raw.length)?.requestType, method);
  }
  for (const notHttp of [
    'GETS /x HTTP/1.1\r\n\r\n',
    'get /x HTTP/1.1\r\n\r\n',
    'HTTP/2.0 200 OK\r\n\r\n',
    'HTTP/1.',
    'PU',
  ]) {
    assert.equal(p.parse(b(notHttp), notHttp.length), null, notHttp);
    assert.equal(p.infer(b(notHttp)), false, notHttp);
  }
});

test('X-Request-ID of a response (a gateway returning the id it created) is kept; other trace headers are not', () => {
  const raw =
    'HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Request-ID: 9f1c2e\r\ntraceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n\r\n';
  const m = p.parse(b(raw), raw.length, { type: 'request', requestType: 'GET' })!;
  assert.equal(m.type, 'response');
  assert.equal(m.xRequestId, '9f1c2e');
  assert.equal(m.traceId, undefined);
  const none = 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n';
  assert.equal(p.parse(b(none), none.length)!.xRequestId, undefined);
});

test('headers cut by the capture size leave the length unknown but keep the request line', () => {
  const raw = 'GET /very/long/path HTTP/1.1\r\nHost: a\r\nUser-Agent: xxxxxxxx';
  const m = p.parse(b(raw), 5000)!;
  assert.equal(m.endpoint, '/very/long/path');
  assert.equal(m.totalLength, undefined);
});

test('body bytes, garbage and near-misses are not messages', () => {
  for (const s of ['hello world', '{"a":1}', 'GETX / HTTP/1.1\r\n', 'HTTP/2 200\r\n', '', 'HTTP/1.1 abc OK\r\n\r\n']) {
    assert.equal(p.parse(b(s), s.length), null, JSON.stringify(s));
  }
  assert.equal(p.infer(b('GET / HTTP/1.1\r\n')), true);
  assert.equal(p.infer(b('\x16\x03\x01\x02\x00')), false);
});
