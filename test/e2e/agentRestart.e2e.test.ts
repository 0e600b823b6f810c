// Agent restarts as annotations, end to end: the real agent is started, stopped cleanly (SIGINT),
// started again, killed (SIGKILL), started a third time and stopped; each run records itself in
// agent_events through its export. The annotations query through the built plugin binary (behind
// test/grafana-shim) must return exactly the three starts, the second saying the run before it
// stopped cleanly and the third that it did not, and exactly the two clean stops.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import {
  AgentHandle,
  assertRoot,
  chQuery,
  CLICKHOUSE_URL,
  freeDatabase,
  requireClickHouse,
  ROOT,
  startAgent,
} from './helpers';
import { buildShimAndPlugin, column, queryFrames, Shim, startShim } from '../../demo/traceView';

const DB = 'flowlens_e2e_agent_restart';
/** This test's agents' host name: the query filters by it. */
const HOST = `e2e-restart-${process.pid}`;
const OUT = join(ROOT, 'build', 'e2e-agent-restart');
const CONFIG = {
  database: DB,
  host: HOST,
  flushIntervalMs: 200,
  statusIntervalMs: 0,
  flowLog: false,
  profiling: { enabled: false },
  network: { capture: { enabled: false } },
};

let shim: Shim | undefined;
const agents: AgentHandle[] = [];
let fromSec = 0;
let toSec = 0;

/** Waits until agent_events holds `n` rows of kind `event` for this test's host. */
async function eventRows(event: 'start' | 'stop', n: number): Promise<void> {
  const deadline = Date.now() + 15000;
  for (;;) {
    const rows = await chQuery<{ n: string }>(
      `SELECT count() AS n FROM ${DB}.agent_events WHERE host = '${HOST}' AND event = '${event}'`
    ).catch(() => [{ n: '0' }]);
    if (Number(rows[0].n) >= n) {
      return;
    }
    assert.ok(Date.now() < deadline, `agent_events: fewer than ${n} ${event} rows after 15 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

before(async () => {
  assertRoot();
  await requireClickHouse();
  await freeDatabase(DB);
  mkdirSync(OUT, { recursive: true });
  const builds = buildShimAndPlugin(OUT);
  fromSec = Math.floor(Date.now() / 1000) - 1;

  const first = await startAgent(CONFIG);
  agents.push(first);
  await eventRows('start', 1);
  assert.equal(await first.stop(), 0, first.output());
  await eventRows('stop', 1);

  const second = await startAgent(CONFIG);
  agents.push(second);
  await eventRows('start', 2);
  const killed = new Promise((r) => second.proc.once('exit', r));
  second.proc.kill('SIGKILL');
  await killed;

  const third = await startAgent(CONFIG);
  agents.push(third);
  await eventRows('start', 3);
  assert.equal(await third.stop(), 0, third.output());
  await eventRows('stop', 2);
  toSec = Math.floor(Date.now() / 1000) + 1;

  const { shimBin, pluginBin } = await builds;
  shim = await startShim({
    shimBin,
    pluginBin,
    clickhouseUrl: CLICKHOUSE_URL,
    database: DB,
    dir: mkdtempSync(join(tmpdir(), 'flowlens-restart-shim-')),
  });
});

after(async () => {
  for (const a of agents) {
    a.proc.kill('SIGKILL');
  }
  shim?.stop();
});

/** One annotations query through the plugin binary: its events as "text [tags]", oldest first, and their times (ms). */
async function annotations(query: Record<string, unknown>): Promise<{ lines: string[]; times: number[] }> {
  const [frame] = await queryFrames(
    shim!.url,
    { fromMs: fromSec * 1000, toMs: toSec * 1000 },
    { queryType: 'annotations', ...query }
  );
  assert.ok(frame, `annotations ${JSON.stringify(query)}: no frame`);
  const col = (n: string) => column(frame, n);
  const tags = col('tags') as string[];
  return { lines: (col('text') as string[]).map((t, i) => `${t} [${tags[i]}]`), times: col('time') as number[] };
}

test('three starts: the first with no earlier run, the second after a clean stop, the third after a kill', async () => {
  const [first, second, third] = agents.map((a) => a.proc.pid!);
  const { lines, times } = await annotations({ annotation: 'agent_restart', host: [HOST] });
  const kernel = (await chQuery<{ k: string }>(`SELECT any(kernel) AS k FROM ${DB}.agent_events`))[0].k;
  const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  const started = `${HOST}: agent ${version} started`;
  assert.equal(lines.length, 3, lines.join('\n'));
  assert.equal(
    lines[0],
    `${started} (pid ${first}, kernel ${kernel}); no earlier run recorded in the 30 days before [flowlens,agent_restart,host=${HOST},previous=none]`
  );
  assert.match(
    lines[1],
    new RegExp(
      `^${started} \\(pid ${second}, kernel ${kernel}\\); the previous run \\(${version}, pid ${first}, started [-0-9: ]+ UTC\\) stopped cleanly \\(interrupted\\) after [0-9.hms]+ \\[flowlens,agent_restart,host=${HOST},previous=clean\\]$`
    )
  );
  assert.match(
    lines[2],
    new RegExp(
      `^${started} \\(pid ${third}, kernel ${kernel}\\); the previous run \\(${version}, pid ${second}, started [-0-9: ]+ UTC\\) did not stop cleanly: no stop was recorded \\(crashed or killed\\) \\[flowlens,agent_restart,host=${HOST},previous=unclean\\]$`
    )
  );
  assert.ok(
    times.every((t, i) => i === 0 || t > times[i - 1]),
    `starts in order: ${times.join(', ')}`
  );
  assert.ok(times[0] >= fromSec * 1000 && times[2] <= toSec * 1000, 'within the range');
});

test('two clean stops, the killed run none; another host has none', async () => {
  const [first, , third] = agents.map((a) => a.proc.pid!);
  const { lines } = await annotations({ annotation: 'agent_stop', host: HOST });
  assert.equal(lines.length, 2, lines.join('\n'));
  assert.match(
    lines[0],
    new RegExp(
      `^${HOST}: agent \\S+ stopped cleanly \\(interrupted\\) after [0-9.hms]+ \\(pid ${first}\\) \\[flowlens,agent_stop,host=${HOST}\\]$`
    )
  );
  assert.match(
    lines[1],
    new RegExp(
      `^${HOST}: agent \\S+ stopped cleanly \\(interrupted\\) after [0-9.hms]+ \\(pid ${third}\\) \\[flowlens,agent_stop,host=${HOST}\\]$`
    )
  );
  assert.deepEqual((await annotations({ annotation: 'agent_restart', host: 'another-host' })).lines, []);
});
