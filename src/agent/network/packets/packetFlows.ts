// Flows seen by packet capture, per capture socket (= one interface in one namespace): the TCP
// timeline and Network Profile latencies of each flow (tcp_timeline rows), and request logs at
// the client_nic / server_nic observation points from the flow's captured payload prefixes, made
// by the same protocol step as the process-level rows (requestlog/protocolStep.ts: inference,
// parsers, pairing, redaction). A NIC row carries the TCP sequence numbers of the first request and
// response bytes, as process rows do, so the two link.
import { EndpointColumns, FiveTupleColumns, flowEndColumns } from '../../export/rowColumns';
import { Direction, EventKind, SocketEvent } from '../../capture/socketEvent';
import type { Connection } from '../../conntrack/connection';
import type { CompletedPair } from '../../protocols/messageStream';
import type { ProtocolParser } from '../../protocols/types';
import type { EndpointNamer, L7FlowLogRow, ProcessNames } from '../../requestlog/l7FlowLog';
import { ProtocolStep, ProtocolStepCounters } from '../../requestlog/protocolStep';
import { Redactor } from '../../requestlog/redaction';
import type { ObservationPoint } from '../../../shared/schema';
import { Packet, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from './packetDecoder';
import { FlowDir, mean, TcpTimeline } from './tcpTimeline';
import { LruMap, TableStats } from '../../lruMap';

/**
 * Flows followed at once. Least recently used ones are settled (timeline row written, requests in
 * flight logged as closed) to admit new ones rather than refusing new flows: refused, a flood of
 * spoofed SYNs would blind the NIC view of every new real flow until the flood's flows went idle
 * (2 minutes for TCP); evicted, only flows idle while the flood's newer ones arrived are cut.
 */
export const DEFAULT_MAX_PACKET_FLOWS = 16384;

/** What the flows need to know about the interface a capture socket watches. */
export interface CaptureInterfaceInfo {
  netns: string;
  ifname: string;
  /** addresses of the interface's namespace: a flow end with one of them is this host */
  localAddrs: Set<string>;
}

/** Names flow ends from what the process-level tracing knows (pids, process and service names). */
export interface EndpointDirectory extends ProcessNames {
  /** pid of the local process owning the socket localIp:localPort <-> peerIp:peerPort, else 0 */
  pidOf(localIp: string, localPort: number, peerIp: string, peerPort: number): number;
}

export interface TcpTimelineRow extends FiveTupleColumns, Pick<EndpointColumns, 'client_service' | 'server_service'> {
  time: number;
  host: string;
  interface: string;
  netns: string;
  observation_point: ObservationPoint;
  flow_id: number;
  event_time_us: number[];
  event_direction: number[];
  event_tcp_flags: number[];
  event_seq: number[];
  event_ack: number[];
  event_payload_len: number[];
  event_window: number[];
  conn_latency_us: number;
  ack_latency_us: number;
  server_response_us: number;
  client_wait_us: number;
  ack_latency_max_us: number;
  server_response_max_us: number;
  client_wait_max_us: number;
  ack_count: number;
  server_response_count: number;
  client_wait_count: number;
  packet_count: number;
  retrans_count: number;
  events_truncated: number;
  zero_window_count: number;
}

export interface PacketFlowOptions {
  host: string;
  parsers: ProtocolParser[];
  /** the process-level rows' Redactor (with the user's redactPatterns); default: the built-in rules */
  redactor?: Redactor;
  directory: EndpointDirectory;
  /** the interface of a capture socket, undefined for one closed meanwhile */
  iface: (sockId: number) => CaptureInterfaceInfo | undefined;
  sink: { timeline(rows: TcpTimelineRow[]): void; l7(rows: L7FlowLogRow[]): void };
  maxFlows?: number;
  maxEventsPerRow?: number;
  /** a long-lived flow reports a row per interval */
  rowIntervalUs?: number;
  /** wall µs the relative timestamps of the protocol streams count from */
  baseUs?: number;
  /** the request-timeout of process-level rows, applied to NIC rows too */
  requestTimeoutMs?: number;
}

export interface PacketFlowCounters extends ProtocolStepCounters {
  packets: number;
  tcpPackets: number;
  udpPackets: number;
  /** flows settled early to make room for new ones (the least recently active) */
  evictedFlows: number;
  timelineRows: number;
  nicRequestLogs: number;
  retransmissions: number;
}

interface Flow {
  key: string;
  id: number;
  sockId: number;
  l4: 'TCP' | 'UDP';
  clientIp: string;
  clientPort: number;
  serverIp: string;
  serverPort: number;
  /** from a SYN or SYN/ACK; else guessed from the ports */
  roleFromHandshake: boolean;
  point?: ObservationPoint;
  firstUs: number;
  lastUs: number;
  rowStartUs: number;
  closingUs?: number;
  timeline?: TcpTimeline;
  /** the flow as a connection written from its client end: the protocol step's state lives here */
  conn: FlowConnection;
}

interface FlowConnection extends Connection {
  flow: Flow;
}

const CLOSE_GRACE_US = 1e6;
const TCP_IDLE_US = 120e6;
const UDP_IDLE_US = 30e6;

export class PacketFlows {
  readonly counters: PacketFlowCounters = {
    packets: 0,
    tcpPackets: 0,
    udpPackets: 0,
    evictedFlows: 0,
    timelineRows: 0,
    nicRequestLogs: 0,
    retransmissions: 0,
    unknownProtocolSegments: 0,
    orphanSegments: 0,
    unparseableConnections: 0,
  };
  private readonly flows: LruMap<string, Flow>;
  private readonly step: ProtocolStep<FlowConnection>;
  private nextFlowId = 1;
  private pendingTimeline: TcpTimelineRow[] = [];
  private pendingL7: L7FlowLogRow[] = [];
  /** request logs of the last sweep interval with an end of this host not named yet (onPair) */
  private unnamed: Array<[FlowConnection, CompletedPair, ObservationPoint]> = [];
  private readonly maxEvents: number;
  private readonly rowIntervalUs: number;
  private readonly baseUs: number;
  private readonly namer: EndpointNamer;

  constructor(private readonly o: PacketFlowOptions) {
    this.flows = new LruMap(o.maxFlows ?? DEFAULT_MAX_PACKET_FLOWS, (_, f) => {
      this.counters.evictedFlows++;
      this.settleFlow(f, 'closed');
    });
    this.maxEvents = o.maxEventsPerRow ?? 256;
    this.rowIntervalUs = o.rowIntervalUs ?? 60e6;
    this.baseUs = o.baseUs ?? Date.now() * 1000;
    const d = o.directory;
    this.namer = {
      comm: (pid) => d.comm(pid),
      service: (pid, port) => d.service(pid, port),
      remoteService: (ip, port, isServer) => d.remoteService(ip, port, isServer),
      peerPid: (c) => d.pidOf(c.peerIp, c.peerPort, c.localIp, c.localPort),
      toWallUs: (ns) => Math.round(ns / 1000) + this.baseUs,
    };
    this.step = new ProtocolStep<FlowConnection>({
      host: o.host,
      parsers: o.parsers,
      redactor: o.redactor ?? new Redactor(),
      namer: this.namer,
      signalSource: 'packet',
      counters: this.counters,
      onPair: (c, pair) => this.onPair(c.flow, pair),
    });
  }

  /** the last parser that threw on a flow: "protocol: error name and where it was thrown" */
  get lastParserFailure(): string {
    return this.step.lastFailure;
  }

  get size(): number {
    return this.flows.size;
  }

  stats(): TableStats {
    return this.flows.stats('packet flows');
  }

  onPacket(p: Packet): void {
    this.counters.packets++;
    if (p.l4 === 'TCP') {
      this.counters.tcpPackets++;
    } else {
      this.counters.udpPackets++;
    }
    const a = `${p.srcIp}:${p.srcPort}`;
    const b = `${p.dstIp}:${p.dstPort}`;
    const key = `${p.sockId}|${p.l4}|${a < b ? a : b}|${a < b ? b : a}`;
    let f = this.flows.get(key);
    if (!f) {
      f = this.newFlow(key, p);
      this.flows.set(key, f); // may settle the least recently active flow
    }
    f.lastUs = p.tsUs;
    const dir: FlowDir = p.srcIp === f.clientIp && p.srcPort === f.clientPort ? 0 : 1;
    if (f.point === undefined) {
      f.point = this.observationPoint(f, p, dir);
    }
    let newFrom = 0;
    if (p.l4 === 'TCP') {
      newFrom = f.timeline!.onPacket(dir, p);
      if (p.flags & (TCP_FIN | TCP_RST) && f.closingUs === undefined) {
        f.closingUs = p.tsUs;
      }
      if (p.flags & TCP_SYN && !(p.flags & TCP_ACK) && f.closingUs !== undefined) {
        f.closingUs = undefined; // the 4-tuple is reused by a new connection
      }
    }
    if (newFrom >= 0 && p.payloadLen > newFrom) {
      this.onPayload(f, dir, p, newFrom);
    }
  }

  private newFlow(key: string, p: Packet): Flow {
    let clientIsSrc: boolean;
    let fromHandshake = false;
    if (p.l4 === 'TCP' && p.flags & TCP_SYN) {
      clientIsSrc = !(p.flags & TCP_ACK);
      fromHandshake = true;
    } else {
      // mid-stream (or UDP): the lower port serves, as with listening ports vs ephemeral ones
      clientIsSrc = p.srcPort > p.dstPort || (p.srcPort === p.dstPort && p.srcIp > p.dstIp);
    }
    const f: Flow = {
      key,
      id: this.nextFlowId++,
      sockId: p.sockId,
      l4: p.l4,
      clientIp: clientIsSrc ? p.srcIp : p.dstIp,
      clientPort: clientIsSrc ? p.srcPort : p.dstPort,
      serverIp: clientIsSrc ? p.dstIp : p.srcIp,
      serverPort: clientIsSrc ? p.dstPort : p.srcPort,
      roleFromHandshake: fromHandshake,
      firstUs: p.tsUs,
      lastUs: p.tsUs,
      rowStartUs: p.tsUs,
      timeline: p.l4 === 'TCP' ? new TcpTimeline(this.maxEvents) : undefined,
      conn: undefined as unknown as FlowConnection,
    };
    f.conn = {
      key,
      sockId: 0,
      flowId: f.id,
      tgid: 0,
      fd: -1,
      l4: p.l4,
      localIp: f.clientIp,
      localPort: f.clientPort,
      peerIp: f.serverIp,
      peerPort: f.serverPort,
      role: 'client',
      firstNs: 0,
      lastNs: 0,
      inferMisses: 0,
      bytesTx: 0,
      bytesRx: 0,
      flow: f,
    };
    return f;
  }

  /**
   * client_nic when the interface's host is the client, server_nic when it is the server. An
   * interface whose namespace holds neither address (a pod's veth seen from the node, a bridge
   * port) faces the host behind it: requests arriving from it come from the client.
   */
  private observationPoint(f: Flow, p: Packet, dir: FlowDir): ObservationPoint {
    const iface = this.o.iface(f.sockId);
    if (iface?.localAddrs.has(f.clientIp)) {
      return 'client_nic';
    }
    if (iface?.localAddrs.has(f.serverIp)) {
      return 'server_nic';
    }
    const clientToServerOutgoing = dir === 0 ? p.outgoing : !p.outgoing;
    return clientToServerOutgoing ? 'server_nic' : 'client_nic';
  }

  private onPayload(f: Flow, dir: FlowDir, p: Packet, newFrom: number): void {
    const payload = newFrom > 0 ? p.payload.subarray(Math.min(newFrom, p.payload.length)) : p.payload;
    const e: SocketEvent = {
      kind: EventKind.Data,
      tsNs: (p.tsUs - this.baseUs) * 1000,
      sockId: 0,
      tgid: 0,
      tid: 0,
      fd: -1,
      // written from the client's side: client -> server is "egress"
      direction: dir === 0 ? Direction.Egress : Direction.Ingress,
      syscall: 0,
      retLen: p.payloadLen - newFrom,
      localIp: f.clientIp,
      localPort: f.clientPort,
      peerIp: f.serverIp,
      peerPort: f.serverPort,
      l4: f.l4,
      tcpSeq: (p.seq + newFrom) >>> 0,
      tcpState: 0,
      payload,
      comm: '',
      syscallTraceId: 0,
    };
    this.step.segment(f.conn, e, f.roleFromHandshake ? Direction.Egress : undefined);
  }

  private onPair(f: Flow, pair: CompletedPair): void {
    // The NIC "connection" is written from the flow's client end; when the ends were guessed from
    // the ports and the parser saw requests flow the other way, the stream's request direction is
    // ingress and the row builder names the ends accordingly.
    const c = f.conn;
    const d = this.o.directory;
    c.tgid = d.pidOf(c.localIp, c.localPort, c.peerIp, c.peerPort);
    if (!c.tgid || !d.pidOf(c.peerIp, c.peerPort, c.localIp, c.localPort)) {
      // an end of this host not known yet: the packet can come before the syscall events of its
      // socket are drained (a short connection's accept). Named at the next sweep, when they are.
      this.unnamed.push([{ ...c }, pair, f.point ?? 'client_nic']);
      return;
    }
    this.pendingL7.push(this.step.row(c, pair, f.point ?? 'client_nic'));
    this.counters.nicRequestLogs++;
  }

  /** The rows waiting for an end's pid, named with what is known now (an end on another host stays unnamed). */
  private nameDeferred(): void {
    const d = this.o.directory;
    for (const [c, pair, point] of this.unnamed) {
      c.tgid = d.pidOf(c.localIp, c.localPort, c.peerIp, c.peerPort);
      this.pendingL7.push(this.step.row(c, pair, point));
      this.counters.nicRequestLogs++;
    }
    this.unnamed = [];
  }

  private emitTimeline(f: Flow): void {
    const t = f.timeline;
    if (!t || t.packets === 0) {
      return;
    }
    const iface = this.o.iface(f.sockId);
    const d = this.o.directory;
    const client = {
      ip: f.clientIp,
      port: f.clientPort,
      pid: d.pidOf(f.clientIp, f.clientPort, f.serverIp, f.serverPort),
    };
    const server = {
      ip: f.serverIp,
      port: f.serverPort,
      pid: d.pidOf(f.serverIp, f.serverPort, f.clientIp, f.clientPort),
    };
    const ends = flowEndColumns(d, 'TCP', true, client, server);
    this.pendingTimeline.push({
      time: Math.floor(f.rowStartUs / 1e6),
      host: this.o.host,
      interface: iface?.ifname ?? '',
      netns: iface?.netns ?? '',
      observation_point: f.point ?? 'client_nic',
      flow_id: f.id,
      // tcp_timeline keeps the tuple and the services, not the pids
      l4_protocol: ends.l4_protocol,
      client_ip: ends.client_ip,
      client_port: ends.client_port,
      server_ip: ends.server_ip,
      server_port: ends.server_port,
      client_service: ends.client_service,
      server_service: ends.server_service,
      event_time_us: t.eventTimeUs.slice(),
      event_direction: t.eventDirection.slice(),
      event_tcp_flags: t.eventFlags.slice(),
      event_seq: t.eventSeq.slice(),
      event_ack: t.eventAck.slice(),
      event_payload_len: t.eventPayloadLen.slice(),
      event_window: t.eventWindow.slice(),
      conn_latency_us: t.connLatencyUs,
      ack_latency_us: mean(t.ack),
      server_response_us: mean(t.serverResponse),
      client_wait_us: mean(t.clientWait),
      ack_latency_max_us: t.ack.max,
      server_response_max_us: t.serverResponse.max,
      client_wait_max_us: t.clientWait.max,
      ack_count: t.ack.count,
      server_response_count: t.serverResponse.count,
      client_wait_count: t.clientWait.count,
      packet_count: t.packets,
      retrans_count: t.retransmissions,
      events_truncated: t.eventsTruncated,
      zero_window_count: t.zeroWindows,
    });
    this.counters.timelineRows++;
    this.counters.retransmissions += t.retransmissions;
  }

  private closeFlow(f: Flow, reason: 'closed' | 'shutdown'): void {
    this.flows.delete(f.key);
    this.settleFlow(f, reason);
  }

  /** A flow leaving the table: its requests in flight are logged, its timeline written. */
  private settleFlow(f: Flow, reason: 'closed' | 'shutdown'): void {
    this.step.close(f.conn, reason);
    this.emitTimeline(f);
  }

  /** Rows finished so far go to the sink. */
  flush(): void {
    if (this.pendingL7.length) {
      this.o.sink.l7(this.pendingL7);
      this.pendingL7 = [];
    }
    if (this.pendingTimeline.length) {
      this.o.sink.timeline(this.pendingTimeline);
      this.pendingTimeline = [];
    }
  }

  /** Periodic work at wall time `nowUs`: settle closed and idle flows, report long ones, time out requests. */
  sweep(nowUs: number): void {
    const nowNs = (nowUs - this.baseUs) * 1000;
    const timeoutNs = (this.o.requestTimeoutMs ?? 30000) * 1e6;
    this.nameDeferred();
    for (const f of this.flows.values()) {
      this.step.sweep(f.conn, nowNs, timeoutNs);
      if (f.closingUs !== undefined && nowUs - Math.max(f.closingUs, f.lastUs) > CLOSE_GRACE_US) {
        this.closeFlow(f, 'closed');
      } else if (nowUs - f.lastUs > (f.l4 === 'UDP' ? UDP_IDLE_US : TCP_IDLE_US)) {
        this.closeFlow(f, 'closed');
      } else if (f.timeline && nowUs - f.rowStartUs > this.rowIntervalUs && f.timeline.packets > 0) {
        this.emitTimeline(f);
        f.timeline.resetInterval();
        f.rowStartUs = nowUs;
      }
    }
    this.flush();
  }

  /** Flows of a capture socket that was closed (its interface went away). */
  forgetSocket(sockId: number): void {
    for (const f of this.flows.values()) {
      if (f.sockId === sockId) {
        this.closeFlow(f, 'closed');
      }
    }
  }

  /** Shutdown: every flow reports what it has. */
  finish(): void {
    for (const f of this.flows.values()) {
      this.closeFlow(f, 'shutdown');
    }
    this.nameDeferred();
    this.flush();
  }
}
