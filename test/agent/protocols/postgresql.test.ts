import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describe as describePair, fixture, loadCapture, replay } from './redisCaptureReplay';
import { PostgresqlParser } from '../../../src/agent/protocols/postgresql/postgresqlParser';
import { redactSql, summarizeSql } from '../../../src/agent/protocols/sql/sqlText';
import type { ParsedMessage, SegmentContext } from '../../../src/agent/protocols/types';

// psql (simple protocol) then psycopg 3.3.9 with prepare=True (Parse/Bind/Describe/Execute/Sync)
// against PostgreSQL 15, recorded by a TCP proxy: one line per recv().
const capture = loadCapture(fixture('postgresql', 'psql-and-psycopg3.jsonl'));

const EXPECTED = [
  'STARTUP|postgres|STARTUP|-1|ok|',
  'CREATE|CREATE TABLE users (id int PRIMARY KEY, name text);|CREATE users|-1|ok|',
  "INSERT|INSERT INTO users VALUES (1, 'ann'), (2, 'bob');|INSERT users|-1|ok|",
  'SELECT|SELECT * FROM users ORDER BY id;|SELECT users|-1|ok|',
  'SELEC|SELEC 1;|SELEC|42601|client_error|42601: syntax error at or near "SELEC"',
  'SELECT|SELECT * FROM missing_table;|SELECT missing_table|-1|client_error|42P01: relation "missing_table" does not exist',
  'INSERT|INSERT INTO users VALUES (1, \'dup\');|INSERT users|23505|client_error|23505: duplicate key value violates unique constraint "users_pkey"',
  "SELECT|/* traceparent='00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' */ SELECT name FROM users WHERE id = 2;|SELECT users|-1|ok|",
  "ALTER|ALTER ROLE postgres PASSWORD '***';|ALTER|-1|ok|",
  'TERMINATE|undefined|TERMINATE|-1|ok|',
  'STARTUP|postgres|STARTUP|-1|ok|',
  'PREPARE|INSERT INTO users VALUES ($1, $2)|PREPARE users|-1|ok|',
  'INSERT|INSERT INTO users VALUES ($1, $2)|INSERT users|-1|ok|',
  'INSERT|INSERT INTO users VALUES ($1, $2)|INSERT users|-1|ok|',
  'PREPARE|SELECT name FROM users WHERE id = $1|PREPARE users|-1|ok|',
  'SELECT|SELECT name FROM users WHERE id = $1|SELECT users|-1|ok|',
  'SELECT|SELECT name FROM users WHERE id = $1|SELECT users|-1|ok|',
  'INSERT|INSERT INTO users VALUES ($1, $2)|INSERT users|23505|client_error|23505: duplicate key value violates unique constraint "users_pkey"',
  'PREPARE|SELECT * FROM nope WHERE id = $1|PREPARE nope|-1|client_error|42P01: relation "nope" does not exist',
  'TERMINATE|undefined|TERMINATE|-1|ok|',
];

for (const side of ['client', 'server'] as const) {
  test(`real capture seen from the ${side}: every request, its SQL and its outcome`, () => {
    const r = replay(capture, side);
    assert.deepEqual([...r.protocols.values()], ['PostgreSQL', 'PostgreSQL']);
    assert.equal(r.orphans, 0);
    assert.deepEqual(r.pairs.map(describePair), EXPECTED);
    assert.ok(r.pairs.every((p) => p.request.msg.domain === 'postgres'));
    const traced = r.pairs[7].request.msg;
    assert.deepEqual([traced.traceId, traced.spanId], ['0af7651916cd43dd8448eb211c80319c', 'b7ad6b7169203331']);
    // response lengths: the whole response up to ReadyForQuery, incl. an E and its Z in two reads
    assert.deepEqual(
      r.pairs.map((p) => p.response?.length ?? 0),
      [414, 24, 22, 109, 100, 119, 187, 64, 22, 0, 410, 11, 32, 32, 11, 68, 68, 197, 110, 0]
    );
    assert.ok(!JSON.stringify(r.pairs.map((p) => [p.request.msg, p.response?.msg])).includes('sekret'));
  });
}

test('a small capture size still gives every row (messages beyond the prefix are skipped by length)', () => {
  const r = replay(capture, 'client', 16);
  assert.equal(r.pairs.length, EXPECTED.length);
  assert.equal(r.orphans, 0);
  // the SQL and the SQLSTATE are cut off, so the words and error classes differ; ok vs error does not
  const outcome = (s: string) => (s === 'ok' ? 'ok' : 'error');
  assert.deepEqual(
    r.pairs.map((p) => outcome(p.response?.msg.status ?? 'ok')),
    EXPECTED.map((e) => outcome(e.split('|')[4]))
  );
});

const client: SegmentContext = { egress: true, localPort: 40000, peerPort: 5432, l4: 'TCP' };
const server: SegmentContext = { ...client, egress: false };

function msg(type: string, body: Buffer): Buffer {
  const h = Buffer.alloc(5);
  h.write(type, 0, 'latin1');
  h.writeUInt32BE(body.length + 4, 1);
  return Buffer.concat([h, body]);
}

test('a result set over many syscalls ends at ReadyForQuery, also when the capture lost the framing', () => {
  const p = new PostgresqlParser();
  const startup = Buffer.from('000000290003000075736572006170700064617461626173650073686f700000', 'hex');
  startup.writeUInt32BE(startup.length, 0);
  const s = p.parse(startup, startup.length, undefined, client) as ParsedMessage;
  assert.deepEqual([s.requestType, s.domain, s.resource], ['STARTUP', 'shop', 'app']);
  // md5 auth: R(md5) alone, the password message (never read), then R ok ... Z
  const md5 = p.parse(msg('R', Buffer.from('0000000501020304', 'hex')), 13, undefined, server) as ParsedMessage;
  assert.equal(md5.totalLength, undefined);
  assert.equal(p.parse(msg('p', Buffer.from('md5secret\0')), 15, undefined, client), null);
  assert.equal(
    p.parse(Buffer.concat([msg('R', Buffer.alloc(4)), msg('Z', Buffer.from('I'))]), 15, undefined, server),
    null
  );
  assert.equal(md5.totalLength, 28);
  const q = p.parse(msg('Q', Buffer.from('SELECT * FROM big\0')), 23, undefined, client) as ParsedMessage;
  assert.equal(q.endpoint, 'SELECT big');
  const rows = Buffer.concat(Array.from({ length: 200 }, () => msg('D', Buffer.alloc(20))));
  const first = p.parse(rows.subarray(0, 1024), 8192, undefined, server) as ParsedMessage;
  assert.equal(first.totalLength, undefined);
  assert.equal(p.parse(rows.subarray(0, 1024), 8192, undefined, server), null, 'framing lost: a continuation');
  const tail = Buffer.concat([msg('C', Buffer.from('SELECT 600\0')), msg('Z', Buffer.from('I'))]);
  assert.equal(p.parse(tail, tail.length, undefined, server), null);
  assert.equal(first.totalLength, 8192 + 8192 + tail.length);
});

test('inference: startup, SSLRequest, a whole Query; not HTTP, not a backend message', () => {
  const p = new PostgresqlParser();
  assert.equal(p.infer(capture[0].data, client), true, 'SSLRequest');
  assert.equal(p.infer(capture[2].data, client), true, 'StartupMessage');
  assert.equal(p.infer(msg('Q', Buffer.from('select 1\0')), client), true);
  assert.equal(p.infer(Buffer.from('GET / HTTP/1.1\r\n\r\n'), client), false);
  assert.equal(p.infer(msg('Z', Buffer.from('I')), client), false);
  assert.equal(p.infer(Buffer.from('*1\r\n$4\r\nPING\r\n'), client), false);
});

test('SQL text: command, table, redaction, cut', () => {
  assert.equal(
    redactSql("CREATE USER u WITH ENCRYPTED PASSWORD 'p''w'"),
    "CREATE USER u WITH ENCRYPTED PASSWORD '***'"
  );
  assert.equal(redactSql("CREATE USER 'u'@'%' IDENTIFIED BY 'pw'"), "CREATE USER 'u'@'%' IDENTIFIED BY '***'");
  assert.equal(redactSql("SET PASSWORD = PASSWORD('pw')"), "SET PASSWORD = PASSWORD('***')");
  assert.equal(redactSql("ALTER ROLE x PASSWORD 'unterminated"), "ALTER ROLE x PASSWORD '***'");
  assert.deepEqual(summarizeSql('  -- hi\n/* c */ (select a from "s"."t" where x)').endpoint, 'SELECT s.t');
  assert.equal(summarizeSql('update ONLY t2 set a=1').endpoint, 'UPDATE t2');
  assert.equal(summarizeSql('DROP TABLE IF EXISTS t3').endpoint, 'DROP t3');
  assert.equal(summarizeSql('begin').endpoint, 'BEGIN');
  const long = `SELECT '${'x'.repeat(600)}' FROM t`;
  assert.equal(summarizeSql(long).resource.length, 512);
  const secret = `ALTER ROLE x PASSWORD '${'s'.repeat(600)}'`;
  assert.ok(!summarizeSql(secret).resource.includes('sss'));
});
