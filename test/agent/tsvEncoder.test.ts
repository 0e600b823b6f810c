import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TsvEncoder, escapeTsv } from '../../src/agent/export/tsvEncoder';

test('strings are escaped for TabSeparated fields and for quoted strings inside arrays', () => {
  assert.equal(escapeTsv("SELECT 'a'\tb\nc\\d\r\0"), "SELECT \\'a\\'\\tb\\nc\\\\d\\r\\0");
  assert.equal(escapeTsv('plain /api/users?id=1'), 'plain /api/users?id=1');
});

test('rows of a schema table encode in their key order with typed fields; unknown keys fall back', () => {
  const enc = new TsvEncoder();
  const rows = [
    {
      time: 1795558421,
      host: 'h\t1',
      pid: 7,
      tid: 8,
      process: 'p',
      service: 's',
      event: 'on_cpu',
      stack_id: 2 ** 53 - 1,
      stack: ['main', "it's"],
      value: 3,
    },
    {
      time: 1795558422,
      host: 'h',
      pid: 7,
      tid: 8,
      process: 'p',
      service: 's',
      event: 'off_cpu',
      stack_id: 1,
      stack: [],
      value: NaN,
    },
  ];
  const out = enc.encode('profile_samples', rows)!;
  assert.deepEqual(out.columns, Object.keys(rows[0]));
  assert.equal(
    out.body,
    "1795558421\th\\t1\t7\t8\tp\ts\ton_cpu\t9007199254740991\t['main','it\\'s']\t3\n" +
      '1795558422\th\t7\t8\tp\ts\toff_cpu\t1\t[]\t0\n'
  );
  assert.equal(enc.encode('profile_samples', [{ time: 1, not_a_column: 2 }]), null);
  assert.equal(enc.encode('no_such_table', [{ time: 1 }]), null);
});
