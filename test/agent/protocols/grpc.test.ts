// gRPC over h2c on a real python3-grpcio capture: unary OK / NOT_FOUND / INTERNAL calls made
// concurrently on one channel, metadata trace context, and a server-streaming call.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadCapture, replay, summary } from './http2Replay';

const chunks = loadCapture('grpc', 'python_grpcio.json').connections[0].chunks;
const WANT = [
  '1 POST demo.v1.Items /demo.v1.Items/Get /demo.v1.Items/Get -> 0 ok',
  '3 POST demo.v1.Items /demo.v1.Items/Get /demo.v1.Items/Get -> 0 ok',
  '5 POST demo.v1.Items /demo.v1.Items/Get /demo.v1.Items/Get -> 0 ok',
  '7 POST demo.v1.Items /demo.v1.Items/Get /demo.v1.Items/Get -> 0 ok',
  '9 POST demo.v1.Items /demo.v1.Items/Find /demo.v1.Items/Find -> 5 client_error no such item',
  '11 POST demo.v1.Items /demo.v1.Items/Find /demo.v1.Items/Find -> 5 client_error no such item',
  '13 POST demo.v1.Items /demo.v1.Items/Break /demo.v1.Items/Break -> 13 server_error database is down',
  '15 POST demo.v1.Items /demo.v1.Items/List /demo.v1.Items/List -> 0 ok',
];
const sorted = (a: string[]) => [...a].sort((x, y) => Number(x.split(' ')[0]) - Number(y.split(' ')[0]));

test('grpcio channel: every call, its status from the trailers, both ends', () => {
  for (const view of ['client', 'server'] as const) {
    const r = replay(chunks, view);
    assert.equal(r.parser.protocol, 'gRPC');
    assert.deepEqual(sorted(summary(r)), WANT, view);
    assert.deepEqual(r.unpaired, []);
    const first = r.pairs.find((p) => p.request.id === 1)!.request;
    assert.deepEqual([first.traceId, first.spanId], ['0af7651916cd43dd8448eb211c80319c', 'b7ad6b7169203331']);
  }
});

test('grpcio channel re-cut into small syscalls', () => {
  for (const cut of [3, 9, 31, 200]) {
    assert.deepEqual(sorted(summary(replay(chunks, 'client', cut))), WANT, `cut ${cut}`);
  }
});
