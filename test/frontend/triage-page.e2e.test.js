// node:test wrapper around triage-page-run.js (the headless-Chromium test of the BUILT app's Triage page) on the
// real plugin binary's recorded answers (fixtures/ds-query-triage.recording.json).
'use strict';
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const path = require('node:path');

test('the built Triage page lists each recorded triage: the injected place first, its evidence, links and notes', () => {
  const r = spawnSync(process.execPath, [path.join(__dirname, 'triage-page-run.js')], {
    encoding: 'utf8',
    timeout: 240000,
  });
  const out = `${r.stdout}\n${r.stderr}`;
  assert.equal(r.status, 0, out);
  assert.match(out, /slow_database: \d+ suspects; first: dependency \| latency \| postgres/);
  assert.match(out, /refused: \d+ suspects; first: server host \/ NIC \| connection failures \| frontend → backend/);
  assert.match(out, /control: no suspect shown/);
  assert.match(out, /PASS/);
});
