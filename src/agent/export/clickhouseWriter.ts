// Batched inserts into ClickHouse: one queue of batches per table, each table sending on its own.
// A table's batch goes when it is full (rows or bytes) or when its first row is flushIntervalMs old,
// with at most one INSERT in flight per table: a slow or failing table never delays another, and a
// slow server gets fewer, larger inserts rather than a storm of tiny ones.
// A batch is sealed (its bytes final, a sequence number given) before it is first sent: a retry
// sends the same bytes with the same insert_deduplication_token, so a server that deduplicates
// inserts (modern ClickHouse with the schema's non_replicated_deduplication_window) stores it once.
// The queue is bounded in bytes over all tables, in flight included, and in rows per table; past a
// bound the oldest request logs go first and metrics last, every drop counted per table.
// Rows of the schema's tables are encoded to RowBinary as they arrive, so the queue holds bytes: a
// request log waiting a second for its INSERT as an object was copied by every young-generation GC
// and promoted, which cost the agent more CPU than building it (bench: agent CPU at 10k req/s).
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { createClient, ClickHouseClient, ClickHouseLogLevel } from '@clickhouse/client';
import type { ColumnType, Dialect } from '../../shared/schema';
import { applyMigrations, dialectFor, serverErrorCode, serverVersion, supportsDedupToken } from './migrations';
import { RowBinaryEncoder, RowBinaryWriter, RowCodec } from './rowBinaryEncoder';
import { escapeTsv, TsvEncoder } from './tsvEncoder';
import { columnTypesOf } from './schemaEncoders';

export interface WriterOptions {
  url: string;
  username: string;
  password: string;
  database: string;
  batchRows: number;
  /** rows per table; a batch holds at most a quarter of it, so dropping whole batches keeps the bound */
  maxQueuedRows: number;
  /** encoded bytes of all tables together, INSERTs in flight included (default 64 MiB) */
  maxQueuedBytes?: number;
  /** a batch that is not full goes when its first row is this old; a failed one is retried after as long (default 1000) */
  flushIntervalMs?: number;
  log: (line: string) => void;
}

export interface TableCounters {
  written: number;
  /** rows dropped: queue bounds, or data the table cannot read */
  dropped: number;
  droppedBytes: number;
  /** rows waiting, in flight included */
  queued: number;
  queuedBytes: number;
  /** INSERT attempts */
  inserts: number;
  /** the most INSERT attempts started within one wall-clock second */
  peakInsertsPerSec: number;
  /** re-sends of a batch whose previous attempt may have been stored (the connection broke after the request went out) */
  unknownOutcomeRetries: number;
  unknownOutcomeRows: number;
  /** batches found stored after an unknown outcome (servers without deduplication tokens): not sent again */
  foundStored: number;
  foundStoredRows: number;
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
    // every failed request would be a line of its own: the writer reports failures, rate-limited
    log: { level: ClickHouseLogLevel.OFF },
  });
}

type Format = 'RowBinary' | 'TabSeparated' | 'JSONEachRow';

/** Rows of one table for one INSERT: appended to while open, immutable once sealed. */
interface Batch {
  format: Format;
  /** RowBinary and TabSeparated: the column list of the INSERT */
  columns?: string[];
  codec?: RowCodec;
  /** open RowBinary batch */
  rb?: RowBinaryWriter;
  /** open text batch: one piece per row (JSON) or per push (TabSeparated) */
  text?: string[];
  rows: number;
  bytes: number;
  firstMs: number;
  /** set when closed for appends (full, or about to be sent): the bytes every attempt sends */
  body?: Buffer;
  seq: number;
  inFlight: boolean;
  /** an attempt failed after the request went out: the server may have stored it (stays set) */
  unknownOutcome: boolean;
  /** the first and last rows pushed: looked up before a re-send where the server has no deduplication */
  firstRow?: object;
  lastRow?: object;
}

interface TableQueue {
  name: string;
  /** drop order under the byte bound: request logs first, metrics last */
  rank: number;
  batches: Batch[];
  c: TableCounters;
  /** the attempt in flight: resolves true when the batch left the queue (written, or dropped as unreadable) */
  sending?: Promise<boolean>;
  timer?: NodeJS.Timeout;
  timerAt: number;
  /** after a failure: no attempt before this */
  retryAt: number;
  failing: boolean;
  nextSeq: number;
  secondStart: number;
  insertsThisSecond: number;
}

/**
 * ClickHouse error codes that say the data itself cannot be read (CANNOT_PARSE_TEXT, NO_SUCH_COLUMN_IN_TABLE,
 * CANNOT_PARSE_INPUT_ASSERTION_FAILED, CANNOT_READ_ALL_DATA, UNKNOWN_IDENTIFIER, TYPE_MISMATCH, SYNTAX_ERROR,
 * INCORRECT_DATA, TOO_LARGE_STRING_SIZE): sending it again cannot succeed, so it is dropped (counted).
 * Any other failure (server down, TOO_MANY_PARTS, memory) keeps the rows for the next attempt.
 */
const BAD_DATA_CODES = new Set([6, 16, 27, 33, 47, 53, 62, 117, 131]);
/** UNKNOWN_TABLE, UNKNOWN_DATABASE (the same codes on 18.16 and modern servers): the schema is re-created. */
const MISSING_SCHEMA_CODES = new Set([60, 81]);
/** Drop order under the byte bound (lowest first); tables not named here come between logs and metrics. */
const DROP_RANK: Record<string, number> = {
  l7_flow_log: 0,
  l4_flow_log: 1,
  tcp_timeline: 2,
  profile_samples: 3,
  app_metrics_edge: 5,
  net_metrics: 6,
  app_metrics: 7,
  agent_events: 8,
};
const OTHER_RANK = 4;
const DEFAULT_MAX_QUEUED_BYTES = 64 << 20;
/** a batch never holds more than this many bytes, nor a sixteenth of the byte bound */
const MAX_BATCH_BYTES = 8 << 20;
/** schema re-creation runs at most this often (each is a handful of DDL statements) */
const REPAIR_MIN_GAP_MS = 5000;

/** False when the request surely never reached the server or the server answered with an error (nothing stored). */
function outcomeUnknown(err: unknown): boolean {
  if (serverErrorCode(err) !== undefined) {
    return false;
  }
  const code = (err as NodeJS.ErrnoException).code;
  return code !== 'ECONNREFUSED' && code !== 'ENOTFOUND' && code !== 'EAI_AGAIN';
}

/**
 * Tables whose rows never repeat: an id (l7_flow_log._id), a flow and its interval (l4_flow_log,
 * tcp_timeline), one row per key and interval (app_metrics, profile_samples), or an event of one
 * run at its µs (agent_events). net_metrics is not
 * among them: each poll writes its partial sums, and two equal ones in a second are two real rows.
 */
const ROWS_UNIQUE_BY_VALUE = new Set([
  'l7_flow_log',
  'l4_flow_log',
  'tcp_timeline',
  'app_metrics',
  'profile_samples',
  'agent_events',
]);

const INT_RANGE: Partial<Record<ColumnType, [number, number]>> = {
  DateTime: [0, 2 ** 32 - 1],
  UInt8: [0, 255],
  UInt16: [0, 65535],
  UInt32: [0, 2 ** 32 - 1],
  UInt64: [0, Number.MAX_SAFE_INTEGER],
  Int32: [-(2 ** 31), 2 ** 31 - 1],
};

/**
 * A WHERE clause matching a row of the schema as the encoders store it: integers and strings only
 * (floats and arrays are left out), with `time` so the lookup reads one day's partition. Null
 * when the row says too little to be told apart.
 */
function rowMatch(table: string, row: Record<string, unknown>): string | null {
  if (!ROWS_UNIQUE_BY_VALUE.has(table)) {
    return null;
  }
  const keys = Object.keys(row);
  const types = columnTypesOf(table, keys);
  if (!types || typeof row.time !== 'number') {
    return null;
  }
  const terms: string[] = [];
  keys.forEach((k, i) => {
    const v = row[k];
    const range = INT_RANGE[types[i]];
    if (range && typeof v === 'number' && Number.isInteger(v) && v >= range[0] && v <= range[1]) {
      terms.push(types[i] === 'DateTime' ? `${k} = toDateTime(${v})` : `${k} = ${v}`);
    } else if ((types[i] === 'String' || types[i] === 'LowString') && typeof v === 'string') {
      terms.push(`${k} = '${escapeTsv(v)}'`);
    }
  });
  return terms.length >= 3 && terms.some((x) => x.startsWith('time = ')) ? terms.join(' AND ') : null;
}

const firstLine = (err: unknown) => (err as Error).message.split('\n')[0];

export class ClickHouseWriter {
  readonly client: ClickHouseClient;
  private readonly tables = new Map<string, TableQueue>();
  /** tables in drop order */
  private byRank: TableQueue[] = [];
  private queuedBytesTotal = 0;
  private readonly maxQueuedBytes: number;
  private readonly flushIntervalMs: number;
  private readonly batchRowsCap: number;
  private readonly batchBytesCap: number;
  /** one id per agent run: with the table and batch sequence it names each batch for deduplication */
  private readonly runId = randomBytes(8).toString('hex');
  private dedupTokens = false;
  private started = false;
  private closed = false;
  private failingTables = 0;
  private lastError = '';
  private lastErrorLogMs = 0;
  private repairing?: Promise<boolean>;
  private lastRepairMs = 0;
  private lastRepairLogMs = 0;
  private readonly rowBinary = new RowBinaryEncoder();
  private readonly tsv = new TsvEncoder();
  /** tables whose server dropped a RowBinary batch (a table altered by hand?): TabSeparated from then on */
  private readonly textOnly = new Set<string>();

  constructor(private readonly o: WriterOptions) {
    this.client = makeClient(o);
    this.maxQueuedBytes = o.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES;
    this.flushIntervalMs = o.flushIntervalMs ?? 1000;
    this.batchRowsCap = Math.max(1, Math.min(o.batchRows, Math.floor(o.maxQueuedRows / 4)));
    this.batchBytesCap = Math.max(1, Math.min(MAX_BATCH_BYTES, Math.floor(this.maxQueuedBytes / 16)));
  }

  /**
   * Reads the server's version, applies the migrations and creates any missing table: at start, and
   * again whenever an INSERT finds its table or database gone. Modern servers get deduplication tokens.
   */
  async connect(): Promise<{ version: string; dialect: Dialect; applied: number[] }> {
    const version = await serverVersion(this.client);
    const dialect = dialectFor(version);
    const applied = await applyMigrations(this.client, this.o.database, dialect);
    this.dedupTokens = supportsDedupToken(version);
    return { version, dialect, applied };
  }

  /** From now on each table sends by itself (full or old enough); until then rows only queue. */
  start(): void {
    this.started = true;
    for (const t of this.tables.values()) {
      this.schedule(t);
    }
  }

  private table(name: string): TableQueue {
    let t = this.tables.get(name);
    if (!t) {
      t = {
        name,
        rank: DROP_RANK[name] ?? OTHER_RANK,
        batches: [],
        c: {
          written: 0,
          dropped: 0,
          droppedBytes: 0,
          queued: 0,
          queuedBytes: 0,
          inserts: 0,
          peakInsertsPerSec: 0,
          unknownOutcomeRetries: 0,
          unknownOutcomeRows: 0,
          foundStored: 0,
          foundStoredRows: 0,
        },
        timerAt: 0,
        retryAt: 0,
        failing: false,
        nextSeq: 0,
        secondStart: 0,
        insertsThisSecond: 0,
      };
      this.tables.set(name, t);
      this.byRank = [...this.tables.values()].sort((a, b) => a.rank - b.rank);
    }
    return t;
  }

  push(table: string, rows: object[]): void {
    if (rows.length === 0 || this.closed) {
      return;
    }
    const t = this.table(table);
    const codec = this.textOnly.has(table) ? null : this.rowBinary.forRow(table, rows[0]);
    if (codec) {
      for (const r of rows) {
        const b = this.openBatch(t, 'RowBinary', codec.columns, codec);
        const before = b.rb!.pos;
        codec.encode(r as Record<string, unknown>, b.rb!);
        b.firstRow ??= r;
        b.lastRow = r;
        this.appended(t, b, 1, b.rb!.pos - before);
      }
    } else {
      const tsv = this.tsv.encode(table, rows);
      if (tsv) {
        const b = this.openBatch(t, 'TabSeparated', tsv.columns);
        b.text!.push(tsv.body);
        b.firstRow ??= rows[0];
        b.lastRow = rows[rows.length - 1];
        this.appended(t, b, rows.length, Buffer.byteLength(tsv.body));
      } else {
        for (const r of rows) {
          const b = this.openBatch(t, 'JSONEachRow');
          const line = JSON.stringify(r) + '\n';
          b.text!.push(line);
          this.appended(t, b, 1, Buffer.byteLength(line));
        }
      }
    }
    this.enforceBounds(t);
    this.schedule(t);
  }

  /** The table's open batch for rows of this format and column set; a new one when there is none. */
  private openBatch(t: TableQueue, format: Format, columns?: string[], codec?: RowCodec): Batch {
    const last = t.batches[t.batches.length - 1];
    if (
      last &&
      !last.body &&
      last.format === format &&
      last.codec === codec &&
      (format !== 'TabSeparated' || last.columns!.join() === columns!.join())
    ) {
      return last;
    }
    if (last && !last.body) {
      this.seal(t, last); // a different column set: the batch before it is complete
    }
    const b: Batch = {
      format,
      columns,
      codec,
      rows: 0,
      bytes: 0,
      firstMs: Date.now(),
      seq: -1,
      inFlight: false,
      unknownOutcome: false,
    };
    if (format === 'RowBinary') {
      b.rb = new RowBinaryWriter(16 << 10);
    } else {
      b.text = [];
    }
    t.batches.push(b);
    return b;
  }

  private appended(t: TableQueue, b: Batch, rows: number, bytes: number): void {
    b.rows += rows;
    b.bytes += bytes;
    t.c.queued += rows;
    t.c.queuedBytes += bytes;
    this.queuedBytesTotal += bytes;
    if (b.rows >= this.batchRowsCap || b.bytes >= this.batchBytesCap) {
      this.seal(t, b);
      this.enforceBounds(t); // within one large push too
    }
  }

  /** Closes a batch for appends: its bytes are final (copied to their exact size) and it gets its sequence number. */
  private seal(t: TableQueue, b: Batch): void {
    if (b.body) {
      return;
    }
    b.body = b.rb ? Buffer.from(b.rb.buf.subarray(0, b.rb.pos)) : Buffer.from(b.text!.join(''));
    b.rb = undefined;
    b.text = undefined;
    b.seq = t.nextSeq++;
  }

  /**
   * Per table at most maxQueuedRows (its oldest batches go); over all tables at most maxQueuedBytes:
   * the oldest batch of the first table in drop order (request logs before metrics). A batch in flight
   * stays (at most one per table, each at most a sixteenth of the byte bound).
   */
  private enforceBounds(t: TableQueue): void {
    while (t.c.queued > this.o.maxQueuedRows) {
      const b = t.batches.find((x) => !x.inFlight);
      if (!b) {
        break;
      }
      this.remove(t, b, true);
    }
    while (this.queuedBytesTotal > this.maxQueuedBytes) {
      let victim: [TableQueue, Batch] | undefined;
      for (const v of this.byRank) {
        const b = v.batches.find((x) => !x.inFlight);
        if (b) {
          victim = [v, b];
          break;
        }
      }
      if (!victim) {
        break;
      }
      this.remove(victim[0], victim[1], true);
    }
  }

  private remove(t: TableQueue, b: Batch, dropped: boolean): void {
    const i = t.batches.indexOf(b);
    if (i < 0) {
      return;
    }
    t.batches.splice(i, 1);
    t.c.queued -= b.rows;
    t.c.queuedBytes -= b.bytes;
    this.queuedBytesTotal -= b.bytes;
    if (dropped) {
      t.c.dropped += b.rows;
      t.c.droppedBytes += b.bytes;
    } else {
      t.c.written += b.rows;
    }
  }

  /** When the table's head batch is due: sealed ones at once, an open one when old enough, after a failure not before retryAt. */
  private schedule(t: TableQueue): void {
    if (!this.started || this.closed || t.sending) {
      return;
    }
    const head = t.batches[0];
    if (!head) {
      return;
    }
    const now = Date.now();
    const at = Math.max(t.retryAt, head.body ? now : head.firstMs + this.flushIntervalMs);
    if (at <= now) {
      if (t.timer) {
        clearTimeout(t.timer);
        t.timer = undefined;
      }
      void this.send(t);
      return;
    }
    if (t.timer && t.timerAt <= at) {
      return;
    }
    if (t.timer) {
      clearTimeout(t.timer);
    }
    t.timerAt = at;
    t.timer = setTimeout(() => {
      t.timer = undefined;
      this.schedule(t);
    }, at - now);
    t.timer.unref();
  }

  /** One attempt at the head batch; resolves true when it left the queue. */
  private send(t: TableQueue): Promise<boolean> {
    if (t.sending) {
      return t.sending;
    }
    const b = t.batches[0];
    if (!b) {
      return Promise.resolve(true);
    }
    this.seal(t, b);
    b.inFlight = true;
    t.sending = this.attempt(t, b).finally(() => {
      b.inFlight = false;
      t.sending = undefined;
      this.enforceBounds(t); // rows pushed meanwhile may have waited behind it
      this.schedule(t);
    });
    return t.sending;
  }

  private async attempt(t: TableQueue, b: Batch): Promise<boolean> {
    const now = Date.now();
    const second = now - (now % 1000);
    if (t.secondStart !== second) {
      t.secondStart = second;
      t.insertsThisSecond = 0;
    }
    t.c.peakInsertsPerSec = Math.max(t.c.peakInsertsPerSec, ++t.insertsThisSecond);
    t.c.inserts++;
    try {
      if (b.unknownOutcome && !this.dedupTokens && (await this.stored(t.name, b))) {
        t.c.foundStored++;
        t.c.foundStoredRows += b.rows;
      } else {
        if (b.unknownOutcome) {
          t.c.unknownOutcomeRetries++;
          t.c.unknownOutcomeRows += b.rows;
        }
        await this.insert(t.name, b);
      }
    } catch (err) {
      const code = serverErrorCode(err);
      if (BAD_DATA_CODES.has(code ?? -1)) {
        // unreadable for this table: drop it rather than block the table, and stop using RowBinary
        this.o.log(
          `clickhouse: ${this.o.database}.${t.name} cannot read ${b.rows} rows (${firstLine(err)}); dropped them` +
            (b.format === 'RowBinary' ? ', writing TabSeparated from now on' : '')
        );
        if (b.format === 'RowBinary') {
          this.textOnly.add(t.name);
        }
        this.remove(t, b, true);
        return true;
      }
      b.unknownOutcome ||= outcomeUnknown(err);
      const missing = MISSING_SCHEMA_CODES.has(code ?? -1);
      this.failed(t, err, !missing);
      t.retryAt = Date.now() + this.flushIntervalMs;
      if (missing && (await this.repair(t, err))) {
        t.retryAt = 0; // the schema is back: at once
      }
      return false;
    }
    this.remove(t, b, false);
    t.retryAt = 0;
    if (t.failing) {
      t.failing = false;
      if (--this.failingTables === 0) {
        this.lastError = '';
        this.o.log(`clickhouse: reachable again at ${this.o.url}; queued rows sent`);
      }
    }
    return true;
  }

  private failed(t: TableQueue, err: unknown, say: boolean): void {
    const msg = firstLine(err);
    if (!t.failing) {
      t.failing = true;
      this.failingTables++;
    }
    this.lastError = msg;
    if (say && Date.now() - this.lastErrorLogMs > 10_000) {
      this.lastErrorLogMs = Date.now();
      this.o.log(
        `clickhouse: cannot write to ${this.o.url} (${msg}); keeping up to ${Math.round(this.maxQueuedBytes / 2 ** 20)} MiB of rows in memory and retrying. ` +
          'Start it with scripts/clickhouse.sh start, or set FLOWLENS_CLICKHOUSE_URL.'
      );
    }
  }

  /** Re-creates the schema after a missing table or database: one run at a time, at most every REPAIR_MIN_GAP_MS. */
  private repair(t: TableQueue, err: unknown): Promise<boolean> {
    if (this.repairing) {
      return this.repairing;
    }
    const now = Date.now();
    if (now - this.lastRepairMs < REPAIR_MIN_GAP_MS) {
      return Promise.resolve(false);
    }
    this.lastRepairMs = now;
    const say = now - this.lastRepairLogMs > 60_000;
    if (say) {
      this.lastRepairLogMs = now;
      this.o.log(
        `clickhouse: ${this.o.database}.${t.name}: ${firstLine(err)}; re-creating the schema (migrations, then every missing table)`
      );
    }
    this.repairing = this.connect().then(
      ({ applied }) => {
        if (say) {
          this.o.log(
            `clickhouse: schema of ${this.o.database} re-created${applied.length ? ` (applied migrations ${applied.join(',')})` : ''}`
          );
        }
        return true;
      },
      (e) => {
        if (say) {
          this.o.log(
            `clickhouse: cannot re-create the schema of ${this.o.database} (${firstLine(e)}); trying again in ${REPAIR_MIN_GAP_MS / 1000} s`
          );
        }
        return false;
      }
    );
    void this.repairing.finally(() => (this.repairing = undefined));
    return this.repairing;
  }

  get healthy(): boolean {
    return this.failingTables === 0;
  }

  get error(): string {
    return this.lastError;
  }

  stats(): Record<string, TableCounters> {
    return Object.fromEntries([...this.tables].map(([name, t]) => [name, t.c]));
  }

  queuedRows(): number {
    let n = 0;
    for (const t of this.tables.values()) {
      n += t.c.queued;
    }
    return n;
  }

  queuedBytes(): number {
    return this.queuedBytesTotal;
  }

  /** For the status line: rows dropped in all, then per table with their bytes ("0" when none). */
  dropText(): string {
    const dropped = [...this.tables.values()].filter((t) => t.c.dropped > 0);
    const rows = dropped.reduce((n, t) => n + t.c.dropped, 0);
    return rows
      ? `${rows} (${dropped.map((t) => `${t.name} ${t.c.dropped} rows ${Math.ceil(t.c.droppedBytes / 1024)} KiB`).join(', ')})`
      : '0';
  }

  /** For the status line: INSERTs per table (peak per second), and re-sends whose earlier attempt may have been stored. */
  statusText(): string {
    const ts = [...this.tables.values()].filter((t) => t.c.inserts > 0);
    const retried = ts.reduce((n, t) => n + t.c.unknownOutcomeRetries, 0);
    const retriedRows = ts.reduce((n, t) => n + t.c.unknownOutcomeRows, 0);
    const found = ts.reduce((n, t) => n + t.c.foundStored, 0);
    return (
      `inserts ${ts.map((t) => `${t.name} ${t.c.inserts} (peak ${t.c.peakInsertsPerSec}/s)`).join(', ') || 'none'}; ` +
      `retried after unknown outcome ${retried} batches (${retriedRows} rows)${this.dedupTokens ? ', deduplicated by token' : `, found stored ${found}`}`
    );
  }

  /** Seals every open batch and sends every table's queue (tables concurrently); a table stops at its first failure. */
  async flush(): Promise<void> {
    const tables = [...this.tables.values()];
    for (const t of tables) {
      const last = t.batches[t.batches.length - 1];
      if (last) {
        this.seal(t, last);
      }
    }
    await Promise.all(tables.map((t) => this.flushTable(t)));
  }

  private async flushTable(t: TableQueue): Promise<void> {
    while (t.batches.length && t.batches[0].body) {
      if (!(await (t.sending ?? this.send(t)))) {
        return;
      }
    }
  }

  /**
   * Whether a batch whose INSERT may have been stored (its answer was lost) is in the table: its
   * first and last rows are looked up by their values. 18.16 cannot deduplicate a retried INSERT, so
   * this is what keeps a lost answer from storing the rows twice. False when it cannot tell.
   */
  private async stored(table: string, b: Batch): Promise<boolean> {
    for (const row of [b.firstRow, b.lastRow]) {
      const where = row && rowMatch(table, row as Record<string, unknown>);
      if (!where) {
        return false;
      }
      const rs = await this.client.query({
        query: `SELECT count() AS n FROM ${this.o.database}.${table} WHERE ${where}`,
        format: 'JSONEachRow',
      });
      const found = (await rs.json()) as Array<{ n: string | number }>;
      if (!(Number(found[0]?.n) > 0)) {
        return false;
      }
    }
    return true;
  }

  /** One INSERT of a sealed batch: the same bytes and deduplication token on every attempt. */
  private async insert(table: string, b: Batch): Promise<void> {
    // the column names come from the schema and the database name is checked as an identifier
    const columns = b.columns ? ` (${b.columns.join(', ')})` : '';
    const r = await this.client.exec({
      query: `INSERT INTO ${this.o.database}.${table}${columns} FORMAT ${b.format}`,
      values: Readable.from([b.body!], { objectMode: false }),
      clickhouse_settings: this.dedupTokens
        ? { insert_deduplication_token: `${this.runId}-${table}-${b.seq}` }
        : undefined,
    });
    for await (const _ of r.stream) {
      // an INSERT answers with an empty body; reading it frees the connection
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.tables.values()) {
      if (t.timer) {
        clearTimeout(t.timer);
      }
    }
    await this.client.close();
  }
}
