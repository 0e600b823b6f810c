// Replays a real capture (JSON lines: conn, dir c2s|s2c, b64 = one recv() of the recording proxy)
// through protocol inference and the message stream, as the agent would see one end of each
// connection with its capture size; shared by the Redis and Memcached tests.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Direction, EventKind, SocketEvent } from '../../../src/agent/capture/socketEvent';
import { MessageStream, CompletedPair } from '../../../src/agent/protocols/messageStream';
import { defaultParsers, inferProtocol } from '../../../src/agent/protocols/registry';
import type { ProtocolParser } from '../../../src/agent/protocols/types';

export interface Chunk {
  conn: number;
  dir: 'c2s' | 's2c';
  data: Buffer;
}

/** Fixture path from the build output (build/agent/test/agent/protocols) back to the sources. */
export function fixture(proto: string, name: string): string {
  return join(__dirname, '..', '..', '..', '..', '..', 'test', 'agent', 'protocols', 'fixtures', proto, name);
}

export function loadCapture(path: string): Chunk[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => {
      const j = JSON.parse(l) as { conn: number; dir: 'c2s' | 's2c'; b64: string };
      return { conn: j.conn, dir: j.dir, data: Buffer.from(j.b64, 'base64') };
    });
}

export interface ReplayResult {
  protocols: Map<number, string | undefined>;
  pairs: CompletedPair[];
  orphans: number;
}

/**
 * Feeds every connection's chunks, seen from the client (`client`) or the server end, keeping only
 * the first `captureBytes` of each; `parsers` defaults to the registry (so inference is checked).
 */
export function replay(
  chunks: Chunk[],
  side: 'client' | 'server',
  captureBytes = 1024,
  parsers: ProtocolParser[] = defaultParsers()
): ReplayResult {
  const streams = new Map<number, MessageStream | undefined>();
  const protocols = new Map<number, string | undefined>();
  const pairs: CompletedPair[] = [];
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
      localPort: side === 'client' ? 40000 + c.conn : 28200,
      peerIp: '127.0.0.1',
      peerPort: side === 'client' ? 28200 : 40000 + c.conn,
      l4: 'TCP',
      tcpSeq: 0,
      tcpState: 1,
      syscallTraceId: 0,
      payload: c.data.subarray(0, captureBytes),
      comm: 'test',
    };
    if (!streams.has(c.conn)) {
      const p = inferProtocol(parsers, e.payload, { egress, localPort: e.localPort, peerPort: e.peerPort, l4: 'TCP' });
      protocols.set(c.conn, p?.protocol);
      streams.set(c.conn, p ? new MessageStream(p, (x) => pairs.push(x)) : undefined);
    }
    streams.get(c.conn)?.onSegment(e);
  }
  let orphans = 0;
  for (const s of streams.values()) {
    s?.close();
    orphans += s?.orphans ?? 0;
  }
  return { protocols, pairs, orphans };
}

/** One line per pair: type | resource | endpoint | code | status | exception (missing code = -1). */
export function describe(p: CompletedPair): string {
  const rq = p.request.msg;
  const rs = p.response?.msg;
  const status = rs?.status ?? (p.oneWay ? 'ok' : p.missing);
  return `${rq.requestType}|${rq.resource}|${rq.endpoint}|${rs?.code ?? -1}|${status}|${rs?.exception ?? ''}`;
}
