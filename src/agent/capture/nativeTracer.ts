// The kernel side as the agent sees it: load the native addon, open the tracer, drain batches.
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { checkLayout } from './eventDecoder';
import { checkTracerFeatures } from './kernelFeatures';

export interface TracerOptions {
  tls?: boolean;
  captureBytes: number;
  ringBytes: number;
  ignorePorts: number[];
  selfPid?: number;
}

export interface TracerStats {
  ringDrops: number;
  truncated: number;
  readErrors: number;
}

interface NativeAddon {
  open(o: object): void;
  attachTls(path: string): string[];
  attachGoTls(path: string, writeOffset: number, readOffset: number, retOffsets: number[]): number;
  drainInto(target: Buffer): number;
  stats(): TracerStats;
  layout(): Record<string, number>;
  /** [monotonic ns, realtime ns, ns between the monotonic reads bracketing the realtime one] */
  clocks(): [bigint, bigint, bigint];
  close(): void;
}

export const ADDON_PATH = join(
  __dirname,
  '..',
  '..',
  '..',
  '..',
  '..',
  'native',
  'build',
  'Release',
  'flowlens_native.node'
);

export class TracerError extends Error {}

/** Room past the drain limit for the record that crosses it (header, largest payload, framing). */
const DRAIN_HEADROOM = 8192;

let addon: NativeAddon | undefined;

export function loadAddon(path = ADDON_PATH): NativeAddon {
  if (addon) {
    return addon;
  }
  if (!existsSync(path)) {
    throw new TracerError(`native addon not built (${path} is missing): run scripts/build.sh`);
  }

  addon = require(path) as NativeAddon;
  checkLayout(addon.layout());
  return addon;
}

/** A clock read whose monotonic bracket is wider than this was preempted: its offset is not trusted. */
export const MAX_CLOCK_SPREAD_NS = 100_000;

/**
 * Wall-clock µs for a CLOCK_MONOTONIC ns timestamp; the offset is re-read periodically (it follows
 * NTP's steps). A read preempted between its two clocks is skipped while an earlier offset is held:
 * an offset wrong by the preemption would put every syscall row that far from the packet capture's
 * realtime stamps, and a trace would lose its NIC spans.
 */
export class MonotonicClock {
  private offsetNs: number | undefined;
  /** reads skipped as preempted */
  skipped = 0;
  constructor(private readonly native: Pick<NativeAddon, 'clocks'>) {
    this.resync();
  }
  resync(): void {
    const [mono, real, spread] = this.native.clocks();
    if (this.offsetNs !== undefined && spread > BigInt(MAX_CLOCK_SPREAD_NS)) {
      this.skipped++;
      return;
    }
    this.offsetNs = Number(real - mono);
  }
  toWallUs(monoNs: number): number {
    return Math.round((monoNs + this.offsetNs!) / 1000);
  }
}

export class SocketTracer {
  readonly native: NativeAddon;
  private open = false;
  private batch = Buffer.alloc(0);

  constructor(private readonly opts: TracerOptions) {
    const problems = checkTracerFeatures();
    if (problems.length) {
      throw new TracerError(problems.map((p) => `${p.what}: ${p.fix}`).join('; '));
    }
    this.native = loadAddon();
  }

  start(): void {
    try {
      this.native.open({
        captureBytes: this.opts.captureBytes,
        ringBytes: this.opts.ringBytes,
        ignorePorts: this.opts.ignorePorts.slice(0, 4),
        selfPid: this.opts.selfPid ?? process.pid,
        tls: this.opts.tls ? 1 : 0,
      });
    } catch (err) {
      throw new TracerError((err as Error).message);
    }
    this.open = true;
  }

  /** OpenSSL uprobes on each path; returns path -> symbols attached (empty: no OpenSSL there). */
  attachTls(paths: string[]): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const p of paths) {
      out.set(p, this.native.attachTls(p));
    }
    return out;
  }

  /**
   * The next batch of records, or null when the ring is empty. The batch is this tracer's one
   * buffer, refilled by the next drain(): decode it before draining again (the decoder's events
   * already say to copy what outlives the batch). Reused: a fresh Buffer per drain (50 a second,
   * megabytes under load) was one more allocation and copy of every record.
   */
  drain(maxBytes = 4 << 20): Buffer | null {
    if (!this.open) {
      return null;
    }
    const size = maxBytes + DRAIN_HEADROOM;
    if (this.batch.length !== size) {
      this.batch = Buffer.allocUnsafe(size);
    }
    const n = this.native.drainInto(this.batch);
    return n > 0 ? this.batch.subarray(0, n) : null;
  }

  stats(): TracerStats {
    return this.native.stats();
  }

  stop(): void {
    if (this.open) {
      this.native.close();
      this.open = false;
    }
  }
}
