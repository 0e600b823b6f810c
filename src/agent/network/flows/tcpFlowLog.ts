// L4 flow logs and per-second network metrics from the kernel's TCP flow table (bpf/tcp_health.bpf.c).
// Every poll reads all flows (open ones as they stand, closed ones once), turns counter deltas into
// net_metrics for that second, and writes an l4_flow_log row per flow at close and every interval.
import type { CloseType, ObservationPoint } from '../../../shared/schema';
import { EndpointColumns, FiveTupleColumns, flowEndColumns } from '../../export/rowColumns';
import type { ProcessNames } from '../../requestlog/l7FlowLog';
import {
  checkFlowLayout,
  decodeFlows,
  ETIMEDOUT,
  FlowRole,
  FLOW_CLOSED,
  FLOW_ESTABLISHED,
  FLOW_PREEXISTING,
  TcpFlowRecord,
} from './tcpFlowRecord';
import { LruMap, TableStats } from '../../lruMap';
import { OVERFLOW_NAME } from '../../metrics/redAggregator';

/**
 * Flows followed: the kernel table's size (FL_MAX_TCP_FLOWS in bpf/tcp_health.h) and the closes of
 * one read, which leave in the same poll. Never reached while the two agree; if it is, the least
 * recently reported flow is forgotten and counted lost.
 */
const MAX_FLOWS = 65536 + 16384;
/**
 * net_metrics rows per poll (one per ends and server port): the flows of spoofed sources would
 * otherwise make one each. Past it, a new one's counters go to an (other) row per observation point.
 */
const MAX_NET_ROWS = 10000;

/** How long after start flows opened before the agent are looked for on their segments. */
const DISCOVERY_MS = 5000;

export interface TcpFlowNative {
  tcpFlowsOpen(o: { ignorePorts: number[] }): void;
  tcpFlowsRead(): Buffer;
  tcpFlowsStats(): { flows: number; tableFull: number; closedDrops: number; readErrors: number };
  /** detaches the per-segment hook that finds flows opened before the agent (see start()) */
  tcpFlowsEndDiscovery?(): void;
  tcpFlowLayout(): Record<string, number>;
  tcpFlowsClose(): void;
}

/** Names the processes and services at both ends of a socket (the socket tracer's knowledge). */
export interface FlowNamer extends ProcessNames {
  /** pid of the process that owns this socket, 0 when the socket tracer never saw it */
  socketPid(sockId: number, localIp: string, localPort: number, peerIp: string, peerPort: number): number;
  /** pid of the local process at the other end of the connection, 0 when not on this host */
  peerPid(localIp: string, localPort: number, peerIp: string, peerPort: number): number;
}

export interface L4FlowLogRow extends FiveTupleColumns, EndpointColumns {
  time: number;
  start_time_us: number;
  end_time_us: number;
  host: string;
  observation_point: ObservationPoint;
  flow_id: number;
  byte_tx: number;
  byte_rx: number;
  packet_tx: number;
  packet_rx: number;
  rtt_us: number;
  syn_latency_us: number;
  retrans_count: number;
  zero_window_count: number;
  rst_count: number;
  rst_sender: string;
  conn_failed: number;
  close_type: CloseType;
}

export interface NetMetricsRow {
  time: number;
  host: string;
  observation_point: string;
  client_service: string;
  server_service: string;
  server_port: number;
  byte_tx: number;
  byte_rx: number;
  packet_tx: number;
  packet_rx: number;
  new_flow_count: number;
  closed_flow_count: number;
  conn_failed_count: number;
  retrans_count: number;
  rst_count: number;
  zero_window_count: number;
  rtt_sum_us: number;
  rtt_count: number;
}

export interface TcpFlowLogOptions {
  host: string;
  native: TcpFlowNative;
  namer: FlowNamer;
  /** CLOCK_MONOTONIC ns → wall-clock µs */
  toWallUs: (monoNs: number) => number;
  /** an open flow gets an l4_flow_log row this often (and always one at close) */
  intervalSec: number;
  ignorePorts: number[];
  sink: { l4(rows: L4FlowLogRow[]): void; net(rows: NetMetricsRow[]): void };
  /** the agent's log (one line when the discovery of older flows ends) */
  log?: (line: string) => void;
}

/** Counters of one flow, oriented client → server. */
interface Counters {
  byteTx: number;
  byteRx: number;
  packetTx: number;
  packetRx: number;
  retrans: number;
  zeroWindow: number;
  rst: number;
}

interface FlowState {
  flowId: number;
  startNs: number;
  isClient: boolean;
  pid: number;
  peerPid: number;
  /** counters at the last l4_flow_log row and at the last poll */
  reported: Counters;
  metered: Counters;
  lastReportUs: number;
  seenAtPoll: number;
}

const ZERO: Counters = { byteTx: 0, byteRx: 0, packetTx: 0, packetRx: 0, retrans: 0, zeroWindow: 0, rst: 0 };
/** Linux's default ephemeral port range: tells a client socket from a server one when the kernel could not. */
const EPHEMERAL_MIN = 32768;

function counters(r: TcpFlowRecord, isClient: boolean): Counters {
  return {
    byteTx: isClient ? r.bytesAcked : r.bytesReceived,
    byteRx: isClient ? r.bytesReceived : r.bytesAcked,
    packetTx: isClient ? r.segsOut : r.segsIn,
    packetRx: isClient ? r.segsIn : r.segsOut,
    retrans: r.retrans,
    zeroWindow: r.zeroWindow,
    rst: r.rstReceived + r.rstSent,
  };
}

function minus(a: Counters, b: Counters): Counters {
  // kernel counters only grow; a smaller value means a reused socket, counted from zero
  const d = (x: number, y: number) => (x >= y ? x - y : x);
  return {
    byteTx: d(a.byteTx, b.byteTx),
    byteRx: d(a.byteRx, b.byteRx),
    packetTx: d(a.packetTx, b.packetTx),
    packetRx: d(a.packetRx, b.packetRx),
    retrans: d(a.retrans, b.retrans),
    zeroWindow: d(a.zeroWindow, b.zeroWindow),
    rst: d(a.rst, b.rst),
  };
}

export function closeType(r: TcpFlowRecord, isClient: boolean): CloseType {
  if (!(r.flags & FLOW_CLOSED)) {
    return 'still_open';
  }
  if (!(r.flags & FLOW_ESTABLISHED)) {
    return 'connect_failed';
  }
  if (r.rstReceived) {
    return isClient ? 'reset_by_server' : 'reset_by_client';
  }
  if (r.rstSent) {
    return isClient ? 'reset_by_client' : 'reset_by_server';
  }
  return r.skErr === ETIMEDOUT ? 'timeout' : 'normal';
}

/** Who sent the RSTs of this flow: a received RST came from the peer (or a middlebox on its path). */
export function rstSender(r: TcpFlowRecord, isClient: boolean): string {
  if (r.rstReceived) {
    return isClient ? 'server' : 'client';
  }
  if (r.rstSent) {
    return isClient ? 'client' : 'server';
  }
  return '';
}

export class TcpFlowLog {
  /** by socket address and start time */
  private readonly flows = new LruMap<string, FlowState>(MAX_FLOWS, () => this.counters.lostFlows++);
  /** this poll's net_metrics rows (emptied by every poll) */
  private readonly net = new Map<string, NetMetricsRow>();
  private nextFlowId = 1;
  private polls = 0;
  private open = false;
  /** when the hook finding flows older than the agent is detached (undefined: done) */
  private discoveryEndsMs?: number;
  readonly counters = { flowsSeen: 0, l4Rows: 0, lostFlows: 0, netRowsOverflow: 0 };

  constructor(private readonly o: TcpFlowLogOptions) {}

  /**
   * Opens the kernel side. Flows opened before the agent started are found by a per-segment hook
   * during the agent's first DISCOVERY_MS only (a flow carrying any traffic then is tracked from
   * there on; one silent all that time is reported when it closes): attached for good, that hook
   * cost every received TCP segment on the host ~200 ns (bench/run.sh, syscall cost).
   */
  start(nowMs = Date.now()): string {
    checkFlowLayout(this.o.native.tcpFlowLayout());
    this.o.native.tcpFlowsOpen({ ignorePorts: this.o.ignorePorts.slice(0, 4) });
    this.open = true;
    this.discoveryEndsMs = nowMs + DISCOVERY_MS;
    return `TCP flows: tracepoints attached (l4_flow_log every ${this.o.intervalSec} s and at close, net_metrics per second; flows older than the agent looked for during the first ${DISCOVERY_MS / 1000} s)`;
  }

  /** Ends the discovery of flows older than the agent once its window has passed. */
  private endDiscovery(nowMs: number): void {
    if (this.discoveryEndsMs !== undefined && nowMs >= this.discoveryEndsMs) {
      this.discoveryEndsMs = undefined;
      this.o.native.tcpFlowsEndDiscovery?.();
      this.o.log?.('TCP flows: discovery of flows older than the agent ended (no per-segment hook from now on)');
    }
  }

  stop(): void {
    if (this.open) {
      this.o.native.tcpFlowsClose();
      this.open = false;
    }
  }

  /** One read of the kernel table; `nowNs` is CLOCK_MONOTONIC, rows are stamped with `nowSec`. */
  poll(nowNs: number, nowSec: number): void {
    this.apply(this.read(), nowNs, nowSec);
  }

  /** The kernel table as it stands (open flows, and flows closed since the last read). */
  read(nowMs = Date.now()): TcpFlowRecord[] {
    if (!this.open) {
      return [];
    }
    this.endDiscovery(nowMs);
    return decodeFlows(this.o.native.tcpFlowsRead());
  }

  /** The data path of poll(), separate so tests can feed records. */
  apply(records: TcpFlowRecord[], nowNs: number, nowSec: number): void {
    const poll = ++this.polls;
    const nowUs = this.o.toWallUs(nowNs);
    const l4: L4FlowLogRow[] = [];
    for (const r of records) {
      if (!r.localPort && !r.peerPort) {
        continue; // never got a tuple (a connect that failed before the port was chosen and no RST)
      }
      // a socket address is reused as soon as it is freed: the final report of a closed flow and
      // the open flow now at its address can come in one read, so the start time is part of the key
      const key = `${r.sockId}/${r.startNs}`;
      let st = this.flows.get(key);
      const isNew = !st;
      if (!st) {
        const isClient =
          r.role === FlowRole.Client ||
          (r.role === FlowRole.Unknown && r.localPort >= EPHEMERAL_MIN && r.peerPort < EPHEMERAL_MIN);
        st = {
          flowId: this.nextFlowId++,
          startNs: r.startNs,
          isClient,
          pid: 0,
          peerPid: 0,
          reported: ZERO,
          metered: ZERO,
          lastReportUs: r.flags & FLOW_PREEXISTING || !r.startNs ? nowUs : this.o.toWallUs(r.startNs),
          seenAtPoll: poll,
        };
        this.flows.set(key, st);
        this.counters.flowsSeen++;
      }
      st.seenAtPoll = poll;
      // names: the socket tracer knows the owner once the process did I/O (or connect/accept)
      if (!st.pid) {
        st.pid = r.tgid || this.o.namer.socketPid(r.sockId, r.localIp, r.localPort, r.peerIp, r.peerPort);
      }
      if (!st.peerPid) {
        st.peerPid = this.o.namer.peerPid(r.localIp, r.localPort, r.peerIp, r.peerPort);
      }
      const now = counters(r, st.isClient);
      const closed = (r.flags & FLOW_CLOSED) !== 0;
      const ends = this.ends(r, st);
      const op: ObservationPoint = st.isClient ? 'client_process' : 'server_process';
      const m = this.metrics(nowSec, op, ends);
      const d = minus(now, st.metered);
      m.byte_tx += d.byteTx;
      m.byte_rx += d.byteRx;
      m.packet_tx += d.packetTx;
      m.packet_rx += d.packetRx;
      m.retrans_count += d.retrans;
      m.zero_window_count += d.zeroWindow;
      m.rst_count += d.rst;
      if (r.srttUs) {
        m.rtt_sum_us += r.srttUs;
        m.rtt_count++;
      }
      if (isNew && !(r.flags & FLOW_PREEXISTING)) {
        m.new_flow_count++;
      }
      if (closed) {
        m.closed_flow_count++;
        if (!(r.flags & FLOW_ESTABLISHED)) {
          m.conn_failed_count++;
        }
      }
      st.metered = now;
      if (closed || nowUs - st.lastReportUs >= this.o.intervalSec * 1e6) {
        l4.push(this.row(r, st, op, ends, minus(now, st.reported), closed ? this.o.toWallUs(r.closedNs) : nowUs));
        st.reported = now;
        st.lastReportUs = nowUs;
      }
      if (closed) {
        this.flows.delete(key);
      }
    }
    // a flow gone from the table without a close report (its final record was dropped)
    for (const [k, st] of this.flows) {
      if (st.seenAtPoll !== poll) {
        this.flows.delete(k);
        this.counters.lostFlows++;
      }
    }
    if (l4.length) {
      this.counters.l4Rows += l4.length;
      this.o.sink.l4(l4);
    }
    this.flushMetrics();
  }

  private ends(r: TcpFlowRecord, st: FlowState) {
    return flowEndColumns(
      this.o.namer,
      'TCP',
      st.isClient,
      { ip: r.localIp, port: r.localPort, pid: st.pid },
      { ip: r.peerIp, port: r.peerPort, pid: st.peerPid }
    );
  }

  private metrics(sec: number, op: ObservationPoint, e: EndpointColumns & FiveTupleColumns): NetMetricsRow {
    let key = `${op}|${e.client_service}|${e.server_service}|${e.server_port}`;
    let m = this.net.get(key);
    const full = !m && this.net.size >= MAX_NET_ROWS;
    if (full) {
      this.counters.netRowsOverflow++;
      key = `${op}|\0`; // no service name holds a NUL
      m = this.net.get(key);
    }
    if (!m) {
      m = {
        time: sec,
        host: this.o.host,
        observation_point: op,
        client_service: full ? OVERFLOW_NAME : e.client_service,
        server_service: full ? OVERFLOW_NAME : e.server_service,
        server_port: full ? 0 : e.server_port,
        byte_tx: 0,
        byte_rx: 0,
        packet_tx: 0,
        packet_rx: 0,
        new_flow_count: 0,
        closed_flow_count: 0,
        conn_failed_count: 0,
        retrans_count: 0,
        rst_count: 0,
        zero_window_count: 0,
        rtt_sum_us: 0,
        rtt_count: 0,
      };
      this.net.set(key, m);
    }
    return m;
  }

  private flushMetrics(): void {
    if (!this.net.size) {
      return;
    }
    this.o.sink.net([...this.net.values()]);
    this.net.clear();
  }

  private row(
    r: TcpFlowRecord,
    st: FlowState,
    op: ObservationPoint,
    e: EndpointColumns & FiveTupleColumns,
    d: Counters,
    endUs: number
  ): L4FlowLogRow {
    const startUs = st.lastReportUs;
    return {
      time: Math.floor(endUs / 1e6),
      start_time_us: startUs,
      end_time_us: Math.max(startUs, endUs),
      host: this.o.host,
      observation_point: op,
      flow_id: st.flowId,
      ...e,
      byte_tx: d.byteTx,
      byte_rx: d.byteRx,
      packet_tx: d.packetTx,
      packet_rx: d.packetRx,
      rtt_us: r.srttUs,
      syn_latency_us: r.synLatencyUs,
      retrans_count: d.retrans,
      zero_window_count: d.zeroWindow,
      rst_count: d.rst,
      rst_sender: rstSender(r, st.isClient),
      conn_failed: r.flags & FLOW_CLOSED && !(r.flags & FLOW_ESTABLISHED) ? 1 : 0,
      close_type: closeType(r, st.isClient),
    };
  }

  stats(): TableStats {
    return this.flows.stats('tcp flows');
  }

  statusLine(): string {
    const s = this.open ? this.o.native.tcpFlowsStats() : { flows: 0, tableFull: 0, closedDrops: 0, readErrors: 0 };
    return `tcp flows ${s.flows} open, l4 rows ${this.counters.l4Rows}; flow drops: table full ${s.tableFull}, closed ring ${s.closedDrops}, lost ${this.counters.lostFlows}`;
  }
}
