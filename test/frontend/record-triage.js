#!/usr/bin/env node
// Records the Triage page's test answers from the REAL plugin binary over rows the REAL agent captured: the
// rows of pkg/plugin/testdata/triagecapture (test/e2e/triage/recordTriage.ts: the demo system on the namespace
// test bed under a steady load, a healthy control and eight faults, each in its own window) are loaded into
// ClickHouse database flowlens_frontend_triage, then the plugin binary (dist/datasource/gpx_*, behind
// test/grafana-shim as Grafana starts it) answers Grafana's POST /api/ds/query for the triage of each scenario's
// window, and one query without a service (the backend's error).
// Writes fixtures/ds-query-triage-<scenario>.json (each the exact response body) and
// fixtures/ds-query-triage.recording.json (the requests, when and how). No root, no agent: needs the local
// ClickHouse, the built agent helpers (scripts/build.sh agent) and backend (scripts/build-backend.sh).
//   node test/frontend/record-triage.js [--out DIR]
'use strict';

const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

const ROOT = path.resolve(__dirname, '..', '..');
const outArg = process.argv.indexOf('--out');
const FIXTURES = outArg > 0 ? path.resolve(process.argv[outArg + 1]) : path.join(__dirname, 'fixtures');
const DB = 'flowlens_frontend_triage';
const CAPTURE = path.join(ROOT, 'pkg', 'plugin', 'testdata', 'triagecapture');
const TABLES = ['l7_flow_log', 'app_metrics', 'net_metrics', 'l4_flow_log', 'tcp_timeline', 'profile_samples'];

const { chQuery, requireClickHouse, CLICKHOUSE_URL } = require(
  path.join(ROOT, 'build', 'agent', 'test', 'e2e', 'helpers.js')
);
const { goBuild, startShim, DIST_PLUGIN } = require(path.join(ROOT, 'build', 'agent', 'demo', 'traceView.js'));
const { save } = require('./record-trace.js');
const { createSchema } = require('./load-capture.js');

/** Creates the schema (the generated DDL for this server) in DB and loads the recorded rows, in chunks. */
async function load() {
  await createSchema(DB);
  for (const table of TABLES) {
    const lines = zlib
      .gunzipSync(fs.readFileSync(path.join(CAPTURE, `${table}.jsonl.gz`)))
      .toString('utf8')
      .split('\n')
      .filter((l) => l.trim());
    for (let i = 0; i < lines.length; i += 5000) {
      await chQuery(`INSERT INTO ${DB}.${table} FORMAT JSONEachRow\n${lines.slice(i, i + 5000).join('\n')}`);
    }
  }
}

/** One /api/ds/query of the window [fromSec, toSec] (inclusive seconds). */
async function query(shimUrl, q, fromSec, toSec) {
  const body = {
    queries: [{ refId: 'A', datasource: { uid: 'flowlens', type: 'flowlens-clickhouse-datasource' }, ...q }],
    from: String(fromSec * 1000),
    to: String(toSec * 1000),
  };
  const res = await fetch(`${shimUrl}/api/ds/query`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, request: body, response: await res.json() };
}

async function main() {
  await requireClickHouse();
  if (!fs.existsSync(DIST_PLUGIN)) {
    throw new Error(`${DIST_PLUGIN} is missing: scripts/build-backend.sh`);
  }
  const capture = JSON.parse(fs.readFileSync(path.join(CAPTURE, 'recording.json'), 'utf8'));
  await load();
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
        `node test/frontend/record-triage.js: the rows the real agent captured (pkg/plugin/testdata/triagecapture, ` +
        `recorded ${capture.recorded.from}: ${capture.how}) loaded into ClickHouse ${DB}; the real plugin binary behind ` +
        'test/grafana-shim answered these Grafana /api/ds/query requests; each response file is its exact body.',
      database: DB,
      scenarios: capture.scenarios,
      files: {},
    };
    for (const sc of capture.scenarios) {
      const q = { queryType: 'triage', ...sc.target };
      save(`ds-query-triage-${sc.name}.json`, await query(shim.url, q, sc.window.from, sc.window.to - 1), recorded);
    }
    const w = capture.scenarios[0].window;
    save('ds-query-triage-error.json', await query(shim.url, { queryType: 'triage' }, w.from, w.to - 1), recorded);
    fs.writeFileSync(path.join(FIXTURES, 'ds-query-triage.recording.json'), `${JSON.stringify(recorded, null, 2)}\n`);
  } finally {
    shim.stop();
  }
}

main().catch((e) => {
  console.error('[record-triage] FAIL', e);
  process.exit(1);
});
