#!/usr/bin/env node
// End-to-end test of the BUILT app's Triage page (dist/module.js and the chunks it loads) in headless Chromium, in
// the harness (harness/app.js: Grafana's shared modules through the AMD define shim, @grafana/runtime as the page
// frame, the backend srv and the location service). The /api/ds/query answers are the real plugin binary's recorded
// ones over the real agent's captures of the triage test bed (fixtures/ds-query-triage-*.json; when and how:
// fixtures/ds-query-triage.recording.json): a query the recording does not hold is refused (HTTP 500).
// Asserted: for each recorded scenario opened by its URL (service, client, the fault window), the page asks the
// recorded query and lists the answer's suspects in its order, the first one the injected place and kind, with its
// evidence and its links; the control shows no suspect; the notes are shown; the form's target goes into the URL.
// Screenshots: build/screenshots/triage-page-*.png.
// Usage: npm run build && node test/frontend/triage-page-run.js
'use strict';

const assert = require('assert');
const fs = require('fs');
const path = require('path');
const { isDeepStrictEqual } = require('util');
const { HARNESS_LACKS, ROOT, SHOTS, DIST, buildSite, startHarnessServer, launchChromium, col } = require('./run.js');

const FIXTURES = path.join(__dirname, 'fixtures');
const RECORDING = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'ds-query-triage.recording.json'), 'utf8'));
const TRIAGE = '/a/flowlens-observability-app/triage';
const PLACE = {
  client_app: 'client app',
  network_path: 'network path',
  gateway: 'gateway',
  server_nic: 'server host / NIC',
  server_app: 'server app',
  dependency: 'dependency',
  dns: 'DNS',
};

function log(...a) {
  console.log('[triage-page-e2e]', ...a);
}

function answerer(seen) {
  return (req) => {
    seen.push(req);
    const q = req.queries?.[0] ?? {};
    assert.strictEqual(q.datasource?.uid, 'flowlens', 'the page queries the FlowLens datasource');
    const strip = ({ intervalMs, maxDataPoints, refId, datasource, ...rest }) => rest;
    for (const [file, rec] of Object.entries(RECORDING.files)) {
      const r = rec.request;
      if (isDeepStrictEqual(strip(q), strip(r.queries[0])) && req.from === r.from && req.to === r.to) {
        return { status: rec.http_status, body: fs.readFileSync(path.join(FIXTURES, file)) };
      }
    }
    return { status: 500, body: JSON.stringify({ message: `harness: no recorded answer for ${JSON.stringify(q)}` }) };
  };
}

async function open(page, base, appPath, ready, failures) {
  const params = new URLSearchParams({ app: appPath, ready, width: '1280' });
  await page.goto(`${base}/index.html?${params}`);
  await page.waitForFunction(() => window.__harness && window.__harness.status !== 'running', null, { timeout: 30000 });
  const h = await page.evaluate(() => ({ status: window.__harness.status, error: window.__harness.error }));
  assert.strictEqual(h.status, 'done', `harness failed: ${h.error}\n${failures.join('\n')}`);
}

async function shot(page, name) {
  fs.mkdirSync(SHOTS, { recursive: true });
  const file = path.join(SHOTS, `triage-page-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  log(`screenshot: ${path.relative(ROOT, file)}`);
}

async function main() {
  if (!fs.existsSync(path.join(DIST, 'module.js'))) {
    throw new Error('dist/module.js is missing: run "npm run build" first');
  }
  await buildSite();
  const seen = [];
  const server = await startHarnessServer(undefined, answerer(seen));
  const base = `http://127.0.0.1:${server.address().port}`;
  const browser = await launchChromium();
  const failures = [];
  try {
    const page = await browser.newPage({ viewport: { width: 1340, height: 900 } });
    let expectedConsole = /status of 404/;
    page.on(
      'console',
      (m) => m.type() === 'error' && !expectedConsole.test(m.text()) && failures.push(`console: ${m.text()}`)
    );
    page.on('pageerror', (e) => failures.push(`pageerror: ${e.message}`));
    page.on('response', (r) => r.status() === 404 && !HARNESS_LACKS.test(r.url()) && failures.push(`404: ${r.url()}`));

    for (const sc of RECORDING.scenarios) {
      seen.length = 0;
      const file = `ds-query-triage-${sc.name}.json`;
      const req = RECORDING.files[file].request;
      const client = sc.target.client_service ? `&client=${sc.target.client_service}` : '';
      const url = `${TRIAGE}?service=${sc.target.service}${client}&from=${req.from}&to=${req.to}`;
      const ready = sc.expect ? '[data-testid="triage-suspect"]' : '[data-testid="triage-none"]';
      await open(page, base, url, ready, failures);
      assert.strictEqual(seen.length, 1, `${sc.name}: one triage query`);
      const frame = JSON.parse(fs.readFileSync(path.join(FIXTURES, file), 'utf8')).results.A.frames[0];
      const places = col(frame, 'place');
      const ranks = col(frame, 'rank');
      const evidence = col(frame, 'evidence');
      const rows = await page
        .locator('[data-testid="triage-suspect"]')
        .evaluateAll((els) => els.map((e) => [...e.querySelectorAll('td')].map((td) => td.textContent)));
      const want = ranks.map((r, i) => i).filter((i) => places[i] !== 'note');
      assert.strictEqual(rows.length, want.length, `${sc.name}: one row per suspect of the answer`);
      for (const [k, i] of want.entries()) {
        assert.strictEqual(rows[k][0], String(ranks[i]), `${sc.name}: rank`);
        assert.strictEqual(rows[k][6], evidence[i], `${sc.name}: evidence`);
      }
      if (sc.expect) {
        assert.strictEqual(rows[0][1], PLACE[sc.expect.place], `${sc.name}: the first suspect's place`);
        log(
          `${sc.name}: ${rows.length} suspects; first: ${rows[0][1]} | ${rows[0][2]} | ${rows[0][3]} | ${rows[0][6].slice(0, 90)}…`
        );
        const links = await page.locator('[data-testid="triage-suspect"]').first().locator('a').allTextContents();
        assert.ok(links.includes('Traces') && links.includes('CPU profile'), `${sc.name}: links ${links}`);
      } else {
        log(`${sc.name}: no suspect shown`);
      }
      const notes = evidence.filter((_, i) => places[i] === 'note');
      const shownNotes = notes.length ? await page.locator('[data-testid="triage-notes"] li').allTextContents() : [];
      assert.deepStrictEqual(shownNotes, notes, `${sc.name}: the notes`);
      if (['slow_database', 'refused', 'cpu_bound', 'client_wait', 'control'].includes(sc.name)) {
        await shot(page, sc.name.replace('_', '-'));
      }
    }

    // the form: a target typed in goes into the URL and the query (not recorded: refused, the error shown)
    seen.length = 0;
    expectedConsole = /status of (404|500)/;
    await page.locator('[data-testid="triage-service"]').fill('backend');
    await page.locator('[data-testid="triage-client"]').fill('frontend');
    await page.locator('[data-testid="triage-run"]').click();
    await page.locator('[data-testid="triage-error"]').waitFor({ timeout: 10000 });
    const loc = new URLSearchParams((await page.evaluate(() => window.__harness.location())).search);
    assert.strictEqual(loc.get('service'), 'backend');
    assert.strictEqual(loc.get('client'), 'frontend');
    assert.strictEqual(seen.length, 1);
    assert.deepStrictEqual(
      {
        queryType: seen[0].queries[0].queryType,
        service: seen[0].queries[0].service,
        client: seen[0].queries[0].client_service,
      },
      { queryType: 'triage', service: 'backend', client: 'frontend' }
    );
    assert.deepStrictEqual(failures, [], 'no browser errors');
    log('PASS');
  } finally {
    await browser.close();
    server.close();
  }
}

main().catch((e) => {
  console.error('[triage-page-e2e] FAIL', e);
  process.exit(1);
});
