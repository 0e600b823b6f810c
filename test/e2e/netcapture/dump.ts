// Writes the rows an agent left in a recording database as JSON lines, one file per table: the one dump
// step of the captures the Go datasource is tested on (recordNetCapture.ts, recordTraceFaults.ts).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chQuery } from '../helpers';

/** Each table's rows ordered by `order[table]`, `time` as unix seconds (text in the server's zone would move with it). */
export async function dumpTables(
  db: string,
  out: string,
  order: Record<string, string>
): Promise<Record<string, number>> {
  mkdirSync(out, { recursive: true });
  const counts: Record<string, number> = {};
  for (const [table, by] of Object.entries(order)) {
    const rows = await chQuery<Record<string, unknown>>(
      `SELECT *, toUInt32(time) AS time_unix FROM ${db}.${table} ORDER BY ${by} SETTINGS output_format_json_quote_64bit_integers = 0`
    );
    for (const r of rows) {
      r.time = String(r.time_unix);
      delete r.time_unix;
    }
    counts[table] = rows.length;
    writeFileSync(join(out, `${table}.jsonl`), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  }
  return counts;
}
