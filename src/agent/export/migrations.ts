// Applies the versioned schema migrations (src/shared/schema.ts) at agent start, and again when a
// table or the database disappears under a running agent; idempotent.
import { ClickHouseError, type ClickHouseClient } from '@clickhouse/client';
import {
  Dialect,
  MIGRATIONS,
  MIGRATIONS_TABLE,
  TABLES,
  renderCurrentSchema,
  renderMigrationsTable,
} from '../../shared/schema';

/** Modern ClickHouse gets codecs, TTL and LowCardinality; 18.x-20.x the nearest equivalents. */
export function dialectFor(version: string): Dialect {
  const major = Number(version.split('.')[0]);
  return major >= 21 ? 'modern' : 'legacy';
}

/** insert_deduplication_token exists from 22.2 on; older servers (18.16) refuse a setting they do not know. */
export function supportsDedupToken(version: string): boolean {
  const [major, minor] = version.split('.').map(Number);
  return major > 22 || (major === 22 && minor >= 2);
}

export async function serverVersion(client: ClickHouseClient): Promise<string> {
  const rs = await client.query({ query: 'SELECT version() AS v', format: 'JSONEachRow' });
  const rows = (await rs.json()) as Array<{ v: string }>;
  return rows[0].v;
}

/** ClickHouse's ILLEGAL_COLUMN: "Cannot add column ...: column with this name already exists". */
const COLUMN_EXISTS = 44;

/** The server's error code: from ClickHouseError, or from the text (the client does not parse 18.16's "Code: 16, e.displayText() = ..."). */
export function serverErrorCode(err: unknown): number | undefined {
  if (err instanceof ClickHouseError) {
    return Number(err.code);
  }
  const m = /^Code: (\d+)[.,]/.exec(err instanceof Error ? err.message : '');
  return m ? Number(m[1]) : undefined;
}

/**
 * Returns the versions applied (or recorded) now: empty when the schema was already current.
 * Then creates every table and view of the current schema that is missing (a table dropped by
 * hand comes back with today's columns, though the migrations table says it was made long ago).
 */
export async function applyMigrations(client: ClickHouseClient, database: string, dialect: Dialect): Promise<number[]> {
  await client.command({ query: `CREATE DATABASE IF NOT EXISTS ${database}` });
  await client.command({ query: renderMigrationsTable(database) });
  const rs = await client.query({
    query: `SELECT version FROM ${database}.${MIGRATIONS_TABLE}`,
    format: 'JSONEachRow',
  });
  const done = new Set(((await rs.json()) as Array<{ version: number }>).map((r) => Number(r.version)));
  const record = (m: (typeof MIGRATIONS)[number]) =>
    client.insert({
      table: `${database}.${MIGRATIONS_TABLE}`,
      values: [{ version: m.version, applied_at: Math.floor(Date.now() / 1000), doc: m.doc }],
      format: 'JSONEachRow',
    });
  const applied: number[] = [];
  if (done.size === 0 && (await canonicalTablesIn(client, database)) > 0) {
    // the migrations table was dropped while the tables stayed: re-running the migrations would add
    // columns that exist (an error on 18.16, which has no ADD COLUMN IF NOT EXISTS). The tables are
    // taken as current; missing ones are created below at the current version.
    for (const m of MIGRATIONS) {
      await record(m);
      applied.push(m.version);
    }
  }
  for (const m of MIGRATIONS) {
    if (done.has(m.version) || applied.includes(m.version)) {
      continue;
    }
    for (const stmt of m.statements(dialect, database)) {
      try {
        await client.command({ query: stmt });
      } catch (err) {
        // the columns are there: an agent stopped between adding them and recording the migration (18.16 has no
        // ADD COLUMN IF NOT EXISTS); anything else stops the migration
        if (!(/^ALTER TABLE \S+ ADD COLUMN /.test(stmt) && serverErrorCode(err) === COLUMN_EXISTS)) {
          throw err;
        }
      }
    }
    await record(m);
    applied.push(m.version);
  }
  for (const stmt of renderCurrentSchema(dialect, database)) {
    await client.command({ query: stmt });
  }
  return applied;
}

async function canonicalTablesIn(client: ClickHouseClient, database: string): Promise<number> {
  const rs = await client.query({
    query: `SELECT name FROM system.tables WHERE database = '${database}'`,
    format: 'JSONEachRow',
  });
  const names = new Set(((await rs.json()) as Array<{ name: string }>).map((r) => r.name));
  return TABLES.filter((t) => names.has(t.name)).length;
}
