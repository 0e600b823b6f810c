// node:test wrapper around trace-run.js (the headless-Chromium test of the BUILT trace panel): on the real plugin
// binary's recorded answers for a checkout of the demo, and live (the demo traced by the real agent now, the
// plugin binary answering through the Grafana shim).
'use strict';
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');
const RUN = path.join(__dirname, 'trace-run.js');

function run(env) {
  const r = spawnSync(process.execPath, [RUN], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 240000 });
  return { code: r.status, out: `${r.stdout}\n${r.stderr}` };
}

function expectPanel(t, out) {
  assert.match(out, /checkout: 36 spans in the answer, 36 rows drawn/);
  assert.match(out, /verdict: "\d+% of the [\d.]+ m?s is inside backend/);
  assert.match(
    out,
    /2000 spans: first paint \d+ ms after render\(\) \(budget \d+\), frames converted in \d+ ms, \d+ of 2000 rows in the DOM/
  );
  assert.match(out, /PASS/);
  for (const line of out.split('\n').filter((l) => l.includes('measured:'))) {
    t.diagnostic(line.replace(/^\[trace-e2e\] measured: /, ''));
  }
}

test('the built trace panel draws the recorded checkout (real plugin binary, real agent data), 2,000 spans, empty and error answers', (t) => {
  const r = run({ FLOWLENS_SHIM: '', FLOWLENS_DS_URL: '', FLOWLENS_TRACE_RECORDING: '' });
  assert.equal(r.code, 0, r.out);
  expectPanel(t, r.out);
});

test('end to end: a checkout slowed at the backend, traced by the agent now, drawn from the plugin binary live', (t) => {
  if (process.getuid?.() !== 0) {
    t.skip('the demo system and the agent need root (eBPF, network namespaces)');
    return;
  }
  const out = path.join(ROOT, 'build', 'frontend-live-trace');
  const rec = spawnSync(process.execPath, [path.join(__dirname, 'record-trace.js'), '--out', out], {
    encoding: 'utf8',
    timeout: 300000,
  });
  assert.equal(rec.status, 0, rec.stdout + rec.stderr);
  assert.match(rec.stdout, /ds-query-trace.json: HTTP 200, trace\(36\) verdict\(\d+\)/);
  const r = run({ FLOWLENS_SHIM: '1', FLOWLENS_TRACE_RECORDING: path.join(out, 'ds-query-trace.recording.json') });
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /mode: real plugin binary behind grafana-shim/);
  expectPanel(t, r.out);
});
