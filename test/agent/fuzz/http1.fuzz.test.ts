import { test } from 'node:test';
import { fuzzParser } from './fuzzHarness';
import { Http1Parser } from '../../../src/agent/protocols/http1/http1Parser';

const corpus = [
  'GET /api/users?id=7 HTTP/1.1\r\nHost: shop\r\ntraceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\nX-Request-ID: a\r\n\r\n',
  'POST /upload HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\nhello',
  'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
  'HTTP/1.1 500 Internal Server Error\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
  'GET / HTTP/1.1\r\nb3: 80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90\r\nsw8: 1-YWJj-ZGVm-3-x-y-z-w\r\nuber-trace-id: a:b:c:1\r\n\r\n',
].map((s) => Buffer.from(s, 'latin1'));

test('HTTP/1 parser survives random and mutated input', () => {
  fuzzParser(() => new Http1Parser(), corpus, 1);
});
