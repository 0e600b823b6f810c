// Replays a recorded session (fixtures/{mqtt,amqp,nats}/*.json: one entry per recv() of a logging
// proxy between a real client and a real server) through a real MessageStream, as the client or as
// the server would see it, optionally re-cut into other syscall shapes. Shared by the MQTT, AMQP and
// NATS tests.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MessageStream, CompletedPair } from '../../../src/agent/protocols/messageStream';
import { Direction, EventKind, SocketEvent } from '../../../src/agent/capture/socketEvent';
import type { ProtocolParser } from '../../../src/agent/protocols/types';

export interface CaptureEntry {
  conn: number;
  dir: 'c2s' | 's2c';
  hex: string;
}

export function loadCapture(proto: string, file: string): CaptureEntry[] {
  return JSON.parse(
    readFileSync(
      join(__dirname, '..', '..', '..', '..', '..', 'test', 'agent', 'protocols', 'fixtures', proto, file),
      'utf8'
    )
  ) as CaptureEntry[];
}

/** How one recorded chunk becomes syscalls: whole (default), or re-cut. */
export type Cutter = (chunk: Buffer, dir: 'c2s' | 's2c', index: number) => Buffer[];

export const whole: Cutter = (b) => [b];

/** Every chunk in pieces of at most `n` bytes. */
export const pieces =
  (n: number): Cutter =>
  (b, _dir, index) => {
    const out: Buffer[] = [];
    if (index === 0) {
      return [b]; // the first syscall whole, so that inference sees it as the pipeline would
    }
    for (let i = 0; i < b.length; i += n) {
      out.push(b.subarray(i, i + n));
    }
    return out;
  };

export interface ReplayResult {
  pairs: CompletedPair[];
  orphans: number;
  /** one line per logged pair: type resource domain code status exception [oneWay] */
  lines: string[];
}

/**
 * Replays connection `conn` as the client (`client`: c2s is egress) or the server, with the role
 * known from connect()/accept() or not (`roleKnown`), capturing `captureBytes` of each syscall.
 */
export function replay(
  entries: CaptureEntry[],
  conn: number,
  make: () => ProtocolParser,
  view: 'client' | 'server',
  cut: Cutter = whole,
  captureBytes = 1024,
  roleKnown = true
): ReplayResult {
  const base = make();
  const parser = base.forConnection ? base.forConnection() : base;
  const pairs: CompletedPair[] = [];
  const requestDirection = roleKnown ? (view === 'client' ? Direction.Egress : Direction.Ingress) : undefined;
  const stream = new MessageStream(parser, (p) => pairs.push(p), requestDirection);
  let ts = 1e9;
  let inferred = false;
  entries
    .filter((x) => x.conn === conn)
    .forEach((e, index) => {
      const egress = (e.dir === 'c2s') === (view === 'client');
      for (const piece of cut(Buffer.from(e.hex, 'hex'), e.dir, index)) {
        const payload = piece.subarray(0, captureBytes);
        const ctx = {
          egress,
          localPort: view === 'client' ? 40000 : 1883,
          peerPort: view === 'client' ? 1883 : 40000,
          l4: 'TCP' as const,
        };
        if (!inferred) {
          // the pipeline drops segments until inference succeeds
          inferred = base.infer(payload, ctx);
          if (!inferred) {
            continue;
          }
        }
        const ev: SocketEvent = {
          kind: EventKind.Data,
          tsNs: (ts += 1000),
          sockId: 1,
          tgid: 1,
          tid: 1,
          fd: 3,
          direction: egress ? Direction.Egress : Direction.Ingress,
          syscall: 0,
          retLen: piece.length,
          localIp: '127.0.0.1',
          localPort: ctx.localPort,
          peerIp: '127.0.0.1',
          peerPort: ctx.peerPort,
          l4: 'TCP',
          tcpSeq: 0,
          tcpState: 1,
          syscallTraceId: 0,
          payload,
          comm: 'test',
        };
        stream.onSegment(ev);
      }
    });
  stream.close('closed');
  const lines = pairs.map((p) => {
    const rq = p.request.msg;
    const rs = p.response?.msg;
    const status = rs?.status ?? (p.oneWay ? 'ok' : p.missing);
    return (
      [rq.requestType, rq.resource, rq.domain ?? '', rs?.code ?? -1, status, rs?.exception ?? ''].join('|') +
      (p.oneWay ? ' oneWay' : '')
    );
  });
  return { pairs, orphans: stream.orphans, lines };
}
