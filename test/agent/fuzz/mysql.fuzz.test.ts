import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fuzzParser } from './fuzzHarness';
import { MysqlParser } from '../../../src/agent/protocols/mysql/mysqlParser';

// every recv() of the real capture (test/agent/protocols/fixtures/mysql/mariadb-cli-and-mysql-connector.jsonl)
const corpus = readFileSync(
  join(
    __dirname,
    '..',
    '..',
    '..',
    '..',
    '..',
    'test',
    'agent',
    'protocols',
    'fixtures',
    'mysql',
    'mariadb-cli-and-mysql-connector.jsonl'
  ),
  'utf8'
)
  .split('\n')
  .filter((l) => l.trim())
  .map((l) => Buffer.from((JSON.parse(l) as { b64: string }).b64, 'base64'));

test('mysql parser survives random and mutated input', () => {
  assert.ok(corpus.length > 30);
  const r = fuzzParser(() => new MysqlParser(), corpus, 7);
  console.log(`mysql fuzz: ${r.inputs} inputs, ${r.messages} messages, slowest ${r.slowestMs.toFixed(2)} ms`);
});
