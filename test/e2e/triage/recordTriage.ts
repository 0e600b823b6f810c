// Records what the REAL agent captures of the triage test bed's scenarios (triageBed.ts: a healthy
// control and eight faults, each in its own window) into pkg/plugin/testdata/triagecapture/: the Go
// triage query is tested on these rows (pkg/plugin/triage_integration_test.go), without eBPF.
// Needs root, eBPF, the built agent (scripts/build.sh agent), postgres, redis, nginx, toxiproxy and the
// local ClickHouse. Run:
//   node build/agent/test/e2e/triage/recordTriage.js [--out DIR] [--only a,b]
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { assertRoot, chQuery, freeDatabase, requireClickHouse, startAgent, ROOT } from '../helpers';
import {
  FAULT_S,
  HEALTHY_S,
  SCENARIOS,
  SLOW_MS,
  GATEWAY_MS,
  LOSS_PERCENT,
  BURN_MS,
  THINK_MS,
  RATE,
  startTriageBed,
} from './triageBed';

const DB = 'flowlens_record_triage';
const arg = (name: string) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined);
const OUT = arg('--out') ?? join(ROOT, 'pkg', 'plugin', 'testdata', 'triagecapture');

/** The tables the triage reads, what of them is kept (the bed's services only) and their order. */
const DUMP: Record<string, { where: string; order: string }> = {
  l7_flow_log: { where: '1', order: 'time, start_time_us, observation_point' },
  app_metrics: { where: '1', order: 'time, server_service, client_service, observation_point, endpoint' },
  net_metrics: { where: '1', order: 'time, server_port, observation_point, client_service' },
  l4_flow_log: { where: '1', order: 'time, start_time_us, observation_point, client_port' },
  tcp_timeline: {
    where: "client_service = 'loadtester' OR server_service = 'backend'",
    order: 'time, flow_id, observation_point',
  },
  profile_samples: {
    where: "service IN ('frontend', 'backend') AND event = 'on_cpu'",
    order: 'time, service, pid, tid, stack_id',
  },
};

async function dump(): Promise<Record<string, number>> {
  mkdirSync(OUT, { recursive: true });
  const counts: Record<string, number> = {};
  for (const [table, d] of Object.entries(DUMP)) {
    const rows = await chQuery<Record<string, unknown>>(
      `SELECT *, toUInt32(time) AS time_unix FROM ${DB}.${table} WHERE ${d.where} ORDER BY ${d.order} SETTINGS output_format_json_quote_64bit_integers = 0`
    );
    for (const r of rows) {
      r.time = String(r.time_unix);
      delete r.time_unix;
    }
    counts[table] = rows.length;
    // gzip: a request log row per call and observation point is ~100k rows over the bed's two minutes
    writeFileSync(
      join(OUT, `${table}.jsonl.gz`),
      gzipSync(rows.map((r) => JSON.stringify(r)).join('\n') + '\n', { level: 9 })
    );
  }
  return counts;
}

async function main(): Promise<void> {
  assertRoot();
  await requireClickHouse();
  await freeDatabase(DB);
  const only = arg('--only')?.split(',');
  const scenarios = only ? SCENARIOS.filter((s) => only.includes(s.name)) : SCENARIOS;
  const bed = await startTriageBed(mkdtempSync(join(tmpdir(), 'flowlens-triage-')));
  try {
    const agent = await startAgent({
      database: DB,
      flushIntervalMs: 200,
      statusIntervalMs: 0,
      flowLogIntervalSec: 60,
      ...bed.agentConfig(),
    });
    const started = new Date();
    const windows = await bed.run(scenarios, (l) => console.log(`[record-triage] ${l}`));
    if ((await agent.stop()) !== 0) {
      throw new Error(agent.output());
    }
    const counts = await dump();
    writeFileSync(
      join(OUT, 'recording.json'),
      JSON.stringify(
        {
          what: 'rows the real agent wrote for the triage scenarios of test/e2e/triage/triageBed.ts',
          recorded: { from: started.toISOString(), to: new Date().toISOString() },
          how: 'node build/agent/test/e2e/triage/recordTriage.js (root, the demo system on the namespace test bed, real agent)',
          settings: {
            faultS: FAULT_S,
            healthyS: HEALTHY_S,
            slowMs: SLOW_MS,
            gatewayMs: GATEWAY_MS,
            lossPercent: LOSS_PERCENT,
            burnMs: BURN_MS,
            thinkMs: THINK_MS,
            rate: RATE,
          },
          scenarios: scenarios.map((s) => ({ ...s, window: windows.find((w) => w.scenario === s.name) })),
          rows: counts,
        },
        null,
        2
      ) + '\n'
    );
    console.log(`[record-triage] wrote ${JSON.stringify(counts)} rows to ${OUT}`);
  } finally {
    await bed.stop();
  }
}

main().catch((err) => {
  console.error('[record-triage]', err);
  process.exit(1);
});
