// node:test wrapper around traces-page-run.js (the headless-Chromium test of the BUILT app's Traces page) on the
// real plugin binary's recorded answers (fixtures/ds-query-traces-page.recording.json).
'use strict';
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const path = require('node:path');

test('the built Traces page lists the recorded search, draws the chosen checkout (36 spans, verdict) and reopens it from its URL', () => {
  const r = spawnSync(process.execPath, [path.join(__dirname, 'traces-page-run.js')], {
    encoding: 'utf8',
    timeout: 240000,
  });
  const out = `${r.stdout}\n${r.stderr}`;
  assert.equal(r.status, 0, out);
  assert.match(out, /search: (\d+) traces in the answer, \1 rows listed/);
  assert.match(out, /chosen trace \d+: 36 spans; verdict "\d+% of the [\d.]+ m?s is inside backend/);
  assert.match(out, /PASS/);
});
