// The one shape every protocol parser has: recognise a stream, parse a segment that begins a
// message, and say how long the message is so the stream knows when it ends. Pairing requests to
// responses lives in messageStream.ts and is the same for every protocol.
import type { ResponseStatus } from '../../shared/schema';

export type MessageType = 'request' | 'response';

export interface ParsedMessage {
  type: MessageType;
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

export interface ProtocolParser {
  /** The l7_protocol value this parser produces. */
  readonly protocol: string;
  /** Cheap check on the first captured bytes of a stream: is it this protocol? */
  infer(segment: Buffer): boolean;
  /**
   * Parses `segment` (the captured first bytes of one syscall, `retLen` bytes long in full) when it
   * begins a message; returns null for a segment that continues the current message. For a response,
   * `request` is the request it will be paired with, when known.
   */
  parse(segment: Buffer, retLen: number, request?: ParsedMessage): ParsedMessage | null;
}
