// The agent's data path after the kernel: events -> connections -> protocol streams -> request
// logs + RED metrics -> export queues. Pure of timers and I/O so tests and benchmarks drive it directly.
import type { CloseType } from '../shared/schema';
import { decodeBatch } from './capture/eventDecoder';
import { Direction, EventKind, SocketEvent, SYSCALL_SSL_READ, SYSCALL_SSL_WRITE } from './capture/socketEvent';
import { ConnectionTable, DEFAULT_MAX_CONNECTIONS } from './conntrack/connectionTable';
import { tupleKey, type Connection } from './conntrack/connection';
import { ProcessTable } from './conntrack/processTable';
import type { ProcessTagger } from './tags/processTags';
import type { CompletedPair } from './protocols/messageStream';
import { defaultParsers } from './protocols/registry';
import type { ProtocolParser } from './protocols/types';
import type { EndpointNamer, L7FlowLogRow } from './requestlog/l7FlowLog';
import { ProtocolStep, ProtocolStepCounters } from './requestlog/protocolStep';
import { RedAggregator, AppMetricsRow } from './metrics/redAggregator';
import type { LimitsConfig, ServiceRule } from './config';
import { Redactor } from './requestlog/redaction';
import { TlsBinder } from './conntrack/tlsBinder';
import type { FlowNamer, L4FlowLogRow } from './network/flows/tcpFlowLog';
import { flowEndColumns } from './export/rowColumns';
import { LruMap, TableStats } from './lruMap';

export interface PipelineOptions {
  host: string;
  services: ServiceRule[];
  requestTimeoutMs: number;
  redactPatterns?: string[];
  toWallUs: (monoNs: number) => number;
  /** where finished rows go (the export queues) */
  sink: {
    l7(rows: L7FlowLogRow[]): void;
    appMetrics(rows: AppMetricsRow[]): void;
    /** UDP flows (TCP flows come from the kernel's flow table, network/flows/) */
    l4?(rows: L4FlowLogRow[]): void;
  };
  procRoot?: string;
  /** container and Kubernetes tags of processes (src/agent/tags) */
  tagger?: ProcessTagger;
  /** the protocols tried on new connections (default: all of them) */
  parsers?: ProtocolParser[];
  /** table bounds (config `limits`); defaults when left out */
  limits?: Partial<LimitsConfig>;
}

export interface PipelineCounters extends ProtocolStepCounters {
  events: number;
  dataEvents: number;
  malformedRecords: number;
  requestLogs: number;
}

const TCP_IDLE_NS = 600e9;
const UDP_IDLE_NS = 60e9;
const CLOSED_PEER_KEEP_NS = 10e9;
/**
 * A socket reaches TCP_CLOSE in softirq as soon as the peer's FIN completes the close (FIN_WAIT2 ->
 * TIME_WAIT), possibly before the process has read the last bytes still queued: wait this long
 * for them before settling the connection.
 */
const CLOSE_GRACE_NS = 1e9;
/**
 * Rows go to the sink (which encodes them to bytes) in groups this small rather than once per
 * batch: a batch of thousands of rows held as objects was copied by every young-generation GC
 * that ran while the batch was decoded.
 */
const EMIT_EVERY_ROWS = 128;

export class Pipeline {
  readonly conns: ConnectionTable;
  readonly procs: ProcessTable;
  readonly counters: PipelineCounters = {
    events: 0,
    dataEvents: 0,
    malformedRecords: 0,
    requestLogs: 0,
    unknownProtocolSegments: 0,
    orphanSegments: 0,
    unparseableConnections: 0,
  };
  /** the protocols and the redaction of every request log: the packet layer's NIC rows use the same */
  readonly parsers: ProtocolParser[];
  readonly redactor: Redactor;
  /** inference -> parser -> pairing -> redacted row, for the client_process / server_process points */
  readonly step: ProtocolStep;
  private readonly red: RedAggregator;
  private readonly tls = new TlsBinder((c) => this.conns.has(c));
  private readonly namer: EndpointNamer;
  /** pids of recently closed connections, so a late row still names its peer (as many as live ones; looked up with peek, so the longest closed go first) */
  private readonly closedPeers: LruMap<string, { tgid: number; atNs: number }>;
  private pendingRows: L7FlowLogRow[] = [];
  /** one-way requests, logged at the next sweep: the moment they are parsed the server's end of a
   * local connection may not have been seen yet, and the row must name it */
  private deferredOneWay: Array<[Connection, CompletedPair]> = [];

  constructor(private readonly o: PipelineOptions) {
    // a connection evicted from a full table is settled as if it timed out
    this.conns = new ConnectionTable((old) => this.closeConnection(old, old.lastNs), o.limits?.connections);
    this.closedPeers = new LruMap(o.limits?.connections ?? DEFAULT_MAX_CONNECTIONS);
    this.procs = new ProcessTable(o.services, o.procRoot, o.limits?.processes, o.tagger);
    this.red = new RedAggregator(o.limits?.redRowsPerSecond);
    this.redactor = new Redactor(o.redactPatterns);
    this.namer = {
      comm: (pid) => this.procs.comm(pid),
      service: (pid, port) => this.procs.service(pid, port),
      remoteService: (ip, port, isServer) => this.procs.remoteService(ip, port, isServer),
      peerPid: (c) => this.peerPid(c),
      toWallUs: o.toWallUs,
    };
    this.parsers = o.parsers ?? defaultParsers();
    this.step = new ProtocolStep({
      host: o.host,
      parsers: this.parsers,
      redactor: this.redactor,
      namer: this.namer,
      signalSource: 'ebpf',
      counters: this.counters,
      onPair: (c, pair) => this.onPair(c, pair),
    });
  }

  /** What the TCP flow log needs to name both ends of a kernel socket. */
  flowNamer(): FlowNamer {
    return {
      socketPid: (sockId, localIp, localPort, peerIp, peerPort) => {
        // the address may belong to a just-closed socket still settling: trust it only with its ends
        const c = this.conns.get(sockId);
        if (c && c.localPort === localPort && c.peerPort === peerPort) {
          return c.tgid;
        }
        return this.pidOfEnds(localIp, localPort, peerIp, peerPort);
      },
      peerPid: (localIp, localPort, peerIp, peerPort) => this.pidOfEnds(peerIp, peerPort, localIp, localPort),
      comm: this.namer.comm,
      service: this.namer.service,
      remoteService: this.namer.remoteService,
    };
  }

  /** Size, bound and evictions of each table, for the status line. */
  tableStats(): TableStats[] {
    return [
      this.conns.stats(),
      this.closedPeers.stats('closed peers'),
      this.procs.stats(),
      ...(this.o.tagger?.stats() ?? []),
      ...this.tls.stats(),
      this.red.stats(),
    ];
  }

  /** TLS plaintext dropped because no socket could be found for it */
  get tlsUnbound(): number {
    return this.tls.unbound;
  }

  private peerPid(c: Connection): number {
    const peer = this.conns.peerOf(c);
    if (peer) {
      return peer.tgid;
    }
    return this.closedPeers.peek(tupleKey(c.peerIp, c.peerPort, c.localIp, c.localPort))?.tgid ?? 0;
  }

  /** pid of the socket with these ends, live or closed in the last seconds (for late rows such as packet capture's), else 0 */
  pidOfEnds(localIp: string, localPort: number, peerIp: string, peerPort: number): number {
    return (
      this.conns.byEnds(localIp, localPort, peerIp, peerPort)?.tgid ??
      this.closedPeers.peek(tupleKey(localIp, localPort, peerIp, peerPort))?.tgid ??
      0
    );
  }

  processBatch(batch: Buffer): void {
    this.counters.malformedRecords += decodeBatch(batch, (e) => this.handle(e));
    this.emitRows();
  }

  handle(e: SocketEvent): void {
    this.counters.events++;
    switch (e.kind) {
      case EventKind.Data:
        this.onData(e);
        break;
      case EventKind.Connect:
        this.conns.setRole(this.conns.upsert(e), 'client');
        break;
      case EventKind.Accept:
        this.conns.setRole(this.conns.upsert(e), 'server');
        break;
      case EventKind.Close: {
        const c = this.conns.get(e.sockId);
        if (c) {
          c.closingAtNs = e.tsNs;
        }
        break;
      }
      case EventKind.Exec:
      case EventKind.Fork:
        this.procs.onExec(e.tgid, e.comm);
        break;
      case EventKind.Exit:
        this.procs.onExit(e.tgid, e.tsNs);
        break;
    }
  }

  private onData(e: SocketEvent): void {
    this.counters.dataEvents++;
    const plaintext = e.syscall === SYSCALL_SSL_WRITE || e.syscall === SYSCALL_SSL_READ;
    if (plaintext && e.localIp === '') {
      // TLS plaintext named only by its SSL*: find its socket from the thread's ciphertext
      const bound = this.tls.bind(e);
      if (bound) {
        this.onData(this.onSocket(e, bound));
      }
      return;
    }
    const c = this.conns.upsert(e);
    c.lastNs = e.tsNs;
    // only a socket that may carry TLS (no protocol recognised in its bytes, or known TLS) can
    // name plaintext for the binder: skip the bookkeeping for every parsed plaintext stream
    if (!plaintext && (!c.stream || c.tls)) {
      const released = this.tls.onSocketData(e, c);
      if (released) {
        for (const p of released) {
          this.onData(this.onSocket(p, c));
        }
      }
    }
    if (plaintext && !c.tls) {
      // first decrypted bytes: what was seen so far was the TLS handshake; infer again on plaintext
      c.tls = true;
      this.step.restart(c);
    } else if (c.tls && !plaintext) {
      return; // ciphertext of a connection whose plaintext we get from OpenSSL
    }
    if (e.direction === Direction.Egress) {
      c.bytesTx += e.retLen;
      c.packetsTx = (c.packetsTx ?? 0) + 1;
    } else {
      c.bytesRx += e.retLen;
      c.packetsRx = (c.packetsRx ?? 0) + 1;
    }
    this.step.segment(
      c,
      e,
      c.role === 'client' ? Direction.Egress : c.role === 'server' ? Direction.Ingress : undefined
    );
    if (c.role === 'unknown' && c.stream?.requestDirection !== undefined) {
      this.conns.setRole(c, c.stream.requestDirection === Direction.Egress ? 'client' : 'server');
    }
  }

  /** `e` rewritten as an event of connection `c` (same socket, same ends). */
  private onSocket(e: SocketEvent, c: Connection): SocketEvent {
    e.sockId = c.sockId;
    e.localIp = c.localIp;
    e.localPort = c.localPort;
    e.peerIp = c.peerIp;
    e.peerPort = c.peerPort;
    e.l4 = c.l4;
    e.tgid = c.tgid;
    return e;
  }

  private onPair(c: Connection, pair: CompletedPair): void {
    if (pair.oneWay) {
      this.deferredOneWay.push([c, pair]);
      return;
    }
    this.logPair(c, pair);
  }

  private logPair(c: Connection, pair: CompletedPair): void {
    const row = this.step.row(c, pair);
    c.redSeries = RedAggregator.series(row, c.redSeries);
    this.red.add(row, c.redSeries);
    this.pendingRows.push(row);
    if (this.pendingRows.length >= EMIT_EVERY_ROWS) {
      this.emitRows();
    }
    this.counters.requestLogs++;
  }

  private closeConnection(c: Connection, nowNs: number, closeType: CloseType = 'timeout'): void {
    if (c.l4 === 'UDP' && this.o.sink.l4 && c.bytesTx + c.bytesRx > 0) {
      this.o.sink.l4([this.udpFlowRow(c, nowNs, closeType)]);
    }
    this.step.close(c);
    this.closedPeers.set(tupleKey(c.localIp, c.localPort, c.peerIp, c.peerPort), { tgid: c.tgid, atNs: nowNs });
    this.conns.remove(c);
  }

  /** One l4_flow_log row for a UDP flow (a socket and one peer) when it goes idle or the agent stops. */
  private udpFlowRow(c: Connection, nowNs: number, closeType: CloseType): L4FlowLogRow {
    const isClient = c.role === 'client' || (c.role === 'unknown' && c.localPort > c.peerPort);
    const endUs = this.namer.toWallUs(Math.min(nowNs, c.lastNs));
    return {
      time: Math.floor(endUs / 1e6),
      start_time_us: this.namer.toWallUs(c.firstNs),
      end_time_us: endUs,
      host: this.o.host,
      observation_point: isClient ? 'client_process' : 'server_process',
      flow_id: c.flowId,
      ...flowEndColumns(
        this.namer,
        'UDP',
        isClient,
        { ip: c.localIp, port: c.localPort, pid: c.tgid },
        { ip: c.peerIp, port: c.peerPort, pid: this.peerPid(c) }
      ),
      byte_tx: isClient ? c.bytesTx : c.bytesRx,
      byte_rx: isClient ? c.bytesRx : c.bytesTx,
      packet_tx: (isClient ? c.packetsTx : c.packetsRx) ?? 0,
      packet_rx: (isClient ? c.packetsRx : c.packetsTx) ?? 0,
      rtt_us: 0,
      syn_latency_us: 0,
      retrans_count: 0,
      zero_window_count: 0,
      rst_count: 0,
      rst_sender: '',
      conn_failed: 0,
      close_type: closeType,
    };
  }

  private logDeferred(): void {
    for (const [c, pair] of this.deferredOneWay.splice(0)) {
      this.logPair(c, pair);
    }
  }

  private emitRows(): void {
    if (this.pendingRows.length) {
      this.o.sink.l7(this.pendingRows);
      this.pendingRows = [];
    }
  }

  /** Periodic work: time out requests, expire idle connections, flush finished metric seconds. */
  sweep(nowNs: number, nowSec: number): void {
    const timeoutNs = this.o.requestTimeoutMs * 1e6;
    for (const c of this.conns.all()) {
      this.step.sweep(c, nowNs, timeoutNs);
      const closed = c.closingAtNs !== undefined && nowNs - Math.max(c.closingAtNs, c.lastNs) > CLOSE_GRACE_NS;
      if (closed || nowNs - c.lastNs > (c.l4 === 'UDP' ? UDP_IDLE_NS : TCP_IDLE_NS)) {
        this.closeConnection(c, nowNs);
      }
    }
    for (const [k, v] of this.closedPeers) {
      if (nowNs - v.atNs > CLOSED_PEER_KEEP_NS) {
        this.closedPeers.delete(k);
      }
    }
    this.procs.expire(nowNs, CLOSED_PEER_KEEP_NS);
    this.logDeferred();
    this.emitRows();
    this.o.sink.appMetrics(this.red.flush(nowSec - 1));
  }

  /** Shutdown: settle every connection's in-flight messages and flush all metrics. */
  finish(): void {
    for (const c of this.conns.all()) {
      this.step.close(c, 'shutdown');
      if (c.l4 === 'UDP' && this.o.sink.l4 && c.bytesTx + c.bytesRx > 0) {
        this.o.sink.l4([this.udpFlowRow(c, c.lastNs, 'still_open')]);
      }
    }
    this.logDeferred();
    this.emitRows();
    this.o.sink.appMetrics(this.red.flush());
  }
}
