#!/usr/bin/env node
// Records the trace fixtures of the trace panel's browser test from the REAL system, once:
//   the demo system on the namespace test bed (demo/demoSystem.ts), traced by the real agent into ClickHouse
//   database flowlens_frontend_trace, one checkout slowed at the backend (`?slow=backend`, 100 ms), then the
//   real plugin binary (dist/datasource/gpx_*, behind test/grafana-shim as Grafana starts it) answers
//   Grafana's POST /api/ds/query for: that checkout's trace, a trace id that does not exist, and a trace query
//   without a seed (the backend's error).
// Writes fixtures/ds-query-trace.json, ds-query-trace-empty.json, ds-query-trace-error.json (each the exact
// response body) and fixtures/ds-query-trace.recording.json (the requests, when and how); with --out DIR, into
// DIR instead (the live browser test records a fresh checkout there and replays nothing).
// The Traces page's answers are recorded with them: a trace search over the checkout's minute
// (ds-query-trace-search.json) and the trace of the checkout's row, chosen as the page does by the result's
// _id and time (ds-query-trace-search-trace.json). `--answers-only` asks the plugin binary again over the
// database an earlier recording left (no demo, no agent, no root) and records only the Traces page's answers.
// Needs root, eBPF, the built agent (scripts/build.sh agent) and backend (scripts/build-backend.sh); it runs the
// agent (as root):
//   node test/frontend/record-trace.js
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');

const ROOT = path.resolve(__dirname, '..', '..');
const outArg = process.argv.indexOf('--out');
const FIXTURES = outArg > 0 ? path.resolve(process.argv[outArg + 1]) : path.join(__dirname, 'fixtures');
const DB = 'flowlens_frontend_trace';
const ITEM = 4242;
const SLOW = 'backend';

const { startDemoSystem } = require(path.join(ROOT, 'build', 'agent', 'demo', 'demoSystem.js'));
const { startAgent, chQuery, freeDatabase, assertRoot, requireClickHouse, CLICKHOUSE_URL } = require(
  path.join(ROOT, 'build', 'agent', 'test', 'e2e', 'helpers.js')
);
const { goBuild, startShim, DIST_PLUGIN } = require(path.join(ROOT, 'build', 'agent', 'demo', 'traceView.js'));

function log(...a) {
  console.log('[record-trace]', ...a);
}

async function query(shimUrl, q, timeSec, windowSec = 60) {
  const body = {
    queries: [{ refId: 'A', datasource: { uid: 'flowlens', type: 'flowlens-clickhouse-datasource' }, ...q }],
    from: String((timeSec - windowSec) * 1000),
    to: String((timeSec + windowSec) * 1000),
  };
  const res = await fetch(`${shimUrl}/api/ds/query`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, request: body, response: await res.json() };
}

/** Asks the plugin binary for the Traces page's answers (a trace search, then the trace of the checkout's row). */
async function recordTracesPage(shimUrl, seed, recorded) {
  // the page opened with ?service=gateway: the traces entered at the gateway (the test bed holds only the demo,
  // but the agent traces the whole machine)
  const search = await query(shimUrl, { queryType: 'trace_search', service: 'gateway' }, seed.t);
  save('ds-query-trace-search.json', search, recorded);
  const [frame] = search.response.results?.A?.frames ?? [];
  const names = frame?.schema.fields.map((f) => f.name) ?? [];
  const values = (name) => frame.data.values[names.indexOf(name)];
  if (!frame || !names.includes('_id') || frame.data.values[0].length === 0) {
    throw new Error('the trace search found no trace');
  }
  // the slowed checkout's row (the warm-up's first requests, opening connections, can be slower)
  const chosenRow = values('_id').indexOf(seed.id);
  if (chosenRow < 0) {
    throw new Error(`the trace search does not list the checkout's gateway request ${seed.id}`);
  }
  const time = Math.floor(values('time')[chosenRow] / 1000);
  // as the page asks: the row's time as text, an hour either side (src/pages/Traces.tsx TRACE_WINDOW_S)
  const chosen = await query(
    shimUrl,
    { queryType: 'trace', row_id: values('_id')[chosenRow], time: String(time) },
    time,
    3600
  );
  save('ds-query-trace-search-trace.json', chosen, recorded);
}

/**
 * Grafana's part in a data link, for the recording only: the internal link's query with ${__value.raw} (the
 * clicked value) and ${__data.fields.<name>} (the row's other fields) filled from one row of the frame.
 */
function linkQuery(frame, fieldName, row) {
  const names = frame.schema.fields.map((f) => f.name);
  const field = frame.schema.fields[names.indexOf(fieldName)];
  const link = field?.config?.links?.[0]?.internal;
  if (!link) {
    throw new Error(`the request log's ${fieldName} field carries no internal data link`);
  }
  const value = (name) => String(frame.data.values[names.indexOf(name)][row]);
  const fill = (v) =>
    typeof v === 'string'
      ? v.replace('${__value.raw}', value(fieldName)).replace(/\$\{__data\.fields\.([a-z_]+)\}/g, (_m, n) => value(n))
      : v;
  return {
    uid: link.datasourceUid,
    query: Object.fromEntries(Object.entries(link.query).map(([k, v]) => [k, fill(v)])),
  };
}

/**
 * The request log of the checkout (a full-text search for its item, every observation point) and the answer to
 * the trace query its gateway row's _id link carries (the row as Grafana fills the link; the browser test checks
 * that Grafana's own link code, given the frame, builds the same query).
 */
async function recordRequestLog(shimUrl, seed, recorded) {
  const log = await query(shimUrl, { queryType: 'sql_log', search: `item=${ITEM}` }, seed.t);
  save('ds-query-request-log.json', log, recorded);
  const [frame] = log.response.results?.A?.frames ?? [];
  const ids = frame.data.values[frame.schema.fields.findIndex((f) => f.name === '_id')];
  const row = ids.indexOf(seed.id);
  if (row < 0) {
    throw new Error(`the request log lacks the checkout's gateway row ${seed.id}`);
  }
  const link = linkQuery(frame, '_id', row);
  const trace = await query(shimUrl, { ...link.query, datasource: { uid: link.uid } }, seed.t);
  save('ds-query-request-log-trace.json', trace, recorded);
}

/** Writes one answer's exact body into the fixtures (`--out DIR`: into DIR) and notes its request in `recorded`. */
function save(file, a, recorded) {
  fs.writeFileSync(path.join(FIXTURES, file), `${JSON.stringify(a.response, null, 2)}\n`);
  recorded.files[file] = { http_status: a.status, request: a.request };
  const frames = a.response.results?.A?.frames ?? [];
  log(
    `${file}: HTTP ${a.status}, ${frames.map((f) => `${f.schema.name}(${f.data?.values?.[0]?.length ?? 0})`).join(' ')} ${a.response.results?.A?.error ?? ''}`
  );
}

/**
 * --answers-only: the plugin binary over what the last recording left in the database (its checkout found as
 * main() finds it), for the Traces page's answers; written with their own recording file.
 */
async function answersOnly() {
  await requireClickHouse();
  const [seed] = await chQuery(
    `SELECT toString(_id) AS id, toUInt32(time) AS t, request_resource AS resource FROM ${DB}.l7_flow_log
     WHERE observation_point = 'server_process' AND server_service = 'gateway' AND request_resource LIKE '/api/checkout?item=${ITEM}&slow=%'
     ORDER BY time DESC LIMIT 1`
  );
  if (!seed) {
    throw new Error(`no recorded checkout in ${DB}: run node test/frontend/record-trace.js (as root) first`);
  }
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
        `node test/frontend/record-trace.js --answers-only: the real plugin binary behind test/grafana-shim over ClickHouse ${DB} ` +
        `(the demo system traced by the real agent, left there by the last run of record-trace.js, its checkout ${seed.resource}) ` +
        'answered these Grafana /api/ds/query requests; each response file is its exact body.',
      database: DB,
      checkout: { resource: seed.resource, row_id: seed.id, time: seed.t },
      files: {},
    };
    await recordTracesPage(shim.url, seed, recorded);
    await recordRequestLog(shim.url, seed, recorded);
    fs.writeFileSync(
      path.join(FIXTURES, 'ds-query-traces-page.recording.json'),
      `${JSON.stringify(recorded, null, 2)}\n`
    );
  } finally {
    shim.stop();
  }
}

async function main() {
  if (process.argv.includes('--answers-only')) {
    return answersOnly();
  }
  assertRoot();
  await requireClickHouse();
  if (!fs.existsSync(DIST_PLUGIN)) {
    throw new Error(`${DIST_PLUGIN} is missing: scripts/build-backend.sh`);
  }
  await freeDatabase(DB);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'flowlens-record-trace-'));
  const sys = await startDemoSystem({ layout: 'netbed', dataDir, failRate: 0 });
  let agent;
  let shim;
  try {
    agent = await startAgent({
      database: DB,
      flushIntervalMs: 200,
      statusIntervalMs: 0,
      profiling: { enabled: false },
      ...sys.agentConfig(),
    });
    // warm every pool (nginx upstreams, the frontend's keep-alive pool, backend threads, redis and postgres
    // connections) so the recorded checkout opens no connection of its own: 9 calls, 36 spans
    const gw = sys.endpoints.gateway;
    const warm = await sys.runClient([process.execPath, path.join(ROOT, 'demo', 'loadgen.js')], {
      GATEWAY_HOST: gw.ip,
      GATEWAY_PORT: String(gw.port),
      CLIENTS: '8',
      REQUESTS: '4',
      ITEM_BASE: '90000',
    });
    if (warm.status !== 0) {
      throw new Error(`loadgen: ${warm.stderr}`);
    }
    const resource = `/api/checkout?item=${ITEM}&slow=${SLOW}`;
    const r = await sys.runClient([
      'curl',
      '-s',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      '--max-time',
      '10',
      `${sys.gatewayUrl}${resource}`,
    ]);
    if (r.stdout !== '200') {
      throw new Error(`curl ${resource}: ${r.stdout} ${r.stderr}`);
    }
    await new Promise((res) => setTimeout(res, 500)); // the NIC rows of the last packets
    const code = await agent.stop();
    if (code !== 0) {
      throw new Error(`agent exited with ${code}:\n${agent.output()}`);
    }
    const [seed] = await chQuery(
      `SELECT toString(_id) AS id, toUInt32(time) AS t FROM ${DB}.l7_flow_log
       WHERE observation_point = 'server_process' AND server_service = 'gateway' AND request_resource = '${resource}'`
    );
    if (!seed) {
      throw new Error(`no gateway row for ${resource}`);
    }
    const dir = path.join(ROOT, 'build', 'frontend-record');
    const shimBin = path.join(dir, 'grafana-shim');
    fs.mkdirSync(dir, { recursive: true });
    await goBuild(shimBin, './test/grafana-shim');
    shim = await startShim({ shimBin, pluginBin: DIST_PLUGIN, clickhouseUrl: CLICKHOUSE_URL, database: DB, dir });
    fs.mkdirSync(FIXTURES, { recursive: true });
    const recorded = {
      recorded_at: new Date().toISOString(),
      how:
        `node test/frontend/record-trace.js: demo system (netbed layout) traced by the real agent into ClickHouse ${DB}; ` +
        `curl GET ${resource} from host client (a 100 ms sleep at the backend); the real plugin binary behind ` +
        'test/grafana-shim answered these Grafana /api/ds/query requests; each response file is its exact body.',
      database: DB,
      checkout: { resource, row_id: seed.id, time: seed.t, slowed: SLOW },
      files: {},
    };
    const cases = {
      'ds-query-trace.json': { queryType: 'trace', row_id: seed.id, time: seed.t },
      'ds-query-trace-empty.json': { queryType: 'trace', trace_id: 'no-such-trace-0000' },
      'ds-query-trace-error.json': { queryType: 'trace' },
    };
    for (const [file, q] of Object.entries(cases)) {
      save(file, await query(shim.url, q, seed.t), recorded);
    }
    const page = { ...recorded, files: {} };
    await recordTracesPage(shim.url, seed, page);
    await recordRequestLog(shim.url, seed, page);
    fs.writeFileSync(path.join(FIXTURES, 'ds-query-traces-page.recording.json'), `${JSON.stringify(page, null, 2)}\n`);
    fs.writeFileSync(path.join(FIXTURES, 'ds-query-trace.recording.json'), `${JSON.stringify(recorded, null, 2)}\n`);
  } finally {
    agent?.proc.kill('SIGKILL');
    shim?.stop();
    await sys.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

module.exports = { query, save };

if (require.main === module) {
  main().catch((e) => {
    console.error('[record-trace] FAIL', e);
    process.exit(1);
  });
}
