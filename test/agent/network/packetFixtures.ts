// Builds IPv4/IPv6 TCP/UDP packets and native capture records (struct fl_pkt_rec) for tests.
import { PACKET_OUTGOING, PACKET_RECORD_LAYOUT } from '../../../src/agent/network/packets/packetDecoder';

export interface TcpSpec {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  seq: number;
  ack?: number;
  flags: number;
  window?: number;
  payload?: Buffer | string;
  /** payload bytes the packet says it carries beyond those included (a cut capture) */
  extraLen?: number;
}

function v4(addr: string): number[] {
  return addr.split('.').map(Number);
}

function v6(addr: string): Buffer {
  const [head, tail] = addr.split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail ? tail.split(':') : [];
  const groups = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g, 16), i * 2));
  return b;
}

export function tcpPacket(s: TcpSpec): Buffer {
  const payload = typeof s.payload === 'string' ? Buffer.from(s.payload) : (s.payload ?? Buffer.alloc(0));
  const tcp = Buffer.alloc(20);
  tcp.writeUInt16BE(s.sport, 0);
  tcp.writeUInt16BE(s.dport, 2);
  tcp.writeUInt32BE(s.seq >>> 0, 4);
  tcp.writeUInt32BE((s.ack ?? 0) >>> 0, 8);
  tcp[12] = 5 << 4;
  tcp[13] = s.flags;
  tcp.writeUInt16BE(s.window ?? 502, 14);
  const l4len = 20 + payload.length + (s.extraLen ?? 0);
  if (s.src.includes(':')) {
    const ip = Buffer.alloc(40);
    ip[0] = 0x60;
    ip.writeUInt16BE(l4len, 4);
    ip[6] = 6;
    ip[7] = 64;
    v6(s.src).copy(ip, 8);
    v6(s.dst).copy(ip, 24);
    return Buffer.concat([ip, tcp, payload]);
  }
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + l4len, 2);
  ip[6] = 0x40; // DF
  ip[8] = 64;
  ip[9] = 6;
  Buffer.from(v4(s.src)).copy(ip, 12);
  Buffer.from(v4(s.dst)).copy(ip, 16);
  return Buffer.concat([ip, tcp, payload]);
}

export function udpPacket(src: string, dst: string, sport: number, dport: number, payload: Buffer): Buffer {
  const udp = Buffer.alloc(8);
  udp.writeUInt16BE(sport, 0);
  udp.writeUInt16BE(dport, 2);
  udp.writeUInt16BE(8 + payload.length, 4);
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(28 + payload.length, 2);
  ip[8] = 64;
  ip[9] = 17;
  Buffer.from(v4(src)).copy(ip, 12);
  Buffer.from(v4(dst)).copy(ip, 16);
  return Buffer.concat([ip, udp, payload]);
}

/** One native record: header + data padded to 8 bytes. */
export function record(
  data: Buffer,
  o: { sockId?: number; tsUs?: number; outgoing?: boolean; origLen?: number } = {}
): Buffer {
  const L = PACKET_RECORD_LAYOUT;
  const len = (L.size + data.length + 7) & ~7;
  const r = Buffer.alloc(len);
  const ts = o.tsUs ?? 1_700_000_000_000_000;
  r.writeUInt32LE(len, L.len);
  r.writeUInt32LE(o.sockId ?? 1, L.sock_id);
  r.writeUInt32LE(Math.floor(ts / 1e6), L.ts_sec);
  r.writeUInt32LE((ts % 1e6) * 1000, L.ts_nsec);
  r.writeUInt32LE(o.origLen ?? data.length, L.orig_len);
  r.writeUInt16LE(data.length, L.cap_len);
  r[L.pkttype] = o.outgoing ? PACKET_OUTGOING : 0;
  data.copy(r, L.size);
  return r;
}
