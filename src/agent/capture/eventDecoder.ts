// Decodes a batch from the native addon ([u32 len][u32 0][record, padded to 8]...) into events.
import { Direction, EventKind, SocketEvent } from './socketEvent';

/** Field offsets of struct fl_event, mirrored from bpf/socket_trace.h. */
export const EVENT_LAYOUT = {
  size: 112,
  ts_ns: 0,
  sock_id: 8,
  tgid: 16,
  tid: 20,
  fd: 24,
  kind: 28,
  direction: 30,
  syscall: 31,
  ret_len: 32,
  cap_len: 36,
  saddr: 40,
  daddr: 56,
  sport: 72,
  dport: 74,
  family: 76,
  l4_proto: 78,
  tcp_state: 79,
  tcp_seq: 80,
  comm: 88,
  syscall_trace_id: 104,
} as const;

const AF_INET = 2;
const IPPROTO_UDP = 17;

/** Throws when the addon was built from a different socket_trace.h than this decoder. */
export function checkLayout(native: Record<string, number>): void {
  for (const [field, off] of Object.entries(EVENT_LAYOUT)) {
    if (native[field] !== off) {
      throw new Error(
        `event layout mismatch: ${field} is at ${native[field]} in the native addon but ${off} in eventDecoder.ts; ` +
          'rebuild with scripts/build.sh after changing bpf/socket_trace.h and mirror it in EVENT_LAYOUT'
      );
    }
  }
}

const ipv4Cache = new Map<number, string>();

export function ipv4(buf: Buffer, off: number): string {
  return ipv4OfWord(buf.readUInt32LE(off));
}

/** The dotted form of an IPv4 address read as a little-endian 32-bit word (first byte lowest), cached. */
function ipv4OfWord(word: number): string {
  let s = ipv4Cache.get(word);
  if (s === undefined) {
    s = `${word & 0xff}.${(word >>> 8) & 0xff}.${(word >>> 16) & 0xff}.${word >>> 24}`;
    if (ipv4Cache.size > 65536) {
      ipv4Cache.clear();
    }
    ipv4Cache.set(word, s);
  }
  return s;
}

export function ipv6(buf: Buffer, off: number): string {
  // ::ffff:a.b.c.d (v4-mapped) is shown as the IPv4 address, as users write it.
  let mapped = buf[off + 10] === 0xff && buf[off + 11] === 0xff;
  for (let i = 0; i < 10 && mapped; i++) {
    mapped = buf[off + i] === 0;
  }
  if (mapped) {
    return ipv4(buf, off + 12);
  }
  const parts: string[] = [];
  for (let i = 0; i < 16; i += 2) {
    parts.push(buf.readUInt16BE(off + i).toString(16));
  }
  return parts.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}

function cString(buf: Buffer, off: number, len: number): string {
  let end = off;
  while (end < off + len && buf[end] !== 0) {
    end++;
  }
  return buf.toString('latin1', off, end);
}

/**
 * Calls `onEvent` for each record of a batch; returns the count of malformed records skipped.
 * The event object is reused for every record: copy what you keep (it saves an allocation per event).
 */
export function decodeBatch(batch: Buffer, onEvent: (e: SocketEvent) => void): number {
  const e = {} as SocketEvent;
  const L = EVENT_LAYOUT;
  // DataView reads compile to plain loads; Buffer.readUInt32LE is a call with bounds checks per field
  const v = new DataView(batch.buffer, batch.byteOffset, batch.length);
  let off = 0;
  let malformed = 0;
  while (off + 8 <= batch.length) {
    const len = v.getUint32(off, true);
    const rec = off + 8;
    if (len < L.size || rec + len > batch.length) {
      // the framing itself is broken: nothing after this point can be trusted
      malformed++;
      break;
    }
    off = rec + Math.ceil(len / 8) * 8;
    const capLen = v.getUint32(rec + L.cap_len, true);
    if (L.size + capLen > len) {
      malformed++;
      continue;
    }
    const family = v.getUint16(rec + L.family, true);
    const v4 = family === AF_INET;
    const kind = v.getUint16(rec + L.kind, true) as EventKind;
    const sockLo = v.getUint32(rec + L.sock_id, true);
    const sockHi = v.getUint32(rec + L.sock_id + 4, true);
    e.kind = kind;
    e.tsNs = v.getUint32(rec + L.ts_ns, true) + v.getUint32(rec + L.ts_ns + 4, true) * 4294967296;
    // Kernel addresses differ in the low 53 bits; folding keeps keys plain numbers (fast Map keys).
    e.sockId = sockLo + (sockHi & 0x1fffff) * 4294967296;
    e.tgid = v.getUint32(rec + L.tgid, true);
    e.tid = v.getUint32(rec + L.tid, true);
    e.fd = v.getInt32(rec + L.fd, true);
    e.direction = v.getUint8(rec + L.direction) as Direction;
    e.syscall = v.getUint8(rec + L.syscall);
    e.retLen = v.getUint32(rec + L.ret_len, true);
    e.localIp = family === 0 ? '' : v4 ? ipv4OfWord(v.getUint32(rec + L.saddr, true)) : ipv6(batch, rec + L.saddr);
    e.localPort = v.getUint16(rec + L.sport, true);
    e.peerIp = family === 0 ? '' : v4 ? ipv4OfWord(v.getUint32(rec + L.daddr, true)) : ipv6(batch, rec + L.daddr);
    e.peerPort = v.getUint16(rec + L.dport, true);
    e.l4 = v.getUint8(rec + L.l4_proto) === IPPROTO_UDP ? 'UDP' : 'TCP';
    e.tcpSeq = v.getUint32(rec + L.tcp_seq, true);
    e.tcpState = v.getUint8(rec + L.tcp_state);
    // ids start at the wall clock in µs and grow by one per inbound message: exact in a double
    e.syscallTraceId =
      v.getUint32(rec + L.syscall_trace_id, true) + v.getUint32(rec + L.syscall_trace_id + 4, true) * 4294967296;
    e.payload = batch.subarray(rec + L.size, rec + L.size + capLen);
    e.comm = kind >= EventKind.Exec ? cString(batch, rec + L.comm, 16) : '';
    onEvent(e);
  }
  return malformed;
}
