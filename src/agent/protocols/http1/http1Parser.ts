// HTTP/1.0 and 1.1: request and status lines, the headers FlowLens keeps, and message length.
import type { ParsedMessage, ProtocolParser } from '../types';
import { parseTraceHeader, TraceContext } from '../traceHeaders';

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE'];
const CHUNKED_END = Buffer.from('0\r\n\r\n');
/** Longest field we keep; the rest is cut (the payload is bounded by captureBytes anyway). */
const MAX_FIELD = 512;

const METHOD_BYTES = METHODS.map((m) => Buffer.from(m, 'latin1'));
const STATUS_PREFIX = Buffer.from('HTTP/1.', 'latin1');

/** seg starts with `prefix`: compared byte by byte (no string decode for every segment). */
function startsWithBytes(seg: Buffer, prefix: Buffer): boolean {
  if (seg.length < prefix.length) {
    return false;
  }
  for (let i = 0; i < prefix.length; i++) {
    if (seg[i] !== prefix[i]) {
      return false;
    }
  }
  return true;
}

function startsWithMethod(seg: Buffer): boolean {
  for (const m of METHOD_BYTES) {
    if (seg.length > m.length && seg[m.length] === 0x20 && seg[0] === m[0] && startsWithBytes(seg, m)) {
      return true;
    }
  }
  return false;
}

function startsWithStatus(seg: Buffer): boolean {
  return seg.length >= 12 && startsWithBytes(seg, STATUS_PREFIX);
}

function status(code: number): ParsedMessage['status'] {
  if (code >= 500) {
    return 'server_error';
  }
  if (code >= 400) {
    return 'client_error';
  }
  return code >= 100 ? 'ok' : 'unknown';
}

interface Headers {
  contentLength?: number;
  chunked: boolean;
  host?: string;
  trace: TraceContext;
}

/** Header names whose values FlowLens keeps, by length, so most lines are skipped unread. */
const KEPT = new Set([
  'content-length',
  'transfer-encoding',
  'host',
  'traceparent',
  'b3',
  'x-b3-traceid',
  'x-b3-spanid',
  'x-b3-parentspanid',
  'uber-trace-id',
  'sw8',
  'x-request-id',
]);
const KEPT_LENGTHS = new Set([...KEPT].map((n) => n.length));
const KEPT_FIRST = new Uint8Array(128);
for (const n of KEPT) {
  KEPT_FIRST[n.charCodeAt(0)] = 1;
}

/** Parses the header lines of `head` (one latin1 string) from `from`: one string, no Buffer slices. */
function parseHeaders(head: string, from: number): Headers {
  const h: Headers = { chunked: false, trace: {} };
  let pos = from;
  // the first ':' at or after a line start, kept while it lies ahead: lines without a colon would
  // otherwise each search to the end of the head (quadratic in the head's length)
  let nextColon = -1;
  while (pos < head.length) {
    let eol = head.indexOf('\r\n', pos);
    if (eol < 0) {
      eol = head.length;
    }
    // every kept name starts with one of b c h s t u x (any case): other lines cost one indexOf
    const first = head.charCodeAt(pos) | 0x20;
    if (KEPT_FIRST[first] === 1 && nextColon < pos) {
      nextColon = head.indexOf(':', pos);
      if (nextColon < 0) {
        nextColon = head.length;
      }
    }
    const colon = KEPT_FIRST[first] === 1 ? nextColon : -1;
    if (colon > pos && colon < eol && KEPT_LENGTHS.has(colon - pos)) {
      const name = head.slice(pos, colon).toLowerCase();
      if (KEPT.has(name)) {
        const value = head.slice(colon + 1, Math.min(eol, colon + 1 + MAX_FIELD)).trim();
        switch (name) {
          case 'content-length': {
            const n = Number(value);
            if (Number.isInteger(n) && n >= 0) {
              h.contentLength = n;
            }
            break;
          }
          case 'transfer-encoding':
            h.chunked = value.toLowerCase().includes('chunked');
            break;
          case 'host':
            h.host = value;
            break;
          default:
            parseTraceHeader(name, value, h.trace);
        }
      }
    }
    pos = eol + 2;
  }
  return h;
}

export class Http1Parser implements ProtocolParser {
  readonly protocol = 'HTTP';
  readonly joinsShortHeads = true;

  infer(segment: Buffer): boolean {
    return startsWithMethod(segment) || startsWithStatus(segment);
  }

  parse(seg: Buffer, retLen: number, request?: ParsedMessage): ParsedMessage | null {
    const isResponse = startsWithStatus(seg);
    if (!isResponse && !startsWithMethod(seg)) {
      return null;
    }
    // one latin1 string of the segment (at most the capture size, 4 KiB) searched in JS: cheaper
    // than a native Buffer.indexOf call plus a second decode for the head
    const text = seg.toString('latin1');
    const headEndAt = text.indexOf('\r\n\r\n');
    const headerLength = headEndAt < 0 ? undefined : headEndAt + 4;
    const head = headEndAt < 0 ? text : text.slice(0, headEndAt);
    const lineEnd = head.indexOf('\r\n');
    const line = lineEnd < 0 ? head.slice(0, MAX_FIELD) : head.slice(0, lineEnd);
    const h = parseHeaders(head, lineEnd < 0 ? head.length : lineEnd + 2);
    // Complete when the header block and the declared body have been seen; unknown when the
    // headers were cut by the capture size or the body is close-delimited.
    const withBody = (body: number | undefined) =>
      headerLength === undefined || body === undefined ? undefined : headerLength + body;

    if (isResponse) {
      const code = Number(line.slice(9, 12));
      if (!Number.isInteger(code) || line[8] !== ' ') {
        return null;
      }
      const noBody = request?.requestType === 'HEAD' || code === 204 || code === 304 || (code >= 100 && code < 200);
      const msg: ParsedMessage = {
        type: 'response',
        version: line.slice(5, 8),
        code,
        status: status(code),
        totalLength: noBody ? headerLength : h.chunked ? undefined : withBody(h.contentLength),
        terminator: !noBody && h.chunked ? CHUNKED_END : undefined,
        // a gateway that creates the request id returns it too: its server-side span then carries it
        xRequestId: h.trace.xRequestId,
      };
      if (code >= 400) {
        msg.exception = line.slice(13, 13 + MAX_FIELD);
      }
      return msg;
    }

    const sp1 = line.indexOf(' ');
    const sp2 = line.lastIndexOf(' ');
    const method = line.slice(0, sp1);
    // A request line cut by the capture size still names the method and the start of the path.
    const resource = (
      sp2 > sp1 && line.startsWith('HTTP/', sp2 + 1) ? line.slice(sp1 + 1, sp2) : line.slice(sp1 + 1)
    ).slice(0, MAX_FIELD);
    const q = resource.indexOf('?');
    void retLen;
    return {
      type: 'request',
      version: sp2 > sp1 ? line.slice(sp2 + 6) : '1.1',
      requestType: method,
      domain: h.host,
      resource,
      endpoint: q < 0 ? resource : resource.slice(0, q),
      totalLength: h.chunked ? undefined : withBody(h.contentLength ?? 0),
      terminator: h.chunked ? CHUNKED_END : undefined,
      traceId: h.trace.traceId,
      spanId: h.trace.spanId,
      parentSpanId: h.trace.parentSpanId,
      xRequestId: h.trace.xRequestId,
    };
  }
}
