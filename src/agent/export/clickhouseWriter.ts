// Batched inserts into ClickHouse, one bounded queue per table. While ClickHouse is down rows
// wait in memory up to `maxQueuedRows` per table; past that the oldest are dropped and counted.
import { Readable } from 'node:stream';
import { createClient, ClickHouseClient, ClickHouseError } from '@clickhouse/client';
import { RowBinaryEncoder } from './rowBinaryEncoder';
import { TsvEncoder } from './tsvEncoder';

export interface WriterOptions {
  url: string;
  username: string;
  password: string;
  database: string;
  batchRows: number;
  maxQueuedRows: number;
  log: (line: string) => void;
}

export interface TableCounters {
  written: number;
  dropped: number;
  queued: number;
}

export function makeClient(o: Pick<WriterOptions, 'url' | 'username' | 'password'>): ClickHouseClient {
  return createClient({
    url: o.url,
    username: o.username,
    password: o.password,
    request_timeout: 30_000,
    compression: { request: false, response: false },
    // 18.16 rejects settings it does not know, so none are sent by default.
    clickhouse_settings: {},
  });
}

export class ClickHouseWriter {
  readonly client: ClickHouseClient;
  private readonly queues = new Map<string, object[]>();
  private readonly counters = new Map<string, TableCounters>();
  private flushing = false;
  private failingSince = 0;
  private lastError = '';
  private lastErrorLogMs = 0;
  private readonly rowBinary = new RowBinaryEncoder();
  private readonly tsv = new TsvEncoder();
  /** tables whose server refused a RowBinary insert (a table altered by hand?): TabSeparated from then on */
  private readonly textOnly = new Set<string>();

  constructor(private readonly o: WriterOptions) {
    this.client = makeClient(o);
  }

  private counter(table: string): TableCounters {
    let c = this.counters.get(table);
    if (!c) {
      c = { written: 0, dropped: 0, queued: 0 };
      this.counters.set(table, c);
    }
    return c;
  }

  push(table: string, rows: object[]): void {
    if (rows.length === 0) {
      return;
    }
    let q = this.queues.get(table);
    if (!q) {
      q = [];
      this.queues.set(table, q);
    }
    for (const r of rows) {
      q.push(r);
    }
    const over = q.length - this.o.maxQueuedRows;
    if (over > 0) {
      q.splice(0, over);
      this.counter(table).dropped += over;
    }
    this.counter(table).queued = q.length;
  }

  get healthy(): boolean {
    return this.failingSince === 0;
  }

  get error(): string {
    return this.lastError;
  }

  stats(): Record<string, TableCounters> {
    return Object.fromEntries(this.counters);
  }

  queuedRows(): number {
    let n = 0;
    for (const q of this.queues.values()) {
      n += q.length;
    }
    return n;
  }

  /** Sends every queued row; on failure the rows stay queued for the next call. */
  async flush(): Promise<void> {
    if (this.flushing) {
      return;
    }
    this.flushing = true;
    try {
      for (const [table, q] of this.queues) {
        while (q.length) {
          const batch = q.slice(0, this.o.batchRows);
          await this.insert(table, batch);
          q.splice(0, batch.length);
          const c = this.counter(table);
          c.written += batch.length;
          c.queued = q.length;
        }
      }
      if (this.failingSince) {
        this.o.log(`clickhouse: reachable again at ${this.o.url}; queued rows sent`);
      }
      this.failingSince = 0;
      this.lastError = '';
    } catch (err) {
      const msg = (err as Error).message.split('\n')[0];
      if (!this.failingSince) {
        this.failingSince = Date.now();
      }
      this.lastError = msg;
      if (Date.now() - this.lastErrorLogMs > 10_000) {
        this.lastErrorLogMs = Date.now();
        this.o.log(
          `clickhouse: cannot write to ${this.o.url} (${msg}); keeping up to ${this.o.maxQueuedRows} rows per table in memory and retrying. ` +
            'Start it with scripts/clickhouse.sh start, or set FLOWLENS_CLICKHOUSE_URL.'
        );
      }
    } finally {
      this.flushing = false;
    }
  }

  /**
   * RowBinary for tables of the schema (cheapest to write and to parse), TabSeparated where the
   * server refused RowBinary once, JSON for anything outside the schema.
   */
  private async insert(table: string, batch: object[]): Promise<void> {
    const full = `${this.o.database}.${table}`;
    const bin = this.textOnly.has(table) ? null : this.rowBinary.encode(table, batch);
    if (bin && bin.columns.length) {
      try {
        // the column names come from the schema and the database name is checked as an identifier
        const r = await this.client.exec({
          query: `INSERT INTO ${full} (${bin.columns.join(', ')}) FORMAT RowBinary`,
          values: Readable.from([bin.body], { objectMode: false }),
        });
        for await (const _ of r.stream) {
          // an INSERT answers with an empty body; reading it frees the connection
        }
        return;
      } catch (err) {
        if (!(err instanceof ClickHouseError)) {
          throw err; // unreachable server: the batch stays queued
        }
        this.textOnly.add(table);
        this.o.log(`clickhouse: ${full} refused a RowBinary insert (${err.message.split('\n')[0]}); writing it as TabSeparated from now on`);
      }
    }
    const tsv = this.tsv.encode(table, batch);
    if (tsv && tsv.columns.length) {
      await this.client.insert({ table: full, values: Readable.from([Buffer.from(tsv.body)], { objectMode: false }), format: 'TabSeparated', columns: tsv.columns as [string, ...string[]] });
      return;
    }
    await this.client.insert({ table: full, values: batch, format: 'JSONEachRow' });
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
