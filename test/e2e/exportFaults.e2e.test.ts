// The export under faults, end to end: the real agent writes to the real ClickHouse through a real
// proxy (toxiproxy on loopback) that adds 50 ms of latency, then resets connections ten times under
// traffic, and then a table is dropped on the server. Every table keeps getting its rows, each
// within two flush intervals of a fault's end; INSERTs per table per second stay bounded; the
// dropped table comes back; and the stored counts are exact, with any duplicate accounted for.
// On 18.16 a plain MergeTree table does not deduplicate inserts: a batch whose INSERT was stored
// but whose answer was lost is stored again when retried. The agent counts those re-sends
// ("retried after unknown outcome"), and the duplicates found must not exceed them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import {
  assertRoot,
  chQuery,
  freeDatabase,
  requireClickHouse,
  startAgent,
  waitForPort,
  CLICKHOUSE_URL,
  LOCAL_CLICKHOUSE,
} from './helpers';
import { TOXIPROXY_BIN } from './netbed/netbed';
import { ClickHouseWriter } from '../../src/agent/export/clickhouseWriter';
import { MIGRATIONS } from '../../src/shared/schema';

const DB = 'flowlens_e2e_export_faults';
const API_PORT = 28474;
const PROXY_PORT = 28124;
const APP_PORT = 28095;
const FLUSH_MS = 500;
const SERVICE = 'faults-api';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function toxi(method: string, path: string, body?: object): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${API_PORT}${path}`, {
    method,
    body: body ? JSON.stringify(body) : undefined,
    headers: { 'Content-Type': 'application/json' },
  });
  const text = await res.text();
  if (!res.ok) {
    throw new Error(`toxiproxy ${method} ${path} -> ${res.status}: ${text}`);
  }
}

async function until(what: string, cond: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const start = Date.now();
  for (;;) {
    if (await cond()) {
      return Date.now() - start;
    }
    if (Date.now() - start > timeoutMs) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await sleep(25);
  }
}

const num = async (sql: string) => Number((await chQuery<{ n: string }>(sql))[0]?.n ?? 0);
const serverRows = () =>
  num(
    `SELECT uniqExact(_id) AS n FROM ${DB}.l7_flow_log WHERE server_port = ${APP_PORT} AND observation_point = 'server_process'`
  );
const tableExists = async (t: string) =>
  Number((await chQuery<{ result: number }>(`EXISTS TABLE ${DB}.${t}`))[0]?.result) === 1;
/** app_metrics requests of the test's server, each (second, key) row once: a duplicated INSERT does not count twice here */
const metricRequests = () =>
  num(
    `SELECT sum(c) AS n FROM (SELECT any(request_count) AS c FROM ${DB}.app_metrics WHERE server_port = ${APP_PORT} AND observation_point = 'server_process' ` +
      'GROUP BY time, host, observation_point, client_service, server_service, l7_protocol, endpoint, server_port)'
  );

/**
 * Tables whose rows never repeat, so rows equal in every column (beyond the first) are what a
 * duplicated INSERT stored. Not net_metrics: each poll writes its partial sums, and two equal ones
 * in a second are two real rows (its duplicates cannot be told apart; the agent re-sends them).
 */
const DUP_TABLES = ['l7_flow_log', 'app_metrics', 'l4_flow_log', 'profile_samples', 'tcp_timeline', 'agent_events'];

test(
  'through latency, ten connection resets and a dropped table, every table gets its rows, inserts stay bounded, counts are exact',
  { timeout: 120_000 },
  async (t) => {
    assertRoot();
    await requireClickHouse();
    assert.ok(existsSync(TOXIPROXY_BIN), `toxiproxy is not installed at ${TOXIPROXY_BIN}: run scripts/setup.sh`);
    await freeDatabase(DB);
    const proxy = spawn(TOXIPROXY_BIN, ['-host', '127.0.0.1', '-port', String(API_PORT)], { stdio: 'ignore' });
    const app = http.createServer((req, res) => res.end(`ok ${req.url}`));
    await new Promise<void>((r) => app.listen(APP_PORT, '127.0.0.1', () => r()));
    let agent: Awaited<ReturnType<typeof startAgent>> | undefined;
    try {
      await waitForPort(API_PORT);
      const ch = new URL(CLICKHOUSE_URL);
      await toxi('POST', '/proxies', {
        name: 'ch',
        listen: `127.0.0.1:${PROXY_PORT}`,
        upstream: `${ch.hostname}:${ch.port}`,
        enabled: true,
      });
      agent = await startAgent({
        clickhouseUrl: `http://127.0.0.1:${PROXY_PORT}`,
        database: DB,
        flushIntervalMs: FLUSH_MS,
        flowLogIntervalSec: 1,
        statusIntervalMs: 0,
        services: [{ name: SERVICE, port: APP_PORT }],
        ignorePorts: [Number(ch.port), PROXY_PORT, API_PORT],
      });
      let sent = 0;
      const send = async (n: number, gapMs = 0) => {
        for (let i = 0; i < n; i++) {
          const r = await fetch(`http://127.0.0.1:${APP_PORT}/r${sent++}`);
          assert.equal(await r.text(), `ok /r${sent - 1}`);
          if (gapMs) {
            await sleep(gapMs);
          }
        }
      };

      // baseline: which tables get rows on this host (tcp_timeline needs packet capture on lo)
      await send(10, 20);
      await until('baseline rows', async () => (await serverRows()) === sent, 15_000);
      const tables = [
        'l7_flow_log',
        'app_metrics',
        'app_metrics_edge',
        'l4_flow_log',
        'net_metrics',
        'profile_samples',
        'tcp_timeline',
      ];
      const counts = async () =>
        Object.fromEntries(
          await Promise.all(
            tables.map(
              async (x) => [x, (await tableExists(x)) ? await num(`SELECT count() AS n FROM ${DB}.${x}`) : 0] as const
            )
          )
        );
      await until(
        'every table has rows',
        async () => Object.values(await counts()).filter((n) => n > 0).length >= 6,
        15_000
      );
      const live = Object.entries(await counts())
        .filter(([, n]) => n > 0)
        .map(([x]) => x);
      t.diagnostic(`tables with rows: ${live.join(', ')}`);

      // 50 ms latency on every chunk both ways, under traffic
      await toxi('POST', '/proxies/ch/toxics', {
        name: 'lat_down',
        type: 'latency',
        stream: 'downstream',
        toxicity: 1,
        attributes: { latency: 50, jitter: 0 },
      });
      await toxi('POST', '/proxies/ch/toxics', {
        name: 'lat_up',
        type: 'latency',
        stream: 'upstream',
        toxicity: 1,
        attributes: { latency: 50, jitter: 0 },
      });
      await send(40, 50);
      const latencyEnd = Date.now();
      await toxi('DELETE', '/proxies/ch/toxics/lat_down');
      await toxi('DELETE', '/proxies/ch/toxics/lat_up');
      const afterLatency = await until('rows sent under latency', async () => (await serverRows()) === sent, 10_000);
      t.diagnostic(
        `latency: all ${sent} requests stored ${afterLatency} ms after the toxic ended (${Date.now() - latencyEnd} ms)`
      );
      assert.ok(afterLatency <= 2 * FLUSH_MS + 25, `stored ${afterLatency} ms after the latency ended`);

      // ten connection resets under traffic: upstream (the INSERT never arrives) and downstream
      // (stored, then the answer is lost) in turn; each held long enough for attempts to fail
      const recoveries: number[] = [];
      for (let i = 0; i < 10; i++) {
        const stream = i % 2 ? 'downstream' : 'upstream';
        await toxi('POST', '/proxies/ch/toxics', {
          name: 'reset',
          type: 'reset_peer',
          stream,
          toxicity: 1,
          attributes: { timeout: 0 },
        });
        await send(5, 20);
        await sleep(2 * FLUSH_MS + 200); // rows reach the writer within a flush tick, then fail at least once
        await toxi('DELETE', '/proxies/ch/toxics/reset');
        recoveries.push(await until(`rows after reset ${i}`, async () => (await serverRows()) === sent, 10_000));
      }
      t.diagnostic(`resets: request logs stored ${recoveries.join(', ')} ms after each fault ended`);
      // within two flush intervals of the fault's end (+ the 25 ms poll)
      assert.ok(Math.max(...recoveries) <= 2 * FLUSH_MS + 25, `recoveries ${recoveries}`);

      // a dropped table, once every app_metrics row so far is stored (so the count after it is exact)
      await until('app_metrics complete', async () => (await metricRequests()) === sent, 10_000);
      await sleep(2 * FLUSH_MS + 1000); // no row of these seconds left to emit
      const beforeDrop = sent;
      await chQuery(`DROP TABLE ${DB}.app_metrics`);
      const dropped = Date.now();
      await send(10, 20);
      const back = await until(
        'app_metrics re-created with the new rows',
        async () => (await tableExists('app_metrics')) && (await metricRequests()) === sent - beforeDrop,
        15_000
      );
      t.diagnostic(
        `app_metrics dropped: re-created with the ${sent - beforeDrop} new requests ${back + (Date.now() - dropped - back)} ms after the drop`
      );
      const l7Back = await until('request logs after the drop', async () => (await serverRows()) === sent, 5_000);
      assert.ok(l7Back <= 2 * FLUSH_MS, 'the other tables were not held up by the dropped one');

      // every table that had rows gets new ones after the last fault
      const before = await counts();
      await send(5, 20);
      await until(
        'every table grows after the faults',
        async () => {
          const now = await counts();
          return live.filter((x) => x !== 'app_metrics_edge' && x !== 'tcp_timeline').every((x) => now[x] > before[x]);
        },
        4 * FLUSH_MS + 2000
      );

      const code = await agent.stop();
      const out = agent.output();
      agent = undefined;
      assert.equal(code, 0, out.slice(-3000));
      const final = out.split('\n').find((l) => l.includes('stopped.')) ?? '';

      // exact counts: each request once at the server and once at the client (distinct ids)
      assert.equal(await serverRows(), sent);
      assert.equal(
        await num(
          `SELECT uniqExact(_id) AS n FROM ${DB}.l7_flow_log WHERE server_port = ${APP_PORT} AND observation_point = 'client_process'`
        ),
        sent
      );
      assert.equal(await metricRequests(), sent - beforeDrop, 'app_metrics since it was re-created');
      const edge = await num(
        `SELECT sum(request_count) AS n FROM ${DB}.app_metrics_edge WHERE server_service = '${SERVICE}' AND observation_point = 'server_process'`
      );
      assert.ok(edge >= sent, `the rollup kept being fed through the re-created table: ${edge} of ${sent}`);
      // the agent's own start and clean stop, through the same export: once each, one run
      const lifecycle = await chQuery<{ event: string; run: string; reason: string }>(
        `SELECT event, toString(run_start_us) AS run, reason FROM ${DB}.agent_events ORDER BY time_us`
      );
      assert.deepEqual(
        lifecycle.map(
          (r) =>
            `${r.event} ${r.run === lifecycle[0]?.run ? 'this run' : r.run}${r.event === 'stop' ? ` ${r.reason}` : ''}`
        ),
        ['start this run', 'stop this run interrupted']
      );

      // the schema came back once, said once
      assert.equal((out.match(/re-creating the schema/g) ?? []).length, 1, out.slice(-3000));
      assert.match(out, new RegExp(`schema of ${DB} re-created`));

      // INSERTs per table per second: at most one per flush interval by age or retry (2/s), one
      // batch that waited behind a failed one, one at once after the schema came back: 4
      const peaks = [...final.matchAll(/(\w+) (\d+) \(peak (\d+)\/s\)/g)].map((m) => ({
        table: m[1],
        inserts: Number(m[2]),
        peak: Number(m[3]),
      }));
      t.diagnostic(`inserts: ${peaks.map((p) => `${p.table} ${p.inserts} (peak ${p.peak}/s)`).join(', ')}`);
      assert.ok(peaks.length >= 5, final);
      for (const p of peaks) {
        assert.ok(p.peak <= 4, `${p.table}: ${p.peak} INSERTs in one second`);
      }

      // duplicates: 18.16 stores a retried batch again when its first INSERT was stored; only
      // batches re-sent after an unknown outcome can do that
      const m = /retried after unknown outcome (\d+) batches \((\d+) rows\), found stored (\d+)/.exec(final);
      assert.ok(m, final);
      const [retried, retriedRows, foundStored] = [Number(m[1]), Number(m[2]), Number(m[3])];
      let dups = 0;
      const perTable: string[] = [];
      for (const x of DUP_TABLES) {
        if (!(await tableExists(x))) {
          continue;
        }
        const n = await num(
          `SELECT count() - (SELECT count() FROM (SELECT DISTINCT * FROM ${DB}.${x})) AS n FROM ${DB}.${x}`
        );
        dups += n;
        perTable.push(`${x} ${n}`);
      }
      t.diagnostic(
        `duplicates stored: ${dups} rows (${perTable.join(', ')}); re-sent after an unknown outcome: ${retried} batches, ${retriedRows} rows; found stored (not re-sent): ${foundStored} batches`
      );
      assert.ok(
        dups <= retriedRows,
        `${dups} duplicate rows, but only ${retriedRows} rows were re-sent after an unknown outcome`
      );
      // what a user counts: each request once (a lost answer was looked up before any re-send)
      assert.equal(
        await num(
          `SELECT count() AS n FROM ${DB}.l7_flow_log WHERE server_port = ${APP_PORT} AND observation_point IN ('server_process', 'client_process')`
        ),
        2 * sent
      );
      assert.equal(
        await num(
          `SELECT sum(request_count) AS n FROM ${DB}.app_metrics WHERE server_port = ${APP_PORT} AND observation_point = 'server_process'`
        ),
        sent - beforeDrop
      );
      assert.match(final, /drops: kernel ring \d+, export 0,/, 'no row dropped by the export');
    } finally {
      if (agent) {
        await agent.stop();
      }
      proxy.kill('SIGTERM');
      app.close();
      app.closeAllConnections();
      await freeDatabase(DB);
    }
  }
);

test('a ClickHouse that comes back empty, or loses its migrations table and a table, gets the whole schema back and the rows', async () => {
  await requireClickHouse();
  const db = `${DB}_empty`;
  await freeDatabase(db);
  const logs: string[] = [];
  const writer = new ClickHouseWriter({
    url: CLICKHOUSE_URL,
    username: LOCAL_CLICKHOUSE.writer.user,
    password: LOCAL_CLICKHOUSE.writer.password,
    database: db,
    batchRows: 1000,
    maxQueuedRows: 10000,
    flushIntervalMs: 100,
    log: (l) => logs.push(l),
  });
  const metric = (i: number) => ({
    time: 1795558421 + i,
    host: 'h',
    observation_point: 'server_process',
    server_service: SERVICE,
    endpoint: '/x',
    server_port: APP_PORT,
    request_count: 1,
  });
  const tablesOf = async () =>
    (await chQuery<{ name: string }>(`SELECT name FROM system.tables WHERE database = '${db}' ORDER BY name`)).map(
      (r) => r.name
    );
  try {
    await writer.connect();
    writer.start();
    const schema = await tablesOf();
    writer.push('app_metrics', [metric(0)]);
    await until('first row', async () => writer.stats().app_metrics.written === 1, 5000);

    // the server comes back empty: UNKNOWN_DATABASE (81)
    await chQuery(`DROP DATABASE ${db}`);
    writer.push('app_metrics', [metric(1)]);
    await until('row after the database was dropped', async () => writer.stats().app_metrics.written === 2, 5000);
    assert.deepEqual(await tablesOf(), schema, 'every table, view and the migrations table are back');
    assert.equal(await num(`SELECT count() AS n FROM ${db}.app_metrics`), 1);
    assert.equal(
      await num(`SELECT sum(request_count) AS n FROM ${db}.app_metrics_edge`),
      1,
      'the rollup view is back too'
    );

    // the migrations table and a table dropped by hand: the other tables are taken as current,
    // the dropped one is created (re-running the migrations would add existing columns)
    await sleep(5000); // schema re-creation runs at most every 5 s
    await chQuery(`DROP TABLE ${db}.schema_migrations`);
    await chQuery(`DROP TABLE ${db}.app_metrics`);
    writer.push('app_metrics', [metric(2)]);
    writer.push('tcp_timeline', [{ time: 1795558421, host: 'h', flow_id: 1, packet_count: 3 }]);
    await until(
      'rows after the migrations table was dropped',
      async () => writer.stats().app_metrics.written === 3 && writer.stats().tcp_timeline?.written === 1,
      5000
    );
    assert.deepEqual(await tablesOf(), schema);
    assert.equal(
      await num(`SELECT count() AS n FROM ${db}.schema_migrations`),
      MIGRATIONS.length,
      'every migration recorded once'
    );
    assert.equal(await num(`SELECT sum(packet_count) AS n FROM ${db}.tcp_timeline`), 3);
    assert.equal(
      logs.filter((l) => l.includes('re-creating the schema')).length,
      1,
      `said once a minute: ${logs.join('\n')}`
    );
    assert.equal(writer.queuedRows(), 0);

    // an agent stopped between adding a migration's columns and recording it: the next schema repair finds the
    // columns there (18.16 has no ADD COLUMN IF NOT EXISTS), records the migration and creates the dropped table
    const last = MIGRATIONS[MIGRATIONS.length - 1].version;
    await sleep(5000); // schema re-creation runs at most every 5 s
    await chQuery(`CREATE TABLE ${db}.migrations_kept AS ${db}.schema_migrations`);
    await chQuery(`INSERT INTO ${db}.migrations_kept SELECT * FROM ${db}.schema_migrations WHERE version != ${last}`);
    await chQuery(`DROP TABLE ${db}.schema_migrations`);
    await chQuery(`RENAME TABLE ${db}.migrations_kept TO ${db}.schema_migrations`);
    await chQuery(`DROP TABLE ${db}.tcp_timeline`);
    writer.push('tcp_timeline', [{ time: 1795558422, host: 'h', flow_id: 2, packet_count: 4 }]);
    await until('rows after a migration left unrecorded', async () => writer.stats().tcp_timeline?.written === 2, 5000);
    assert.equal(await num(`SELECT count() AS n FROM ${db}.schema_migrations WHERE version = ${last}`), 1);
    assert.equal(await num(`SELECT count() AS n FROM ${db}.schema_migrations`), MIGRATIONS.length);
    assert.equal(await num(`SELECT sum(packet_count) AS n FROM ${db}.tcp_timeline`), 4);
  } finally {
    await writer.close();
    await freeDatabase(db);
  }
});
