// The one protocol step of every observation point: a connection's captured segments -> protocol
// inference -> its parser and the request/response pairing -> one l7_flow_log row per pair, every
// text that came from the payload redacted. The syscall path (pipeline.ts: client_process /
// server_process) and the packet path (network/packets: client_nic / server_nic) both call it, so a
// field, a redaction rule or a fix applies at all four points. It lives with the request log, not
// with the parsers: it ends in a row and owns what may be stored of it.
//
// Captured bytes are hostile: a parser (or the pairing) that throws costs its own connection only.
// The connection is marked unparseable, its stream dropped, and counted; the caller goes on.
import { Direction, SocketEvent } from '../capture/socketEvent';
import type { Connection } from '../conntrack/connection';
import { CompletedPair, MessageStream } from '../protocols/messageStream';
import { inferProtocol } from '../protocols/registry';
import type { ProtocolParser } from '../protocols/types';
import type { ObservationPoint } from '../../shared/schema';
import { buildL7Row, EndpointNamer, L7FlowLogRow, RowIds } from './l7FlowLog';
import type { Redactor } from './redaction';

/** Segments of a connection tried for a protocol before it is left unparsed. */
export const MAX_INFER_ATTEMPTS = 8;

export interface ProtocolStepCounters {
  /** segments of connections whose protocol is unknown (not inferred yet, or never) */
  unknownProtocolSegments: number;
  /** messages the pairing could not place (a response with no request seen) */
  orphanSegments: number;
  /** connections whose parser or pairing threw: not parsed any further */
  unparseableConnections: number;
}

export interface ProtocolStepOptions<C extends Connection> {
  host: string;
  parsers: ProtocolParser[];
  /** one Redactor (built-in rules + the user's redactPatterns) for every observation point */
  redactor: Redactor;
  namer: EndpointNamer;
  /** 'ebpf' (syscalls) or 'packet' */
  signalSource: string;
  /** incremented in place: the caller's own counters object */
  counters: ProtocolStepCounters;
  /** a request and its response (or why none came) of connection `c` */
  onPair(c: C, pair: CompletedPair): void;
}

export class ProtocolStep<C extends Connection = Connection> {
  /** the last parser failure for the status line: "protocol: error name and where it was thrown" */
  lastFailure = '';
  private readonly ids = new RowIds();

  constructor(private readonly o: ProtocolStepOptions<C>) {}

  /**
   * One captured segment of `c` (written from c's local end). `requestDirection` is the direction
   * of requests when known up front (connect()/accept(), a SYN), else the pairing learns it.
   */
  segment(c: C, e: SocketEvent, requestDirection?: Direction): void {
    if (c.unparseable) {
      return;
    }
    const counters = this.o.counters;
    try {
      if (!c.stream) {
        if (c.inferMisses >= MAX_INFER_ATTEMPTS) {
          counters.unknownProtocolSegments++;
          return;
        }
        const parser = inferProtocol(this.o.parsers, e.payload, {
          egress: e.direction === Direction.Egress,
          localPort: e.localPort,
          peerPort: e.peerPort,
          l4: e.l4,
        });
        if (!parser) {
          c.inferMisses++;
          counters.unknownProtocolSegments++;
          return;
        }
        c.stream = new MessageStream(parser, (pair) => this.o.onPair(c, pair), requestDirection);
      }
      const before = c.stream.orphans;
      c.stream.onSegment(e);
      counters.orphanSegments += c.stream.orphans - before;
    } catch (err) {
      this.fail(c, err);
    }
  }

  /** Time settles what is in flight: quiet responses, requests past the timeout. */
  sweep(c: C, nowNs: number, timeoutNs: number): void {
    try {
      c.stream?.sweep(nowNs, timeoutNs);
    } catch (err) {
      this.fail(c, err);
    }
  }

  /** The connection closed (or the agent stops): its requests in flight become rows now. */
  close(c: C, reason: 'closed' | 'shutdown' = 'closed'): void {
    try {
      c.stream?.close(reason);
    } catch (err) {
      this.fail(c, err);
    }
  }

  /** Starts over on `c`, e.g. when TLS plaintext replaces its ciphertext. */
  restart(c: C): void {
    c.stream = undefined;
    c.inferMisses = 0;
    c.unparseable = undefined;
  }

  /**
   * The l7_flow_log row of a pair, every column whose text comes from the captured bytes redacted
   * (host, ports, addresses, process and service names do not). `point` names a NIC row; process
   * rows take client_process or server_process from the direction of the requests.
   */
  row(c: C, pair: CompletedPair, point?: ObservationPoint): L7FlowLogRow {
    const row = buildL7Row(c, pair, c.stream?.parser.protocol ?? '', this.o.host, this.ids.next(), this.o.namer);
    if (point) {
      row.observation_point = point;
    }
    row.signal_source = this.o.signalSource;
    const r = this.o.redactor;
    row.version = r.redact(row.version);
    row.request_type = r.redact(row.request_type);
    row.request_domain = r.redact(row.request_domain);
    row.request_resource = r.redact(row.request_resource);
    row.endpoint = r.redact(row.endpoint);
    row.response_exception = r.redact(row.response_exception);
    row.trace_id = r.redact(row.trace_id);
    row.span_id = r.redact(row.span_id);
    row.parent_span_id = r.redact(row.parent_span_id);
    row.x_request_id = r.redact(row.x_request_id);
    return row;
  }

  private fail(c: C, err: unknown): void {
    const protocol = c.stream?.parser.protocol ?? 'inference';
    c.stream = undefined;
    c.unparseable = true;
    this.o.counters.unparseableConnections++;
    this.lastFailure = `${protocol}: ${describeThrow(err)}`;
  }
}

/**
 * What threw and where, for the log: the error's name and the first frame of its stack, never its
 * message, which may quote the captured bytes (JSON.parse does) and so carry a secret.
 */
export function describeThrow(err: unknown): string {
  if (!(err instanceof Error)) {
    return 'a non-Error value';
  }
  const stack = err.stack ?? '';
  const at = stack.indexOf('\n    at ');
  const end = at < 0 ? -1 : stack.indexOf('\n', at + 1);
  return at < 0 ? err.name : `${err.name} ${stack.slice(at + 5, end < 0 ? undefined : end).slice(0, 200)}`;
}
