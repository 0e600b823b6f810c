// node:test wrapper around trace-faults-run.js (the headless-Chromium test of the BUILT trace panel's network
// evidence): on the real plugin binary's recorded answers over the real agent's fault capture, and live (the plugin
// binary answering through the Grafana shim over the same capture loaded now).
'use strict';
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');
const RUN = path.join(__dirname, 'trace-faults-run.js');

function run(env) {
  const r = spawnSync(process.execPath, [RUN], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 240000 });
  return { code: r.status, out: `${r.stdout}\n${r.stderr}` };
}

function expectPanel(t, out) {
  assert.match(
    out,
    /rto: "\d+% of the \d+ ms is between curl's NIC and files-lossy's NIC: network, \d+ retransmissions, \d+ ms waiting on them"/
  );
  assert.match(out, /refused: python3 → flaky: \d+ failed connects before the request/);
  assert.match(out, /think: before this request node waited [\d.]+ms on its keep-alive connection/);
  assert.match(out, /PASS/);
  for (const line of out.split('\n').filter((l) => /^\[trace-faults-e2e\] (rto|lossy|refused|think)/.test(l))) {
    t.diagnostic(line.replace(/^\[trace-faults-e2e\] /, ''));
  }
}

test('the built trace panel shows the network under recorded traces (real plugin binary, real agent capture)', (t) => {
  const r = run({ FLOWLENS_SHIM: '', FLOWLENS_DS_URL: '', FLOWLENS_TRACE_FAULTS_RECORDING: '' });
  assert.equal(r.code, 0, r.out);
  expectPanel(t, r.out);
});

test('live: the plugin binary behind the Grafana shim answers over the capture loaded now', (t) => {
  const out = path.join(ROOT, 'build', 'frontend-live-trace-faults');
  const rec = spawnSync(process.execPath, [path.join(__dirname, 'record-trace-faults.js'), '--out', out], {
    encoding: 'utf8',
    timeout: 300000,
  });
  assert.equal(rec.status, 0, rec.stdout + rec.stderr);
  const r = run({
    FLOWLENS_SHIM: '1',
    FLOWLENS_TRACE_FAULTS_RECORDING: path.join(out, 'ds-query-trace-faults.recording.json'),
  });
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /mode: real plugin binary behind grafana-shim/);
  expectPanel(t, r.out);
});
