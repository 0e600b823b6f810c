// Kafka parser: real captures (kafka-python 3.0.12 flexible and classic versions, confluent-kafka 2.16.1 /
// librdkafka 2.16.0) against Apache Kafka 3.9.1, replayed as the client and as the JVM broker see them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { asJvmReads, Chunk, loadKafkaCapture, replayKafka, summarize } from './kafkaReplay';
import { KafkaParser, kafkaStatus } from '../../../src/agent/protocols/kafka/kafkaParser';
import type { SegmentContext } from '../../../src/agent/protocols/types';

// request_type vVersion | client_id | resource | endpoint | response_code | status | exception  xCount
const EXPECTED: Record<string, string[]> = {
  'kafka-python-3.0.12-flexible.jsonl': [
    'ApiVersions v4 | flowlens-admin |  | ApiVersions | 0 | ok |  x2',
    'ApiVersions v4 | flowlens-consumer |  | ApiVersions | 0 | ok |  x2',
    'ApiVersions v4 | flowlens-producer |  | ApiVersions | 0 | ok |  x2',
    'ApiVersions v4 | flowlens-producer-acks0 |  | ApiVersions | 0 | ok |  x2',
    'CreateTopics v7 | flowlens-admin | flowlens-e2e | CreateTopics flowlens-e2e | 0 | ok |  x1',
    "CreateTopics v7 | flowlens-admin | flowlens-e2e | CreateTopics flowlens-e2e | 36 | client_error | Topic 'flowlens-e2e' already exists. x1",
    'Fetch v12 | flowlens-consumer | flowlens-e2e | Fetch flowlens-e2e | 0 | ok |  x1',
    'ListOffsets v9 | flowlens-consumer | flowlens-e2e | ListOffsets flowlens-e2e | 0 | ok |  x1',
    'Metadata v12 | flowlens-admin |  | Metadata | 0 | ok |  x2',
    'Metadata v12 | flowlens-admin | flowlens-missing | Metadata flowlens-missing | 3 | client_error | UNKNOWN_TOPIC_OR_PARTITION x1',
    'Metadata v12 | flowlens-consumer |  | Metadata | 0 | ok |  x1',
    'Metadata v12 | flowlens-consumer | flowlens-e2e | Metadata flowlens-e2e | 0 | ok |  x1',
    'Metadata v12 | flowlens-producer |  | Metadata | 0 | ok |  x1',
    'Metadata v12 | flowlens-producer | flowlens-e2e | Metadata flowlens-e2e | 0 | ok |  x1',
    'Metadata v12 | flowlens-producer-acks0 |  | Metadata | 0 | ok |  x1',
    'Metadata v12 | flowlens-producer-acks0 | flowlens-e2e | Metadata flowlens-e2e | 0 | ok |  x1',
    'Produce v9 | flowlens-producer | flowlens-e2e | Produce flowlens-e2e | 0 | ok |  x5',
    'Produce v9 | flowlens-producer-acks0 | flowlens-e2e | Produce flowlens-e2e | -1 | oneway |  x3',
  ],
  'confluent-kafka-2.16.1.jsonl': [
    'ApiVersions v3 | ck-admin |  | ApiVersions | 0 | ok |  x2',
    'ApiVersions v3 | ck-consumer |  | ApiVersions | 0 | ok |  x3',
    'ApiVersions v3 | ck-producer |  | ApiVersions | 0 | ok |  x2',
    'ApiVersions v3 | ck-producer0 |  | ApiVersions | 0 | ok |  x2',
    'CreateTopics v4 | ck-admin | ck-topic | CreateTopics ck-topic | 0 | ok |  x1',
    "CreateTopics v4 | ck-admin | ck-topic | CreateTopics ck-topic | 36 | client_error | Topic 'ck-topic' already exists. x1",
    'Fetch v16 | ck-consumer | ck-topic | Fetch ck-topic | -1 | closed |  x1',
    'Fetch v16 | ck-consumer | ck-topic | Fetch ck-topic | 0 | ok |  x1',
    'FindCoordinator v2 | ck-consumer | ck-group | FindCoordinator ck-group | -1 | closed |  x1',
    'FindCoordinator v2 | ck-consumer | ck-group | FindCoordinator ck-group | 0 | ok |  x2',
    'Heartbeat v3 | ck-consumer | ck-group | Heartbeat ck-group | 0 | ok |  x1',
    'JoinGroup v5 | ck-consumer | ck-group | JoinGroup ck-group | 0 | ok |  x1',
    'JoinGroup v5 | ck-consumer | ck-group | JoinGroup ck-group | 79 | client_error | MEMBER_ID_REQUIRED x1',
    'LeaveGroup v1 | ck-consumer | ck-group | LeaveGroup ck-group | 0 | ok |  x1',
    'ListOffsets v7 | ck-consumer | ck-topic | ListOffsets ck-topic | 0 | ok |  x1',
    'Metadata v12 | ck-admin |  | Metadata | 0 | ok |  x2',
    'Metadata v12 | ck-admin | ck-missing | Metadata ck-missing | 3 | client_error | UNKNOWN_TOPIC_OR_PARTITION x4',
    'Metadata v12 | ck-consumer |  | Metadata | 0 | ok |  x2',
    'Metadata v12 | ck-consumer | ck-topic | Metadata ck-topic | -1 | closed |  x1',
    'Metadata v12 | ck-consumer | ck-topic | Metadata ck-topic | 0 | ok |  x2',
    'Metadata v12 | ck-producer | ck-topic | Metadata ck-topic | 0 | ok |  x1',
    'Metadata v12 | ck-producer0 | ck-topic | Metadata ck-topic | 0 | ok |  x1',
    'OffsetCommit v9 | ck-consumer | ck-group | OffsetCommit ck-group | 0 | ok |  x2',
    'OffsetFetch v9 | ck-consumer | ck-group | OffsetFetch ck-group | -1 | unknown |  x1',
    'Produce v10 | ck-producer | ck-topic | Produce ck-topic | 0 | ok |  x3',
    'Produce v10 | ck-producer0 | ck-topic | Produce ck-topic | -1 | oneway |  x2',
    'SyncGroup v3 | ck-consumer | ck-group | SyncGroup ck-group | 0 | ok |  x1',
  ],
  'kafka-python-3.0.12-classic-producer.jsonl': [
    'ApiVersions v2 | kp-classic |  | ApiVersions | 0 | ok |  x2',
    'Metadata v6 | kp-classic | flowlens-e2e | Metadata flowlens-e2e | 0 | ok |  x1',
    'Metadata v6 | kp-classic | no-such-topic-classic | Metadata no-such-topic-classic | 3 | client_error | UNKNOWN_TOPIC_OR_PARTITION x25',
    'Produce v6 | kp-classic | flowlens-e2e | Produce flowlens-e2e | 0 | ok |  x2',
  ],
  'kafka-python-3.0.12-classic-consumer.jsonl': [
    'ApiVersions v2 | kc-classic |  | ApiVersions | 0 | ok |  x2',
    'Fetch v8 | kc-classic |  | Fetch | -1 | closed |  x1',
    'Fetch v8 | kc-classic |  | Fetch | 0 | ok |  x7',
    'Fetch v8 | kc-classic | flowlens-e2e | Fetch flowlens-e2e | 0 | ok |  x4',
    'ListOffsets v3 | kc-classic | flowlens-e2e | ListOffsets flowlens-e2e | 0 | ok |  x1',
    'Metadata v6 | kc-classic | flowlens-e2e | Metadata flowlens-e2e | 0 | ok |  x1',
  ],
};

for (const [file, want] of Object.entries(EXPECTED)) {
  test(`${file}: exact rows from the client and from the broker`, () => {
    const chunks = loadKafkaCapture(file);
    const client = replayKafka(chunks, 'client');
    assert.deepEqual(summarize(client.pairs), want);
    assert.equal(client.orphans, 0);
    // the JVM broker reads the 4-byte size alone: that read cannot be inferred, the body that follows is
    const server = replayKafka(asJvmReads(chunks), 'server');
    assert.deepEqual(summarize(server.pairs), want);
    assert.equal(server.orphans, 0);
  });
}

/** Responses cut as librdkafka reads them: size + correlation id (8 bytes), then the rest. */
function asRdkafkaReads(chunks: Chunk[]): Chunk[] {
  const out: Chunk[] = [];
  const partial = new Map<number, Buffer>();
  for (const c of chunks) {
    if (c.dir === 'c2s') {
      out.push(c);
      continue;
    }
    let buf = Buffer.concat([partial.get(c.conn) ?? Buffer.alloc(0), c.data]);
    while (buf.length >= 4 && buf.length >= 4 + buf.readInt32BE(0)) {
      const total = 4 + buf.readInt32BE(0);
      out.push(
        { conn: c.conn, dir: 's2c', data: buf.subarray(0, 8) },
        { conn: c.conn, dir: 's2c', data: buf.subarray(8, total) }
      );
      buf = buf.subarray(total);
    }
    partial.set(c.conn, buf);
  }
  return out;
}

test('responses read in two parts (size + id, then the body) still give error codes', () => {
  const file = 'confluent-kafka-2.16.1.jsonl';
  const r = replayKafka(asRdkafkaReads(loadKafkaCapture(file)), 'client');
  assert.deepEqual(summarize(r.pairs), EXPECTED[file]);
});

test('a small capture size: types and ids still pair, fields past the capture are left out', () => {
  const r = replayKafka(loadKafkaCapture('kafka-python-3.0.12-flexible.jsonl'), 'client', 40);
  assert.equal(r.orphans, 0);
  assert.equal(r.pairs.filter((p) => p.request.msg.requestType === 'Produce').length, 8);
  // acks sits past 40 bytes after a long client id: those acks=0 requests wait for an answer that never comes
  assert.ok(
    r.pairs.every((p) => p.response || p.request.msg.domain === 'flowlens-producer-acks0'),
    'every other request got its answer'
  );
  assert.ok(
    r.pairs.every(
      (p) => !/^flowlens-./.test(p.request.msg.resource ?? '') || p.request.msg.resource === 'flowlens-e2e'
    ),
    'no cut topic names'
  );
});

test('several requests in one segment, and a message continued over syscalls', () => {
  const chunks = loadKafkaCapture('kafka-python-3.0.12-flexible.jsonl').filter((c) => c.conn === 0 && c.dir === 'c2s');
  const a = chunks[0].data;
  const b = chunks[1].data;
  const p = new KafkaParser().forConnection();
  const ctx: SegmentContext = { egress: true, localPort: 40000, peerPort: 28280, l4: 'TCP' };
  const both = Buffer.concat([a, b]);
  const msgs = p.parse(both, both.length, undefined, ctx) as any[];
  assert.equal(msgs.length, 2);
  assert.deepEqual(
    msgs.map((m) => m.totalLength),
    [a.length, b.length]
  );
  const q = new KafkaParser().forConnection();
  const first = q.parse(a.subarray(0, 20), 20, undefined, ctx) as any;
  assert.equal(first.totalLength, a.length);
  assert.equal(
    q.parse(a.subarray(20), a.length - 20, undefined, ctx),
    null,
    'the rest of the message is a continuation'
  );
  assert.equal((q.parse(b, b.length, undefined, ctx) as any).type, 'request');
});

test("inference: Kafka requests only, not other protocols' first bytes", () => {
  const p = new KafkaParser();
  const ctx: SegmentContext = { egress: true, localPort: 40000, peerPort: 9092, l4: 'TCP' };
  const first = loadKafkaCapture('confluent-kafka-2.16.1.jsonl')[0].data;
  assert.equal(p.infer(first, ctx), true);
  assert.equal(p.infer(first.subarray(4), ctx), true, 'the body a JVM broker reads after the size');
  for (const other of [
    Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'),
    Buffer.from('*1\r\n$4\r\nPING\r\n'),
    Buffer.from('0000000804d2162f', 'hex'), // PostgreSQL SSLRequest
    Buffer.from('00000029000300007573657200706f73746772657300646174616261736500706f7374677265730000', 'hex'), // StartupMessage
    Buffer.from('160301020001', 'hex'),
    Buffer.from('CONNECT {"verbose":false}\r\n'),
    Buffer.alloc(64),
  ]) {
    assert.equal(p.infer(other, ctx), false, other.toString('hex'));
  }
});

test("error codes: the request's fault is client_error, the broker's server_error", () => {
  assert.deepEqual([0, 3, 17, 36, 29, -1, 6, 7, 56].map(kafkaStatus), [
    'ok',
    'client_error',
    'client_error',
    'client_error',
    'client_error',
    'server_error',
    'server_error',
    'server_error',
    'server_error',
  ]);
});
