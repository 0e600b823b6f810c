// JIT symbols from /tmp/perf-<pid>.map ("START SIZE name" in hex, one per line), written by Node
// with --perf-basic-prof, Java with perf-map-agent, and others. The file grows while the runtime
// compiles code, so new bytes are read incrementally; a later entry covering an address wins
// (code moved or recompiled). The file is the other process's: it is opened through
// openForeignFile (regular file owned by the process, never a FIFO or a symlink) and read in
// bounded steps, so a 1 GiB sparse file costs at most MAX_MAP_BYTES of reading, never of heap.
import { closeSync, readSync } from 'node:fs';
import { lastAtOrBelow } from './sortedSearch';
import { ForeignFile, openForeignFile } from './foreignFile';

/** A perf map is read up to this many bytes over its life; the rest is left unread (`truncated`). */
export const MAX_MAP_BYTES = 16 << 20;
/** Bytes read per refresh: a large map is taken over several intervals, never in one long stall. */
export const MAX_REFRESH_BYTES = 2 << 20;
const CHUNK_BYTES = 256 << 10;
/** A longer line is not a perf map entry: it is skipped, never buffered whole. */
const MAX_LINE = 4096;
const MAX_ENTRIES = 250_000;

export class PerfMap {
  private starts: number[] = [];
  private ends: number[] = [];
  private names: string[] = [];
  private seq: number[] = [];
  private sorted = true;
  private offset = 0;
  /** the start of a line cut by the end of a read (at most MAX_LINE bytes) */
  private partial?: Buffer;
  /** inside a line longer than MAX_LINE: its bytes are dropped up to the next newline */
  private skippingLine = false;
  private sortedIdx: Uint32Array = new Uint32Array(0);
  /** starts in sortedIdx order */
  private sortedStarts = new Float64Array(0);
  /** a cap was reached: bytes, entries or a line's length */
  truncated = false;
  /** why the last refresh could not read the file */
  error?: string;

  /** `ownerUids`: the process's uids; a map owned by anyone else is refused. */
  constructor(
    readonly path: string,
    private readonly ownerUids?: number[]
  ) {}

  get size(): number {
    return this.names.length;
  }

  /** Bytes of the file read so far. */
  get bytesRead(): number {
    return this.offset;
  }

  /** Reads (part of) what was appended since the last call; false when the file is missing or refused. */
  refresh(): boolean {
    let f: ForeignFile;
    try {
      f = openForeignFile(this.path, { noFollow: true, ownerUids: this.ownerUids });
    } catch (err) {
      this.error = (err as Error).message;
      return false;
    }
    this.error = undefined;
    try {
      if (f.size < this.offset) {
        // rewritten from scratch (a new process reusing the pid)
        this.starts = [];
        this.ends = [];
        this.names = [];
        this.seq = [];
        this.offset = 0;
        this.partial = undefined;
        this.skippingLine = false;
        this.sorted = false;
      }
      if (f.size > MAX_MAP_BYTES) {
        this.truncated = true;
      }
      const end = Math.min(f.size, MAX_MAP_BYTES, this.offset + MAX_REFRESH_BYTES);
      if (end <= this.offset) {
        return true;
      }
      const chunk = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, end - this.offset));
      while (this.offset < end) {
        const n = readSync(f.fd, chunk, 0, Math.min(chunk.length, end - this.offset), this.offset);
        if (n <= 0) {
          break;
        }
        this.offset += n;
        this.lines(n < chunk.length ? chunk.subarray(0, n) : chunk);
      }
      return true;
    } finally {
      closeSync(f.fd);
    }
  }

  /** Splits bytes into lines, carrying a cut line to the next read. */
  private lines(data: Buffer): void {
    let pos = 0;
    while (pos < data.length) {
      const nl = data.indexOf(0x0a, pos);
      if (nl < 0) {
        this.carry(data.subarray(pos));
        return;
      }
      if (this.skippingLine) {
        this.skippingLine = false;
      } else if (this.partial) {
        const line = Buffer.concat([this.partial, data.subarray(pos, nl)]);
        this.partial = undefined;
        if (line.length <= MAX_LINE) {
          this.add(line.toString('utf8'));
        } else {
          this.truncated = true;
        }
      } else if (nl - pos <= MAX_LINE) {
        this.add(data.toString('utf8', pos, nl));
      } else {
        this.truncated = true;
      }
      pos = nl + 1;
    }
  }

  private carry(tail: Buffer): void {
    if (this.skippingLine) {
      return;
    }
    if ((this.partial?.length ?? 0) + tail.length > MAX_LINE) {
      this.partial = undefined;
      this.skippingLine = true;
      this.truncated = true;
      return;
    }
    this.partial = this.partial ? Buffer.concat([this.partial, tail]) : Buffer.from(tail);
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
