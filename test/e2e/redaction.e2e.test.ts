// Secrets are redacted at every observation point: in the namespace test bed a curl on the client
// host sends a request to a Node server on the server host with secrets in the query string, in a
// path segment matched by a user `redactPatterns` entry, in an X-Request-ID header and in an
// Authorization header. The agent traces both processes and captures both hosts' eth0, so the one
// request is stored four times (client_process, client_nic, server_nic, server_process): every
// String column of every stored row, request logs and RED metrics alike, must be free of the secrets.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Netbed } from './netbed/netbed';
import { assertRoot, chQuery, freeDatabase, requireClickHouse, startAgent, AgentHandle } from './helpers';

const DB = 'flowlens_e2e_redaction';
const PORT = 8080;
const SECRETS = ['hunter2', 'abc123', 'secret-xyz', '4111-1111-1111-1111'];
const PATH = '/login/4111-1111-1111-1111?password=hunter2&token=abc123';
const POINTS = ['client_nic', 'client_process', 'server_nic', 'server_process'];

const SERVER = `
require('http').createServer((req, res) => { res.writeHead(200, { 'content-type': 'text/plain' }); res.end('ok\\n'); }).listen(${PORT}, process.argv[1]);
`;

let bed: Netbed;
let agent: AgentHandle | undefined;

/** Every String, Nullable(String), LowCardinality(String) and Array(String) column of a table. */
async function stringColumns(table: string): Promise<string[]> {
  const cols = await chQuery<{ name: string; type: string }>(
    `SELECT name, type FROM system.columns WHERE database = '${DB}' AND table = '${table}'`
  );
  return cols.filter((c) => /String/.test(c.type)).map((c) => c.name);
}

before(async () => {
  assertRoot();
  await requireClickHouse();
  await freeDatabase(DB);
  bed = Netbed.create(['client', 'server']);
  bed.spawn('server', [process.execPath, '-e', SERVER, bed.ip('server')]);
  await bed.waitForListen('server', PORT);
  agent = await startAgent({
    database: DB,
    flushIntervalMs: 200,
    statusIntervalMs: 0,
    redactPatterns: ['\\d{4}-\\d{4}-\\d{4}-\\d{4}'],
    network: {
      capture: { netns: [bed.host('client').ns, bed.host('server').ns], hostNamespace: false, interfaces: ['eth0'] },
    },
  });
});

after(async () => {
  if (agent) {
    await agent.stop();
  }
  bed?.destroy();
});

test('a request with secrets is stored redacted at client_process, client_nic, server_nic and server_process, in every String column', async (t) => {
  const url = `http://${bed.ip('server')}:${PORT}${PATH}`;
  const r = await bed.execAsync('client', [
    'curl',
    '-s',
    '-o',
    '/dev/null',
    '--max-time',
    '10',
    '-w',
    '%{http_code}',
    '-H',
    'Authorization: Bearer secret-xyz',
    '-H',
    'X-Request-ID: req-7 session=abc123',
    url,
  ]);
  assert.equal(r.stdout, '200', r.stderr);
  const t0 = Date.now();
  for (;;) {
    const [{ n }] = await chQuery<{ n: string }>(
      `SELECT count() AS n FROM ${DB}.l7_flow_log WHERE server_port = ${PORT}`
    );
    if (Number(n) >= POINTS.length) {
      break;
    }
    assert.ok(Date.now() - t0 < 20000, `only ${n} of ${POINTS.length} request logs after 20 s:\n${agent!.output()}`);
    await new Promise((res) => setTimeout(res, 200));
  }
  assert.equal(await agent!.stop(), 0, agent!.output());
  // no parser failed on this traffic, and both status lines say so
  const closing =
    agent!
      .output()
      .split('\n')
      .find((l) => l.includes('stopped.')) ?? '';
  assert.match(closing, /unparseable connections 0;.*unparseable flows 0;/, closing);
  agent = undefined;

  const l7Cols = await stringColumns('l7_flow_log');
  assert.ok(l7Cols.length >= 20, `l7_flow_log String columns: ${l7Cols.join(', ')}`);
  const rows = await chQuery<Record<string, unknown>>(
    `SELECT ${l7Cols.join(', ')} FROM ${DB}.l7_flow_log WHERE server_port = ${PORT} ORDER BY observation_point`
  );
  assert.deepEqual(
    rows.map((x) => x.observation_point),
    POINTS,
    'one request log per observation point'
  );
  const metricCols = await stringColumns('app_metrics');
  const metrics = await chQuery<Record<string, unknown>>(
    `SELECT ${metricCols.join(', ')} FROM ${DB}.app_metrics WHERE server_port = ${PORT}`
  );
  assert.ok(metrics.length >= 1, 'RED metrics of the request');
  const leaks: string[] = [];
  for (const [table, list] of [
    ['l7_flow_log', rows],
    ['app_metrics', metrics],
  ] as const) {
    for (const row of list) {
      for (const [col, v] of Object.entries(row)) {
        const text = JSON.stringify(v);
        if (SECRETS.some((s) => text.includes(s))) {
          leaks.push(`${table} ${row.observation_point} ${col} = ${text}`);
        }
      }
    }
  }
  t.diagnostic(
    `checked ${l7Cols.length} String columns of ${rows.length} request logs and ${metricCols.length} of ${metrics.length} app_metrics rows`
  );
  assert.deepEqual(leaks, [], 'secrets stored in clear');
  for (const row of rows) {
    assert.equal(
      row.request_resource,
      '/login/***?password=***&token=***',
      `${row.observation_point}: request_resource`
    );
    assert.equal(row.endpoint, '/login/***', `${row.observation_point}: endpoint`);
    assert.equal(row.x_request_id, 'req-7 session=***', `${row.observation_point}: x_request_id`);
  }
});
