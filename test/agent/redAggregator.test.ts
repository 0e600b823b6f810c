import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RedAggregator } from '../../src/agent/metrics/redAggregator';
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
