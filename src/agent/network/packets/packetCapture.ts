// Which interfaces are captured, and the native sockets that capture them (native/src/packet_capture.c).
// A scan lists the interfaces of every watched namespace, opens a socket on each new one that
// matches the configuration, closes the sockets of interfaces that went away, and refreshes each
// namespace's addresses (which say whether a flow's end is on this host). Scans repeat, so
// namespaces and interfaces created after the agent started are picked up.
import { checkPacketLayout } from './packetDecoder';
import type { CaptureInterfaceInfo } from './packetFlows';

export interface PacketCaptureConfig {
  enabled: boolean;
  /** interface names to capture; empty = every non-loopback interface that is up */
  interfaces: string[];
  /** extra network namespaces to watch: names under /var/run/netns, or paths such as /proc/<pid>/ns/net */
  netns: string[];
  /** watch the agent's own namespace too */
  hostNamespace: boolean;
  /** payload bytes kept per packet after its TCP/UDP header (0-4096) */
  payloadBytes: number;
  /** ring buffer per interface (bytes; split in blocks of 64 KiB) */
  ringBytes: number;
}

export interface PcapNative {
  pcapInterfaces(
    netns: string
  ): Array<{ name: string; ifindex: number; loopback: boolean; up: boolean; addrs: string[] }>;
  pcapOpen(
    netns: string,
    ifname: string,
    opts: { payloadBytes: number; blockBytes: number; blocks: number; retireMs: number }
  ): number;
  pcapDrain(maxBytes: number): Buffer | null;
  pcapStats(): Array<{
    id: number;
    packets: number;
    kernelDrops: number;
    freezeCount: number;
    userDrops: number;
    records: number;
  }>;
  pcapClose(id: number): void;
  pcapCloseAll(): void;
  pcapLayout(): Record<string, number>;
}

export interface CaptureSocket extends CaptureInterfaceInfo {
  id: number;
  ifindex: number;
}

export interface PacketCaptureStats {
  interfaces: number;
  packets: number;
  kernelDrops: number;
  freezeCount: number;
  /** packets the native side could not walk (a corrupt ring block) */
  userDrops: number;
}

/**
 * Small blocks, many of them: the kernel hands a block over when it is full or after RETIRE_MS, so
 * at a low packet rate each block carries a few packets; 32 blocks of 64 KiB (the 2 MiB default)
 * ride out ~0.8 s of a starved agent at a trickle, and hold ~5,000 packets of a burst.
 */
const BLOCK_BYTES = 1 << 16;
const RETIRE_MS = 25;

export class PacketCapture {
  readonly sockets = new Map<number, CaptureSocket>();
  /** counters of sockets already closed, so totals never go back */
  private readonly closedTotals: PacketCaptureStats = {
    interfaces: 0,
    packets: 0,
    kernelDrops: 0,
    freezeCount: 0,
    userDrops: 0,
  };
  /** namespaces or interfaces that failed, with the message already logged (logged again only when it changes) */
  private readonly failures = new Map<string, string>();

  constructor(
    private readonly cfg: PacketCaptureConfig,
    private readonly native: PcapNative,
    private readonly log: (line: string) => void,
    private readonly onSocketClosed: (id: number) => void = () => undefined
  ) {
    checkPacketLayout(native.pcapLayout());
  }

  private namespaces(): string[] {
    return [...(this.cfg.hostNamespace ? [''] : []), ...this.cfg.netns];
  }

  private fail(key: string, msg: string): void {
    if (this.failures.get(key) !== msg) {
      this.failures.set(key, msg);
      this.log(`packet capture: ${msg}`);
    }
  }

  /** Opens sockets on new interfaces, closes those of vanished ones; returns the sockets opened now. */
  scan(): CaptureSocket[] {
    const opened: CaptureSocket[] = [];
    const seen = new Set<number>();
    for (const ns of this.namespaces()) {
      let list: ReturnType<PcapNative['pcapInterfaces']>;
      try {
        list = this.native.pcapInterfaces(ns);
        this.failures.delete(ns);
      } catch (err) {
        this.fail(ns, (err as Error).message);
        continue;
      }
      const addrs = new Set(list.flatMap((i) => i.addrs));
      for (const i of list) {
        const wanted = this.cfg.interfaces.length ? this.cfg.interfaces.includes(i.name) : !i.loopback && i.up;
        if (!wanted) {
          continue;
        }
        const existing = [...this.sockets.values()].find(
          (s) => s.netns === ns && s.ifname === i.name && s.ifindex === i.ifindex
        );
        if (existing) {
          existing.localAddrs = addrs;
          seen.add(existing.id);
          continue;
        }
        const key = `${ns}/${i.name}`;
        try {
          const id = this.native.pcapOpen(ns, i.name, {
            payloadBytes: this.cfg.payloadBytes,
            blockBytes: BLOCK_BYTES,
            blocks: Math.max(2, Math.floor(this.cfg.ringBytes / BLOCK_BYTES)),
            retireMs: RETIRE_MS,
          });
          const s: CaptureSocket = { id, netns: ns, ifname: i.name, ifindex: i.ifindex, localAddrs: addrs };
          this.sockets.set(id, s);
          seen.add(id);
          opened.push(s);
          this.failures.delete(key);
        } catch (err) {
          this.fail(key, (err as Error).message);
        }
      }
    }
    for (const [id] of this.sockets) {
      if (!seen.has(id)) {
        this.close(id);
      }
    }
    return opened;
  }

  private close(id: number): void {
    const st = this.native.pcapStats().find((x) => x.id === id);
    if (st) {
      this.closedTotals.packets += st.packets;
      this.closedTotals.kernelDrops += st.kernelDrops;
      this.closedTotals.freezeCount += st.freezeCount;
      this.closedTotals.userDrops += st.userDrops;
    }
    this.native.pcapClose(id);
    this.sockets.delete(id);
    this.onSocketClosed(id);
  }

  drain(maxBytes = 4 << 20): Buffer | null {
    return this.sockets.size ? this.native.pcapDrain(maxBytes) : null;
  }

  iface(id: number): CaptureSocket | undefined {
    return this.sockets.get(id);
  }

  stats(): PacketCaptureStats {
    const t = { ...this.closedTotals, interfaces: this.sockets.size };
    for (const st of this.native.pcapStats()) {
      t.packets += st.packets;
      t.kernelDrops += st.kernelDrops;
      t.freezeCount += st.freezeCount;
      t.userDrops += st.userDrops;
    }
    return t;
  }

  /** "ns/if" names of what is captured, for the log */
  describe(): string {
    return [...this.sockets.values()].map((s) => (s.netns ? `${s.netns}/${s.ifname}` : s.ifname)).join(', ');
  }

  stop(): void {
    this.native.pcapCloseAll();
    this.sockets.clear();
  }
}
