// The packet half of the network layer as the agent runs it: capture sockets on the configured
// interfaces -> decoded packets -> per-flow timelines (tcp_timeline) and NIC request logs
// (l7_flow_log at client_nic / server_nic). main.ts drives it with the same timers as the socket
// tracer: drain on every tick, sweep with every flush, rescan interfaces every few seconds.
import type { PacketCaptureConfig } from '../../config';
import type { Pipeline } from '../../pipeline';
import type { L7FlowLogRow } from '../../requestlog/l7FlowLog';
import { describeThrow } from '../../requestlog/protocolStep';
import { PacketCapture, PacketCaptureStats, PcapNative } from './packetCapture';
import { decodePacketBatch } from './packetDecoder';
import { PacketFlows, TcpTimelineRow } from './packetFlows';

export interface PacketLayerOptions {
  host: string;
  capture: PacketCaptureConfig;
  native: PcapNative;
  pipeline: Pipeline;
  requestTimeoutMs: number;
  /** flows followed at once (config limits.packetFlows) */
  maxFlows?: number;
  sink: { timeline(rows: TcpTimelineRow[]): void; l7(rows: L7FlowLogRow[]): void };
  log: (line: string) => void;
}

export class PacketLayer {
  readonly capture: PacketCapture;
  readonly flows: PacketFlows;
  /** records that were not well-formed IPv4/IPv6 TCP/UDP packets, skipped */
  malformed = 0;
  /** batches whose processing threw (a bug): skipped and counted */
  failedBatches = 0;
  private lastError = '';
  private readonly log: (line: string) => void;
  private finalStats?: PacketCaptureStats;

  constructor(o: PacketLayerOptions) {
    this.log = o.log;
    this.flows = new PacketFlows({
      host: o.host,
      // the process rows' protocols and Redactor (with the user's redactPatterns): one rule set at every point
      parsers: o.pipeline.parsers,
      redactor: o.pipeline.redactor,
      iface: (id) => this.capture.iface(id),
      requestTimeoutMs: o.requestTimeoutMs,
      maxFlows: o.maxFlows,
      sink: o.sink,
      directory: {
        pidOf: (localIp, localPort, peerIp, peerPort) => o.pipeline.pidOfEnds(localIp, localPort, peerIp, peerPort),
        comm: (pid) => o.pipeline.procs.comm(pid),
        service: (pid, port) => o.pipeline.procs.service(pid, port),
        remoteService: (ip, port, isServer) => o.pipeline.procs.remoteService(ip, port, isServer),
      },
    });
    this.capture = new PacketCapture(o.capture, o.native, o.log, (id) => this.flows.forgetSocket(id));
  }

  /** Opens what the configuration names; returns a line for the log. */
  start(): string {
    this.capture.scan();
    return this.capture.sockets.size
      ? `packet capture on ${this.capture.describe()}`
      : 'packet capture: no interface to capture yet (rescanning every 5 s)';
  }

  rescan(): void {
    const opened = this.capture.scan();
    if (opened.length) {
      this.flows.flush();
    }
  }

  /** Bounded work per call, like the socket tracer's drain. */
  drain(maxBatches = 16): void {
    for (let i = 0; i < maxBatches; i++) {
      const batch = this.capture.drain();
      if (!batch) {
        break;
      }
      try {
        this.malformed += decodePacketBatch(batch, (p) => this.flows.onPacket(p));
      } catch (err) {
        // a bug must cost this batch, not the agent: counted, logged once per message
        this.failedBatches++;
        const msg = describeThrow(err); // not the message: it may quote captured bytes
        if (msg !== this.lastError) {
          this.lastError = msg;
          this.log(`packet capture: a batch failed (${msg}); skipped`);
        }
      }
    }
    this.flows.flush();
  }

  sweep(nowUs = Date.now() * 1000): void {
    this.flows.sweep(nowUs);
  }

  stats(): PacketCaptureStats {
    return this.finalStats ?? this.capture.stats();
  }

  /** "packets: N on M interfaces, flows F, tcp_timeline rows T, NIC request logs R, unparseable flows U; drops: kernel K, ..." */
  statusLine(): string {
    const s = this.stats();
    const c = this.flows.counters;
    return (
      `packets ${s.packets} on ${s.interfaces} interfaces, packet flows ${this.flows.size}, tcp_timeline rows ${c.timelineRows}, NIC request logs ${c.nicRequestLogs}, ` +
      `unparseable flows ${c.unparseableConnections}${c.unparseableConnections ? ` (last: ${this.flows.lastParserFailure})` : ''}; ` +
      `capture drops: kernel ${s.kernelDrops}, ring freezes ${s.freezeCount}, user space ${s.userDrops}, malformed packets ${this.malformed}${this.failedBatches ? `, failed batches ${this.failedBatches}` : ''}`
    );
  }

  stop(): void {
    this.drain(64);
    this.finalStats = this.capture.stats();
    this.capture.stop();
    this.flows.finish();
  }
}
