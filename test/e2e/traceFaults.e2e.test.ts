// The trace verdict sees the network, end to end: the real agent records the fault scenarios of
// netcapture/recordTraceFaults.ts now (5% loss at the client's input, connects refused then served, a
// request reset then served, a keep-alive client thinking 200 ms; namespace test bed, packet capture on both
// eth0), then the Go test of the trace query's network evidence (pkg/plugin/tracefaults_integration_test.go)
// runs the real plugin binary over these fresh rows instead of the committed capture: every lossy trace names
// the network path with the retransmissions the agent counted, the refused connects and the reset are counted
// on the client span, the client's wait is the note beside the trace.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { assertRoot, requireClickHouse, ROOT } from './helpers';
import { GO } from '../../demo/traceView';

test('the trace verdict names the network path under loss, counts refused connects and resets, shows the client wait (recorded now)', async (t) => {
  assertRoot();
  await requireClickHouse();
  const out = join(ROOT, 'build', 'e2e-tracefaults');
  const rec = spawnSync(
    process.execPath,
    [join(ROOT, 'build', 'agent', 'test', 'e2e', 'netcapture', 'recordTraceFaults.js'), '--out', out],
    {
      encoding: 'utf8',
      timeout: 300_000,
    }
  );
  assert.equal(rec.status, 0, rec.stdout + rec.stderr);
  t.diagnostic(rec.stdout.trim());
  const go = spawnSync(GO, ['test', './pkg/plugin', '-run', '^TestTraceFaultsIntegration$', '-count=1', '-v'], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 600_000,
    env: { ...process.env, FLOWLENS_TRACEFAULTS_DIR: out },
  });
  assert.equal(go.status, 0, go.stdout + go.stderr);
  assert.match(go.stdout, /--- PASS: TestTraceFaultsIntegration/);
  const culprit = /network path culprit in (\d+) of (\d+) lossy traces/.exec(go.stdout);
  assert.ok(culprit, go.stdout);
  t.diagnostic(culprit[0]);
});
