// NATS client protocol (text lines + sized payloads). Client operations are requests: CONNECT, PUB,
// HPUB, SUB and UNSUB are one-way unless CONNECT asked for `verbose`, when each gets +OK or -ERR in
// order; PING from the client pairs in order with the server's PONG (a -ERR in its place makes it a
// client_error). The server's INFO, MSG/HMSG deliveries and PING are unsolicited (not logged); the
// client's PONG is not a message. A request/reply is a PUB with a reply subject: the requester's PUB
// and the responder's PUB to the inbox are two one-way rows. request_type = the verb,
// request_resource = endpoint = the subject (inboxes `_INBOX.…` grouped as `_INBOX.*` in endpoint);
// UNSUB names the subject its SUB gave the sid. CONNECT's user, pass, auth_token, jwt, nkey and sig
// are never read; its `name` becomes request_domain for the connection's requests.
import type { ParsedMessage, ProtocolParser, SegmentContext } from '../types';
import { skipSpace } from '../textScan';
import { evictOldest } from '../parserBounds';

const CRLF = 0x0a;
const MAX_LINE = 4096;
const MAX_FIELD = 512;
const MAX_SIDS = 1024;

interface Direction {
  /** payload bytes (incl. the trailing CRLF) still to pass */
  skip: number;
  /** the beginning of a control line cut by the end of a syscall */
  partial?: Buffer;
}

function subjectEndpoint(subject: string): string {
  return subject.startsWith('_INBOX.') ? '_INBOX.*' : subject;
}

/**
 * A JSON string field's value from CONNECT (escapes kept as sent, at most MAX_FIELD characters), or
 * 'true' / 'false'; bounded, no JSON.parse of secrets. A forward scan: the line is the client's.
 */
export function jsonField(json: string, key: string): string | undefined {
  const quoted = `"${key}"`;
  for (let at = json.indexOf(quoted); at >= 0; at = json.indexOf(quoted, at + 1)) {
    let p = skipSpace(json, at + quoted.length);
    if (json.charCodeAt(p) !== 0x3a /* : */) {
      continue;
    }
    p = skipSpace(json, p + 1);
    if (json.charCodeAt(p) === 0x22 /* " */) {
      // up to MAX_FIELD characters (an escape and the character after it count as one), then the closing quote
      let q = p + 1;
      for (let n = 0; n < MAX_FIELD && q < json.length; n++) {
        const c = json.charCodeAt(q);
        if (c === 0x22) {
          break;
        }
        if (c === 0x5c /* \ */) {
          const next = json.charCodeAt(q + 1);
          if (q + 1 >= json.length || next === 0x0a || next === 0x0d || next === 0x2028 || next === 0x2029) {
            break; // not an escape JSON or the former pattern would take
          }
          q++;
        }
        q++;
      }
      if (json.charCodeAt(q) === 0x22) {
        return json.slice(p + 1, q);
      }
    }
    if (json.startsWith('true', p)) {
      return 'true';
    }
    if (json.startsWith('false', p)) {
      return 'false';
    }
  }
  return undefined;
}

/** The first `max` space- or tab-separated tokens (clients send empty fields as double spaces). */
function tokens(line: string, max: number): string[] {
  const out: string[] = [];
  for (const t of line.split(/[ \t]+/, max + 4)) {
    if (t !== '' && out.length < max) {
      out.push(t);
    }
  }
  return out;
}

function sizeToken(t: string | undefined): number {
  if (t === undefined || t.length === 0 || t.length > 10) {
    return -1;
  }
  const n = Number(t);
  return Number.isInteger(n) && n >= 0 ? n : -1;
}

class NatsConnection implements ProtocolParser {
  readonly protocol = 'NATS';
  private readonly dirs: [Direction, Direction] = [{ skip: 0 }, { skip: 0 }];
  private isClient?: boolean;
  private verbose = false;
  private name = '';
  private readonly sids = new Map<string, string>();
  private out: ParsedMessage[] = [];

  infer(seg: Buffer): boolean {
    const head = seg.toString('latin1', 0, Math.min(seg.length, 9));
    if (head.startsWith('INFO {') || head.startsWith('CONNECT {')) {
      return true;
    }
    // mid-stream: a whole PUB or MSG control line
    if (!head.startsWith('PUB ') && !head.startsWith('MSG ')) {
      return false;
    }
    const eol = seg.indexOf('\r\n');
    if (eol < 0 || eol > MAX_LINE) {
      return false;
    }
    const tokens = seg.toString('latin1', 0, eol).split(' ');
    const n = tokens.length;
    return (head[0] === 'P' ? n === 3 || n === 4 : n === 4 || n === 5) && sizeToken(tokens[n - 1]) >= 0;
  }

  forConnection(): ProtocolParser {
    return new NatsConnection();
  }

  parse(
    seg: Buffer,
    retLen: number,
    _request: ParsedMessage | undefined,
    ctx: SegmentContext
  ): ParsedMessage | ParsedMessage[] | null {
    this.out = [];
    const d = this.dirs[ctx.egress ? 1 : 0];
    let pos = 0;
    while (pos < retLen) {
      if (d.skip > 0) {
        const n = Math.min(d.skip, retLen - pos);
        d.skip -= n;
        pos += n;
        continue;
      }
      if (pos >= seg.length) {
        d.partial = undefined; // a line in bytes the capture did not keep
        break;
      }
      const eol = seg.indexOf(CRLF, pos);
      if (eol < 0) {
        const kept = (d.partial?.length ?? 0) + seg.length - pos;
        // a line that goes on in the next syscall (only when the capture kept this one whole)
        d.partial =
          seg.length === retLen && kept <= MAX_LINE
            ? d.partial
              ? Buffer.concat([d.partial, seg.subarray(pos)])
              : Buffer.from(seg.subarray(pos))
            : undefined;
        break;
      }
      const lineStart = pos;
      const line =
        (d.partial ? d.partial.toString('latin1') : '') + seg.toString('latin1', pos, Math.min(eol, pos + MAX_LINE));
      const lineBytes = eol + 1 - lineStart; // this syscall's bytes of it
      d.partial = undefined;
      pos = eol + 1;
      this.line(line.endsWith('\r') ? line.slice(0, -1) : line, ctx.egress, d, lineBytes);
    }
    const out = this.out;
    return out.length === 0 ? null : out.length === 1 ? out[0] : out;
  }

  private learn(clientSent: boolean, egress: boolean): void {
    if (this.isClient === undefined) {
      this.isClient = clientSent === egress;
    }
  }

  private line(line: string, egress: boolean, d: Direction, lineBytes: number): void {
    const sp = line.indexOf(' ');
    const verb = (sp < 0 ? line : line.slice(0, sp)).toUpperCase();
    const fromClient = this.isClient === undefined ? undefined : this.isClient === egress;
    const request = (requestType: string, subject: string, payload: number) => {
      const resource = subject.slice(0, MAX_FIELD);
      this.out.push({
        type: 'request',
        requestType,
        domain: this.name,
        resource,
        endpoint: subjectEndpoint(resource),
        oneWay: !this.verbose,
        totalLength: lineBytes + payload,
      });
    };
    switch (verb) {
      case 'INFO':
        this.learn(false, egress);
        this.out.push({ type: 'request', unsolicited: true, totalLength: lineBytes });
        return;
      case 'CONNECT': {
        this.learn(true, egress);
        const json = line.slice(sp + 1, sp + 1 + MAX_LINE);
        this.verbose = jsonField(json, 'verbose') === 'true';
        this.name = jsonField(json, 'name') ?? '';
        request('CONNECT', '', 0);
        return;
      }
      case 'PUB':
      case 'HPUB': {
        this.learn(true, egress);
        const t = tokens(line, 6);
        const size = sizeToken(t[t.length - 1]);
        if (size < 0 || t.length < 3) {
          return;
        }
        d.skip = size + 2;
        request(verb, t[1], size + 2);
        return;
      }
      case 'MSG':
      case 'HMSG': {
        this.learn(false, egress);
        const t = tokens(line, 7);
        const size = sizeToken(t[t.length - 1]);
        if (size >= 0) {
          d.skip = size + 2;
        }
        this.out.push({ type: 'request', unsolicited: true, totalLength: lineBytes + Math.max(0, size + 2) });
        return;
      }
      case 'SUB': {
        this.learn(true, egress);
        const t = tokens(line, 5);
        if (t.length < 3) {
          return;
        }
        const sid = t[t.length - 1].slice(0, 64);
        if (!this.sids.has(sid)) {
          evictOldest(this.sids, MAX_SIDS, 'natsSubscriptions');
        }
        this.sids.set(sid, t[1].slice(0, MAX_FIELD));
        request('SUB', t[1], 0);
        return;
      }
      case 'UNSUB': {
        this.learn(true, egress);
        const sid = tokens(line, 3)[1] ?? '';
        request('UNSUB', this.sids.get(sid) ?? sid.slice(0, 64), 0);
        return;
      }
      case 'PING':
        if (fromClient === false) {
          this.out.push({ type: 'request', unsolicited: true, totalLength: lineBytes }); // the server checking on the client
          return;
        }
        this.out.push({
          type: 'request',
          requestType: 'PING',
          domain: this.name,
          resource: '',
          endpoint: '',
          totalLength: lineBytes,
        });
        return;
      case 'PONG':
        if (fromClient === true) {
          return; // the client answering the server's PING
        }
        this.out.push({ type: 'response', status: 'ok', totalLength: lineBytes });
        return;
      case '+OK':
        this.learn(false, egress);
        this.out.push({ type: 'response', status: 'ok', totalLength: lineBytes });
        return;
      case '-ERR': {
        this.learn(false, egress);
        let text = line.slice(sp + 1).trim();
        if (text.startsWith("'") && text.endsWith("'") && text.length >= 2) {
          text = text.slice(1, -1);
        }
        this.out.push({
          type: 'response',
          status: 'client_error',
          exception: text.slice(0, MAX_FIELD),
          totalLength: lineBytes,
        });
        return;
      }
      default:
        return;
    }
  }
}

export class NatsParser extends NatsConnection {}
