// The one shape every protocol parser has: recognise a stream, parse a segment that begins a
// message, and say how long the message is so the stream knows when it ends. Pairing requests to
// responses lives in messageStream.ts and is the same for every protocol.
import type { ResponseStatus } from '../../shared/schema';

export type MessageType = 'request' | 'response';

export interface ParsedMessage {
  type: MessageType;
  /**
   * Pairs a response with the request of the same id (HTTP/2 stream, DNS id, Kafka correlation id).
   * Without it, responses pair with requests in order (HTTP/1.1, Redis, PostgreSQL, ...).
   */
  id?: number | string;
  /** A request that gets no response (MQTT QoS 0 PUBLISH, NATS PUB): logged at once. */
  oneWay?: boolean;
  /** A server message no request asked for (MySQL greeting, Redis push): names the server side, not logged. */
  unsolicited?: boolean;
  /** Total bytes of the message when the message says so (headers + body); undefined when unknown. */
  totalLength?: number;
  /** The message ends with a segment ending in this terminator (e.g. chunked encoding). */
  terminator?: Buffer;
  version?: string;
  // request fields
  requestType?: string;
  domain?: string;
  resource?: string;
  endpoint?: string;
  traceId?: string;
  spanId?: string;
  parentSpanId?: string;
  xRequestId?: string;
  // response fields
  code?: number;
  status?: ResponseStatus;
  exception?: string;
}

/** Where a segment comes from, for parsers that need it. */
export interface SegmentContext {
  /** true when this process sent the segment */
  egress: boolean;
  /** local and peer ports (e.g. DNS on 53, well-known ports as a tie-breaker) */
  localPort: number;
  peerPort: number;
  l4: 'TCP' | 'UDP';
}

export interface ProtocolParser {
  /** The l7_protocol value this parser produces. */
  readonly protocol: string;
  /** Cheap check on the first captured bytes of a stream: is it this protocol? */
  infer(segment: Buffer, ctx: SegmentContext): boolean;
  /**
   * Parses `segment` (the captured first bytes of one syscall, `retLen` bytes long in full) when it
   * begins one or more messages; returns null for a segment that continues the current message. For
   * a response paired in order, `request` is the request it will be paired with, when known.
   */
  parse(
    segment: Buffer,
    retLen: number,
    request: ParsedMessage | undefined,
    ctx: SegmentContext
  ): ParsedMessage | ParsedMessage[] | null;
  /**
   * A parser with per-connection state (HPACK tables, prepared statements) returns a fresh instance
   * for each new connection; stateless parsers leave this out and are shared.
   */
  forConnection?(): ProtocolParser;
  /**
   * True for a stateless parser whose messages start on segment boundaries: a message head that
   * came alone in a few bytes (Go's net/http reads one byte ahead) is then parsed together with the
   * next segment. Parsers that frame across segments themselves leave this out.
   */
  readonly joinsShortHeads?: boolean;
}
