// Symbolization against a fake /proc: a PIE mapped at an ASLR-style base, a JIT region named by a
// perf map that grows, addresses nobody maps, the per-interval load budget, kernel frames.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { readElf } from '../../../src/agent/profiling/elfFile';
import { Symbolizer } from '../../../src/agent/profiling/symbolizer';
import { KernelSymbols } from '../../../src/agent/profiling/kallsyms';
import { PerfMap } from '../../../src/agent/profiling/perfMap';
import { parseMaps, findMapping } from '../../../src/agent/profiling/procMaps';

const dir = mkdtempSync(join(tmpdir(), 'flowlens-sym-'));
const src = join(dir, 'app.c');
writeFileSync(
  src,
  `static volatile int s;
__attribute__((noinline)) static void inner(int n) { for (int i = 0; i < n; i++) s += i; }
__attribute__((noinline)) void outer(int n) { inner(n); }
int main(int c, char **v) { outer(c); return 0; }
`
);
const bin = join(dir, 'app');
execFileSync('gcc', ['-O1', '-fPIE', '-pie', '-o', bin, src]);
const sym = (name: string) =>
  parseInt(
    execFileSync('nm', [bin], { encoding: 'utf8' })
      .split('\n')
      .find((l) => l.endsWith(` ${name}`))!
      .split(' ')[0],
    16
  );

const BASE = 0x5555_0000_0000;
const JIT_START = 0x7f00_1000_0000;
const PID = 4242;
const proc = join(dir, 'proc');
mkdirSync(join(proc, String(PID)), { recursive: true });
const info = readElf(bin);
const text = info.loads.find((l) => l.vaddr <= sym('outer') && sym('outer') < l.vaddr + l.filesz)!;
const mapStart = BASE + (text.vaddr - (text.vaddr % 4096));
const mapEnd = BASE + text.vaddr + text.filesz + 4096 - ((text.vaddr + text.filesz) % 4096);
writeFileSync(
  join(proc, String(PID), 'maps'),
  [
    `${mapStart.toString(16)}-${mapEnd.toString(16)} r-xp ${(text.offset - (text.offset % 4096)).toString(16).padStart(8, '0')} fd:01 777 ${bin}`,
    `${JIT_START.toString(16)}-${(JIT_START + 0x100000).toString(16)} rwxp 00000000 00:00 0 `,
    `7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]`,
    `7ffd000f0000-7ffd000f2000 r-xp 00000000 00:00 0                          [vdso]`,
  ].join('\n') + '\n'
);
// the perf map must be owned by the process: this one is ours
writeFileSync(
  join(proc, String(PID), 'status'),
  `Name:\tapp\nUid:\t${process.getuid!()}\t${process.getuid!()}\t0\t0\nNSpid:\t${PID}\t17\n`
);
const perfMapPath = join(dir, 'perf-17.map');
writeFileSync(perfMapPath, `${(JIT_START + 0x100).toString(16)} 80 JS:*hotLoop /app/hot.js:3:1\n`);
const kallsyms = join(dir, 'kallsyms');
writeFileSync(
  kallsyms,
  [
    'ffffffff81000000 T _stext',
    'ffffffff81100000 T do_syscall_64',
    'ffffffff81100400 t ksys_read',
    'ffffffff81100800 T vfs_read',
    'ffffffffc0000000 t mod_fn\t[mymod]',
    'ffffffff81000010 d some_data',
  ].join('\n') + '\n'
);

function symbolizer(budgetMs = 1000, clock?: () => number): Symbolizer {
  const kernel = new KernelSymbols(kallsyms);
  kernel.load();
  const s = new Symbolizer({
    procRoot: proc,
    kernel,
    loadBudgetMs: budgetMs,
    clockMs: clock,
    perfMapPath: (pid, ns) => join(dir, `perf-${ns}.map`),
  });
  s.beginInterval();
  return s;
}

test('user frames: PIE at a random base, return addresses looked up one byte back, JIT, unknown, vDSO', () => {
  const s = symbolizer();
  const r = s.user(PID, [
    BASE + sym('inner') + 2, // leaf: the address itself
    BASE + sym('outer') + 1, // a return address right after outer's start: byte before = outer
    JIT_START + 0x120, // JIT code named by the perf map (the namespace pid 17 picks the file)
    JIT_START + 0x5000, // JIT region, no entry
    0x7ffd000f0000 + 0x9a0, // vDSO
    0x1234, // nobody maps it
  ]);
  assert.deepEqual(r.frames, [
    'inner',
    'outer',
    'JS:*hotLoop /app/hot.js:3:1',
    `[unknown] 0x${(JIT_START + 0x5000).toString(16)}`,
    '[vdso]+0x9a0',
    '[unknown] 0x1234',
  ]);
  assert.equal(r.complete, true);
  assert.equal(s.stats.filesLoaded, 1);
  assert.equal(s.stats.jitFrames, 1);
});

test('a perf map that grew is re-read once per interval; later entries win', () => {
  const s = symbolizer();
  assert.equal(s.user(PID, [JIT_START + 0x300]).frames[0], `[unknown] 0x${(JIT_START + 0x300).toString(16)}`);
  appendFileSync(
    perfMapPath,
    `${(JIT_START + 0x300).toString(16)} 40 JS:~coldFn /app/cold.js:9:2\n${(JIT_START + 0x100).toString(16)} 80 JS:*hotLoop2 /app/hot.js:3:1\n`
  );
  assert.equal(
    s.user(PID, [JIT_START + 0x300]).frames[0],
    `[unknown] 0x${(JIT_START + 0x300).toString(16)}`,
    'same interval: not re-read'
  );
  s.beginInterval();
  assert.equal(s.user(PID, [JIT_START + 0x310]).frames[0], 'JS:~coldFn /app/cold.js:9:2');
  assert.equal(
    s.user(PID, [JIT_START + 0x101]).frames[0],
    'JS:*hotLoop2 /app/hot.js:3:1',
    'recompiled code at the same address'
  );
});

test('the load budget: past it frames are module+offset and the stack is marked incomplete', () => {
  let now = 0;
  const s = symbolizer(5, () => now);
  now = 10; // the interval's budget (5 ms from 0) is spent before the first file is read
  const r = s.user(PID, [BASE + sym('inner') + 2]);
  assert.equal(r.complete, false);
  assert.match(r.frames[0], /^app\+0x[0-9a-f]+$/);
  assert.equal(s.stats.deferredFrames, 1);
  s.beginInterval();
  assert.deepEqual(s.user(PID, [BASE + sym('inner') + 2]), { frames: ['inner'], complete: true });
});

test('kernel frames from kallsyms (text symbols only, modules included); unknown ones keep their address', () => {
  const s = symbolizer();
  const k = (hex: string) => parseInt(hex.slice(-12), 16);
  assert.deepEqual(
    s.kernelStack([k('ffffffff81100810'), k('ffffffff81100401'), k('ffffffff81100055'), k('ffffffffc0000010')]),
    ['vfs_read', 'ksys_read', 'do_syscall_64', 'mod_fn']
  );
  assert.deepEqual(s.kernelStack([k('ffffffff80000000')]), ['[kernel] 0xffff80000000']);
});

test('maps parsing: executable mappings only, deleted files, lookups at the edges', () => {
  const maps = parseMaps(
    '00400000-00452000 r-xp 00000000 08:02 173521 /usr/bin/dbus-daemon\n' +
      '00651000-00652000 r--p 00051000 08:02 173521 /usr/bin/dbus-daemon\n' +
      '7f0000000000-7f0000010000 r-xp 00001000 08:02 99 /usr/lib/libx.so (deleted)\n'
  );
  assert.equal(maps.length, 2);
  assert.equal(maps[1].path, '/usr/lib/libx.so');
  assert.equal(maps[1].deleted, true);
  assert.equal(findMapping(maps, 0x400000)?.inode, 173521);
  assert.equal(findMapping(maps, 0x452000), undefined, 'end is exclusive');
  assert.equal(findMapping(maps, 0x7f000000ffff)?.offset, 0x1000);
});

test('perf map: malformed lines are skipped, a rewritten file starts over', () => {
  const p = join(dir, 'perf-99.map');
  writeFileSync(p, 'zz\n1000 10 a\nbad line\n2000 0 zero-size\n3000 10 b');
  const m = new PerfMap(p);
  assert.equal(m.refresh(), true);
  assert.equal(m.lookup(0x1005), 'a');
  assert.equal(m.lookup(0x3005), undefined, 'the last line has no newline yet');
  appendFileSync(p, '\n');
  m.refresh();
  assert.equal(m.lookup(0x3005), 'b');
  writeFileSync(p, '5000 10 c\n');
  m.refresh();
  assert.equal(m.lookup(0x1005), undefined);
  assert.equal(m.lookup(0x5001), 'c');
  assert.equal(new PerfMap(join(dir, 'nope.map')).refresh(), false);
});

test('a stripped binary is named from its separate debug file, found by build id', () => {
  const stripped = join(dir, 'app.stripped');
  execFileSync('strip', ['--strip-all', '-o', stripped, bin]);
  const id = readElf(stripped).buildId;
  assert.match(id, /^[0-9a-f]{40}$/);
  const debugDir = join(dir, 'debug');
  mkdirSync(join(debugDir, '.build-id', id.slice(0, 2)), { recursive: true });
  execFileSync('objcopy', [
    '--only-keep-debug',
    bin,
    join(debugDir, '.build-id', id.slice(0, 2), `${id.slice(2)}.debug`),
  ]);
  const pid = 4343;
  mkdirSync(join(proc, String(pid)), { recursive: true });
  writeFileSync(
    join(proc, String(pid), 'maps'),
    `${mapStart.toString(16)}-${mapEnd.toString(16)} r-xp ${(text.offset - (text.offset % 4096)).toString(16).padStart(8, '0')} fd:01 778 ${stripped}\n`
  );
  const plain = new Symbolizer({ procRoot: proc, debugDirs: [join(dir, 'nowhere')] });
  plain.beginInterval();
  assert.match(
    plain.user(pid, [BASE + sym('inner') + 2]).frames[0],
    /^app\.stripped\+0x/,
    'a local function is not in .dynsym'
  );
  const withDebug = new Symbolizer({ procRoot: proc, debugDirs: [debugDir] });
  withDebug.beginInterval();
  assert.deepEqual(withDebug.user(pid, [BASE + sym('inner') + 2, BASE + sym('outer') + 1]).frames, ['inner', 'outer']);
  assert.equal(withDebug.stats.debugFiles, 1);
});
