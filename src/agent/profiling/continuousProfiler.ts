// Runs the kernel profiler: opens it through the native addon, drains the kernel's counts once per
// interval, symbolizes them and hands profile_samples rows to the export queue. Reports its own
// cost (time spent draining and symbolizing, per second of wall time) and every drop.
import type { ProfilingConfig } from './profilingConfig';
import { decodeDrain } from './profileDecoder';
import { ProfileAggregator, ProfileSampleRow, ProcessNaming } from './profileAggregator';
import { Symbolizer } from './symbolizer';
import { KernelSymbols } from './kallsyms';
import type { TableStats } from '../lruMap';

export interface NativeProfilerStats {
  samples: number;
  offCpuEvents: number;
  offCpuCaptures: number;
  stackErrors: number;
  countsFull: number;
  stacksFailed: number;
  offCpuRateLimited: number;
  drains: number;
  countsRead: number;
  stacksLost: number;
  cpus: number;
  /** run time of the BPF programs (ns) and runs, when the kernel's BPF stats are on */
  progRunNs?: number;
  progRuns?: number;
}

export interface ProfilerAddon {
  profilerOpen(o: object): { cpus: number };
  profilerDrain(): Buffer | null;
  profilerStats(): NativeProfilerStats;
  profilerClose(): void;
  profilerAddUnwindRules(records: Buffer): number;
}

export class ProfilerError extends Error {}

export interface ProfilerOptions {
  host: string;
  naming: ProcessNaming;
  sink: (rows: ProfileSampleRow[]) => void;
  selfPid?: number;
  /** measure the BPF programs' own run time (kernel BPF stats; adds two clock reads per run) */
  kernelStats?: boolean;
  clockMs?: () => number;
}

export class ContinuousProfiler {
  readonly symbolizer: Symbolizer;
  readonly aggregator: ProfileAggregator;
  private open = false;
  private intervalStartMs = 0;
  private startedMs = 0;
  private selfMs = 0;
  private startupMs = 0;
  /** where the previous status line's window ended: self ms and wall ms */
  private windowSelfMs = 0;
  private windowWallMs = 0;
  private decodeErrors = 0;
  private finalStats?: NativeProfilerStats;
  private readonly clock: () => number;

  constructor(
    private readonly cfg: ProfilingConfig,
    private readonly native: ProfilerAddon,
    private readonly o: ProfilerOptions
  ) {
    this.clock = o.clockMs ?? (() => performance.now());
    const kernel = new KernelSymbols();
    this.symbolizer = new Symbolizer({ kernel, loadBudgetMs: cfg.symbolizeBudgetMs, learnUnwindRules: true });
    this.aggregator = new ProfileAggregator({
      host: o.host,
      symbolizer: this.symbolizer,
      naming: o.naming,
      maxRows: cfg.maxRowsPerInterval,
    });
  }

  /** Loads and attaches the kernel programs; throws ProfilerError with the reason. */
  start(): { cpus: number; kernelSymbols: number; kernelSymbolsError: string } {
    const t0 = this.clock();
    let r: { cpus: number };
    try {
      r = this.native.profilerOpen({
        hz: this.cfg.hz,
        offCpu: this.cfg.offCpu.enabled ? 1 : 0,
        offCpuMinUs: this.cfg.offCpu.minBlockUs,
        offCpuCapturesPerSec: this.cfg.offCpu.maxCapturesPerSec,
        selfPid: this.o.selfPid ?? process.pid,
        maxStacks: this.cfg.maxStacks,
        maxCounts: Math.max(4096, this.cfg.maxRowsPerInterval * 4),
        pids: this.cfg.pids,
        kernelStats: this.o.kernelStats ? 1 : 0,
      });
    } catch (err) {
      throw new ProfilerError((err as Error).message);
    }
    this.open = true;
    this.symbolizer.kernel.load();
    this.startedMs = Date.now();
    this.intervalStartMs = this.startedMs;
    this.startupMs = this.clock() - t0;
    return {
      cpus: r.cpus,
      kernelSymbols: this.symbolizer.kernel.size,
      kernelSymbolsError: this.symbolizer.kernel.loadError,
    };
  }

  /** Drains one interval into rows (call every intervalMs). */
  tick(nowMs = Date.now()): number {
    if (!this.open) {
      return 0;
    }
    const t0 = this.clock();
    const timeSec = Math.floor(this.intervalStartMs / 1000);
    this.intervalStartMs = nowMs;
    let n = 0;
    const buf = this.native.profilerDrain();
    if (buf || this.aggregator.pendingCount) {
      let rows: ProfileSampleRow[] = [];
      try {
        rows = this.aggregator.build(buf ? decodeDrain(buf) : { counts: [], stacks: [] }, timeSec);
      } catch {
        this.decodeErrors++;
      }
      n = rows.length;
      if (n) {
        this.o.sink(rows);
      }
      const rules = this.symbolizer.takeUnwindRules();
      if (rules.length) {
        const b = Buffer.alloc(rules.length * 24);
        rules.forEach((r, i) => {
          b.writeUInt32LE(r.pid, i * 24);
          b.writeUInt32LE(r.ip % 0x100000000, i * 24 + 8);
          b.writeUInt32LE(Math.floor(r.ip / 0x100000000), i * 24 + 12);
          b.writeInt32LE(r.cfaOff, i * 24 + 16);
          b.writeInt32LE(r.rbpOff, i * 24 + 20);
        });
        this.native.profilerAddUnwindRules(b);
      }
    }
    this.selfMs += this.clock() - t0;
    return n;
  }

  /** Final drain, then detaches everything. */
  stop(): void {
    if (!this.open) {
      return;
    }
    this.tick();
    this.tick(); // the map the last drain switched away from
    for (let i = 0; i < 3 && this.aggregator.pendingCount; i++) {
      this.tick(); // counts still waiting for symbols: written now, named as far as possible
    }
    this.finalStats = this.nativeStats();
    this.native.profilerClose();
    this.open = false;
  }

  nativeStats(): NativeProfilerStats {
    return this.finalStats ?? this.native.profilerStats();
  }

  /** Time spent in the agent draining and symbolizing since start (startup apart), and its share of wall time. */
  selfCost(): { ms: number; share: number; startupMs: number } {
    const wall = Math.max(1000, Date.now() - this.startedMs);
    return { ms: this.selfMs, share: this.selfMs / wall, startupMs: this.startupMs };
  }

  /** The symbolizer's and the aggregator's caches, for the status line. */
  tableStats(): TableStats[] {
    return [...this.symbolizer.tableStats(), ...this.aggregator.tableStats()];
  }

  statusText(): string {
    const s = this.nativeStats();
    const a = this.aggregator.counters;
    const y = this.symbolizer.stats;
    const cost = this.selfCost();
    // the share since the previous status line: the start-up intervals read every binary's symbols
    const wallMs = Date.now() - this.startedMs;
    const windowShare = (cost.ms - this.windowSelfMs) / Math.max(1000, wallMs - this.windowWallMs);
    this.windowSelfMs = cost.ms;
    this.windowWallMs = wallMs;
    const bpf = s.progRuns ? `, bpf ${Math.round((s.progRunNs ?? 0) / s.progRuns)} ns/run` : '';
    return (
      `profiling: samples ${s.samples}, off-CPU blocks ${s.offCpuEvents}, rows ${a.rows}; ` +
      `self ${(windowShare * 100).toFixed(2)}% of a core (since start ${(cost.share * 100).toFixed(2)}%)${bpf}; symbols: ${y.filesLoaded} files, ${y.unnamedFrames} unnamed frames, ${y.deferredFrames} deferred, ${y.unwindRules} unwind rules, perf maps refused ${y.perfMapsRefused}, truncated ${y.perfMapsTruncated}; ` +
      `held for symbols ${a.retried}; drops: counts map full ${s.countsFull}, stacks lost ${s.stacksLost + s.stacksFailed}, stack errors ${s.stackErrors}, ` +
      `off-CPU without stack ${s.offCpuRateLimited}, rows folded ${a.rowsFolded}, rows dropped ${a.rowsDropped}, decode errors ${this.decodeErrors}`
    );
  }
}

/** Starts profiling as configured, or says in one line why it is off; never stops the agent. */
export function startProfiling(
  cfg: ProfilingConfig,
  native: unknown,
  o: { host: string; naming: ProcessNaming; sink: (rows: ProfileSampleRow[]) => void; log: (line: string) => void }
): ContinuousProfiler | undefined {
  if (!cfg.enabled) {
    o.log('profiling: off (profiling.enabled is false)');
    return undefined;
  }
  const addon = native as Partial<ProfilerAddon>;
  if (typeof addon.profilerOpen !== 'function') {
    o.log('profiling: not available: the native addon has no profiler (run scripts/build.sh agent)');
    return undefined;
  }
  const p = new ContinuousProfiler(cfg, addon as ProfilerAddon, { host: o.host, naming: o.naming, sink: o.sink });
  try {
    const r = p.start();
    o.log(
      `profiling: on-CPU ${cfg.hz} Hz on ${r.cpus} CPUs, off-CPU ${cfg.offCpu.enabled ? `blocks >= ${cfg.offCpu.minBlockUs} µs` : 'off'}, ` +
        `${cfg.pids.length ? `pids ${cfg.pids.join(',')}` : 'every process'}, rows every ${cfg.intervalMs} ms; ` +
        `kernel symbols: ${r.kernelSymbolsError || r.kernelSymbols}`
    );
    return p;
  } catch (err) {
    o.log(`profiling: not available: ${(err as Error).message.split('\n')[0]}; the agent runs on without it`);
    return undefined;
  }
}
