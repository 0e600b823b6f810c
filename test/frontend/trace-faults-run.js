#!/usr/bin/env node
// Headless-Chromium test of the BUILT trace panel's network evidence (dist/panels/trace/module.js) in the harness
// of the other panels (run.js). Where the answers come from:
//   default          the real plugin binary's recorded answers over rows the real agent captured under network faults
//                    (fixtures/ds-query-trace-{rto,lossy,refused,think}.json; ds-query-trace-faults.recording.json)
//   FLOWLENS_SHIM=1  the real plugin binary itself behind test/grafana-shim over the database the recording names
//                    (FLOWLENS_TRACE_FAULTS_RECORDING=<dir>/ds-query-trace-faults.recording.json: record-trace-faults.js
//                    --out <dir> loads the capture there first)
// Asserted: the request that waited on a retransmission timeout: the verdict line names the network path with the
// backend's retransmission figures, each resend marked on the NIC span that saw it and listed in its details; a
// lossy request whose server stays the culprit: the network path and its figures on the line beside the verdict;
// the connects refused before a request: counted beside the verdict and marked on the client span; a keep-alive
// client's wait: the note beside the trace. Screenshots under build/screenshots/trace-faults-*.png.
// Usage: npm run build && node test/frontend/trace-faults-run.js
'use strict';

const assert = require('assert');
const fs = require('fs');
const path = require('path');
const { DIST, buildSite, startAnswers, launchChromium, col, openPanel, screenshot } = require('./run.js');

const RECORDING = path.resolve(
  process.env.FLOWLENS_TRACE_FAULTS_RECORDING ||
    path.join(__dirname, 'fixtures', 'ds-query-trace-faults.recording.json')
);
const LIVE = process.env.FLOWLENS_SHIM === '1';
const WIDTH = 1280;

function log(...a) {
  console.log('[trace-faults-e2e]', ...a);
}

function answerer(recording) {
  const dir = path.dirname(RECORDING);
  return (req) => {
    const q = req.queries?.[0] ?? {};
    assert.strictEqual(q.datasource?.uid, 'flowlens');
    assert.strictEqual(q.queryType, 'trace');
    if (LIVE) {
      return undefined;
    }
    for (const [file, rec] of Object.entries(recording.files)) {
      if (rec.request.queries[0].row_id === q.row_id) {
        return { status: rec.http_status, body: fs.readFileSync(path.join(dir, file)) };
      }
    }
    throw new Error(`no recorded answer for ${JSON.stringify(q)}`);
  };
}

/** The verdict line, the lines beside it and the marks on the bars, from the DOM. */
function drawn(page) {
  return page.evaluate(() => {
    const texts = (id) => [...document.querySelectorAll(`[data-testid="${id}"]`)].map((e) => e.textContent.trim());
    return {
      verdict: document.querySelector('[data-testid="trace-verdict"]').textContent,
      culprit: document.querySelector('[data-testid="trace-verdict"]').dataset.culprit,
      network: texts('trace-network-line'),
      notes: texts('trace-note'),
      marks: [...document.querySelectorAll('[data-testid="trace-row"]')].map((r) => ({
        id: r.dataset.spanId,
        text: r.textContent,
        kinds: [...r.querySelectorAll('[data-testid="trace-net-mark"]')].map((m) => m.dataset.kind),
        inBar: [...r.querySelectorAll('[data-testid="trace-net-mark"]')].every((m) => {
          const bar = r.querySelector('[data-testid="trace-bar"]').getBoundingClientRect();
          const x = m.getBoundingClientRect().x + 1;
          return x >= bar.x - 2 && x <= bar.x + bar.width + 2;
        }),
      })),
    };
  });
}

async function main() {
  if (!fs.existsSync(path.join(DIST, 'panels', 'trace', 'module.js'))) {
    throw new Error('dist/panels/trace/module.js is missing: run "npm run build" first');
  }
  const recording = JSON.parse(fs.readFileSync(RECORDING, 'utf8'));
  await buildSite();
  const answers = await startAnswers(RECORDING, recording, answerer(recording), LIVE);
  log(`mode: ${answers.mode}`);
  const tag = LIVE ? 'live' : 'fixture';
  const browser = await launchChromium();
  const failures = [];
  try {
    const page = await browser.newPage({ viewport: { width: WIDTH + 60, height: 900 } });
    page.on('console', (m) => m.type() === 'error' && failures.push(`console: ${m.text()}`));
    page.on('pageerror', (e) => failures.push(`pageerror: ${e.message}`));
    page.on('response', (r) => r.status() === 404 && failures.push(`404: ${r.url()}`));
    const open = async (file) => {
      const q = recording.files[file].request.queries[0];
      const t = q.time;
      const res = await openPanel(page, answers.base, 'trace', {
        query: { queryType: 'trace', row_id: q.row_id, time: t },
        width: WIDTH,
        height: 420,
        ready: '[data-testid="trace-row"]',
        from: (t - 60) * 1000,
        to: (t + 60) * 1000,
      });
      assert.ok(!res.queryError, `${file}: ${res.queryError}`);
      const frame = res.response.results.A.frames[0];
      return { frame, verdict: frame.schema.meta.custom.verdict, d: await drawn(page) };
    };

    // 1. the request that waited on a retransmission timeout: the network path is the culprit, with its figures
    {
      const { frame, verdict, d } = await open('ds-query-trace-rto.json');
      const n = verdict.network[0];
      log(`rto: "${d.verdict}"`);
      assert.strictEqual(d.culprit, `network: ${n.path}`);
      assert.ok(n.retrans_wait_ms >= 200, `waited ${n.retrans_wait_ms} ms on retransmissions`);
      assert.match(
        d.verdict,
        new RegExp(
          `: network, ${n.retransmissions} retransmissions, ${Math.round(n.retrans_wait_ms)} ms waiting on them$`
        )
      );
      const seen = col(frame, 'observation_point').indexOf(n.seen_at);
      const row = d.marks.find((m) => m.id === col(frame, 'spanID')[seen]);
      assert.deepStrictEqual(
        row.kinds,
        Array(n.retransmissions).fill('retransmission'),
        `marks on the ${n.seen_at} span`
      );
      assert.ok(row.inBar, 'each mark lies on its span bar');
      assert.strictEqual(d.marks.flatMap((m) => m.kinds).length, n.retransmissions, 'no mark elsewhere');
      await screenshot(page, `trace-faults-${tag}-rto`, log);
      await page.locator(`[data-testid="trace-row"][data-span-id="${row.id}"]`).click();
      const events = await page.locator('[data-testid="span-event"]').allTextContents();
      log(`rto ${n.seen_at} span: ${events.length} events, e.g. "${events[events.length - 1]}"`);
      assert.strictEqual(events.length, n.retransmissions);
      assert.ok(events.every((e) => /TCP retransmission of \d+ response \(server → client\) bytes/.test(e)));
      await screenshot(page, `trace-faults-${tag}-rto-details`, log);
    }
    // 2. a lossy request whose server's own writes outweigh the wait: the network path beside the verdict
    {
      const { verdict, d } = await open('ds-query-trace-lossy.json');
      const n = verdict.network[0];
      log(`lossy: "${d.verdict}" | ${d.network.join(' | ')}`);
      assert.match(d.culprit, /^server_app: files-lossy/);
      assert.deepStrictEqual(d.network, [
        `${n.path}: ${n.retransmissions} retransmissions, ${Math.round(n.retrans_wait_ms * 1000)} µs waiting on them (${Math.round(n.critical_wait_ms * 1000)} µs of them on the critical path)`,
      ]);
      await screenshot(page, `trace-faults-${tag}-lossy`, log);
    }
    // 3. connects refused before the request
    {
      const { verdict, d } = await open('ds-query-trace-refused.json');
      const fails = recording.scenarios.refused[0].fails;
      log(`refused: ${d.network.join(' | ')}`);
      assert.strictEqual(verdict.network[0].failed_connects, fails);
      assert.deepStrictEqual(d.network, [
        `python3 → flaky: ${fails} failed connects before the request (RST from the server)`,
      ]);
      assert.deepStrictEqual(d.marks[0].kinds, ['connect_failed'], 'marked on the client span');
      await screenshot(page, `trace-faults-${tag}-refused`, log);
    }
    // 4. the keep-alive client's wait before the request
    {
      const { verdict, d } = await open('ds-query-trace-think.json');
      const wait = verdict.network[0].client_wait_ms;
      log(`think: ${d.notes.join(' | ')}`);
      assert.ok(
        wait >= recording.scenarios.thinkMs && wait < recording.scenarios.thinkMs + 60,
        `client wait ${wait} ms`
      );
      assert.strictEqual(d.notes.length, 1);
      assert.match(d.notes[0], new RegExp(`before this request node waited ${wait}ms on its keep-alive connection`));
      await screenshot(page, `trace-faults-${tag}-think`, log);
    }
    assert.deepStrictEqual(failures, [], 'no console error, page error or missing file');
    log('PASS');
  } finally {
    await browser.close();
    answers.stop();
  }
}

main().catch((e) => {
  console.error('[trace-faults-e2e] FAIL', e);
  process.exit(1);
});
