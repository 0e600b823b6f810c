// node:test wrapper around dashboards-run.js: every provisioned dashboard rendered panel by panel in the dashboard
// harness (the real @grafana/runtime, the BUILT datasource and panels) on the real plugin binary's recorded answers
// (fixtures/dashboards/*.recording.json), with its default variables, one service chosen and two (a multi-value
// variable); query variables listed through the datasource's variable support.
'use strict';
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const path = require('node:path');

test('every provisioned dashboard renders each panel without an error, its variables interpolated into every query', () => {
  const r = spawnSync(process.execPath, [path.join(__dirname, 'dashboards-run.js')], {
    encoding: 'utf8',
    timeout: 300000,
  });
  const out = `${r.stdout}\n${r.stderr}`;
  assert.equal(r.status, 0, out);
  assert.match(
    out,
    /service-overview\.json \(backend\): Universal Map: FlowLens panel; Requests per second: Grafana-core timeseries: 1 series/
  );
  assert.match(
    out,
    /\(two-services\): Universal Map: FlowLens panel; Requests per second: Grafana-core timeseries: 2 series/
  );
  assert.match(out, /variable service lists \d+ services: .*backend.*frontend.*gateway.*postgres.*redis/);
  assert.match(out, /PASS/);
});
