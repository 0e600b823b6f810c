// One interval of kernel counts -> profile_samples rows: stacks symbolized (cached per process and
// stack), frames root first (user frames, then the kernel frames under them), identical symbolized
// stacks of one thread merged, at most `maxRows` rows per interval (the smallest stacks of a
// process beyond that are folded into one "[other stacks]" row, so totals stay exact).
import {
  Drained,
  DrainedCount,
  DrainedStack,
  NO_STACK,
  PROFILE_KIND_OFF_CPU,
  STACK_KERNEL_ERR,
  STACK_RATE_LIMITED,
  STACK_USER_ERR,
  STACK_USER_TRUNC,
} from './profileDecoder';
import type { Symbolizer } from './symbolizer';
import { LruMap, TableStats } from '../lruMap';

export interface ProfileSampleRow {
  time: number;
  host: string;
  pid: number;
  tid: number;
  process: string;
  service: string;
  event: 'on_cpu' | 'off_cpu';
  stack_id: number;
  stack: string[];
  value: number;
}

export interface ProcessNaming {
  comm(pid: number): string;
  service(pid: number): string;
}

export interface AggregatorCounters {
  rows: number;
  /** rows folded into "[other stacks]" by the per-interval row limit */
  rowsFolded: number;
  /** folded rows beyond the limit (processes with only tiny stacks in a crowded interval) */
  rowsDropped: number;
  stacksSymbolized: number;
  stackCacheHits: number;
  /** stacks evicted from the kernel's map before they were read */
  stacksLost: number;
  onCpuSamples: number;
  offCpuUs: number;
  /** counts held for the next interval because a binary's symbols were not read yet (load budget) */
  retried: number;
}

/** A count whose stack waits for the symbolizer's next budget. */
interface Pending {
  c: DrainedCount;
  user?: DrainedStack;
  kernel?: DrainedStack;
  timeSec: number;
  tries: number;
}

/** times a count is held back for symbols before it is written with module+offset frames */
const MAX_TRIES = 2;

export const FRAME_OTHER = '[other stacks: row limit]';
export const FRAME_LOST = '[stack evicted before it was read]';
export const FRAME_NO_STACK = '[no stack]';
export const FRAME_RATE_LIMITED = '[off-CPU stack not captured: capture budget]';
export const FRAME_USER_ERR = '[user stack unavailable]';
export const FRAME_KERNEL_ERR = '[kernel stack unavailable]';
export const FRAME_TRUNCATED = '[truncated]';

/** FNV-1a over the frames (two seeds) folded into 53 bits: the same frames give the same id everywhere. */
export function stackId(frames: string[]): number {
  let a = 0x811c9dc5;
  let b = 0x9747b28c;
  for (const f of frames) {
    for (let i = 0; i < f.length; i++) {
      const c = f.charCodeAt(i);
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b ^ c, 0x01000193) ^ (b >>> 15);
    }
    a = Math.imul(a ^ 0xff, 0x01000193);
    b = Math.imul(b ^ 0xfe, 0x01000193);
  }
  return (a >>> 0) * 0x200000 + ((b >>> 0) >>> 11);
}

/** Off-CPU kernel stacks are read from the sleeping task's saved stack (the kernel already leaves
 * its scheduler functions out); a kernel that starts them in the tracepoint or BPF machinery gets
 * those frames dropped: kept from __schedule up, else from the first frame that is neither. */
export function trimSchedulerFrames(leafFirst: string[]): string[] {
  const i = leafFirst.indexOf('__schedule');
  if (i > 0) {
    return leafFirst.slice(i);
  }
  let k = 0;
  while (k < leafFirst.length - 1 && /^(bpf_|__bpf_|__traceiter_|\[kernel\])/.test(leafFirst[k])) {
    k++;
  }
  return leafFirst.slice(k);
}

export interface AggregatorOptions {
  host: string;
  symbolizer: Symbolizer;
  naming: ProcessNaming;
  maxRows: number;
  maxCachedStacks?: number;
}

export class ProfileAggregator {
  readonly counters: AggregatorCounters = {
    rows: 0,
    rowsFolded: 0,
    rowsDropped: 0,
    stacksSymbolized: 0,
    stackCacheHits: 0,
    stacksLost: 0,
    onCpuSamples: 0,
    offCpuUs: 0,
    retried: 0,
  };
  /** pid:hash -> user frames, root first */
  private readonly userCache: LruMap<string, string[]>;
  /** kind:hash -> kernel frames, root first */
  private readonly kernelCache: LruMap<string, string[]>;
  private pending: Pending[] = [];
  /** pid:user hash:kernel hash:flags:kind -> the row's stack and its id */
  private readonly rowStacks: LruMap<string, { stack: string[]; id: number }>;

  constructor(private readonly o: AggregatorOptions) {
    this.userCache = new LruMap(o.maxCachedStacks ?? 50_000);
    this.kernelCache = new LruMap(o.maxCachedStacks ?? 50_000);
    this.rowStacks = new LruMap(o.maxCachedStacks ?? 50_000);
  }

  private userFrames(pid: number, s: DrainedStack): { frames: string[]; complete: boolean } {
    if (s.lost) {
      this.counters.stacksLost++;
      return { frames: [FRAME_LOST], complete: true };
    }
    const key = `${pid}:${s.hash}`;
    const hit = this.userCache.get(key);
    if (hit) {
      this.counters.stackCacheHits++;
      return { frames: hit, complete: true };
    }
    const r = this.o.symbolizer.user(pid, s.ips);
    this.counters.stacksSymbolized++;
    const rootFirst = r.frames.reverse();
    if (r.complete) {
      this.userCache.set(key, rootFirst);
    }
    return { frames: rootFirst, complete: r.complete };
  }

  private kernelFrames(kind: number, s: DrainedStack): string[] {
    if (s.lost) {
      this.counters.stacksLost++;
      return [FRAME_LOST];
    }
    const key = `${kind}:${s.hash}`;
    const hit = this.kernelCache.get(key);
    if (hit) {
      this.counters.stackCacheHits++;
      return hit;
    }
    let frames = this.o.symbolizer.kernelStack(s.ips);
    this.counters.stacksSymbolized++;
    if (kind === PROFILE_KIND_OFF_CPU) {
      frames = trimSchedulerFrames(frames);
    }
    const rootFirst = frames.reverse();
    this.kernelCache.set(key, rootFirst);
    return rootFirst;
  }

  /** The row's frames and id for a count; undefined when the count is held back for symbols. */
  private rowStack(
    c: DrainedCount,
    user: DrainedStack | undefined,
    kernel: DrainedStack | undefined,
    timeSec: number,
    tries: number
  ): { stack: string[]; id: number; complete: boolean } | undefined {
    let stack: string[] = [];
    let complete = true;
    if (c.flags & STACK_USER_TRUNC) {
      stack.push(FRAME_TRUNCATED);
    }
    if (user) {
      const u = this.userFrames(c.pid, user);
      if (!u.complete && tries < MAX_TRIES && this.pending.length < this.o.maxRows) {
        this.pending.push({ c, user, kernel, timeSec, tries: tries + 1 });
        this.counters.retried++;
        return undefined;
      }
      complete = u.complete;
      stack = stack.concat(u.frames);
    } else if (c.flags & STACK_USER_ERR) {
      stack.push(FRAME_USER_ERR);
    }
    if (kernel) {
      stack = stack.concat(this.kernelFrames(c.kind, kernel));
    } else if (c.flags & STACK_KERNEL_ERR) {
      stack.push(FRAME_KERNEL_ERR);
    }
    if (c.flags & STACK_RATE_LIMITED) {
      stack.push(FRAME_RATE_LIMITED);
    }
    if (stack.length === 0) {
      stack.push(FRAME_NO_STACK);
    }
    return { stack, id: stackId(stack), complete };
  }

  private add(
    cells: Map<string, ProfileSampleRow>,
    c: DrainedCount,
    user: DrainedStack | undefined,
    kernel: DrainedStack | undefined,
    timeSec: number,
    tries: number
  ): void {
    const offCpu = c.kind === PROFILE_KIND_OFF_CPU;
    const value = offCpu ? Math.round(c.value / 1000) : c.value;
    if (value <= 0) {
      return;
    }
    // the same raw stacks of a process name the same row stack every interval: build it once
    const cacheKey = `${c.pid}:${user?.hash ?? '-'}:${kernel?.hash ?? '-'}:${c.flags}:${c.kind}`;
    let rs: { stack: string[]; id: number } | undefined = this.rowStacks.get(cacheKey);
    if (rs) {
      this.counters.stackCacheHits++;
    } else {
      const built = this.rowStack(c, user, kernel, timeSec, tries);
      if (!built) {
        return; // held back for symbols
      }
      // only stacks named as far as they can be (not cut short by the load budget, not evicted)
      if (built.complete && !user?.lost && !kernel?.lost) {
        this.rowStacks.set(cacheKey, { stack: built.stack, id: built.id });
      }
      rs = built;
    }
    const { stack, id } = rs;
    const event = offCpu ? 'off_cpu' : 'on_cpu';
    const key = `${timeSec}|${c.pid}|${c.tid}|${event}|${id}`;
    const row = cells.get(key);
    if (row) {
      row.value += value;
    } else {
      cells.set(key, {
        time: timeSec,
        host: this.o.host,
        pid: c.pid,
        tid: c.tid,
        process: this.o.naming.comm(c.pid),
        service: this.o.naming.service(c.pid),
        event,
        stack_id: id,
        stack,
        value,
      });
    }
    if (offCpu) {
      this.counters.offCpuUs += value;
    } else {
      this.counters.onCpuSamples += value;
    }
  }

  tableStats(): TableStats[] {
    return [
      this.userCache.stats('user stacks'),
      this.kernelCache.stats('kernel stacks'),
      this.rowStacks.stats('row stacks'),
    ];
  }

  /** Counts waiting for symbols (written by the next build). */
  get pendingCount(): number {
    return this.pending.length;
  }

  /** Rows for one drained interval starting at `timeSec` (and for counts held back from earlier ones). */
  build(d: Drained, timeSec: number): ProfileSampleRow[] {
    this.o.symbolizer.beginInterval();
    const cells = new Map<string, ProfileSampleRow>();
    const held = this.pending;
    this.pending = [];
    // counts held back first: they get the symbol-loading budget before new ones
    for (const p of held) {
      this.add(cells, p.c, p.user, p.kernel, p.timeSec, p.tries);
    }
    // the largest counts first: when the symbol-loading budget runs out, it is the rare stacks that wait
    const counts = d.counts.slice().sort((a, b) => b.value - a.value);
    for (const c of counts) {
      this.add(
        cells,
        c,
        c.user === NO_STACK ? undefined : d.stacks[c.user],
        c.kernel === NO_STACK ? undefined : d.stacks[c.kernel],
        timeSec,
        0
      );
    }
    let rows = [...cells.values()];
    if (rows.length > this.o.maxRows) {
      rows.sort((a, b) => b.value - a.value);
      const kept = rows.slice(0, Math.max(0, this.o.maxRows - 64));
      const folded = new Map<string, ProfileSampleRow>();
      for (const r of rows.slice(kept.length)) {
        const key = `${r.time}|${r.pid}|${r.event}`;
        const f = folded.get(key);
        if (f) {
          f.value += r.value;
        } else {
          folded.set(key, { ...r, tid: 0, stack: [FRAME_OTHER], stack_id: stackId([FRAME_OTHER]) });
        }
        this.counters.rowsFolded++;
      }
      // the folded rows themselves are bounded too: one per (pid, event), largest first
      const foldedRows = [...folded.values()].sort((a, b) => b.value - a.value);
      const room = this.o.maxRows - kept.length;
      this.counters.rowsDropped += Math.max(0, foldedRows.length - room);
      rows = kept.concat(foldedRows.slice(0, room));
    }
    this.counters.rows += rows.length;
    return rows;
  }
}
