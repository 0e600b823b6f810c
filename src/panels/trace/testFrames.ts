import { readFileSync } from 'fs';
import { join } from 'path';
import { FieldType, createDataFrame, dataFrameFromJSON, type DataFrame, type DataFrameJSON } from '@grafana/data';

const FIXTURES = join(__dirname, '..', '..', '..', 'test', 'frontend', 'fixtures');

/** One span of a hand-built trace, with the fields of the backend's trace frame (pkg/plugin/trace.go). */
export interface SpanSpec {
  id: string;
  parent?: string;
  op: string;
  service: string;
  obs: string;
  start: number; // ms after T0
  dur: number;
  hopKind: string;
  hop: string;
  crit: number;
  self?: number;
  link?: string;
  pid?: number;
  process?: string;
  host?: string;
  client?: string;
  server?: string;
  skew?: number;
  status?: number;
  extraTags?: Array<{ key: string; value: unknown }>;
}

export interface HopSpec {
  kind: string;
  label: string;
  crit: number;
  share: number;
  spans: number;
}

export const T0 = 1_700_000_000_000;

/** The `trace` and `verdict` frames the datasource returns for `spans` (in frame order) and `hops` (largest first). */
export function traceFrames(spans: SpanSpec[], hops: HopSpec[], durationMs: number, traceID = 'fl-test'): DataFrame[] {
  const col = <T>(f: (s: SpanSpec) => T) => spans.map(f);
  const trace = createDataFrame({
    name: 'trace',
    refId: 'A',
    meta: {
      preferredVisualisationType: 'trace',
      custom: {
        traceID,
        spans: spans.length,
        truncated: false,
        warnings: [],
        verdict: {
          summary: hops.length
            ? `${hops[0].label} (${hops[0].kind}) holds ${Math.round(hops[0].share * 100)}%`
            : 'empty trace',
          duration_ms: durationMs,
          ...(hops.length
            ? {
                culprit: {
                  kind: hops[0].kind,
                  label: hops[0].label,
                  critical_time_ms: hops[0].crit,
                  share: hops[0].share,
                },
              }
            : {}),
        },
      },
      notices: hops.length ? [{ severity: 'info', text: `Verdict: ${hops[0].label}` }] : [],
    },
    fields: [
      { name: 'traceID', type: FieldType.string, values: col(() => traceID) },
      { name: 'spanID', type: FieldType.string, values: col((s) => s.id) },
      { name: 'parentSpanID', type: FieldType.string, values: col((s) => s.parent ?? '') },
      { name: 'operationName', type: FieldType.string, values: col((s) => s.op) },
      { name: 'serviceName', type: FieldType.string, values: col((s) => s.service) },
      { name: 'startTime', type: FieldType.number, values: col((s) => T0 + s.start), config: { unit: 'ms' } },
      { name: 'duration', type: FieldType.number, values: col((s) => s.dur), config: { unit: 'ms' } },
      {
        name: 'tags',
        type: FieldType.other,
        values: col((s) => [
          { key: 'observation_point', value: s.obs },
          { key: 'client', value: s.client ?? '10.0.0.1:40000' },
          { key: 'server', value: s.server ?? '10.0.0.2:8080' },
          { key: 'hop', value: `${s.hopKind}: ${s.hop}` },
          ...(s.skew ? [{ key: 'clock_skew_correction_ms', value: s.skew }] : []),
          ...(s.extraTags ?? []),
        ]),
      },
      { name: 'statusCode', type: FieldType.number, values: col((s) => s.status ?? 1) },
      {
        name: 'statusMessage',
        type: FieldType.string,
        values: col((s) => (s.status === 2 ? 'HTTP 500 (server_error)' : '')),
      },
      {
        name: 'warnings',
        type: FieldType.other,
        values: col((s) =>
          s.skew ? [`shifted by ${s.skew} ms to correct the clock skew between ${s.host} and its parent's host`] : []
        ),
      },
      { name: 'observation_point', type: FieldType.string, values: col((s) => s.obs) },
      { name: 'host', type: FieldType.string, values: col((s) => s.host ?? 'h1') },
      { name: 'process', type: FieldType.string, values: col((s) => s.process ?? s.service) },
      { name: 'pid', type: FieldType.number, values: col((s) => s.pid ?? 0) },
      { name: 'hop_kind', type: FieldType.string, values: col((s) => s.hopKind) },
      { name: 'hop', type: FieldType.string, values: col((s) => s.hop) },
      { name: 'self_time_ms', type: FieldType.number, values: col((s) => s.self ?? 0) },
      { name: 'critical_time_ms', type: FieldType.number, values: col((s) => s.crit) },
      { name: 'link', type: FieldType.string, values: col((s) => s.link ?? '') },
      { name: 'l7_protocol', type: FieldType.string, values: col(() => 'HTTP') },
      { name: 'response_status', type: FieldType.string, values: col((s) => (s.status === 2 ? 'server_error' : 'ok')) },
      { name: 'clock_skew_correction_ms', type: FieldType.number, values: col((s) => s.skew ?? 0) },
    ],
  });
  const verdict = createDataFrame({
    name: 'verdict',
    refId: 'A',
    fields: [
      { name: 'hop', type: FieldType.string, values: hops.map((h) => `${h.kind}: ${h.label}`) },
      { name: 'kind', type: FieldType.string, values: hops.map((h) => h.kind) },
      { name: 'label', type: FieldType.string, values: hops.map((h) => h.label) },
      { name: 'critical_time_ms', type: FieldType.number, values: hops.map((h) => h.crit) },
      { name: 'share', type: FieldType.number, values: hops.map((h) => h.share) },
      { name: 'self_time_ms', type: FieldType.number, values: hops.map((h) => h.crit) },
      { name: 'spans', type: FieldType.number, values: hops.map((h) => h.spans) },
      { name: 'culprit', type: FieldType.boolean, values: hops.map((_, i) => i === 0) },
    ],
  });
  return [trace, verdict];
}

/**
 * A checkout: web (client process + NIC) → checkout (server NIC + process) → payments, where the network
 * between checkout's NIC and payments' NIC holds 196.8 of the 240 ms (82%). Frame order is shuffled on
 * purpose: the panel orders by the tree, not by the rows.
 */
export const CHECKOUT_SPANS: SpanSpec[] = [
  {
    id: '7',
    parent: '6',
    op: 'POST /pay',
    service: 'payments',
    obs: 'server_process',
    start: 118,
    dur: 4,
    hopKind: 'server_app',
    hop: 'payments',
    crit: 4,
    link: 'same_request',
    pid: 700,
    host: 'pay-1',
    skew: -2.5,
    extraTags: [{ key: 'tcp_seq_request', value: '12345' }],
  },
  {
    id: '1',
    op: 'GET /api/checkout',
    service: 'web',
    obs: 'client_process',
    start: 0,
    dur: 240,
    hopKind: 'client_app',
    hop: 'web',
    crit: 3,
    pid: 100,
    process: 'node',
    host: 'web-1',
  },
  {
    id: '3',
    parent: '2',
    op: 'GET /api/checkout [server NIC]',
    service: 'checkout',
    obs: 'server_nic',
    start: 2,
    dur: 236,
    hopKind: 'network',
    hop: 'web → checkout',
    crit: 4,
    link: 'same_request',
    host: 'co-1',
  },
  {
    id: '2',
    parent: '1',
    op: 'GET /api/checkout [client NIC]',
    service: 'web',
    obs: 'client_nic',
    start: 1,
    dur: 238,
    hopKind: 'network',
    hop: 'web → checkout',
    crit: 2,
    link: 'same_request',
    host: 'web-1',
  },
  {
    id: '4',
    parent: '3',
    op: 'GET /api/checkout',
    service: 'checkout',
    obs: 'server_process',
    start: 3,
    dur: 234,
    hopKind: 'server_app',
    hop: 'checkout',
    crit: 30,
    link: 'same_request',
    pid: 300,
    host: 'co-1',
    extraTags: [{ key: 'x_request_id', value: 'req-42' }],
  },
  {
    id: '9',
    parent: '4',
    op: 'SELECT orders',
    service: 'checkout',
    obs: 'client_process',
    start: 5,
    dur: 3,
    hopKind: 'dependency',
    hop: 'mysql',
    crit: 0.2,
    link: 'syscall_trace_id',
    pid: 300,
    host: 'co-1',
    server: '10.0.0.9:3306',
  },
  {
    id: '5',
    parent: '4',
    op: 'POST /pay',
    service: 'checkout',
    obs: 'client_process',
    start: 10,
    dur: 220,
    hopKind: 'network',
    hop: 'checkout → payments',
    crit: 1,
    link: 'syscall_trace_id',
    pid: 300,
    host: 'co-1',
    extraTags: [{ key: 'syscall_trace_id_request', value: '99887766' }],
  },
  {
    id: '6',
    parent: '5',
    op: 'POST /pay [client NIC]',
    service: 'checkout',
    obs: 'client_nic',
    start: 11,
    dur: 218,
    hopKind: 'network',
    hop: 'checkout → payments',
    crit: 195.8,
    link: 'same_request',
    host: 'co-1',
    status: 2,
  },
];

export const CHECKOUT_HOPS: HopSpec[] = [
  { kind: 'network', label: 'checkout → payments', crit: 196.8, share: 0.82, spans: 2 },
  { kind: 'server_app', label: 'checkout', crit: 30, share: 0.125, spans: 1 },
  { kind: 'network', label: 'web → checkout', crit: 6, share: 0.025, spans: 2 },
  { kind: 'server_app', label: 'payments', crit: 4, share: 0.0167, spans: 1 },
  { kind: 'client_app', label: 'web', crit: 3, share: 0.0125, spans: 1 },
  { kind: 'dependency', label: 'mysql', crit: 0.2, share: 0.0008, spans: 1 },
];

export function checkoutFrames(): DataFrame[] {
  return traceFrames(CHECKOUT_SPANS, CHECKOUT_HOPS, 240);
}

/** A trace of `n` spans: a root, fanned out into chains of 4 (one call at four observation points). */
export function largeTraceFrames(n: number): DataFrame[] {
  const spans: SpanSpec[] = [
    {
      id: 's0',
      op: 'GET /',
      service: 'root',
      obs: 'server_process',
      start: 0,
      dur: n,
      hopKind: 'server_app',
      hop: 'root',
      crit: n / 2,
    },
  ];
  const obs = ['client_process', 'client_nic', 'server_nic', 'server_process'];
  for (let i = 1; i < n; i++) {
    const call = Math.floor((i - 1) / 4);
    const at = (i - 1) % 4;
    spans.push({
      id: `s${i}`,
      parent: at === 0 ? 's0' : `s${i - 1}`,
      op: `call ${call}`,
      service: at < 2 ? 'root' : `svc${call % 7}`,
      obs: obs[at],
      start: call + at * 0.1,
      dur: 1 - at * 0.2,
      hopKind: at === 3 ? 'server_app' : 'network',
      hop: at === 3 ? `svc${call % 7}` : `root → svc${call % 7}`,
      crit: at === 3 ? 0.5 / 4 : 0,
      link: at === 0 ? 'syscall_trace_id' : 'same_request',
    });
  }
  return traceFrames(spans, [{ kind: 'server_app', label: 'root', crit: n / 2, share: 0.5, spans: 1 }], n, 'fl-large');
}

/**
 * The real plugin binary's recorded trace answers over rows the real agent captured under network faults
 * (test/frontend/record-trace-faults.js; fixtures/ds-query-trace-faults.recording.json says when and how).
 */
export type RecordedFault = 'rto' | 'lossy' | 'refused' | 'think';

export function recordedTrace(name: RecordedFault): DataFrame[] {
  const body = JSON.parse(readFileSync(join(FIXTURES, `ds-query-trace-${name}.json`), 'utf8'));
  return (body.results.A.frames as DataFrameJSON[]).map((f) => dataFrameFromJSON(f));
}

/** The recorded scenarios (the connects refused before each served request, the think time). */
export function recordedFaultScenarios(): { refused: Array<{ fails: number }>; thinkMs: number } {
  return JSON.parse(readFileSync(join(FIXTURES, 'ds-query-trace-faults.recording.json'), 'utf8')).scenarios;
}
