import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fuzzParser } from './fuzzHarness';
import { PostgresqlParser } from '../../../src/agent/protocols/postgresql/postgresqlParser';

// every recv() of the real capture (test/agent/protocols/fixtures/postgresql/psql-and-psycopg3.jsonl)
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
    'postgresql',
    'psql-and-psycopg3.jsonl'
  ),
  'utf8'
)
  .split('\n')
  .filter((l) => l.trim())
  .map((l) => Buffer.from((JSON.parse(l) as { b64: string }).b64, 'base64'));

test('postgresql parser survives random and mutated input', () => {
  assert.ok(corpus.length > 30);
  const r = fuzzParser(() => new PostgresqlParser(), corpus, 7);
  console.log(`postgresql fuzz: ${r.inputs} inputs, ${r.messages} messages, slowest ${r.slowestMs.toFixed(2)} ms`);
});
