// Per-connection parser state is bounded: each table keeps its newest entries, evicts the oldest and
// counts it in parserEvictions; a length prefix claiming 2 GB is never buffered or allocated.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parserEvictions, parserEvictionsText } from '../../../src/agent/protocols/parserBounds';
import { MessageStream, CompletedPair } from '../../../src/agent/protocols/messageStream';
import { Http1Parser } from '../../../src/agent/protocols/http1/http1Parser';
import { Http2Parser, PREFACE } from '../../../src/agent/protocols/http2/http2Parser';
import { PostgresqlParser } from '../../../src/agent/protocols/postgresql/postgresqlParser';
import { MysqlParser } from '../../../src/agent/protocols/mysql/mysqlParser';
import { KafkaParser } from '../../../src/agent/protocols/kafka/kafkaParser';
import { AmqpParser } from '../../../src/agent/protocols/amqp/amqpParser';
import { MqttParser } from '../../../src/agent/protocols/mqtt/mqttParser';
import { NatsParser } from '../../../src/agent/protocols/nats/natsParser';
import type { ParsedMessage, ProtocolParser, SegmentContext } from '../../../src/agent/protocols/types';
import { Direction, EventKind, SocketEvent } from '../../../src/agent/capture/socketEvent';

const client: SegmentContext = { egress: true, localPort: 40000, peerPort: 9999, l4: 'TCP' };

function event(payload: Buffer, tsNs: number): SocketEvent {
  return {
    kind: EventKind.Data,
    tsNs,
    sockId: 1,
    tgid: 10,
    tid: 11,
    fd: 3,
    direction: Direction.Egress,
    syscall: 1,
    retLen: payload.length,
    localIp: '127.0.0.1',
    localPort: 40000,
    peerIp: '127.0.0.1',
    peerPort: 80,
    l4: 'TCP',
    tcpSeq: tsNs,
    tcpState: 0,
    syscallTraceId: 0,
    payload,
    comm: '',
  };
}

function parseAll(p: ProtocolParser, segs: Buffer[]): ParsedMessage[] {
  const out: ParsedMessage[] = [];
  for (const s of segs) {
    const r = p.parse(s, s.length, undefined, client);
    if (r) {
      out.push(...(Array.isArray(r) ? r : [r]));
    }
  }
  return out;
}

test('MessageStream: 1100 requests without a response keep the newest 1024; 76 evicted, counted and settled as timeouts', () => {
  const before = parserEvictions.pendingRequests;
  const pairs: CompletedPair[] = [];
  const s = new MessageStream(new Http1Parser(), (p) => pairs.push(p));
  for (let i = 0; i < 1100; i++) {
    s.onSegment(event(Buffer.from(`GET /r${i} HTTP/1.1\r\n\r\n`), 1000 + i));
  }
  assert.equal(s.pendingCount, 1024);
  assert.equal(parserEvictions.pendingRequests - before, 76);
  assert.deepEqual(
    pairs.map((p) => `${p.request.msg.resource} ${p.missing}`),
    Array.from({ length: 76 }, (_, i) => `/r${i} timeout`)
  );
  assert.match(parserEvictionsText(), /^parser evictions \d+ \(.*pendingRequests \d+/);
});

test('HTTP/2: 1100 open streams keep the newest 1024; the evictions are counted', () => {
  const before = parserEvictions.http2Streams;
  const p = new Http2Parser().forConnection!();
  // HEADERS, END_HEADERS: :method GET, :scheme http, :path / (static table 2, 6, 4); no END_STREAM, no response
  const frames = Array.from({ length: 1100 }, (_, i) => {
    const f = Buffer.from([0, 0, 3, 1, 0x4, 0, 0, 0, 0, 0x82, 0x86, 0x84]);
    f.writeUInt32BE(2 * i + 1, 5);
    return f;
  });
  const msgs = parseAll(p, [PREFACE, ...frames]);
  assert.equal(msgs.filter((m) => m.type === 'request').length, 1100);
  assert.equal(parserEvictions.http2Streams - before, 76);
});

test('HTTP/2: a 12 KiB HEADERS frame sent a byte per syscall is held in pieces and parsed once whole', () => {
  const p = new Http2Parser().forConnection!();
  parseAll(p, [PREFACE]);
  // :method GET, :scheme http, :path / (static 2, 6, 4), then a literal x-pad of 12000 bytes (not indexed, plain)
  const pad = Buffer.concat([
    Buffer.from([0x00, 0x05]),
    Buffer.from('x-pad'),
    Buffer.from([0x7f, 12000 - 127 - 128 * Math.floor((12000 - 127) / 128) + 128, Math.floor((12000 - 127) / 128)]),
    Buffer.alloc(12000, 0x61),
  ]);
  const block = Buffer.concat([Buffer.from([0x82, 0x86, 0x84]), pad]);
  const head = Buffer.from([0, 0, 0, 1, 0x5, 0, 0, 0, 1]);
  head.writeUIntBE(block.length, 0, 3);
  const frame = Buffer.concat([head, block]);
  const msgs: ParsedMessage[] = [];
  for (let i = 0; i < frame.length; i++) {
    msgs.push(...parseAll(p, [frame.subarray(i, i + 1)]));
  }
  assert.deepEqual(
    msgs.map((m) => `${m.type} ${m.requestType} ${m.resource}`),
    ['request GET /']
  );
});

/** Heap + buffers grown while `fn` runs (after a GC when exposed). */
function growth(fn: () => void): number {
  const g = (globalThis as { gc?: () => void }).gc;
  g?.();
  const a = process.memoryUsage();
  fn();
  g?.();
  const b = process.memoryUsage();
  return b.heapUsed + b.arrayBuffers - (a.heapUsed + a.arrayBuffers);
}

test('a length prefix claiming the most each protocol accepts (1 GiB PostgreSQL, 100 MiB Kafka, ...) is skipped, never buffered: 8 MiB of body costs no heap', () => {
  const body = Buffer.alloc(1024, 0x61);
  const huge: Array<[string, () => ProtocolParser, Buffer]> = [
    [
      'PostgreSQL Query',
      () => new PostgresqlParser().forConnection!(),
      Buffer.concat([Buffer.from('Q'), Buffer.from([0x3f, 0xff, 0xff, 0xff]), Buffer.from('select 1')]),
    ],
    [
      'MySQL COM_QUERY (16 MiB)',
      () => new MysqlParser().forConnection!(),
      Buffer.concat([Buffer.from([0xff, 0xff, 0xff, 0, 0x03]), Buffer.from('select 1')]),
    ],
    [
      'Kafka request',
      () => new KafkaParser().forConnection!(),
      Buffer.from('063fffff00030009000000010006636c69656e74', 'hex'),
    ],
    [
      'AMQP frame',
      () => new AmqpParser().forConnection!(),
      Buffer.concat([
        Buffer.from('AMQP\x00\x00\x09\x01', 'latin1'),
        Buffer.from([1, 0, 1, 0x03, 0xff, 0xff, 0xff, 0, 0x3c, 0, 0x28]),
      ]),
    ],
    [
      'MQTT PUBLISH (256 MiB)',
      () => new MqttParser().forConnection!(),
      Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f, 0, 1, 0x74]),
    ],
    [
      'HTTP/2 HEADERS (16 MiB)',
      () => new Http2Parser().forConnection!(),
      Buffer.concat([PREFACE, Buffer.from([0xff, 0xff, 0xff, 1, 0x4, 0, 0, 0, 1, 0x82, 0x86, 0x84])]),
    ],
    ['NATS PUB', () => new NatsParser().forConnection!(), Buffer.from('PUB subj 2147483647\r\n')],
  ];
  for (const [name, make, head] of huge) {
    const p = make();
    const grown = growth(() => {
      const t0 = performance.now();
      const first = p.parse(head, head.length, undefined, client);
      if (/PostgreSQL|MySQL|Kafka|HTTP|NATS/.test(name)) {
        assert.ok(first, `${name}: the head is taken as a message start`);
      }
      for (let i = 0; i < 8192; i++) {
        p.parse(body, body.length, undefined, client);
      }
      assert.ok(performance.now() - t0 < 2000, `${name}: ${performance.now() - t0} ms`);
    });
    assert.ok(grown < 4 << 20, `${name}: heap + buffers grew ${(grown / 2 ** 20).toFixed(1)} MiB`);
  }
  // beyond the most a protocol accepts, the stream is not taken as that protocol's message at all
  assert.equal(
    new PostgresqlParser().forConnection!().parse(
      Buffer.from('Q\x7f\xff\xff\xffselect 1', 'latin1'),
      13,
      undefined,
      client
    ),
    null
  );
});

test('PostgreSQL: 300 prepared statements keep the newest 256; NATS: 1100 subscriptions keep the newest 1024', () => {
  const pgBefore = parserEvictions.postgresqlStatements;
  const pg = new PostgresqlParser().forConnection!();
  const parse = (name: string, sql: string) => {
    const body = Buffer.concat([Buffer.from(`${name}\0${sql}\0`), Buffer.alloc(2)]);
    const m = Buffer.alloc(5 + body.length);
    m.write('P', 0, 'latin1');
    m.writeUInt32BE(4 + body.length, 1);
    body.copy(m, 5);
    return m;
  };
  parseAll(
    pg,
    Array.from({ length: 300 }, (_, i) => parse(`s${i}`, `select ${i} from t${i}`))
  );
  assert.equal(parserEvictions.postgresqlStatements - pgBefore, 44);

  const natsBefore = parserEvictions.natsSubscriptions;
  const nats = new NatsParser().forConnection!();
  parseAll(nats, [
    Buffer.from('CONNECT {"verbose":false}\r\n'),
    ...Array.from({ length: 1100 }, (_, i) => Buffer.from(`SUB subject.${i} ${i}\r\n`)),
  ]);
  assert.equal(parserEvictions.natsSubscriptions - natsBefore, 76);
  const unsub = parseAll(nats, [Buffer.from('UNSUB 1099\r\nUNSUB 5\r\n')]);
  assert.deepEqual(
    unsub.map((m) => m.resource),
    ['subject.1099', '5'],
    'the newest subscription is still known; an evicted one is named by its sid'
  );
});
