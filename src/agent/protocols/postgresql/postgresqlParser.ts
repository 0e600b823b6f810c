// PostgreSQL frontend/backend protocol v3. Requests: the StartupMessage (database → domain), a
// simple Query, or an extended-protocol batch (Parse/Bind/Describe/Execute/... up to Sync) whose SQL
// comes from the prepared statement it executes; Terminate is one-way. A response is every backend
// message up to ReadyForQuery. Passwords ('p' messages) and Bind parameters are never decoded.
// Per-connection state: statement/portal names → SQL, which side is the client, and where the
// current message ends so responses spanning many syscalls are followed to their ReadyForQuery.
import type { ParsedMessage, ProtocolParser, SegmentContext } from '../types';
import { MAX_SQL, MAX_SQL_DECODE, summarizeSql } from '../sql/sqlText';
import { evictOldest } from '../parserBounds';

const PROTOCOL_V3 = 196608;
const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
const MAX_MESSAGE = 1 << 30;
const MAX_STATEMENTS = 256;
const MAX_PORTALS = 64;
/** Backend message types (for mid-stream direction guessing and validation). */
const BACKEND_TYPES = new Set(
  'RSKZTDCEIN1 2 3 n s t A G H W V c d v'
    .replace(/ /g, '')
    .split('')
    .map((c) => c.charCodeAt(0))
);
const FRONTEND_TYPES = new Set('QPBDECHSXFpdcf'.split('').map((c) => c.charCodeAt(0)));
/** SQLSTATE classes caused by the statement or the caller rather than the server. */
const CLIENT_ERROR_CLASSES = new Set(['22', '23', '28', '3D', '42']);

/** A NUL-terminated string in `buf` from `from`, at most `max` chars; end = index after the NUL (or buf end). */
function cstring(buf: Buffer, from: number, max: number): { text: string; end: number } {
  let nul = buf.indexOf(0, from);
  const complete = nul >= 0;
  if (!complete) {
    nul = buf.length;
  }
  return { text: buf.toString('utf8', from, Math.min(nul, from + max)), end: complete ? nul + 1 : buf.length };
}

interface Batch {
  sql?: string;
  executed: boolean;
  parsed: boolean;
  closed: boolean;
  described: boolean;
  /** SQL of the statement a Bind named, for a batch whose Execute the capture cut off */
  boundSql?: string;
}

interface OpenResponse {
  msg: ParsedMessage;
  /** bytes the message stream has counted for it so far */
  counted: number;
}

export function sqlstateStatus(code: string): ParsedMessage['status'] {
  return CLIENT_ERROR_CLASSES.has(code.slice(0, 2)) ? 'client_error' : 'server_error';
}

export class PostgresqlParser implements ProtocolParser {
  readonly protocol = 'PostgreSQL';
  /** ctx.egress of the client side, once known */
  private clientEgress?: boolean;
  private encrypted = false;
  private sslRequested = false;
  private database?: string;
  private readonly statements = new Map<string, string>();
  private readonly portals = new Map<string, string>();
  private batch: Batch = { executed: false, parsed: false, closed: false, described: false };
  /** requests sent whose response has not begun */
  private awaiting = 0;
  private open?: OpenResponse;
  /** bytes of the current message still to come in later segments, per side; -1 = lost track */
  private clientSkip = 0;
  private serverSkip = 0;

  forConnection(): ProtocolParser {
    return new PostgresqlParser();
  }

  infer(seg: Buffer, ctx: SegmentContext): boolean {
    if (ctx.l4 !== 'TCP' || seg.length < 8) {
      return false;
    }
    const len = seg.readUInt32BE(0);
    const code = seg.readUInt32BE(4);
    if (len === 8 && (code === SSL_REQUEST || code === GSSENC_REQUEST)) {
      return true;
    }
    if (len === 16 && code === CANCEL_REQUEST) {
      return true;
    }
    if (code === PROTOCOL_V3 && len >= 9 && len <= 10000 && seg.length >= 13) {
      // the parameters always include "user"
      return seg.indexOf('user\0', 8, 'latin1') >= 0;
    }
    // mid-stream: a whole simple Query "Q" len SQL\0 in one syscall
    if (seg[0] === 0x51 /* Q */) {
      const qlen = seg.readUInt32BE(1);
      return (
        qlen >= 5 &&
        qlen < MAX_MESSAGE &&
        qlen + 1 === seg.length &&
        seg[seg.length - 1] === 0 &&
        seg.indexOf(0, 5) === seg.length - 1 &&
        (seg[5] | 0x20) >= 0x61 &&
        (seg[5] | 0x20) <= 0x7a
      );
    }
    return false;
  }

  parse(
    seg: Buffer,
    retLen: number,
    request: ParsedMessage | undefined,
    ctx: SegmentContext
  ): ParsedMessage | ParsedMessage[] | null {
    if (this.encrypted || seg.length === 0) {
      return null;
    }
    if (this.clientEgress === undefined) {
      const side = this.guessSide(seg, request);
      if (side === undefined) {
        return null;
      }
      this.clientEgress = side === 'client' ? ctx.egress : !ctx.egress;
    }
    return ctx.egress === this.clientEgress ? this.parseFrontend(seg, retLen) : this.parseBackend(seg, retLen);
  }

  private guessSide(seg: Buffer, request: ParsedMessage | undefined): 'client' | 'server' | undefined {
    if (request) {
      return 'server'; // the stream pairs this segment with a request: it is a response
    }
    if (seg.length >= 8 && seg[0] === 0) {
      return 'client'; // startup-family messages start with a length < 2^24
    }
    if (seg.length === 1 && (seg[0] === 0x4e || seg[0] === 0x53)) {
      return 'server'; // the answer to SSLRequest
    }
    const t = seg[0];
    if (t === 0x51 || t === 0x50 || t === 0x42 || t === 0x58) {
      return 'client'; // Q P B X
    }
    if (t === 0x52 || t === 0x5a || t === 0x54 || t === 0x31 || t === 0x32) {
      return 'server'; // R Z T 1 2
    }
    return undefined;
  }

  // ---- frontend ----------------------------------------------------------------------------

  private parseFrontend(seg: Buffer, retLen: number): ParsedMessage | ParsedMessage[] | null {
    if (seg.length >= 8 && seg[0] === 0 && this.clientSkip === 0) {
      const startup = this.parseStartupFamily(seg, retLen);
      if (startup !== undefined) {
        return startup;
      }
    }
    const out: ParsedMessage[] = [];
    let off = this.clientSkip;
    if (off < 0) {
      // lost track: resume only on what looks like a message start
      if (!FRONTEND_TYPES.has(seg[0]) || seg.length < 5 || seg.readUInt32BE(1) < 4) {
        return null;
      }
      off = 0;
    }
    if (off >= retLen) {
      this.clientSkip = off - retLen;
      return null;
    }
    let truncated = false;
    while (off < retLen) {
      if (off + 5 > seg.length) {
        truncated = true;
        this.clientSkip = -1;
        break;
      }
      const type = seg[off];
      const len = seg.readUInt32BE(off + 1);
      if (!FRONTEND_TYPES.has(type) || len < 4 || len > MAX_MESSAGE) {
        this.clientSkip = -1;
        break;
      }
      const end = off + 1 + len;
      const body = seg.subarray(off + 5, Math.min(end, seg.length));
      const m = this.frontendMessage(type, body);
      if (m) {
        out.push(m);
      }
      if (end > retLen) {
        this.clientSkip = end - retLen;
        truncated = end > seg.length;
        break;
      }
      this.clientSkip = 0;
      off = end;
    }
    // a batch cut off by the capture (large Bind): clients write a batch with its Sync in one syscall
    if (truncated && retLen > seg.length && this.batch.boundSql !== undefined && !this.batch.executed) {
      this.batch.executed = true;
      this.batch.sql = this.batch.boundSql;
    }
    if (truncated && (this.batch.executed || this.batch.parsed) && retLen > seg.length) {
      out.push(this.finishBatch());
    }
    if (out.length === 0) {
      return null;
    }
    return out.length === 1 ? out[0] : out;
  }

  /** StartupMessage, SSLRequest, GSSENCRequest or CancelRequest; undefined when it is none of them. */
  private parseStartupFamily(seg: Buffer, retLen: number): ParsedMessage | null | undefined {
    const len = seg.readUInt32BE(0);
    const code = seg.readUInt32BE(4);
    if (len === 8 && (code === SSL_REQUEST || code === GSSENC_REQUEST)) {
      this.sslRequested = true;
      return null; // the one-byte answer says whether TLS follows; not a logged request
    }
    if (len === 16 && code === CANCEL_REQUEST) {
      return { type: 'request', oneWay: true, requestType: 'CANCEL', endpoint: 'CANCEL' };
    }
    if (code !== PROTOCOL_V3 || len < 8 || len > 10000) {
      return undefined;
    }
    let user: string | undefined;
    let off = 8;
    const end = Math.min(len, seg.length);
    const params = seg.subarray(0, end);
    while (off < end && params[off] !== 0) {
      const name = cstring(params, off, 64);
      const value = cstring(params, name.end, 128);
      if (name.text === 'database') {
        this.database = value.text;
      } else if (name.text === 'user') {
        user = value.text;
      }
      off = value.end;
    }
    this.database ??= user; // the server's default: the database named as the user
    this.clientSkip = len > retLen ? len - retLen : 0;
    return this.request({
      type: 'request',
      version: '3.0',
      requestType: 'STARTUP',
      endpoint: 'STARTUP',
      resource: user ?? '',
    });
  }

  private request(m: ParsedMessage): ParsedMessage {
    m.domain ??= this.database;
    this.awaiting++;
    if (this.open) {
      this.open = undefined; // no pipelining assumed: a new request means the last response ended
      this.serverSkip = 0;
    }
    if (this.serverSkip < 0) {
      this.serverSkip = 0;
    }
    return m;
  }

  private frontendMessage(type: number, body: Buffer): ParsedMessage | undefined {
    switch (type) {
      case 0x51: {
        // Q: simple query
        const sql = cstring(body, 0, MAX_SQL_DECODE).text;
        return this.request(this.sqlRequest(sql, 'QUERY'));
      }
      case 0x50: {
        // P: Parse name\0 sql\0
        const name = cstring(body, 0, 128);
        const sql = cstring(body, name.end, MAX_SQL_DECODE).text;
        if (!this.statements.has(name.text)) {
          evictOldest(this.statements, MAX_STATEMENTS, 'postgresqlStatements');
        }
        this.statements.set(name.text, sql);
        this.batch.parsed = true;
        this.batch.sql ??= sql;
        return undefined;
      }
      case 0x42: {
        // B: Bind portal\0 statement\0 ... (parameters are not read)
        const portal = cstring(body, 0, 128);
        const statement = cstring(body, portal.end, 128);
        if (!this.portals.has(portal.text)) {
          evictOldest(this.portals, MAX_PORTALS, 'postgresqlPortals');
        }
        this.portals.set(portal.text, statement.text);
        this.batch.boundSql ??= this.statements.get(statement.text);
        return undefined;
      }
      case 0x45: {
        // E: Execute portal\0 maxrows
        const portal = cstring(body, 0, 128).text;
        if (!this.batch.executed) {
          const statement = this.portals.get(portal);
          const sql = statement === undefined ? undefined : this.statements.get(statement);
          this.batch.executed = true;
          this.batch.sql = sql ?? this.batch.sql;
        }
        return undefined;
      }
      case 0x43: {
        // C: Close 'S'|'P' name
        const name = cstring(body, 1, 128).text;
        (body[0] === 0x53 ? this.statements : this.portals).delete(name);
        this.batch.closed = true;
        return undefined;
      }
      case 0x44:
        this.batch.described = true;
        return undefined;
      case 0x53:
        return this.finishBatch();
      case 0x58:
        return {
          type: 'request',
          oneWay: true,
          requestType: 'TERMINATE',
          endpoint: 'TERMINATE',
          domain: this.database,
        };
      case 0x46:
        return this.request({ type: 'request', requestType: 'FUNCTION_CALL', endpoint: 'FUNCTION_CALL' });
      default:
        return undefined; // H flush, p password/SASL (never read), d/c/f COPY data
    }
  }

  private finishBatch(): ParsedMessage {
    const b = this.batch;
    this.batch = { executed: false, parsed: false, closed: false, described: false };
    if (b.executed) {
      return this.request(
        b.sql === undefined
          ? { type: 'request', requestType: 'EXECUTE', endpoint: 'EXECUTE' }
          : this.sqlRequest(b.sql, 'EXECUTE')
      );
    }
    if (b.parsed && b.sql !== undefined) {
      const s = this.sqlRequest(b.sql, 'PREPARE');
      const table = s.endpoint && s.endpoint !== s.requestType ? s.endpoint.slice(s.endpoint.indexOf(' ')) : '';
      s.requestType = 'PREPARE';
      s.endpoint = `PREPARE${table}`;
      return this.request(s);
    }
    const kind = b.described ? 'DESCRIBE' : b.closed ? 'CLOSE' : 'SYNC';
    return this.request({ type: 'request', requestType: kind, endpoint: kind });
  }

  private sqlRequest(sql: string, fallback: string): ParsedMessage {
    const s = summarizeSql(sql);
    const command = s.command || fallback;
    const m: ParsedMessage = {
      type: 'request',
      requestType: command,
      resource: s.resource,
      endpoint: s.command ? s.endpoint : fallback,
    };
    if (s.trace) {
      m.traceId = s.trace.traceId;
      m.spanId = s.trace.spanId;
    }
    return m;
  }

  // ---- backend -----------------------------------------------------------------------------

  private parseBackend(seg: Buffer, retLen: number): ParsedMessage | ParsedMessage[] | null {
    if (this.sslRequested && retLen === 1 && (seg[0] === 0x53 || seg[0] === 0x4e)) {
      this.sslRequested = false;
      this.encrypted = seg[0] === 0x53; // 'S': TLS follows, nothing more is readable here
      return { type: 'response', unsolicited: true };
    }
    const started: ParsedMessage[] = [];
    const continued = this.open;
    let off = this.serverSkip;
    if (off < 0) {
      return this.lostBackend(seg, retLen);
    }
    if (off >= retLen) {
      this.serverSkip = off - retLen;
      this.countContinuation(retLen);
      return null;
    }
    let startOff = 0;
    while (off < retLen) {
      if (off + 5 > seg.length) {
        this.serverSkip = -1;
        break;
      }
      const type = seg[off];
      const len = seg.readUInt32BE(off + 1);
      if (!BACKEND_TYPES.has(type) || len < 4 || len > MAX_MESSAGE) {
        this.serverSkip = -1;
        break;
      }
      const end = off + 1 + len;
      if (!this.open && this.awaiting > 0 && type !== 0x41 /* A: async notification */) {
        this.awaiting--;
        this.open = { msg: { type: 'response', status: 'ok' }, counted: 0 };
        started.push(this.open.msg);
        startOff = off;
      }
      if (this.open) {
        if (type === 0x45 /* E */ && this.open.msg.status === 'ok') {
          this.readError(this.open.msg, seg.subarray(off + 5, Math.min(end, seg.length)));
        } else if (type === 0x5a /* Z */ && end <= retLen) {
          if (started[started.length - 1] === this.open.msg) {
            this.open.msg.totalLength = end - startOff;
          } else {
            this.open.msg.totalLength = this.open.counted + retLen; // ends in this continuation
          }
          this.open = undefined;
        }
      }
      if (end > retLen) {
        this.serverSkip = end - retLen;
        break;
      }
      this.serverSkip = 0;
      off = end;
    }
    if (continued && continued === this.open) {
      this.countContinuation(retLen);
    }
    if (started.length === 0) {
      return null; // a continuation (if the open response ended here, its totalLength says so)
    }
    if (this.open && started[started.length - 1] === this.open.msg) {
      this.open.counted = started.length === 1 ? retLen : Math.round(retLen / started.length);
    }
    return started.length === 1 ? started[0] : started;
  }

  private countContinuation(retLen: number): void {
    if (this.open) {
      this.open.counted += retLen;
    }
  }

  /** Out of step (a message header fell outside the captured bytes): look for ReadyForQuery at the end. */
  private lostBackend(seg: Buffer, retLen: number): ParsedMessage | ParsedMessage[] | null {
    if (this.open) {
      this.open.counted += retLen;
      const n = seg.length;
      if (n === retLen && n >= 6 && seg[n - 6] === 0x5a && seg.readUInt32BE(n - 5) === 5) {
        this.open.msg.totalLength = this.open.counted;
        this.open = undefined;
        this.serverSkip = 0;
      }
      return null;
    }
    if (this.awaiting > 0 && BACKEND_TYPES.has(seg[0]) && seg.length >= 5 && seg.readUInt32BE(1) >= 4) {
      this.serverSkip = 0;
      return this.parseBackend(seg, retLen);
    }
    return null;
  }

  private readError(m: ParsedMessage, body: Buffer): void {
    // an ErrorResponse is always ERROR, FATAL or PANIC (warnings come as NoticeResponse)
    let code = '';
    let message = '';
    let off = 0;
    while (off < body.length && body[off] !== 0) {
      const field = body[off];
      const value = cstring(body, off + 1, MAX_SQL);
      if (field === 0x43 /* C */) {
        code = value.text;
      } else if (field === 0x4d /* M */) {
        message = value.text;
      }
      off = value.end;
    }
    m.code = /^\d{5}$/.test(code) ? Number(code) : -1;
    m.status = code ? sqlstateStatus(code) : 'server_error';
    const text = code ? `${code}: ${message}` : message;
    m.exception = text.length > MAX_SQL ? text.slice(0, MAX_SQL) : text;
  }
}
