// struct fl_tcp_flow (bpf/tcp_health.h) as the agent reads it from the addon's tcpFlowsRead().
import { ipv4, ipv6 } from '../../capture/eventDecoder';

/** Field offsets of struct fl_tcp_flow; checked against the addon's tcpFlowLayout() at start. */
export const TCP_FLOW_LAYOUT = {
  size: 136,
  sock_id: 0,
  start_ns: 8,
  established_ns: 16,
  closed_ns: 24,
  bytes_acked: 32,
  bytes_received: 40,
  segs_out: 48,
  segs_in: 52,
  srtt_us: 56,
  syn_latency_us: 60,
  retrans: 64,
  zero_window: 68,
  rst_received: 72,
  rst_sent: 76,
  tgid: 80,
  netns: 84,
  sk_err: 88,
  flags: 92,
  saddr: 96,
  daddr: 112,
  sport: 128,
  dport: 130,
  family: 132,
  role: 134,
  state: 135,
} as const;

export const enum FlowRole {
  Unknown = 0,
  Client = 1,
  Server = 2,
}

export const FLOW_ESTABLISHED = 1 << 0;
export const FLOW_CLOSED = 1 << 1;
export const FLOW_RST_RECEIVED = 1 << 2;
export const FLOW_RST_SENT = 1 << 3;
export const FLOW_FIN = 1 << 4;
export const FLOW_PREEXISTING = 1 << 6;

/** errno values the kernel leaves in sk_err */
export const ECONNREFUSED = 111;
export const ETIMEDOUT = 110;
export const ECONNRESET = 104;

export interface TcpFlowRecord {
  /** folded like SocketEvent.sockId, so it keys the same Connection */
  sockId: number;
  startNs: number;
  establishedNs: number;
  closedNs: number;
  bytesAcked: number;
  bytesReceived: number;
  segsOut: number;
  segsIn: number;
  srttUs: number;
  synLatencyUs: number;
  retrans: number;
  zeroWindow: number;
  rstReceived: number;
  rstSent: number;
  tgid: number;
  netns: number;
  skErr: number;
  flags: number;
  localIp: string;
  peerIp: string;
  localPort: number;
  peerPort: number;
  role: FlowRole;
  state: number;
}

export function checkFlowLayout(native: Record<string, number>): void {
  for (const [field, off] of Object.entries(TCP_FLOW_LAYOUT)) {
    if (native[field] !== off) {
      throw new Error(
        `TCP flow layout mismatch: ${field} is at ${native[field]} in the native addon but ${off} in tcpFlowRecord.ts; ` +
          'rebuild with scripts/build.sh after changing bpf/tcp_health.h and mirror it in TCP_FLOW_LAYOUT'
      );
    }
  }
}

const u64 = (b: Buffer, off: number) => b.readUInt32LE(off) + b.readUInt32LE(off + 4) * 4294967296;

/** Decodes tcpFlowsRead()'s buffer; a trailing partial record (never expected) is ignored. */
export function decodeFlows(buf: Buffer): TcpFlowRecord[] {
  const L = TCP_FLOW_LAYOUT;
  const out: TcpFlowRecord[] = [];
  for (let o = 0; o + L.size <= buf.length; o += L.size) {
    const v4 = buf.readUInt16LE(o + L.family) === 2;
    out.push({
      sockId: buf.readUInt32LE(o + L.sock_id) + (buf.readUInt32LE(o + L.sock_id + 4) & 0x1fffff) * 4294967296,
      startNs: u64(buf, o + L.start_ns),
      establishedNs: u64(buf, o + L.established_ns),
      closedNs: u64(buf, o + L.closed_ns),
      bytesAcked: u64(buf, o + L.bytes_acked),
      bytesReceived: u64(buf, o + L.bytes_received),
      segsOut: buf.readUInt32LE(o + L.segs_out),
      segsIn: buf.readUInt32LE(o + L.segs_in),
      srttUs: buf.readUInt32LE(o + L.srtt_us),
      synLatencyUs: buf.readUInt32LE(o + L.syn_latency_us),
      retrans: buf.readUInt32LE(o + L.retrans),
      zeroWindow: buf.readUInt32LE(o + L.zero_window),
      rstReceived: buf.readUInt32LE(o + L.rst_received),
      rstSent: buf.readUInt32LE(o + L.rst_sent),
      tgid: buf.readUInt32LE(o + L.tgid),
      netns: buf.readUInt32LE(o + L.netns),
      skErr: buf.readUInt32LE(o + L.sk_err),
      flags: buf.readUInt32LE(o + L.flags),
      localIp: v4 ? ipv4(buf, o + L.saddr) : ipv6(buf, o + L.saddr),
      peerIp: v4 ? ipv4(buf, o + L.daddr) : ipv6(buf, o + L.daddr),
      localPort: buf.readUInt16LE(o + L.sport),
      peerPort: buf.readUInt16LE(o + L.dport),
      role: buf[o + L.role] as FlowRole,
      state: buf[o + L.state],
    });
  }
  return out;
}
