// The protocols the agent tries, in order, on a new connection's first bytes.
import type { ProtocolParser } from './types';
import { Http1Parser } from './http1/http1Parser';

export function defaultParsers(): ProtocolParser[] {
  return [new Http1Parser()];
}

export function inferProtocol(parsers: ProtocolParser[], segment: Buffer): ProtocolParser | undefined {
  for (const p of parsers) {
    if (p.infer(segment)) {
      return p;
    }
  }
  return undefined;
}
