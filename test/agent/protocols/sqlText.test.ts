import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_SQL_DECODE, redactSql, sqlScanWork, summarizeSql } from '../../../src/agent/protocols/sql/sqlText';

// Captured SQL is attacker-controlled: each text below made the former backtracking patterns take
// time polynomial in its length (`select password` + 1000 spaces: 0.5 s; + 2000 spaces: 4.6 s).
// The scanners must give the same answers in work proportional to the text.
const HOSTILE: Array<[string, (n: number) => string]> = [
  ['password + spaces', (n) => `select password${' '.repeat(n)}`],
  ['password = + spaces', (n) => `select password =${' '.repeat(n)}x`],
  ['password password ...', (n) => `select ${'password '.repeat(n / 9)}`],
  ['identified with + spaces', (n) => `create user u identified with${' '.repeat(n)}`],
  ['identified with plugin, no BY', (n) => `create user u ${'identified with p '.repeat(n / 18)}`],
  ['unterminated literal with doubled quotes', (n) => `alter role r password '${"''".repeat(n / 2)}`],
  ['from + spaces', (n) => `select * from${' '.repeat(n)}`],
  ['from from from', (n) => `select ${'from '.repeat(n / 5)}`],
  ['update modifiers', (n) => `update ${'ignore '.repeat(n / 7)}`],
  ['ddl modifiers', (n) => `create ${'temp or replace '.repeat(n / 16)}`],
  ['traceparent + spaces', (n) => `select 1 /* ${'traceparent  = '.repeat(n / 15)} */`],
];

/** Characters the scanners looked at per character of input, for the whole summary. */
function workPerChar(sql: string): number {
  const before = sqlScanWork();
  summarizeSql(sql);
  return (sqlScanWork() - before) / sql.length;
}

test('hostile SQL: work per character stays bounded from 1 KiB to 64 KiB (linear, not polynomial)', () => {
  for (const [name, make] of HOSTILE) {
    const small = workPerChar(make(1024));
    const large = workPerChar(make(65536));
    assert.ok(
      small <= 12 && large <= 12,
      `${name}: ${small.toFixed(1)} and ${large.toFixed(1)} chars looked at per char`
    );
    assert.ok(
      large <= small * 1.5 + 1,
      `${name}: work per char grows with the length (${small.toFixed(2)} -> ${large.toFixed(2)})`
    );
  }
});

test('hostile SQL: a 64 KiB text is summarised in milliseconds (the parsers cut at 2 KiB)', () => {
  for (const [name, make] of HOSTILE) {
    const sql = make(65536);
    const t0 = process.hrtime.bigint();
    summarizeSql(sql);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    assert.ok(ms < 100, `${name}: ${ms.toFixed(1)} ms`);
  }
  assert.equal(MAX_SQL_DECODE, 2048);
});

test('hostile SQL: the answers are still right', () => {
  const spaces = ' '.repeat(1000);
  assert.deepEqual(summarizeSql(`select password${spaces}`), {
    command: 'SELECT',
    resource: `select password${spaces}`.slice(0, 512),
    endpoint: 'SELECT',
  });
  assert.equal(
    redactSql(`alter role r password${spaces}=${spaces}'secret'`),
    `alter role r password${spaces}=${spaces}'***'`
  );
  assert.equal(
    redactSql(`create user u identified with${spaces}caching_sha2_password${spaces}by${spaces}"secret"`),
    `create user u identified with${spaces}caching_sha2_password${spaces}by${spaces}'***'`
  );
  assert.equal(summarizeSql(`select a from${' '.repeat(400)}t`).endpoint, 'SELECT t');
  assert.equal(
    summarizeSql(`select a from${spaces}t`).endpoint,
    'SELECT',
    'the table is looked for in the first 512 characters'
  );
  assert.equal(summarizeSql(`update ${'ignore '.repeat(50)}set a = 1`).endpoint, 'UPDATE set');
  assert.equal(summarizeSql(`update ${'ignore '.repeat(50)}(`).endpoint, 'UPDATE ignore');
  const trace = summarizeSql(
    `select 1 /* ${'traceparent = '.repeat(50)}traceparent='00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' */`
  ).trace;
  assert.deepEqual(trace, { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331' });
});

test('SQL text: keywords, modifiers and fall-backs', () => {
  assert.equal(
    redactSql("SET PASSWORD FOR 'app'@'%' = PASSWORD('pw')"),
    "SET PASSWORD FOR 'app'@'%' = PASSWORD('***')"
  );
  assert.equal(
    redactSql("CREATE USER u IDENTIFIED WITH mysql_native_password AS '*ABC'"),
    "CREATE USER u IDENTIFIED WITH mysql_native_password AS '***'"
  );
  assert.equal(
    redactSql("GRANT ALL ON *.* TO u IDENTIFIED BY PASSWORD 'hash'"),
    "GRANT ALL ON *.* TO u IDENTIFIED BY PASSWORD '***'"
  );
  assert.equal(
    redactSql("ALTER ROLE x PASSWORD 'a\\'b' VALID UNTIL 'x'"),
    "ALTER ROLE x PASSWORD '***' VALID UNTIL 'x'"
  );
  assert.equal(
    redactSql("select old_password 'x', xpassword 'y', passwords 'z'"),
    "select old_password 'x', xpassword 'y', passwords 'z'"
  );
  // a capture that ends right after a backslash inside the literal: redacted to the end (the former pattern left it in clear)
  assert.equal(redactSql("ALTER ROLE x PASSWORD 'abc\\"), "ALTER ROLE x PASSWORD '***'");
  assert.equal(redactSql('ALTER ROLE x PASSWORD "abc\\'), "ALTER ROLE x PASSWORD '***'");
  assert.equal(summarizeSql('SELECT * FROM ONLY (select 1)').endpoint, 'SELECT ONLY');
  assert.equal(summarizeSql('SELECT * FROM ONLY `db`.`t`').endpoint, 'SELECT db.t');
  assert.equal(summarizeSql('insert into "a"."b" values (1)').endpoint, 'INSERT a.b');
  assert.equal(summarizeSql('UPDATE LOW_PRIORITY IGNORE t SET a = 1').endpoint, 'UPDATE t');
  assert.equal(summarizeSql('CREATE TEMPORARY TABLE IF NOT EXISTS tmp1 (a int)').endpoint, 'CREATE tmp1');
  assert.equal(summarizeSql('CREATE OR REPLACE VIEW v1 AS SELECT 1').endpoint, 'CREATE v1');
  assert.equal(summarizeSql('CREATE INDEX i1 ON t1 (a)').endpoint, 'CREATE t1');
  assert.equal(summarizeSql('CREATE TABLE IF (a int)').endpoint, 'CREATE IF');
  assert.equal(summarizeSql('CREATE TABLESPACE ts').endpoint, 'CREATE');
  assert.equal(summarizeSql('TRUNCATE TABLE t9').endpoint, 'TRUNCATE t9');
  assert.equal(summarizeSql('truncate t8').endpoint, 'TRUNCATE t8');
  assert.equal(summarizeSql(`SELECT 1 FROM ${'x'.repeat(100)}`).endpoint, `SELECT ${'x'.repeat(64)}`);
  assert.equal(summarizeSql('SELECT 1 FROM ""').endpoint, 'SELECT');
});
