#!/usr/bin/env node
// End-to-end test of the BUILT app's Network and Profiling pages grouped by a tag (dist/module.js and its chunks in
// headless Chromium, in the harness: harness/app.js plays @grafana/runtime for an app page).
// Answers: the real plugin binary's, recorded in fixtures/ds-query-pages-grouped.recording.json (every request the
// pages made, method, path and body, and its exact answer) over ClickHouse flowlens_frontend_dashboards: the demo
// system (netbed) traced, captured and profiled by the real agent, its services tagged by team (business tags), as
// `dashboards-run.js --record` leaves it. A request the recording lacks is refused (HTTP 500).
// Asserted, against the rows of that database read directly (the recording's `expected`, computed by this script
// from l4_flow_log, business_tags and profile_samples, not by the plugin):
//   - Network page: the "Group by" picker lists the backend's tag names (the business tag team first); choosing team
//     puts group=team in the URL, asks flow_log with group_by [team] (format table), and draws one row per (client
//     team, server team, observation point) with the exact flows, failed connects, bytes and retransmissions of
//     those rows; the byte rate per team pair (labelled client_team, server_team) in Grafana's time series panel
//     (PanelRenderer: a uPlot series and a legend row per pair, busiest first); the URL alone draws the same; a
//     clear drops the grouping (the failing and lossy flows again, no group in the URL).
//   - Profiling page: "Roots by" team: the flame graphs' root frames (level 1, under the total) are the teams of the
//     profiled services (a service without one: its name), group_by [team] in both flame graph queries.
// Screenshots: build/screenshots/pages-grouped-*.png.
// Usage: npm run build && node test/frontend/pages-grouped-run.js
//        node test/frontend/pages-grouped-run.js --record   (needs scripts/build.sh agent, scripts/build-backend.sh,
//        the ClickHouse credentials: eval "$(cd /work/main && scripts/clickhouse.sh env)"; under flock
//        /tmp/flowlens-e2e.lock: the database is the dashboards recording's)
//        --extend: asks only the requests the recording lacks (same database, the recording's range)
'use strict';

const assert = require('assert');
const fs = require('fs');
const path = require('path');
const { HARNESS_LACKS, ROOT, DIST, buildSite, startHarnessServer, launchChromium, screenshot } = require('./run.js');

const RECORDING_FILE = path.join(__dirname, 'fixtures', 'ds-query-pages-grouped.recording.json');
const RECORD = process.argv.includes('--record');
const EXTEND = process.argv.includes('--extend');
const DB = 'flowlens_frontend_dashboards';
const TAG = 'team';
const APP = '/a/flowlens-observability-app';
const WIDTH = 1280;

function log(...a) {
  console.log('[pages-grouped-e2e]', ...a);
}

/** A request's identity for replay: method, path, body (Grafana's per-request ids removed). */
function keyOf(r) {
  let body = r.body;
  if (body) {
    const b = JSON.parse(body);
    for (const q of b.queries ?? []) {
      delete q.requestId;
    }
    body = JSON.stringify(b);
  }
  return `${r.method} ${r.path} ${body}`;
}

/** What the database holds, read directly: the flows grouped by the ends' teams, the teams of the profiled services. */
async function expectedOf(chQuery, range) {
  const teams = Object.fromEntries(
    (
      await chQuery(
        `SELECT subject, argMax(value, changed_us) AS team, argMax(deleted, changed_us) AS gone FROM ${DB}.business_tags ` +
          `WHERE kind = 'service' AND key = '${TAG}' GROUP BY subject`
      )
    )
      .filter((r) => Number(r.gone) === 0)
      .map((r) => [r.subject, r.team])
  );
  const within = `time >= toDateTime(${Math.floor(range.from / 1000)}) AND time <= toDateTime(${Math.floor(range.to / 1000)})`;
  const flows = await chQuery(
    `SELECT client_service, server_service, observation_point, host, flow_id, client_ip, client_port, server_ip, server_port, ` +
      `conn_failed, byte_tx, byte_rx, retrans_count, rst_count FROM ${DB}.l4_flow_log WHERE ${within}`
  );
  const groups = new Map();
  for (const f of flows) {
    const client = teams[f.client_service] ?? f.client_service;
    const server = teams[f.server_service] ?? f.server_service;
    const k = `${client}|${server}|${f.observation_point}`;
    const g = groups.get(k) ?? {
      client,
      server,
      point: f.observation_point,
      flows: new Set(),
      failed: 0,
      bytesTx: 0,
      bytesRx: 0,
      retrans: 0,
      rsts: 0,
    };
    g.flows.add([f.host, f.flow_id, f.client_ip, f.client_port, f.server_ip, f.server_port].join(' '));
    g.failed += Number(f.conn_failed);
    g.bytesTx += Number(f.byte_tx);
    g.bytesRx += Number(f.byte_rx);
    g.retrans += Number(f.retrans_count);
    g.rsts += Number(f.rst_count);
    groups.set(k, g);
  }
  const flowGroups = [...groups.values()]
    .map((g) => ({ ...g, flows: g.flows.size }))
    .sort(
      (a, b) => a.client.localeCompare(b.client) || a.server.localeCompare(b.server) || a.point.localeCompare(b.point)
    );
  const samples = await chQuery(
    `SELECT service, sum(value) AS v FROM ${DB}.profile_samples WHERE ${within} AND event = 'on_cpu' GROUP BY service`
  );
  const profiled = samples.map((r) => r.service).sort();
  const rootSamples = {};
  for (const r of samples) {
    const root = teams[r.service] ?? r.service;
    rootSamples[root] = (rootSamples[root] ?? 0) + Number(r.v);
  }
  const roots = Object.keys(rootSamples).sort();
  return { teams, flowGroups, roots, rootSamples, profiled };
}

/** The backend's tag names as the pickers list them (its recorded answers): business tag keys, then the rest. */
function backendTagNames(recorded) {
  const body = (p) => JSON.parse(recorded.find((a) => a.request.path.endsWith(`/resources/${p}`)).body);
  const names = body('tag-values').tags.filter((t) => !t.includes('<'));
  const business = [...new Set(body('tags').tags.map((t) => t.key))].sort();
  return [...business, ...names];
}

async function main() {
  if (!fs.existsSync(path.join(DIST, 'module.js'))) {
    throw new Error('dist/module.js is missing: run "npm run build" first');
  }
  await buildSite();
  const live = RECORD || EXTEND;
  const old = fs.existsSync(RECORDING_FILE) ? JSON.parse(fs.readFileSync(RECORDING_FILE, 'utf8')) : undefined;
  const answers = new Map((RECORD ? [] : (old?.answers ?? [])).map((a) => [keyOf(a.request), a]));
  let recording = old;
  let shim;
  if (live) {
    const e2e = require(path.join(ROOT, 'build', 'agent', 'test', 'e2e', 'helpers.js'));
    const { goBuild, startShim, DIST_PLUGIN } = require(path.join(ROOT, 'build', 'agent', 'demo', 'traceView.js'));
    await e2e.requireClickHouse();
    let range = old?.range;
    if (RECORD) {
      const [span] = await e2e.chQuery(
        `SELECT toUInt32(min(time)) AS lo, toUInt32(max(time)) AS hi FROM ${DB}.l4_flow_log`
      );
      assert.ok(Number(span.hi) > 0, `${DB} holds no flows: run dashboards-run.js --record first`);
      range = { from: (Number(span.lo) - 60) * 1000, to: (Number(span.hi) + 60) * 1000 };
    }
    recording = {
      recorded_at: new Date().toISOString(),
      how:
        `node test/frontend/pages-grouped-run.js ${RECORD ? '--record' : '--extend'}: the real plugin binary behind ` +
        `test/grafana-shim over ClickHouse ${DB} (the demo system traced, captured and profiled by the real agent; its ` +
        'services tagged by team: dashboards-run.js --record) answered these requests of the Network and Profiling ' +
        'pages, each body exact; `expected` is what this script read from the database directly.',
      database: DB,
      range,
      expected: await expectedOf(e2e.chQuery, range),
      answers: [],
    };
    const dir = path.join(ROOT, 'build', 'frontend-record');
    fs.mkdirSync(dir, { recursive: true });
    await goBuild(path.join(dir, 'grafana-shim'), './test/grafana-shim');
    shim = await startShim({
      shimBin: path.join(dir, 'grafana-shim'),
      pluginBin: DIST_PLUGIN,
      clickhouseUrl: e2e.CLICKHOUSE_URL,
      database: DB,
      dir,
    });
  }
  assert.ok(recording, `${path.relative(ROOT, RECORDING_FILE)} is missing: record it (--record)`);
  const seen = [];
  const api = async (r) => {
    seen.push(r);
    const hit = answers.get(keyOf(r));
    if (hit) {
      return { status: hit.status, body: hit.body };
    }
    if (!shim) {
      return { status: 500, body: JSON.stringify({ message: `harness: no recorded answer for ${keyOf(r)}` }) };
    }
    const res = await fetch(`${shim.url}${r.path}`, {
      method: r.method,
      headers: { 'Content-Type': 'application/json' },
      body: r.method === 'GET' ? undefined : r.body,
    });
    const body = Buffer.from(await res.arrayBuffer()).toString('utf8');
    const a = { request: { method: r.method, path: r.path, body: r.body }, status: res.status, body };
    answers.set(keyOf(r), a);
    return { status: res.status, body };
  };
  const server = await startHarnessServer(undefined, undefined, api);
  const base = `http://127.0.0.1:${server.address().port}`;
  const { range, expected } = recording;
  log(
    `mode: ${shim ? `recording from the plugin binary at ${shim.url}` : 'recorded answers'} over ${recording.database}, ` +
      `range ${range.from}–${range.to}; teams ${JSON.stringify(expected.teams)}`
  );
  const browser = await launchChromium();
  const failures = [];
  try {
    const page = await browser.newPage({ viewport: { width: WIDTH + 60, height: 1200 } });
    page.on(
      'console',
      (m) => m.type() === 'error' && !/status of 404/.test(m.text()) && failures.push(`console: ${m.text()}`)
    );
    page.on('pageerror', (e) => failures.push(`pageerror: ${e.message}`));
    page.on('response', (r) => r.status() === 404 && !HARNESS_LACKS.test(r.url()) && failures.push(`404: ${r.url()}`));
    const open = async (appPath, ready) => {
      await page.goto(`${base}/index.html?${new URLSearchParams({ app: appPath, ready, width: String(WIDTH) })}`);
      await page.waitForFunction(() => window.__harness && window.__harness.status !== 'running', null, {
        timeout: 30000,
      });
      const h = await page.evaluate(() => ({ status: window.__harness.status, error: window.__harness.error }));
      assert.strictEqual(h.status, 'done', `harness failed: ${h.error}\n${failures.join('\n')}`);
    };
    const searchOf = async () => new URLSearchParams((await page.evaluate(() => window.__harness.location())).search);
    const queriesOf = (queryType) =>
      seen
        .filter((r) => r.path === '/api/ds/query')
        .map((r) => JSON.parse(r.body).queries[0])
        .filter((q) => q.queryType === queryType);
    /** Opens a one-tag picker and chooses `tag`; returns the option values it offered. */
    const pick = async (testId, tag) => {
      await page.locator(`[data-testid="${testId}"]`).click();
      await page.getByRole('option').first().waitFor({ timeout: 10000 });
      const offered = await page.getByRole('option').evaluateAll((os) => os.map((o) => o.textContent));
      await page.getByRole('option', { name: new RegExp(`^${tag}\\b`) }).click();
      return offered;
    };
    const rowsDrawn = () =>
      page
        .locator('[data-testid="network-group-row"]')
        .evaluateAll((rs) => rs.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent)));
    const want = expected.flowGroups
      .map((g) => [g.client, g.server, g.point, String(g.flows), String(g.failed), g.retrans, g.rsts])
      .map((r) => r.map(String));
    const comparable = (rows) =>
      rows
        .map((c) => [c[0], c[1], c[2], c[3], c[4], c[6], c[7]])
        .sort((a, b) => a[0].localeCompare(b[0]) || a[1].localeCompare(b[1]) || a[2].localeCompare(b[2]));

    // 1. the Network page: group the flows by team with the picker
    const network = `${APP}/network?from=${range.from}&to=${range.to}`;
    await open(network, '[data-testid="network-flow-row"], [data-testid="network-no-flows"]');
    const offered = await pick('network-group-by', TAG);
    log(`Network "Group by" offers: ${offered.join(', ')}`);
    // the menu draws the first options of the list (virtualised): the backend's names, the business tag first
    const tags = backendTagNames([...answers.values()]);
    assert.strictEqual(tags[0], TAG);
    assert.ok(offered.length >= 5, `${offered.length} options drawn`);
    assert.deepStrictEqual(
      offered.map((o) => o.replace(/(business tag|tag)$/, '')),
      tags.slice(0, offered.length)
    );
    await page.locator('[data-testid="network-group-row"]').first().waitFor({ timeout: 15000 });
    assert.strictEqual((await searchOf()).get('group'), TAG, 'the grouping is in the URL');
    const flowQ = queriesOf('flow_log').filter((q) => q.group_by);
    assert.strictEqual(flowQ.length, 1);
    assert.deepStrictEqual(flowQ[0].group_by, [TAG]);
    assert.strictEqual(flowQ[0].format, 'table');
    const rows = await rowsDrawn();
    log(`flows by team: ${rows.map((r) => `${r[0]}→${r[1]} at ${r[2]}: ${r[3]} flows, ${r[6]} retrans`).join('; ')}`);
    assert.deepStrictEqual(comparable(rows), want, 'one row per (client team, server team, point), its exact sums');
    assert.deepStrictEqual(await page.locator('[data-testid="network-groups"] th').allTextContents(), [
      `Client ${TAG}`,
      `Server ${TAG}`,
      'Seen at',
      'Flows',
      'Failed connections',
      'Bytes sent / received',
      'Retransmissions',
      'RSTs',
      'Zero windows',
      'Avg RTT',
    ]);
    // the byte rate per team pair over time, drawn by Grafana's time series panel (PanelRenderer; the harness draws it
    // with @grafana/ui's TimeSeries): a uPlot series per pair with points in the range, lines in the plot, and a
    // legend row per pair naming it, with its mean and peak, the busiest first
    const pairs = [...new Set(expected.flowGroups.map((g) => `${g.client}→${g.server}`))].sort();
    await page.locator('[data-testid="network-series-graph"] .u-over').waitFor({ timeout: 15000 });
    const graph = await page.waitForFunction(() =>
      window.__harness.panelRenders?.find((r) => r.pluginId === 'timeseries')
    );
    const drawnGraph = await graph.jsonValue();
    assert.ok(!drawnGraph.error, drawnGraph.error);
    const pairOf = (label) => label.replace(/ bytes$/, '').replace(' → ', '→');
    assert.deepStrictEqual(
      drawnGraph.series.map((x) => pairOf(x.label)).sort(),
      pairs,
      `a graph series per team pair: ${drawnGraph.series.map((x) => x.label).join('; ')}`
    );
    assert.deepStrictEqual(
      drawnGraph.series.filter((x) => !(x.points > 0)).map((x) => x.label),
      [],
      'series without points in the range'
    );
    assert.ok(drawnGraph.linePixels >= 20, `${drawnGraph.linePixels} line pixels`);
    const legend = await page
      .locator('[data-testid="network-series-graph"] tr:has([data-testid="series-icon"])')
      .evaluateAll((rs) =>
        rs.map((r) => [
          r.querySelector('button[title]')?.title,
          ...[...r.querySelectorAll('td')].slice(-2).map((td) => td.textContent),
        ])
      );
    log(`byte rate by team: ${legend.map(([name, mean, peak]) => `${name}: mean ${mean}, peak ${peak}`).join('; ')}`);
    assert.deepStrictEqual(legend.map(([name]) => pairOf(name)).sort(), pairs, 'a legend row per team pair');
    const bytesPerSec = (text) => {
      const m = /^([\d.]+) (B|KiB|MiB|GiB)\/s$/.exec(text.trim());
      assert.ok(m, `not a byte rate: ${text}`);
      return Number(m[1]) * 1024 ** ['B', 'KiB', 'MiB', 'GiB'].indexOf(m[2]);
    };
    const means = legend.map(([, mean]) => bytesPerSec(mean));
    assert.ok(
      means.every((m, k) => k === 0 || means[k - 1] >= m),
      `legend not busiest first: ${means.join(', ')}`
    );
    assert.ok(
      legend.every(([, mean, peak]) => bytesPerSec(peak) >= bytesPerSec(mean)),
      'peak below mean'
    );
    const seriesQ = queriesOf('net_metrics');
    assert.deepStrictEqual(
      seriesQ.map((q) => q.group_by),
      [[TAG]]
    );
    await screenshot(page, 'pages-grouped-network', log);

    // the URL alone (a shared link) draws the same groups
    await open(`${network}&group=${TAG}`, '[data-testid="network-group-row"]');
    assert.deepStrictEqual(comparable(await rowsDrawn()), want, 'the link draws the same groups');
    assert.strictEqual(await page.locator(`[data-testid="network-group-by"]`).inputValue(), TAG);
    // a clear drops the grouping
    await page.getByRole('button', { name: 'Clear value' }).click();
    await page
      .locator('[data-testid="network-flow-row"], [data-testid="network-no-flows"]')
      .first()
      .waitFor({ timeout: 15000 });
    assert.strictEqual((await searchOf()).get('group'), null, 'no grouping in the URL');
    assert.strictEqual(await page.locator('[data-testid="network-group-row"]').count(), 0);

    // 2. the Profiling page: one root frame per team
    const profiling = `${APP}/profiling?from=${range.from}&to=${range.to}`;
    await open(profiling, '[data-testid="flame-rect"], [data-testid="flame-empty"]');
    await pick('profiling-roots', TAG);
    await page.waitForFunction(
      () =>
        new URLSearchParams(window.__harness.location().search).get('roots') === 'team' &&
        document.querySelector('[data-event="on_cpu"] [data-testid="flame-rect"][data-level="1"]')
    );
    const flameQ = queriesOf('flamegraph').filter((q) => q.group_by);
    assert.deepStrictEqual(
      flameQ.map((q) => [q.event, q.group_by]),
      [
        ['on_cpu', [TAG]],
        ['off_cpu', [TAG]],
      ]
    );
    const roots = await page
      .locator('[data-event="on_cpu"] [data-testid="flame-rect"][data-level="1"]')
      .evaluateAll((rs) => rs.map((r) => ({ label: r.dataset.label, width: r.getBoundingClientRect().width })));
    log(`on-CPU roots by team: ${roots.map((r) => `${r.label} (${r.width.toFixed(0)} px)`).join(', ')}`);
    const rootNames = roots.map((r) => r.label).sort();
    assert.deepStrictEqual(
      rootNames,
      expected.roots,
      `one root per team of the profiled services (${expected.profiled})`
    );
    // each root as wide as its services' on-CPU samples (the database's sums) of the total frame
    const total = await page
      .locator('[data-event="on_cpu"] [data-testid="flame-rect"][data-level="0"]')
      .evaluate((r) => r.getBoundingClientRect().width);
    const all = Object.values(expected.rootSamples).reduce((a, b) => a + b, 0);
    for (const r of roots) {
      const want = (total * expected.rootSamples[r.label]) / all;
      assert.ok(Math.abs(r.width - want) <= 2, `${r.label}: ${r.width.toFixed(1)} px, want ${want.toFixed(1)} px`);
    }
    assert.match(
      await page.locator('[data-event="on_cpu"] [data-testid="flame-summary"]').textContent(),
      new RegExp(`· ${all} samples`)
    );
    log(`on-CPU samples per team (the database's): ${JSON.stringify(expected.rootSamples)}, ${all} in all`);
    await screenshot(page, 'pages-grouped-profiling', log);
    // the URL keeps it: the link alone draws the same roots
    await open(`${profiling}&roots=${TAG}`, '[data-testid="flame-rect"][data-level="1"]');
    const again = await page
      .locator('[data-event="on_cpu"] [data-testid="flame-rect"][data-level="1"]')
      .evaluateAll((rs) => rs.map((r) => r.dataset.label));
    assert.deepStrictEqual(again.sort(), rootNames);

    assert.deepStrictEqual(failures, [], 'no browser errors');
    if (shim) {
      recording.answers = [...answers.values()];
      fs.writeFileSync(RECORDING_FILE, `${JSON.stringify(recording, null, 2)}\n`);
      log(`recorded ${recording.answers.length} answers into ${path.relative(ROOT, RECORDING_FILE)}`);
    }
    log('PASS');
  } finally {
    await browser.close();
    server.close();
    shim?.stop();
  }
}

main().catch((e) => {
  console.error('[pages-grouped-e2e] FAIL', e);
  process.exit(1);
});
