// Continuous profiling end to end: programs of known shape (C built here with frame pointers, Node
// with --perf-basic-prof, a stripped Go binary) run under the real agent; their flame graphs come
// back from the real datasource binary through the Grafana shim (POST /api/ds/query), and must
// show the functions by name with their CPU shares, and the off-CPU time of a thread blocked on a
// pipe under the function that blocked, with the kernel path below it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, ChildProcess, execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import {
  assertRoot,
  chQuery,
  CLICKHOUSE_URL,
  curl,
  freeDatabase,
  requireClickHouse,
  ROOT,
  startAgent,
  waitForPort,
  AgentHandle,
} from './helpers';

const DB = 'flowlens_e2e_profiling';
/** CPU seconds each program works (a loaded machine stretches the wall time, not the samples) */
const CPU_SECONDS = 3.5;
const GO = process.env.GO ?? '/usr/local/go/bin/go';
const BURN_PORT = 28461;

interface FlameNode {
  label: string;
  value: number;
  self: number;
  level: number;
  path: string[];
}

interface Workload {
  name: string;
  proc: ChildProcess;
  out: () => string;
  tids: number[];
}

let dir: string;
let agent: AgentHandle;
let agentOutput = '';
let shim: ChildProcess;
let shimUrl = '';
const work: Record<string, Workload> = {};
/** wall time of the work phase: the reader thread of shape is blocked about this long */
let shapeWallSec = 0;
let burnResponse: { code: number; totalUs: number; pid: number };
const started = Date.now();

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    p.stdout!.on('data', (d) => (out += d));
    p.stderr!.on('data', (d) => (out += d));
    p.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')} failed (${code}):\n${out}`))
    );
  });
}

function waitFor(p: ChildProcess, out: () => string, word: string, timeoutMs: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what}: no "${word}" after ${timeoutMs} ms:\n${out()}`)), timeoutMs);
    const check = () => {
      if (out().includes(word)) {
        clearTimeout(t);
        resolve();
      }
    };
    p.stdout!.on('data', check);
    p.on('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`${what} exited (${code}) before "${word}":\n${out()}`));
    });
    check();
  });
}

function startWorkload(name: string, cmd: string, args: string[]): Workload {
  const proc = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], cwd: dir });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const w = { name, proc, out: () => out, tids: [] as number[] };
  work[name] = w;
  return w;
}

/** One flame graph from the datasource, as the panel reads it (depth-first rows, parent = last row one level up). */
async function flame(model: object, range?: { fromMs: number; toMs: number }): Promise<FlameNode[]> {
  const body = {
    from: String(range?.fromMs ?? started - 120_000),
    to: String(range?.toMs ?? Date.now() + 60_000),
    queries: [{ refId: 'A', queryType: 'flamegraph', datasource: { uid: 'flowlens' }, ...model }],
  };
  const res = await fetch(`${shimUrl}/api/ds/query`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as {
    results: Record<
      string,
      {
        error?: string;
        frames?: Array<{
          schema: { fields: Array<{ name: string }>; meta?: { preferredVisualisationType?: string } };
          data: { values: unknown[][] };
        }>;
      }
    >;
  };
  const r = json.results.A;
  assert.ok(!r.error && r.frames?.length === 1, `flamegraph query ${JSON.stringify(model)}: ${r.error ?? 'no frame'}`);
  const f = r.frames![0];
  assert.equal(f.schema.meta?.preferredVisualisationType, 'flamegraph');
  const col = (name: string) => f.data.values[f.schema.fields.findIndex((x) => x.name === name)];
  const [levels, values, selfs, labels] = [col('level'), col('value'), col('self'), col('label')] as [
    number[],
    number[],
    number[],
    string[],
  ];
  const nodes: FlameNode[] = [];
  const path: string[] = [];
  for (let i = 0; i < levels.length; i++) {
    path.length = levels[i];
    path.push(labels[i]);
    nodes.push({ label: labels[i], value: values[i], self: selfs[i], level: levels[i], path: [...path] });
  }
  return nodes;
}

/** Share (percent of the root) of the nodes matching `label`, outermost occurrences only. */
function share(nodes: FlameNode[], label: (l: string) => boolean): number {
  const total = nodes[0]?.value ?? 0;
  const v = nodes.filter((n) => label(n.label) && !n.path.slice(0, -1).some(label)).reduce((s, n) => s + n.value, 0);
  return total ? (100 * v) / total : 0;
}

function describe(nodes: FlameNode[], top = 25): string {
  return nodes
    .slice()
    .sort((a, b) => b.value - a.value)
    .slice(0, top)
    .map((n) => `${n.value} ${n.path.join(';')}`)
    .join('\n');
}

before(async () => {
  assertRoot();
  await requireClickHouse();
  await freeDatabase(DB);
  dir = mkdtempSync(join(tmpdir(), 'flowlens-profiling-'));
  const fixtures = join(ROOT, 'test', 'e2e', 'profiling');
  const env = { CGO_ENABLED: '0' };
  await Promise.all([
    run('gcc', [
      '-O0',
      '-g0',
      '-fno-omit-frame-pointer',
      '-fno-inline',
      '-pthread',
      '-o',
      join(dir, 'shape'),
      join(fixtures, 'shape.c'),
    ]),
    run(GO, ['build', '-ldflags=-s -w', '-o', join(dir, 'gowork'), '.'], { cwd: join(fixtures, 'gowork'), env }),
    run(GO, ['build', '-o', join(dir, 'gpx_flowlens-clickhouse-datasource_linux_amd64'), './pkg'], { cwd: ROOT, env }),
    run(GO, ['build', '-o', join(dir, 'grafana-shim'), './test/grafana-shim'], { cwd: ROOT, env }),
  ]);
  // the Go binary must be stripped: its names can only come from .gopclntab
  assert.doesNotMatch(execFileSync('readelf', ['-S', join(dir, 'gowork')], { encoding: 'utf8' }), /\.symtab/);

  writeFileSync(join(dir, 'ds.json'), JSON.stringify({ url: CLICKHOUSE_URL, database: DB }));
  shim = spawn(
    join(dir, 'grafana-shim'),
    [
      '-plugin',
      join(dir, 'gpx_flowlens-clickhouse-datasource_linux_amd64'),
      '-settings',
      join(dir, 'ds.json'),
      '-uid',
      'flowlens',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] }
  );
  let shimOut = '';
  shim.stdout!.on('data', (d) => (shimOut += d));
  shim.stderr!.on('data', (d) => (shimOut += d));
  await waitFor(shim, () => shimOut, 'listening http://', 20000, 'grafana-shim');
  shimUrl = /listening (http:\/\/\S+)/.exec(shimOut)![1];

  agent = await startAgent({ database: DB, statusIntervalMs: 0, profiling: { intervalMs: 1000 } });
  assert.match(agent.output(), /profiling: on-CPU 99 Hz on \d+ CPUs, off-CPU blocks >= 1000 µs/);

  const shape = startWorkload('shape', join(dir, 'shape'), [String(CPU_SECONDS)]);
  const node = startWorkload('node', process.execPath, [
    '--perf-basic-prof',
    join(fixtures, 'hot.js'),
    String(CPU_SECONDS),
  ]);
  const go = startWorkload('go', join(dir, 'gowork'), [String(CPU_SECONDS)]);
  const server = startWorkload('burn', process.execPath, [
    '--perf-basic-prof',
    join(fixtures, 'burnServer.js'),
    String(BURN_PORT),
  ]);
  await Promise.all([shape, node, go, server].map((w) => waitFor(w.proc, w.out, 'ready', 10000, w.name)));
  await waitForPort(BURN_PORT);
  for (const w of [shape, node, go]) {
    w.tids = readdirSync(`/proc/${w.proc.pid}/task`).map(Number);
  }
  const workStart = Date.now();
  await Promise.all([shape, node, go].map((w) => waitFor(w.proc, w.out, 'done', 45_000, w.name)));
  shapeWallSec = (Date.now() - workStart) / 1000;
  burnResponse = await curl(`http://127.0.0.1:${BURN_PORT}/burn`);
  // two more intervals while the programs live, so their last stacks are symbolized from /proc
  await new Promise((r) => setTimeout(r, 2500));
  server.proc.kill('SIGTERM');
  await Promise.all(
    [shape, node, go].map(
      (w) =>
        new Promise<void>((resolve) => {
          w.proc.on('exit', () => resolve());
          w.proc.stdin!.end('\n');
        })
    )
  );
  const code = await agent.stop();
  agentOutput = agent.output();
  assert.equal(code, 0, `agent exit code:\n${agentOutput}`);
});

after(async () => {
  for (const w of Object.values(work)) {
    if (w.proc.exitCode === null) {
      w.proc.kill('SIGKILL');
    }
  }
  if (agent?.proc.exitCode === null) {
    await agent.stop();
  }
  shim?.kill('SIGTERM');
  for (const w of [work.node, work.burn]) {
    if (w?.proc.pid) {
      rmSync(`/tmp/perf-${w.proc.pid}.map`, { force: true });
    }
  }
  if (dir) {
    rmSync(dir, { recursive: true, force: true });
  }
  await freeDatabase(DB);
});

test('C program: main -> work_a ~70% and main -> work_b ~30% of its CPU, named from its symbol table', async (t) => {
  const nodes = await flame({ pid: work.shape.proc.pid, event: 'on_cpu' });
  const a = share(nodes, (l) => l === 'work_a');
  const b = share(nodes, (l) => l === 'work_b');
  const detail = `work_a ${a.toFixed(1)}%, work_b ${b.toFixed(1)}% of ${nodes[0]?.value} samples:\n${describe(nodes)}`;
  t.diagnostic(`work_a ${a.toFixed(1)}%, work_b ${b.toFixed(1)}% of ${nodes[0]?.value} samples`);
  assert.ok(nodes[0].value >= 150, `too few samples: ${detail}`);
  assert.ok(Math.abs(a - 70) <= 10, `work_a share: ${detail}`);
  assert.ok(Math.abs(b - 30) <= 10, `work_b share: ${detail}`);
  // both under main, by name
  for (const fn of ['work_a', 'work_b']) {
    const under = nodes
      .filter((n) => n.label === fn && n.path[n.path.length - 2] === 'main')
      .reduce((s, n) => s + n.value, 0);
    const all = nodes.filter((n) => n.label === fn).reduce((s, n) => s + n.value, 0);
    assert.ok(under >= 0.95 * all, `${fn} is under main in ${under} of ${all} samples:\n${describe(nodes)}`);
  }
  // the same graph by process name, and for the main thread only
  const byName = await flame({ process: 'shape', pid: work.shape.proc.pid });
  assert.equal(byName[0].value, nodes[0].value);
  const mainThread = await flame({ pid: work.shape.proc.pid, tid: work.shape.proc.pid });
  assert.ok(Math.abs(share(mainThread, (l) => l === 'work_a') - 70) <= 10, describe(mainThread));
});

test('C program: the off-CPU graph shows block_on_pipe with read() and the kernel path under it', async (t) => {
  const pid = work.shape.proc.pid!;
  const reader = work.shape.tids.find((t) => t !== pid);
  assert.ok(reader, `the reader thread of ${pid}: tasks ${work.shape.tids}`);
  const nodes = await flame({ pid, tid: reader, event: 'off_cpu' });
  const total = nodes[0].value; // ns
  const detail = `${(total / 1e9).toFixed(2)} s off-CPU:\n${describe(nodes)}`;
  assert.ok(
    total >= 0.8 * shapeWallSec * 1e9,
    `the reader thread was blocked for most of the ${shapeWallSec.toFixed(1)} s run: ${detail}`
  );
  const blocked = share(nodes, (l) => l === 'block_on_pipe');
  t.diagnostic(
    `reader thread off-CPU ${(total / 1e9).toFixed(2)} s in a ${shapeWallSec.toFixed(1)} s run, ${blocked.toFixed(1)}% under block_on_pipe`
  );
  assert.ok(blocked >= 70, `block_on_pipe holds ${blocked.toFixed(1)}% of the reader's off-CPU time: ${detail}`);
  // read() under block_on_pipe, then the kernel: syscall entry, the read path, the pipe where it
  // slept (the kernel leaves its scheduler functions out of a sleeping task's stack)
  const leaves = nodes.filter((n) => n.self > 0 && n.path.includes('block_on_pipe'));
  const kernelPath = leaves.find((n) => {
    const p = n.path;
    const i = p.indexOf('block_on_pipe');
    return (
      p[i + 1] === 'read' &&
      /^(entry_SYSCALL_64|do_syscall_64)/.test(p[i + 2] ?? '') &&
      p.slice(i + 2).includes('vfs_read') &&
      /pipe_read/.test(p[p.length - 1])
    );
  });
  assert.ok(kernelPath, `no block_on_pipe;read;<syscall entry>;...;vfs_read;...;*pipe_read path: ${detail}`);
  const viaPath = kernelPath.value;
  assert.ok(viaPath >= 0.5 * total, `the pipe-read path holds ${viaPath} of ${total} ns: ${detail}`);
  // the whole process: the same time is there, and no on-CPU frames leak into the off-CPU graph
  const proc = await flame({ pid, event: 'off_cpu' });
  assert.ok(proc[0].value >= total);
  assert.ok(
    !proc.some((n) => n.label === 'work_a' && n.self > 0.2 * proc[0].value),
    'CPU-bound work is not blocked time'
  );
});

test('Node: the hot JS function is named from the perf map (--perf-basic-prof), hot/cold ~75/25', async (t) => {
  const nodes = await flame({ pid: work.node.proc.pid, event: 'on_cpu' });
  const hot = share(nodes, (l) => l.includes('hotFunction'));
  const cold = share(nodes, (l) => l.includes('coldFunction'));
  const detail = `hotFunction ${hot.toFixed(1)}%, coldFunction ${cold.toFixed(1)}% of ${nodes[0]?.value} samples:\n${describe(nodes)}`;
  t.diagnostic(`hotFunction ${hot.toFixed(1)}%, coldFunction ${cold.toFixed(1)}% of ${nodes[0]?.value} samples`);
  assert.ok(hot >= 40, `hotFunction: ${detail}`);
  assert.ok(cold >= 5, `coldFunction: ${detail}`);
  assert.ok(Math.abs((100 * hot) / (hot + cold) - 75) <= 10, `hot/(hot+cold): ${detail}`);
  assert.ok(
    nodes.some((n) => n.label.includes('hotFunction') && n.label.includes('hot.js')),
    `the JIT frame names the script (perf map entry): ${detail}`
  );
});

test('Go (stripped binary): main.hotGo ~75% and main.coldGo ~25%, under main.main, named from .gopclntab', async (t) => {
  const nodes = await flame({ pid: work.go.proc.pid, event: 'on_cpu' });
  const hot = share(nodes, (l) => l === 'main.hotGo');
  const cold = share(nodes, (l) => l === 'main.coldGo');
  const detail = `main.hotGo ${hot.toFixed(1)}%, main.coldGo ${cold.toFixed(1)}% of ${nodes[0]?.value} samples:\n${describe(nodes)}`;
  t.diagnostic(`main.hotGo ${hot.toFixed(1)}%, main.coldGo ${cold.toFixed(1)}% of ${nodes[0]?.value} samples`);
  assert.ok(nodes[0].value >= 150, `too few samples: ${detail}`);
  assert.ok(Math.abs(hot - 75) <= 10, `main.hotGo: ${detail}`);
  assert.ok(Math.abs(cold - 25) <= 10, `main.coldGo: ${detail}`);
  // frameless leaves: their caller is found through the pcsp table, not lost
  const under = nodes
    .filter((n) => n.label === 'main.hotGo' && n.path.includes('main.main'))
    .reduce((s, n) => s + n.value, 0);
  const all = nodes.filter((n) => n.label === 'main.hotGo').reduce((s, n) => s + n.value, 0);
  // (samples taken before the agent learnt the leaf's rule, in the first interval or two, lack it)
  t.diagnostic(`main.hotGo under main.main in ${under} of ${all} samples`);
  assert.ok(under >= 0.5 * all, `main.hotGo under main.main in ${under} of ${all} samples: ${detail}`);
});

test("a slow request leads to its code: the server row (pid, thread, time) -> that thread's flame graph is burnCpu", async (t) => {
  assert.equal(burnResponse.code, 200);
  const rows = await chQuery<{
    server_pid: number;
    syscall_thread_response: number;
    start_time_us: string;
    end_time_us: string;
  }>(
    `SELECT server_pid, syscall_thread_response, start_time_us, end_time_us FROM ${DB}.l7_flow_log
     WHERE observation_point = 'server_process' AND server_port = ${BURN_PORT} AND request_resource = '/burn'`
  );
  assert.equal(rows.length, 1, `one server-side request log for /burn: ${JSON.stringify(rows)}`);
  const r = rows[0];
  assert.equal(Number(r.server_pid), work.burn.proc.pid);
  // the span's seconds (profile rows are per second of collection)
  const range = {
    fromMs: Math.floor(Number(r.start_time_us) / 1e6) * 1000,
    toMs: Math.ceil(Number(r.end_time_us) / 1e6) * 1000,
  };
  const nodes = await flame({ pid: r.server_pid, tid: r.syscall_thread_response, event: 'on_cpu' }, range);
  const burn = share(nodes, (l) => l.includes('burnCpu'));
  t.diagnostic(
    `span ${((Number(r.end_time_us) - Number(r.start_time_us)) / 1e6).toFixed(2)} s on thread ${r.syscall_thread_response}: burnCpu ${burn.toFixed(1)}% of ${nodes[0]?.value} samples`
  );
  assert.ok(nodes[0].value >= 50, `samples of that thread in the span: ${describe(nodes)}`);
  assert.ok(burn >= 60, `burnCpu ${burn.toFixed(1)}%:\n${describe(nodes)}`);
});

test('the agent reports the profiler: samples, its own cost, and no drops', (t) => {
  const line = agentOutput.split('\n').find((l) => l.includes('stopped.')) ?? '';
  const num = (re: RegExp) => Number(re.exec(line)?.[1] ?? NaN);
  t.diagnostic(/profiling: [^;]*;[^;]*;[^;]*;[^;]*; drops: [^;]*/.exec(line)?.[0] ?? line);
  assert.ok(num(/profiling: samples (\d+)/) > 300, line);
  assert.ok(num(/off-CPU blocks (\d+)/) > 50, line);
  assert.ok(num(/self ([\d.]+)% of a core/) < 25, `profiler self cost: ${line}`);
  for (const drop of [/counts map full (\d+)/, /decode errors (\d+)/, /rows dropped (\d+)/]) {
    assert.equal(num(drop), 0, `${drop}: ${line}`);
  }
  assert.ok(num(/written profile_samples (\d+)/) > 0, line);
  assert.equal(num(/written profile_samples \d+, dropped (\d+)/), 0, line);
});
