import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { TABLES, renderCreateTable } from '../../src/shared/schema';

// The canonical names of DESIGN.md: a public contract. Extend, never rename.
const CANONICAL: Record<string, string[]> = {
  l7_flow_log: [
    'time',
    'start_time_us',
    'end_time_us',
    'response_duration_us',
    'l7_protocol',
    'request_type',
    'request_domain',
    'request_resource',
    'endpoint',
    'response_code',
    'response_status',
    'trace_id',
    'span_id',
    'parent_span_id',
    'x_request_id',
    'syscall_trace_id_request',
    'syscall_trace_id_response',
    'tcp_seq_request',
    'tcp_seq_response',
    'observation_point',
    'client_ip',
    'client_port',
    'server_ip',
    'server_port',
    'client_pid',
    'server_pid',
    'client_process',
    'server_process',
    'client_service',
    'server_service',
  ],
  l4_flow_log: [
    'time',
    'client_ip',
    'client_port',
    'server_ip',
    'server_port',
    'l4_protocol',
    'client_pid',
    'server_pid',
    'client_process',
    'server_process',
    'client_service',
    'server_service',
    'byte_tx',
    'byte_rx',
    'packet_tx',
    'packet_rx',
    'rtt_us',
    'syn_latency_us',
    'retrans_count',
    'zero_window_count',
    'rst_count',
    'close_type',
  ],
  app_metrics: [
    'time',
    'client_service',
    'server_service',
    'l7_protocol',
    'endpoint',
    'observation_point',
    'request_count',
    'error_count',
    'response_duration_sum_us',
    'response_duration_max_us',
    'latency_histogram',
    'latency_sketch_keys',
    'latency_sketch_counts',
  ],
  net_metrics: [
    'time',
    'client_service',
    'server_service',
    'byte_tx',
    'byte_rx',
    'retrans_count',
    'rst_count',
    'rtt_sum_us',
    'rtt_count',
  ],
  tcp_timeline: ['flow_id', 'conn_latency_us', 'ack_latency_us', 'server_response_us', 'client_wait_us'],
  profile_samples: ['time', 'pid', 'process', 'service', 'event', 'stack', 'value'],
};

test('every canonical table and column exists', () => {
  for (const [table, cols] of Object.entries(CANONICAL)) {
    const t = TABLES.find((x) => x.name === table);
    assert.ok(t, `table ${table}`);
    const have = new Set(t.columns.map((c) => c.name));
    for (const c of cols) {
      assert.ok(have.has(c), `${table}.${c}`);
    }
    assert.equal(have.size, t.columns.length, `${table} has a duplicate column`);
  }
});

test('the two dialects differ only where 18.16 lacks a feature', () => {
  const t = TABLES[0];
  const modern = renderCreateTable(t, 'modern');
  const legacy = renderCreateTable(t, 'legacy');
  assert.match(modern, /LowCardinality\(String\)/);
  assert.match(modern, /CODEC\(/);
  assert.match(modern, /TTL time \+ INTERVAL 7 DAY/);
  assert.doesNotMatch(legacy, /LowCardinality|CODEC|TTL/);
});

test('pkg/schema artifacts are generated from this schema (no drift between TS and Go)', () => {
  const script = join(__dirname, '..', '..', 'scripts', 'gen-schema.js');
  execFileSync(process.execPath, [script, '--check'], { stdio: 'pipe' });
});
