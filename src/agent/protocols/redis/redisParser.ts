// Redis RESP2/RESP3: commands (arrays of bulk strings, or inline text lines), replies of every RESP
// type, pipelines (several commands or replies per syscall, paired in order) and pub/sub pushes
// (unsolicited). request_type/endpoint = command, request_resource = command + first key.
import { SegmentFraming } from '../segmentFraming';
import type { ParsedMessage, ProtocolParser, SegmentContext } from '../types';

const MAX_FIELD = 512;
const MAX_DEPTH = 8;
/** A header line (type byte, length, CRLF) is never longer than this; longer = not RESP. */
const MAX_HEADER_LINE = 24;
/** An inline command or simple-string line longer than this without CRLF is not what we parse. */
const MAX_INLINE_LINE = 4096;
const MAX_COMMAND_NAME = 32;
/** scan() results besides an end offset */
const INCOMPLETE = -1;
const MALFORMED = -2;

const CR = 0x0d;
const LF = 0x0a;

/** Commands whose arguments carry credentials: the resource shows `***` instead. */
const SECRET_ARGS = new Set(['AUTH', 'HELLO']);
const SUBSCRIBE_COMMANDS = new Set([
  'SUBSCRIBE',
  'PSUBSCRIBE',
  'SSUBSCRIBE',
  'UNSUBSCRIBE',
  'PUNSUBSCRIBE',
  'SUNSUBSCRIBE',
]);
/** First element of a pub/sub reply that confirms a (un)subscribe request. */
const CONFIRMATIONS = new Set(['subscribe', 'psubscribe', 'ssubscribe', 'unsubscribe', 'punsubscribe', 'sunsubscribe']);
/** Error prefixes that report the server's state rather than a bad request. */
const SERVER_ERROR_PREFIXES = new Set([
  'LOADING',
  'BUSY',
  'MASTERDOWN',
  'MISCONF',
  'OOM',
  'CLUSTERDOWN',
  'TRYAGAIN',
  'NOREPLICAS',
  'READONLY',
]);
/**
 * Inline (telnet-style) commands are recognised by name. Lower-case names memcached also has are
 * left to memcached (its protocol is lower-case only), unless the port is Redis's.
 */
const INLINE_COMMANDS = new Set([
  'PING',
  'ECHO',
  'AUTH',
  'HELLO',
  'SELECT',
  'QUIT',
  'INFO',
  'GET',
  'SET',
  'SETEX',
  'SETNX',
  'MGET',
  'MSET',
  'DEL',
  'EXISTS',
  'EXPIRE',
  'TTL',
  'PTTL',
  'INCR',
  'DECR',
  'INCRBY',
  'DECRBY',
  'APPEND',
  'KEYS',
  'SCAN',
  'TYPE',
  'HGET',
  'HSET',
  'HDEL',
  'HGETALL',
  'HMGET',
  'HMSET',
  'LPUSH',
  'RPUSH',
  'LPOP',
  'RPOP',
  'LRANGE',
  'LLEN',
  'SADD',
  'SREM',
  'SMEMBERS',
  'SCARD',
  'ZADD',
  'ZRANGE',
  'ZREM',
  'ZSCORE',
  'PUBLISH',
  'SUBSCRIBE',
  'DBSIZE',
  'FLUSHDB',
  'FLUSHALL',
  'CONFIG',
  'CLIENT',
  'COMMAND',
  'MONITOR',
  'TIME',
  'MULTI',
  'EXEC',
  'DISCARD',
  'WATCH',
  'UNWATCH',
  'EVAL',
  'EVALSHA',
  'SCRIPT',
  'XADD',
  'XRANGE',
  'XREAD',
  'TOUCH',
  'UNLINK',
  'RENAME',
  'PERSIST',
  'STRLEN',
  'GETSET',
  'GETDEL',
  'SAVE',
  'BGSAVE',
]);
const MEMCACHED_WORDS = new Set(['get', 'set', 'append', 'incr', 'decr', 'touch', 'quit']);
const REDIS_PORT = 6379;

/** Index of the CR of the first CRLF at or after `from` within `limit` bytes, or -1. */
function lineEnd(buf: Buffer, from: number, limit: number): number {
  const stop = Math.min(buf.length - 1, from + limit);
  for (let i = buf.indexOf(CR, from); i >= 0 && i < stop; i = buf.indexOf(CR, i + 1)) {
    if (buf[i + 1] === LF) {
      return i;
    }
  }
  return -1;
}

/** Decimal integer in buf[start, end) (optional minus), or NaN; never builds a string. */
function readInt(buf: Buffer, start: number, end: number): number {
  let neg = false;
  if (buf[start] === 0x2d) {
    neg = true;
    start++;
  }
  if (end <= start || end - start > 15) {
    return NaN;
  }
  let n = 0;
  for (let i = start; i < end; i++) {
    const d = buf[i] - 0x30;
    if (d < 0 || d > 9) {
      return NaN;
    }
    n = n * 10 + d;
  }
  return neg ? -n : n;
}

/**
 * End offset of the RESP value at `off`: may lie past the captured bytes when only a payload is
 * missing; INCOMPLETE when a header or further elements lie past them; MALFORMED when it is not RESP.
 */
export function scanValue(buf: Buffer, off: number, depth = 0): number {
  if (off >= buf.length) {
    return INCOMPLETE;
  }
  const t = buf[off];
  const simple = t === 0x2b || t === 0x2d; // + and - carry free text
  const eol = lineEnd(buf, off + 1, simple ? MAX_INLINE_LINE : MAX_HEADER_LINE);
  if (eol < 0) {
    return buf.length - off > (simple ? MAX_INLINE_LINE : MAX_HEADER_LINE) ? MALFORMED : INCOMPLETE;
  }
  switch (t) {
    case 0x2b: // + simple string
    case 0x2d: // - error
      return eol + 2;
    case 0x3a: // : integer
    case 0x28: // ( big number
      return Number.isNaN(readInt(buf, off + 1, Math.min(eol, off + 16))) ? MALFORMED : eol + 2;
    case 0x2c: // , double (inf, nan, 1.5e3): any short text
      return eol > off + 1 ? eol + 2 : MALFORMED;
    case 0x5f: // _ null
      return eol === off + 1 ? eol + 2 : MALFORMED;
    case 0x23: // # boolean
      return eol === off + 2 && (buf[off + 1] === 0x74 || buf[off + 1] === 0x66) ? eol + 2 : MALFORMED;
    case 0x24: // $ bulk string
    case 0x21: // ! bulk error
    case 0x3d: {
      // = verbatim string
      const n = readInt(buf, off + 1, eol);
      if (n === -1 && t === 0x24) {
        return eol + 2; // RESP2 null bulk
      }
      return n >= 0 ? eol + 2 + n + 2 : MALFORMED;
    }
    case 0x2a: // * array
    case 0x25: // % map
    case 0x7e: // ~ set
    case 0x3e: // > push
    case 0x7c: {
      // | attribute (followed by the value it annotates)
      const n = readInt(buf, off + 1, eol);
      if (n === -1 && t === 0x2a) {
        return eol + 2; // RESP2 null array
      }
      if (!(n >= 0) || depth >= MAX_DEPTH) {
        return MALFORMED;
      }
      const count = t === 0x25 || t === 0x7c ? n * 2 : n;
      let p = eol + 2;
      // every element is at least 3 bytes, so this loop is bounded by the captured length
      for (let i = 0; i < count; i++) {
        if (p >= buf.length) {
          return INCOMPLETE;
        }
        const r = scanValue(buf, p, depth + 1);
        if (r < 0) {
          return r;
        }
        p = r;
      }
      return t === 0x7c ? (p >= buf.length ? INCOMPLETE : scanValue(buf, p, depth)) : p;
    }
    default:
      return MALFORMED;
  }
}

/** A bulk string's payload, decoded and capped (only what was captured). */
function bulkText(buf: Buffer, start: number, len: number): string {
  return buf.toString('utf8', start, Math.min(buf.length, start + Math.min(len, MAX_FIELD)));
}

function isCommandName(s: string): boolean {
  if (s.length === 0 || s.length > MAX_COMMAND_NAME) {
    return false;
  }
  const c0 = s.charCodeAt(0) | 0x20;
  if (c0 < 0x61 || c0 > 0x7a) {
    return false;
  }
  for (let i = 1; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const lower = c | 0x20;
    if (!(
      (lower >= 0x61 && lower <= 0x7a) ||
      (c >= 0x30 && c <= 0x39) ||
      c === 0x2e ||
      c === 0x5f ||
      c === 0x2d ||
      c === 0x7c
    )) {
      return false;
    }
  }
  return true;
}

interface Command {
  end: number; // may be past the captured bytes, or INCOMPLETE when unknown
  name: string; // upper case
  arg1?: string;
  argc: number;
}

/** A command sent as an array of bulk strings at `off`; null when the bytes are not one. */
function readArrayCommand(buf: Buffer, off: number): Command | null {
  const eol = lineEnd(buf, off + 1, MAX_HEADER_LINE);
  if (eol < 0) {
    return null;
  }
  const argc = readInt(buf, off + 1, eol);
  if (!(argc >= 1)) {
    return null;
  }
  let p = eol + 2;
  let name = '';
  let arg1: string | undefined;
  for (let i = 0; i < argc; i++) {
    if (p >= buf.length) {
      return i === 0 ? null : { end: INCOMPLETE, name, arg1, argc };
    }
    if (buf[p] !== 0x24) {
      return null;
    }
    const e = lineEnd(buf, p + 1, MAX_HEADER_LINE);
    if (e < 0) {
      return i === 0 ? null : { end: INCOMPLETE, name, arg1, argc };
    }
    const len = readInt(buf, p + 1, e);
    if (!(len >= 0)) {
      return null;
    }
    if (i === 0) {
      if (len > MAX_COMMAND_NAME || e + 2 + len > buf.length) {
        return null;
      }
      name = buf.toString('latin1', e + 2, e + 2 + len);
      if (!isCommandName(name)) {
        return null;
      }
      name = name.toUpperCase();
    } else if (i === 1) {
      arg1 = bulkText(buf, e + 2, len);
    }
    p = e + 2 + len + 2;
  }
  return { end: p, name, arg1, argc };
}

/** An inline command line at `off` (`GET key\r\n`); null when it is not one of the known commands. */
function readInlineCommand(buf: Buffer, off: number, known: (name: string) => boolean): Command | null {
  const eol = lineEnd(buf, off, MAX_INLINE_LINE);
  const lineStop = eol < 0 ? buf.length : eol;
  let sp = off;
  while (sp < lineStop && buf[sp] !== 0x20 && buf[sp] !== 0x09) {
    sp++;
  }
  if (sp === off || sp - off > MAX_COMMAND_NAME || (eol < 0 && sp === lineStop)) {
    return null;
  }
  const word = buf.toString('latin1', off, sp);
  // searched within the line only: a search to the end of the segment for every pipelined command was quadratic
  if (!known(word) || (lineStop - off > 9 && buf.subarray(off, lineStop).indexOf(' HTTP/1.', 0, 'latin1') >= 0)) {
    return null; // an HTTP request line (GET / HTTP/1.1) is not an inline GET
  }
  let a = sp;
  while (a < lineStop && (buf[a] === 0x20 || buf[a] === 0x09)) {
    a++;
  }
  let b = a;
  while (b < lineStop && buf[b] !== 0x20 && buf[b] !== 0x09) {
    b++;
  }
  return {
    end: eol < 0 ? INCOMPLETE : eol + 2,
    name: word.toUpperCase(),
    arg1: b > a ? buf.toString('utf8', a, Math.min(b, a + MAX_FIELD)) : undefined,
    argc: 0,
  };
}

function knownInline(word: string, ctx: SegmentContext): boolean {
  if (!INLINE_COMMANDS.has(word.toUpperCase())) {
    return false;
  }
  const redisPort = ctx.localPort === REDIS_PORT || ctx.peerPort === REDIS_PORT;
  return redisPort || !MEMCACHED_WORDS.has(word);
}

function looksLikeArrayCommand(seg: Buffer): boolean {
  return seg.length >= 8 && seg[0] === 0x2a && readArrayCommand(seg, 0) !== null;
}

function commandMessage(c: Command): ParsedMessage {
  let resource = c.name;
  if (c.arg1 !== undefined) {
    resource = SECRET_ARGS.has(c.name) ? `${c.name} ***` : `${c.name} ${c.arg1}`;
  }
  return {
    type: 'request',
    requestType: c.name,
    resource: resource.length > MAX_FIELD ? resource.slice(0, MAX_FIELD) : resource,
    endpoint: c.name,
    totalLength: c.end >= 0 ? c.end : undefined,
  };
}

function errorStatus(text: string): ParsedMessage['status'] {
  const sp = text.indexOf(' ');
  return SERVER_ERROR_PREFIXES.has(sp < 0 ? text : text.slice(0, sp)) ? 'server_error' : 'client_error';
}

export class RedisParser implements ProtocolParser {
  readonly protocol = 'Redis';
  /** which side sends commands, once seen (ctx.egress of the first command) */
  private requestEgress?: boolean;
  private readonly framing = new SegmentFraming();
  /** pub/sub: the connection subscribed; confirmations still owed to a (un)subscribe request */
  private subscribed = false;
  private awaitingConfirmation = 0;

  infer(segment: Buffer, ctx: SegmentContext): boolean {
    if (segment.length < 4) {
      return false;
    }
    if (segment[0] === 0x2a) {
      return looksLikeArrayCommand(segment);
    }
    return readInlineCommand(segment, 0, (w) => knownInline(w, ctx)) !== null;
  }

  forConnection(): ProtocolParser {
    return new RedisParser();
  }

  parse(
    seg: Buffer,
    retLen: number,
    _request: ParsedMessage | undefined,
    ctx: SegmentContext
  ): ParsedMessage | ParsedMessage[] | null {
    const d = ctx.egress ? 1 : 0;
    const start = this.framing.start(seg, retLen, d);
    if (start < 0) {
      return null; // CONTINUATION or UNKNOWN_TAIL: no new message starts here
    }
    const asRequest =
      this.requestEgress === undefined ? this.looksLikeRequest(seg, start, ctx) : this.requestEgress === ctx.egress;
    const out = asRequest ? this.parseRequests(seg, start, retLen, d) : this.parseReplies(seg, start, retLen, d);
    if (out.length === 0) {
      return null;
    }
    if (asRequest && this.requestEgress === undefined) {
      this.requestEgress = ctx.egress;
    }
    return out.length === 1 ? out[0] : out;
  }

  private looksLikeRequest(seg: Buffer, start: number, ctx: SegmentContext): boolean {
    if (seg[start] === 0x2a) {
      return readArrayCommand(seg, start) !== null;
    }
    return readInlineCommand(seg, start, (w) => knownInline(w, ctx)) !== null;
  }

  private parseRequests(seg: Buffer, start: number, retLen: number, dir: number): ParsedMessage[] {
    const out: ParsedMessage[] = [];
    let p = start;
    while (p < seg.length) {
      if (seg[p] === CR || seg[p] === LF) {
        p++; // blank lines between inline commands
        continue;
      }
      const c =
        seg[p] === 0x2a
          ? readArrayCommand(seg, p)
          : readInlineCommand(seg, p, (w) => INLINE_COMMANDS.has(w.toUpperCase()) || this.requestEgress !== undefined);
      if (!c) {
        break;
      }
      if (SUBSCRIBE_COMMANDS.has(c.name)) {
        this.subscribed = true;
        this.awaitingConfirmation++;
      }
      const m = commandMessage(c);
      if (c.end >= 0) {
        m.totalLength = c.end - p;
      }
      out.push(m);
      if (!this.framing.advance(c.end, seg, retLen, dir)) {
        break;
      }
      p = c.end;
    }
    return out;
  }

  private parseReplies(seg: Buffer, start: number, retLen: number, dir: number): ParsedMessage[] {
    const out: ParsedMessage[] = [];
    let p = start;
    while (p < seg.length) {
      const end = scanValue(seg, p);
      if (end === MALFORMED) {
        break;
      }
      const m = this.reply(seg, p, end);
      if (end >= 0) {
        m.totalLength = end - p;
      }
      out.push(m);
      if (!this.framing.advance(end, seg, retLen, dir)) {
        break;
      }
      p = end;
    }
    return out;
  }

  private reply(seg: Buffer, off: number, end: number): ParsedMessage {
    const t = seg[off];
    if (t === 0x2d || t === 0x21) {
      const eol = lineEnd(seg, off + 1, t === 0x2d ? MAX_INLINE_LINE : MAX_HEADER_LINE);
      let text: string;
      if (t === 0x2d) {
        const stop = eol >= 0 ? eol : seg[seg.length - 1] === CR ? seg.length - 1 : seg.length; // cut by the capture
        text = seg.toString('utf8', off + 1, Math.min(stop, off + 1 + MAX_FIELD));
      } else {
        const n = eol < 0 ? 0 : readInt(seg, off + 1, eol);
        text = eol < 0 || !(n >= 0) ? '' : bulkText(seg, eol + 2, n);
      }
      return { type: 'response', status: errorStatus(text), exception: text };
    }
    if (t === 0x3e || (t === 0x2a && this.subscribed)) {
      const kind = this.pushKind(seg, off);
      if (kind !== undefined) {
        if (CONFIRMATIONS.has(kind) && this.awaitingConfirmation > 0) {
          this.awaitingConfirmation--;
          return { type: 'response', status: 'ok' };
        }
        if (t === 0x3e || kind === 'message' || kind === 'pmessage' || kind === 'smessage' || CONFIRMATIONS.has(kind)) {
          return { type: 'response', unsolicited: true };
        }
      }
    }
    void end;
    return { type: 'response', status: 'ok' };
  }

  /** The first element of a push (or RESP2 pub/sub array) when it is a short bulk string. */
  private pushKind(seg: Buffer, off: number): string | undefined {
    const eol = lineEnd(seg, off + 1, MAX_HEADER_LINE);
    if (eol < 0 || seg[eol + 2] !== 0x24) {
      return undefined;
    }
    const e = lineEnd(seg, eol + 3, MAX_HEADER_LINE);
    const len = e < 0 ? NaN : readInt(seg, eol + 3, e);
    if (!(len > 0 && len <= 16) || e + 2 + len > seg.length) {
      return undefined;
    }
    return seg.toString('latin1', e + 2, e + 2 + len).toLowerCase();
  }
}
