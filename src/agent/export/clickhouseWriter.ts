// Batched inserts into ClickHouse, one bounded queue per table. While ClickHouse is down rows
// wait in memory up to `maxQueuedRows` per table; past that the oldest are dropped and counted.
// Rows of the schema's tables are encoded to RowBinary as they arrive, so the queue holds bytes: a
// request log waiting a second for its INSERT as an object was copied by every young-generation GC
// and promoted, which cost the agent more CPU than building it (bench: agent CPU at 10k req/s).
import { Readable } from 'node:stream';
import { createClient, ClickHouseClient, ClickHouseError } from '@clickhouse/client';
import { RowBinaryEncoder, RowBinaryWriter, RowCodec } from './rowBinaryEncoder';
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

/** Queued rows of one table: encoded (one INSERT of one column set) or, outside the schema, objects. */
interface Chunk {
  rows: number;
  codec?: RowCodec;
  body?: RowBinaryWriter;
  objects?: object[];
  /** being sent: rows pushed meanwhile start a new chunk */
  sealed: boolean;
}

/**
 * ClickHouse error codes that say the data itself cannot be read (CANNOT_PARSE_TEXT, NO_SUCH_COLUMN_IN_TABLE,
 * CANNOT_PARSE_INPUT_ASSERTION_FAILED, CANNOT_READ_ALL_DATA, UNKNOWN_IDENTIFIER, TYPE_MISMATCH, SYNTAX_ERROR,
 * INCORRECT_DATA, TOO_LARGE_STRING_SIZE): sending it again cannot succeed, so it is dropped (counted).
 * Any other failure (server down, TOO_MANY_PARTS, memory) keeps the rows for the next flush.
 */
const BAD_DATA_CODES = new Set([6, 16, 27, 33, 47, 53, 62, 117, 131]);

/** The server's error code: from ClickHouseError, or from the text (the client does not parse 18.16's "Code: 16, e.displayText() = ..."). */
function serverErrorCode(err: unknown): number | undefined {
  if (err instanceof ClickHouseError) {
    return Number(err.code);
  }
  const m = /^Code: (\d+)[.,]/.exec(err instanceof Error ? err.message : '');
  return m ? Number(m[1]) : undefined;
}

export class ClickHouseWriter {
  readonly client: ClickHouseClient;
  private readonly queues = new Map<string, Chunk[]>();
  private readonly counters = new Map<string, TableCounters>();
  private flushing = false;
  private failingSince = 0;
  private lastError = '';
  private lastErrorLogMs = 0;
  private readonly rowBinary = new RowBinaryEncoder();
  private readonly tsv = new TsvEncoder();
  /** tables whose server dropped a RowBinary chunk (a table altered by hand?): TabSeparated from then on */
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
    const codec = this.textOnly.has(table) ? null : this.rowBinary.forRow(table, rows[0]);
    let last = q.length ? q[q.length - 1] : undefined;
    if (!last || last.sealed || last.rows >= this.o.batchRows || last.codec !== (codec ?? undefined)) {
      last = codec ? { rows: 0, codec, body: new RowBinaryWriter(), sealed: false } : { rows: 0, objects: [], sealed: false };
      q.push(last);
    }
    if (codec) {
      const w = last.body!;
      for (const r of rows) {
        codec.encode(r as Record<string, unknown>, w);
      }
    } else {
      for (const r of rows) {
        last.objects!.push(r);
      }
    }
    last.rows += rows.length;
    const c = this.counter(table);
    c.queued += rows.length;
    // past the bound the oldest rows go (whole chunks; an object chunk loses just the excess),
    // except those of an INSERT in flight
    while (c.queued > this.o.maxQueuedRows) {
      const at = q[0].sealed ? 1 : 0;
      const first = q[at];
      if (!first || first === last) {
        break; // what is left is in flight or just pushed
      }
      const over = c.queued - this.o.maxQueuedRows;
      const n = first.objects && first.rows > over ? over : first.rows;
      if (n === first.rows) {
        q.splice(at, 1);
      } else {
        first.objects!.splice(0, n);
        first.rows -= n;
      }
      c.dropped += n;
      c.queued -= n;
    }
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
    for (const c of this.counters.values()) {
      n += c.queued;
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
          const chunk = q[0];
          chunk.sealed = true;
          const sent = chunk.rows;
          const c = this.counter(table);
          try {
            await this.insert(table, chunk);
            c.written += sent;
          } catch (err) {
            if (!BAD_DATA_CODES.has(serverErrorCode(err) ?? -1)) {
              chunk.sealed = false;
              throw err; // kept for the next flush
            }
            // unreadable for this table: drop it rather than block the table, and stop using RowBinary
            this.o.log(`clickhouse: ${this.o.database}.${table} cannot read ${sent} rows (${(err as Error).message.split('\n')[0]}); dropped them` + (chunk.codec ? ', writing TabSeparated from now on' : ''));
            if (chunk.codec) {
              this.textOnly.add(table);
            }
            c.dropped += sent;
          }
          q.shift();
          c.queued -= sent;
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

  /** An encoded chunk as RowBinary; object rows as TabSeparated, or JSON outside the schema. */
  private async insert(table: string, chunk: Chunk): Promise<void> {
    const full = `${this.o.database}.${table}`;
    if (chunk.codec) {
      // the column names come from the schema and the database name is checked as an identifier
      const r = await this.client.exec({
        query: `INSERT INTO ${full} (${chunk.codec.columns.join(', ')}) FORMAT RowBinary`,
        values: Readable.from([chunk.body!.bytes()], { objectMode: false }),
      });
      for await (const _ of r.stream) {
        // an INSERT answers with an empty body; reading it frees the connection
      }
      return;
    }
    const batch = chunk.objects!;
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
