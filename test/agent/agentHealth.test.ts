import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventLoopDelay } from '../../src/agent/agentHealth';

test('event-loop delay: a 200 ms block shows as max in its interval, not in the next one', async () => {
  const d = new EventLoopDelay();
  try {
    await new Promise((r) => setTimeout(r, 50));
    d.takeInterval();
    // block the loop for 200 ms of this process's CPU (not of wall time: on a loaded machine the
    // scheduler may give it less than the wall clock shows)
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    while (process.cpuUsage(cpu0).user + process.cpuUsage(cpu0).system < 200_000) {
      /* block the loop */
    }
    const wallMs = performance.now() - t0;
    await new Promise((r) => setTimeout(r, 50)); // the late tick fires
    const blocked = d.takeInterval();
    assert.ok(
      blocked.maxMs >= 180 && blocked.maxMs < wallMs + 1000,
      `max ${blocked.maxMs} ms (blocked ${wallMs.toFixed(0)} ms of wall time)`
    );
    assert.ok(blocked.maxBusyMs >= 150, `a block that ran on CPU is the agent's own: busy max ${blocked.maxBusyMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
    const idle = d.takeInterval();
    assert.ok(idle.maxMs < 150, `idle max ${idle.maxMs} ms (the block must not count again)`);
    assert.match(d.statusText(), /^event loop p99 \d+ ms max \d+ ms \(busy max \d+ ms\)$/);
  } finally {
    d.stop();
  }
});

test('event-loop delay: p99 is the 99th percentile of the interval, by 1 ms buckets', () => {
  const d = new EventLoopDelay();
  d.stop();
  d.takeInterval();
  for (let i = 0; i < 990; i++) {
    d.record(0.5);
  }
  for (let i = 0; i < 10; i++) {
    d.record(40.2);
  }
  assert.deepEqual(d.takeInterval(), { p99Ms: 1, maxMs: 40.2, maxBusyMs: 40.2 });
  for (let i = 0; i < 98; i++) {
    d.record(2);
  }
  d.record(30);
  d.record(5000);
  assert.deepEqual(d.takeInterval(), { p99Ms: 31, maxMs: 5000, maxBusyMs: 5000 });
  assert.deepEqual(d.takeInterval(), { p99Ms: 0, maxMs: 0, maxBusyMs: 0 });
});

test('event-loop delay: a thread that waited off CPU (not scheduled) is late but not busy', async () => {
  const d = new EventLoopDelay();
  try {
    await new Promise((r) => setTimeout(r, 50));
    d.takeInterval();
    // Atomics.wait blocks this thread without using CPU, as being descheduled does
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    await new Promise((r) => setTimeout(r, 50));
    const waited = d.takeInterval();
    assert.ok(waited.maxMs >= 180, `max ${waited.maxMs} ms`);
    assert.ok(waited.maxBusyMs < 100, `busy max ${waited.maxBusyMs} ms for a thread that used no CPU`);
  } finally {
    d.stop();
  }
});
