import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RedAggregator } from '../../src/agent/metrics/redAggregator';
import { LATENCY_SKETCH_GAMMA, latencySketchKey } from '../../src/shared/schema';
import type { L7FlowLogRow } from '../../src/agent/requestlog/l7FlowLog';

const row = (o: Partial<L7FlowLogRow>): L7FlowLogRow =>
  ({
    time: 1700000000,
    host: 'h',
    observation_point: 'server_process',
    client_service: 'web',
    server_service: 'api',
    l7_protocol: 'HTTP',
    endpoint: '/a',
    server_port: 8080,
    response_status: 'ok',
    response_duration_us: 100,
    request_length: 10,
    response_length: 20,
    ...o,
  }) as L7FlowLogRow;

test('one row per second, series and endpoint, with exact sums', () => {
  const red = new RedAggregator();
  red.add(row({}));
  red.add(row({ response_status: 'server_error', response_duration_us: 300 }));
  red.add(row({ endpoint: '/b', response_status: 'client_error' }));
  red.add(row({ time: 1700000001 }));
  red.add(row({ observation_point: 'client_process' }));
  const out = red.flush();
  assert.equal(out.length, 4);
  const a = out.find((m) => m.time === 1700000000 && m.endpoint === '/a' && m.observation_point === 'server_process')!;
  assert.equal(a.request_count, 2);
  assert.equal(a.error_count, 1);
  assert.equal(a.server_error_count, 1);
  assert.equal(a.response_duration_sum_us, 400);
  assert.equal(a.response_duration_max_us, 300);
  assert.equal(a.request_bytes, 20);
  assert.equal(red.flush().length, 0, 'flushed seconds are gone');
});

test('flush(before) keeps the seconds not finished yet', () => {
  const red = new RedAggregator();
  red.add(row({ time: 100 }));
  red.add(row({ time: 101 }));
  assert.deepEqual(
    red.flush(101).map((m) => m.time),
    [100]
  );
  assert.deepEqual(
    red.flush().map((m) => m.time),
    [101]
  );
});

test('a connection keeps its series while its ends keep their names, and gets a new one when a name changes', () => {
  const first = RedAggregator.series(row({}));
  assert.equal(RedAggregator.series(row({}), first), first, 'same ends: reused');
  // the process table learnt the client's name after the first rows
  const renamed = RedAggregator.series(row({ client_service: 'checkout' }), first);
  assert.notEqual(renamed, first);
  assert.notEqual(renamed.key, first.key);
  const red = new RedAggregator();
  red.add(row({}), first);
  red.add(row({ client_service: 'checkout' }), renamed);
  const out = red.flush();
  assert.deepEqual(out.map((m) => m.client_service).sort(), ['checkout', 'web']);
  // names that differ only in where a '|' falls are different series
  const x = RedAggregator.series(row({ client_service: 'a|b', server_service: 'c' }));
  const y = RedAggregator.series(row({ client_service: 'a', server_service: 'b|c' }));
  assert.notEqual(x.key, y.key);
});

test('a second holds at most its bound of rows: requests of further new series count in one (other) row per observation point and protocol', () => {
  const red = new RedAggregator(3);
  red.add(row({ client_service: 'web' })); // a real series, seen before the flood
  for (let i = 0; i < 10; i++) {
    red.add(row({ client_service: `10.0.0.${i}`, response_status: i % 2 ? 'server_error' : 'ok' }));
  }
  red.add(row({ client_service: 'web' })); // its row exists: still counted under its own name
  red.add(row({ client_service: '10.0.9.9', l7_protocol: 'DNS', endpoint: 'A x' }));
  red.add(row({ client_service: 'web', time: 1700000001 })); // the next second starts with room again
  assert.deepEqual(red.stats(), { name: 'red rows/s', size: 3, max: 3, evicted: 9 });
  const out = red.flush();
  const key = (m: (typeof out)[0]) => [
    m.time,
    m.client_service,
    m.server_service,
    m.l7_protocol,
    m.endpoint,
    m.server_port,
    m.request_count,
    m.error_count,
  ];
  assert.deepEqual(
    out.map(key).sort(),
    [
      [1700000000, '(other)', '(other)', 'DNS', '(other)', 0, 1, 0],
      [1700000000, '(other)', '(other)', 'HTTP', '(other)', 0, 8, 4],
      [1700000000, '10.0.0.0', 'api', 'HTTP', '/a', 8080, 1, 0],
      [1700000000, '10.0.0.1', 'api', 'HTTP', '/a', 8080, 1, 1],
      [1700000000, 'web', 'api', 'HTTP', '/a', 8080, 2, 0],
      [1700000001, 'web', 'api', 'HTTP', '/a', 8080, 1, 0],
    ].sort()
  );
  assert.equal(
    out.reduce((n, m) => n + m.request_count, 0),
    14,
    'every request counted'
  );
});

test('latency sketch: every request under its key, each key within 1% of its durations', () => {
  const red = new RedAggregator();
  const durations = [0, 1, 2, 99, 100, 101, 1234, 1250, 50_000, 999_999, 1_000_000, 12_345_678];
  for (const us of durations) {
    red.add(row({ response_duration_us: us }));
  }
  red.add(row({ response_duration_us: 1234 }));
  const [m] = red.flush();
  assert.deepEqual(
    m.latency_sketch_keys,
    [...m.latency_sketch_keys].sort((a, b) => a - b),
    'keys ascending'
  );
  assert.equal(
    m.latency_sketch_counts.reduce((a, b) => a + b, 0),
    durations.length + 1
  );
  assert.equal(m.latency_sketch_counts[m.latency_sketch_keys.indexOf(latencySketchKey(1234))], 2);
  for (const us of durations) {
    const k = latencySketchKey(us);
    assert.ok(m.latency_sketch_keys.includes(k), `key of ${us} µs`);
    // the representative pkg/plugin reads back for key k (schema.ts LATENCY_SKETCH_GAMMA)
    const value = k === 0 ? 0 : (2 * LATENCY_SKETCH_GAMMA ** (k - 1)) / (LATENCY_SKETCH_GAMMA + 1);
    assert.ok(Math.abs(value - us) <= 0.01 * us, `${us} µs read back as ${value}`);
  }
});
