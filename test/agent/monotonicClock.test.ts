import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadAddon, MAX_CLOCK_SPREAD_NS, MonotonicClock } from '../../src/agent/capture/nativeTracer';

// A read preempted between its monotonic and realtime clocks (milliseconds on a loaded 2-CPU host) once
// put every syscall row 9 ms from the packet capture's stamps, and the demo's trace lost its NIC spans.
test('the wall-clock offset ignores a preempted read while it holds a good one', () => {
  const reads: Array<[bigint, bigint, bigint]> = [
    [1_000_000n, 5_000_000_000n, 300n], // offset 4999 ms
    [2_000_000n, 5_010_400_000n, 9_400_000n], // preempted 9.4 ms between the reads: skipped
    [3_000_000n, 5_002_000_500n, 200n], // NTP moved the wall clock by 0.5 µs: followed
  ];
  const clock = new MonotonicClock({ clocks: () => reads.shift()! });
  assert.equal(clock.toWallUs(1_000_000), 5_000_000);
  clock.resync();
  assert.equal(clock.toWallUs(1_000_000), 5_000_000);
  assert.equal(clock.skipped, 1);
  clock.resync();
  assert.equal(clock.toWallUs(1_000_000), 5_000_001);
  // the first read is taken whatever its spread: there is nothing better to hold
  const first = new MonotonicClock({ clocks: () => [0n, 7_000_000n, 50_000_000n] });
  assert.equal(first.toWallUs(0), 7_000);
});

test('the native addon brackets its realtime read tightly (built addon, no privileges needed)', () => {
  const native = loadAddon();
  const spreads: bigint[] = [];
  for (let i = 0; i < 20; i++) {
    const [mono, real, spread] = native.clocks();
    const now = process.hrtime.bigint(); // CLOCK_MONOTONIC too
    assert.ok(mono <= now && now - mono < 1_000_000_000n, `monotonic ${mono} vs ${now}`);
    assert.ok(real > 1_600_000_000_000_000_000n, `realtime ${real}`);
    spreads.push(spread);
  }
  const best = spreads.reduce((a, b) => (a < b ? a : b));
  assert.ok(best < BigInt(MAX_CLOCK_SPREAD_NS), `tightest bracket ${best} ns`);
});
