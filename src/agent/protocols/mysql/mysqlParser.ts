// MySQL / MariaDB client/server protocol. The server greeting is unsolicited (it names the server
// side); the handshake response is a LOGIN request (user → resource, database → domain; the auth data
// is skipped unread), then one request per command packet (sequence id 0): COM_QUERY, COM_INIT_DB,
// COM_PING, COM_STMT_PREPARE/EXECUTE (statement id → SQL kept per connection), COM_QUIT and
// COM_STMT_CLOSE one-way. A response is OK, ERR, or a whole result set up to its final EOF/OK,
// followed packet by packet across syscalls while the packet headers fall in captured bytes.
import type { ParsedMessage, ProtocolParser, SegmentContext } from '../types';
import { MAX_SQL, MAX_SQL_DECODE, summarizeSql } from '../sql/sqlText';
import { evictOldest, parserEvictions } from '../parserBounds';

const CLIENT_CONNECT_WITH_DB = 0x8;
const CLIENT_PROTOCOL_41 = 0x200;
const CLIENT_SSL = 0x800;
const CLIENT_SECURE_CONNECTION = 0x8000;
const CLIENT_PLUGIN_AUTH_LENENC_DATA = 0x200000;
const CLIENT_DEPRECATE_EOF = 0x1000000;
const CLIENT_QUERY_ATTRIBUTES = 0x8000000;
const SERVER_MORE_RESULTS_EXISTS = 0x8;
const MAX_STATEMENTS = 256;
const MAX_PENDING = 64;

const COM_NAMES: Record<number, string> = {
  0x00: 'COM_SLEEP',
  0x01: 'COM_QUIT',
  0x02: 'COM_INIT_DB',
  0x03: 'COM_QUERY',
  0x04: 'COM_FIELD_LIST',
  0x05: 'COM_CREATE_DB',
  0x06: 'COM_DROP_DB',
  0x07: 'COM_REFRESH',
  0x08: 'COM_SHUTDOWN',
  0x09: 'COM_STATISTICS',
  0x0a: 'COM_PROCESS_INFO',
  0x0c: 'COM_PROCESS_KILL',
  0x0d: 'COM_DEBUG',
  0x0e: 'COM_PING',
  0x11: 'COM_CHANGE_USER',
  0x12: 'COM_BINLOG_DUMP',
  0x16: 'COM_STMT_PREPARE',
  0x17: 'COM_STMT_EXECUTE',
  0x18: 'COM_STMT_SEND_LONG_DATA',
  0x19: 'COM_STMT_CLOSE',
  0x1a: 'COM_STMT_RESET',
  0x1b: 'COM_SET_OPTION',
  0x1c: 'COM_STMT_FETCH',
  0x1f: 'COM_RESET_CONNECTION',
  0xfa: 'COM_STMT_BULK_EXECUTE',
};
/** Commands the server never answers. */
const ONE_WAY = new Set([0x01, 0x18, 0x19]);
/** SQLSTATE classes caused by the statement or the caller (syntax, unknown table, duplicate key, access). */
const CLIENT_ERROR_CLASSES = new Set(['21', '22', '23', '28', '3D', '42']);

type ResultState = 'first' | 'prepareParams' | 'prepareColumns' | 'columns' | 'rows';

interface OpenResponse {
  msg: ParsedMessage;
  command: number;
  state: ResultState;
  /** column or parameter definitions still to come */
  remaining: number;
  /** after a prepare OK: column definitions that follow the parameters */
  columnsAfter: number;
  /** an EOF packet ends the definitions being read (no CLIENT_DEPRECATE_EOF) */
  eofPending: boolean;
  counted: number;
  /** the SQL a COM_STMT_PREPARE sent, kept under the statement id its OK returns */
  sql?: string;
}

interface Sent {
  command: number;
  sql?: string;
}

export function mysqlErrorStatus(sqlstate: string): ParsedMessage['status'] {
  return CLIENT_ERROR_CLASSES.has(sqlstate.slice(0, 2)) ? 'client_error' : 'server_error';
}

/** A length-encoded integer at `off`: [value, bytes used], or undefined when it runs past `end`. */
function lenenc(buf: Buffer, off: number, end: number): [number, number] | undefined {
  if (off >= end) {
    return undefined;
  }
  const b = buf[off];
  if (b < 0xfb) {
    return [b, 1];
  }
  if (b === 0xfc && off + 3 <= end) {
    return [buf.readUInt16LE(off + 1), 3];
  }
  if (b === 0xfd && off + 4 <= end) {
    return [buf.readUIntLE(off + 1, 3), 4];
  }
  if (b === 0xfe && off + 9 <= end) {
    return [Number(buf.readBigUInt64LE(off + 1) & 0xffffffffn), 9];
  }
  return undefined;
}

function cstringEnd(buf: Buffer, from: number, end: number): number {
  const nul = buf.subarray(0, end).indexOf(0, from); // not past `end`: the rest of the segment may be long
  return nul < 0 ? end : nul;
}

export class MysqlParser implements ProtocolParser {
  readonly protocol = 'MySQL';
  private serverEgress?: boolean;
  private phase: 'greeting' | 'auth' | 'command' | 'encrypted' = 'greeting';
  private serverCaps = 0xffffffff;
  private caps = 0;
  private database?: string;
  private readonly statements = new Map<number, string>();
  private readonly sent: Sent[] = [];
  private open?: OpenResponse;
  private clientSkip = 0;
  private serverSkip = 0;
  /** length and sequence id of a client packet whose header was the whole last segment */
  private clientHeaderOnly?: [number, number];
  /** length of a server packet whose header was the whole last segment */
  private serverHeaderOnly?: number;

  forConnection(): ProtocolParser {
    return new MysqlParser();
  }

  infer(seg: Buffer, ctx: SegmentContext): boolean {
    if (ctx.l4 !== 'TCP' || seg.length < 6) {
      return false;
    }
    if (this.isHandshakeResponse(seg)) {
      return true;
    }
    const len = seg.readUIntLE(0, 3);
    if (seg[3] !== 0 || len < 2) {
      return false;
    }
    if (seg[4] === 10) {
      return this.isGreeting(seg, len);
    }
    // mid-stream: one whole COM_QUERY in one syscall
    return (
      seg[4] === 0x03 &&
      len + 4 === seg.length &&
      /^[\s(/]*[a-z]/i.test(seg.toString('latin1', 5, Math.min(seg.length, 24)))
    );
  }

  /** HandshakeResponse41: sequence 1, CLIENT_PROTOCOL_41, then zero filler after max packet and charset (MariaDB keeps its own flags in the last 4). */
  private isHandshakeResponse(seg: Buffer): boolean {
    if (seg.length < 36 || seg[3] !== 1 || !(seg.readUInt32LE(4) & CLIENT_PROTOCOL_41) || seg.readUIntLE(0, 3) < 32) {
      return false;
    }
    for (let i = 13; i < 32; i++) {
      if (seg[i] !== 0) {
        return false;
      }
    }
    return true;
  }

  private isGreeting(seg: Buffer, len: number): boolean {
    if (len < 20 || len > 1024 || seg.length < 8) {
      return false;
    }
    const nul = seg.indexOf(0, 5);
    if (nul < 6 || nul > 5 + 64 || nul > len + 4) {
      return false;
    }
    for (let i = 5; i < nul; i++) {
      if (seg[i] < 0x20 || seg[i] > 0x7e) {
        return false;
      }
    }
    return seg[5] >= 0x30 && seg[5] <= 0x39; // versions start with a digit
  }

  parse(
    seg: Buffer,
    retLen: number,
    request: ParsedMessage | undefined,
    ctx: SegmentContext
  ): ParsedMessage | ParsedMessage[] | null {
    if (this.phase === 'encrypted' || seg.length === 0) {
      return null;
    }
    if (this.serverEgress === undefined) {
      if (seg.length >= 5 && seg[3] === 0 && seg[4] === 10 && this.isGreeting(seg, seg.readUIntLE(0, 3))) {
        this.serverEgress = ctx.egress;
      } else if (this.isHandshakeResponse(seg)) {
        this.serverEgress = !ctx.egress; // the greeting was missed (read as header, then payload)
      } else if (request) {
        this.serverEgress = ctx.egress;
        this.phase = 'command';
      } else if (seg.length >= 5 && seg[3] === 0 && seg[4] <= 0x1f) {
        this.serverEgress = !ctx.egress; // a command: we joined mid-connection
        this.phase = 'command';
      } else {
        return null;
      }
    }
    return ctx.egress === this.serverEgress ? this.parseServer(seg, retLen) : this.parseClient(seg, retLen);
  }

  // ---- client --------------------------------------------------------------------------------

  private parseClient(seg: Buffer, retLen: number): ParsedMessage | ParsedMessage[] | null {
    const out: ParsedMessage[] = [];
    // a packet whose 4-byte header came alone (servers that read the header, then the payload)
    let headerOnly = this.clientHeaderOnly;
    this.clientHeaderOnly = undefined;
    let off = headerOnly === undefined ? this.clientSkip : 0;
    if (off < 0) {
      if (seg.length < 5 || seg[3] !== 0) {
        return null;
      }
      off = 0;
    }
    if (off >= retLen && headerOnly === undefined) {
      this.clientSkip = off - retLen;
      return null;
    }
    while (off < retLen || headerOnly !== undefined) {
      let len: number;
      let seq: number;
      let payloadStart: number;
      if (headerOnly !== undefined) {
        [len, seq] = headerOnly;
        payloadStart = 0;
        headerOnly = undefined;
      } else {
        if (off + 4 > seg.length) {
          this.clientSkip = -1;
          break;
        }
        len = seg.readUIntLE(off, 3);
        seq = seg[off + 3];
        payloadStart = off + 4;
        if (payloadStart === retLen && len > 0) {
          this.clientHeaderOnly = [len, seq];
          this.clientSkip = 0;
          break;
        }
      }
      const end = payloadStart + len;
      const payload = seg.subarray(payloadStart, Math.min(end, seg.length));
      const m = this.clientPacket(seq, payload, len);
      if (m) {
        out.push(m);
      }
      if (end > retLen) {
        this.clientSkip = end - retLen;
        break;
      }
      this.clientSkip = 0;
      off = end;
    }
    if (out.length === 0) {
      return null;
    }
    return out.length === 1 ? out[0] : out;
  }

  private clientPacket(seq: number, payload: Buffer, len: number): ParsedMessage | undefined {
    if (this.phase === 'greeting' || (this.phase === 'auth' && seq === 1 && !this.sent.length && this.caps === 0)) {
      return this.handshakeResponse(payload, len);
    }
    if (seq !== 0 || payload.length === 0 || this.phase !== 'command') {
      return undefined; // auth data, LOCAL INFILE contents, or a long packet's continuation
    }
    const command = payload[0];
    const name = COM_NAMES[command];
    if (name === undefined) {
      return undefined;
    }
    const m: ParsedMessage = {
      type: 'request',
      version: '10',
      requestType: name,
      endpoint: name,
      domain: this.database,
    };
    let sql: string | undefined;
    switch (command) {
      case 0x03: {
        let from = 1;
        if (this.caps & CLIENT_QUERY_ATTRIBUTES) {
          const count = lenenc(payload, from, payload.length);
          const sets = count && lenenc(payload, from + count[1], payload.length);
          if (!count || !sets || count[0] !== 0) {
            break; // attributes precede the text: not decoded
          }
          from += count[1] + sets[1];
        }
        sql = payload.toString('utf8', from, Math.min(payload.length, from + MAX_SQL_DECODE));
        this.describeSql(m, sql, true);
        break;
      }
      case 0x16:
        sql = payload.toString('utf8', 1, Math.min(payload.length, 1 + MAX_SQL_DECODE));
        this.describeSql(m, sql, false);
        break;
      case 0x17:
      case 0x1c:
      case 0xfa:
      case 0x1a:
      case 0x19:
      case 0x18: {
        if (payload.length >= 5) {
          const id = payload.readUInt32LE(1);
          const known = this.statements.get(id);
          if (command === 0x19) {
            this.statements.delete(id);
          }
          if (known !== undefined) {
            this.describeSql(m, known, command === 0x17 || command === 0xfa);
          } else {
            m.resource = String(id);
          }
        }
        break;
      }
      case 0x02: {
        const db = payload.toString('utf8', 1, Math.min(payload.length, 1 + 64));
        this.database = db;
        m.domain = db;
        m.resource = db;
        break;
      }
      case 0x04:
        m.resource = payload.toString('utf8', 1, cstringEnd(payload, 1, Math.min(payload.length, 1 + MAX_SQL)));
        break;
      case 0x11: {
        // COM_CHANGE_USER: user\0 then auth data (never read)
        m.resource = payload.toString('utf8', 1, cstringEnd(payload, 1, Math.min(payload.length, 1 + 128)));
        break;
      }
    }
    if (ONE_WAY.has(command)) {
      m.oneWay = true;
      return m;
    }
    this.expect(command, sql);
    return m;
  }

  private expect(command: number, sql?: string): void {
    if (this.open) {
      this.open = undefined; // a new command: the last response is over (the protocol has no pipelining)
      this.serverSkip = 0;
    }
    if (this.serverSkip < 0) {
      this.serverSkip = 0;
    }
    if (this.sent.length >= MAX_PENDING) {
      parserEvictions.mysqlPending++;
      this.sent.shift();
    }
    this.sent.push({ command, sql });
  }

  private describeSql(m: ParsedMessage, sql: string, asCommand: boolean): void {
    const s = summarizeSql(sql);
    m.resource = s.resource;
    if (asCommand && s.command) {
      m.requestType = s.command;
      m.endpoint = s.endpoint;
    } else if (s.endpoint !== s.command) {
      m.endpoint = `${m.requestType}${s.endpoint.slice(s.command.length)}`;
    }
    if (s.trace) {
      m.traceId = s.trace.traceId;
      m.spanId = s.trace.spanId;
    }
  }

  private handshakeResponse(payload: Buffer, len: number): ParsedMessage | undefined {
    if (payload.length < 4) {
      return undefined;
    }
    const clientCaps = payload.readUInt32LE(0);
    let user = '';
    if (clientCaps & CLIENT_PROTOCOL_41) {
      this.caps = clientCaps & this.serverCaps;
      if (len === 32 && clientCaps & CLIENT_SSL) {
        this.phase = 'encrypted'; // SSL request: TLS follows
        return undefined;
      }
      const userEnd = cstringEnd(payload, 32, payload.length);
      user = payload.toString('utf8', 32, Math.min(userEnd, 32 + 128));
      let off = userEnd + 1;
      // auth data: skipped by its length, never decoded
      if (clientCaps & CLIENT_PLUGIN_AUTH_LENENC_DATA) {
        const l = lenenc(payload, off, payload.length);
        off = l ? off + l[1] + l[0] : payload.length;
      } else if (clientCaps & CLIENT_SECURE_CONNECTION) {
        off = off < payload.length ? off + 1 + payload[off] : payload.length;
      } else {
        off = cstringEnd(payload, off, payload.length) + 1;
      }
      if (clientCaps & CLIENT_CONNECT_WITH_DB && off < payload.length) {
        const dbEnd = cstringEnd(payload, off, payload.length);
        if (dbEnd > off) {
          this.database = payload.toString('utf8', off, Math.min(dbEnd, off + 64));
        }
      }
    } else {
      // protocol 320: caps(2) max packet(3) user\0 ...
      this.caps = clientCaps & 0xffff;
      user = payload.toString('utf8', 5, Math.min(cstringEnd(payload, 5, payload.length), 5 + 128));
    }
    this.phase = 'auth';
    this.expect(-1);
    return {
      type: 'request',
      version: '10',
      requestType: 'LOGIN',
      endpoint: 'LOGIN',
      resource: user,
      domain: this.database,
    };
  }

  // ---- server --------------------------------------------------------------------------------

  private parseServer(seg: Buffer, retLen: number): ParsedMessage | ParsedMessage[] | null {
    if (this.phase === 'greeting' && this.serverSkip === 0 && seg.length >= 5 && seg[4] === 10) {
      const len = seg.readUIntLE(0, 3);
      this.readGreeting(seg.subarray(4, Math.min(seg.length, 4 + len)));
      this.serverSkip = 4 + len > retLen ? 4 + len - retLen : 0;
      return { type: 'response', unsolicited: true };
    }
    const started: ParsedMessage[] = [];
    const continued = this.open;
    // a packet whose 4-byte header came alone (clients that read the header, then the payload)
    let headerOnly = this.serverHeaderOnly;
    this.serverHeaderOnly = undefined;
    let off = headerOnly === undefined ? this.serverSkip : 0;
    if (off < 0) {
      return this.lostServer(seg, retLen);
    }
    if (off >= retLen && headerOnly === undefined) {
      this.serverSkip = off - retLen;
      this.countContinuation(retLen);
      return null;
    }
    let startOff = 0;
    while (off < retLen || headerOnly !== undefined) {
      let len: number;
      let payloadStart: number;
      if (headerOnly !== undefined) {
        len = headerOnly;
        payloadStart = 0;
        headerOnly = undefined;
      } else {
        if (off + 4 > seg.length) {
          this.serverSkip = -1;
          break;
        }
        len = seg.readUIntLE(off, 3);
        payloadStart = off + 4;
      }
      const end = payloadStart + len;
      if (!this.open) {
        const sent = this.sent.shift();
        if (!sent) {
          this.serverSkip = end > retLen ? end - retLen : 0;
          break; // nothing asked for this
        }
        this.open = {
          msg: { type: 'response', status: 'ok' },
          command: sent.command,
          state: 'first',
          remaining: 0,
          columnsAfter: 0,
          eofPending: false,
          counted: 0,
        };
        started.push(this.open.msg);
        startOff = off;
        this.open.sql = sent.sql;
      }
      if (payloadStart === retLen && len > 0) {
        this.serverHeaderOnly = len; // the payload is the next syscall
        this.serverSkip = 0;
        break;
      }
      const payload = seg.subarray(payloadStart, Math.min(end, seg.length));
      if (this.serverPacket(this.open, payload, len)) {
        const o = this.open;
        o.msg.totalLength =
          started[started.length - 1] === o.msg ? Math.min(end, retLen) - startOff : o.counted + retLen;
        this.open = undefined;
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
      return null;
    }
    if (this.open && started[started.length - 1] === this.open.msg) {
      this.open.counted = started.length === 1 ? retLen : Math.round(retLen / started.length);
    }
    return started.length === 1 ? started[0] : started;
  }

  private readGreeting(p: Buffer): void {
    const versionEnd = cstringEnd(p, 1, p.length);
    const capsLow = versionEnd + 1 + 4 + 8 + 1;
    if (capsLow + 2 <= p.length) {
      let caps = p.readUInt16LE(capsLow);
      if (capsLow + 7 <= p.length) {
        caps |= p.readUInt16LE(capsLow + 5) << 16;
      }
      this.serverCaps = caps >>> 0;
    }
    this.phase = 'auth';
  }

  private countContinuation(retLen: number): void {
    if (this.open) {
      this.open.counted += retLen;
    }
  }

  /** Out of step: the response ends when a fully captured segment ends with a final EOF or OK. */
  private lostServer(seg: Buffer, retLen: number): ParsedMessage | ParsedMessage[] | null {
    if (this.open) {
      this.open.counted += retLen;
      const n = seg.length;
      const eof =
        n >= 9 &&
        seg.readUIntLE(n - 9, 3) === 5 &&
        seg[n - 5] === 0xfe &&
        !(seg.readUInt16LE(n - 2) & SERVER_MORE_RESULTS_EXISTS);
      const ok =
        n >= 11 &&
        seg.readUIntLE(n - 11, 3) === 7 &&
        seg[n - 7] === 0xfe &&
        !(seg.readUInt16LE(n - 4) & SERVER_MORE_RESULTS_EXISTS);
      if (n === retLen && (eof || ok)) {
        this.open.msg.totalLength = this.open.counted;
        this.open = undefined;
        this.serverSkip = 0;
      }
      return null;
    }
    if (this.sent.length && seg.length >= 5 && seg[3] === 1) {
      this.serverSkip = 0; // a response's first packet has sequence id 1
      return this.parseServer(seg, retLen);
    }
    return null;
  }

  /** Advances the response state by one packet; true when the response is complete. */
  private serverPacket(o: OpenResponse, p: Buffer, len: number): boolean {
    if (p.length === 0) {
      return false;
    }
    const head = p[0];
    const isEof = head === 0xfe && len < 9;
    if (o.command === -1) {
      // login: OK or ERR ends it; auth switch / more data continue the exchange
      if (head === 0x00) {
        this.phase = 'command';
        return true;
      }
      if (head === 0xff) {
        this.readError(o.msg, p);
        return true;
      }
      return false;
    }
    if (o.command === 0x09) {
      return true; // COM_STATISTICS: one text packet
    }
    switch (o.state) {
      case 'first':
        if (head === 0xff) {
          this.readError(o.msg, p);
          return true;
        }
        if (head === 0x00 && o.command === 0x16 && p.length >= 9) {
          const id = p.readUInt32LE(1);
          const columns = p.readUInt16LE(5);
          const params = p.readUInt16LE(7);
          const sql = o.sql;
          if (sql !== undefined) {
            if (!this.statements.has(id)) {
              evictOldest(this.statements, MAX_STATEMENTS, 'mysqlStatements');
            }
            this.statements.set(id, sql);
          }
          o.columnsAfter = columns;
          if (params > 0) {
            o.state = 'prepareParams';
            o.remaining = params;
          } else if (columns > 0) {
            o.state = 'prepareColumns';
            o.remaining = columns;
          } else {
            return true;
          }
          o.eofPending = false;
          return false;
        }
        if (head === 0x00 || isEof) {
          return this.moreResults(o, p, head === 0x00);
        }
        if (head === 0xfb) {
          return true; // LOCAL INFILE request: the file and the final OK are not followed
        }
        {
          const count = lenenc(p, 0, p.length);
          if (!count || count[0] === 0) {
            return true;
          }
          o.state = 'columns';
          o.remaining = count[0];
          return false;
        }
      case 'prepareParams':
      case 'prepareColumns':
      case 'columns':
        if (head === 0xff) {
          this.readError(o.msg, p);
          return true;
        }
        if (o.remaining > 0) {
          o.remaining--;
          if (o.remaining === 0 && this.caps & CLIENT_DEPRECATE_EOF) {
            return this.definitionsDone(o);
          }
          return false;
        }
        // the EOF after the definitions
        return this.definitionsDone(o);
      case 'rows':
        if (head === 0xff) {
          this.readError(o.msg, p);
          return true;
        }
        if (head === 0xfe && len < 0xffffff && (isEof || this.caps & CLIENT_DEPRECATE_EOF)) {
          return this.moreResults(o, p, !isEof);
        }
        return false;
    }
  }

  private definitionsDone(o: OpenResponse): boolean {
    if (o.state === 'prepareParams' && o.columnsAfter > 0) {
      o.state = 'prepareColumns';
      o.remaining = o.columnsAfter;
      return false;
    }
    if (o.state === 'columns') {
      o.state = 'rows';
      return false;
    }
    return true;
  }

  /** After an OK or EOF: the response goes on when the server says more results follow. */
  private moreResults(o: OpenResponse, p: Buffer, okPacket: boolean): boolean {
    let statusAt = 3;
    if (okPacket) {
      const affected = lenenc(p, 1, p.length);
      const insertId = affected && lenenc(p, 1 + affected[1], p.length);
      statusAt = affected && insertId ? 1 + affected[1] + insertId[1] : p.length;
    } else {
      statusAt = 3;
    }
    if (statusAt + 2 <= p.length && p.readUInt16LE(statusAt) & SERVER_MORE_RESULTS_EXISTS) {
      o.state = 'first';
      return false;
    }
    return true;
  }

  private readError(m: ParsedMessage, p: Buffer): void {
    if (p.length < 3) {
      m.status = 'server_error';
      return;
    }
    m.code = p.readUInt16LE(1);
    let sqlstate = '';
    let from = 3;
    if (p[3] === 0x23 /* # */ && p.length >= 9) {
      sqlstate = p.toString('latin1', 4, 9);
      from = 9;
    }
    const message = p.toString('utf8', from, Math.min(p.length, from + MAX_SQL));
    m.status = sqlstate ? mysqlErrorStatus(sqlstate) : 'server_error';
    const text = sqlstate ? `${sqlstate}: ${message}` : message;
    m.exception = text.length > MAX_SQL ? text.slice(0, MAX_SQL) : text;
  }
}
