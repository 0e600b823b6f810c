// node:test wrapper around flamegraph-run.js (the headless-Chromium test of the BUILT flame graph panel) on the real
// plugin binary's recorded answers over profiles the real agent captured (record-flamegraph.js).
'use strict';
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const path = require('node:path');

test('the built flame graph panel: search, focus, off-CPU, the diff and a slow request on recorded real profiles; the Profiling page and its one-click compare; 16,384 nodes', (t) => {
  const r = spawnSync(process.execPath, [path.join(__dirname, 'flamegraph-run.js')], {
    encoding: 'utf8',
    timeout: 240000,
  });
  const out = `${r.stdout}\n${r.stderr}`;
  assert.equal(r.status, 0, out);
  assert.match(out, /search "work_a": \d+ frames, [\d.]+% of \d+ samples/);
  assert.match(out, /focus on total;.*;work_a: \d+ frames drawn/);
  assert.match(out, /diff: work_b [\d.]+% -> [\d.]+% of the samples \(table \+\d+%\), coloured red; work_a green/);
  assert.match(out, /slow request .* hottest JS:\*burnCpu/);
  assert.match(out, /Profiling page: \d+ samples of shape, compared with the previous \d+ s: work_b \+\d+%/);
  assert.match(out, /16384 nodes: first paint \d+ ms after render\(\) \(budget \d+\)/);
  assert.match(out, /PASS/);
  for (const line of out
    .split('\n')
    .filter(
      (l) => l.includes('measured:') || l.includes('search "') || l.includes('diff:') || l.includes('Profiling page:')
    )) {
    t.diagnostic(line.replace(/^\[flamegraph-e2e\] (measured: )?/, ''));
  }
});
