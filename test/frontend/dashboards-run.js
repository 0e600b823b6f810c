#!/usr/bin/env node
// Renders every provisioned dashboard (provisioning/dashboards/**/*.json) in the dashboard harness
// (harness/dashboard.js: the real @grafana/runtime with its services set as Grafana sets them, the BUILT datasource
// plugin answering each panel's query through its own query(), FlowLens panels from dist/panels, Grafana-core panels
// checked for the frame shape they need) in headless Chromium, for each case of CASES (variables as Grafana's URL
// carries them). Asserted per dashboard and case: every panel done without an error, every query sent to the FlowLens
// datasource with its variables interpolated, every FlowLens panel drawn. Screenshots:
// build/screenshots/dashboard-<file>-<case>.png.
//
// Answers: replayed from fixtures/dashboards/<file>.recording.json (the real plugin binary's answers, recorded with
// --record over the database record-trace.js leaves: the demo system traced by the real agent); a request the
// recording lacks is refused (HTTP 500) and fails its panel. `--record` (needs that database, the built backend and
// scripts/build.sh agent) proxies to test/grafana-shim over it and writes the recordings.
// Usage: npm run build && node test/frontend/dashboards-run.js [--record]
'use strict';

const assert = require('assert');
const fs = require('fs');
const path = require('path');
const { ROOT, SHOTS, DIST, buildSite, startHarnessServer, launchChromium } = require('./run.js');

const FIXTURES = path.join(__dirname, 'fixtures', 'dashboards');
const TRACE_RECORDING = require('./fixtures/ds-query-trace.recording.json');
const RECORD = process.argv.includes('--record');

/** Variable cases each dashboard is rendered with (a dashboard lacking a variable ignores it). */
const CASES = [
  { name: 'default', vars: {} },
  { name: 'backend', vars: { service: ['backend'] } },
  { name: 'two-services', vars: { service: ['backend', 'frontend'] } },
];

/** Services of the demo system every service variable must list (the recording's database holds its traffic). */
const DEMO_SERVICES = ['backend', 'frontend', 'gateway', 'postgres', 'redis', 'slb'];

function log(...a) {
  console.log('[dashboards-e2e]', ...a);
}

function dashboards(dir = path.join(ROOT, 'provisioning', 'dashboards')) {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) =>
      e.isDirectory() ? dashboards(path.join(dir, e.name)) : e.name.endsWith('.json') ? [path.join(dir, e.name)] : []
    );
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
  // the demo checkout's minute, as recorded by record-trace.js
  const at = TRACE_RECORDING.checkout.time * 1000;
  const range = { from: String(at - 60_000), to: String(at + 60_000) };
  let shim;
  let api;
  const recordings = new Map(); // dashboard file -> { key -> answer }
  let current; // the dashboard file being rendered
  if (RECORD) {
    const { goBuild, startShim, DIST_PLUGIN } = require(path.join(ROOT, 'build', 'agent', 'demo', 'traceView.js'));
    const { CLICKHOUSE_URL } = require(path.join(ROOT, 'build', 'agent', 'test', 'e2e', 'helpers.js'));
    const dir = path.join(ROOT, 'build', 'frontend-record');
    await goBuild(path.join(dir, 'grafana-shim'), './test/grafana-shim');
    shim = await startShim({
      shimBin: path.join(dir, 'grafana-shim'),
      pluginBin: DIST_PLUGIN,
      clickhouseUrl: CLICKHOUSE_URL,
      database: TRACE_RECORDING.database,
      dir,
    });
    api = async (r) => {
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
    `mode: ${RECORD ? `recording the real plugin binary over ${TRACE_RECORDING.database}` : 'replaying fixtures/dashboards/*.recording.json'}`
  );
  const browser = await launchChromium();
  const failures = [];
  try {
    const page = await browser.newPage({ viewport: { width: 1640, height: 1000 } });
    page.on(
      'console',
      (m) => m.type() === 'error' && !/status of 404/.test(m.text()) && failures.push(`console: ${m.text()}`)
    );
    page.on('pageerror', (e) => failures.push(`pageerror: ${e.message}`));
    for (const file of dashboards()) {
      const rel = path.relative(ROOT, file);
      const name = path.basename(file, '.json');
      const fixture = path.join(FIXTURES, `${name}.recording.json`);
      current = file;
      if (RECORD) {
        recordings.set(file, new Map());
      } else {
        assert.ok(fs.existsSync(fixture), `${rel}: no recording (node test/frontend/dashboards-run.js --record)`);
        const rec = JSON.parse(fs.readFileSync(fixture, 'utf8'));
        recordings.set(file, new Map(rec.answers.map((a) => [keyOf(a.request), a])));
      }
      const dashboard = JSON.parse(fs.readFileSync(file, 'utf8'));
      for (const c of CASES) {
        const params = new URLSearchParams({ dashboard: `/${rel}`, ...range, width: '1600' });
        for (const [k, vs] of Object.entries(c.vars)) {
          vs.forEach((v) => params.append(`var-${k}`, v));
        }
        await page.goto(`${base}/index.html?${params}`);
        await page.waitForFunction(() => window.__harness && window.__harness.status !== 'running', null, {
          timeout: 60000,
        });
        const h = await page.evaluate(() => window.__harness);
        assert.strictEqual(h.status, 'done', `${rel} (${c.name}): ${h.error}\n${failures.join('\n')}`);
        const shot = path.join(SHOTS, `dashboard-${name}-${c.name}.png`);
        fs.mkdirSync(SHOTS, { recursive: true });
        await page.screenshot({ path: shot, fullPage: true });
        const bad = h.panels.filter((p) => p.status !== 'done').map((p) => `${p.title} (${p.type}): ${p.error}`);
        assert.deepStrictEqual(bad, [], `${rel} (${c.name}): panels failed`);
        const expected = dashboard.panels.filter((p) => p.type !== 'row').length;
        assert.strictEqual(h.panels.length, expected, `${rel}: every panel rendered`);
        // variables interpolated: nothing of the form $x / ${x} left in a query sent
        const left = h.panels.flatMap((p) => p.queries.map((q) => JSON.stringify(q))).filter((q) => /\$\{?\w/.test(q));
        assert.deepStrictEqual(left, [], `${rel} (${c.name}): a query still holds a variable`);
        for (const [k, vs] of Object.entries(c.vars)) {
          const has = dashboard.templating?.list?.some((v) => v.name === k);
          if (has) {
            const filtered = h.panels.flatMap((p) => p.queries).filter((q) => q[k] !== undefined);
            assert.ok(filtered.length > 0, `${rel} (${c.name}): no query carries ${k}`);
            for (const q of filtered) {
              assert.deepStrictEqual(
                [].concat(q[k]).sort(),
                [...vs].sort(),
                `${rel} (${c.name}): ${k} of ${JSON.stringify(q)}`
              );
            }
          }
        }
        // a query variable lists what the backend has: the service variable, the demo's services
        for (const v of h.variables.filter((x) => x.name === 'service' && x.options)) {
          const missing = DEMO_SERVICES.filter((x) => !v.options.includes(x));
          assert.deepStrictEqual(missing, [], `${rel}: the service variable lists ${v.options.join(', ')}`);
          log(`${rel} (${c.name}): variable service lists ${v.options.length} services: ${v.options.join(', ')}`);
        }
        log(`${rel} (${c.name}): ${h.panels.map((p) => `${p.title}: ${p.rendered}`).join('; ')}`);
        log(`screenshot: ${path.relative(ROOT, shot)}`);
      }
      if (RECORD) {
        fs.mkdirSync(FIXTURES, { recursive: true });
        const answers = [...recordings.get(file).values()];
        fs.writeFileSync(
          fixture,
          `${JSON.stringify(
            {
              recorded_at: new Date().toISOString(),
              how:
                `node test/frontend/dashboards-run.js --record: the real plugin binary behind test/grafana-shim over ClickHouse ` +
                `${TRACE_RECORDING.database} (the demo system traced by the real agent, left by record-trace.js) answered ` +
                `these requests of ${rel}'s panels, each body exact.`,
              database: TRACE_RECORDING.database,
              range,
              answers,
            },
            null,
            2
          )}\n`
        );
        log(`recorded ${answers.length} answers: ${path.relative(ROOT, fixture)}`);
      }
    }
    assert.deepStrictEqual(failures, [], 'no browser errors');
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
