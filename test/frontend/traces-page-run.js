#!/usr/bin/env node
// End-to-end test of the BUILT app's Traces page (dist/module.js and the chunks it loads) in headless Chromium, in
// the harness (harness/app.js: Grafana's shared modules through the AMD define shim, @grafana/runtime as the
// page frame, the backend srv and the location service). The /api/ds/query answers are the real plugin binary's
// recorded ones (fixtures/ds-query-trace-search.json, ds-query-trace-search-trace.json; when and how:
// fixtures/ds-query-traces-page.recording.json): a query the recording does not hold is refused (HTTP 500).
// Asserted: the results list is the search answer, row by row; choosing the slowed checkout puts it in the URL and
// draws its 36 spans with the trace panel's view and the verdict of the verdict frame; the URL alone (a shared
// link) opens the same trace; the form's filters go into the URL and the trace_search query.
// Screenshots: build/screenshots/traces-page-*.png.
// Usage: npm run build && node test/frontend/traces-page-run.js
'use strict';

const assert = require('assert');
const fs = require('fs');
const path = require('path');
const { isDeepStrictEqual } = require('util');
const { HARNESS_LACKS, DIST, buildSite, startHarnessServer, launchChromium, col, screenshot } = require('./run.js');

const FIXTURES = path.join(__dirname, 'fixtures');
const RECORDING = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'ds-query-traces-page.recording.json'), 'utf8'));
const TRACES = '/a/flowlens-observability-app/traces';

function log(...a) {
  console.log('[traces-page-e2e]', ...a);
}

/** The recorded answer of a request the page made, or a refusal; every request is kept for the test. */
function answerer(seen) {
  return (req) => {
    seen.push(req);
    const q = req.queries?.[0] ?? {};
    assert.strictEqual(q.datasource?.uid, 'flowlens', 'the page queries the FlowLens datasource');
    const strip = ({ intervalMs, maxDataPoints, ...rest }) => rest;
    for (const [file, rec] of Object.entries(RECORDING.files)) {
      const r = rec.request;
      if (isDeepStrictEqual(strip(q), r.queries[0]) && req.from === r.from && req.to === r.to) {
        return { status: rec.http_status, body: fs.readFileSync(path.join(FIXTURES, file)) };
      }
    }
    return { status: 500, body: JSON.stringify({ message: `harness: no recorded answer for ${JSON.stringify(q)}` }) };
  };
}

async function open(page, base, appPath, ready, failures = []) {
  const params = new URLSearchParams({ app: appPath, ready, width: '1280' });
  await page.goto(`${base}/index.html?${params}`);
  await page.waitForFunction(() => window.__harness && window.__harness.status !== 'running', null, { timeout: 30000 });
  const h = await page.evaluate(() => ({ status: window.__harness.status, error: window.__harness.error }));
  assert.strictEqual(h.status, 'done', `harness failed: ${h.error}\n${failures.join('\n')}`);
}

const shot = (page, name) => screenshot(page, `traces-page-${name}`, log);

const appLocation = (page) => page.evaluate(() => window.__harness.location());

async function main() {
  if (!fs.existsSync(path.join(DIST, 'module.js'))) {
    throw new Error('dist/module.js is missing: run "npm run build" first');
  }
  await buildSite();
  const seen = [];
  const server = await startHarnessServer(undefined, answerer(seen));
  const base = `http://127.0.0.1:${server.address().port}`;
  log('mode: the real plugin binary answers recorded in fixtures/ds-query-traces-page.recording.json');
  const browser = await launchChromium();
  const failures = [];
  try {
    const page = await browser.newPage({ viewport: { width: 1340, height: 1000 } });
    let expectedConsole = /status of 404/; // the spinner icon (below)
    page.on(
      'console',
      (m) => m.type() === 'error' && !expectedConsole.test(m.text()) && failures.push(`console: ${m.text()}`)
    );
    page.on('pageerror', (e) => failures.push(`pageerror: ${e.message}`));
    page.on('response', (r) => r.status() === 404 && !HARNESS_LACKS.test(r.url()) && failures.push(`404: ${r.url()}`));

    // 1. the search over the recorded minute: one row per trace of the answer, in its order
    const searchReq = RECORDING.files['ds-query-trace-search.json'].request;
    const range = `from=${searchReq.from}&to=${searchReq.to}`;
    await open(page, base, `${TRACES}?${range}&service=gateway`, '[data-testid="traces-results"]', failures);
    const answer = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'ds-query-trace-search.json'), 'utf8'));
    const frame = answer.results.A.frames[0];
    const ids = col(frame, '_id');
    const drawn = await page
      .locator('[data-testid="traces-result-row"]')
      .evaluateAll((els) =>
        els.map((e) => ({ id: e.dataset.rowId, cells: [...e.querySelectorAll('td')].map((td) => td.textContent) }))
      );
    log(`search: ${ids.length} traces in the answer, ${drawn.length} rows listed`);
    assert.deepStrictEqual(
      drawn.map((r) => r.id),
      ids,
      'one row per trace of the answer, in its order'
    );
    const services = col(frame, 'service');
    const endpoints = col(frame, 'endpoint');
    const calls = col(frame, 'calls');
    for (const [i, r] of drawn.entries()) {
      assert.strictEqual(r.cells[2], services[i], `row ${i}: entry service`);
      assert.strictEqual(r.cells[3], endpoints[i], `row ${i}: endpoint`);
      assert.match(r.cells[5], new RegExp(`^${calls[i]}( |$)`), `row ${i}: call count`);
    }
    const notices = (frame.schema.meta?.notices ?? []).map((n) => n.text);
    const shown = await page.locator('[data-testid="traces-notice"]').allTextContents();
    assert.strictEqual(shown.length, notices.length, `the answer's notices shown: ${JSON.stringify(notices)}`);
    assert.ok(
      services.every((x) => x === 'gateway'),
      'every trace listed is rooted at the gateway (a call inside a request is never a row)'
    );
    await shot(page, 'results');

    // 2. the slowed checkout, chosen: in the URL, drawn by the trace panel's view with the verdict frame's culprit
    const traceReq = RECORDING.files['ds-query-trace-search-trace.json'].request.queries[0];
    assert.strictEqual(traceReq.row_id, RECORDING.checkout.row_id, "the recorded trace is the checkout's");
    assert.ok(ids.includes(traceReq.row_id), 'the search lists the checkout by its gateway request');
    await page.locator(`[data-testid="traces-result-row"][data-row-id="${traceReq.row_id}"]`).click();
    await page.locator('[data-testid="trace-row"]').first().waitFor({ timeout: 10000 });
    const loc = await appLocation(page);
    const search = new URLSearchParams(loc.search);
    assert.strictEqual(loc.pathname, TRACES);
    assert.strictEqual(search.get('row'), traceReq.row_id, 'the chosen trace is in the URL');
    assert.strictEqual(search.get('time'), traceReq.time);
    const traceAnswer = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'ds-query-trace-search-trace.json'), 'utf8'));
    const [traceFrame, verdictFrame] = traceAnswer.results.A.frames;
    const total = Number(await page.locator('[data-testid="trace-rows"]').getAttribute('data-rows'));
    assert.strictEqual(total, col(traceFrame, 'spanID').length, 'every span of the trace is a row of the waterfall');
    assert.strictEqual(total, 36, 'a checkout of the demo: 36 spans');
    const culprit = col(verdictFrame, 'hop')[col(verdictFrame, 'culprit').indexOf(true)];
    const verdict = await page
      .locator('[data-testid="trace-verdict"]')
      .evaluate((v) => ({ text: v.textContent, culprit: v.dataset.culprit }));
    log(`chosen trace ${traceReq.row_id}: ${total} spans; verdict "${verdict.text}"`);
    assert.strictEqual(verdict.culprit, culprit, 'the verdict names the verdict frame culprit');
    assert.match(verdict.text, /^\d+% of the [\d.]+ (ms|s) is inside backend/, 'the checkout slowed at the backend');
    assert.strictEqual(
      seen.filter((r) => r.queries[0].queryType === 'trace_search').length,
      1,
      'choosing a trace does not search again'
    );
    await shot(page, 'trace');

    // 3. the URL alone (a shared link) opens the same trace, the row marked
    seen.length = 0;
    await open(page, base, `${loc.pathname}${loc.search}`, '[data-testid="trace-row"]', failures);
    assert.strictEqual(Number(await page.locator('[data-testid="trace-rows"]').getAttribute('data-rows')), 36);
    assert.strictEqual(
      await page
        .locator(`[data-testid="traces-result-row"][data-row-id="${traceReq.row_id}"]`)
        .getAttribute('aria-selected'),
      'true'
    );
    assert.deepStrictEqual(seen.map((r) => r.queries[0].queryType).sort(), ['trace', 'trace_search']);
    await shot(page, 'shared-link');

    // 4. the form's filters go into the URL and the trace_search query (not recorded: refused, the error shown)
    seen.length = 0;
    expectedConsole = /status of (404|500)/; // Chromium logs the refused request itself
    await page.locator('[data-testid="traces-service"]').fill('backend');
    await page.locator('[data-testid="traces-min-duration"]').fill('100');
    await page.locator('[data-testid="traces-search"]').click();
    await page.locator('[data-testid="traces-error"]').waitFor({ timeout: 10000 });
    const after = new URLSearchParams((await appLocation(page)).search);
    assert.deepStrictEqual(Object.fromEntries(after), {
      service: 'backend',
      minDuration: '100',
      from: searchReq.from,
      to: searchReq.to,
    });
    assert.strictEqual(seen.length, 1);
    assert.deepStrictEqual(
      { ...seen[0].queries[0], datasource: undefined },
      {
        refId: 'A',
        queryType: 'trace_search',
        service: 'backend',
        min_duration_ms: '100',
        intervalMs: 1000,
        maxDataPoints: 1000,
        datasource: undefined,
      }
    );
    assert.strictEqual(seen[0].from, searchReq.from);
    assert.match(await page.locator('[data-testid="traces-error"]').textContent(), /no recorded answer/);
    await shot(page, 'filtered');
    expectedConsole = /status of 404/;

    // 5. a request-log row's link opens its trace: the request log in Grafana's Table (@grafana/ui, its links
    // built by @grafana/data's link supplier from the frame), the checkout's gateway row's _id link, the Explore
    // URL it holds, and that URL's query drawn by the trace panel (Explore's trace view is Grafana core)
    const logReq = RECORDING.files['ds-query-request-log.json'].request;
    const { refId: _r, datasource: _d, ...logQuery } = logReq.queries[0];
    await page.goto(
      `${base}/index.html?${new URLSearchParams({
        panel: 'core-table',
        query: JSON.stringify(logQuery),
        from: logReq.from,
        to: logReq.to,
        width: '1300',
        ready: '[role="row"] a',
      })}`
    );
    await page.waitForFunction(() => window.__harness && window.__harness.status !== 'running', null, {
      timeout: 30000,
    });
    const table = await page.evaluate(() => window.__harness);
    assert.strictEqual(table.status, 'done', `request log table: ${table.error}\n${failures.join('\n')}`);
    const logAnswer = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'ds-query-request-log.json'), 'utf8'));
    const logFrame = logAnswer.results.A.frames[0];
    assert.strictEqual(table.rows, col(logFrame, '_id').length, 'every request-log row in the table');
    const checkoutRow = col(logFrame, '_id').indexOf(RECORDING.checkout.row_id);
    assert.ok(checkoutRow >= 0, 'the request log holds the checkout at the gateway');
    const idLinks = table.links.find((l) => l.field === '_id').rows[checkoutRow];
    assert.strictEqual(idLinks.length, 1);
    assert.strictEqual(idLinks[0].title, 'Trace of this request');
    assert.match(idLinks[0].href, /^\/explore\?left=/, 'an internal link opens Explore');
    const left = JSON.parse(new URLSearchParams(idLinks[0].href.split('?')[1]).get('left'));
    const traceByLink = RECORDING.files['ds-query-request-log-trace.json'].request;
    assert.strictEqual(left.datasource, 'flowlens', 'the same datasource');
    assert.deepStrictEqual(left.queries, traceByLink.queries, "the link's typed trace query: the row's _id and time");
    // the anchor drawn in the checkout's _id cell is that link
    assert.strictEqual(
      await page.locator(`[role="row"] td[data-field="_id"] a[href="${idLinks[0].href}"]`).count(),
      1,
      "the checkout's _id cell links to its trace"
    );
    log(`request log: ${table.rows} rows; the checkout's _id link opens ${JSON.stringify(left.queries[0])}`);
    await shot(page, 'request-log');
    seen.length = 0;
    await page.goto(
      `${base}/index.html?${new URLSearchParams({
        panel: 'trace',
        query: JSON.stringify(left.queries[0]),
        from: traceByLink.from,
        to: traceByLink.to,
        width: '1300',
        height: '900',
        ready: '[data-testid="trace-row"]',
      })}`
    );
    await page.waitForFunction(() => window.__harness && window.__harness.status !== 'running', null, {
      timeout: 30000,
    });
    assert.strictEqual(await page.evaluate(() => window.__harness.status), 'done');
    assert.strictEqual(seen.length, 1, "the link's query was answered (it is the recorded one)");
    const linked = Number(await page.locator('[data-testid="trace-rows"]').getAttribute('data-rows'));
    assert.strictEqual(linked, 36, "the checkout's trace from its request-log row: 36 spans");
    assert.match(
      await page.locator('[data-testid="trace-verdict"]').textContent(),
      /^\d+% of the [\d.]+ (ms|s) is inside backend/
    );
    await shot(page, 'request-log-trace');

    assert.deepStrictEqual(failures, [], 'no browser errors');
    log('PASS');
  } finally {
    await browser.close();
    server.close();
  }
}

main().catch((e) => {
  console.error('[traces-page-e2e] FAIL', e);
  process.exit(1);
});
