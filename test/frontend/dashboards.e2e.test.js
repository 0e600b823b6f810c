// node:test wrapper around dashboards-run.js: every bundled dashboard (dist/dashboards, the plugin's includes) rendered
// panel by panel in the dashboard harness (the real @grafana/runtime, the BUILT datasource and panels) on the real plugin
// binary's recorded answers (fixtures/dashboards/*.recording.json), with its default variables, each of two teams, one
// service, two (a multi-value variable), an ad-hoc filter and the recording's host; every team's provisioned copy
// with its own team; query
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
  // Grafana-core time series drawn by @grafana/ui's TimeSeries: a uPlot series and a legend item per series of the
  // frames, named by its labels (the chosen services)
  assert.match(
    out,
    /service-overview\.json \(two-services\): Requests per second: TimeSeries drew 2 series \(backend request rate, frontend request rate\) in \d+ line pixels$/m
  );
  assert.match(
    out,
    /dist\/dashboards\/service-red\.json \(team-web\): Requests per second: TimeSeries drew 3 series \(frontend request rate, gateway request rate, slb request rate\) in \d+ line pixels$/m
  );
  assert.match(
    out,
    /dist\/dashboards\/traces\.json \(default\): Latency p99: TimeSeries drew 6 series \(backend p99 latency, frontend p99 latency, gateway p99 latency, postgres p99 latency, redis p99 latency, slb p99 latency\) in \d+ line pixels$/m
  );
  // the logs stand-in: a line per request row (the panel's limit), the backend's requests alone
  assert.match(
    out,
    /dist\/dashboards\/request-logs\.json \(backend\): Requests: logs stand-in drew 100 lines, first: \d{4}-\d\d-\d\d [\d:.]+ info HTTP .* -> backend at \w+\)$/m
  );
  // tables drawn by @grafana/ui's Table: the frame's columns as its header, its first row's values in the first row
  assert.match(
    out,
    /dist\/dashboards\/network\.json \(backend\): Flows: Table drew \d+ columns \(time \| start_time \| end_time \| observation_point \| host \| l4_protocol \| …\), first row of [1-9]\d*: \d{4}-/
  );
  assert.match(
    out,
    /dist\/dashboards\/traces\.json \(default\): Traces: Table drew \d+ columns \(_id \| time \| start_time \| Duration \| service \| endpoint \| …\), first row of 50: \d+ \| /
  );
  assert.match(out, /first paint of a dashboard \(every panel queried and drawn\): median \d+ ms/);
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
  // web's error spikes: the gateway, slb and frontend answer loadgen's missing page (404) and pass on the backend's
  // failed reservations
  assert.match(out, /universal-map\.json \(team-web\): .*annotations: Error spikes 3, New services 3/);
  // agent restarts: the agent that recorded the demo started once in the range (no run before it) and stopped cleanly
  assert.match(out, /universal-map\.json \(team-web\): .*annotations: .*Agent restarts 1/);
  // the host variable lists the one host the demo was recorded on (any team's services ran there); choosing it
  // narrows every query to it and keeps what All shows: the same series, the agent restart
  assert.match(out, /dist\/dashboards\/service-red\.json \(default\): variable host lists 1: \S+\n/);
  assert.match(out, /teams\/data\/service-red\.json \(default\): variable host lists 1: \S+\n/);
  const series = (c) =>
    out.match(
      new RegExp(
        `dist/dashboards/service-red\\.json \\(${c}\\): Requests per second: Grafana-core timeseries: (\\d+) series`
      )
    )?.[1];
  assert.ok(Number(series('default')) > 1, `default: ${series('default')} series`);
  assert.equal(series('host'), series('default'));
  assert.match(out, /universal-map\.json \(host\): .*annotations: .*Agent restarts 1/);
  // a variable over the chosen services: the protocols two services serve
  assert.match(out, /service-overview\.json \(two-services\): variable protocol lists 1: HTTP$/m);
  // the demo's flows that stay open (keep-alive, pools) are in the flow table: the backend's
  assert.match(out, /dist\/dashboards\/network\.json \(backend\): .*Flows: Grafana-core table: [1-9]\d* rows/);
  // the Profiling dashboard's flame graphs: the functions of the chosen services (a service, two, a team's, an ad-hoc
  // team, a team's copy) and of no other demo service; All and the one host: every demo service's
  const flames = {
    'dist/dashboards/profiling.json (default)': 'backend, frontend, gateway, postgres, redis, slb',
    'dist/dashboards/profiling.json (backend)': 'backend',
    'dist/dashboards/profiling.json (two-services)': 'backend, frontend',
    'dist/dashboards/profiling.json (team-shop)': 'backend',
    'dist/dashboards/profiling.json (team-web)': 'frontend, gateway, slb',
    'dist/dashboards/profiling.json (adhoc-team-web)': 'frontend, gateway, slb',
    'dist/dashboards/profiling.json (host)': 'backend, frontend, gateway, postgres, redis, slb',
    'provisioning/dashboards/teams/data/profiling.json (default)': 'postgres, redis',
    'provisioning/dashboards/teams/shop/profiling.json (default)': 'backend',
    'provisioning/dashboards/teams/web/profiling.json (default)': 'frontend, gateway, slb',
  };
  for (const [label, services] of Object.entries(flames)) {
    for (const panel of ['On-CPU', 'Off-CPU']) {
      const esc = `${label}: ${panel}`.replace(/[.()/]/g, '\\$&');
      assert.match(
        out,
        new RegExp(`${esc} flame graph: [1-9]\\d* frames, functions of ${services}$`, 'm'),
        `${label} ${panel}`
      );
    }
  }
  assert.match(out, /PASS/);
});
