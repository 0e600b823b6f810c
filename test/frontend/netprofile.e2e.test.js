// node:test wrapper around netprofile-run.js (the headless-Chromium test of the BUILT Network Profile panel): on
// the real plugin binary's recorded answers over rows the real agent captured, and live (the same captures
// loaded into ClickHouse now, the plugin binary answering through the Grafana shim).
'use strict';
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');
const RUN = path.join(__dirname, 'netprofile-run.js');

function run(env) {
  const r = spawnSync(process.execPath, [RUN], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 240000 });
  return { code: r.status, out: `${r.stdout}\n${r.stderr}` };
}

function expectPanel(t, out) {
  assert.match(out, /think-time flow: 32 packets in the answer, 32 drawn/);
  assert.match(out, /lossy transfer: 512 packets drawn, \d+ retransmissions/);
  assert.match(out, /map: .*curl->files-lossy unhealthy ⚠ [\d.]+% retransmitted;/);
  assert.match(out, /PASS/);
  if (!/mode: real plugin binary/.test(out)) {
    assert.match(out, /network page: 4 failing and 3 lossy flows; unhealthy edges curl->refuser, curl->files-lossy/);
  }
  for (const line of out.split('\n').filter((l) => l.includes('measured:'))) {
    t.diagnostic(line.replace(/^\[netprofile-e2e\] measured: /, ''));
  }
}

test('the built Network Profile panel draws recorded answers of the plugin binary over real captures: the 200 ms client wait is the largest interval', (t) => {
  const r = run({ FLOWLENS_SHIM: '', FLOWLENS_DS_URL: '', FLOWLENS_NETPROFILE_RECORDING: '' });
  assert.equal(r.code, 0, r.out);
  expectPanel(t, r.out);
});

test('live: the captures loaded into ClickHouse now, the plugin binary answering through the Grafana shim', (t) => {
  const out = path.join(ROOT, 'build', 'frontend-live-netprofile');
  const rec = spawnSync(process.execPath, [path.join(__dirname, 'record-netprofile.js'), '--out', out], {
    encoding: 'utf8',
    timeout: 120000,
  });
  assert.equal(rec.status, 0, rec.stdout + rec.stderr);
  assert.match(rec.stdout, /ds-query-netprofile-think.json: HTTP 200, packets\(32\) intervals\(14\) latencies\(2\)/);
  const r = run({
    FLOWLENS_SHIM: '1',
    FLOWLENS_NETPROFILE_RECORDING: path.join(out, 'ds-query-netprofile.recording.json'),
  });
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /mode: real plugin binary behind grafana-shim/);
  expectPanel(t, r.out);
});
