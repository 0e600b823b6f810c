// Replays the recorded HTTP/2 and gRPC captures (fixtures/{http2,grpc}) through one parser per
// connection, as the client's or the server's process would see them, optionally re-cut into
// syscalls of `cut` bytes with only `capture` bytes of each kept.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Http2Parser } from '../../../src/agent/protocols/http2/http2Parser';
import type { ParsedMessage, ProtocolParser } from '../../../src/agent/protocols/types';

export interface Chunk {
  dir: 'c2s' | 's2c';
  hex: string;
}
export interface Capture {
  source: string;
  connections: Array<{ name: string; chunks: Chunk[] }>;
}

export function loadCapture(proto: 'http2' | 'grpc', file: string): Capture {
  return JSON.parse(
    readFileSync(
      join(__dirname, '..', '..', '..', '..', '..', 'test', 'agent', 'protocols', 'fixtures', proto, file),
      'utf8'
    )
  ) as Capture;
}

export interface Replayed {
  parser: ProtocolParser;
  /** "request id fields -> response fields", in response order */
  pairs: Array<{ request: ParsedMessage; response: ParsedMessage }>;
  unpaired: ParsedMessage[];
}

export function replay(
  chunks: Chunk[],
  view: 'client' | 'server' = 'client',
  cut = Infinity,
  capture = Infinity
): Replayed {
  const parser = new Http2Parser().forConnection();
  const open = new Map<number | string, ParsedMessage>();
  const pairs: Replayed['pairs'] = [];
  const unpaired: ParsedMessage[] = [];
  for (const c of chunks) {
    const bytes = Buffer.from(c.hex, 'hex');
    const egress = (c.dir === 'c2s') === (view === 'client');
    for (let off = 0; off < bytes.length; off += cut) {
      const syscall = bytes.subarray(off, Math.min(bytes.length, off + cut));
      const seg = syscall.subarray(0, Math.min(syscall.length, capture));
      const out = parser.parse(seg, syscall.length, undefined, { egress, localPort: 1, peerPort: 2, l4: 'TCP' });
      for (const m of out === null ? [] : Array.isArray(out) ? out : [out]) {
        if (m.type === 'request') {
          open.set(m.id!, m);
        } else if (open.has(m.id!)) {
          pairs.push({ request: open.get(m.id!)!, response: m });
          open.delete(m.id!);
        } else {
          unpaired.push(m);
        }
      }
    }
  }
  unpaired.push(...open.values());
  return { parser, pairs, unpaired };
}

export const summary = (r: Replayed) =>
  r.pairs.map(({ request: q, response: s }) =>
    `${q.id} ${q.requestType} ${q.domain} ${q.resource} ${q.endpoint} -> ${s.code} ${s.status} ${s.exception ?? ''}`.trim()
  );
