// node:test wrapper around run.js (the headless-Chromium test of the built bundle), so the test
// command counts its cases: the fixture response, and the whole slice (demo services traced by
// the agent -> ClickHouse -> the real backend through the Grafana shim -> the panel in Chromium).
'use strict';
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');
// the local ClickHouse's writer: from `scripts/clickhouse.sh env`, else its credentials file
const CH_ENV = { ...readCredentials(), ...process.env };
const CH_URL = `http://127.0.0.1:${process.env.FLOWLENS_CH_HTTP_PORT || 18123}`;

function readCredentials() {
  try {
    const file = path.join(process.env.FLOWLENS_DATA || path.join(ROOT, '.data'), 'clickhouse', 'credentials.env');
    return Object.fromEntries(
      require('node:fs')
        .readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => l.includes('='))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)])
    );
  } catch {
    return {};
  }
}
const RUN = path.join(__dirname, 'run.js');
// the demo system on the namespace test bed (the layout the tests run as root): every call of it
const DEMO_EDGES = [
  'loadgen->gateway',
  'gateway->slb',
  'slb->frontend',
  'frontend->backend',
  'backend->postgres',
  'backend->redis',
];

function run(env) {
  const r = spawnSync(process.execPath, [RUN], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 240000 });
  return { code: r.status, out: `${r.stdout}\n${r.stderr}` };
}

async function demoCallsInClickHouse() {
  const sql =
    'SELECT count() AS n FROM (SELECT client_service, server_service FROM flowlens.app_metrics WHERE time > now() - 1800 ' +
    'GROUP BY client_service, server_service HAVING (client_service, server_service) IN (' +
    DEMO_EDGES.map((e) => `('${e.split('->').join("','")}')`).join(',') +
    '))';
  try {
    const headers = {
      'X-ClickHouse-User': CH_ENV.FLOWLENS_CLICKHOUSE_USER || 'flowlens',
      'X-ClickHouse-Key': CH_ENV.FLOWLENS_CLICKHOUSE_PASSWORD || '',
    };
    const res = await fetch(`${CH_URL}/?default_format=JSONEachRow`, { method: 'POST', body: sql, headers });
    return res.ok ? Number(JSON.parse((await res.text()).trim()).n) : 0;
  } catch {
    return 0;
  }
}

test('the built panel draws the fixture map exactly', () => {
  const r = run({ FLOWLENS_SHIM: '', FLOWLENS_DS_URL: '' });
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /svg: 7 nodes, 6 edges/);
});

test('end to end: demo traffic traced by the agent is drawn by the built panel from the real backend', async () => {
  if ((await demoCallsInClickHouse()) < DEMO_EDGES.length) {
    // no recent demo data: run the demo (real services + agent) for a few seconds first
    const d = spawnSync(
      process.execPath,
      [path.join(ROOT, 'build', 'agent', 'demo', 'runDemo.js'), '--duration', '8', '--layout', 'netbed'],
      { encoding: 'utf8', timeout: 120000 }
    );
    assert.equal(d.status, 0, d.stdout + d.stderr);
  }
  const r = run({ FLOWLENS_SHIM: '1', FLOWLENS_EXPECT_EDGES: DEMO_EDGES.join(',') });
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /PASS/);
});
