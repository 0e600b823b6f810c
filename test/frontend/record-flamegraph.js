#!/usr/bin/env node
// Records the flame graph panel's browser-test answers and the Go integration test's profile rows from the REAL
// system, once: the real agent (profiling on) writes into ClickHouse database flowlens_frontend_flame while
//   1. the known-shape C program (test/e2e/profiling/shape.c: main -> work_a 7 units, work_b 3) works 2.5 CPU s,
//   2. the same program with work_b grown to 9 units (`shape 2.5 9`) works 2.5 CPU s (the change in the workload),
//   3. an HTTP server (test/e2e/profiling/burnServer.js, node --perf-basic-prof) answers one GET /burn that spends
//      1.5 s of CPU in burnCpu (the request made slow), one GET /wait (0.1 s of CPU in burnCpu, then its thread
//      blocked 0.7 s in blockThread: off-CPU of a known shape) and three GET /fast;
// then the real plugin binary (dist/datasource/gpx_*, behind test/grafana-shim as Grafana starts it) answers
// Grafana's POST /api/ds/query for: shape's on-CPU and off-CPU flame graphs over phase 1, the diff of phase 2
// against phase 1, the flame graph of the thread that served /burn over that request's seconds, and the Profiling
// page's requests (src/pages/Profiling.tsx: profilingQueries, slowestQuery, its pickers' profile-values) for the
// server's process over its requests and for the thread that served /wait over that request (on- and off-CPU).
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

/** The Profiling page's slowest-requests query of its filters (src/pages/Profiling.tsx slowestQuery, the same JSON). */
function slowestQuery(filters) {
  return {
    refId: 'S',
    queryType: 'sql_log',
    format: 'table',
    observation_point: 'server_process',
    order_by: 'duration',
    limit: '20',
    ...(filters.service ? { service: filters.service } : {}),
    ...(filters.process ? { server_process: filters.process } : {}),
    ...(filters.pid ? { server_pid: filters.pid } : {}),
  };
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
    for (const p of ['/burn', '/wait', '/fast', '/fast', '/fast']) {
      const r = await curl(`http://127.0.0.1:${BURN_PORT}${p}`);
      if (r.code !== 200) {
        throw new Error(`GET ${p}: ${r.code}`);
      }
      if (p === '/burn') {
        // the serving thread idles a few seconds after /burn (the Go test's "after the request" holds no burnCpu)
        await new Promise((res) => setTimeout(res, 5000));
      }
    }
    await new Promise((res) => setTimeout(res, 2500)); // two intervals: the request's stacks drained and named
    burn.proc.kill('SIGTERM');
    const code = await agent.stop();
    if (code !== 0) {
      throw new Error(`agent exited with ${code}:\n${agent.output()}`);
    }
    const served = await chQuery(
      `SELECT toString(_id) AS id, request_resource, server_pid, syscall_thread_response, start_time_us, end_time_us FROM ${DB}.l7_flow_log
       WHERE observation_point = 'server_process' AND server_port = ${BURN_PORT} ORDER BY start_time_us`
    );
    const row = served.find((r) => r.request_resource === '/burn');
    const waitRow = served.find((r) => r.request_resource === '/wait');
    if (!row || !waitRow || served.length !== 5) {
      throw new Error(`server-side request logs: ${JSON.stringify(served)}, want /burn, /wait and 3 /fast`);
    }
    const spanFrom = Math.floor(Number(row.start_time_us) / 1e6) * 1000;
    const spanTo = Math.ceil(Number(row.end_time_us) / 1e6) * 1000;
    const lastTo = Math.ceil(Number(served[served.length - 1].end_time_us) / 1e6) * 1000;
    if (String(waitRow.server_pid) !== String(row.server_pid)) {
      throw new Error('/burn and /wait served by different processes');
    }

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
        `then burnServer.js answered one GET /burn (1.5 s of CPU in burnCpu), one GET /wait (0.1 s of CPU in burnCpu, then ` +
        '0.7 s blocked in blockThread) and three GET /fast; the real plugin binary behind test/grafana-shim ' +
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
    // its slowest requests (src/pages/Profiling.tsx slowestQuery): shape serves none
    save(
      'ds-query-profiling-slowest.json',
      await query(shim.url, slowestQuery({ process: 'shape' }), page.from, page.to),
      recorded
    );
    // the Profiling page on the server's process over its five requests, then (its slowest-requests row's link) on
    // the thread that served /wait over that request's whole seconds: the page's exact requests
    // (by pid: other node processes run on this machine; the thread's range as src/components/profilingLink.ts
    // spanRange and pkg/query SpanWindow take it: from the second before the request's start to its end's)
    const nodePage = { pid: String(row.server_pid), from: spanFrom - 1000, to: lastTo + 1000 };
    const waitPage = {
      pid: String(waitRow.server_pid),
      tid: String(waitRow.syscall_thread_response),
      from: (Math.floor(Number(waitRow.start_time_us) / 1e6) - 1) * 1000,
      to: Math.floor(Number(waitRow.end_time_us) / 1e6) * 1000,
    };
    recorded.profilingServer = { ...nodePage, slowest: '/burn' };
    recorded.profilingThread = {
      ...waitPage,
      row_id: waitRow.id,
      start_time_us: String(waitRow.start_time_us),
      duration_us: String(Number(waitRow.end_time_us) - Number(waitRow.start_time_us)),
      cpuFunction: 'burnCpu',
      cpuMs: 100,
      blockFunction: 'blockThread',
      blockMs: 700,
    };
    recorded.resources = {};
    for (const [name, state] of [
      ['server', nodePage],
      ['thread', waitPage],
    ]) {
      const filters = Object.fromEntries(Object.entries(state).filter(([k]) => k !== 'from' && k !== 'to'));
      for (const [i, event] of ['on_cpu', 'off_cpu'].entries()) {
        const q = { refId: 'AB'[i], queryType: 'flamegraph', event, ...filters };
        save(`ds-query-profiling-${name}-${event}.json`, await query(shim.url, q, state.from, state.to), recorded);
      }
      save(
        `ds-query-profiling-${name}-slowest.json`,
        await query(shim.url, slowestQuery(filters), state.from, state.to),
        recorded
      );
      // the pickers' lists (on-CPU: the busiest first), each with the page's other filters
      for (const field of ['service', 'process', 'pid', 'tid']) {
        const params = new URLSearchParams({ field, event: 'on_cpu', from: String(state.from), to: String(state.to) });
        for (const [k, v] of Object.entries(filters)) {
          if (k !== field) {
            params.append(k, v);
          }
        }
        const p = `/api/datasources/uid/flowlens/resources/profile-values?${params}`;
        const res = await fetch(`${shim.url}${p}`);
        recorded.resources[p] = { http_status: res.status, body: await res.json() };
        log(`${p}: HTTP ${res.status} ${JSON.stringify(recorded.resources[p].body).slice(0, 200)}`);
      }
    }
    fs.writeFileSync(
      path.join(FIXTURES, 'ds-query-flamegraph.recording.json'),
      `${JSON.stringify(recorded, null, 2)}\n`
    );

    // the Go test's rows: every profile row of the server process (all its threads) from 2 s before /burn to 2 s
    // after the last request, and the request-log rows of its five requests (both ends: curl's and the server's)
    const samples = (
      await chQuery(
        `SELECT toString(time) AS second, host, pid, tid, process, service, event, toString(stack_id) AS stack_id, stack, value
       FROM ${DB}.profile_samples WHERE pid = ${Number(row.server_pid)} AND time >= toDateTime(${spanFrom / 1000} - 2) AND time < toDateTime(${lastTo / 1000} + 2)
       ORDER BY time, pid, tid, stack_id`
      )
    ).map(({ second, ...r }) => ({ time: second, ...r }));
    const logRow = await chQuery(
      `SELECT * FROM ${DB}.l7_flow_log WHERE server_port = ${BURN_PORT} ORDER BY start_time_us, observation_point`
    );
    fs.mkdirSync(TESTDATA, { recursive: true });
    fs.writeFileSync(
      path.join(TESTDATA, 'profiles-burn.json'),
      `${JSON.stringify({ how: recorded.how, recorded_at: recorded.recorded_at, burn: recorded.burn, wait: recorded.profilingThread, l7_flow_log: logRow, profile_samples: samples })}\n`
    );
    log(
      `pkg/plugin/testdata/profiles-burn.json: ${samples.length} profile rows, ${logRow.length} request rows, /burn ${row.id} (pid ${row.server_pid}, thread ${row.syscall_thread_response})`
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
