// The first slice end to end: real servers (nginx, a Node server), real clients (curl, a Node
// keep-alive client), the real agent with eBPF in this kernel, the real ClickHouse server.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { spawn, ChildProcess } from 'node:child_process';
import {
  assertRoot,
  chQuery,
  curl,
  freeDatabase,
  requireClickHouse,
  startAgent,
  startNginx,
  waitForPort,
  AgentHandle,
  Nginx,
} from './helpers';

const DB = 'flowlens_e2e_http';
const NGINX_PORT = 28081;
const NODE_PORT = 28082;
/** the Node server sleeps this long in /api/users: the server-side latency must show it */
const USERS_DELAY_MS = 20;

interface Row {
  observation_point: string;
  request_type: string;
  endpoint: string;
  request_resource: string;
  response_code: number;
  response_status: string;
  start_time_us: string;
  end_time_us: string;
  response_duration_us: string;
  client_pid: number;
  server_pid: number;
  client_process: string;
  server_process: string;
  client_service: string;
  server_service: string;
  client_port: number;
  server_port: number;
  l7_protocol: string;
}

const NODE_SERVER = `
const http = require('http');
http.createServer((req, res) => {
  if (req.url === '/api/users') { setTimeout(() => { res.writeHead(200, {'content-type': 'application/json'}); res.end('[{"id":1}]'); }, ${USERS_DELAY_MS}); return; }
  if (req.url === '/api/crash') { res.writeHead(500); res.end('boom'); return; }
  res.writeHead(404); res.end('not here');
}).listen(${NODE_PORT}, '127.0.0.1');
`;

let agent: AgentHandle;
let nginx: Nginx;
let nodeServer: ChildProcess;
let agentExit: number;
const curlRuns: Array<{ path: string; code: number; totalUs: number; pid: number }> = [];
const nodeRuns: Array<{ path: string; code: number; measuredUs: number }> = [];
let rows: Row[] = [];

function get(agentPool: http.Agent, path: string): Promise<{ code: number; measuredUs: number }> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    http
      .get({ host: '127.0.0.1', port: NODE_PORT, path, agent: agentPool }, (res) => {
        res.resume();
        res.on('end', () =>
          resolve({ code: res.statusCode!, measuredUs: Number(process.hrtime.bigint() - t0) / 1000 })
        );
      })
      .on('error', reject);
  });
}

before(async () => {
  assertRoot();
  await requireClickHouse();
  await freeDatabase(DB);
  nginx = await startNginx(NGINX_PORT);
  nodeServer = spawn(process.execPath, ['-e', NODE_SERVER], { stdio: 'inherit' });
  await waitForPort(NODE_PORT);
  agent = await startAgent({
    database: DB,
    flushIntervalMs: 200,
    statusIntervalMs: 0,
    services: [
      { name: 'web-nginx', port: NGINX_PORT },
      { name: 'api-node', port: NODE_PORT },
    ],
  });

  for (const [path, n] of [
    ['/ok', 5],
    ['/missing', 3],
    ['/fail', 2],
  ] as const) {
    for (let i = 0; i < n; i++) {
      curlRuns.push({ path, ...(await curl(`http://127.0.0.1:${NGINX_PORT}${path}`)) });
    }
  }
  const pool = new http.Agent({ keepAlive: true, maxSockets: 1 });
  for (const [path, n] of [
    ['/api/users', 4],
    ['/api/nope', 2],
    ['/api/crash', 3],
  ] as const) {
    for (let i = 0; i < n; i++) {
      nodeRuns.push({ path, ...(await get(pool, path)) });
    }
  }
  pool.destroy();
  agentExit = await agent.stop();
  rows = await chQuery<Row>(
    `SELECT * FROM ${DB}.l7_flow_log WHERE server_port IN (${NGINX_PORT}, ${NODE_PORT}) ORDER BY start_time_us`
  );
});

after(async () => {
  agent?.proc.kill('SIGKILL');
  await nginx?.stop();
  nodeServer?.kill();
});

test('the clients got what the servers were told to answer', () => {
  assert.deepEqual(
    curlRuns.map((r) => r.code),
    [200, 200, 200, 200, 200, 404, 404, 404, 500, 500]
  );
  assert.deepEqual(
    nodeRuns.map((r) => r.code),
    [200, 200, 200, 200, 404, 404, 500, 500, 500]
  );
});

test('the agent stopped cleanly, flushing everything', () => {
  assert.equal(agentExit, 0, agent.output());
  assert.match(agent.output(), /drops: kernel ring 0, export 0, malformed 0, unbound TLS 0; queued 0/);
});

test('exact request-log counts per observation point, path and status', () => {
  const count = new Map<string, number>();
  for (const r of rows) {
    const k = `${r.server_port} ${r.observation_point} ${r.request_type} ${r.endpoint} ${r.response_code} ${r.response_status}`;
    count.set(k, (count.get(k) ?? 0) + 1);
  }
  const expected: Record<string, number> = {};
  for (const op of ['client_process', 'server_process']) {
    Object.assign(expected, {
      [`${NGINX_PORT} ${op} GET /ok 200 ok`]: 5,
      [`${NGINX_PORT} ${op} GET /missing 404 client_error`]: 3,
      [`${NGINX_PORT} ${op} GET /fail 500 server_error`]: 2,
      [`${NODE_PORT} ${op} GET /api/users 200 ok`]: 4,
      [`${NODE_PORT} ${op} GET /api/nope 404 client_error`]: 2,
      [`${NODE_PORT} ${op} GET /api/crash 500 server_error`]: 3,
    });
  }
  assert.deepEqual(Object.fromEntries([...count].sort()), Object.fromEntries(Object.entries(expected).sort()));
  assert.ok(rows.every((r) => r.l7_protocol === 'HTTP'));
});

test('both ends are named: pids, process names and services', () => {
  const workers = nginx.workerPids();
  const curlPids = new Set(curlRuns.map((r) => r.pid));
  for (const r of rows.filter((x) => x.server_port === NGINX_PORT)) {
    assert.equal(r.server_process, 'nginx');
    assert.ok(workers.includes(r.server_pid), `nginx worker pid ${r.server_pid} not in ${workers}`);
    assert.equal(r.server_service, 'web-nginx');
    assert.equal(r.client_process, 'curl');
    assert.ok(curlPids.has(r.client_pid), `curl pid ${r.client_pid}`);
    assert.equal(r.client_service, 'curl');
  }
  for (const r of rows.filter((x) => x.server_port === NODE_PORT)) {
    assert.equal(r.server_pid, nodeServer.pid);
    assert.equal(r.server_process, 'node');
    assert.equal(r.server_service, 'api-node');
    assert.equal(r.client_pid, process.pid);
  }
  // the keep-alive client used one connection for all nine requests
  assert.equal(new Set(rows.filter((x) => x.server_port === NODE_PORT).map((r) => r.client_port)).size, 1);
});

/** How far one syscall's return may trail the other side's, in µs (see below). */
const SYSCALL_RETURN_SLACK_US = 200;

test('durations: inside what the client measured, server span inside the client span', () => {
  // one curl process per request: its pid finds its client-side row, the client port its server-side row
  for (const run of curlRuns) {
    const client = rows.find((r) => r.observation_point === 'client_process' && r.client_pid === run.pid);
    assert.ok(client, `client row for curl pid ${run.pid}`);
    const server = rows.find(
      (r) =>
        r.observation_point === 'server_process' && r.client_port === client.client_port && r.server_port === NGINX_PORT
    );
    assert.ok(server, `server row for client port ${client.client_port}`);
    const cd = Number(client.response_duration_us);
    assert.ok(
      cd > 0 && cd <= run.totalUs + 1000,
      `client span ${cd} µs vs curl's total ${run.totalUs} µs (+1 ms bound)`
    );
    // Times are taken when each syscall returns: on loopback the server's read can return before
    // the client's write has (the write delivers the bytes and wakes the server on the other CPU
    // before it returns itself), so the order is asserted within a syscall's return path.
    const cs = Number(client.start_time_us);
    const ss = Number(server.start_time_us);
    assert.ok(
      ss >= cs - SYSCALL_RETURN_SLACK_US,
      `server sees the request after the client sent it (server ${ss}, client ${cs})`
    );
    const ce = Number(client.end_time_us);
    const se = Number(server.end_time_us);
    assert.ok(
      se <= ce + SYSCALL_RETURN_SLACK_US,
      `server sends the response before the client reads it (server ${se}, client ${ce})`
    );
  }
  const clientRows = rows.filter((r) => r.server_port === NODE_PORT && r.observation_point === 'client_process');
  const serverRows = rows.filter((r) => r.server_port === NODE_PORT && r.observation_point === 'server_process');
  assert.equal(clientRows.length, nodeRuns.length);
  nodeRuns.forEach((run, i) => {
    const c = clientRows[i];
    const s = serverRows[i];
    assert.equal(c.endpoint, run.path);
    assert.equal(s.endpoint, run.path);
    const cd = Number(c.response_duration_us);
    assert.ok(
      cd > 0 && cd <= run.measuredUs + 1000,
      `${run.path}: client span ${cd} µs vs measured ${run.measuredUs} µs (+1 ms bound)`
    );
    assert.ok(
      Number(s.start_time_us) >= Number(c.start_time_us) && Number(s.end_time_us) <= Number(c.end_time_us),
      `${run.path}: server span inside client span`
    );
    if (run.path === '/api/users') {
      const sd = Number(s.response_duration_us);
      // libuv starts timers from the loop time cached before the read: they may fire up to 1 ms early
      assert.ok(
        sd >= (USERS_DELAY_MS - 1) * 1000 && sd < USERS_DELAY_MS * 1000 + 30_000,
        `/api/users server latency ${sd} µs should be ${USERS_DELAY_MS} ms (-1 ms, +30 ms)`
      );
    }
  });
});

test('app_metrics counts every request per second, exactly', async () => {
  const m = await chQuery<{
    observation_point: string;
    endpoint: string;
    requests: string;
    errors: string;
    server_errors: string;
    max_us: string;
  }>(
    `SELECT observation_point, endpoint, sum(request_count) AS requests, sum(error_count) AS errors, sum(server_error_count) AS server_errors,
            max(response_duration_max_us) AS max_us
     FROM ${DB}.app_metrics WHERE server_port IN (${NGINX_PORT}, ${NODE_PORT}) GROUP BY observation_point, endpoint ORDER BY observation_point, endpoint`
  );
  const got = Object.fromEntries(
    m.map((r) => [
      `${r.observation_point} ${r.endpoint}`,
      [Number(r.requests), Number(r.errors), Number(r.server_errors)],
    ])
  );
  const want: Record<string, number[]> = {};
  for (const op of ['client_process', 'server_process']) {
    Object.assign(want, {
      [`${op} /ok`]: [5, 0, 0],
      [`${op} /missing`]: [3, 3, 0],
      [`${op} /fail`]: [2, 2, 2],
      [`${op} /api/users`]: [4, 0, 0],
      [`${op} /api/nope`]: [2, 2, 0],
      [`${op} /api/crash`]: [3, 3, 3],
    });
  }
  assert.deepEqual(got, want);
  const usersMax = m.find((r) => r.observation_point === 'server_process' && r.endpoint === '/api/users')!;
  assert.ok(Number(usersMax.max_us) >= (USERS_DELAY_MS - 1) * 1000);
});
