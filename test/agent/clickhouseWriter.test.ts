import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { ClickHouseWriter, WriterOptions } from '../../src/agent/export/clickhouseWriter';

const row = (i: number) => ({
  time: 1795558421,
  host: 'h',
  pid: i,
  tid: i,
  process: 'p',
  service: 's',
  event: 'on_cpu',
  stack_id: i,
  stack: ['main'],
  value: 1,
});
const metric = (i: number) => ({
  time: 1795558421 + i,
  host: 'h',
  observation_point: 'server_process',
  server_service: 's',
  endpoint: '/x',
  request_count: i,
});
const log7 = (i: number) => ({ time: 1795558421, _id: i, host: 'h', request_resource: `/r/${i}`.padEnd(200, 'x') });

test('while ClickHouse is unreachable the queue keeps the newest rows up to its bound and counts every drop', async () => {
  const logs: string[] = [];
  // port 1 on loopback: connection refused at once
  const w = new ClickHouseWriter({
    url: 'http://127.0.0.1:1',
    username: 'default',
    password: '',
    database: 'db',
    batchRows: 100,
    maxQueuedRows: 1000,
    log: (l) => logs.push(l),
  });
  try {
    for (let b = 0; b < 25; b++) {
      w.push(
        'profile_samples',
        Array.from({ length: 100 }, (_, i) => row(b * 100 + i))
      );
    }
    w.push('not_in_schema', [{ a: 1 }, { a: 2 }]);
    const s = w.stats();
    assert.equal(s.profile_samples.queued, 1000);
    assert.equal(s.profile_samples.dropped, 1500);
    assert.equal(s.not_in_schema.queued, 2);
    assert.equal(w.queuedRows(), 1002);
    await w.flush();
    assert.equal(w.healthy, false);
    assert.equal(w.queuedRows(), 1002, 'a failed flush keeps every queued row');
    assert.equal(w.stats().profile_samples.written, 0);
    assert.equal(w.stats().profile_samples.unknownOutcomeRetries, 0);
    assert.match(logs.join('\n'), /cannot write to http:\/\/127\.0\.0\.1:1/);
  } finally {
    await w.close();
  }
});

test('the row bound holds when batchRows is larger than it, and the byte bound drops the oldest request logs first, metrics last', async () => {
  const w = new ClickHouseWriter({
    url: 'http://127.0.0.1:1',
    username: 'default',
    password: '',
    database: 'db',
    batchRows: 1_000_000,
    maxQueuedRows: 1000,
    maxQueuedBytes: 1 << 20,
    log: () => {},
  });
  try {
    w.push(
      'profile_samples',
      Array.from({ length: 5000 }, (_, i) => row(i))
    );
    assert.ok(w.stats().profile_samples.queued <= 1000, `queued ${w.stats().profile_samples.queued}`);
    assert.equal(w.stats().profile_samples.queued + w.stats().profile_samples.dropped, 5000);
    // ~30 KB of metrics, then ~2 MB of request logs through a 1 MiB bound
    for (let i = 0; i < 300; i++) {
      w.push('app_metrics', [metric(i)]);
    }
    for (let b = 0; b < 10; b++) {
      w.push(
        'l7_flow_log',
        Array.from({ length: 1000 }, (_, i) => log7(b * 1000 + i))
      );
      assert.ok(w.queuedBytes() <= 1 << 20, `queued ${w.queuedBytes()} B after push ${b}`);
    }
    const s = w.stats();
    assert.equal(s.app_metrics.dropped, 0, 'metrics kept');
    assert.equal(s.app_metrics.queued, 300);
    assert.ok(
      s.l7_flow_log.dropped > 0 && s.l7_flow_log.dropped + s.l7_flow_log.queued === 10_000,
      JSON.stringify(s.l7_flow_log)
    );
    assert.equal(
      s.l7_flow_log.queuedBytes + s.app_metrics.queuedBytes + s.profile_samples.queuedBytes,
      w.queuedBytes()
    );
    assert.match(w.dropText(), /^\d+ \(profile_samples \d+ rows \d+ KiB, l7_flow_log \d+ rows \d+ KiB\)$/);
  } finally {
    await w.close();
  }
});

interface Seen {
  table: string;
  query: string;
  token: string | null;
  body: Buffer;
  at: number;
}

/**
 * A fake ClickHouse HTTP server (not the real one: it lets a test delay, refuse or cut single
 * requests). It answers version() with `version`, any other query with an empty result, and
 * records every INSERT with its settings and body bytes. `onInsert` decides what happens.
 */
class FakeClickHouse {
  readonly inserts: Seen[] = [];
  readonly ddl: string[] = [];
  readonly lookups: string[] = [];
  /** rows a SELECT count() finds */
  lookup: (query: string) => number = () => 0;
  onInsert: (s: Seen, res: http.ServerResponse, req: http.IncomingMessage) => void = (_s, res) => res.end();
  private readonly srv: http.Server;

  constructor(private readonly version: string) {
    this.srv = http.createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (d: Buffer) => parts.push(d));
      req.on('end', () => {
        const url = new URL(req.url!, 'http://x');
        const body = Buffer.concat(parts);
        const query = url.searchParams.get('query') ?? body.toString();
        const insert = /^INSERT INTO \w+\.(\w+)/.exec(query);
        if (insert) {
          const s = {
            table: insert[1],
            query,
            token: url.searchParams.get('insert_deduplication_token'),
            body,
            at: Date.now(),
          };
          this.inserts.push(s);
          this.onInsert(s, res, req);
        } else if (query.startsWith('SELECT count() AS n FROM')) {
          this.lookups.push(query);
          res.end(JSON.stringify({ n: String(this.lookup(query)) }) + '\n');
        } else if (query.includes('version()')) {
          res.end(JSON.stringify({ v: this.version }) + '\n');
        } else {
          if (/^(CREATE|ALTER)/.test(query)) {
            this.ddl.push(query);
          }
          res.end();
        }
      });
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((r) => this.srv.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(this.srv.address() as { port: number }).port}`;
  }

  of(table: string): Seen[] {
    return this.inserts.filter((s) => s.table === table);
  }

  close(): Promise<void> {
    this.srv.closeAllConnections();
    return new Promise((r) => this.srv.close(() => r()));
  }
}

async function withFake(
  version: string,
  opts: Partial<WriterOptions>,
  body: (fake: FakeClickHouse, w: ClickHouseWriter, logs: string[]) => Promise<void>
): Promise<void> {
  const fake = new FakeClickHouse(version);
  const url = await fake.listen();
  const logs: string[] = [];
  const w = new ClickHouseWriter({
    url,
    username: 'default',
    password: '',
    database: 'db',
    batchRows: 20000,
    maxQueuedRows: 500000,
    flushIntervalMs: 200,
    log: (l) => logs.push(l),
    ...opts,
  });
  try {
    await body(fake, w, logs);
  } finally {
    await w.close();
    await fake.close();
  }
}

const until = async (what: string, cond: () => boolean, timeoutMs = 5000) => {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
};

test('a slow server gets few, larger inserts per table and no table starves (fake server, 30 ms per INSERT)', () =>
  withFake('18.16.1', {}, async (fake, w) => {
    fake.onInsert = (_s, res) => setTimeout(() => res.end(), 30);
    await w.connect();
    w.start();
    const tables = ['l7_flow_log', 'l4_flow_log', 'profile_samples', 'app_metrics', 'net_metrics'];
    const started = Date.now();
    let pushed = 0;
    // 2 s of pushes every 5 ms into every table
    while (Date.now() - started < 2000) {
      for (const t of tables) {
        w.push(t, [t === 'profile_samples' ? row(pushed) : metric(pushed)]);
      }
      pushed++;
      await new Promise((r) => setTimeout(r, 5));
    }
    await until('every row written', () => tables.every((t) => w.stats()[t].written === pushed), 3000);
    const seconds = (Date.now() - started) / 1000;
    for (const t of tables) {
      const n = fake.of(t).length;
      // one INSERT per flush interval (200 ms) and table: ~12 over ~2.4 s, never one per push
      assert.ok(n <= Math.ceil(seconds / 0.2) + 1, `${t}: ${n} inserts in ${seconds} s for ${pushed} pushes`);
      assert.ok(w.stats()[t].peakInsertsPerSec <= 6, `${t}: peak ${w.stats()[t].peakInsertsPerSec}/s`);
    }
  }));

test('one table failing never delays another, and it catches up when the failure ends (fake server)', () =>
  withFake('18.16.1', {}, async (fake, w) => {
    let failing = true;
    fake.onInsert = (s, res) => {
      if (s.table === 'l7_flow_log' && failing) {
        res
          .writeHead(500, { 'X-ClickHouse-Exception-Code': '241' })
          .end('Code: 241, e.displayText() = DB::Exception: Memory limit (total) exceeded, e.what() = DB::Exception\n');
        return;
      }
      if (s.table === 'l4_flow_log') {
        setTimeout(() => res.end(), 3000); // a slow table
        return;
      }
      res.end();
    };
    await w.connect();
    w.start();
    w.push('l7_flow_log', [log7(1)]);
    w.push('l4_flow_log', [metric(1)]);
    const t0 = Date.now();
    w.push('app_metrics', [metric(1)]);
    await until('app_metrics written', () => w.stats().app_metrics?.written === 1, 1000);
    const waited = Date.now() - t0;
    assert.ok(waited < 400, `app_metrics waited ${waited} ms behind a failing and a slow table`);
    await until('l7 retried', () => fake.of('l7_flow_log').length >= 3);
    assert.equal(w.healthy, false);
    assert.match(w.error, /Memory limit/);
    const gaps = fake.of('l7_flow_log').map((s, i, a) => (i ? s.at - a[i - 1].at : 200));
    assert.ok(Math.min(...gaps) >= 190, `retries at least a flush interval apart: ${gaps}`);
    failing = false;
    await until('l7 written', () => w.stats().l7_flow_log.written === 1);
    assert.equal(w.stats().l7_flow_log.queued, 0);
  }));

test('a retry sends the same bytes with the same deduplication token; rows pushed meanwhile go in a new batch (fake server cuts the first reply)', async () => {
  for (const [version, tokens] of [
    ['24.8.14.39', true],
    ['18.16.1', false],
  ] as const) {
    await withFake(version, {}, async (fake, w) => {
      let cut = true;
      fake.onInsert = (s, res, req) => {
        if (s.table === 'app_metrics' && cut) {
          cut = false;
          req.socket.destroy(); // the server read it all, then the connection broke: outcome unknown
          return;
        }
        res.end();
      };
      await w.connect();
      w.start();
      w.push('app_metrics', [metric(1), metric(2)]);
      await until('first attempt', () => fake.of('app_metrics').length === 1);
      w.push('app_metrics', [metric(3)]);
      await until('both batches written', () => w.stats().app_metrics.written === 3);
      const [first, retry, next] = fake.of('app_metrics');
      assert.ok(first.body.equals(retry.body), 'byte-identical retry');
      assert.equal(first.body.length, retry.body.length);
      assert.ok(next.body.length < first.body.length, 'the row pushed meanwhile went in its own batch');
      if (tokens) {
        assert.match(first.token ?? '', /^[0-9a-f]{16}-app_metrics-\d+$/);
        assert.equal(retry.token, first.token);
        assert.notEqual(next.token, first.token);
      } else {
        assert.deepEqual(
          [first.token, retry.token, next.token],
          [null, null, null],
          '18.16 refuses unknown settings: no token'
        );
      }
      const s = w.stats().app_metrics;
      assert.deepEqual([s.unknownOutcomeRetries, s.unknownOutcomeRows, s.written, s.dropped], [1, 2, 3, 0]);
      assert.match(w.statusText(), /retried after unknown outcome 1 batches \(2 rows\)/);
    });
  }
});

test('a missing table re-runs the migrations and creates every table of the current schema, then the batch is retried (fake server)', () =>
  withFake('18.16.1', {}, async (fake, w, logs) => {
    // the table exists again once the writer created it
    const missing = () => !fake.ddl.some((q) => q.startsWith('CREATE TABLE IF NOT EXISTS db.app_metrics '));
    fake.onInsert = (s, res) => {
      if (s.table === 'app_metrics' && missing()) {
        res
          .writeHead(404, { 'X-ClickHouse-Exception-Code': '60' })
          .end(
            "Code: 60, e.displayText() = DB::Exception: Table db.app_metrics doesn't exist., e.what() = DB::Exception\n"
          );
        return;
      }
      res.end();
    };
    await w.connect();
    fake.ddl.length = 0;
    w.start();
    w.push('app_metrics', [metric(1)]);
    await until('written', () => w.stats().app_metrics.written === 1);
    assert.ok(fake.ddl.some((q) => q.startsWith('CREATE TABLE IF NOT EXISTS db.l7_flow_log ')));
    assert.ok(fake.ddl.some((q) => q.startsWith('CREATE MATERIALIZED VIEW IF NOT EXISTS db.app_metrics_edge_mv')));
    const n = fake.of('app_metrics').length;
    assert.ok(n === 2, `retried at once after the repair: ${n} attempts`);
    assert.equal(logs.filter((l) => l.includes('re-creating the schema')).length, 1, logs.join('\n'));
    assert.ok(
      !logs.some((l) => l.includes('cannot write to')),
      'a missing table is not reported as an unreachable server'
    );
  }));

test('on a server without deduplication (18.16) a batch whose answer was lost is looked up, and not sent again when it was stored (fake server)', () =>
  withFake('18.16.1', {}, async (fake, w) => {
    let cut = true;
    fake.onInsert = (s, res, req) => {
      if (s.table === 'app_metrics' && cut) {
        cut = false;
        req.socket.destroy(); // stored, then the answer is lost
        return;
      }
      res.end();
    };
    fake.lookup = () => (fake.of('app_metrics').length === 1 ? 1 : 0);
    await w.connect();
    w.start();
    w.push('app_metrics', [metric(1), metric(2), metric(3)]);
    await until('batch settled', () => w.stats().app_metrics.written === 3);
    assert.equal(fake.of('app_metrics').length, 1, 'found stored: not sent again');
    assert.equal(fake.lookups.length, 2, 'its first and last rows looked up');
    assert.match(
      fake.lookups[0],
      /^SELECT count\(\) AS n FROM db\.app_metrics WHERE time = toDateTime\(1795558422\) AND host = 'h' AND .*request_count = 1 \nFORMAT JSONEachRow$/
    );
    assert.match(fake.lookups[1], /time = toDateTime\(1795558424\) .*request_count = 3 \nFORMAT JSONEachRow$/);
    const s = w.stats().app_metrics;
    assert.deepEqual([s.foundStored, s.foundStoredRows, s.unknownOutcomeRetries, s.dropped], [1, 3, 0, 0]);
  }));
