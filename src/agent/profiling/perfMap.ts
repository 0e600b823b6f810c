// JIT symbols from /tmp/perf-<pid>.map ("START SIZE name" in hex, one per line), written by Node
// with --perf-basic-prof, Java with perf-map-agent, and others. The file grows while the runtime
// compiles code, so new bytes are read incrementally; a later entry covering an address wins
// (code moved or recompiled).
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { lastAtOrBelow } from './sortedSearch';

/** A perf map larger than this is read up to this size only. */
const MAX_MAP_BYTES = 256 << 20;
const MAX_ENTRIES = 4_000_000;

export class PerfMap {
  private starts: number[] = [];
  private ends: number[] = [];
  private names: string[] = [];
  private seq: number[] = [];
  private sorted = true;
  private bytesRead = 0;
  private partial = '';
  private sortedIdx: Uint32Array = new Uint32Array(0);
  /** starts in sortedIdx order */
  private sortedStarts = new Float64Array(0);
  truncated = false;

  constructor(readonly path: string) {}

  get size(): number {
    return this.names.length;
  }

  /** Reads what was appended since the last call; false when the file is missing. */
  refresh(): boolean {
    let fd: number;
    try {
      fd = openSync(this.path, 'r');
    } catch {
      return false;
    }
    try {
      const size = Math.min(fstatSync(fd).size, MAX_MAP_BYTES);
      if (size < this.bytesRead) {
        // rewritten from scratch (a new process reusing the pid)
        this.starts = [];
        this.ends = [];
        this.names = [];
        this.seq = [];
        this.bytesRead = 0;
        this.partial = '';
      }
      if (size === this.bytesRead) {
        return true;
      }
      this.truncated = fstatSync(fd).size > MAX_MAP_BYTES;
      const buf = Buffer.allocUnsafe(size - this.bytesRead);
      let got = 0;
      while (got < buf.length) {
        const n = readSync(fd, buf, got, buf.length - got, this.bytesRead + got);
        if (n <= 0) {
          break;
        }
        got += n;
      }
      this.bytesRead += got;
      const text = this.partial + buf.toString('utf8', 0, got);
      const lines = text.split('\n');
      this.partial = lines.pop() ?? '';
      for (const line of lines) {
        this.add(line);
      }
      return true;
    } finally {
      closeSync(fd);
    }
  }

  private add(line: string): void {
    if (this.names.length >= MAX_ENTRIES) {
      this.truncated = true;
      return;
    }
    const a = line.indexOf(' ');
    const b = a < 0 ? -1 : line.indexOf(' ', a + 1);
    if (b < 0) {
      return;
    }
    const start = parseInt(line.slice(0, a), 16);
    const size = parseInt(line.slice(a + 1, b), 16);
    if (!(start > 0) || !(size > 0)) {
      return;
    }
    this.starts.push(start);
    this.ends.push(start + size);
    this.names.push(line.slice(b + 1).trim());
    this.seq.push(this.seq.length);
    this.sorted = false;
  }

  lookup(addr: number): string | undefined {
    if (!this.sorted) {
      const idx = Uint32Array.from(this.seq);
      // by start; among equal starts the later entry last, so the scan below prefers it
      idx.sort((x, y) => this.starts[x] - this.starts[y] || x - y);
      this.sortedIdx = idx;
      this.sortedStarts = Float64Array.from(idx, (i) => this.starts[i]);
      this.sorted = true;
    }
    const idx = this.sortedIdx;
    const found = lastAtOrBelow(this.sortedStarts, addr);
    // the newest entry covering addr among the nearest few starts
    let best = -1;
    for (let k = found; k >= 0 && k > found - 16; k--) {
      const i = idx[k];
      if (addr < this.ends[i] && i > best) {
        best = i;
      }
    }
    return best >= 0 ? this.names[best] : undefined;
  }
}
