// Addresses -> function names. User frames: the process's executable mappings (/proc/<pid>/maps),
// the ELF file behind each (symbols cached per device+inode and shared per build id), JIT code
// from the process's perf map; kernel frames: /proc/kallsyms. A frame that cannot be named keeps
// its module and offset (`libfoo.so+0x1a2b`, an ELF address addr2line understands) or its raw
// address; it never disappears. Loading new ELF files is budgeted per interval: past the budget a
// frame is labelled module+offset and the stack is marked incomplete (so it is not cached).
import { basename } from 'node:path';
import { readFileSync } from 'node:fs';
import { ehFrame, ElfInfo, fileOffsetToVaddr, goUnwinder, readElf } from './elfFile';
import { KernelSymbols } from './kallsyms';
import { findMapping, isFileMapping, Mapping, readMaps } from './procMaps';
import { PerfMap } from './perfMap';
import { LruMap, TableStats } from '../lruMap';
import { processUids } from './foreignFile';

export interface SymbolizerOptions {
  procRoot?: string;
  kernel?: KernelSymbols;
  /** ELF files kept (least recently used beyond are forgotten) */
  maxFiles?: number;
  /** processes whose maps and perf map are kept (least recently sampled beyond are forgotten) */
  maxProcesses?: number;
  /** time (ms) per interval spent reading ELF files not seen before */
  loadBudgetMs?: number;
  /** where perf maps are read from, given the pid and its pid inside its namespace */
  perfMapPath?: (pid: number, nsPid: number) => string;
  clockMs?: () => number;
  /** learn unwind rules for frames without a frame pointer (handed to the kernel walker) */
  learnUnwindRules?: boolean;
  /** where separate debug files are looked up by build id (<dir>/.build-id/ab/cdef.debug) */
  debugDirs?: string[];
}

/** An unwind rule for one address of one process, for the kernel's stack walker. */
export interface LearntRule {
  pid: number;
  ip: number;
  cfaOff: number;
  rbpOff: number;
}

const MAX_RULES_PER_INTERVAL = 4096;
/** the kernel's rule map (FLP_MAX_UNWIND_RULES, an LRU too): a rule it forgot can be learnt again */
const MAX_KNOWN_RULES = 65536;

export interface SymbolizerStats {
  filesLoaded: number;
  fileErrors: number;
  filesCached: number;
  /** frames labelled module+offset because the load budget of the interval was spent */
  deferredFrames: number;
  /** frames without a function name (module+offset or raw address) */
  unnamedFrames: number;
  jitFrames: number;
  loadMs: number;
  /** unwind rules learnt from .eh_frame for frames without a frame pointer */
  unwindRules: number;
  /** binaries named through a separate debug file (by build id) */
  debugFiles: number;
  /** perf maps refused (not a regular file, not the process's own, a symlink) */
  perfMapsRefused: number;
  /** perf maps read only in part (bytes, entries or line length capped) */
  perfMapsTruncated: number;
}

interface ProcState {
  maps: Mapping[];
  mapsInterval: number;
  nsPid: number;
  /** real and effective uid: a perf map must be owned by one of them */
  uids?: number[];
  perfMap?: PerfMap;
  perfMapInterval: number;
  usedInterval: number;
}

type FileEntry = { info: ElfInfo } | { error: string };

export interface SymbolizedStack {
  /** leaf first, like the input */
  frames: string[];
  /** false if a frame was left unnamed only because of the load budget */
  complete: boolean;
}

const hex = (n: number) => '0x' + n.toString(16);

export class Symbolizer {
  readonly stats: SymbolizerStats = {
    filesLoaded: 0,
    fileErrors: 0,
    filesCached: 0,
    deferredFrames: 0,
    unnamedFrames: 0,
    jitFrames: 0,
    loadMs: 0,
    unwindRules: 0,
    debugFiles: 0,
    perfMapsRefused: 0,
    perfMapsTruncated: 0,
  };
  /** by device:inode */
  private readonly files: LruMap<string, FileEntry>;
  /** ELF files of the cache by build id (one copy of a binary seen through two paths); bounded by files */
  private readonly byBuildId = new Map<string, ElfInfo>();
  private readonly procs: LruMap<number, ProcState>;
  private interval = 0;
  private rules: LearntRule[] = [];
  /** pid:address of rules handed to the kernel */
  private readonly knownRules = new LruMap<string, true>(MAX_KNOWN_RULES);
  private deadline = Infinity;
  private readonly procRoot: string;
  private readonly maxFiles: number;
  private readonly budgetMs: number;
  private readonly clock: () => number;
  readonly kernel: KernelSymbols;

  constructor(private readonly o: SymbolizerOptions = {}) {
    this.procRoot = o.procRoot ?? '/proc';
    this.maxFiles = o.maxFiles ?? 512;
    this.files = new LruMap(this.maxFiles, (_, e) => this.forgetFile(e));
    this.procs = new LruMap(o.maxProcesses ?? 1024);
    this.budgetMs = o.loadBudgetMs ?? 300;
    this.clock = o.clockMs ?? (() => performance.now());
    this.kernel = o.kernel ?? new KernelSymbols();
  }

  /** Rules learnt since the last call. */
  takeUnwindRules(): LearntRule[] {
    const r = this.rules;
    this.rules = [];
    return r;
  }

  private learn(pid: number, ip: number, info: ElfInfo, vaddr: number): void {
    if (this.rules.length >= MAX_RULES_PER_INTERVAL) {
      return;
    }
    const key = `${pid}:${ip}`;
    if (this.knownRules.get(key)) {
      return;
    }
    if ((info.eh === undefined || (info.goSection && info.go === undefined)) && this.clock() > this.deadline) {
      return; // reading this file's unwind tables waits for the next interval's budget
    }
    let rule = ehFrame(info)?.ruleAt(vaddr);
    if (rule === undefined && info.goSection) {
      // Go code has no .eh_frame: a frameless Go function (SP delta 0) keeps its return address on top
      const d = goUnwinder(info)?.spDelta(vaddr);
      if (d === 0) {
        rule = { cfaOff: 8, rbpOff: 0 };
      }
    }
    if (rule && typeof rule === 'object') {
      this.knownRules.set(key, true);
      this.rules.push({ pid, ip, cfaOff: rule.cfaOff, rbpOff: rule.rbpOff });
      this.stats.unwindRules++;
    }
  }

  /** Starts an interval: a fresh load budget; processes unseen for a while are forgotten. */
  beginInterval(): void {
    this.interval++;
    this.deadline = this.clock() + this.budgetMs;
    if (this.interval % 60 === 0) {
      for (const [pid, p] of this.procs) {
        if (this.interval - p.usedInterval > 60) {
          this.procs.delete(pid);
        }
      }
    }
  }

  private proc(pid: number): ProcState {
    let p = this.procs.get(pid);
    if (!p) {
      const ids = this.ids(pid);
      p = {
        maps: readMaps(pid, this.procRoot) ?? [],
        mapsInterval: this.interval,
        nsPid: ids.nsPid,
        uids: ids.uids,
        perfMapInterval: -1,
        usedInterval: this.interval,
      };
      this.procs.set(pid, p);
    }
    p.usedInterval = this.interval;
    return p;
  }

  /** The process's pid in its own namespace and its uids, from /proc/<pid>/status. */
  private ids(pid: number): { nsPid: number; uids?: number[] } {
    try {
      const status = readFileSync(`${this.procRoot}/${pid}/status`, 'latin1');
      const m = /^NSpid:\s*([\d\s]+)$/m.exec(status);
      const ids = m ? m[1].trim().split(/\s+/) : [];
      return { nsPid: Number(ids[ids.length - 1]) || pid, uids: processUids(status) };
    } catch {
      return { nsPid: pid };
    }
  }

  private mappingOf(p: ProcState, pid: number, addr: number): Mapping | undefined {
    let m = findMapping(p.maps, addr);
    if (!m && p.mapsInterval !== this.interval) {
      // a library loaded since (dlopen) or code mapped since: read the maps again, once per interval
      p.maps = readMaps(pid, this.procRoot) ?? p.maps;
      p.mapsInterval = this.interval;
      m = findMapping(p.maps, addr);
    }
    return m;
  }

  private jit(p: ProcState, pid: number, addr: number): string | undefined {
    if (!p.perfMap) {
      const path = this.o.perfMapPath
        ? this.o.perfMapPath(pid, p.nsPid)
        : `${this.procRoot}/${pid}/root/tmp/perf-${p.nsPid}.map`;
      // owned by the process itself; a process whose uids are unknown (gone) gets none
      p.perfMap = new PerfMap(path, p.uids ?? []);
    }
    let name = p.perfMap.size ? p.perfMap.lookup(addr) : undefined;
    if (name === undefined && p.perfMapInterval !== this.interval) {
      p.perfMapInterval = this.interval;
      const wasTruncated = p.perfMap.truncated;
      if (p.perfMap.refresh()) {
        name = p.perfMap.lookup(addr);
      } else if (p.perfMap.error && !p.perfMap.error.includes('ENOENT')) {
        this.stats.perfMapsRefused++;
      }
      if (p.perfMap.truncated && !wasTruncated) {
        this.stats.perfMapsTruncated++;
      }
    }
    return name;
  }

  /** A binary without .symtab takes the symbols of its separate debug file when one is installed
   * (distributions' -dbg/-dbgsym packages, found by build id). */
  private addDebugSymbols(info: ElfInfo): void {
    if (info.source.includes('symtab') || !/^[0-9a-f]{4,}$/.test(info.buildId)) {
      return;
    }
    for (const dir of this.o.debugDirs ?? ['/usr/lib/debug']) {
      const path = `${dir}/.build-id/${info.buildId.slice(0, 2)}/${info.buildId.slice(2)}.debug`;
      try {
        const dbg = readElf(path);
        if (dbg.symbols.length > info.symbols.length) {
          info.symbols = dbg.symbols;
          info.source = `${info.source}+debugfile`;
          this.stats.debugFiles++;
        }
        return;
      } catch {
        /* no debug file there */
      }
    }
  }

  /** The ELF behind a file mapping; 'deferred' when the budget is spent. */
  private elf(pid: number, m: Mapping): ElfInfo | 'deferred' | undefined {
    const key = `${m.dev}:${m.inode}`;
    const hit = this.files.get(key);
    if (hit) {
      return 'info' in hit ? hit.info : undefined;
    }
    const t0 = this.clock();
    if (t0 > this.deadline) {
      return 'deferred';
    }
    const candidates = [
      `${this.procRoot}/${pid}/map_files/${m.start.toString(16)}-${m.end.toString(16)}`,
      `${this.procRoot}/${pid}/root${m.path}`,
      m.path,
    ];
    let entry: FileEntry = { error: 'not readable' };
    for (const path of candidates) {
      try {
        const info = readElf(path);
        this.addDebugSymbols(info);
        const same = info.buildId ? this.byBuildId.get(info.buildId) : undefined;
        entry = { info: same ?? info };
        if (info.buildId && !same) {
          this.byBuildId.set(info.buildId, info);
        }
        this.stats.filesLoaded++;
        break;
      } catch (err) {
        entry = { error: (err as Error).message };
      }
    }
    if ('error' in entry) {
      this.stats.fileErrors++;
    }
    this.files.set(key, entry); // may forget the least recently used file
    this.stats.filesCached = this.files.size;
    this.stats.loadMs += this.clock() - t0;
    return 'info' in entry ? entry.info : undefined;
  }

  /** A file left the cache: its build id goes too unless another path still holds the same ELF. */
  private forgetFile(e: FileEntry): void {
    if ('info' in e && e.info.buildId && this.byBuildId.get(e.info.buildId) === e.info) {
      for (const other of this.files.values()) {
        if ('info' in other && other.info === e.info) {
          return;
        }
      }
      this.byBuildId.delete(e.info.buildId);
    }
  }

  /** Names of a user stack of process `pid` (addresses leaf first). */
  user(pid: number, ips: number[]): SymbolizedStack {
    const p = this.proc(pid);
    const frames: string[] = [];
    let complete = true;
    for (let i = 0; i < ips.length; i++) {
      // a return address points after the call: look up the byte before it
      const addr = i === 0 ? ips[i] : ips[i] - 1;
      const m = this.mappingOf(p, pid, addr);
      if (!m || !isFileMapping(m)) {
        const name = this.jit(p, pid, addr);
        if (name !== undefined) {
          this.stats.jitFrames++;
          frames.push(name);
          continue;
        }
        this.stats.unnamedFrames++;
        frames.push(m && m.path ? `${m.path}+${hex(ips[i] - m.start)}` : `[unknown] ${hex(ips[i])}`);
        continue;
      }
      // labels show the frame's own address; lookups use the byte before a return address
      const fileOff = addr - m.start + m.offset;
      const labelOff = ips[i] - m.start + m.offset;
      const info = this.elf(pid, m);
      if (info === 'deferred' || info === undefined) {
        if (info === 'deferred') {
          this.stats.deferredFrames++;
          complete = false;
        }
        this.stats.unnamedFrames++;
        frames.push(`${basename(m.path)}+${hex(labelOff)}`);
        continue;
      }
      const vaddr = fileOffsetToVaddr(info, fileOff) ?? fileOff;
      if (this.o.learnUnwindRules) {
        this.learn(pid, ips[i], info, vaddr);
      }
      const name = info.symbols.lookup(vaddr);
      if (name === undefined) {
        this.stats.unnamedFrames++;
        frames.push(`${basename(m.path)}+${hex(fileOffsetToVaddr(info, labelOff) ?? labelOff)}`);
      } else {
        frames.push(name);
      }
    }
    return { frames, complete };
  }

  /** Names of a kernel stack (low-48-bit addresses, leaf first). */
  kernelStack(ips: number[]): string[] {
    return ips.map((ip, i) => {
      const name = this.kernel.usable ? this.kernel.lookup(i === 0 ? ip : ip - 1) : undefined;
      if (name === undefined) {
        this.stats.unnamedFrames++;
        return `[kernel] ${hex(ip)}`;
      }
      return name;
    });
  }

  get processesTracked(): number {
    return this.procs.size;
  }

  tableStats(): TableStats[] {
    return [this.procs.stats('profiled processes'), this.files.stats('elf files')];
  }
}
