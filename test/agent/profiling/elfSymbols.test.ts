// ELF symbols, MiniDebugInfo, PIE offsets, build ids and .eh_frame rules, on binaries built here
// and on the system's libc (its call-frame rules checked row by row against binutils' readelf).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { ehFrame, fileOffsetToVaddr, readElf, ElfError } from '../../../src/agent/profiling/elfFile';
import { FRAME_POINTER } from '../../../src/agent/profiling/ehFrame';

const dir = mkdtempSync(join(tmpdir(), 'flowlens-elf-'));
const src = join(dir, 'prog.c');
writeFileSync(
  src,
  `#include <stdio.h>
static volatile int sink;
__attribute__((noinline)) static void local_helper(int n) { for (int i = 0; i < n; i++) sink += i; }
__attribute__((noinline)) void exported_work(int n) { local_helper(n); }
int main(int argc, char **argv) { exported_work(argc); printf("%d\\n", sink); return 0; }
`
);
const full = join(dir, 'prog');
execFileSync('gcc', ['-O1', '-fPIE', '-pie', '-rdynamic', '-Wl,--build-id=sha1', '-o', full, src]);
const nm = (path: string, name: string) => {
  const line = execFileSync('nm', [path], { encoding: 'utf8' })
    .split('\n')
    .find((l) => l.endsWith(` ${name}`));
  assert.ok(line, `nm finds ${name}`);
  return parseInt(line.split(' ')[0], 16);
};

test('symbols from .symtab: exported and local functions, build id, PIE load segments', () => {
  const info = readElf(full);
  assert.equal(info.source, 'symtab');
  assert.equal(info.type, 3, 'a PIE is ET_DYN');
  const buildId = /Build ID: ([0-9a-f]+)/.exec(execFileSync('readelf', ['-n', full], { encoding: 'utf8' }))![1];
  assert.equal(info.buildId, buildId);
  const helper = nm(full, 'local_helper');
  const work = nm(full, 'exported_work');
  assert.equal(info.symbols.lookup(helper), 'local_helper');
  assert.equal(info.symbols.lookup(helper + 3), 'local_helper', 'inside the function');
  assert.equal(info.symbols.lookup(work + 1), 'exported_work');
  assert.equal(info.symbols.lookup(1), undefined, 'before any function');
  // the text segment: file offset -> address
  const text = info.loads.find((l) => l.vaddr <= work && work < l.vaddr + l.filesz)!;
  assert.equal(fileOffsetToVaddr(info, work - text.vaddr + text.offset), work);
});

test('stripped: .dynsym names exported functions only; MiniDebugInfo (.gnu_debugdata, xz) brings the local ones back', () => {
  const stripped = join(dir, 'prog.stripped');
  execFileSync('strip', ['--strip-all', '-o', stripped, full]);
  const s = readElf(stripped);
  assert.equal(s.source, 'dynsym');
  assert.equal(s.symbols.lookup(nm(full, 'exported_work')), 'exported_work');
  assert.equal(s.symbols.lookup(nm(full, 'local_helper')), undefined, 'local function: not in .dynsym');

  // MiniDebugInfo as distributions build it: the function symbols in a small ELF, xz-compressed
  const mini = join(dir, 'mini.debug');
  execFileSync('objcopy', [
    '--only-keep-debug',
    '--remove-section=.debug_*',
    '--remove-section=.gdb_index',
    '--remove-section=.comment',
    full,
    mini,
  ]);
  execFileSync('xz', ['-f', mini]);
  const withMini = join(dir, 'prog.minidebuginfo');
  execFileSync('objcopy', [`--add-section`, `.gnu_debugdata=${mini}.xz`, stripped, withMini]);
  const m = readElf(withMini);
  assert.equal(m.source, 'dynsym+debugdata');
  assert.equal(m.symbols.lookup(nm(full, 'local_helper') + 2), 'local_helper');
  assert.equal(m.symbols.lookup(nm(full, 'exported_work')), 'exported_work');
});

test('bad files are refused with ElfError', () => {
  const junk = join(dir, 'junk');
  writeFileSync(junk, Buffer.alloc(200, 0x41));
  assert.throws(() => readElf(junk), ElfError);
  assert.throws(() => readElf(join(dir, 'missing')), ElfError);
  const truncated = join(dir, 'truncated');
  writeFileSync(truncated, execFileSync('head', ['-c', '100', full]));
  assert.doesNotThrow(() => readElf(truncated), 'a truncated file gives what it has (no symbols), not a crash');
  assert.equal(readElf(truncated).symbols.length, 0);
});

test('.eh_frame rules of libc agree with readelf --debug-dump=frames-interp row by row', () => {
  const libc = '/lib/x86_64-linux-gnu/libc.so.6';
  const info = readElf(libc);
  const eh = ehFrame(info)!;
  assert.ok(eh && eh.fdeCount > 1000, `libc has ${eh?.fdeCount} FDEs`);
  // readelf exits 1 over an unrelated warning about this libc's .debug sections; its table is complete
  const text = spawnSync('readelf', ['--debug-dump=frames-interp', libc], {
    encoding: 'utf8',
    maxBuffer: 1 << 28,
  }).stdout;
  let cols: string[] = [];
  let checked = 0;
  let framePointer = 0;
  let inFde = false;
  for (const line of text.split('\n')) {
    if (/ (FDE|CIE) /.test(line)) {
      inFde = / FDE /.test(line);
      cols = [];
      continue;
    }
    if (/^\s+LOC\s+CFA/.test(line)) {
      cols = inFde ? line.trim().split(/\s+/) : [];
      continue;
    }
    const m = /^([0-9a-f]{16}) (.*)$/.exec(line);
    if (!m || !cols.length) {
      continue;
    }
    const cells = m[2]
      .replace(/r\d+ \(\w+\)/g, 'reg')
      .trim()
      .split(/\s+/);
    const row: Record<string, string> = {};
    cols.slice(1).forEach((c, i) => (row[c] = cells[i]));
    const loc = parseInt(m[1], 16);
    const got = eh.ruleAt(loc);
    const rbp =
      row.rbp && row.rbp.startsWith('c')
        ? Number(row.rbp.slice(1))
        : row.rbp === undefined || row.rbp === 'u'
          ? 0
          : NaN;
    const cfa = /^rsp\+(\d+)$/.exec(row.CFA);
    if (row.ra === 'u') {
      assert.deepEqual(got, { cfaOff: 0, rbpOff: 0 }, `0x${loc.toString(16)}: outermost frame`);
    } else if (cfa && !Number.isNaN(rbp)) {
      assert.deepEqual(
        got,
        { cfaOff: Number(cfa[1]), rbpOff: rbp },
        `0x${loc.toString(16)}: ${row.CFA} rbp ${row.rbp}`
      );
    } else if (row.CFA === 'rbp+16' && row.rbp === 'c-16') {
      assert.equal(got, FRAME_POINTER, `0x${loc.toString(16)}`);
      framePointer++;
    } else {
      assert.ok(
        got === undefined || (typeof got === 'object' && got.cfaOff === 0),
        `0x${loc.toString(16)}: ${row.CFA} rbp ${row.rbp}: no rule, got ${JSON.stringify(got)}`
      );
    }
    checked++;
  }
  assert.ok(checked > 5000, `${checked} rows checked`);
  assert.ok(framePointer > 10, `${framePointer} frame-pointer rows`);
  // read(): the syscall wrapper threads block in keeps no frame pointer
  const read = parseInt(
    execFileSync('nm', ['-D', libc], { encoding: 'utf8' })
      .split('\n')
      .find((l) => / T read@@/.test(l))!
      .split(' ')[0],
    16
  );
  assert.deepEqual(eh.ruleAt(read + 1), { cfaOff: 8, rbpOff: 0 });
});
