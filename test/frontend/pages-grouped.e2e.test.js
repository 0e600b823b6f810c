// node:test wrapper around pages-grouped-run.js (the headless-Chromium test of the BUILT app's Network and Profiling
// pages grouped by a tag) on the real plugin binary's recorded answers (fixtures/ds-query-pages-grouped.recording.json).
'use strict';
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const path = require('node:path');

test('the built Network page groups its flows and byte rate by team, the Profiling page roots its flame graphs by team', () => {
  const r = spawnSync(process.execPath, [path.join(__dirname, 'pages-grouped-run.js')], {
    encoding: 'utf8',
    timeout: 240000,
  });
  const out = `${r.stdout}\n${r.stderr}`;
  assert.equal(r.status, 0, out);
  assert.match(out, /flows by team: .+ flows/);
  assert.match(out, /on-CPU roots by team: /);
  assert.match(out, /PASS/);
});
