// The dashboards an installed plugin and each team get (no browser: dashboards.e2e.test.js renders them):
// every bundled dashboard (src/dashboards) is an include of type dashboard in plugin.json; every FlowLens query
// of a type that takes tags filters by the team and host variables (typed tags, not a glob; the agents' own events
// by host alone), the host variable listing the chosen teams' hosts; each team's copies
// (provisioning/dashboards/teams/<team>, written by scripts/team-dashboards.js) are current and fix the
// variable to the team; uids are unique and fit Grafana's 40 characters. The provider and alerting YAML
// are checked by pkg/plugin/provisioning_test.go.
'use strict';
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { teams, bundled, teamDashboard, teamFiles, TEAMS_DIR } = require('../../scripts/team-dashboards.js');

const ROOT = path.resolve(__dirname, '..', '..');
const TAGGED = new Set([
  'red',
  'map',
  'sql_log',
  'trace_search',
  'flow_log',
  'net_metrics',
  'flamegraph',
  'annotations',
]);
const FLOWLENS = 'flowlens-clickhouse-datasource';

/** Every FlowLens query of a dashboard: panel targets and annotation targets. */
function flowlensQueries(d) {
  const panels = (d.panels ?? []).flatMap((p) => (p.type === 'row' ? (p.panels ?? []) : [p]));
  return [
    ...panels.flatMap((p) =>
      (p.targets ?? []).map((t) => ({ where: `panel ${p.title}`, t, ds: t.datasource ?? p.datasource }))
    ),
    ...(d.annotations?.list ?? [])
      .filter((a) => a.target)
      .map((a) => ({ where: `annotation ${a.name}`, t: a.target, ds: a.datasource })),
  ].filter((q) => q.ds?.type === FLOWLENS);
}

test('the bundled dashboards are the plugin includes of type dashboard: map, RED, logs, traces, network, profiling', () => {
  const app = JSON.parse(fs.readFileSync(path.join(ROOT, 'src', 'plugin.json'), 'utf8'));
  const included = app.includes.filter((i) => i.type === 'dashboard').map((i) => i.path);
  assert.deepEqual(
    included.sort(),
    bundled()
      .map((b) => `dashboards/${b.file}`)
      .sort()
  );
  const types = new Set(bundled().flatMap((b) => flowlensQueries(b.dashboard).map((q) => q.t.queryType)));
  for (const t of ['map', 'red', 'sql_log', 'trace_search', 'net_metrics', 'flow_log', 'flamegraph', 'annotations']) {
    assert.ok(types.has(t), `no bundled dashboard queries ${t}`);
  }
  const red = bundled().find((b) => b.file === 'service-red.json').dashboard;
  const metrics = flowlensQueries(red).map((q) => q.t.metric);
  assert.ok(
    ['latency_p50', 'latency_p90', 'latency_p99'].every((m) => metrics.includes(m)),
    metrics.join()
  );
});

test('every FlowLens query filters by the team and host variables, as typed tag filters', () => {
  for (const { file, dashboard } of bundled()) {
    const team = dashboard.templating.list.find((v) => v.name === 'team');
    assert.equal(team?.query?.kind, 'tag_values', `${file}: the team variable lists the team tag's values`);
    assert.equal(team.query.tag, 'team', file);
    assert.ok(
      dashboard.templating.list.some((v) => v.type === 'adhoc'),
      `${file}: an ad-hoc filter variable over the tags`
    );
    const queries = flowlensQueries(dashboard);
    assert.ok(queries.length > 0, file);
    // the host variable: multi-value with All, the hosts of the chosen teams' services
    const host = dashboard.templating.list.find((v) => v.name === 'host');
    assert.deepEqual(
      host?.query,
      { refId: 'FlowLensVariableQuery', kind: 'tag_values', tag: 'host', tags: { team: '$team' } },
      `${file}: the host variable`
    );
    assert.ok(host.multi && host.includeAll, `${file}: the host variable takes several hosts and All`);
    // the variables listing services (or their protocols, endpoints) list the chosen team's and hosts' alone
    for (const v of dashboard.templating.list.filter((x) => x.query?.kind && !x.query.kind.startsWith('tag_'))) {
      assert.deepEqual(v.query.tags, { team: '$team', host: '$host' }, `${file}: variable ${v.name}`);
    }
    for (const { where, t } of queries) {
      if (t.queryType === 'annotations' && ['agent_restart', 'agent_stop'].includes(t.annotation)) {
        // the agents' own events are per host: no team
        assert.deepEqual(t.tags, { host: '$host' }, `${file} ${where}`);
      } else if (TAGGED.has(t.queryType)) {
        assert.deepEqual(t.tags, { team: '$team', host: '$host' }, `${file} ${where}`);
      }
      assert.doesNotMatch(JSON.stringify(t), /"[^"]*\{[^"{}]*,[^"{}]*\}[^"]*"|\$\{team:/, `${file} ${where}: no glob`);
    }
  }
});

test("each team's copies are current, in the team's folder, the team fixed", () => {
  assert.deepEqual(teams(), ['data', 'shop', 'web']);
  const files = teamFiles();
  const uids = new Map();
  for (const { dashboard } of bundled()) {
    uids.set(dashboard.uid, 'bundled');
  }
  for (const [rel, text] of files) {
    const at = path.join(TEAMS_DIR, rel);
    assert.ok(fs.existsSync(at), `${rel} missing: node scripts/team-dashboards.js`);
    assert.equal(fs.readFileSync(at, 'utf8'), text, `${rel} is stale: node scripts/team-dashboards.js`);
    const d = JSON.parse(text);
    const team = rel.split(path.sep)[0];
    const v = d.templating.list.find((x) => x.name === 'team');
    assert.deepEqual([v.type, v.query, v.current.value, v.includeAll], ['custom', team, team, false], rel);
    assert.ok(d.tags.includes(`team:${team}`), rel);
    assert.ok(d.uid.length <= 40, `${rel}: uid ${d.uid} longer than 40`);
    assert.ok(!uids.has(d.uid), `${rel}: uid ${d.uid} repeated`);
    uids.set(d.uid, rel);
  }
  // nothing else in the teams' folders (a renamed dashboard leaves no stale copy behind)
  const onDisk = fs
    .readdirSync(TEAMS_DIR)
    .flatMap((t) => fs.readdirSync(path.join(TEAMS_DIR, t)).map((f) => path.join(t, f)));
  assert.deepEqual(onDisk.sort(), [...files.keys()].sort());
  assert.equal(files.size, teams().length * bundled().length);
  assert.throws(() => teamDashboard({ uid: 'x', templating: { list: [] } }, 'shop'), /no team variable/);
});
