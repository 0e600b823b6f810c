// Decodes a batch from the native packet capture (native/src/packet_capture.c: struct fl_pkt_rec
// followed by the packet from its IP header, cut after the TCP/UDP header + a payload prefix) into
// packets. Anything inconsistent (bad lengths, headers cut short, options past the capture) is
// skipped and counted, never thrown.
import { ipv4, ipv6 } from '../../capture/eventDecoder';

/** Field offsets of struct fl_pkt_rec, mirrored from native/src/packet_capture.h. */
export const PACKET_RECORD_LAYOUT = {
  size: 24,
  len: 0,
  sock_id: 4,
  ts_sec: 8,
  ts_nsec: 12,
  orig_len: 16,
  cap_len: 20,
  pkttype: 22,
} as const;

export const PACKET_OUTGOING = 4;

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;

export interface Packet {
  /** capture socket: names the namespace and interface */
  sockId: number;
  /** kernel timestamp, µs since the epoch */
  tsUs: number;
  /** sent by this interface's host (PACKET_OUTGOING), else received */
  outgoing: boolean;
  l4: 'TCP' | 'UDP';
  srcIp: string;
  srcPort: number;
  dstIp: string;
  dstPort: number;
  /** TCP only (0 for UDP) */
  seq: number;
  ack: number;
  flags: number;
  window: number;
  /** payload bytes the packet carried (not only those captured) */
  payloadLen: number;
  /** the captured payload prefix (a view into the batch: copy before keeping it) */
  payload: Buffer;
}

/** Throws when the addon was built from a different packet_capture.h than this decoder. */
export function checkPacketLayout(native: Record<string, number>): void {
  for (const [field, off] of Object.entries(PACKET_RECORD_LAYOUT)) {
    if (native[field] !== off) {
      throw new Error(
        `packet record layout mismatch: ${field} is at ${native[field]} in the native addon but ${off} in packetDecoder.ts; rebuild with scripts/build.sh`
      );
    }
  }
}

/**
 * Decodes one packet starting at its IP header. Returns undefined when the bytes are not a
 * well-formed IPv4/IPv6 TCP or UDP packet (the caller counts it).
 */
export function decodePacket(
  data: Buffer,
  sockId: number,
  tsUs: number,
  outgoing: boolean,
  origLen: number
): Packet | undefined {
  if (data.length < 20) {
    return undefined;
  }
  const version = data[0] >> 4;
  let l3len: number;
  let proto: number;
  let totalLen: number;
  let srcIp: string;
  let dstIp: string;
  if (version === 4) {
    l3len = (data[0] & 0x0f) * 4;
    if (l3len < 20 || l3len > data.length) {
      return undefined;
    }
    if ((data.readUInt16BE(6) & 0x1fff) !== 0 || (data[6] & 0x20) !== 0) {
      return undefined; // a fragment: its L4 header is not (all) here
    }
    totalLen = data.readUInt16BE(2);
    if (totalLen === 0 && origLen > 65535) {
      totalLen = origLen; // BIG TCP over IPv4 leaves tot_len 0
    }
    proto = data[9];
    srcIp = ipv4(data, 12);
    dstIp = ipv4(data, 16);
  } else if (version === 6) {
    l3len = 40;
    if (data.length < 40) {
      return undefined;
    }
    totalLen = 40 + data.readUInt16BE(4);
    proto = data[6];
    srcIp = ipv6(data, 8);
    dstIp = ipv6(data, 24);
  } else {
    return undefined;
  }
  if (totalLen < l3len) {
    return undefined;
  }
  if (proto === 6) {
    if (data.length < l3len + 20) {
      return undefined;
    }
    const doff = (data[l3len + 12] >> 4) * 4;
    if (doff < 20 || l3len + doff > data.length || l3len + doff > totalLen) {
      return undefined;
    }
    return {
      sockId,
      tsUs,
      outgoing,
      l4: 'TCP',
      srcIp,
      srcPort: data.readUInt16BE(l3len),
      dstIp,
      dstPort: data.readUInt16BE(l3len + 2),
      seq: data.readUInt32BE(l3len + 4),
      ack: data.readUInt32BE(l3len + 8),
      flags: data[l3len + 13],
      window: data.readUInt16BE(l3len + 14),
      payloadLen: totalLen - l3len - doff,
      payload: data.subarray(l3len + doff, Math.min(data.length, totalLen)),
    };
  }
  if (proto === 17) {
    if (data.length < l3len + 8) {
      return undefined;
    }
    const udpLen = data.readUInt16BE(l3len + 4);
    if (udpLen < 8 || l3len + udpLen > totalLen) {
      return undefined;
    }
    return {
      sockId,
      tsUs,
      outgoing,
      l4: 'UDP',
      srcIp,
      srcPort: data.readUInt16BE(l3len),
      dstIp,
      dstPort: data.readUInt16BE(l3len + 2),
      seq: 0,
      ack: 0,
      flags: 0,
      window: 0,
      payloadLen: udpLen - 8,
      payload: data.subarray(l3len + 8, Math.min(data.length, l3len + udpLen)),
    };
  }
  return undefined;
}

/** Decodes every record of a batch; returns how many records were malformed and skipped. */
export function decodePacketBatch(batch: Buffer, onPacket: (p: Packet) => void): number {
  const L = PACKET_RECORD_LAYOUT;
  let malformed = 0;
  let off = 0;
  while (off + L.size <= batch.length) {
    const len = batch.readUInt32LE(off + L.len);
    if (len < L.size || len % 8 !== 0 || off + len > batch.length) {
      return malformed + 1; // the framing itself is broken: nothing after this can be trusted
    }
    const cap = batch.readUInt16LE(off + L.cap_len);
    if (L.size + cap > len) {
      malformed++;
    } else {
      const tsUs = batch.readUInt32LE(off + L.ts_sec) * 1e6 + Math.floor(batch.readUInt32LE(off + L.ts_nsec) / 1000);
      const p = decodePacket(
        batch.subarray(off + L.size, off + L.size + cap),
        batch.readUInt32LE(off + L.sock_id),
        tsUs,
        batch[off + L.pkttype] === PACKET_OUTGOING,
        batch.readUInt32LE(off + L.orig_len)
      );
      if (p) {
        onPacket(p);
      } else {
        malformed++;
      }
    }
    off += len;
  }
  return off === batch.length ? malformed : malformed + 1;
}
