#!/usr/bin/env node
// End-to-end test of the BUILT Network Profile panel (dist/panels/netprofile/module.js) in headless Chromium, in
// the same harness as the other panels (run.js: Grafana's shared modules through an AMD define shim, Grafana's
// /api/ds/query request and response JSON, PanelProps).
// Where the answers come from:
//   default          the real plugin binary's recorded answers over rows the real agent captured
//                    (fixtures/ds-query-netprofile-*.json; fixtures/ds-query-netprofile.recording.json says how)
//   FLOWLENS_SHIM=1  the real plugin binary itself behind test/grafana-shim, over the ClickHouse database the
//                    recording names (FLOWLENS_NETPROFILE_RECORDING=<dir>/ds-query-netprofile.recording.json: the
//                    live test loads the captures with record-netprofile.js --out <dir> first)
// Asserted: the think-time flow drawn packet by packet at both NICs, its client wait ≈ the think time the
// largest interval (the widest drawn, and shaded); a packet's fields on hover; a lossy transfer's 256-packet rows
// with their retransmissions and the notice; a refused connect's SYN and RST; the empty answer and the query
// error. Screenshots under build/screenshots/netprofile-*.png.
// Usage: npm run build && scripts/build-backend.sh && node test/frontend/netprofile-run.js
'use strict';

const assert = require('assert');
const fs = require('fs');
const path = require('path');
const {
  HARNESS_LACKS,
  DIST,
  buildSite,
  startAnswers,
  launchChromium,
  col,
  openPanel,
  screenshot,
} = require('./run.js');

const RECORDING = path.resolve(
  process.env.FLOWLENS_NETPROFILE_RECORDING || path.join(__dirname, 'fixtures', 'ds-query-netprofile.recording.json')
);
const LIVE = process.env.FLOWLENS_SHIM === '1';
const WIDTH = 1280;

function log(...a) {
  console.log('[netprofile-e2e]', ...a);
}

/** The recorded answer of a query (matched on its flow), unless live (then the shim answers). */
function answerer(recording) {
  const dir = path.dirname(RECORDING);
  const key = (q) =>
    ['queryType', 'client_ip', 'client_port', 'server_ip', 'server_port', 'min_retrans', 'close_type']
      .map((k) => String(q[k] ?? ''))
      .join(' ');
  return (req) => {
    const q = req.queries?.[0] ?? {};
    assert.strictEqual(q.datasource?.uid, 'flowlens');
    assert.ok(['netprofile', 'map', 'flow_log'].includes(q.queryType), `queryType ${q.queryType}`);
    if (LIVE) {
      return undefined;
    }
    for (const [file, rec] of Object.entries(recording.files)) {
      if (key(rec.request.queries[0]) === key(q)) {
        return { status: rec.http_status, body: fs.readFileSync(path.join(dir, file)) };
      }
    }
    throw new Error(`no recorded answer for ${JSON.stringify(q)}`);
  };
}

/** What the panel drew, from the DOM: packets, intervals (with their on-screen boxes), notices, summary rows. */
function drawn(page) {
  return page.evaluate(() => {
    const box = (e) => {
      const r = e.getBoundingClientRect();
      return { x: r.x, width: r.width };
    };
    return {
      packets: [...document.querySelectorAll('[data-testid="np-packet"]')].map((e) => ({
        index: Number(e.dataset.index),
        kind: e.dataset.kind,
      })),
      intervals: [...document.querySelectorAll('[data-testid="np-interval"]')].map((e) => ({
        kind: e.dataset.kind,
        us: Number(e.dataset.durationUs),
        largest: e.dataset.largest === 'true',
        text: e.textContent,
        line: box(e.querySelector('line')),
      })),
      band: [...document.querySelectorAll('[data-testid="np-largest"]')].map((e) => ({
        kind: e.dataset.kind,
        ...box(e),
      })),
      notices: [...document.querySelectorAll('[data-testid="np-notice"]')].map((e) => e.textContent),
      summary: [...document.querySelectorAll('[data-testid="np-summary-row"]')].map((e) =>
        [...e.querySelectorAll('td')].map((td) => td.textContent)
      ),
    };
  });
}

async function main() {
  if (!fs.existsSync(path.join(DIST, 'panels', 'netprofile', 'module.js'))) {
    throw new Error('dist/panels/netprofile/module.js is missing: run "npm run build" first');
  }
  const recording = JSON.parse(fs.readFileSync(RECORDING, 'utf8'));
  await buildSite();
  const answers = await startAnswers(RECORDING, recording, answerer(recording), LIVE);
  const base = answers.base;
  log(`mode: ${answers.mode}`);
  const tag = LIVE ? 'live' : 'fixture';
  const range = { from: recording.range.from, to: recording.range.to };
  const { thinkMs } = recording.scenarios;
  const browser = await launchChromium();
  const failures = [];
  try {
    const page = await browser.newPage({ viewport: { width: WIDTH + 60, height: 900 } });
    let expectedConsole = /^$/;
    page.on(
      'console',
      (m) => m.type() === 'error' && !expectedConsole.test(m.text()) && failures.push(`console: ${m.text()}`)
    );
    page.on('pageerror', (e) => failures.push(`pageerror: ${e.message}`));
    // @grafana/ui's spinner icon (the app page's TimeRangeInput) is served by Grafana from its own build, not from
    // the package the harness copies
    page.on('response', (r) => r.status() === 404 && !HARNESS_LACKS.test(r.url()) && failures.push(`404: ${r.url()}`));
    const open = (query, height, ready, opts) =>
      openPanel(page, base, 'netprofile', { query, height, ready, width: WIDTH, opts, ...range });

    // 1. the keep-alive flow whose client thinks between requests: its client wait is the largest interval
    const think = await open({ queryType: 'netprofile', ...recording.flows.think }, 560, '[data-testid="np-packet"]');
    assert.ok(!think.queryError, `netprofile query failed: ${think.queryError}`);
    const [packetsFrame, intervalsFrame] = think.response.results.A.frames;
    const d = await drawn(page);
    log(
      `think-time flow: ${col(packetsFrame, 'kind').length} packets in the answer, ${d.packets.length} drawn; intervals ${d.intervals.map((i) => i.text).join(', ')}`
    );
    assert.strictEqual(d.packets.length, col(packetsFrame, 'kind').length, 'every packet of the answer is drawn');
    assert.deepStrictEqual(
      d.packets.map((p) => p.kind),
      col(packetsFrame, 'kind'),
      'each packet drawn as the kind the backend gave it'
    );
    assert.strictEqual(d.intervals.length, col(intervalsFrame, 'kind').length);
    const largest = d.intervals.filter((i) => i.largest);
    assert.strictEqual(largest.length, 1, 'one largest interval');
    assert.strictEqual(largest[0].kind, 'client_wait', 'the client wait is the largest interval');
    assert.ok(
      largest[0].us >= (thinkMs - 5) * 1000 && largest[0].us < (thinkMs + 100) * 1000,
      `client wait ${largest[0].us} µs ≈ the ${thinkMs} ms think time`
    );
    assert.strictEqual(
      largest[0].us,
      Math.max(...col(intervalsFrame, 'duration_us')),
      'the longest interval of the answer'
    );
    assert.match(largest[0].text, /^client wait 20\d mslargest: client wait 20\d ms$/);
    const widest = Math.max(...d.intervals.map((i) => i.line.width));
    assert.ok(Math.abs(largest[0].line.width - widest) < 0.5, 'and the widest drawn (time is linear)');
    assert.ok(
      largest[0].line.width > WIDTH * 0.3,
      `a ${thinkMs} ms wait spans a third of the plot at least (${largest[0].line.width.toFixed(0)} px)`
    );
    assert.strictEqual(d.band.length, 1);
    assert.strictEqual(d.band[0].kind, 'client_wait');
    assert.ok(Math.abs(d.band[0].width - largest[0].line.width) < 1.5, 'the shaded gap spans that interval');
    assert.strictEqual(d.summary.length, 2, 'one summary row per NIC');
    for (const row of d.summary) {
      assert.match(row[5], /^20\d ms avg, 20\d ms max \(2\)$/, `the agent's client wait at ${row[0]}`);
    }
    await screenshot(page, `netprofile-${tag}-think`, log);

    // hover a response: its fields
    const dataIdx = col(packetsFrame, 'kind').findIndex(
      (k, i) => k === 'data' && col(packetsFrame, 'direction')[i] === 'server_to_client'
    );
    await page.locator(`[data-testid="np-packet"][data-index="${dataIdx}"]`).hover();
    const tip = page.locator('[data-testid="np-tooltip"]');
    await tip.waitFor({ timeout: 5000 });
    assert.strictEqual(
      await tip.locator('[data-testid="np-tooltip-seq"]').textContent(),
      String(col(packetsFrame, 'seq')[dataIdx])
    );
    assert.strictEqual(
      await tip.locator('[data-testid="np-tooltip-payload"]').textContent(),
      `${col(packetsFrame, 'payload_len')[dataIdx]} B`
    );
    assert.strictEqual(await tip.locator('[data-testid="np-tooltip-direction"]').textContent(), 'server → client');
    await screenshot(page, `netprofile-${tag}-think-hover`, log);

    // 1b. zoom: a drag across the first client wait fills the plot with it; Reset zoom draws the whole flow again
    {
      const wait = page.locator('[data-testid="np-interval"][data-kind="client_wait"] line').first();
      const wb = await wait.boundingBox();
      const y = wb.y + 1;
      await page.mouse.move(wb.x, y);
      await page.mouse.down();
      await page.mouse.move(wb.x + wb.width / 2, y, { steps: 4 });
      await page.mouse.move(wb.x + wb.width, y, { steps: 4 });
      await page.mouse.up();
      await page.locator('[data-testid="np-zoom-reset"]').waitFor({ timeout: 5000 });
      const plot = await page.locator('[data-testid="np-chart"]').boundingBox();
      const zoomed = await page
        .locator('[data-testid="np-interval"][data-kind="client_wait"] line')
        .first()
        .boundingBox();
      const status = await page.locator('[data-testid="np-zoom"]').textContent();
      log(`zoomed: ${status}; the wait ${zoomed.width.toFixed(0)} px of a ${plot.width.toFixed(0)} px chart`);
      assert.ok(zoomed.width > plot.width * 0.75, 'the dragged wait fills the plot');
      assert.ok((await drawn(page)).packets.length < d.packets.length, 'packets outside the window are left out');
      await screenshot(page, `netprofile-${tag}-think-zoomed`, log);
      await page.locator('[data-testid="np-zoom-reset"]').click();
      await page.locator('[data-testid="np-zoom-reset"]').waitFor({ state: 'detached', timeout: 5000 });
      assert.strictEqual((await drawn(page)).packets.length, d.packets.length);
    }

    // 1c. the stopped reader: its zero-window packets marked at both NICs
    await open({ queryType: 'netprofile', ...recording.flows.slow }, 560, '[data-testid="np-packet"]');
    const zeroMarks = await page.locator('[data-testid="np-zero-window"]').count();
    const zeroCounted = await page
      .locator('[data-testid="np-summary-row"]')
      .evaluateAll((rows) => rows.map((r) => r.querySelectorAll('td')[7].textContent));
    log(`stopped reader: ${zeroMarks} zero-window packets marked; counted per NIC ${zeroCounted.join(', ')}`);
    assert.ok(zeroMarks >= 2, 'zero windows marked');
    assert.ok(zeroCounted.length === 2 && zeroCounted.every((n) => Number(n) >= 1), 'counted at each NIC');
    await screenshot(page, `netprofile-${tag}-slow-reader`, log);

    // 2. a 1 MB transfer with 5% loss: 256 packets drawn per NIC, its retransmissions, the notice of the rest
    await open({ queryType: 'netprofile', ...recording.flows.lossy }, 560, '[data-testid="np-packet"]');
    const lossy = await drawn(page);
    const retrans = lossy.packets.filter((p) => p.kind === 'retransmission').length;
    log(
      `lossy transfer: ${lossy.packets.length} packets drawn, ${retrans} retransmissions; notices: ${lossy.notices.join(' | ')}`
    );
    assert.strictEqual(lossy.packets.length, 512);
    assert.ok(retrans > 0, 'retransmissions among the drawn packets');
    assert.strictEqual(lossy.notices.length, 2);
    assert.match(lossy.notices[0], /: 256 of \d+ packets are drawn/);
    await screenshot(page, `netprofile-${tag}-lossy`, log);

    // 3. a refused connect
    await open({ queryType: 'netprofile', ...recording.flows.refused }, 400, '[data-testid="np-packet"]');
    const refused = await drawn(page);
    assert.deepStrictEqual(
      refused.packets.map((p) => p.kind),
      ['syn', 'rst', 'syn', 'rst']
    );
    await screenshot(page, `netprofile-${tag}-refused`, log);

    // 4. a flow without a timeline: the empty state with the backend's notice
    await open({ queryType: 'netprofile', ...recording.flows.think, client_port: 1 }, 300, '[data-testid="np-empty"]');
    const empty = await page.locator('[data-testid="np-empty"]').textContent();
    assert.match(empty, /No packets to show/);
    assert.match(empty, /no packet timeline of .*:1 → .* in the time range/);
    await screenshot(page, `netprofile-${tag}-empty`, log);

    // 5. a query the backend refuses: the error, in the panel
    expectedConsole = /status of 400/; // Chromium logs the failed request itself
    await open(
      { queryType: 'netprofile', client_ip: recording.flows.think.client_ip },
      300,
      '[data-testid="np-error"]'
    );
    expectedConsole = /^$/;
    const error = await page.locator('[data-testid="np-error"]').textContent();
    assert.match(error, /The network profile query failed/);
    assert.match(error, /give exactly one client_ip, client_port, server_ip and server_port/);
    await screenshot(page, `netprofile-${tag}-error`, log);

    // 6. the Universal Map over the same captures: the lossy edge is marked, the clean one is not
    await openPanel(page, base, 'universalmap', {
      query: { queryType: 'map' },
      height: 620,
      width: WIDTH,
      ready: '[data-testid="map-edge"]',
      ...range,
    });
    const edges = await page.evaluate(() =>
      [...document.querySelectorAll('[data-testid="map-edge"]')].map((e) => ({
        edge: `${e.dataset.source}->${e.dataset.target}`,
        network: e.dataset.network,
        mark: e.querySelector('[data-testid="map-edge-network-label"]')?.textContent ?? '',
        label: e.querySelector('[data-testid="map-edge-label"]')?.textContent ?? '',
        split: e.querySelector('[data-testid="map-edge-split-label"]')?.textContent ?? '',
      }))
    );
    const edge = (name) => edges.find((e) => e.edge === name) ?? {};
    log(`map: ${edges.map((e) => `${e.edge} ${e.network ?? '-'} ${e.mark}`).join('; ')}`);
    assert.strictEqual(edge('curl->files-lossy').network, 'unhealthy', 'the lossy edge is marked');
    assert.match(edge('curl->files-lossy').mark, /^⚠ \d+(\.\d)?% retransmitted$/);
    assert.strictEqual(edge('curl->files-clean').network, 'ok', 'the clean transfers are not');
    assert.strictEqual(edge('curl->refuser').network, 'unhealthy', 'the refused connects show as an edge of their own');
    assert.match(edge('curl->refuser').mark, /^⚠ 3 failed connections/);
    // a call only the network saw says so; the 50 ms proxy hop's time is in the proxy (the server of curl's calls)
    assert.match(edge('curl->refuser').label, /^no requests parsed · 3 conn failed, 3 RSTs$/);
    assert.match(edge('curl->slb').split, /^server (9\d|100)%$/, `curl->slb: ${edge('curl->slb').split}`);
    log(
      `map time split: ${edges
        .filter((e) => e.split)
        .map((e) => `${e.edge} ${e.split}`)
        .join('; ')}`
    );
    await screenshot(page, `netprofile-${tag}-map`, log);

    // 7. the app's Network page (the built dist/module.js): failing flows first, the unhealthy edges, one click on
    // the lossy transfer draws its profile
    if (!LIVE) {
      expectedConsole = /status of 404/; // the spinner icon (above)
      const params = new URLSearchParams({
        app: `/a/flowlens-observability-app/network?from=${range.from}&to=${range.to}`,
        ready: '[data-testid="network-flow-row"]',
        width: String(WIDTH),
      });
      await page.setViewportSize({ width: WIDTH + 60, height: 1400 });
      await page.goto(`${base}/index.html?${params}`);
      await page.waitForFunction(() => window.__harness && window.__harness.status !== 'running', null, {
        timeout: 30000,
      });
      assert.strictEqual(await page.evaluate(() => window.__harness.status), 'done');
      await page.locator('[data-testid="network-edge-row"]').first().waitFor({ timeout: 10000 });
      const failing = await page.locator('[data-testid="network-flow-row"][data-failing="true"]').count();
      const lossyRows = await page.locator('[data-testid="network-flow-row"][data-failing="false"]').count();
      const edgeRows = await page
        .locator('[data-testid="network-edge-row"]')
        .evaluateAll((els) => els.map((e) => e.dataset.edge));
      log(`network page: ${failing} failing and ${lossyRows} lossy flows; unhealthy edges ${edgeRows.join(', ')}`);
      assert.deepStrictEqual([failing, lossyRows], [4, 3]);
      assert.deepStrictEqual(edgeRows, ['curl->refuser', 'curl->files-lossy', 'curl->resetter', 'python3->files-slow']);
      await page
        .locator('[data-testid="network-flow-row"]', { hasText: `:${recording.flows.lossy.client_port}` })
        .click();
      await page
        .locator('[data-testid="network-profile"] [data-testid="np-packet"]')
        .first()
        .waitFor({ timeout: 10000 });
      assert.strictEqual(await page.locator('[data-testid="network-profile"] [data-testid="np-packet"]').count(), 512);
      await screenshot(page, 'network-page', log);
      expectedConsole = /^$/;
    }

    assert.deepStrictEqual(failures, [], 'no browser errors');
    log(
      `measured: client wait ${largest[0].us} µs (largest of ${d.intervals.length} intervals), think time ${thinkMs} ms`
    );
    log('PASS');
  } finally {
    await browser.close();
    answers.stop();
  }
}

main().catch((e) => {
  console.error('[netprofile-e2e] FAIL', e);
  process.exit(1);
});
