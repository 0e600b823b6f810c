import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fuzzParser } from './fuzzHarness';
import { Http2Parser } from '../../../src/agent/protocols/http2/http2Parser';
import { loadCapture } from '../protocols/http2Replay';

// every read of the real nginx (curl, node:http2) and grpcio captures
const corpus = [
  ...loadCapture('http2', 'nginx.json').connections,
  ...loadCapture('grpc', 'python_grpcio.json').connections,
].flatMap((c) => c.chunks.map((ch) => Buffer.from(ch.hex, 'hex')));

test('HTTP/2 + gRPC parser survives random and mutated input', () => {
  const r = fuzzParser(() => new Http2Parser(), corpus, 7);
  assert.ok(r.messages > 0, 'mutated captures still produce messages');
});
