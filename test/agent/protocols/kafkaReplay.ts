// Replays real Kafka captures (JSON lines: conn, dir c2s|s2c, b64 = one recv() of the recording proxy
// test/e2e/kafka/record_proxy.py) through the Kafka parser and the message stream, as one end of
// each connection sees it: the client as recorded, or a JVM broker that reads each request's 4-byte
// size alone and then its body.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Direction, EventKind, SocketEvent } from '../../../src/agent/capture/socketEvent';
import { MessageStream, CompletedPair } from '../../../src/agent/protocols/messageStream';
import { KafkaParser } from '../../../src/agent/protocols/kafka/kafkaParser';

export interface Chunk {
  conn: number;
  dir: 'c2s' | 's2c';
  data: Buffer;
}

export function loadKafkaCapture(name: string): Chunk[] {
  const path = join(__dirname, '..', '..', '..', '..', '..', 'test', 'agent', 'protocols', 'fixtures', 'kafka', name);
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => {
      const j = JSON.parse(l) as { conn: number; dir: 'c2s' | 's2c'; b64: string };
      return { conn: j.conn, dir: j.dir, data: Buffer.from(j.b64, 'base64') };
    });
}

/** The client's requests re-cut as a JVM broker reads them: the 4-byte size, then the rest of the message. */
export function asJvmReads(chunks: Chunk[]): Chunk[] {
  const out: Chunk[] = [];
  const partial = new Map<number, Buffer>();
  for (const c of chunks) {
    if (c.dir === 's2c') {
      out.push(c);
      continue;
    }
    let buf = Buffer.concat([partial.get(c.conn) ?? Buffer.alloc(0), c.data]);
    while (buf.length >= 4 && buf.length >= 4 + buf.readInt32BE(0)) {
      const total = 4 + buf.readInt32BE(0);
      out.push(
        { conn: c.conn, dir: 'c2s', data: buf.subarray(0, 4) },
        { conn: c.conn, dir: 'c2s', data: buf.subarray(4, total) }
      );
      buf = buf.subarray(total);
    }
    partial.set(c.conn, buf);
  }
  return out;
}

export interface Replayed {
  pairs: CompletedPair[];
  orphans: number;
  uninferred: number;
}

export function replayKafka(chunks: Chunk[], side: 'client' | 'server', captureBytes = 1024): Replayed {
  const proto = new KafkaParser();
  const streams = new Map<number, MessageStream>();
  const pairs: CompletedPair[] = [];
  let uninferred = 0;
  let ts = 1e9;
  for (const c of chunks) {
    const egress = (c.dir === 'c2s') === (side === 'client');
    const e: SocketEvent = {
      kind: EventKind.Data,
      tsNs: (ts += 1000),
      sockId: c.conn,
      tgid: 1,
      tid: 1,
      fd: 3,
      direction: egress ? Direction.Egress : Direction.Ingress,
      syscall: 0,
      retLen: c.data.length,
      localIp: '127.0.0.1',
      localPort: side === 'client' ? 40000 + c.conn : 28280,
      peerIp: '127.0.0.1',
      peerPort: side === 'client' ? 28280 : 40000 + c.conn,
      l4: 'TCP',
      tcpSeq: 0,
      tcpState: 1,
      syscallTraceId: 0,
      payload: c.data.subarray(0, captureBytes),
      comm: 'test',
    };
    let s = streams.get(c.conn);
    if (!s) {
      if (!proto.infer(e.payload, { egress, localPort: e.localPort, peerPort: e.peerPort, l4: 'TCP' })) {
        uninferred++;
        continue;
      }
      s = new MessageStream(proto.forConnection(), (x) => pairs.push(x));
      streams.set(c.conn, s);
    }
    s.onSegment(e);
  }
  let orphans = 0;
  for (const s of streams.values()) {
    s.close();
    orphans += s.orphans;
  }
  return { pairs, orphans, uninferred };
}

/** type v version | client | resource | endpoint | code | status | exception, counted */
export function summarize(pairs: CompletedPair[]): string[] {
  const counts = new Map<string, number>();
  for (const p of pairs) {
    const rq = p.request.msg;
    const rs = p.response?.msg;
    const status = rs?.status ?? (p.oneWay ? 'oneway' : p.missing);
    const key = `${rq.requestType} v${rq.version} | ${rq.domain} | ${rq.resource} | ${rq.endpoint} | ${rs?.code ?? -1} | ${status} | ${rs?.exception ?? ''}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([k, n]) => `${k} x${n}`).sort();
}
