#!/usr/bin/env node
// Records the Network Profile panel's browser-test answers from the REAL plugin binary over rows the REAL
// agent captured: the rows of pkg/plugin/testdata/netcapture (test/e2e/netcapture/recordNetCapture.ts: the
// namespace test bed with a keep-alive client thinking 200 ms between requests, a 50 ms proxy hop, 5% loss,
// resets) are loaded into ClickHouse database flowlens_frontend_netprofile, then the plugin binary
// (dist/datasource/gpx_*, behind test/grafana-shim as Grafana starts it) answers Grafana's POST /api/ds/query
// for the network profile of: the think-time flow, a lossy 1 MB transfer (256 of ~900 packets stored), a
// refused connect, the stopped reader (zero windows), a flow that does not exist, and a query without the flow's ends (the backend's error); and the
// Universal Map over the same rows (its edges' TCP health).
// Writes fixtures/ds-query-netprofile-*.json (each the exact response body) and
// fixtures/ds-query-netprofile.recording.json (the requests, when and how). No root, no agent: needs the
// local ClickHouse, the built agent helpers (scripts/build.sh agent) and backend (scripts/build-backend.sh).
//   node test/frontend/record-netprofile.js [--out DIR]
'use strict';

const fs = require('fs');
const path = require('path');

const ROOT = path.resolve(__dirname, '..', '..');
const outArg = process.argv.indexOf('--out');
// the same directory record-trace.js's save() writes to
const FIXTURES = outArg > 0 ? path.resolve(process.argv[outArg + 1]) : path.join(__dirname, 'fixtures');
const DB = 'flowlens_frontend_netprofile';
const CAPTURE = path.join(ROOT, 'pkg', 'plugin', 'testdata', 'netcapture');

const { requireClickHouse, CLICKHOUSE_URL } = require(path.join(ROOT, 'build', 'agent', 'test', 'e2e', 'helpers.js'));
const { goBuild, startShim, DIST_PLUGIN } = require(path.join(ROOT, 'build', 'agent', 'demo', 'traceView.js'));
const { query, save } = require('./record-trace.js');
const { loadCapture } = require('./load-capture.js');

/** Creates the schema in DB and loads the recorded rows (load-capture.js). */
function load() {
  return loadCapture(DB, CAPTURE, ['l4_flow_log', 'tcp_timeline', 'l7_flow_log', 'net_metrics', 'app_metrics']);
}

async function main() {
  await requireClickHouse();
  if (!fs.existsSync(DIST_PLUGIN)) {
    throw new Error(`${DIST_PLUGIN} is missing: scripts/build-backend.sh`);
  }
  const capture = JSON.parse(fs.readFileSync(path.join(CAPTURE, 'recording.json'), 'utf8'));
  const rows = await load();
  const ip = (h) => capture.hosts[h].ip;
  const flowOf = (r) => ({
    client_ip: r.client_ip,
    client_port: r.client_port,
    server_ip: r.server_ip,
    server_port: r.server_port,
  });
  const timeline = (match, what) => {
    const r = rows.tcp_timeline.find((x) => Object.entries(match).every(([k, v]) => x[k] === v));
    if (!r) {
      throw new Error(`the capture has no timeline of ${what}`);
    }
    return flowOf(r);
  };
  const think = timeline(
    { server_ip: ip('server'), server_port: capture.ports.web, server_response_count: 3 },
    'the think-time flow'
  );
  const lossy = timeline({ server_port: capture.ports.lossy, observation_point: 'server_nic' }, 'a lossy transfer');
  const refused = timeline(
    { server_port: capture.ports.refused, observation_point: 'server_nic' },
    'a refused connect'
  );
  const slow = timeline(
    { server_port: capture.ports.slowReader, observation_point: 'server_nic' },
    'the stopped reader'
  );
  // the recording's minute either side, as record-trace.js's query() takes a range: a middle and a half-width (s)
  const from = Date.parse(capture.recorded.from) - 60_000;
  const to = Date.parse(capture.recorded.to) + 60_000;
  const mid = Math.round((from + to) / 2000);
  const half = Math.ceil((to - from) / 2000);

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
        `node test/frontend/record-netprofile.js: the rows the real agent captured (pkg/plugin/testdata/netcapture, ` +
        `recorded ${capture.recorded.from}: ${capture.how}) loaded into ClickHouse ${DB}; the real plugin binary behind ` +
        'test/grafana-shim answered these Grafana /api/ds/query requests; each response file is its exact body.',
      database: DB,
      scenarios: capture.scenarios,
      range: { from: (mid - half) * 1000, to: (mid + half) * 1000 },
      flows: { think, lossy, refused, slow },
      files: {},
    };
    const cases = {
      'ds-query-netprofile-think.json': { queryType: 'netprofile', ...think },
      'ds-query-netprofile-lossy.json': { queryType: 'netprofile', ...lossy },
      'ds-query-netprofile-refused.json': { queryType: 'netprofile', ...refused },
      // the stopped reader: its zero-window packets at both NICs
      'ds-query-netprofile-slow.json': { queryType: 'netprofile', ...slow },
      'ds-query-netprofile-empty.json': { queryType: 'netprofile', ...think, client_port: 1 },
      'ds-query-netprofile-error.json': { queryType: 'netprofile', client_ip: think.client_ip },
      // the Universal Map over the same captures: its edges carry their TCP health
      'ds-query-netprofile-map.json': { queryType: 'map' },
      // the Network page's flow lists (src/pages/networkFlows.ts flowQueries: its unit test checks they match)
      'ds-query-network-failing.json': {
        queryType: 'flow_log',
        close_type: ['reset_by_client', 'reset_by_server', 'timeout', 'connect_failed'],
        limit: '100',
      },
      'ds-query-network-lossy.json': { queryType: 'flow_log', min_retrans: '1', limit: '100' },
    };
    for (const [file, q] of Object.entries(cases)) {
      save(file, await query(shim.url, q, mid, half), recorded);
    }
    fs.writeFileSync(
      path.join(FIXTURES, 'ds-query-netprofile.recording.json'),
      `${JSON.stringify(recorded, null, 2)}\n`
    );
  } finally {
    shim.stop();
  }
}

main().catch((e) => {
  console.error('[record-netprofile] FAIL', e);
  process.exit(1);
});
