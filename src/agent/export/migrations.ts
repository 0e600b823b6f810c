// Applies the versioned schema migrations (src/shared/schema.ts) at agent start; idempotent.
import type { ClickHouseClient } from '@clickhouse/client';
import { Dialect, MIGRATIONS, MIGRATIONS_TABLE, renderMigrationsTable } from '../../shared/schema';

/** Modern ClickHouse gets codecs, TTL and LowCardinality; 18.x-20.x the nearest equivalents. */
export function dialectFor(version: string): Dialect {
  const major = Number(version.split('.')[0]);
  return major >= 21 ? 'modern' : 'legacy';
}

export async function serverVersion(client: ClickHouseClient): Promise<string> {
  const rs = await client.query({ query: 'SELECT version() AS v', format: 'JSONEachRow' });
  const rows = (await rs.json()) as Array<{ v: string }>;
  return rows[0].v;
}

/** Returns the versions applied now (empty when the schema was already current). */
export async function applyMigrations(client: ClickHouseClient, database: string, dialect: Dialect): Promise<number[]> {
  await client.command({ query: `CREATE DATABASE IF NOT EXISTS ${database}` });
  await client.command({ query: renderMigrationsTable(database) });
  const rs = await client.query({ query: `SELECT version FROM ${database}.${MIGRATIONS_TABLE}`, format: 'JSONEachRow' });
  const done = new Set(((await rs.json()) as Array<{ version: number }>).map((r) => Number(r.version)));
  const applied: number[] = [];
  for (const m of MIGRATIONS) {
    if (done.has(m.version)) {
      continue;
    }
    for (const stmt of m.statements(dialect, database)) {
      await client.command({ query: stmt });
    }
    await client.insert({
      table: `${database}.${MIGRATIONS_TABLE}`,
      values: [{ version: m.version, applied_at: Math.floor(Date.now() / 1000), doc: m.doc }],
      format: 'JSONEachRow',
    });
    applied.push(m.version);
  }
  return applied;
}
