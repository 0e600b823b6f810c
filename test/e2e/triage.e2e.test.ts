// Triage live: the triage test bed (test/e2e/triage/triageBed.ts: the demo system on the namespace test
// bed under a steady load) with the real agent capturing, a few of its scenarios injected one at a time
// (a healthy control, a slow database, connects refused with resets, a client waiting between
// requests), and each window's triage asked of the built plugin binary behind test/grafana-shim, as
// Grafana's /api/ds/query does. The first suspect must be the injected place and kind; the control
// names nothing. (All eight faults are asserted on a recording of the same bed by
// pkg/plugin/triage_integration_test.go.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { assertRoot, freeDatabase, requireClickHouse, startAgent, AgentHandle, CLICKHOUSE_URL } from './helpers';
import { buildShimAndPlugin, column, queryFrames, Shim, startShim } from '../../demo/traceView';
import { SCENARIOS, SLOW_MS, THINK_MS, startTriageBed, TriageBed, Window } from './triage/triageBed';

const DB = 'flowlens_e2e_triage';
const LIVE = ['control', 'slow_database', 'refused', 'client_wait'];

let dir = '';
let bed: TriageBed | undefined;
let agent: AgentHandle | undefined;
let shim: Shim | undefined;
let windows: Window[] = [];

before(async () => {
  assertRoot();
  await requireClickHouse();
  await freeDatabase(DB);
  dir = mkdtempSync(join(tmpdir(), 'flowlens-triage-e2e-'));
  const bins = await buildShimAndPlugin(dir);
  bed = await startTriageBed(join(dir, 'demo'));
  agent = await startAgent({ database: DB, flushIntervalMs: 200, statusIntervalMs: 0, ...bed.agentConfig() });
  windows = await bed.run(
    SCENARIOS.filter((s) => LIVE.includes(s.name)),
    (l) => console.log(`[triage.e2e] ${l}`)
  );
  assert.equal(await agent.stop(), 0, agent.output());
  shim = await startShim({ ...bins, clickhouseUrl: CLICKHOUSE_URL, database: DB, dir: join(dir, 'shim') });
});

after(async () => {
  shim?.stop();
  if (agent?.proc.exitCode === null) {
    await agent.stop();
  }
  await bed?.stop();
  if (dir) {
    rmSync(dir, { recursive: true, force: true });
  }
});

interface Row {
  rank: number;
  place: string;
  kind: string;
  service: string;
  evidence: string;
}

/** The triage of one window through the plugin binary: its suspect rows (notes left out). */
async function triage(target: Record<string, string>, w: Window): Promise<Row[]> {
  // the window's seconds, inclusive
  const [f] = await queryFrames(
    shim!.url,
    { fromMs: w.from * 1000, toMs: (w.to - 1) * 1000 },
    { queryType: 'triage', ...target }
  );
  assert.ok(f, `triage ${JSON.stringify(target)}: no frame`);
  const col = (n: string) => column(f, n);
  const rows = (col('rank') as number[]).map((rank, i) => ({
    rank,
    place: col('place')[i] as string,
    kind: col('kind')[i] as string,
    service: col('service')[i] as string,
    evidence: col('evidence')[i] as string,
  }));
  console.log(
    `[triage.e2e] ${w.scenario}:\n  ${rows.map((r) => `#${r.rank} ${r.place} ${r.kind} ${r.service}: ${r.evidence}`).join('\n  ')}`
  );
  return rows.filter((r) => r.place !== 'note');
}

for (const name of LIVE) {
  const sc = SCENARIOS.find((s) => s.name === name)!;
  test(`triage names ${sc.expect ? `${sc.expect.place} ${sc.expect.kind} of ${sc.expect.service}` : 'nothing'} for: ${sc.fault}`, async () => {
    const w = windows.find((x) => x.scenario === name)!;
    const suspects = await triage(sc.target, w);
    if (!sc.expect) {
      assert.deepEqual(suspects, [], 'the healthy window names a suspect');
      return;
    }
    assert.ok(suspects.length > 0, 'no suspect');
    const [top] = suspects;
    assert.deepEqual(
      [top.rank, top.place, top.kind, top.service],
      [1, sc.expect.place, sc.expect.kind, sc.expect.service],
      top.evidence
    );
    const ms = (after: string) => Number(new RegExp(`${after}(-?\\d+(?:\\.\\d+)?) ms`).exec(top.evidence)?.[1]);
    switch (name) {
      case 'slow_database':
        assert.ok(ms('own time rose by ') >= 0.8 * SLOW_MS && ms('own time rose by ') <= 1.3 * SLOW_MS, top.evidence);
        break;
      case 'refused': {
        const m = /(\d+) of (\d+) connects failed, (\d+) with an RST from the server's side/.exec(top.evidence);
        assert.ok(m && Number(m[1]) >= 20 && m[1] === m[2] && m[3] === m[1], top.evidence);
        break;
      }
      case 'client_wait':
        assert.ok(ms('waits ') >= THINK_MS && ms('waits ') <= THINK_MS + 50, top.evidence);
        break;
    }
  });
}
