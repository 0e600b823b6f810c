// Writes what the agent sends to ClickHouse, for the modern-ClickHouse (chdb) compatibility test:
// build/sql/agent.json (its SELECTs, [{name, sql}]) and build/sql/agent_rows/<table>.jsonl (rows
// built by the real row builders, inserted with JSONEachRow as the agent does).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DATABASE, MIGRATIONS_TABLE } from '../src/shared/schema';
import { buildL7Row, EndpointNamer } from '../src/agent/requestlog/l7FlowLog';
import { RedAggregator } from '../src/agent/metrics/redAggregator';
import { Http1Parser } from '../src/agent/protocols/http1/http1Parser';
import type { Connection } from '../src/agent/conntrack/connection';
import { Direction } from '../src/agent/capture/socketEvent';
import { ProfileAggregator } from '../src/agent/profiling/profileAggregator';
import type { Symbolizer } from '../src/agent/profiling/symbolizer';
import { AgentEventRow, AgentLifecycle } from '../src/agent/agentEvents';

const out = join(__dirname, '..', '..', '..', 'build', 'sql');
mkdirSync(join(out, 'agent_rows'), { recursive: true });

// Keep in step with src/agent/export/migrations.ts (the only SELECTs the agent issues).
const queries = [
  { name: 'server-version', sql: 'SELECT version() AS v' },
  { name: 'applied-migrations', sql: `SELECT version FROM ${DATABASE}.${MIGRATIONS_TABLE}` },
];
writeFileSync(join(out, 'agent.json'), JSON.stringify(queries, null, 2));

const parser = new Http1Parser();
const req = parser.parse(Buffer.from('GET /api/users?id=1 HTTP/1.1\r\nHost: shop\r\nX-Request-ID: r-1\r\n\r\n'), 60)!;
const resp = parser.parse(Buffer.from('HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n'), 60, req)!;
const conn = {
  sockId: 1,
  flowId: 7,
  tgid: 100,
  fd: 5,
  l4: 'TCP',
  localIp: '10.0.0.1',
  localPort: 41000,
  peerIp: '10.0.0.2',
  peerPort: 8080,
  role: 'client',
  firstNs: 0,
  lastNs: 0,
  inferMisses: 0,
  bytesTx: 0,
  bytesRx: 0,
  stream: { requestDirection: Direction.Egress },
} as unknown as Connection;
const namer: EndpointNamer = {
  comm: (pid) => (pid === 100 ? 'frontend' : 'api'),
  service: (pid) => (pid === 100 ? 'frontend' : 'api'),
  remoteService: (ip) => ip,
  peerPid: () => 200,
  toWallUs: (ns) => 1_700_000_000_000_000 + Math.round(ns / 1000),
};
const end = (msg: typeof req, ns: number) => ({
  msg,
  startNs: ns,
  endNs: ns + 1000,
  length: 60,
  tid: 101,
  tcpSeq: 4294967295,
  syscallTraceId: 2 ** 53 - 2,
  capSeq: 1,
});
const row = buildL7Row(
  conn,
  { request: end(req, 1e9), response: end(resp, 2e9) },
  'HTTP',
  'host-a',
  2 ** 53 - 1,
  namer
);
const red = new RedAggregator();
red.add(row);
writeFileSync(join(out, 'agent_rows', 'l7_flow_log.jsonl'), JSON.stringify(row) + '\n');
writeFileSync(
  join(out, 'agent_rows', 'app_metrics.jsonl'),
  red
    .flush()
    .map((r) => JSON.stringify(r))
    .join('\n') + '\n'
);

// profile_samples: rows from the real aggregator (a frame name with a quote, a 53-bit stack id, µs)
const profiles = new ProfileAggregator({
  host: 'host-a',
  naming: { comm: () => 'shape', service: () => 'shape-svc' },
  maxRows: 100,
  symbolizer: {
    beginInterval() {},
    user: (_pid: number, ips: number[]) => ({
      frames: ips.map((ip) => (ip === 1 ? "it's_work" : 'main')),
      complete: true,
    }),
    kernelStack: (ips: number[]) => ips.map(() => 'vfs_read'),
  } as unknown as Symbolizer,
}).build(
  {
    counts: [{ pid: 100, tid: 101, kind: 1, flags: 0, user: 0, kernel: 1, value: 2_500_000 }],
    stacks: [
      { hash: '01', lost: false, ips: [1, 2] },
      { hash: '02', lost: false, ips: [0xffff81000000] },
    ],
  },
  1_700_000_000
);
writeFileSync(
  join(out, 'agent_rows', 'profile_samples.jsonl'),
  profiles.map((r) => JSON.stringify(r)).join('\n') + '\n'
);

// agent_events: a start and a clean stop of one run, from the real lifecycle recorder
const events: AgentEventRow[] = [];
const run = [1_700_000_000_123_456, 1_700_000_060_000_001];
const lifecycle = new AgentLifecycle({
  host: 'host-a',
  pid: 4242,
  version: '0.1.0',
  kernel: "6.8.0-it's",
  sink: (r) => events.push(...r),
  nowUs: () => run.shift()!,
});
lifecycle.start('config /etc/flowlens.json');
lifecycle.stop('terminated');
writeFileSync(join(out, 'agent_rows', 'agent_events.jsonl'), events.map((r) => JSON.stringify(r)).join('\n') + '\n');
