// DNS over UDP (one message per datagram) and TCP (2-byte length prefix): queries and responses
// paired by message id; the first question names the request; RCODE is the response code.
import type { ParsedMessage, ProtocolParser, SegmentContext } from '../types';

const HEADER = 12;
const MAX_NAME = 255;
const DNS_PORTS = new Set([53, 5353, 5355]);

const QTYPES: Record<number, string> = {
  1: 'A',
  2: 'NS',
  5: 'CNAME',
  6: 'SOA',
  12: 'PTR',
  15: 'MX',
  16: 'TXT',
  28: 'AAAA',
  33: 'SRV',
  35: 'NAPTR',
  41: 'OPT',
  43: 'DS',
  46: 'RRSIG',
  48: 'DNSKEY',
  64: 'SVCB',
  65: 'HTTPS',
  255: 'ANY',
  257: 'CAA',
};

const RCODES: Record<number, string> = {
  0: 'NOERROR',
  1: 'FORMERR',
  2: 'SERVFAIL',
  3: 'NXDOMAIN',
  4: 'NOTIMP',
  5: 'REFUSED',
  6: 'YXDOMAIN',
  7: 'YXRRSET',
  8: 'NXRRSET',
  9: 'NOTAUTH',
  10: 'NOTZONE',
};

/** Reads a (possibly compressed) name at `off`; null when malformed. Bounded: at most 128 labels and jumps. */
export function readName(msg: Buffer, off: number): { name: string; end: number } | null {
  const labels: string[] = [];
  let pos = off;
  let end = -1;
  let length = 0;
  for (let hops = 0; hops < 128; hops++) {
    if (pos >= msg.length) {
      return null;
    }
    const len = msg[pos];
    if (len === 0) {
      return { name: labels.join('.') || '.', end: end < 0 ? pos + 1 : end };
    }
    if ((len & 0xc0) === 0xc0) {
      if (pos + 1 >= msg.length) {
        return null;
      }
      if (end < 0) {
        end = pos + 2;
      }
      pos = ((len & 0x3f) << 8) | msg[pos + 1];
      continue;
    }
    if (len & 0xc0 || pos + 1 + len > msg.length) {
      return null;
    }
    length += len + 1;
    if (length > MAX_NAME) {
      return null;
    }
    labels.push(msg.toString('latin1', pos + 1, pos + 1 + len));
    pos += 1 + len;
  }
  return null;
}

function status(rcode: number): ParsedMessage['status'] {
  if (rcode === 0) {
    return 'ok';
  }
  // the name does not exist / the query was bad: the client's problem; the rest: the server's
  return rcode === 3 || rcode === 1 || rcode === 5 ? 'client_error' : 'server_error';
}

/** Parses one DNS message starting at `off`; `framed` = TCP (2-byte length before the message). */
function parseMessage(seg: Buffer, off: number): ParsedMessage | null {
  if (seg.length < off + HEADER) {
    return null;
  }
  const id = seg.readUInt16BE(off);
  const flags = seg.readUInt16BE(off + 2);
  const qd = seg.readUInt16BE(off + 4);
  const opcode = (flags >> 11) & 0xf;
  if (qd !== 1 || opcode > 5 || opcode === 3) {
    return null; // every real query carries exactly one question
  }
  const q = readName(seg.subarray(off), HEADER);
  if (!q || off + q.end + 4 > seg.length) {
    return null;
  }
  const qtype = seg.readUInt16BE(off + q.end);
  const type = QTYPES[qtype] ?? `TYPE${qtype}`;
  const name = q.name.slice(0, 512);
  const isResponse = (flags & 0x8000) !== 0;
  if (!isResponse) {
    return { type: 'request', id, requestType: type, resource: name, endpoint: name, version: '' };
  }
  const rcode = flags & 0xf;
  return {
    type: 'response',
    id,
    code: rcode,
    status: status(rcode),
    exception: rcode ? (RCODES[rcode] ?? `RCODE${rcode}`) : undefined,
  };
}

export class DnsParser implements ProtocolParser {
  readonly protocol = 'DNS';

  infer(seg: Buffer, ctx: SegmentContext): boolean {
    if (this.parse(seg, seg.length, undefined, ctx) === null) {
      return false;
    }
    // On a DNS port the header checks suffice; elsewhere only a textbook query is taken as DNS,
    // since a 12-byte header is easy to mistake: class IN, a known type, no answers, Z bits clear.
    if (DNS_PORTS.has(ctx.localPort) || DNS_PORTS.has(ctx.peerPort)) {
      return true;
    }
    const off = ctx.l4 === 'TCP' && seg.readUInt16BE(0) + 2 === seg.length ? 2 : 0;
    const flags = seg.readUInt16BE(off + 2);
    const q = readName(seg.subarray(off), HEADER);
    return (
      q !== null &&
      (flags & 0x8040) === 0 && // a query (QR=0), Z=0
      seg.readUInt16BE(off + 6) === 0 && // no answers
      seg.readUInt16BE(off + 8) === 0 && // no authority records
      seg.readUInt16BE(off + 10) <= 1 && // at most the EDNS OPT record
      QTYPES[seg.readUInt16BE(off + q.end)] !== undefined &&
      seg.readUInt16BE(off + q.end + 2) === 1 // class IN
    );
  }

  parse(
    seg: Buffer,
    _retLen: number,
    _request: ParsedMessage | undefined,
    ctx: SegmentContext
  ): ParsedMessage | ParsedMessage[] | null {
    if (ctx.l4 === 'UDP') {
      const m = parseMessage(seg, 0);
      if (m) {
        m.totalLength = _retLen;
      }
      return m;
    }
    // TCP: the 2-byte length often travels alone (its own read() or iovec): it is no message
    if (seg.length === 2 && _retLen === 2) {
      return null;
    }
    // ...and then the message comes without it
    if (seg.length >= 2 && seg.readUInt16BE(0) + 2 !== _retLen) {
      const bare = parseMessage(seg, 0);
      if (bare) {
        bare.totalLength = _retLen;
        return bare;
      }
    }
    // one or more length-prefixed messages
    const out: ParsedMessage[] = [];
    let off = 0;
    while (off + 2 <= seg.length && out.length < 64) {
      const len = seg.readUInt16BE(off);
      const m = parseMessage(seg, off + 2);
      if (!m) {
        break;
      }
      m.totalLength = 2 + len;
      out.push(m);
      off += 2 + len;
    }
    return out.length === 0 ? null : out.length === 1 ? out[0] : out;
  }
}
