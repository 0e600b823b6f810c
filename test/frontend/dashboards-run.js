#!/usr/bin/env node
// Renders every bundled dashboard (dist/dashboards/*.json: the plugin's includes, as an installed plugin has them)
// and every team's provisioned copy (provisioning/dashboards/teams/<team>/*.json) in the dashboard harness
// (harness/dashboard.js: the real @grafana/runtime with its services set as Grafana sets them, the BUILT datasource
// plugin answering each panel's query through its own query(), FlowLens panels from dist/panels, Grafana-core panels
// checked for the frame shape they need) in headless Chromium, for each case of CASES (variables as Grafana's URL
// carries them; a team's copy with its own team). Asserted per dashboard and case: every panel done without an
// error, every query sent to the FlowLens datasource with its variables interpolated, the chosen services, team and
// host (typed tag filters; the agent restarts by host alone) and the ad-hoc filter in every query that takes them,
// every FlowLens panel drawn, the FlowLens annotations (error spikes, new services, agent restarts) run through the
// datasource's annotation support. The host case chooses the recording's host (the demo ran on one: the host its
// recorded agent restart names). Screenshots:
// build/screenshots/dashboard-<dir>-<file>-<case>.png.
//
// The Profiling dashboard's flame graphs show the functions of the services asked for (a service, a team's) and
// of no other demo service (SERVICE_FUNCTIONS: a function only that service's program has).
//
// Answers: replayed from fixtures/dashboards/<file>.recording.json (one per bundled dashboard, its team copies ask
// the same; the real plugin binary's answers, recorded with --record over RECORD_DB); a request the recording lacks
// is refused (HTTP 500) and fails its panel. `--record` (as root: needs eBPF, the built backend and
// scripts/build.sh agent) runs the demo system (netbed layout) under LOAD, traced and profiled (on- and off-CPU) by
// the real agent into DEMO_DB, copies that into RECORD_DB (profiles: the demo's services' only, as other programs
// of this shared machine would come and go) with the demo's services tagged by team through business_tags as
// DEMO_TEAMS says, proxies to test/grafana-shim over it and writes the recordings; `--record --reuse` copies and
// records again over the DEMO_DB the last --record left (no demo, no agent: after a dashboard's queries changed).
// `--extend` records only the requests the recordings lack (a query added to a dashboard) over the last --record's
// DEMO_DB, keeping every recorded answer as it is. All under flock /tmp/flowlens-e2e.lock (one database per name for
// every worktree).
// Usage: npm run build && node test/frontend/dashboards-run.js [--record [--reuse] | --extend]
'use strict';

const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { ROOT, SHOTS, DIST, buildSite, startHarnessServer, launchChromium } = require('./run.js');

const FIXTURES = path.join(__dirname, 'fixtures', 'dashboards');
const RECORD = process.argv.includes('--record');
const EXTEND = process.argv.includes('--extend');
/** Answers come from the plugin binary (all of them, or those the recordings lack). */
const LIVE = RECORD || EXTEND;
const REUSE = process.argv.includes('--reuse');

/** Variable cases each bundled dashboard is rendered with (a dashboard lacking a variable ignores it); a team's copy is rendered with its defaults. */
const CASES = [
  { name: 'default', vars: {} },
  { name: 'team-shop', vars: { team: ['shop'] }, team: 'shop' },
  { name: 'team-web', vars: { team: ['web'] }, team: 'web' },
  { name: 'backend', vars: { service: ['backend'] } },
  { name: 'two-services', vars: { service: ['backend', 'frontend'] } },
  { name: 'adhoc-team-web', vars: { filters: ['team|=|web'] }, team: 'web' },
  // the host variable set to the recording's host (recordedHost: read from the recorded data, not this machine's name)
  { name: 'host', vars: {}, host: true },
];

/** Services of the demo system every service variable must list (the recording's database holds its traffic). */
const DEMO_SERVICES = ['backend', 'frontend', 'gateway', 'postgres', 'redis', 'slb'];
/** The demo's services by team, as business tags (pkg/plugin/alertrules_integration_test.go tags the known data alike). */
const DEMO_TEAMS = { backend: 'shop', frontend: 'web', gateway: 'web', slb: 'web', postgres: 'data', redis: 'data' };
/** What the agent wrote while the demo ran (--record). */
const DEMO_DB = 'flowlens_frontend_dashboards_demo';
/** The recording's database: DEMO_DB's tables (profiles of the demo's services) with the business tags. */
const RECORD_DB = 'flowlens_frontend_dashboards';
/** Annotation kinds of the agents' own events (src/datasource/types.ts AGENT_ANNOTATION_KINDS): per host, no team. */
const AGENT_ANNOTATIONS = new Set(['agent_restart', 'agent_stop']);
/** The demo's load while it is recorded: loadgen's steady mix (products, checkouts, a missing page). */
const LOAD = { rate: 40, seconds: 40 };
/**
 * A function only each demo service's program runs (nginx's, toxiproxy's Go runtime, node's, CPython's, postgres's,
 * redis's): a flame graph of a service's profiles shows it, one of other services' does not.
 */
const SERVICE_FUNCTIONS = {
  gateway: /^ngx_/,
  slb: /^runtime\./,
  frontend: /^_ZN4node|^uv_run$/,
  backend: /^_?Py/,
  postgres: /^PostgresMain$/,
  // redis-server (a link to redis-check-rdb) has no frame pointers: its stacks are cut short, its code named by
  // function where its symbols say, else by module+offset
  redis: /^redis-check-rdb\+|^(aeMain|processInputBuffer|_writeToClient|string2ll|zmalloc_get_rss)$/,
};
/** Time series of the demo's traffic itself (not its errors or TCP trouble): a series all 0 there found nothing. */
const TRAFFIC_PANELS =
  /^(Requests per second|Bytes per second|RTT|Latency( p50 \/ p90 \/ p99| avg \/ max| p99)?|p99 by endpoint)$/;
/** Query types whose queries take tag filters (src/datasource/types.ts TAGGED_QUERY_TYPES). */
const TAGGED = new Set([
  'red',
  'map',
  'sql_log',
  'trace_search',
  'flow_log',
  'net_metrics',
  'flamegraph',
  'annotations',
]);

function log(...a) {
  console.log('[dashboards-e2e]', ...a);
}

/** The dashboards: the bundled ones as dist has them, then each team's copies. */
function dashboards() {
  const bundled = fs
    .readdirSync(path.join(DIST, 'dashboards'))
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => ({ file: path.join(DIST, 'dashboards', f), url: `/dist/dashboards/${f}`, dir: 'bundled' }));
  const teamsDir = path.join(ROOT, 'provisioning', 'dashboards', 'teams');
  const copies = fs
    .readdirSync(teamsDir)
    .sort()
    .flatMap((team) =>
      fs
        .readdirSync(path.join(teamsDir, team))
        .sort()
        .map((f) => ({
          file: path.join(teamsDir, team, f),
          url: `/provisioning/dashboards/teams/${team}/${f}`,
          dir: team,
          team,
        }))
    );
  return [...bundled, ...copies];
}

/**
 * Runs the demo system as scripts/run.sh does (netbed layout, the backend failing its share of reservations) for
 * LOAD.seconds of loadgen's steady load, the real agent (profiling on: on-CPU at 99 Hz, off-CPU) tracing, capturing
 * and profiling it into DEMO_DB.
 */
async function recordDemo(e2e) {
  const { startDemoSystem } = require(path.join(ROOT, 'build', 'agent', 'demo', 'demoSystem.js'));
  e2e.assertRoot();
  await e2e.requireClickHouse();
  await e2e.freeDatabase(DEMO_DB);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'flowlens-record-dashboards-'));
  const sys = await startDemoSystem({ layout: 'netbed', dataDir });
  let agent;
  let load;
  try {
    agent = await e2e.startAgent({
      database: DEMO_DB,
      flushIntervalMs: 200,
      statusIntervalMs: 0,
      profiling: { intervalMs: 1000 },
      // the demo's connections stay open (keep-alive, pools): their flow rows every 10 s, not only at close
      flowLogIntervalSec: 10,
      ...sys.agentConfig(),
    });
    const gw = sys.endpoints.gateway;
    load = sys.spawnClient([process.execPath, path.join(ROOT, 'demo', 'loadgen.js')], {
      env: { ...process.env, GATEWAY_HOST: gw.ip, GATEWAY_PORT: String(gw.port), RATE: String(LOAD.rate) },
      stdio: 'ignore',
    });
    const loadExit = new Promise((resolve) => load.once('exit', resolve));
    // the load's length is what is recorded (not a wait for a condition)
    await new Promise((resolve) => setTimeout(resolve, LOAD.seconds * 1000));
    load.kill('SIGTERM');
    await loadExit;
    // two profiling intervals: the last requests' stacks drained and named
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const code = await agent.stop();
    if (code !== 0) {
      throw new Error(`agent exited with ${code}:\n${agent.output()}`);
    }
  } finally {
    load?.kill('SIGKILL');
    agent?.proc.kill('SIGKILL');
    await sys.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * Makes RECORD_DB: DEMO_DB's tables copied (profiles of the demo's services alone), any table of the current schema
 * it lacks created empty, the demo's services tagged by team.
 */
async function makeRecordDb(chQuery, source) {
  await chQuery(`DROP DATABASE IF EXISTS ${RECORD_DB}`);
  await chQuery(`CREATE DATABASE ${RECORD_DB}`);
  const tables = (
    await chQuery(`SELECT name FROM system.tables WHERE database = '${source}' AND engine NOT LIKE '%View'`)
  ).map((r) => r.name);
  for (const t of tables) {
    await chQuery(`CREATE TABLE ${RECORD_DB}.${t} AS ${source}.${t}`);
    const only = t === 'profile_samples' ? ` WHERE service IN (${DEMO_SERVICES.map((x) => `'${x}'`).join(', ')})` : '';
    await chQuery(`INSERT INTO ${RECORD_DB}.${t} SELECT * FROM ${source}.${t}${only}`);
  }
  const schema = require(path.join(ROOT, 'build', 'agent', 'src', 'shared', 'schema.js'));
  const [{ v }] = await chQuery('SELECT version() AS v');
  const dialect = require(path.join(ROOT, 'build', 'agent', 'src', 'agent', 'export', 'migrations.js')).dialectFor(v);
  for (const stmt of schema.renderCurrentSchema(dialect, RECORD_DB)) {
    await chQuery(stmt);
  }
  const now = Date.now();
  const rows = Object.entries(DEMO_TEAMS).map(([svc, team], i) =>
    JSON.stringify({
      time: Math.floor(now / 1000),
      changed_us: now * 1000 + i,
      kind: 'service',
      subject: svc,
      key: 'team',
      value: team,
      deleted: 0,
      updated_by: 'dashboards-run.js',
      updated_by_role: 'Admin',
    })
  );
  await chQuery(`INSERT INTO ${RECORD_DB}.business_tags FORMAT JSONEachRow\n${rows.join('\n')}`);
  const [span] = await chQuery(
    `SELECT toUInt32(min(time)) AS lo, toUInt32(max(time)) AS hi FROM ${RECORD_DB}.app_metrics`
  );
  return { from: String((Number(span.lo) - 60) * 1000), to: String((Number(span.hi) + 60) * 1000), tables };
}

/**
 * The host the demo was recorded on: the one host the recorded agent restart annotations name (host=<name>) among a
 * dashboard's answers (replayed, or recorded by the default case before the host case asks).
 */
function recordedHost(answers) {
  const hosts = new Set();
  for (const a of answers.values()) {
    if (/"annotation":"agent_restart"/.test(a.request.body ?? '')) {
      for (const m of a.body.matchAll(/[",]host=([^,"\\]+)/g)) {
        hosts.add(m[1]);
      }
    }
  }
  assert.strictEqual(hosts.size, 1, `the recording's agent restarts name one host, not ${[...hosts].join(', ')}`);
  return [...hosts][0];
}

/** A request's identity for replay: method, path without the request id, body without Grafana's per-request ids. */
function keyOf(r) {
  const p = r.path.replace(/([?&])requestId=[^&]*&?/, '$1').replace(/[?&]$/, '');
  let body = r.body;
  if (body) {
    try {
      const b = JSON.parse(body);
      for (const q of b.queries ?? []) {
        delete q.requestId;
      }
      body = JSON.stringify(b);
    } catch {
      // not JSON: as sent
    }
  }
  return `${r.method} ${p} ${body}`;
}

async function main() {
  if (!fs.existsSync(path.join(DIST, 'datasource', 'module.js'))) {
    throw new Error('dist/ is missing: run "npm run build" first');
  }
  await buildSite();
  let range;
  let copied;
  let shim;
  let api;
  const recordings = new Map(); // dashboard file -> { key -> answer }
  const extendedFrom = new Map(); // dashboard file -> its recording as loaded (--extend keeps its answers and notes)
  let current; // the recording (bundled dashboard name) of the dashboard being rendered
  if (LIVE) {
    const { goBuild, startShim, DIST_PLUGIN } = require(path.join(ROOT, 'build', 'agent', 'demo', 'traceView.js'));
    const e2e = require(path.join(ROOT, 'build', 'agent', 'test', 'e2e', 'helpers.js'));
    const { CLICKHOUSE_URL, chQuery } = e2e;
    if (RECORD && !REUSE) {
      await recordDemo(e2e);
    }
    copied = await makeRecordDb(chQuery, DEMO_DB);
    // --extend asks over the recordings' own range (their requests carry it); a copy spanning another range means
    // the demo was recorded again since: the new answers then come from its current data (said here)
    range = EXTEND ? undefined : { from: copied.from, to: copied.to };
    if (EXTEND) {
      log(`the copy spans ${copied.from}–${copied.to}; new answers are asked over the recordings' range`);
    }
    const [profiles] = await chQuery(
      `SELECT count() AS n, groupUniqArray(service) AS services FROM ${RECORD_DB}.profile_samples`
    );
    log(
      `recording over ${RECORD_DB} (${copied.tables.length} tables of ${DEMO_DB}; ${profiles.n} profile rows of ${profiles.services.sort().join(', ')}), range ${copied.from}–${copied.to}`
    );
    const dir = path.join(ROOT, 'build', 'frontend-record');
    await goBuild(path.join(dir, 'grafana-shim'), './test/grafana-shim');
    shim = await startShim({
      shimBin: path.join(dir, 'grafana-shim'),
      pluginBin: DIST_PLUGIN,
      clickhouseUrl: CLICKHOUSE_URL,
      database: RECORD_DB,
      dir,
    });
    api = async (r) => {
      const hit = EXTEND && recordings.get(current).get(keyOf(r));
      if (hit) {
        return hit;
      }
      const res = await fetch(`${shim.url}${r.path}`, {
        method: r.method,
        headers: { 'Content-Type': 'application/json' },
        body: r.method === 'GET' ? undefined : r.body,
      });
      const body = Buffer.from(await res.arrayBuffer()).toString('utf8');
      recordings
        .get(current)
        .set(keyOf(r), { request: { method: r.method, path: r.path, body: r.body }, status: res.status, body });
      return { status: res.status, body };
    };
  } else {
    api = async (r) => {
      const hit = recordings.get(current).get(keyOf(r));
      return (
        hit ?? {
          status: 500,
          body: JSON.stringify({ message: `harness: no recorded answer for ${r.method} ${r.path} ${r.body}` }),
        }
      );
    };
  }
  const server = await startHarnessServer(undefined, undefined, api);
  const base = `http://127.0.0.1:${server.address().port}`;
  log(
    `mode: ${
      RECORD
        ? `recording the real plugin binary over ${RECORD_DB}`
        : EXTEND
          ? `replaying fixtures/dashboards/*.recording.json, recording what they lack from the plugin binary over ${RECORD_DB}`
          : 'replaying fixtures/dashboards/*.recording.json'
    }`
  );
  const browser = await launchChromium();
  const failures = [];
  const paints = [];
  try {
    const page = await browser.newPage({ viewport: { width: 1640, height: 1000 } });
    page.on(
      'console',
      (m) => m.type() === 'error' && !/status of 404/.test(m.text()) && failures.push(`console: ${m.text()}`)
    );
    page.on('pageerror', (e) => failures.push(`pageerror: ${e.message}`));
    const all = dashboards();
    const names = [...new Set(all.map((d) => path.basename(d.file, '.json')))];
    for (const name of names) {
      const fixture = path.join(FIXTURES, `${name}.recording.json`);
      if (RECORD) {
        recordings.set(name, new Map());
      } else {
        assert.ok(fs.existsSync(fixture), `${name}: no recording (node test/frontend/dashboards-run.js --record)`);
        const rec = JSON.parse(fs.readFileSync(fixture, 'utf8'));
        recordings.set(name, new Map(rec.answers.map((a) => [keyOf(a.request), a])));
        range = range ?? rec.range;
        assert.deepStrictEqual(rec.range, range, `${name}: recorded over another range than the others`);
        extendedFrom.set(name, rec);
      }
    }
    for (const d of all) {
      const rel = path.relative(ROOT, d.file);
      const name = path.basename(d.file, '.json');
      current = name;
      const dashboard = JSON.parse(fs.readFileSync(d.file, 'utf8'));
      for (const one of d.team ? [{ name: 'default', vars: {}, team: d.team }] : CASES) {
        const c = one.host ? { ...one, host: recordedHost(recordings.get(name)) } : one;
        if (c.host) {
          c.vars = { ...c.vars, host: [c.host] };
        }
        const params = new URLSearchParams({ dashboard: d.url, ...range, width: '1600' });
        for (const [k, vs] of Object.entries(c.vars)) {
          vs.forEach((v) => params.append(`var-${k}`, v));
        }
        const label = `${rel} (${c.name})`;
        await page.goto(`${base}/index.html?${params}`);
        await page.waitForFunction(() => window.__harness && window.__harness.status !== 'running', null, {
          timeout: 60000,
        });
        const h = await page.evaluate(() => window.__harness);
        assert.strictEqual(h.status, 'done', `${label}: ${h.error}\n${failures.join('\n')}`);
        const shot = path.join(SHOTS, `dashboard-${d.dir}-${name}-${c.name}.png`);
        fs.mkdirSync(SHOTS, { recursive: true });
        await page.screenshot({ path: shot, fullPage: true });
        const bad = h.panels.filter((p) => p.status !== 'done').map((p) => `${p.title} (${p.type}): ${p.error}`);
        assert.deepStrictEqual(bad, [], `${label}: panels failed`);
        const expected = dashboard.panels.filter((p) => p.type !== 'row').length;
        assert.strictEqual(h.panels.length, expected, `${label}: every panel rendered`);
        // Grafana-core time series and tables drawn with @grafana/ui (TimeSeries, Table): what a user sees
        const coreDrawn = await page.evaluate(() =>
          [
            ...document.querySelectorAll(
              '[data-panel-type="timeseries"], [data-panel-type="table"], [data-panel-type="logs"]'
            ),
          ].map((box) => ({
            id: Number(box.dataset.panelId),
            // the logs stand-in's lines
            logLines: [...box.querySelectorAll('[data-testid="harness-log-line"]')].map((l) => l.textContent),
            // a legend item per series: its colour icon, in a list item (its label in its test id) or a table row
            legend: [...box.querySelectorAll('[data-testid="series-icon"]')].map((icon) => {
              const item = icon.closest('[data-testid^="data-testid VizLegend series "]');
              return item
                ? item.dataset.testid.replace('data-testid VizLegend series ', '')
                : icon.closest('tr')?.querySelector('button[title]')?.title;
            }),
            plots: box.querySelectorAll('.u-over').length,
            headers: [...box.querySelectorAll('[role="columnheader"]')].map((c) => c.textContent.trim()),
            // the first data row (the header is row 1)
            firstRow: [...box.querySelectorAll('[role="row"][aria-rowindex="2"] [role="cell"]')].map((c) =>
              c.textContent.trim()
            ),
          }))
        );
        const coreLines = [];
        for (const cd of coreDrawn) {
          const p = h.panels.find((x) => x.id === cd.id);
          const what = `${label}: ${p.title}`;
          if (p.type === 'timeseries') {
            const want = p.drawn.fields;
            // uPlot draws a series per number field of the frames, labelled with its display name (the labels'
            // names), each with values in the range; the legend names the same series
            assert.deepStrictEqual(
              p.drawn.series.map((x) => x.label),
              want,
              `${what}: uPlot series against the frames' series`
            );
            assert.deepStrictEqual(cd.legend, want, `${what}: legend items`);
            assert.strictEqual(cd.plots, want.length > 0 ? 1 : 0, `${what}: plots drawn`);
            // the plot shows lines: pixels in the series' colours (a flat line at 0 over 40 s of a 160 s range: ~60)
            assert.ok(want.length === 0 || p.drawn.linePixels >= 20, `${what}: ${p.drawn.linePixels} line pixels`);
            const empty = p.drawn.series.filter((x) => x.points === 0).map((x) => x.label);
            assert.deepStrictEqual(empty, [], `${what}: series without a value in the range`);
            // with services chosen, a series of another service is not drawn: each names a chosen one
            const chosen = p.queries.some((q) => q.service !== undefined) ? (c.vars.service ?? []) : [];
            if (chosen.length > 0) {
              const foreign = want.filter((n) => !chosen.some((svc) => n.includes(svc)));
              assert.deepStrictEqual(foreign, [], `${what}: series of services not chosen (${chosen.join(', ')})`);
            }
            coreLines.push(
              `${p.title}: TimeSeries drew ${want.length} series (${want.join(', ')}) in ${p.drawn.linePixels} line pixels`
            );
          } else if (p.type === 'logs') {
            // the logs stand-in: a line per row of the log-lines frames, the first as the frame's first row reads
            assert.strictEqual(cd.logLines.length, p.drawn.lines, `${what}: log lines drawn`);
            assert.strictEqual(cd.logLines[0], p.drawn.firstLine, `${what}: the first log line`);
            coreLines.push(
              `${p.title}: logs stand-in drew ${p.drawn.lines} lines, first: ${p.drawn.firstLine ?? 'none'}`
            );
          } else {
            // the Table virtualizes its rows: its header and first row against the frame's columns and first values
            assert.deepStrictEqual(cd.headers, p.drawn.columns, `${what}: table header`);
            if (p.drawn.firstRow) {
              assert.deepStrictEqual(cd.firstRow, p.drawn.firstRow, `${what}: the table's first row`);
            }
            // a request table ordered by duration lists the slowest first
            if (p.queries.some((q) => q.order_by === 'duration')) {
              const d = p.drawn.numbers.response_duration_us ?? [];
              assert.ok(
                d.length === p.drawn.rows || d.length === 50,
                `${what}: durations ${d.length} of ${p.drawn.rows}`
              );
              assert.ok(
                d.every((x, i) => i === 0 || d[i - 1] >= x),
                `${what}: rows not slowest first: ${d.join(', ')}`
              );
            }
            const first = (xs) => `${xs.slice(0, 6).join(' | ')}${xs.length > 6 ? ' | …' : ''}`;
            coreLines.push(
              `${p.title}: Table drew ${p.drawn.columns.length} columns (${first(p.drawn.columns)}), first row of ${
                p.drawn.rows
              }: ${p.drawn.firstRow ? first(cd.firstRow) : 'none'}`
            );
          }
        }
        const flat = h.panels
          .filter((p) => TRAFFIC_PANELS.test(p.title) && / all 0\)/.test(p.rendered))
          .map((p) => `${p.title}: ${p.rendered}`);
        assert.deepStrictEqual(flat, [], `${label}: traffic drawn as 0`);
        // a map draws no call through a node other than its two ends (a call through a node reads as that node's)
        const through = await page.evaluate(() =>
          [...document.querySelectorAll('[data-testid="universal-map"]')].flatMap((map) => {
            const nodes = [...map.querySelectorAll('[data-testid="map-node"]')].map((g) => {
              const c = g.querySelector('circle');
              return { id: g.dataset.id, x: +c.getAttribute('cx'), y: +c.getAttribute('cy'), r: +c.getAttribute('r') };
            });
            return [...map.querySelectorAll('[data-testid="map-edge"]')].flatMap((e) => {
              const line = e.querySelector('path');
              const len = line.getTotalLength();
              return nodes
                .filter((n) => n.id !== e.dataset.source && n.id !== e.dataset.target)
                .filter((n) => {
                  for (let t = 0; t <= len; t += 2) {
                    const p = line.getPointAtLength(t);
                    if (Math.hypot(p.x - n.x, p.y - n.y) < n.r) {
                      return true;
                    }
                  }
                  return false;
                })
                .map((n) => `${e.dataset.source}->${e.dataset.target} through ${n.id}`);
            });
          })
        );
        assert.deepStrictEqual(through, [], `${label}: map calls drawn through other nodes`);
        // and no node reads "0 req/s" (one that serves none of the calls shown says so)
        const zeroNodes = await page.evaluate(() =>
          [...document.querySelectorAll('[data-testid="map-node"]')]
            .filter((n) => /(^|[^.\d])0 req\/s/.test(n.textContent))
            .map((n) => n.dataset.id)
        );
        assert.deepStrictEqual(zeroNodes, [], `${label}: map nodes reading 0 req/s`);
        // a flame graph shows the functions of the services asked for (a service, a team's, else every demo
        // service's) and of no other demo service
        const flames = await page.evaluate(() =>
          [...document.querySelectorAll('[data-panel-type="flowlens-flamegraph-panel"]')].map((box) => ({
            id: Number(box.dataset.panelId),
            labels: [...box.querySelectorAll('[data-testid="flame-rect"]')].map((r) => r.dataset.label),
            // top-functions value cells whose text takes more than one line
            wrapped: [...box.querySelectorAll('[data-testid="flame-top-self"], [data-testid="flame-top-total"]')]
              .filter((td) => {
                const r = document.createRange();
                r.selectNodeContents(td);
                return new Set([...r.getClientRects()].map((x) => Math.round(x.top))).size > 1;
              })
              .map((td) => td.textContent),
          }))
        );
        const wantServices = [...(c.vars.service ?? DEMO_SERVICES.filter((s) => !c.team || DEMO_TEAMS[s] === c.team))];
        for (const f of flames) {
          const title = h.panels.find((p) => p.id === f.id).title;
          const shown = DEMO_SERVICES.filter((s) => f.labels.some((l) => SERVICE_FUNCTIONS[s].test(l)));
          assert.deepStrictEqual(
            shown,
            wantServices.sort(),
            `${label}: ${title} shows the functions of ${shown.join(', ') || 'no demo service'} (${f.labels.length} frames)`
          );
          assert.deepStrictEqual(f.wrapped, [], `${label}: ${title}: top-functions values broken over lines`);
          log(`${label}: ${title} flame graph: ${f.labels.length} frames, functions of ${shown.join(', ')}`);
        }
        const queries = [...h.panels.flatMap((p) => p.queries), ...h.annotations.flatMap((a) => a.queries ?? [])];
        // variables interpolated: nothing of the form $x / ${x} left in a query sent
        const left = queries.map((q) => JSON.stringify(q)).filter((q) => /\$\{?\w/.test(q));
        assert.deepStrictEqual(left, [], `${label}: a query still holds a variable`);
        for (const [k, vs] of Object.entries(c.vars)) {
          const has = dashboard.templating?.list?.some((v) => v.name === k && v.type !== 'adhoc');
          if (has && k !== 'team' && k !== 'host') {
            const filtered = h.panels.flatMap((p) => p.queries).filter((q) => q[k] !== undefined);
            assert.ok(filtered.length > 0, `${label}: no query carries ${k}`);
            for (const q of filtered) {
              assert.deepStrictEqual([].concat(q[k]).sort(), [...vs].sort(), `${label}: ${k} of ${JSON.stringify(q)}`);
            }
          }
        }
        // the team (a variable, a team's copy or an ad-hoc filter) and the host: typed tag filters on every query
        // that takes tags; All: none
        // agent restarts are per host: the host, no team of their own, only the ad-hoc filter the datasource adds to
        // every query
        const isAgentEvent = (q) => q.queryType === 'annotations' && AGENT_ANNOTATIONS.has(q.annotation);
        const tagged = queries.filter((q) => TAGGED.has(q.queryType) && !isAgentEvent(q));
        assert.ok(tagged.length > 0, `${label}: no query takes tags`);
        for (const q of tagged) {
          assert.deepStrictEqual(q.tags?.team, c.team ? [c.team] : undefined, `${label}: tags of ${JSON.stringify(q)}`);
        }
        for (const q of queries.filter((x) => TAGGED.has(x.queryType))) {
          assert.deepStrictEqual(q.tags?.host, c.host ? [c.host] : undefined, `${label}: host of ${JSON.stringify(q)}`);
        }
        const agentQueries = queries.filter(isAgentEvent);
        assert.strictEqual(agentQueries.length, 1, `${label}: one agent restart annotation query`);
        const adhocTeam = (c.vars.filters ?? []).map((f) => f.split('|').pop());
        assert.deepStrictEqual(
          agentQueries[0].tags?.team,
          adhocTeam.length ? adhocTeam : undefined,
          `${label}: agent restarts' tags`
        );
        // a query variable lists what the backend has: the service variable, the demo's services, exactly the chosen
        // team's with a team variable (a team's copy: its own; an ad-hoc filter narrows queries, not variables); the
        // team one, its teams
        const teamVar = c.vars.team?.[0] ?? d.team;
        for (const v of h.variables.filter((x) => x.options)) {
          if (v.name === 'service' && teamVar) {
            const want = DEMO_SERVICES.filter((x) => DEMO_TEAMS[x] === teamVar);
            assert.deepStrictEqual(v.options, want, `${label}: the service variable of team ${teamVar}`);
          } else if (v.name === 'service') {
            const missing = DEMO_SERVICES.filter((x) => !v.options.includes(x));
            assert.deepStrictEqual(missing, [], `${label}: the service variable lists ${v.options.join(', ')}`);
          }
          if (v.name === 'team') {
            assert.deepStrictEqual(v.options, [...new Set(Object.values(DEMO_TEAMS))].sort(), `${label}: teams`);
          }
          // the hosts of the chosen team's services (of every service): the one the demo ran on
          if (v.name === 'host') {
            assert.deepStrictEqual(v.options, [recordedHost(recordings.get(name))], `${label}: hosts`);
          }
          log(`${label}: variable ${v.name} lists ${v.options.length}: ${v.options.join(', ')}`);
        }
        // FlowLens annotations: each ran; new services are the demo's (all first seen in the recorded range) of the team
        const badAnno = h.annotations.filter((a) => a.status !== 'done').map((a) => `${a.name}: ${a.error}`);
        assert.deepStrictEqual(badAnno, [], `${label}: annotations failed`);
        // the agent restarts show in every case (the demo's host chosen too), each of the recording's host
        const restarts = h.annotations.find((a) => a.name === 'Agent restarts');
        assert.ok(restarts?.events.length > 0, `${label}: no agent restart shown`);
        const host = recordedHost(recordings.get(name));
        for (const e of restarts.events) {
          assert.ok(e.tags.includes(`host=${host}`), `${label}: agent restart of ${e.tags.join(',')}`);
        }
        const fresh = h.annotations.find((a) => a.name === 'New services');
        if (fresh) {
          const got = fresh.events.map((e) => e.tags.find((t) => t.startsWith('service=')).slice(8)).sort();
          const want = DEMO_SERVICES.filter((s) => !c.team || DEMO_TEAMS[s] === c.team);
          assert.deepStrictEqual(
            got.filter((s) => DEMO_SERVICES.includes(s)),
            want,
            `${label}: new services ${got.join(', ')}`
          );
        }
        const line = `${label}: ${h.panels.map((p) => `${p.title}: ${p.rendered}`).join('; ')}; annotations: ${h.annotations
          .map((a) => `${a.name} ${a.events.length}`)
          .join(', ')}`;
        log(line);
        coreLines.forEach((l) => log(`${label}: ${l}`));
        log(`${label}: first paint of every panel ${Math.round(h.paintMs)} ms`);
        paints.push(h.paintMs);
        log(`screenshot: ${path.relative(ROOT, shot)}`);
      }
    }
    if (LIVE) {
      fs.mkdirSync(FIXTURES, { recursive: true });
      for (const name of names) {
        const answers = [...recordings.get(name).values()];
        const before = extendedFrom.get(name);
        if (before && answers.length === before.answers.length) {
          continue; // --extend: nothing new for this dashboard
        }
        fs.writeFileSync(
          path.join(FIXTURES, `${name}.recording.json`),
          `${JSON.stringify(
            {
              recorded_at: before?.recorded_at ?? new Date().toISOString(),
              ...(before ? { extended_at: new Date().toISOString() } : {}),
              how:
                `node test/frontend/dashboards-run.js --record: the demo system (netbed layout, loadgen at ${LOAD.rate} req/s ` +
                `for ${LOAD.seconds} s) traced, captured and profiled (on- and off-CPU) by the real agent into ${DEMO_DB}; ` +
                `the real plugin binary behind test/grafana-shim over ClickHouse ${RECORD_DB} (its copy: the profiles of ` +
                `the demo's services; the demo's services tagged by team: ${JSON.stringify(DEMO_TEAMS)}) answered these ` +
                `requests of ${name}.json's panels, variables and annotations (bundled and each team's copy), each body exact.`,
              database: RECORD_DB,
              range,
              answers,
            },
            null,
            2
          )}\n`
        );
        log(
          `recorded ${answers.length} answers${before ? ` (${answers.length - before.answers.length} new)` : ''}: fixtures/dashboards/${name}.recording.json`
        );
      }
    }
    assert.deepStrictEqual(failures, [], 'no browser errors');
    paints.sort((a, b) => a - b);
    log(
      `first paint of a dashboard (every panel queried and drawn): median ${Math.round(paints[paints.length >> 1])} ms, max ${Math.round(paints[paints.length - 1])} ms over ${paints.length} renders`
    );
    log('PASS');
  } finally {
    await browser.close();
    server.close();
    shim?.stop();
  }
}

main().catch((e) => {
  console.error('[dashboards-e2e] FAIL', e);
  process.exit(1);
});
