// The packet-level timeline of one TCP flow at one interface and the four latencies of the Network
// Profile derived from it:
//   connection establishment  SYN -> SYN/ACK -> ACK (the handshake as this interface saw it)
//   system (ACK) latency      a data segment -> the peer's ACK that covers it
//   server response latency   last request byte (client -> server) -> first response byte
//   client wait latency       last response byte (server -> client) -> next request byte
// Directions: 0 = client -> server, 1 = server -> client. Retransmitted data counts as neither
// new request nor new response bytes (it would turn a lost segment into a fake latency).
import { Packet, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from './packetDecoder';

export type FlowDir = 0 | 1;

export interface LatencyStat {
  sum: number;
  count: number;
  max: number;
}

const newStat = (): LatencyStat => ({ sum: 0, count: 0, max: 0 });

function add(s: LatencyStat, us: number): void {
  s.sum += us;
  s.count++;
  if (us > s.max) {
    s.max = us;
  }
}

export function mean(s: LatencyStat): number {
  return s.count ? Math.round(s.sum / s.count) : 0;
}

/** a - b in sequence space (mod 2^32), as a signed 32-bit difference */
export function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}

/** Unacknowledged data segments kept per direction for ACK latency; older ones are forgotten. */
const MAX_UNACKED = 64;

export class TcpTimeline {
  readonly eventTimeUs: number[] = [];
  readonly eventDirection: number[] = [];
  readonly eventFlags: number[] = [];
  readonly eventSeq: number[] = [];
  readonly eventAck: number[] = [];
  readonly eventPayloadLen: number[] = [];
  /** the TCP window field as sent (unscaled: 0 is a zero window whatever the scale) */
  readonly eventWindow: number[] = [];
  /** events seen but not stored (past maxEvents) */
  eventsTruncated = 0;
  packets = 0;
  retransmissions = 0;
  /** packets that advertise a zero window (a receiver whose buffer is full), stored or not */
  zeroWindows = 0;

  synUs?: number;
  synAckUs?: number;
  connLatencyUs = 0;
  readonly ack = newStat();
  readonly serverResponse = newStat();
  readonly clientWait = newStat();

  /** next expected sequence number per direction (new data starts here) */
  private readonly nextSeq: Array<number | undefined> = [undefined, undefined];
  /** whether each direction's FIN was seen (a second one is a resend) */
  private readonly finSeen = [false, false];
  private readonly unacked: Array<Array<{ end: number; tsUs: number }>> = [[], []];
  private synAckSeq?: number;
  private lastDataDir?: FlowDir;
  private readonly lastDataUs: number[] = [0, 0];

  constructor(private readonly maxEvents: number) {}

  /**
   * Adds one packet. Returns where its new data starts within its payload: 0 for all new,
   * k > 0 when the first k bytes were already seen, -1 when nothing in it is new (a pure ACK or a
   * retransmission), so the caller feeds only new bytes to the protocol parsers.
   */
  onPacket(dir: FlowDir, p: Packet): number {
    this.packets++;
    if (this.eventTimeUs.length < this.maxEvents) {
      this.eventTimeUs.push(p.tsUs);
      this.eventDirection.push(dir);
      this.eventFlags.push(p.flags);
      this.eventSeq.push(p.seq);
      this.eventAck.push(p.ack);
      this.eventPayloadLen.push(p.payloadLen);
      this.eventWindow.push(p.window);
    } else {
      this.eventsTruncated++;
    }
    const f = p.flags;
    // a RST's window means nothing (often 0); a SYN's is never a stopped reader
    if (p.window === 0 && !(f & (TCP_RST | TCP_SYN))) {
      this.zeroWindows++;
    }
    if (f & TCP_SYN) {
      if (f & TCP_ACK) {
        this.synAckUs = p.tsUs;
        this.synAckSeq = p.seq;
      } else {
        this.synUs = p.tsUs; // a resent SYN restarts the handshake
        this.synAckUs = undefined;
      }
      this.nextSeq[dir] = (p.seq + 1) >>> 0;
      return -1;
    }
    if (f & TCP_ACK) {
      this.onAck(dir, p);
    }
    if (f & TCP_RST) {
      return -1;
    }
    let newFrom = -1;
    if (p.payloadLen > 0) {
      newFrom = this.onData(dir, p);
    }
    if (f & TCP_FIN) {
      const end = (p.seq + p.payloadLen + 1) >>> 0;
      if (this.nextSeq[dir] === undefined || seqDiff(end, this.nextSeq[dir]!) > 0) {
        this.nextSeq[dir] = end;
        this.finSeen[dir] = true;
      } else if (p.payloadLen === 0 && this.finSeen[dir]) {
        // a lone FIN sent again: the kernel counts it as a retransmitted segment, so do we
        // (a FIN riding on resent data is counted with that data)
        this.retransmissions++;
      }
    }
    return newFrom;
  }

  private onAck(dir: FlowDir, p: Packet): void {
    if (
      this.synAckUs !== undefined &&
      this.synUs !== undefined &&
      !this.connLatencyUs &&
      dir === 0 &&
      this.synAckSeq !== undefined &&
      p.ack === (this.synAckSeq + 1) >>> 0
    ) {
      this.connLatencyUs = Math.max(1, p.tsUs - this.synUs);
    }
    // the peer's data segments this ACK covers: one sample, from the newest of them
    const q = this.unacked[dir === 0 ? 1 : 0];
    let covered: { end: number; tsUs: number } | undefined;
    while (q.length && seqDiff(p.ack, q[0].end) >= 0) {
      covered = q.shift();
    }
    if (covered) {
      add(this.ack, Math.max(0, p.tsUs - covered.tsUs));
    }
  }

  private onData(dir: FlowDir, p: Packet): number {
    const end = (p.seq + p.payloadLen) >>> 0;
    const next = this.nextSeq[dir];
    let newFrom = 0;
    if (next !== undefined) {
      const behind = seqDiff(next, p.seq);
      if (behind > 0) {
        if (behind >= p.payloadLen) {
          this.retransmissions++;
          return -1;
        }
        newFrom = behind; // partly new: a resent segment merged with new bytes
      }
    }
    this.nextSeq[dir] = end;
    const q = this.unacked[dir];
    if (q.length >= MAX_UNACKED) {
      q.shift();
    }
    q.push({ end, tsUs: p.tsUs });
    // a turn of the conversation: the other side's data was last, now this side speaks
    if (this.lastDataDir !== undefined && this.lastDataDir !== dir) {
      const gap = Math.max(0, p.tsUs - this.lastDataUs[this.lastDataDir]);
      add(dir === 1 ? this.serverResponse : this.clientWait, gap);
    }
    this.lastDataDir = dir;
    this.lastDataUs[dir] = p.tsUs;
    return newFrom;
  }

  /** Starts a new reporting interval: events and latency sums restart, sequence state stays. */
  resetInterval(): void {
    for (const a of [
      this.eventTimeUs,
      this.eventDirection,
      this.eventFlags,
      this.eventSeq,
      this.eventAck,
      this.eventPayloadLen,
      this.eventWindow,
    ]) {
      a.length = 0;
    }
    this.eventsTruncated = 0;
    this.packets = 0;
    this.retransmissions = 0;
    this.zeroWindows = 0;
    this.connLatencyUs = 0;
    for (const s of [this.ack, this.serverResponse, this.clientWait]) {
      s.sum = s.count = s.max = 0;
    }
  }
}
