// Kernel counts -> profile_samples rows: the drain format, frame order, units, merging, the row
// limit (totals kept), special frames; and the profiling configuration.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeDrain,
  NO_STACK,
  ProfileDecodeError,
  STACK_RATE_LIMITED,
  STACK_USER_TRUNC,
} from '../../../src/agent/profiling/profileDecoder';
import {
  FRAME_LOST,
  FRAME_OTHER,
  FRAME_RATE_LIMITED,
  FRAME_TRUNCATED,
  ProfileAggregator,
  stackId,
  trimSchedulerFrames,
} from '../../../src/agent/profiling/profileAggregator';
import type { Symbolizer } from '../../../src/agent/profiling/symbolizer';
import { loadConfig } from '../../../src/agent/config';

interface C {
  pid: number;
  tid: number;
  kind: number;
  flags?: number;
  user?: number;
  kernel?: number;
  value: number;
}
interface S {
  hash: string;
  lost?: boolean;
  ips: number[];
}

/** A buffer in native/src/profiler.c's drain layout. */
function drainBuffer(counts: C[], stacks: S[]): Buffer {
  const size = 16 + counts.length * 32 + stacks.reduce((n, s) => n + 16 + 8 * s.ips.length, 0);
  const b = Buffer.alloc(size);
  b.writeUInt32LE(1, 0);
  b.writeUInt32LE(counts.length, 4);
  b.writeUInt32LE(stacks.length, 8);
  let o = 16;
  for (const c of counts) {
    b.writeUInt32LE(c.pid, o);
    b.writeUInt32LE(c.tid, o + 4);
    b.writeUInt32LE(c.kind, o + 8);
    b.writeUInt32LE(c.flags ?? 0, o + 12);
    b.writeUInt32LE(c.user ?? NO_STACK, o + 16);
    b.writeUInt32LE(c.kernel ?? NO_STACK, o + 20);
    b.writeBigUInt64LE(BigInt(c.value), o + 24);
    o += 32;
  }
  for (const s of stacks) {
    b.writeUInt32LE(s.ips.length, o);
    b.writeUInt32LE(s.lost ? 1 : 0, o + 4);
    b.write(s.hash, o + 8, 'hex');
    o += 16;
    for (const ip of s.ips) {
      b.writeBigUInt64LE(BigInt(ip), o);
      o += 8;
    }
  }
  return b;
}

/** Names each address from a table; kernel addresses as the decoder gives them (low 48 bits). */
function fakeSymbolizer(names: Record<number, string>): Symbolizer {
  return {
    beginInterval() {},
    user: (_pid: number, ips: number[]) => ({ frames: ips.map((ip) => names[ip] ?? `?${ip}`), complete: true }),
    kernelStack: (ips: number[]) => ips.map((ip) => names[ip] ?? `?${ip}`),
  } as unknown as Symbolizer;
}

const K = (a: number) => 0xffff00000000 + a; // a kernel address's low 48 bits
const names: Record<number, string> = {
  0x1000: 'work_a',
  0x1010: 'work_a', // another address in the same function
  0x2000: 'main',
  0x3000: 'read',
  0x3100: 'block_on_pipe',
  [K(1)]: 'bpf_trace_run4',
  [K(2)]: '__schedule',
  [K(3)]: 'schedule',
  [K(4)]: 'anon_pipe_read',
  [K(5)]: 'entry_SYSCALL_64',
};

const naming = { comm: (pid: number) => `proc${pid}`, service: (pid: number) => `svc${pid}` };

test('drain decoding: counts, 64-bit values, kernel addresses as low 48 bits, bad buffers refused', () => {
  const buf = drainBuffer(
    [{ pid: 7, tid: 8, kind: 1, flags: 4, user: 0, kernel: 1, value: 2 ** 40 + 5 }],
    [
      { hash: '0102030405060708', ips: [0x7f0012345678] },
      { hash: 'aabbccddeeff0011', ips: [0] },
    ]
  );
  buf.writeBigUInt64LE(0xffffffff81234567n, buf.length - 8);
  const d = decodeDrain(buf);
  assert.deepEqual(d.counts[0], { pid: 7, tid: 8, kind: 1, flags: 4, user: 0, kernel: 1, value: 2 ** 40 + 5 });
  assert.deepEqual(d.stacks[0], { hash: '0102030405060708', lost: false, ips: [0x7f0012345678] });
  assert.equal(d.stacks[1].ips[0], 0xffff81234567);
  assert.throws(() => decodeDrain(buf.subarray(0, 40)), ProfileDecodeError);
  const bad = Buffer.from(buf);
  bad.writeUInt32LE(5, 16 + 16); // user stack index out of the table
  assert.throws(() => decodeDrain(bad), /not in the table/);
});

test('rows: user frames root first then kernel frames; off-CPU in µs from __schedule up; same frames merged', () => {
  const agg = new ProfileAggregator({ host: 'h', symbolizer: fakeSymbolizer(names), naming, maxRows: 1000 });
  const d = decodeDrain(
    drainBuffer(
      [
        { pid: 10, tid: 11, kind: 0, user: 0, value: 7 },
        { pid: 10, tid: 11, kind: 0, user: 1, value: 3 }, // another raw stack, same functions: merged
        { pid: 10, tid: 12, kind: 1, user: 2, kernel: 3, value: 2_500_400 }, // 2.5004 ms blocked
        { pid: 10, tid: 12, kind: 1, user: 4, value: 900 }, // below 1 µs after rounding: dropped
      ],
      [
        { hash: '01', ips: [0x1000, 0x2000] },
        { hash: '02', ips: [0x1010, 0x2000] },
        { hash: '03', ips: [0x3000, 0x3100, 0x2000] },
        { hash: '04', ips: [K(1), K(2), K(3), K(4), K(5)] },
        { hash: '05', ips: [0x3000] },
      ]
    )
  );
  const rows = agg.build(d, 1700000000);
  const on = rows.filter((r) => r.event === 'on_cpu');
  assert.equal(on.length, 1);
  assert.deepEqual(on[0].stack, ['main', 'work_a']);
  assert.equal(on[0].value, 10);
  assert.equal(on[0].stack_id, stackId(['main', 'work_a']));
  const off = rows.filter((r) => r.event === 'off_cpu');
  assert.equal(off.length, 2);
  assert.deepEqual(off[0].stack, [
    'main',
    'block_on_pipe',
    'read',
    'entry_SYSCALL_64',
    'anon_pipe_read',
    'schedule',
    '__schedule',
  ]);
  assert.equal(off[0].value, 2500);
  assert.equal(off[1].value, 1);
  assert.deepEqual(
    {
      time: off[0].time,
      host: off[0].host,
      pid: off[0].pid,
      tid: off[0].tid,
      process: off[0].process,
      service: off[0].service,
    },
    { time: 1700000000, host: 'h', pid: 10, tid: 12, process: 'proc10', service: 'svc10' }
  );
  assert.equal(agg.counters.onCpuSamples, 10);
});

test('special frames: evicted stack, rate-limited off-CPU block, truncated user stack', () => {
  const agg = new ProfileAggregator({ host: 'h', symbolizer: fakeSymbolizer(names), naming, maxRows: 1000 });
  const rows = agg.build(
    decodeDrain(
      drainBuffer(
        [
          { pid: 1, tid: 1, kind: 0, user: 0, value: 1 },
          { pid: 1, tid: 2, kind: 1, flags: STACK_RATE_LIMITED, value: 5_000_000 },
          { pid: 1, tid: 3, kind: 0, flags: STACK_USER_TRUNC, user: 1, value: 2 },
        ],
        [
          { hash: '0a', lost: true, ips: [] },
          { hash: '0b', ips: [0x1000, 0x2000] },
        ]
      )
    ),
    0
  );
  assert.deepEqual(
    rows.sort((a, b) => a.tid - b.tid).map((r) => r.stack),
    [[FRAME_LOST], [FRAME_RATE_LIMITED], [FRAME_TRUNCATED, 'main', 'work_a']]
  );
  assert.equal(agg.counters.stacksLost, 1);
});

test('the row limit folds the smallest stacks into one row per process and event; totals unchanged', () => {
  const agg = new ProfileAggregator({ host: 'h', symbolizer: fakeSymbolizer({}), naming, maxRows: 100 });
  const counts: C[] = [];
  const stacks: S[] = [];
  for (let i = 0; i < 300; i++) {
    stacks.push({ hash: i.toString(16).padStart(4, '0'), ips: [0x10000 + i] });
    counts.push({ pid: 1 + (i % 3), tid: 5, kind: 0, user: i, value: 1 + i });
  }
  const rows = agg.build(decodeDrain(drainBuffer(counts, stacks)), 0);
  assert.ok(rows.length <= 100, `${rows.length} rows`);
  for (const pid of [1, 2, 3]) {
    const want = counts.filter((c) => c.pid === pid).reduce((n, c) => n + c.value, 0);
    const got = rows.filter((r) => r.pid === pid).reduce((n, r) => n + r.value, 0);
    assert.equal(got, want, `pid ${pid} total`);
    assert.equal(rows.filter((r) => r.pid === pid && r.stack[0] === FRAME_OTHER).length, 1);
  }
  assert.equal(rows.find((r) => r.stack[0] === FRAME_OTHER)!.tid, 0);
  assert.equal(agg.counters.rowsFolded, 300 - 36);
  assert.equal(rows[0].value, 300, 'the biggest stack is kept');
});

test('a stack whose binary was not read yet (load budget) waits for the next interval, then keeps its own time', () => {
  let budget = false;
  const sym = {
    beginInterval() {},
    user: (_pid: number, ips: number[]) => ({
      frames: ips.map((ip) => (budget ? (names[ip] ?? '?') : `app+0x${ip.toString(16)}`)),
      complete: budget,
    }),
    kernelStack: (ips: number[]) => ips.map(() => 'k'),
  } as unknown as Symbolizer;
  const agg = new ProfileAggregator({ host: 'h', symbolizer: sym, naming, maxRows: 1000 });
  const d = decodeDrain(
    drainBuffer([{ pid: 3, tid: 3, kind: 0, user: 0, value: 4 }], [{ hash: '0c', ips: [0x1000, 0x2000] }])
  );
  assert.deepEqual(agg.build(d, 100), [], 'held back');
  assert.equal(agg.pendingCount, 1);
  budget = true;
  const rows = agg.build(decodeDrain(drainBuffer([], [])), 101);
  assert.deepEqual(
    rows.map((r) => [r.time, r.stack, r.value]),
    [[100, ['main', 'work_a'], 4]]
  );
  // never named: written after two more intervals with module+offset frames, not lost
  budget = false;
  const d2 = decodeDrain(
    drainBuffer([{ pid: 3, tid: 3, kind: 0, user: 0, value: 4 }], [{ hash: '0d', ips: [0x1000, 0x2000] }])
  );
  assert.deepEqual(agg.build(d2, 200), []);
  agg.build(decodeDrain(drainBuffer([], [])), 201);
  const last = agg.build(decodeDrain(drainBuffer([], [])), 202);
  assert.deepEqual(
    last.map((r) => [r.time, r.stack, r.value]),
    [[200, ['app+0x2000', 'app+0x1000'], 4]]
  );
  assert.equal(agg.pendingCount, 0);
});

test('stack ids: deterministic, order-sensitive, fit a JSON number exactly', () => {
  const a = stackId(['main', 'work_a']);
  assert.equal(a, stackId(['main', 'work_a']));
  assert.notEqual(a, stackId(['work_a', 'main']));
  assert.notEqual(a, stackId(['mainwork_a']));
  assert.ok(Number.isSafeInteger(a) && a >= 0);
});

test('off-CPU kernel stacks start at __schedule (tracepoint frames dropped)', () => {
  assert.deepEqual(trimSchedulerFrames(['bpf_prog_x', 'bpf_trace_run4', '__schedule', 'schedule', 'x']), [
    '__schedule',
    'schedule',
    'x',
  ]);
  assert.deepEqual(trimSchedulerFrames(['bpf_trace_run4', '__traceiter_sched_switch', 'do_thing']), ['do_thing']);
  assert.deepEqual(trimSchedulerFrames(['only']), ['only']);
});

test('profiling config: defaults, file, environment, one-line errors naming the key', () => {
  const { writeFileSync, mkdtempSync } = require('node:fs') as typeof import('node:fs');
  const { join } = require('node:path') as typeof import('node:path');
  const dir = mkdtempSync(join(require('node:os').tmpdir(), 'flowlens-pcfg-'));
  const file = (o: object) => {
    const p = join(dir, `c${Math.random()}.json`);
    writeFileSync(p, JSON.stringify(o));
    return p;
  };
  const d = loadConfig(undefined, {}).profiling;
  assert.deepEqual(
    { enabled: d.enabled, hz: d.hz, intervalMs: d.intervalMs, off: d.offCpu.enabled, min: d.offCpu.minBlockUs },
    { enabled: true, hz: 99, intervalMs: 1000, off: true, min: 1000 }
  );
  const c = loadConfig(file({ profiling: { hz: 49, offCpu: { minBlockUs: 5000 }, pids: [12, 13] } }), {
    FLOWLENS_PROFILING_OFFCPU: 'false',
    FLOWLENS_PROFILING_HZ: '19',
  }).profiling;
  assert.deepEqual(
    [c.hz, c.offCpu.enabled, c.offCpu.minBlockUs, c.pids, c.intervalMs],
    [19, false, 5000, [12, 13], 1000]
  );
  assert.equal(loadConfig(undefined, { FLOWLENS_PROFILING: '0' }).profiling.enabled, false);
  assert.throws(
    () => loadConfig(file({ profiling: { hz: 0 } }), {}),
    /config profiling\.hz=0 is invalid: expected an integer from 1 to 1000/
  );
  assert.throws(
    () => loadConfig(file({ profiling: { offCpu: { minBlock: 1 } } }), {}),
    /profiling\.offCpu: unknown key "minBlock"/
  );
  assert.throws(() => loadConfig(file({ profiling: 'yes' }), {}), /config profiling is invalid: expected an object/);
  assert.throws(
    () => loadConfig(undefined, { FLOWLENS_PROFILING_PIDS: '1,x' }),
    /profiling\.pids \(FLOWLENS_PROFILING_PIDS\)\[1\]="x" is invalid/
  );
});
