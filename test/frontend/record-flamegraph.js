#!/usr/bin/env node
// Records the flame graph panel's browser-test answers and the Go integration test's profile rows from the REAL
// system, once: the real agent (profiling on) writes into ClickHouse database flowlens_frontend_flame while
//   1. the known-shape C program (test/e2e/profiling/shape.c: main -> work_a 7 units, work_b 3) works 2.5 CPU s,
//   2. the same program with work_b grown to 9 units (`shape 2.5 9`) works 2.5 CPU s (the change in the workload),
//   3. an HTTP server (test/e2e/profiling/burnServer.js, node --perf-basic-prof) answers one GET /burn that spends
//      1.5 s of CPU in burnCpu (the request made slow);
// then the real plugin binary (dist/datasource/gpx_*, behind test/grafana-shim as Grafana starts it) answers
// Grafana's POST /api/ds/query for: shape's on-CPU and off-CPU flame graphs over phase 1, the diff of phase 2
// against phase 1, and the flame graph of the thread that served /burn over that request's seconds.
// Writes fixtures/ds-query-flamegraph*.json (each the exact response body), fixtures/ds-query-flamegraph.recording.json
// (the requests, when and how), and pkg/plugin/testdata/profiles-burn.json (the agent's profile_samples rows of the
// /burn request's seconds and its server-side request-log row, as ClickHouse returned them).
// Needs root, eBPF, the built agent (scripts/build.sh agent) and backend (scripts/build-backend.sh):
//   flock /tmp/flowlens-e2e.lock node test/frontend/record-flamegraph.js
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawn, execFileSync } = require('child_process');

const ROOT = path.resolve(__dirname, '..', '..');
const FIXTURES = path.join(__dirname, 'fixtures');
const TESTDATA = path.join(ROOT, 'pkg', 'plugin', 'testdata');
const DB = 'flowlens_frontend_flame';
const CPU_SECONDS = '2.5';
const GROWN_B_UNITS = '9';
const BURN_PORT = 28471;
const PROGRAMS = path.join(ROOT, 'test', 'e2e', 'profiling');

const { startAgent, chQuery, freeDatabase, assertRoot, requireClickHouse, waitForPort, curl, CLICKHOUSE_URL } = require(
  path.join(ROOT, 'build', 'agent', 'test', 'e2e', 'helpers.js')
);
const { goBuild, startShim, DIST_PLUGIN } = require(path.join(ROOT, 'build', 'agent', 'demo', 'traceView.js'));

function log(...a) {
  console.log('[record-flamegraph]', ...a);
}

/** Starts a program and resolves once it printed `word` (its output kept for errors). */
function start(cmd, args, word) {
  const proc = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d) => (out += d));
  proc.stderr.on('data', (d) => (out += d));
  const waitFor = (w, timeoutMs) =>
    new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`${cmd}: no "${w}" after ${timeoutMs} ms:\n${out}`)), timeoutMs);
      const check = () => {
        if (out.includes(w)) {
          clearTimeout(t);
          resolve();
        }
      };
      proc.stdout.on('data', check);
      proc.on('exit', (code) => {
        clearTimeout(t);
        reject(new Error(`${cmd} exited (${code}) before "${w}":\n${out}`));
      });
      check();
    });
  return { proc, ready: waitFor(word, 10000), waitFor };
}

/** One run of shape: [from, to] ms of its work; it lives two more agent intervals so its last stacks get names. */
async function runShape(bin, args) {
  const s = start(bin, args, 'ready');
  await s.ready;
  const from = Date.now();
  await s.waitFor('done', 45000);
  const to = Date.now();
  await new Promise((r) => setTimeout(r, 2500));
  await new Promise((resolve) => {
    s.proc.on('exit', resolve);
    s.proc.stdin.end('\n');
  });
  return { pid: s.proc.pid, from, to };
}

async function query(shimUrl, q, fromMs, toMs) {
  const body = {
    queries: [{ refId: 'A', datasource: { uid: 'flowlens', type: 'flowlens-clickhouse-datasource' }, ...q }],
    from: String(fromMs),
    to: String(toMs),
  };
  const res = await fetch(`${shimUrl}/api/ds/query`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, request: body, response: await res.json() };
}

function save(file, a, recorded) {
  fs.writeFileSync(path.join(FIXTURES, file), `${JSON.stringify(a.response)}\n`);
  recorded.files[file] = { http_status: a.status, request: a.request };
  const result = Object.values(a.response.results ?? {})[0];
  const frames = result?.frames ?? [];
  log(
    `${file}: HTTP ${a.status}, ${frames.map((f) => `${f.schema.name}(${f.data?.values?.[0]?.length ?? 0} nodes)`).join(' ')} ${result?.error ?? ''}`
  );
}

async function main() {
  assertRoot();
  await requireClickHouse();
  if (!fs.existsSync(DIST_PLUGIN)) {
    throw new Error(`${DIST_PLUGIN} is missing: scripts/build-backend.sh`);
  }
  await freeDatabase(DB);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flowlens-record-flame-'));
  const shapeBin = path.join(dir, 'shape');
  execFileSync('gcc', [
    '-O0',
    '-g0',
    '-fno-omit-frame-pointer',
    '-fno-inline',
    '-pthread',
    '-o',
    shapeBin,
    path.join(PROGRAMS, 'shape.c'),
  ]);
  let agent;
  let shim;
  let burn;
  try {
    agent = await startAgent({
      database: DB,
      statusIntervalMs: 0,
      flushIntervalMs: 200,
      profiling: { intervalMs: 1000 },
    });
    burn = start(
      process.execPath,
      ['--perf-basic-prof', path.join(PROGRAMS, 'burnServer.js'), String(BURN_PORT)],
      'ready'
    );
    await burn.ready;
    await waitForPort(BURN_PORT);
    const before = await runShape(shapeBin, [CPU_SECONDS]);
    log(`shape (work_a 7, work_b 3): pid ${before.pid}, ${((before.to - before.from) / 1000).toFixed(1)} s`);
    const after = await runShape(shapeBin, [CPU_SECONDS, GROWN_B_UNITS]);
    log(
      `shape (work_a 7, work_b ${GROWN_B_UNITS}): pid ${after.pid}, ${((after.to - after.from) / 1000).toFixed(1)} s`
    );
    const r = await curl(`http://127.0.0.1:${BURN_PORT}/burn`);
    if (r.code !== 200) {
      throw new Error(`GET /burn: ${r.code}`);
    }
    await new Promise((res) => setTimeout(res, 2500)); // two intervals: the request's stacks drained and named
    burn.proc.kill('SIGTERM');
    const code = await agent.stop();
    if (code !== 0) {
      throw new Error(`agent exited with ${code}:\n${agent.output()}`);
    }
    const [row] = await chQuery(
      `SELECT toString(_id) AS id, server_pid, syscall_thread_response, start_time_us, end_time_us FROM ${DB}.l7_flow_log
       WHERE observation_point = 'server_process' AND server_port = ${BURN_PORT} AND request_resource = '/burn'`
    );
    if (!row) {
      throw new Error('no server-side request log for GET /burn');
    }
    const spanFrom = Math.floor(Number(row.start_time_us) / 1e6) * 1000;
    const spanTo = Math.ceil(Number(row.end_time_us) / 1e6) * 1000;

    const shimDir = path.join(ROOT, 'build', 'frontend-record');
    const shimBin = path.join(shimDir, 'grafana-shim');
    fs.mkdirSync(shimDir, { recursive: true });
    await goBuild(shimBin, './test/grafana-shim');
    shim = await startShim({
      shimBin,
      pluginBin: DIST_PLUGIN,
      clickhouseUrl: CLICKHOUSE_URL,
      database: DB,
      dir: shimDir,
    });
    // whole seconds (profile rows are per second) around each phase
    const sec = (ms, up) => (up ? Math.ceil(ms / 1000) : Math.floor(ms / 1000)) * 1000;
    const phase1 = { from: sec(before.from, false), to: sec(before.to, true) };
    const phase2 = { from: sec(after.from, false), to: sec(after.to, true) };
    const recorded = {
      recorded_at: new Date().toISOString(),
      how:
        `node test/frontend/record-flamegraph.js: the real agent (profiling on, 99 Hz) wrote ClickHouse ${DB} while ` +
        `shape.c ran ${CPU_SECONDS} CPU s (work_a 7 units, work_b 3), then ${CPU_SECONDS} CPU s with work_b ${GROWN_B_UNITS} units, ` +
        `then burnServer.js answered one GET /burn (1.5 s of CPU in burnCpu); the real plugin binary behind test/grafana-shim ` +
        'answered these Grafana /api/ds/query requests; each response file is its exact body.',
      database: DB,
      shape: { before: { ...before, ...phase1 }, after: { ...after, ...phase2 }, grownFunction: 'work_b' },
      burn: {
        row_id: row.id,
        pid: Number(row.server_pid),
        tid: Number(row.syscall_thread_response),
        from: spanFrom,
        to: spanTo,
        slowFunction: 'burnCpu',
      },
      files: {},
    };
    fs.mkdirSync(FIXTURES, { recursive: true });
    const flame = { queryType: 'flamegraph', process: ['shape'] };
    save(
      'ds-query-flamegraph.json',
      await query(shim.url, { ...flame, event: 'on_cpu' }, phase1.from, phase1.to),
      recorded
    );
    save(
      'ds-query-flamegraph-offcpu.json',
      await query(shim.url, { ...flame, event: 'off_cpu' }, phase1.from, phase1.to),
      recorded
    );
    save(
      'ds-query-flamegraph-diff.json',
      await query(
        shim.url,
        { ...flame, event: 'on_cpu', baselineFrom: phase1.from, baselineTo: phase1.to },
        phase2.from,
        phase2.to
      ),
      recorded
    );
    // the slow request's row (as a request-log table) and the flame graph its on-CPU link opens, filled in from
    // the row as Grafana fills a data link
    const rowAnswer = await query(
      shim.url,
      { queryType: 'sql_log', format: 'table', endpoint: '/burn', observation_point: 'server_process' },
      spanFrom - 60_000,
      spanTo + 60_000
    );
    save('ds-query-flamegraph-burn-row.json', rowAnswer, recorded);
    const [logFrame] = rowAnswer.response.results.A.frames;
    const fieldIndex = (name) => logFrame.schema.fields.findIndex((f) => f.name === name);
    const value = (name) => String(logFrame.data.values[fieldIndex(name)][0]);
    const link = logFrame.schema.fields[fieldIndex('response_duration_us')].config.links[0];
    const filled = JSON.parse(
      JSON.stringify(link.internal.query)
        .replaceAll('${__data.fields.server_pid}', value('server_pid'))
        .replaceAll('${__data.fields.syscall_thread_response}', value('syscall_thread_response'))
        .replaceAll('${__data.fields.start_time_us}', value('start_time_us'))
        .replaceAll('${__value.raw}', value('response_duration_us'))
    );
    recorded.burn.link = { title: link.title, query: filled };
    save('ds-query-flamegraph-burn.json', await query(shim.url, filled, spanFrom - 60_000, spanTo + 60_000), recorded);
    // the Profiling page's queries (src/pages/Profiling.tsx profilingQueries) over a range that starts with phase 2 and
    // is as long as it takes for the range just before it to hold all of phase 1: its on-CPU and off-CPU graphs, and
    // both again compared with that previous range (its one click)
    const span = Math.max(phase2.from - phase1.from, phase2.to - phase2.from);
    const page = { from: phase2.from, to: phase2.from + span };
    recorded.profilingPage = { process: 'shape', ...page };
    for (const [i, event] of ['on_cpu', 'off_cpu'].entries()) {
      const q = { refId: 'AB'[i], queryType: 'flamegraph', event, process: 'shape' };
      save(`ds-query-profiling-${event}.json`, await query(shim.url, q, page.from, page.to), recorded);
      const diffQ = { ...q, baselineFrom: String(page.from - span), baselineTo: String(page.from) };
      save(`ds-query-profiling-${event}-diff.json`, await query(shim.url, diffQ, page.from, page.to), recorded);
    }
    fs.writeFileSync(
      path.join(FIXTURES, 'ds-query-flamegraph.recording.json'),
      `${JSON.stringify(recorded, null, 2)}\n`
    );

    // the Go test's rows: every profile row of the server process (all its threads) from 2 s before the request to
    // 2 s after it, and the request's log row
    const samples = (
      await chQuery(
        `SELECT toString(time) AS second, host, pid, tid, process, service, event, toString(stack_id) AS stack_id, stack, value
       FROM ${DB}.profile_samples WHERE pid = ${Number(row.server_pid)} AND time >= toDateTime(${spanFrom / 1000} - 2) AND time < toDateTime(${spanTo / 1000} + 2)
       ORDER BY time, pid, tid, stack_id`
      )
    ).map(({ second, ...r }) => ({ time: second, ...r }));
    const logRow = await chQuery(`SELECT * FROM ${DB}.l7_flow_log WHERE _id = ${row.id}`);
    fs.mkdirSync(TESTDATA, { recursive: true });
    fs.writeFileSync(
      path.join(TESTDATA, 'profiles-burn.json'),
      `${JSON.stringify({ how: recorded.how, recorded_at: recorded.recorded_at, burn: recorded.burn, l7_flow_log: logRow, profile_samples: samples })}\n`
    );
    log(
      `pkg/plugin/testdata/profiles-burn.json: ${samples.length} profile rows, request row ${row.id} (pid ${row.server_pid}, thread ${row.syscall_thread_response})`
    );
  } finally {
    agent?.proc.kill('SIGKILL');
    burn?.proc.kill('SIGKILL');
    shim?.stop();
    if (burn?.proc.pid) {
      fs.rmSync(`/tmp/perf-${burn.proc.pid}.map`, { force: true });
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error('[record-flamegraph] FAIL', e);
  process.exit(1);
});
