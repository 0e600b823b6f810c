// node:test wrapper around map-scale-run.js: a 200-service Universal Map in headless Chromium on the built panel,
// painted within the budget, titles and call labels apart and readable, zoom and pan working.
'use strict';
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const path = require('node:path');

test('a 200-service map paints within its budget, readable, with zoom and pan', () => {
  const r = spawnSync(process.execPath, [path.join(__dirname, 'map-scale-run.js')], {
    encoding: 'utf8',
    timeout: 180000,
  });
  const out = `${r.stdout}\n${r.stderr}`;
  console.log(out);
  assert.equal(r.status, 0, out);
  assert.match(out, /200-node map: 200 nodes, 280 calls; first paint/);
  assert.match(out, /zoomed ×\d/);
  assert.match(out, /PASS/);
});
