// The export's RowBinary encoding against the real ClickHouse: every column type of every table the
// agent writes, with the edge values a wrong byte would break (2^53-1, the top of each unsigned
// width, negative Int32, UTF-8, tabs and quotes, strings longer than one length byte), read back
// exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeClient, ClickHouseWriter } from '../../src/agent/export/clickhouseWriter';
import { applyMigrations, dialectFor, serverVersion } from '../../src/agent/export/migrations';
import { TABLES, ColumnType, Table } from '../../src/shared/schema';
import type { ClickHouseClient } from '@clickhouse/client';
import { CLICKHOUSE_URL, LOCAL_CLICKHOUSE, chQuery, freeDatabase, requireClickHouse } from './helpers';

const DB = 'flowlens_e2e_rowbinary';
const LONG = 'x'.repeat(300) + 'é';

function valueOf(type: ColumnType, row: number): unknown {
  const edge = row === 0;
  switch (type) {
    case 'DateTime':
      return edge ? 4294967295 : 1795558421;
    case 'UInt8':
      return edge ? 255 : 0;
    case 'UInt16':
      return edge ? 65535 : 80;
    case 'UInt32':
      return edge ? 4294967295 : 1;
    case 'UInt64':
      return edge ? 2 ** 53 - 1 : 1795558421123456;
    case 'Int32':
      return edge ? -2147483648 : 2147483647;
    case 'Float64':
      return edge ? -0.125 : 1e300;
    case 'String':
      return edge ? "tab\there\nnew line, 'quoted' \\ é€😀\0" : LONG;
    case 'LowString':
      return edge ? 'nginx' : '';
    case 'Array(UInt64)':
      return edge ? [0, 1, 2 ** 53 - 1] : [];
    case 'Array(UInt32)':
      return edge ? [4294967295, 7] : [];
    case 'Array(UInt16)':
      return edge ? [0, 1396, 65535] : [];
    case 'Array(UInt8)':
      return edge ? [1, 255] : [];
    case 'Array(String)':
      return edge ? ['a\tb', 'é', ''] : [LONG];
    default:
      return undefined;
  }
}

/** What JSONEachRow prints for the value (64-bit integers quoted). */
function printed(type: ColumnType, v: unknown): unknown {
  if (type === 'UInt64') {
    return String(v);
  }
  if (type === 'Array(UInt64)') {
    return (v as number[]).map(String);
  }
  return v;
}

/** Row `row` (0: edge values, 1: ordinary ones) of a table, one value per column. */
function sampleRow(table: Table, row: number): Record<string, unknown> {
  return Object.fromEntries(table.columns.map((c) => [c.name, valueOf(c.type, row)]));
}

/** Runs `body` with a writer into a fresh database `db` holding the schema, then drops it. */
async function withDatabase(
  db: string,
  body: (client: ClickHouseClient, writer: ClickHouseWriter, logs: string[]) => Promise<void>
): Promise<void> {
  await requireClickHouse();
  await freeDatabase(db);
  const client = makeClient({
    url: CLICKHOUSE_URL,
    username: LOCAL_CLICKHOUSE.writer.user,
    password: LOCAL_CLICKHOUSE.writer.password,
  });
  const logs: string[] = [];
  const writer = new ClickHouseWriter({
    url: CLICKHOUSE_URL,
    username: LOCAL_CLICKHOUSE.writer.user,
    password: LOCAL_CLICKHOUSE.writer.password,
    database: db,
    batchRows: 1000,
    maxQueuedRows: 1000,
    log: (l) => logs.push(l),
  });
  try {
    await client.command({ query: `CREATE DATABASE ${db}` });
    await applyMigrations(client, db, dialectFor(await serverVersion(client)));
    await body(client, writer, logs);
  } finally {
    await writer.close();
    await client.close();
    await freeDatabase(db);
  }
}

test('every table the agent writes round-trips through RowBinary with exact values', () =>
  withDatabase(DB, async (_client, writer, logs) => {
    const tables = TABLES.filter((t) => t.columns.every((c) => !c.type.startsWith('AggregateFunction')));
    assert.ok(
      tables.some((t) => t.name === 'l7_flow_log') && tables.length >= 6,
      `tables: ${tables.map((t) => t.name)}`
    );
    for (const t of tables) {
      writer.push(t.name, [sampleRow(t, 0), sampleRow(t, 1)]);
    }
    await writer.flush();
    assert.deepEqual(logs, [], 'no insert was refused');
    for (const t of tables) {
      const select = t.columns
        .map((c) => (c.type === 'DateTime' ? `toUInt32(${c.name}) AS ${c.name}` : c.name))
        .join(', ');
      const order = t.columns.find((c) => c.type === 'UInt8')?.name ?? t.columns[0].name;
      const rows = await chQuery(`SELECT ${select} FROM ${DB}.${t.name} ORDER BY ${order} DESC`);
      assert.equal(rows.length, 2, `${t.name}: two rows`);
      for (const [i, row] of rows.entries()) {
        for (const c of t.columns) {
          assert.deepEqual(
            row[c.name],
            printed(c.type, valueOf(c.type, i)),
            `${t.name}.${c.name} (${c.type}), row ${i}`
          );
        }
      }
      assert.equal(writer.stats()[t.name].written, 2);
    }
  }));

test('rows a table cannot read are dropped and counted, the table falls back to text, and other tables keep writing', () => {
  const db = `${DB}_bad`;
  return withDatabase(db, async (client, writer, logs) => {
    // a column taken away by hand: every INSERT naming it fails with NO_SUCH_COLUMN_IN_TABLE
    await client.command({ query: `ALTER TABLE ${db}.profile_samples DROP COLUMN stack_id` });
    const t = TABLES.find((x) => x.name === 'profile_samples')!;
    const samples = (n: number) => Array.from({ length: n }, () => sampleRow(t, 1));
    writer.push('profile_samples', samples(3));
    writer.push('l4_flow_log', [
      sampleRow(
        TABLES.find((x) => x.name === 'l4_flow_log')!,
        1
      ),
    ]);
    await writer.flush();
    writer.push('profile_samples', samples(2));
    await writer.flush();
    const s = writer.stats();
    assert.deepEqual([s.profile_samples.dropped, s.profile_samples.written, s.profile_samples.queued], [5, 0, 0]);
    assert.deepEqual([s.l4_flow_log.dropped, s.l4_flow_log.written], [0, 1]);
    assert.equal(logs.length, 2, logs.join('\n'));
    assert.match(logs[0], /profile_samples cannot read 3 rows .*; dropped them, writing TabSeparated from now on/);
    assert.match(logs[1], /profile_samples cannot read 2 rows .*; dropped them$/);
    assert.equal(writer.healthy, true);
    assert.deepEqual(await chQuery(`SELECT count() AS n FROM ${db}.l4_flow_log`), [{ n: '1' }]);
  });
});
