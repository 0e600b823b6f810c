#!/usr/bin/env node
// Records the trace panel's network-evidence answers from the REAL plugin binary over rows the REAL agent captured:
// the rows of pkg/plugin/testdata/tracefaults (test/e2e/netcapture/recordTraceFaults.ts: requests under 5% loss,
// connects refused then served, a keep-alive client thinking 200 ms) are loaded into ClickHouse database
// flowlens_frontend_tracefaults, then the plugin binary (dist/datasource/gpx_*, behind test/grafana-shim as Grafana
// starts it) answers Grafana's POST /api/ds/query for the trace of: the lossy request that waited on a
// retransmission timeout (the network path the culprit), a lossy request whose server stays the culprit (the
// network path named beside it), a request served after refused connects, and the keep-alive client's second
// request. Writes fixtures/ds-query-trace-{rto,lossy,refused,think}.json (each the exact response body) and
// fixtures/ds-query-trace-faults.recording.json (the requests, when and how). No root, no agent: needs the local
// ClickHouse, the built agent helpers (scripts/build.sh agent) and backend (scripts/build-backend.sh).
//   node test/frontend/record-trace-faults.js [--out DIR]
'use strict';

const fs = require('fs');
const path = require('path');

const ROOT = path.resolve(__dirname, '..', '..');
const outArg = process.argv.indexOf('--out');
const FIXTURES = outArg > 0 ? path.resolve(process.argv[outArg + 1]) : path.join(__dirname, 'fixtures');
const DB = 'flowlens_frontend_tracefaults';
const CAPTURE = path.join(ROOT, 'pkg', 'plugin', 'testdata', 'tracefaults');

const { requireClickHouse, CLICKHOUSE_URL } = require(path.join(ROOT, 'build', 'agent', 'test', 'e2e', 'helpers.js'));
const { goBuild, startShim, DIST_PLUGIN } = require(path.join(ROOT, 'build', 'agent', 'demo', 'traceView.js'));
const { query, save } = require('./record-trace.js');
const { loadCapture } = require('./load-capture.js');

const verdictOf = (a) => a.response.results?.A?.frames?.[0]?.schema?.meta?.custom?.verdict ?? {};

async function main() {
  await requireClickHouse();
  if (!fs.existsSync(DIST_PLUGIN)) {
    throw new Error(`${DIST_PLUGIN} is missing: scripts/build-backend.sh`);
  }
  const capture = JSON.parse(fs.readFileSync(path.join(CAPTURE, 'recording.json'), 'utf8'));
  const rows = await loadCapture(DB, CAPTURE, ['l7_flow_log', 'l4_flow_log', 'tcp_timeline']);
  const requests = (port) =>
    rows.l7_flow_log.filter(
      (r) => r.observation_point === 'client_process' && r.server_port === port && r.response_status === 'ok'
    );
  const seed = (r) => ({ queryType: 'trace', row_id: String(r._id), time: Number(r.time) });
  const dir = path.join(ROOT, 'build', 'frontend-record');
  const shimBin = path.join(dir, 'grafana-shim');
  fs.mkdirSync(dir, { recursive: true });
  await goBuild(shimBin, './test/grafana-shim');
  const shim = await startShim({ shimBin, pluginBin: DIST_PLUGIN, clickhouseUrl: CLICKHOUSE_URL, database: DB, dir });
  try {
    fs.mkdirSync(FIXTURES, { recursive: true });
    const recorded = {
      recorded_at: new Date().toISOString(),
      how:
        `node test/frontend/record-trace-faults.js: the rows the real agent captured (pkg/plugin/testdata/tracefaults, ` +
        `recorded ${capture.recorded.from}: ${capture.how}) loaded into ClickHouse ${DB}; the real plugin binary behind ` +
        'test/grafana-shim answered these Grafana /api/ds/query requests; each response file is its exact body.',
      database: DB,
      scenarios: capture.scenarios,
      files: {},
    };
    // the lossy requests: the one that waited on a retransmission timeout, and the first whose server stays the culprit
    let rto;
    let lossy;
    for (const r of requests(capture.ports.lossy)) {
      const a = await query(shim.url, seed(r), Number(r.time));
      const v = verdictOf(a);
      const net = v.network?.[0];
      if (!rto && net?.retrans_wait_ms >= 200) {
        rto = r;
      }
      if (!lossy && v.culprit?.kind === 'server_app' && net?.retransmissions > 0) {
        lossy = r;
      }
    }
    if (!rto || !lossy) {
      throw new Error(`the capture lacks a lossy request that ${rto ? 'keeps its server the culprit' : 'met an RTO'}`);
    }
    const think = requests(capture.ports.web)[1];
    const cases = {
      'ds-query-trace-rto.json': rto,
      'ds-query-trace-lossy.json': lossy,
      'ds-query-trace-refused.json': requests(capture.ports.refused)[0],
      'ds-query-trace-think.json': think,
    };
    for (const [file, r] of Object.entries(cases)) {
      save(file, await query(shim.url, seed(r), Number(r.time)), recorded);
    }
    fs.writeFileSync(
      path.join(FIXTURES, 'ds-query-trace-faults.recording.json'),
      `${JSON.stringify(recorded, null, 2)}\n`
    );
  } finally {
    shim.stop();
  }
}

main().catch((e) => {
  console.error('[record-trace-faults] FAIL', e);
  process.exit(1);
});
