// The whole data path after the kernel under hostile traffic, on both capture paths at once: encoded
// syscall records (Pipeline.processBatch: decoder, connection table, protocol step, rows, RED) and
// captured frames (packet decoder, PacketFlows: timelines and NIC rows through the same step).
// Every protocol's real request and response bytes (the recorded sessions of the protocol tests)
// are replayed on many interleaved connections, on their own ports or random ones, mutated
// (flipped and inserted bytes, truncation, hostile length prefixes, repeated prefixes), with wrong
// directions, cut captures and oversized lengths, other protocols' bytes and random bytes mixed in.
// Nothing may throw out of the pipeline, no parser may throw at all (each throw would cost its
// connection), and no single event may take longer than MAX_EVENT_MS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FUZZ_ITERATIONS, mutate, prng } from './fuzzHarness';
import { EVENT_LAYOUT } from '../../../src/agent/capture/eventDecoder';
import { Direction, EventKind } from '../../../src/agent/capture/socketEvent';
import { Pipeline } from '../../../src/agent/pipeline';
import {
  decodePacketBatch,
  TCP_ACK,
  TCP_FIN,
  TCP_PSH,
  TCP_RST,
  TCP_SYN,
} from '../../../src/agent/network/packets/packetDecoder';
import { PacketFlows } from '../../../src/agent/network/packets/packetFlows';
import type { L7FlowLogRow } from '../../../src/agent/requestlog/l7FlowLog';
import { record, tcpPacket, udpPacket } from '../network/packetFixtures';
import { loadCapture as loadSession } from '../protocols/mqttReplay';
import { loadCapture as loadH2 } from '../protocols/http2Replay';
import { fixture, loadCapture as loadJsonl } from '../protocols/redisCaptureReplay';

const MAX_EVENT_MS = 50;
/** a sweep visits every connection and flow: generous, the tables' own bounds keep it short */
const MAX_SWEEP_MS = 250;
const CAPTURE_BYTES = 4096;
const CONVERSATIONS = 64;
const MAX_FLOWS = 256;

type Dir = 'c2s' | 's2c';
interface Chunk {
  dir: Dir;
  data: Buffer;
}
interface Protocol {
  name: string;
  port: number;
  l4: 'TCP' | 'UDP';
  sessions: Chunk[][];
}

function byConn(chunks: Array<{ conn: number; dir: Dir; data: Buffer }>): Chunk[][] {
  const m = new Map<number, Chunk[]>();
  for (const c of chunks) {
    m.set(c.conn, [...(m.get(c.conn) ?? []), { dir: c.dir, data: c.data }]);
  }
  return [...m.values()];
}
const hexSessions = (proto: string, file: string) =>
  byConn(loadSession(proto, file).map((e) => ({ conn: e.conn, dir: e.dir, data: Buffer.from(e.hex, 'hex') })));
const h2Sessions = (proto: 'http2' | 'grpc', file: string) =>
  loadH2(proto, file).connections.map((c) => c.chunks.map((ch) => ({ dir: ch.dir, data: Buffer.from(ch.hex, 'hex') })));
const jsonlSessions = (proto: string, file: string) => byConn(loadJsonl(fixture(proto, file)));
const text = (dir: Dir, s: string): Chunk => ({ dir, data: Buffer.from(s, 'latin1') });
const tcp = (name: string, port: number, sessions: Chunk[][]): Protocol => ({ name, port, l4: 'TCP', sessions });

/** The twelve protocols of the README's table, each with its real bytes and its usual port. */
const PROTOCOLS: Protocol[] = [
  {
    name: 'HTTP/1',
    port: 8080,
    l4: 'TCP',
    sessions: [
      [
        text(
          'c2s',
          'GET /login?password=hunter2&id=7 HTTP/1.1\r\nHost: shop\r\ntraceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\nX-Request-ID: r1\r\n\r\n'
        ),
        text('s2c', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'),
        text('c2s', 'POST /upload HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello'),
        text('s2c', 'HTTP/1.1 500 Internal Server Error\r\nTransfer-Encoding: chunked\r\n\r\n'),
        text('s2c', '5\r\nerror\r\n0\r\n\r\n'),
        text('c2s', 'G'),
        text(
          'c2s',
          'ET / HTTP/1.1\r\nb3: 80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90\r\n\r\n'
        ),
        text('s2c', 'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n'),
      ],
    ],
  },
  tcp('HTTP/2', 80, h2Sessions('http2', 'nginx.json')),
  tcp('gRPC', 50051, h2Sessions('grpc', 'python_grpcio.json')),
  tcp('MySQL', 3306, jsonlSessions('mysql', 'mariadb-cli-and-mysql-connector.jsonl')),
  tcp('PostgreSQL', 5432, jsonlSessions('postgresql', 'psql-and-psycopg3.jsonl')),
  tcp('Redis', 6379, jsonlSessions('redis', 'redis-py-and-redis-cli.jsonl')),
  tcp('Memcached', 11211, jsonlSessions('memcached', 'pymemcache-and-nc.jsonl')),
  tcp(
    'Kafka',
    9092,
    [
      'kafka-python-3.0.12-flexible.jsonl',
      'confluent-kafka-2.16.1.jsonl',
      'kafka-python-3.0.12-classic-producer.jsonl',
    ].flatMap((f) => jsonlSessions('kafka', f))
  ),
  tcp('MQTT', 1883, hexSessions('mqtt', 'mosquitto-session.json')),
  tcp('AMQP', 5672, hexSessions('amqp', 'rabbitmq-pika-session.json')),
  tcp('NATS', 4222, hexSessions('nats', 'nats-server-session.json')),
  {
    name: 'DNS',
    port: 53,
    l4: 'UDP',
    sessions: [
      [
        {
          dir: 'c2s',
          data: Buffer.from(
            '2fbb01200001000000000001056b6e6f776e0474657374000001000100002904d000000000000c000a0008b1c1a7e0f6bc1b4e',
            'hex'
          ),
        },
        {
          dir: 's2c',
          data: Buffer.from(
            '2fbb85800001000100000001056b6e6f776e0474657374000001000100c00c000100010000000000040a010203000029',
            'hex'
          ),
        },
      ],
    ],
  },
];
const ALL_CHUNKS = PROTOCOLS.flatMap((p) => p.sessions.flat());

/** One conversation between a client and a server on this host, seen by both processes and both NICs. */
interface Conversation {
  proto: Protocol;
  session: Chunk[];
  cursor: number;
  clientPort: number;
  serverPort: number;
  /** kernel socket ids of the client's and the server's socket */
  clientSock: number;
  serverSock: number;
  seq: Record<Dir, number>;
}

const CLIENT_IP = [10, 1, 0, 1];
const SERVER_IP = [10, 1, 0, 2];

/** One encoded ring record (the native addon's format) of a socket event, as bench/pipelineCapacity.ts writes them. */
function syscallRecord(
  kind: EventKind,
  tsNs: number,
  sockId: number,
  tgid: number,
  dir: Direction,
  local: number[],
  peer: number[],
  ports: [number, number],
  l4: 'TCP' | 'UDP',
  payload: Buffer,
  retLen: number,
  tcpSeq: number
): Buffer {
  const L = EVENT_LAYOUT;
  const cap = Math.min(payload.length, CAPTURE_BYTES);
  const len = L.size + cap;
  const out = Buffer.alloc(8 + Math.ceil(len / 8) * 8);
  const r = 8;
  out.writeUInt32LE(len, 0);
  out.writeUInt32LE(tsNs % 4294967296, r + L.ts_ns);
  out.writeUInt32LE(Math.floor(tsNs / 4294967296), r + L.ts_ns + 4);
  out.writeUInt32LE(sockId, r + L.sock_id);
  out.writeUInt32LE(tgid, r + L.tgid);
  out.writeUInt32LE(tgid, r + L.tid);
  out.writeInt32LE(5, r + L.fd);
  out.writeUInt16LE(kind, r + L.kind);
  out[r + L.direction] = dir;
  out.writeUInt32LE(retLen, r + L.ret_len);
  out.writeUInt32LE(cap, r + L.cap_len);
  out.writeUInt16LE(2, r + L.family);
  Buffer.from(local).copy(out, r + L.saddr);
  Buffer.from(peer).copy(out, r + L.daddr);
  out.writeUInt16LE(ports[0], r + L.sport);
  out.writeUInt16LE(ports[1], r + L.dport);
  out[r + L.l4_proto] = l4 === 'UDP' ? 17 : 6;
  out.writeUInt32LE(tcpSeq >>> 0, r + L.tcp_seq);
  payload.copy(out, r + L.size, 0, cap);
  return out;
}

test('pipeline fuzz: both capture paths, hostile bytes of every protocol on many connections: no throw, no parser failure, bounded time per event', (t) => {
  const seed = 23;
  const rnd = prng(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)];
  const processRows: L7FlowLogRow[] = [];
  const nicRows: L7FlowLogRow[] = [];
  let processRowCount = 0;
  let nicRowCount = 0;
  const keep = (into: L7FlowLogRow[], rows: L7FlowLogRow[]) => {
    // a sample is enough for the per-protocol check; keeping all would grow with the iterations
    for (const r of rows) {
      if (into.length < 20000) {
        into.push(r);
      }
    }
  };
  const T0_US = 1_700_000_000_000_000;
  const pipeline = new Pipeline({
    host: 'fuzz',
    services: [],
    requestTimeoutMs: 1000,
    redactPatterns: ['\\d{4}-\\d{4}-\\d{4}-\\d{4}'],
    toWallUs: (ns) => T0_US + Math.round(ns / 1000),
    sink: {
      l7: (r) => {
        processRowCount += r.length;
        keep(processRows, r);
      },
      appMetrics: () => undefined,
      l4: () => undefined,
    },
    procRoot: '/nonexistent',
  });
  const flows = new PacketFlows({
    host: 'fuzz',
    parsers: pipeline.parsers,
    redactor: pipeline.redactor,
    iface: () => ({ netns: '', ifname: 'eth0', localAddrs: new Set(['10.1.0.1']) }),
    maxFlows: MAX_FLOWS,
    baseUs: T0_US,
    requestTimeoutMs: 1000,
    sink: {
      timeline: () => undefined,
      l7: (r) => {
        nicRowCount += r.length;
        keep(nicRows, r);
      },
    },
    directory: { pidOf: () => 0, comm: () => '', service: () => '', remoteService: () => '' },
  });

  let nextSock = 1;
  const fresh = (): Conversation => {
    const proto = pick(PROTOCOLS);
    return {
      proto,
      session: pick(proto.sessions),
      cursor: 0,
      clientPort: 1024 + Math.floor(rnd() * 64000),
      // mostly the protocol's own port; sometimes any port, where only the bytes can tell
      serverPort: rnd() < 0.8 ? proto.port : 1 + Math.floor(rnd() * 65535),
      clientSock: nextSock++,
      serverSock: nextSock++,
      seq: { c2s: Math.floor(rnd() * 4294967296), s2c: Math.floor(rnd() * 4294967296) },
    };
  };
  const convs = Array.from({ length: CONVERSATIONS }, fresh);

  let tsNs = 1e9;
  let events = 0;
  // What a call cost the agent's thread: at most its wall time (less when preempted on a busy
  // machine) and at most the process's CPU time (more when GC and JIT threads ran beside it), so
  // the smaller of the two bounds the thread's own time. Events and the periodic sweeps (whose work
  // grows with the tables, bounded elsewhere) are tracked apart.
  const slowest = { event: { ms: 0, what: '' }, sweep: { ms: 0, what: '' } };
  let slowestWallMs = 0;
  const timed = (what: string, i: number, input: Buffer, run: () => void) => {
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    try {
      run();
    } catch (err) {
      assert.fail(
        `${what} threw on input #${i} (seed ${seed}) ${input.toString('hex').slice(0, 400)}: ${(err as Error).stack}`
      );
    }
    const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
    const cpu = process.cpuUsage(cpu0);
    const threadMs = Math.min(wallMs, (cpu.user + cpu.system) / 1000);
    const sweep = what.endsWith('sweep');
    events += sweep ? 0 : 1;
    slowestWallMs = Math.max(slowestWallMs, wallMs);
    const worst = sweep ? slowest.sweep : slowest.event;
    if (threadMs > worst.ms) {
      worst.ms = threadMs;
      worst.what = `${what} #${i}`;
    }
  };
  /** now and then the record framing itself is hostile (lengths, addresses, kinds: what a bug on the native side would write) */
  const maybeMutateHeader = (rec: Buffer) => {
    if (rnd() < 0.01) {
      const at = Math.floor(rnd() * Math.min(rec.length, 120));
      rec.writeUInt8(Math.floor(rnd() * 256), at);
      if (rnd() < 0.3 && at + 4 <= rec.length) {
        rec.writeUInt32LE(rnd() < 0.5 ? 0xffffffff : Math.floor(rnd() * 4294967296), at);
      }
    }
  };
  const syscall = (
    i: number,
    c: Conversation,
    kind: EventKind,
    atServer: boolean,
    dir: Direction,
    payload: Buffer,
    retLen: number,
    tcpSeq: number
  ) => {
    const rec = atServer
      ? syscallRecord(
          kind,
          tsNs,
          c.serverSock,
          2000,
          dir,
          SERVER_IP,
          CLIENT_IP,
          [c.serverPort, c.clientPort],
          c.proto.l4,
          payload,
          retLen,
          tcpSeq
        )
      : syscallRecord(
          kind,
          tsNs,
          c.clientSock,
          1000,
          dir,
          CLIENT_IP,
          SERVER_IP,
          [c.clientPort, c.serverPort],
          c.proto.l4,
          payload,
          retLen,
          tcpSeq
        );
    maybeMutateHeader(rec);
    timed('syscall batch', i, rec, () => pipeline.processBatch(rec));
  };
  const packet = (i: number, c: Conversation, dir: Dir, flags: number, payload: Buffer, seq: number) => {
    const [src, dst, sport, dport] =
      dir === 'c2s'
        ? ['10.1.0.1', '10.1.0.2', c.clientPort, c.serverPort]
        : ['10.1.0.2', '10.1.0.1', c.serverPort, c.clientPort];
    const frame =
      c.proto.l4 === 'UDP'
        ? udpPacket(src, dst, sport, dport, payload)
        : tcpPacket({ src, dst, sport, dport, seq, ack: 1, flags, payload });
    const rec = record(frame.subarray(0, Math.min(frame.length, 40 + CAPTURE_BYTES)), {
      sockId: 1,
      tsUs: T0_US + Math.round(tsNs / 1000),
      outgoing: dir === 'c2s',
      origLen: frame.length,
    });
    maybeMutateHeader(rec);
    timed('packet batch', i, rec, () => decodePacketBatch(rec, (p) => flows.onPacket(p)));
  };

  // FLOWLENS_FUZZ_ITERATIONS counts events here (about three per input: two syscalls and a frame)
  for (let i = 0; events < FUZZ_ITERATIONS; i++) {
    tsNs += 500_000 + Math.floor(rnd() * 1_000_000);
    const slot = Math.floor(rnd() * convs.length);
    let c = convs[slot];
    if (c.cursor >= c.session.length || c.cursor >= 48 || rnd() < 0.002) {
      // the conversation ends (closed, or reset), a new one takes its place
      syscall(i, c, EventKind.Close, false, Direction.Egress, Buffer.alloc(0), 0, 0);
      syscall(i, c, EventKind.Close, true, Direction.Egress, Buffer.alloc(0), 0, 0);
      if (c.proto.l4 === 'TCP') {
        packet(
          i,
          c,
          rnd() < 0.5 ? 'c2s' : 's2c',
          rnd() < 0.8 ? TCP_FIN | TCP_ACK : TCP_RST,
          Buffer.alloc(0),
          c.seq.c2s
        );
      }
      c = convs[slot] = fresh();
      if (c.proto.l4 === 'TCP' && rnd() < 0.7) {
        // connect()/accept() seen, and the handshake at the NIC
        syscall(i, c, EventKind.Connect, false, Direction.Egress, Buffer.alloc(0), 0, 0);
        syscall(i, c, EventKind.Accept, true, Direction.Ingress, Buffer.alloc(0), 0, 0);
        packet(i, c, 'c2s', TCP_SYN, Buffer.alloc(0), c.seq.c2s++);
        packet(i, c, 's2c', TCP_SYN | TCP_ACK, Buffer.alloc(0), c.seq.s2c++);
      }
    }
    const roll = rnd();
    let chunk: Chunk;
    if (roll < 0.05) {
      chunk = pick(ALL_CHUNKS); // another protocol's bytes on this connection
    } else if (roll < 0.08) {
      const junk = Buffer.alloc(Math.floor(rnd() * 600));
      for (let j = 0; j < junk.length; j++) {
        junk[j] = Math.floor(rnd() * 256);
      }
      chunk = { dir: rnd() < 0.5 ? 'c2s' : 's2c', data: junk };
    } else {
      chunk = c.session[c.cursor++];
    }
    let data = rnd() < 0.3 ? mutate(chunk.data, rnd) : chunk.data;
    if (data.length > 64 * 1024) {
      data = data.subarray(0, 64 * 1024);
    }
    const dir: Dir = rnd() < 0.04 ? (chunk.dir === 'c2s' ? 's2c' : 'c2s') : chunk.dir; // now and then the wrong way
    // a cut capture: the syscall moved more bytes than were captured (hostile sizes too)
    const retLen = rnd() < 0.05 ? data.length + Math.floor(rnd() * (rnd() < 0.1 ? 2 ** 31 : 100_000)) : data.length;
    const seq = c.seq[dir];
    c.seq[dir] = (c.seq[dir] + data.length) >>> 0;
    // the sender's write, then the receiver's read, then the frame on the client's NIC
    syscall(i, c, EventKind.Data, dir === 's2c', Direction.Egress, data, retLen, seq);
    syscall(i, c, EventKind.Data, dir === 'c2s', Direction.Ingress, data, retLen, seq);
    packet(
      i,
      c,
      dir,
      TCP_ACK | TCP_PSH,
      data.subarray(0, 1400 + Math.floor(rnd() * 64000)),
      rnd() < 0.02 ? Math.floor(rnd() * 4294967296) : seq
    );
    if (i % 500 === 499) {
      const nowNs = tsNs;
      timed('pipeline sweep', i, Buffer.alloc(0), () =>
        pipeline.sweep(nowNs, Math.floor((T0_US + nowNs / 1000) / 1e6))
      );
      timed('packet sweep', i, Buffer.alloc(0), () => flows.sweep(T0_US + Math.round(nowNs / 1000)));
      assert.ok(flows.size <= MAX_FLOWS, `${flows.size} packet flows`);
    }
  }
  pipeline.finish();
  flows.finish();

  const perProtocol = (rows: L7FlowLogRow[]) => [...new Set(rows.map((r) => r.l7_protocol))].sort();
  t.diagnostic(
    `${events} events; slowest event ${slowest.event.ms.toFixed(2)} ms of thread time (${slowest.event.what}), ` +
      `slowest sweep ${slowest.sweep.ms.toFixed(2)} ms (${slowest.sweep.what}), slowest wall time ${slowestWallMs.toFixed(2)} ms; request logs: process ${processRowCount}, NIC ${nicRowCount}; ` +
      `protocols logged: process ${perProtocol(processRows).join(',')}; NIC ${perProtocol(nicRows).join(',')}; ` +
      `unknown-protocol segments ${pipeline.counters.unknownProtocolSegments}/${flows.counters.unknownProtocolSegments}, orphans ${pipeline.counters.orphanSegments}/${flows.counters.orphanSegments}, ` +
      `malformed records ${pipeline.counters.malformedRecords}, evicted flows ${flows.counters.evictedFlows}, connections left ${pipeline.conns.size}`
  );
  assert.equal(
    pipeline.counters.unparseableConnections,
    0,
    `a parser threw (syscall path): ${pipeline.step.lastFailure}`
  );
  assert.equal(flows.counters.unparseableConnections, 0, `a parser threw (packet path): ${flows.lastParserFailure}`);
  assert.ok(
    slowest.event.ms < MAX_EVENT_MS,
    `${slowest.event.what} took ${slowest.event.ms.toFixed(1)} ms of thread time`
  );
  assert.ok(
    slowest.sweep.ms < MAX_SWEEP_MS,
    `${slowest.sweep.what} took ${slowest.sweep.ms.toFixed(1)} ms of thread time`
  );
  // the replayed sessions reach every parser on both paths (a fuzz that only hits inference proves little)
  const expected = [
    'AMQP',
    'DNS',
    'HTTP',
    'HTTP2',
    'Kafka',
    'Memcached',
    'MQTT',
    'MySQL',
    'NATS',
    'PostgreSQL',
    'Redis',
    'gRPC',
  ];
  if (FUZZ_ITERATIONS >= 20000) {
    assert.deepEqual(perProtocol(processRows), [...expected].sort(), 'protocols logged by the syscall path');
    assert.deepEqual(perProtocol(nicRows), [...expected].sort(), 'protocols logged by the packet path');
  }
  for (const r of [...processRows, ...nicRows]) {
    for (const [k, v] of Object.entries(r)) {
      assert.ok(
        typeof v !== 'string' || v.length <= 2 * CAPTURE_BYTES,
        `${r.l7_protocol} ${k} is ${(v as string).length} chars`
      );
    }
  }
});
