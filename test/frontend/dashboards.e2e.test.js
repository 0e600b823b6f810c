// node:test wrapper around dashboards-run.js: every bundled dashboard (dist/dashboards, the plugin's includes) rendered
// panel by panel in the dashboard harness (the real @grafana/runtime, the BUILT datasource and panels) on the real plugin
// binary's recorded answers (fixtures/dashboards/*.recording.json), with its default variables, each of two teams, one
// service, two (a multi-value variable) and an ad-hoc filter; every team's provisioned copy with its own team; query
// variables listed through the datasource's variable support; FlowLens annotations through its annotation support.
'use strict';
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const path = require('node:path');

test('every bundled and team dashboard renders each panel without an error, filtered by its team', () => {
  const r = spawnSync(process.execPath, [path.join(__dirname, 'dashboards-run.js')], {
    encoding: 'utf8',
    timeout: 600000,
  });
  const out = `${r.stdout}\n${r.stderr}`;
  assert.equal(r.status, 0, out);
  assert.match(
    out,
    /service-overview\.json \(backend\): Universal Map: FlowLens panel; Requests per second: Grafana-core timeseries: 1 series/
  );
  assert.match(
    out,
    /service-overview\.json \(two-services\): Universal Map: FlowLens panel; Requests per second: Grafana-core timeseries: 2 series/
  );
  assert.match(out, /variable service lists \d+: .*backend.*frontend.*gateway.*postgres.*redis/);
  assert.match(out, /variable team lists 3: data, shop, web/);
  // with a team the service variable lists the team's services alone
  assert.match(out, /dist\/dashboards\/service-red\.json \(team-shop\): variable service lists 1: backend\n/);
  assert.match(out, /teams\/web\/service-red\.json \(default\): variable service lists 3: frontend, gateway, slb\n/);
  // a team narrows every panel to its services: shop has backend, web gateway, slb and frontend
  assert.match(
    out,
    /dist\/dashboards\/service-red\.json \(team-shop\): Requests per second: Grafana-core timeseries: 1 series/
  );
  assert.match(
    out,
    /dist\/dashboards\/service-red\.json \(team-web\): Requests per second: Grafana-core timeseries: 3 series/
  );
  assert.match(
    out,
    /dist\/dashboards\/service-red\.json \(adhoc-team-web\): Requests per second: Grafana-core timeseries: 3 series/
  );
  // each team's own folder renders, for every team, every dashboard
  for (const team of ['data', 'shop', 'web']) {
    for (const d of [
      'universal-map',
      'service-red',
      'request-logs',
      'traces',
      'network',
      'profiling',
      'service-overview',
    ]) {
      assert.match(out, new RegExp(`teams/${team}/${d}\\.json \\(default\\): `), `${team}/${d}`);
    }
  }
  assert.match(
    out,
    /teams\/shop\/service-red\.json \(default\): Requests per second: Grafana-core timeseries: 1 series/
  );
  // FlowLens annotations: the demo's services first seen in the range, the team's alone with a team
  assert.match(out, /universal-map\.json \(team-shop\): .*annotations: Error spikes 0, New services 1/);
  assert.match(out, /universal-map\.json \(team-web\): .*annotations: Error spikes 0, New services 3/);
  // agent restarts: the demo was recorded before the agent wrote agent_events (its copy has the table, empty)
  assert.match(out, /universal-map\.json \(team-web\): .*annotations: .*Agent restarts 0/);
  assert.match(out, /PASS/);
});
