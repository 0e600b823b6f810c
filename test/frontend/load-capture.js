// Loads rows the real agent captured (pkg/plugin/testdata/<capture>/<table>.jsonl) into an own ClickHouse database
// with the generated schema of the running server: the one loading step of the recorders that ask the real plugin
// binary over such captures (record-netprofile.js, record-trace-faults.js).
'use strict';

const fs = require('fs');
const path = require('path');

const ROOT = path.resolve(__dirname, '..', '..');
const { chQuery, freeDatabase } = require(path.join(ROOT, 'build', 'agent', 'test', 'e2e', 'helpers.js'));

/** Creates the FlowLens schema (the generated DDL for this server) in a fresh database db. */
async function createSchema(db) {
  const [{ v }] = await chQuery('SELECT version() AS v');
  const ddl = fs.readFileSync(
    path.join(ROOT, 'pkg', 'schema', /^1[89]\./.test(v) ? 'ddl_legacy.sql' : 'ddl_modern.sql'),
    'utf8'
  );
  await freeDatabase(db);
  for (const raw of ddl.split(';\n')) {
    const stmt = raw
      .split('\n')
      .filter((l) => !l.trim().startsWith('--'))
      .join('\n')
      .trim();
    if (stmt) {
      await chQuery(
        stmt
          .replaceAll('flowlens.', `${db}.`)
          .replace('DATABASE IF NOT EXISTS flowlens', `DATABASE IF NOT EXISTS ${db}`)
      );
    }
  }
}

/** Creates the schema in db, inserts each table's recorded rows and returns them (table → rows). */
async function loadCapture(db, dir, tables) {
  await createSchema(db);
  const rows = {};
  for (const table of tables) {
    const text = fs.readFileSync(path.join(dir, `${table}.jsonl`), 'utf8');
    await chQuery(`INSERT INTO ${db}.${table} FORMAT JSONEachRow\n${text}`);
    rows[table] = text
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l));
  }
  return rows;
}

module.exports = { createSchema, loadCapture };
