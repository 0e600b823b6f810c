#!/usr/bin/env node
// Writes the per-team copies of the bundled dashboards (src/dashboards/*.json, which the plugin's plugin.json
// includes) to provisioning/dashboards/teams/<team>/, one folder per team of provisioning/alerting/team-<team>.yaml
// (provisioning/dashboards/flowlens.yaml gives each its Grafana folder). A copy is its dashboard with the team
// variable fixed to the team (a one-value custom variable, so every query's tags.team is that team), its own uid
// and title, and its links narrowed to the team's dashboards. Run it after changing a bundled dashboard;
// test/frontend/dashboards-provisioning.test.js fails while a copy is stale.
// Usage: node scripts/team-dashboards.js [--check]
'use strict';

const fs = require('fs');
const path = require('path');

const ROOT = path.resolve(__dirname, '..');
const BUNDLED = path.join(ROOT, 'src', 'dashboards');
const TEAMS_DIR = path.join(ROOT, 'provisioning', 'dashboards', 'teams');

/** The teams: one per alert rule file provisioning/alerting/team-<team>.yaml. */
function teams() {
  return fs
    .readdirSync(path.join(ROOT, 'provisioning', 'alerting'))
    .map((f) => /^team-([a-z0-9-]+)\.yaml$/.exec(f)?.[1])
    .filter(Boolean)
    .sort();
}

/** The bundled dashboards by file name. */
function bundled() {
  return fs
    .readdirSync(BUNDLED)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => ({ file, dashboard: JSON.parse(fs.readFileSync(path.join(BUNDLED, file), 'utf8')) }));
}

/** A bundled dashboard as team `team` gets it. */
function teamDashboard(dashboard, team) {
  const d = structuredClone(dashboard);
  d.uid = `${dashboard.uid}-${team}`;
  d.title = `${dashboard.title} (${team})`;
  d.tags = [...(dashboard.tags ?? []), `team:${team}`];
  const v = d.templating?.list?.find((x) => x.name === 'team');
  if (!v) {
    throw new Error(`${dashboard.uid}: no team variable`);
  }
  Object.assign(v, {
    type: 'custom',
    query: team,
    multi: false,
    includeAll: false,
    current: { text: team, value: team },
    options: [{ text: team, value: team, selected: true }],
  });
  delete v.datasource;
  delete v.definition;
  delete v.refresh;
  delete v.sort;
  for (const link of d.links ?? []) {
    if (link.type === 'dashboards') {
      link.tags = ['flowlens', `team:${team}`];
    }
  }
  return d;
}

/** Every per-team file: path under provisioning/dashboards/teams -> its JSON text. */
function teamFiles() {
  const out = new Map();
  for (const team of teams()) {
    for (const { file, dashboard } of bundled()) {
      out.set(path.join(team, file), `${JSON.stringify(teamDashboard(dashboard, team), null, 2)}\n`);
    }
  }
  return out;
}

if (require.main === module) {
  const files = teamFiles();
  if (process.argv.includes('--check')) {
    const stale = [...files].filter(([rel, text]) => {
      const at = path.join(TEAMS_DIR, rel);
      return !fs.existsSync(at) || fs.readFileSync(at, 'utf8') !== text;
    });
    if (stale.length > 0) {
      console.error(`stale: ${stale.map(([rel]) => rel).join(', ')} (node scripts/team-dashboards.js)`);
      process.exit(1);
    }
  } else {
    fs.rmSync(TEAMS_DIR, { recursive: true, force: true });
    for (const [rel, text] of files) {
      fs.mkdirSync(path.dirname(path.join(TEAMS_DIR, rel)), { recursive: true });
      fs.writeFileSync(path.join(TEAMS_DIR, rel), text);
    }
    console.log(`${files.size} dashboards for teams ${teams().join(', ')} in ${path.relative(ROOT, TEAMS_DIR)}`);
  }
}

module.exports = { teams, bundled, teamDashboard, teamFiles, TEAMS_DIR, BUNDLED };
