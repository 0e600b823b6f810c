// Memcached text protocol: classic commands (get/set/cas/delete/incr/touch/stats/...) and meta
// commands (mg/ms/md/ma/mn), their data blocks, pipelines, `noreply` and quiet-mode (`q`) requests.
// request_type/endpoint = command (upper case), request_resource = command + first key.
// response_code = items returned for retrieval commands (get/gets/gat/gats/mg: 0 = miss), else -1;
// NOT_STORED/EXISTS/NOT_FOUND are normal outcomes (status ok) named in response_exception;
// ERROR/CLIENT_ERROR → client_error, SERVER_ERROR → server_error.
import { CONTINUATION, SegmentFraming, UNKNOWN_TAIL } from '../segmentFraming';
import type { ParsedMessage, ProtocolParser, SegmentContext } from '../types';
import { parserEvictions } from '../parserBounds';

const MAX_FIELD = 512;
/** Longest command or reply line we look for a CRLF in (keys are ≤ 250 bytes; multi-get lines are cut). */
const MAX_LINE = 2048;
const MAX_WORD = 32;
const MAX_OUTSTANDING = 1024;
const CR = 0x0d;
const LF = 0x0a;
const REDIS_PORT = 6379;
const END_LINE = Buffer.from('END\r\n');

type Kind = 'retrieval' | 'storage' | 'cas' | 'meta-get' | 'meta-set' | 'meta' | 'other';

interface CommandSpec {
  kind: Kind;
  /** index of the key among the words after the command, -1 when there is none */
  keyAt: number;
  /** the command never gets a reply */
  silent?: boolean;
}

const COMMANDS = new Map<string, CommandSpec>([
  ['get', { kind: 'retrieval', keyAt: 0 }],
  ['gets', { kind: 'retrieval', keyAt: 0 }],
  ['gat', { kind: 'retrieval', keyAt: 1 }],
  ['gats', { kind: 'retrieval', keyAt: 1 }],
  ['set', { kind: 'storage', keyAt: 0 }],
  ['add', { kind: 'storage', keyAt: 0 }],
  ['replace', { kind: 'storage', keyAt: 0 }],
  ['append', { kind: 'storage', keyAt: 0 }],
  ['prepend', { kind: 'storage', keyAt: 0 }],
  ['cas', { kind: 'cas', keyAt: 0 }],
  ['delete', { kind: 'other', keyAt: 0 }],
  ['incr', { kind: 'other', keyAt: 0 }],
  ['decr', { kind: 'other', keyAt: 0 }],
  ['touch', { kind: 'other', keyAt: 0 }],
  ['flush_all', { kind: 'other', keyAt: -1 }],
  ['version', { kind: 'other', keyAt: -1 }],
  ['stats', { kind: 'other', keyAt: 0 }],
  ['verbosity', { kind: 'other', keyAt: -1 }],
  ['cache_memlimit', { kind: 'other', keyAt: -1 }],
  ['shutdown', { kind: 'other', keyAt: -1 }],
  ['quit', { kind: 'other', keyAt: -1, silent: true }],
  ['mg', { kind: 'meta-get', keyAt: 0 }],
  ['ms', { kind: 'meta-set', keyAt: 0 }],
  ['md', { kind: 'meta', keyAt: 0 }],
  ['ma', { kind: 'meta', keyAt: 0 }],
  ['me', { kind: 'meta', keyAt: 0 }],
  ['mn', { kind: 'meta', keyAt: -1 }],
]);

/** Index of the CR of the first CRLF in buf[from, from + limit), or -1. */
function lineEnd(buf: Buffer, from: number, limit = MAX_LINE): number {
  const stop = Math.min(buf.length - 1, from + limit);
  for (let i = buf.indexOf(CR, from); i >= 0 && i < stop; i = buf.indexOf(CR, i + 1)) {
    if (buf[i + 1] === LF) {
      return i;
    }
  }
  return -1;
}

/** Unsigned decimal in buf[start, end), or NaN. */
function readUint(buf: Buffer, start: number, end: number): number {
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
  return n;
}

/** Word boundaries [start, end) pairs of the line buf[from, stop), at most `max` words. */
function words(buf: Buffer, from: number, stop: number, max: number): number[] {
  const out: number[] = [];
  let p = from;
  while (p < stop && out.length < max * 2) {
    while (p < stop && buf[p] === 0x20) {
      p++;
    }
    if (p >= stop) {
      break;
    }
    const s = p;
    while (p < stop && buf[p] !== 0x20) {
      p++;
    }
    out.push(s, p);
  }
  return out;
}

function isLowerWord(buf: Buffer, start: number, end: number): boolean {
  if (end <= start || end - start > MAX_WORD) {
    return false;
  }
  for (let i = start; i < end; i++) {
    const c = buf[i];
    if (!((c >= 0x61 && c <= 0x7a) || c === 0x5f)) {
      return false;
    }
  }
  return true;
}

function hasWord(buf: Buffer, w: number[], from: number, word: string): boolean {
  for (let i = from * 2; i < w.length; i += 2) {
    if (w[i + 1] - w[i] === word.length && buf.toString('latin1', w[i], w[i + 1]) === word) {
      return true;
    }
  }
  return false;
}

/** Meta flags are single-letter tokens after the key; `q` asks for quiet mode. */
function hasMetaFlag(buf: Buffer, w: number[], from: number, flag: number): boolean {
  for (let i = from * 2; i < w.length; i += 2) {
    if (buf[w[i]] === flag) {
      return true;
    }
  }
  return false;
}

interface Request {
  msg: ParsedMessage;
  /** end offset of the command and its data block (past the capture when the block is large); -1 unknown */
  end: number;
  /** no reply will come (noreply, quit) */
  silent: boolean;
  /** meta quiet mode: a reply comes only for the unusual outcome */
  quiet: boolean;
  kind: Kind;
  keys: number;
}

/** One command line at `off`; `strict` = only well-formed known commands (protocol inference). */
function readRequest(buf: Buffer, off: number, strict: boolean): Request | null {
  const eol = lineEnd(buf, off);
  if (eol < 0 && (strict || buf.length - off > MAX_LINE)) {
    return null;
  }
  const stop = eol < 0 ? buf.length : eol;
  const w = words(buf, off, stop, 8);
  if (w.length === 0 || w[0] !== off || !isLowerWord(buf, w[0], w[1])) {
    return null;
  }
  const name = buf.toString('latin1', w[0], w[1]);
  const spec = COMMANDS.get(name);
  if (!spec && strict) {
    return null;
  }
  const kind = spec?.kind ?? 'other';
  const argc = w.length / 2 - 1;
  let end = eol < 0 ? -1 : eol + 2;
  let silent = spec?.silent ?? false;
  let quiet = false;
  if (kind === 'storage' || kind === 'cas') {
    const need = kind === 'cas' ? 5 : 4;
    if (argc < need && eol >= 0) {
      if (strict) {
        return null;
      }
    } else if (argc >= need) {
      const bytes = readUint(buf, w[8], w[9]);
      if (strict && (Number.isNaN(readUint(buf, w[4], w[5])) || Number.isNaN(bytes))) {
        return null;
      }
      if (end >= 0 && bytes >= 0) {
        end += bytes + 2;
      }
      silent = hasWord(buf, w, need + 1, 'noreply');
    }
  } else if (kind === 'meta-set') {
    const bytes = argc >= 2 ? readUint(buf, w[4], w[5]) : NaN;
    if (strict && Number.isNaN(bytes)) {
      return null;
    }
    if (end >= 0 && bytes >= 0) {
      end += bytes + 2;
    }
    quiet = hasMetaFlag(buf, w, 3, 0x71);
  } else if (kind === 'meta-get' || kind === 'meta') {
    if (strict && spec!.keyAt >= 0 && argc < 1) {
      return null;
    }
    quiet = spec!.keyAt >= 0 && hasMetaFlag(buf, w, 2, 0x71);
  } else {
    if (strict && spec!.keyAt >= 0 && kind === 'retrieval' && argc < spec!.keyAt + 1) {
      return null;
    }
    silent = silent || hasWord(buf, w, 1, 'noreply');
  }
  const type = name.toUpperCase();
  const keyAt = spec?.keyAt ?? 0;
  const k = 2 + keyAt * 2;
  const key = keyAt >= 0 && k < w.length ? buf.toString('utf8', w[k], Math.min(w[k + 1], w[k] + MAX_FIELD)) : undefined;
  const resource = key === undefined ? type : `${type} ${key}`;
  const msg: ParsedMessage = {
    type: 'request',
    requestType: type,
    resource: resource.length > MAX_FIELD ? resource.slice(0, MAX_FIELD) : resource,
    endpoint: type,
    oneWay: silent || quiet || undefined,
  };
  return { msg, end, silent, quiet, kind, keys: kind === 'retrieval' ? Math.max(0, argc - keyAt) : 1 };
}

interface Reply {
  msg: ParsedMessage;
  end: number; // -1 when unknown
}

const OUTCOMES: Record<string, string> = {
  NOT_STORED: 'NOT_STORED',
  EXISTS: 'EXISTS',
  NOT_FOUND: 'NOT_FOUND',
  NS: 'NOT_STORED',
  EX: 'EXISTS',
  NF: 'NOT_FOUND',
};
const OK_WORDS = new Set(['STORED', 'DELETED', 'TOUCHED', 'OK', 'RESET', 'VERSION', 'HD', 'MN', 'ME', 'EN', 'END']);

/** One reply at `off`; `asked` = the request it answers, when known (for the item count of a get). */
function readReply(buf: Buffer, off: number, asked: Request | undefined): Reply | null {
  const eol = lineEnd(buf, off);
  if (eol < 0) {
    return null;
  }
  let sp = off;
  while (sp < eol && buf[sp] !== 0x20) {
    sp++;
  }
  const word = buf.toString('latin1', off, Math.min(sp, off + MAX_WORD));
  const retrieval = asked?.kind === 'retrieval' || asked?.kind === 'meta-get';
  const line = (): string => buf.toString('utf8', off, Math.min(eol, off + MAX_FIELD));
  switch (word) {
    case 'VALUE': {
      // VALUE <key> <flags> <bytes> [<cas>]\r\n<data>\r\n ... END\r\n
      let p = off;
      let items = 0;
      for (;;) {
        const e = lineEnd(buf, p);
        if (e < 0 || buf.toString('latin1', p, Math.min(p + 6, e)) !== 'VALUE ') {
          break;
        }
        const w = words(buf, p, e, 5);
        const bytes = w.length >= 8 ? readUint(buf, w[6], w[7]) : NaN;
        if (Number.isNaN(bytes)) {
          return null;
        }
        items++;
        p = e + 2 + bytes + 2;
        if (p >= buf.length) {
          // the rest is past the capture: a get of as many keys as items ends with END next
          const end = asked && asked.kind === 'retrieval' && items >= asked.keys ? p + END_LINE.length : -1;
          return {
            msg: { type: 'response', status: 'ok', code: items, terminator: end < 0 ? END_LINE : undefined },
            end,
          };
        }
        if (buf.length - p >= 5 && buf.toString('latin1', p, p + 5) === 'END\r\n') {
          return { msg: { type: 'response', status: 'ok', code: items }, end: p + 5 };
        }
      }
      return { msg: { type: 'response', status: 'ok', code: items, terminator: END_LINE }, end: -1 };
    }
    case 'STAT': {
      const endAt = buf.indexOf('\r\nEND\r\n', off);
      return {
        msg: { type: 'response', status: 'ok', terminator: endAt < 0 ? END_LINE : undefined },
        end: endAt < 0 ? -1 : endAt + 7,
      };
    }
    case 'VA': {
      const w = words(buf, off, eol, 3);
      const bytes = w.length >= 4 ? readUint(buf, w[2], w[3]) : NaN;
      if (Number.isNaN(bytes)) {
        return null;
      }
      return { msg: { type: 'response', status: 'ok', code: 1 }, end: eol + 2 + bytes + 2 };
    }
    case 'ERROR':
      return { msg: { type: 'response', status: 'client_error', exception: line() }, end: eol + 2 };
    case 'CLIENT_ERROR':
      return { msg: { type: 'response', status: 'client_error', exception: line() }, end: eol + 2 };
    case 'SERVER_ERROR':
      return { msg: { type: 'response', status: 'server_error', exception: line() }, end: eol + 2 };
  }
  const outcome = OUTCOMES[word];
  if (outcome !== undefined) {
    return { msg: { type: 'response', status: 'ok', exception: outcome }, end: eol + 2 };
  }
  if (OK_WORDS.has(word)) {
    const msg: ParsedMessage = { type: 'response', status: 'ok' };
    if (retrieval) {
      msg.code = word === 'END' || word === 'EN' ? 0 : word === 'HD' ? 1 : undefined;
    }
    return { msg, end: eol + 2 };
  }
  if (!Number.isNaN(readUint(buf, off, eol))) {
    return { msg: { type: 'response', status: 'ok' }, end: eol + 2 }; // incr/decr value
  }
  return null;
}

export class MemcachedParser implements ProtocolParser {
  readonly protocol = 'Memcached';
  private requestEgress?: boolean;
  private readonly framing = new SegmentFraming();
  /** requests that may still get a reply, oldest first (quiet ones may be answered by silence) */
  private readonly outstanding: Request[] = [];

  infer(segment: Buffer, ctx: SegmentContext): boolean {
    if (ctx.localPort === REDIS_PORT || ctx.peerPort === REDIS_PORT || segment.length < 4) {
      return false;
    }
    return readRequest(segment, 0, true) !== null;
  }

  forConnection(): ProtocolParser {
    return new MemcachedParser();
  }

  parse(
    seg: Buffer,
    retLen: number,
    _request: ParsedMessage | undefined,
    ctx: SegmentContext
  ): ParsedMessage | ParsedMessage[] | null {
    const d = ctx.egress ? 1 : 0;
    const start = this.framing.start(seg, retLen, d);
    if (start === UNKNOWN_TAIL) {
      // a get reply continues until its END: clear the state when it shows
      if (seg.length === retLen && seg.length >= 5 && seg.subarray(seg.length - 5).equals(END_LINE)) {
        this.framing.endTail(d);
      }
      return null;
    }
    if (start === CONTINUATION) {
      return null;
    }
    // requests are lower-case words, replies upper-case words or numbers
    const first = seg[start];
    const asRequest =
      this.requestEgress === undefined ? first >= 0x61 && first <= 0x7a : this.requestEgress === ctx.egress;
    const out = asRequest ? this.parseRequests(seg, start, retLen, d) : this.parseReplies(seg, start, retLen, d);
    if (out.length === 0) {
      return null;
    }
    if (asRequest && this.requestEgress === undefined) {
      this.requestEgress = ctx.egress;
    }
    return out.length === 1 ? out[0] : out;
  }

  private parseRequests(seg: Buffer, start: number, retLen: number, dir: number): ParsedMessage[] {
    const out: ParsedMessage[] = [];
    let p = start;
    while (p < seg.length) {
      const r = readRequest(seg, p, false);
      if (!r) {
        break;
      }
      if (r.end >= 0) {
        r.msg.totalLength = r.end - p;
      }
      if (!r.silent) {
        if (this.outstanding.length >= MAX_OUTSTANDING) {
          parserEvictions.memcachedOutstanding++;
          this.outstanding.shift();
        }
        this.outstanding.push(r);
      }
      out.push(r.msg);
      if (!this.framing.advance(r.end, seg, retLen, dir)) {
        break;
      }
      p = r.end;
    }
    return out;
  }

  private parseReplies(seg: Buffer, start: number, retLen: number, dir: number): ParsedMessage[] {
    const out: ParsedMessage[] = [];
    let p = start;
    while (p < seg.length) {
      const asked = this.answered(seg, p);
      const r = readReply(seg, p, asked === undefined ? undefined : this.outstanding[asked]);
      if (!r) {
        break;
      }
      const request = asked === undefined ? undefined : this.outstanding.splice(0, asked + 1)[asked];
      if (r.end >= 0) {
        r.msg.totalLength = r.end - p;
      }
      if (request?.quiet) {
        r.msg.unsolicited = true; // the reply to a quiet request, already logged as one-way
        r.msg.status = undefined;
      }
      out.push(r.msg);
      if (!this.framing.advance(r.end, seg, retLen, dir)) {
        break;
      }
      p = r.end;
    }
    return out;
  }

  /**
   * Index in the outstanding list of the request the reply at `off` answers: the oldest, except that
   * a no-op reply (MN) means the quiet requests before it were answered by silence.
   */
  private answered(seg: Buffer, off: number): number | undefined {
    const noop = seg.length - off >= 4 && seg[off] === 0x4d && seg[off + 1] === 0x4e && seg[off + 2] === CR; // "MN\r\n"
    let i = 0;
    while (noop && i < this.outstanding.length && this.outstanding[i].quiet) {
      i++;
    }
    return i < this.outstanding.length ? i : undefined;
  }
}
