// HTTP/2 in cleartext (h2c with prior knowledge) and gRPC over it. A request is the header block a
// client opens an odd stream with; its response ends with the server's END_STREAM on that stream
// (on HEADERS, the last DATA, or trailers), paired by stream id. gRPC (content-type application/grpc*)
// takes its code from grpc-status in the trailers.
//
// Capture limits, and what they cost: the kernel hands us the first captureBytes of each syscall.
// Frames are followed across syscalls (a frame header or a control/header frame cut by a syscall
// boundary is kept in a small per-direction buffer; DATA payloads are skipped by length). When a
// syscall was cut by the capture and a frame header fell in the part we did not get, framing is lost:
// reassembly state is dropped and we resync on the next segment that starts with a plausible frame
// header. Lost with it: every message in the missed bytes, and the HPACK entries their header blocks
// added, so later fields that refer to those entries decode as unknown (see HpackDecoder.markLost)
// until the encoder empties its table. A header block cut by the capture is decoded up to the cut
// (pseudo-headers come first, so method, path and status usually survive).
import type { ParsedMessage, ProtocolParser, SegmentContext } from '../types';
import type { ResponseStatus } from '../../../shared/schema';
import { parseTraceHeader, TraceContext } from '../traceHeaders';
import { HeaderField, HpackDecoder, MAX_STRING } from './hpack';
import { evictOldest } from '../parserBounds';

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const FRAME_HEADER = 9;
/** Largest frame (header + payload) or header block we keep across syscalls: the default max frame. */
const MAX_REASSEMBLY = 16384 + FRAME_HEADER;
/** Streams with a request and no response yet, per connection. */
const MAX_OPEN_STREAMS = 1024;

const enum FrameType {
  Data = 0,
  Headers = 1,
  Priority = 2,
  RstStream = 3,
  Settings = 4,
  PushPromise = 5,
  Ping = 6,
  GoAway = 7,
  WindowUpdate = 8,
  Continuation = 9,
}
const END_STREAM = 0x1;
const ACK = 0x1;
const END_HEADERS = 0x4;
const PADDED = 0x8;
const PRIORITY = 0x20;
/** Flags each frame type defines (RFC 9113 6.x); senders leave the others unset. */
const DEFINED_FLAGS = [
  END_STREAM | PADDED,
  END_STREAM | END_HEADERS | PADDED | PRIORITY,
  0,
  0,
  ACK,
  END_HEADERS | PADDED,
  ACK,
  0,
  0,
  END_HEADERS,
];

const ERROR_CODES = [
  'NO_ERROR',
  'PROTOCOL_ERROR',
  'INTERNAL_ERROR',
  'FLOW_CONTROL_ERROR',
  'SETTINGS_TIMEOUT',
  'STREAM_CLOSED',
  'FRAME_SIZE_ERROR',
  'REFUSED_STREAM',
  'CANCEL',
  'COMPRESSION_ERROR',
  'CONNECT_ERROR',
  'ENHANCE_YOUR_CALM',
  'INADEQUATE_SECURITY',
  'HTTP_1_1_REQUIRED',
];
const GRPC_CODES = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
];
/** gRPC codes that mean the caller asked for something wrong. */
const GRPC_CLIENT_ERRORS = new Set([3, 5, 6, 7, 9, 11, 16]);

/** Is there a frame header at `pos` that a real peer could have sent? Used for inference and resync. */
export function plausibleFrameHeader(b: Buffer, pos: number): boolean {
  if (pos + FRAME_HEADER > b.length) {
    return false;
  }
  const length = b.readUIntBE(pos, 3);
  const type = b[pos + 3];
  const flags = b[pos + 4];
  const rawId = b.readUInt32BE(pos + 5);
  if (type > FrameType.Continuation || rawId & 0x80000000 || flags & ~DEFINED_FLAGS[type]) {
    return false;
  }
  const onStream = rawId !== 0;
  switch (type) {
    case FrameType.Data:
    case FrameType.Headers:
    case FrameType.Continuation:
      return onStream;
    case FrameType.Priority:
      return onStream && length === 5;
    case FrameType.RstStream:
      return onStream && length === 4;
    case FrameType.Settings:
      return !onStream && length % 6 === 0 && (!(flags & ACK) || length === 0);
    case FrameType.PushPromise:
      return onStream && length >= 4;
    case FrameType.Ping:
      return !onStream && length === 8;
    case FrameType.GoAway:
      return !onStream && length >= 8;
    default:
      return length === 4; // WINDOW_UPDATE
  }
}

/** A connection's first SETTINGS frame (not an ACK), with sane values where they are captured. */
function looksLikeInitialSettings(b: Buffer): boolean {
  if (!plausibleFrameHeader(b, 0) || b[3] !== FrameType.Settings || b[4] & ACK) {
    return false;
  }
  const length = b.readUIntBE(0, 3);
  if (length > 6 * 16) {
    return false;
  }
  if (length === 0) {
    // nine bytes of mostly zeros alone prove little: ask for the frame after it too
    return b.length === FRAME_HEADER || plausibleFrameHeader(b, FRAME_HEADER);
  }
  for (let p = FRAME_HEADER; p + 6 <= Math.min(b.length, FRAME_HEADER + length); p += 6) {
    const id = b.readUInt16BE(p);
    const value = b.readUInt32BE(p + 2);
    if (
      id === 0 ||
      (id === 2 && value > 1) ||
      (id === 4 && value > 0x7fffffff) ||
      (id === 5 && (value < 16384 || value > 0xffffff))
    ) {
      return false;
    }
  }
  return true;
}

function httpStatus(code: number): ResponseStatus {
  if (code >= 500) {
    return 'server_error';
  }
  if (code >= 400) {
    return 'client_error';
  }
  return code >= 100 ? 'ok' : 'unknown';
}

function grpcStatus(code: number): ResponseStatus {
  if (code === 0) {
    return 'ok';
  }
  return GRPC_CLIENT_ERRORS.has(code) ? 'client_error' : 'server_error';
}

/** grpc-message is percent-encoded (gRPC over HTTP/2 spec). */
function decodeGrpcMessage(s: string): string {
  if (!s.includes('%')) {
    return s;
  }
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

interface OpenStream {
  /** true when the client's segments are this process's egress */
  clientEgress: boolean;
  grpc: boolean;
  /** final :status of the response, once its headers came */
  httpStatus?: number;
  /** bytes of the response's frames so far */
  responseBytes: number;
}

/** A header block waiting for its CONTINUATION frames. */
interface OpenBlock {
  streamId: number;
  endStream: boolean;
  /** PUSH_PROMISE blocks are decoded only to keep the table in step */
  push: boolean;
  parts: Buffer[];
  length: number;
  frameBytes: number;
}

/** One direction of the connection: its HPACK decoder and its framing state. */
class DirectionState {
  readonly hpack = new HpackDecoder();
  /**
   * Start of a frame that continues in later syscalls (header, or a whole non-DATA frame of at most
   * MAX_REASSEMBLY bytes): `pendingBytes` of `pending`, whose capacity doubles as pieces come (a
   * frame sent a byte per syscall is copied about twice in all, not once per syscall, and holds at
   * most twice the bytes that came). Parsed once `pendingNeed` bytes are there.
   */
  pending: Buffer | null = null;
  pendingBytes = 0;
  pendingNeed = 0;
  /** payload bytes of the current (DATA or oversized) frame still to come, not kept */
  skip = 0;
  /** a connection's directions start on a frame (or the preface); a bad frame header clears this */
  synced = true;
  block: OpenBlock | undefined;
  /** the header block continuing in CONTINUATION frames was cut: drop them */
  dropContinuationOf = 0;
  /** bytes of the client preface matched so far at the start of this direction; -1 once past it */
  prefaceMatched = 0;

  hold(bytes: Buffer, need: number): void {
    this.pending = Buffer.allocUnsafe(Math.min(need, Math.max(64, bytes.length)));
    bytes.copy(this.pending);
    this.pendingBytes = bytes.length;
    this.pendingNeed = need;
  }

  /** Appends a piece that still leaves the frame short. */
  append(piece: Buffer): void {
    let held = this.pending!;
    const bytes = this.pendingBytes + piece.length;
    if (bytes > held.length) {
      const grown = Buffer.allocUnsafe(Math.min(this.pendingNeed, Math.max(bytes, 2 * held.length)));
      held.copy(grown, 0, 0, this.pendingBytes);
      this.pending = held = grown;
    }
    piece.copy(held, this.pendingBytes);
    this.pendingBytes = bytes;
  }

  loseSync(): void {
    this.pending = null;
    this.skip = 0;
    this.synced = false;
    this.block = undefined;
    // whatever we missed may have added HPACK entries
    this.hpack.markLost();
  }
}

interface BlockFields {
  method?: string;
  path?: string;
  authority?: string;
  host?: string;
  status?: number;
  contentType?: string;
  grpcStatus?: number;
  grpcMessage?: string;
  /** some field named a dynamic-table entry we lost */
  lost: boolean;
  trace: TraceContext;
}

function readFields(fields: HeaderField[]): BlockFields {
  const f: BlockFields = { trace: {}, lost: false };
  for (const { name, value } of fields) {
    if (value === undefined) {
      f.lost = true;
      continue; // an entry we lost
    }
    switch (name) {
      case ':method':
        f.method = value;
        break;
      case ':path':
        f.path = value;
        break;
      case ':authority':
        f.authority = value;
        break;
      case 'host':
        f.host = value;
        break;
      case ':status': {
        const n = Number(value);
        if (Number.isInteger(n)) {
          f.status = n;
        }
        break;
      }
      case 'content-type':
        f.contentType = value;
        break;
      case 'grpc-status': {
        const n = Number(value);
        if (Number.isInteger(n) && value !== '') {
          f.grpcStatus = n;
        }
        break;
      }
      case 'grpc-message':
        f.grpcMessage = decodeGrpcMessage(value).slice(0, MAX_STRING);
        break;
      default:
        if (name.charCodeAt(0) !== 58 /* ':' */) {
          parseTraceHeader(name, value, f.trace);
        }
    }
  }
  return f;
}

export class Http2Parser implements ProtocolParser {
  private readonly toPeer = new DirectionState();
  private readonly fromPeer = new DirectionState();
  private readonly streams = new Map<number, OpenStream>();
  /** which direction the client writes, once a preface or a request says so */
  private clientEgress: boolean | undefined;
  private sawGrpc = false;

  /** l7_protocol of this connection: gRPC once a request carried a gRPC content-type. */
  get protocol(): string {
    return this.sawGrpc ? 'gRPC' : 'HTTP2';
  }

  infer(segment: Buffer, _ctx: SegmentContext): boolean {
    if (
      segment.length >= 14 &&
      segment
        .subarray(0, Math.min(segment.length, PREFACE.length))
        .equals(PREFACE.subarray(0, Math.min(segment.length, PREFACE.length)))
    ) {
      return true;
    }
    // the server may write its SETTINGS before it reads the client's preface
    return looksLikeInitialSettings(segment);
  }

  forConnection(): ProtocolParser {
    return new Http2Parser();
  }

  parse(
    segment: Buffer,
    retLen: number,
    _request: ParsedMessage | undefined,
    ctx: SegmentContext
  ): ParsedMessage[] | null {
    const out: ParsedMessage[] = [];
    this.feed(ctx.egress ? this.toPeer : this.fromPeer, segment, Math.max(retLen, segment.length), ctx.egress, out);
    if (out.length === 1 && out[0].type === 'response' && out[0].totalLength !== undefined) {
      // alone in its syscall, a message counts the whole syscall: let it end here
      out[0].totalLength = Math.min(out[0].totalLength, retLen);
    }
    return out.length ? out : null;
  }

  private feed(d: DirectionState, seg: Buffer, retLen: number, egress: boolean, out: ParsedMessage[]): void {
    let data = seg;
    let streamLength = retLen; // bytes of the connection's byte stream this call covers (pending + syscall)
    let pos = 0;
    if (d.synced && d.skip > 0) {
      if (d.skip >= retLen) {
        d.skip -= retLen;
        return;
      }
      pos = d.skip;
      d.skip = 0;
    } else if (d.synced && d.pending) {
      if (d.pendingBytes + seg.length < d.pendingNeed && seg.length === retLen) {
        d.append(seg); // still short of the frame: keep the piece, parse nothing yet
        return;
      }
      data = Buffer.concat([d.pending.subarray(0, d.pendingBytes), seg]);
      streamLength += d.pendingBytes;
      d.pending = null;
    }
    const truncated = data.length < streamLength;
    if (d.prefaceMatched >= 0) {
      // the client preface, possibly split across syscalls, opens the client's direction
      const n = Math.min(data.length, PREFACE.length - d.prefaceMatched);
      if (n > 0 && data.subarray(0, n).equals(PREFACE.subarray(d.prefaceMatched, d.prefaceMatched + n))) {
        d.prefaceMatched += n;
        pos = n;
        if (d.prefaceMatched < PREFACE.length) {
          return;
        }
        this.clientEgress = egress;
        d.synced = true;
      }
      d.prefaceMatched = -1;
    }
    if (!d.synced) {
      if (!plausibleFrameHeader(data, 0)) {
        return; // resync only where a segment starts with a frame
      }
      d.synced = true;
    }
    while (pos < streamLength) {
      if (pos + FRAME_HEADER > data.length) {
        if (truncated) {
          d.loseSync(); // the next frame header is in bytes the capture did not keep
        } else {
          d.hold(data.subarray(pos), FRAME_HEADER);
        }
        return;
      }
      if (!plausibleFrameHeader(data, pos)) {
        d.loseSync();
        return;
      }
      const length = data.readUIntBE(pos, 3);
      const type = data[pos + 3];
      const flags = data[pos + 4];
      const streamId = data.readUInt32BE(pos + 5);
      const frameEnd = pos + FRAME_HEADER + length;
      if (frameEnd <= data.length) {
        this.frame(d, type, flags, streamId, data.subarray(pos + FRAME_HEADER, frameEnd), true, egress, out);
        pos = frameEnd;
        continue;
      }
      if (type !== FrameType.Data && !truncated && frameEnd - pos <= MAX_REASSEMBLY) {
        d.hold(data.subarray(pos), frameEnd - pos); // the rest of this frame comes in later syscalls
        return;
      }
      this.frame(d, type, flags, streamId, data.subarray(pos + FRAME_HEADER), false, egress, out);
      if (frameEnd >= streamLength) {
        d.skip = frameEnd - streamLength;
      } else {
        d.loseSync(); // the frame ends inside bytes the capture did not keep, and so does the next header
      }
      return;
    }
  }

  /** One frame; `payload` is all of it when `whole`, else the captured start. */
  private frame(
    d: DirectionState,
    type: number,
    flags: number,
    streamId: number,
    payload: Buffer,
    whole: boolean,
    egress: boolean,
    out: ParsedMessage[]
  ): void {
    const frameBytes = FRAME_HEADER + payload.length;
    if (d.block && type !== FrameType.Continuation) {
      // a header block must be followed by its CONTINUATIONs only: the framing is not what we think
      d.loseSync();
      return;
    }
    switch (type) {
      case FrameType.Headers:
      case FrameType.PushPromise: {
        let start = 0;
        let end = payload.length;
        if (flags & PADDED) {
          if (payload.length < 1) {
            return;
          }
          start = 1;
          if (whole) {
            end -= payload[0];
          }
        }
        if (type === FrameType.Headers && flags & PRIORITY) {
          start += 5;
        }
        if (type === FrameType.PushPromise) {
          start += 4; // promised stream id
        }
        if (start > end) {
          return;
        }
        const fragment = payload.subarray(start, end);
        const block: OpenBlock = {
          streamId,
          endStream: (flags & END_STREAM) !== 0,
          push: type === FrameType.PushPromise,
          parts: [fragment],
          length: fragment.length,
          frameBytes,
        };
        if (flags & END_HEADERS || !whole) {
          this.endBlock(d, block, whole, egress, out);
          if (!(flags & END_HEADERS)) {
            d.dropContinuationOf = streamId;
          }
        } else {
          block.parts[0] = Buffer.from(fragment); // the segment's memory is not ours to keep
          d.block = block;
        }
        return;
      }
      case FrameType.Continuation: {
        const block = d.block;
        if (!block || block.streamId !== streamId) {
          if (streamId !== d.dropContinuationOf) {
            d.loseSync();
          }
          return;
        }
        block.length += payload.length;
        block.frameBytes += frameBytes;
        const fits = block.length <= MAX_REASSEMBLY;
        if (fits) {
          block.parts.push(flags & END_HEADERS || !whole ? payload : Buffer.from(payload));
        }
        if (flags & END_HEADERS || !whole || !fits) {
          d.block = undefined;
          this.endBlock(d, block, whole && fits, egress, out);
          if (!(flags & END_HEADERS)) {
            d.dropContinuationOf = streamId;
          }
        }
        return;
      }
      case FrameType.Data:
        if (streamId !== 0) {
          this.countResponseBytes(streamId, egress, frameBytes);
          if (flags & END_STREAM) {
            this.endOfStream(streamId, egress, undefined, out);
          }
        }
        return;
      case FrameType.RstStream:
        if (payload.length >= 4) {
          this.reset(streamId, payload.readUInt32BE(0), egress, out);
        }
        return;
      default:
        return; // SETTINGS, PING, GOAWAY, WINDOW_UPDATE, PRIORITY: nothing a request log needs
    }
  }

  /** Decodes a finished (or cut) header block and acts on it. */
  private endBlock(d: DirectionState, block: OpenBlock, whole: boolean, egress: boolean, out: ParsedMessage[]): void {
    const bytes = block.parts.length === 1 ? block.parts[0] : Buffer.concat(block.parts);
    const decoded = d.hpack.decode(bytes);
    if (!whole || !decoded.complete) {
      d.hpack.markLost(); // the part we did not see may have added entries
    }
    if (block.push) {
      return;
    }
    this.headers(block.streamId, readFields(decoded.fields), block.endStream, egress, block.frameBytes, out);
  }

  private headers(
    streamId: number,
    f: BlockFields,
    endStream: boolean,
    egress: boolean,
    frameBytes: number,
    out: ParsedMessage[]
  ): void {
    if (f.method !== undefined) {
      if (streamId % 2 === 0) {
        return; // client streams are odd
      }
      this.clientEgress = egress;
      const grpc = f.contentType !== undefined && f.contentType.startsWith('application/grpc');
      if (grpc) {
        this.sawGrpc = true;
      }
      evictOldest(this.streams, MAX_OPEN_STREAMS, 'http2Streams');
      this.streams.set(streamId, { clientEgress: egress, grpc, responseBytes: 0 });
      const path = f.path ?? '';
      const msg: ParsedMessage = {
        type: 'request',
        id: streamId,
        version: '2',
        totalLength: frameBytes,
        traceId: f.trace.traceId,
        spanId: f.trace.spanId,
        parentSpanId: f.trace.parentSpanId,
        xRequestId: f.trace.xRequestId,
      };
      if (grpc) {
        msg.requestType = 'POST';
        msg.resource = path;
        msg.endpoint = path;
        const slash = path.lastIndexOf('/');
        msg.domain = slash > 0 ? path.slice(1, slash) : '';
      } else {
        const q = path.indexOf('?');
        msg.requestType = f.method;
        msg.resource = path;
        msg.endpoint = q < 0 ? path : path.slice(0, q);
        msg.domain = f.authority ?? f.host;
      }
      out.push(msg);
      return;
    }
    const stream = this.streams.get(streamId);
    if (!this.isServer(stream, egress)) {
      return; // request trailers, or a stream we know nothing about
    }
    if (stream) {
      stream.responseBytes += frameBytes;
    }
    if (f.status !== undefined) {
      if (f.status >= 100 && f.status < 200) {
        return; // informational: the final headers follow
      }
      if (stream) {
        stream.httpStatus = f.status;
      }
    }
    if (endStream) {
      this.endOfStream(streamId, egress, f, out);
    }
  }

  /** Is `egress` the server's direction on this stream? */
  private isServer(stream: OpenStream | undefined, egress: boolean): boolean {
    const client = stream ? stream.clientEgress : this.clientEgress;
    return client !== undefined && client !== egress;
  }

  private countResponseBytes(streamId: number, egress: boolean, bytes: number): void {
    const stream = this.streams.get(streamId);
    if (stream && stream.clientEgress !== egress) {
      stream.responseBytes += bytes;
    }
  }

  /** The server ended the stream: the response is complete. `last` is the block that ended it, if any. */
  private endOfStream(streamId: number, egress: boolean, last: BlockFields | undefined, out: ParsedMessage[]): void {
    const stream = this.streams.get(streamId);
    if (!this.isServer(stream, egress)) {
      return;
    }
    this.streams.delete(streamId);
    const http = last?.status ?? stream?.httpStatus;
    const msg: ParsedMessage = { type: 'response', id: streamId, version: '2', totalLength: stream?.responseBytes };
    const grpcCode = last?.grpcStatus;
    if ((stream?.grpc || grpcCode !== undefined) && grpcCode !== undefined) {
      msg.code = grpcCode;
      msg.status = grpcStatus(grpcCode);
      if (grpcCode !== 0) {
        msg.exception = last?.grpcMessage || GRPC_CODES[grpcCode] || `grpc-status ${grpcCode}`;
      }
    } else if (http !== undefined) {
      msg.code = http;
      msg.status = httpStatus(http);
      if (stream?.grpc && http === 200) {
        // grpc-status may be one of the HPACK entries the capture lost: say unknown, not an error
        msg.status = last?.lost ? 'unknown' : 'server_error';
        msg.exception = last?.lost ? 'grpc-status lost with the capture' : 'no grpc-status in the trailers';
      }
    } else {
      msg.status = 'unknown'; // the response headers were lost with the capture
    }
    out.push(msg);
  }

  /** RST_STREAM: the server abandoned a stream it had not finished answering. */
  private reset(streamId: number, errorCode: number, egress: boolean, out: ParsedMessage[]): void {
    const stream = this.streams.get(streamId);
    if (!stream || stream.clientEgress === egress) {
      // a client's reset (e.g. a cancelled call) cannot be a response: the request settles when
      // the connection closes or times out
      return;
    }
    this.streams.delete(streamId);
    out.push({
      type: 'response',
      id: streamId,
      version: '2',
      code: errorCode,
      status: 'server_error',
      exception: `RST_STREAM ${ERROR_CODES[errorCode] ?? errorCode}`,
      totalLength: stream.responseBytes + FRAME_HEADER + 4,
    });
  }
}
