// A perf map is a file the traced process chooses: /tmp/perf-<pid>.map of a real child process,
// made a FIFO (a plain open() would wait for a writer forever), a 1 GiB sparse file (read whole, it
// was 1 GiB of heap), a symlink, a file someone else owns. The agent must stay unaffected.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync, symlinkSync, truncateSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { MAX_MAP_BYTES, MAX_REFRESH_BYTES, PerfMap } from '../../../src/agent/profiling/perfMap';
import { openForeignFile, processUids } from '../../../src/agent/profiling/foreignFile';
import { Symbolizer } from '../../../src/agent/profiling/symbolizer';
import { KernelSymbols } from '../../../src/agent/profiling/kallsyms';

const child = spawn('sleep', ['60'], { stdio: 'ignore' });
const mapPath = `/tmp/perf-${child.pid}.map`;
const dir = mkdtempSync(join(tmpdir(), 'flowlens-perfmap-'));
after(() => {
  child.kill();
  rmSync(mapPath, { force: true });
  rmSync(dir, { recursive: true, force: true });
});

/** The symbolizer as the profiler runs it, on the real /proc, for a JIT address of the child. */
function symbolizeJit(): { frame: string; ms: number; s: Symbolizer } {
  const kernel = new KernelSymbols(join(dir, 'no-kallsyms'));
  const s = new Symbolizer({ kernel });
  s.beginInterval();
  const t0 = performance.now();
  const frame = s.user(child.pid!, [0x7f0012345678]).frames[0];
  return { frame, ms: performance.now() - t0, s };
}

test('a FIFO as the perf map: refused at once, no wait for a writer', () => {
  rmSync(mapPath, { force: true });
  execFileSync('mkfifo', [mapPath]);
  const m = new PerfMap(mapPath, [process.getuid!()]);
  const t0 = performance.now();
  assert.equal(m.refresh(), false);
  assert.ok(performance.now() - t0 < 100);
  assert.match(m.error ?? '', /not a regular file/);
  const { frame, ms, s } = symbolizeJit();
  assert.equal(frame, '[unknown] 0x7f0012345678', 'the frame keeps its address');
  assert.ok(ms < 500, `symbolizing took ${ms} ms`);
  assert.equal(s.stats.perfMapsRefused, 1);
});

test('a 1 GiB sparse perf map: read in bounded steps up to MAX_MAP_BYTES, heap stays small', () => {
  rmSync(mapPath, { force: true });
  writeFileSync(mapPath, '7f0012345000 1000 JS:*hot /app/hot.js:1:1\n');
  truncateSync(mapPath, 1 << 30);
  const m = new PerfMap(mapPath, [process.getuid!()]);
  const before = process.memoryUsage();
  let refreshes = 0;
  let worstMs = 0;
  for (let last = -1; m.bytesRead !== last && refreshes < 100; refreshes++) {
    last = m.bytesRead;
    const t0 = performance.now();
    assert.equal(m.refresh(), true);
    worstMs = Math.max(worstMs, performance.now() - t0);
    assert.ok(m.bytesRead - last <= MAX_REFRESH_BYTES, 'one refresh reads at most MAX_REFRESH_BYTES');
  }
  const after = process.memoryUsage();
  assert.equal(m.bytesRead, MAX_MAP_BYTES, 'reading stops at the cap');
  assert.equal(refreshes, MAX_MAP_BYTES / MAX_REFRESH_BYTES + 1);
  assert.equal(m.truncated, true);
  assert.equal(m.size, 1);
  assert.equal(m.lookup(0x7f0012345678), 'JS:*hot /app/hot.js:1:1');
  const grown = after.heapUsed + after.arrayBuffers - (before.heapUsed + before.arrayBuffers);
  assert.ok(grown < 8 << 20, `heap + buffers grew ${grown >> 20} MiB`);
  assert.ok(worstMs < 200, `a refresh took ${worstMs} ms`);
  const { frame, s } = symbolizeJit();
  assert.equal(frame, 'JS:*hot /app/hot.js:1:1', 'the real pid and its uid from /proc: the map is read');
  assert.equal(s.stats.perfMapsTruncated, 1);
});

test('a perf map that is a symlink, or owned by another user, is refused', () => {
  const target = join(dir, 'elsewhere.map');
  writeFileSync(target, '7f0012345000 1000 JS:*evil\n');
  rmSync(mapPath, { force: true });
  symlinkSync(target, mapPath);
  const link = new PerfMap(mapPath, [process.getuid!()]);
  assert.equal(link.refresh(), false);
  assert.match(link.error ?? '', /ELOOP/);
  rmSync(mapPath);
  writeFileSync(mapPath, '7f0012345000 1000 JS:*other\n');
  chownSync(mapPath, 65534, 65534);
  const other = new PerfMap(mapPath, [process.getuid!()]);
  assert.equal(other.refresh(), false);
  assert.match(other.error ?? '', /owned by uid 65534/);
  assert.equal(symbolizeJit().frame, '[unknown] 0x7f0012345678');
});

test('lines longer than 4 KiB are skipped without being buffered; the entries after them are read', () => {
  const p = join(dir, 'long.map');
  writeFileSync(p, `1000 10 a\n${'x'.repeat(100_000)}\n2000 10 b\n3000 10 ${'y'.repeat(5000)}`);
  const m = new PerfMap(p);
  assert.equal(m.refresh(), true);
  assert.equal(m.lookup(0x1001), 'a');
  assert.equal(m.lookup(0x2001), 'b');
  appendFileSync(p, '\n4000 10 c\n');
  m.refresh();
  assert.equal(m.lookup(0x3001), undefined);
  assert.equal(m.lookup(0x4001), 'c');
  assert.equal(m.truncated, true);
});

test('foreign files: FIFOs, devices and directories are refused; the uids come from /proc/<pid>/status', () => {
  const fifo = join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  assert.throws(() => openForeignFile(fifo), /not a regular file/);
  assert.throws(() => openForeignFile('/dev/zero'), /not a regular file/);
  assert.throws(() => openForeignFile(dir), /not a regular file/);
  assert.deepEqual(processUids('Name:\tx\nUid:\t1000\t1001\t1000\t1000\nGid:\t0\n'), [1000, 1001]);
  assert.equal(processUids('Name:\tx\n'), undefined);
});
