// RED metrics per second from every request log row (before any sampling), for app_metrics.
// Bounded: a second holds at most `maxRowsPerSecond` rows (series x endpoint); the requests of
// further new ones that second are counted in one `(other)` row per observation point and protocol,
// so a flood of distinct names (spoofed sources, random paths) cannot grow the agent or app_metrics,
// while sums over any filter that does not name a series keep every request.
import { LATENCY_BUCKETS_US, latencySketchKey } from '../../shared/schema';
import type { L7FlowLogRow } from '../requestlog/l7FlowLog';
import type { TableStats } from '../lruMap';

/** Distinct (series, endpoint) rows per second before the overflow row; ~400 bytes each. */
export const DEFAULT_MAX_RED_ROWS_PER_SECOND = 10000;
/** client_service, server_service (and endpoint) of a row summing what a bound left unnamed (app_metrics, net_metrics) */
export const OVERFLOW_NAME = '(other)';

export interface AppMetricsRow {
  time: number;
  host: string;
  observation_point: string;
  client_service: string;
  server_service: string;
  l7_protocol: string;
  endpoint: string;
  server_port: number;
  request_count: number;
  error_count: number;
  client_error_count: number;
  server_error_count: number;
  timeout_count: number;
  response_duration_sum_us: number;
  response_duration_max_us: number;
  latency_histogram: number[];
  request_bytes: number;
  response_bytes: number;
  /** sketch keys, ascending, and their counts: filled from the row's sketch when it is flushed */
  latency_sketch_keys: number[];
  latency_sketch_counts: number[];
}

export function latencyBucket(us: number): number {
  // few buckets: a linear scan beats a binary search here
  for (let i = 0; i < LATENCY_BUCKETS_US.length; i++) {
    if (us <= LATENCY_BUCKETS_US[i]) {
      return i;
    }
  }
  return LATENCY_BUCKETS_US.length;
}

/** Decimal strings of ports, made once: a RED key is built for every request log. */
const PORT_STRINGS: string[] = [];
function portString(port: number): string {
  return (PORT_STRINGS[port] ??= String(port));
}

/**
 * The part of a RED key that stays the same for every request of one connection at one
 * observation point. Kept by the caller (per connection) so the string is built and hashed once,
 * not for every request log; checked by reference against the row's strings.
 */
export interface RedSeries {
  observationPoint: string;
  clientService: string;
  serverService: string;
  protocol: string;
  serverPort: number;
  key: string;
}

interface Second {
  /** series -> endpoint -> row: short keys, and series keys whose hash V8 has cached */
  bySeries: Map<string, Map<string, AppMetricsRow>>;
  /** rows in bySeries, overflow rows apart */
  rows: number;
  /** each row's latency sketch (key -> requests) until the row is flushed */
  sketches: Map<AppMetricsRow, Map<number, number>>;
}

export class RedAggregator {
  private seconds = new Map<number, Second>();
  /** requests counted in an overflow row because their second was full */
  overflowRequests = 0;
  /** most rows held for one second, to show against the bound */
  private peakRows = 0;

  constructor(private readonly maxRowsPerSecond = DEFAULT_MAX_RED_ROWS_PER_SECOND) {}

  /** The series of row `r`: `cached` when it still names the same ends, else a new one. */
  static series(r: L7FlowLogRow, cached?: RedSeries): RedSeries {
    if (
      cached &&
      cached.observationPoint === r.observation_point &&
      cached.clientService === r.client_service &&
      cached.serverService === r.server_service &&
      cached.protocol === r.l7_protocol &&
      cached.serverPort === r.server_port
    ) {
      return cached;
    }
    return {
      observationPoint: r.observation_point,
      clientService: r.client_service,
      serverService: r.server_service,
      protocol: r.l7_protocol,
      serverPort: r.server_port,
      // NUL cannot occur in a process or service name: names with '|' do not run into each other
      key:
        r.observation_point +
        '\0' +
        r.client_service +
        '\0' +
        r.server_service +
        '\0' +
        r.l7_protocol +
        '\0' +
        portString(r.server_port),
    };
  }

  /** Counts `r`; `series` is RedAggregator.series(r, ...) when the caller keeps one per connection. */
  add(r: L7FlowLogRow, series: RedSeries = RedAggregator.series(r)): void {
    let sec = this.seconds.get(r.time);
    if (!sec) {
      sec = { bySeries: new Map(), rows: 0, sketches: new Map() };
      this.seconds.set(r.time, sec);
    }
    let m = sec.bySeries.get(series.key)?.get(r.endpoint);
    if (!m) {
      m = this.newRow(sec, r, series.key);
    }
    m.request_count++;
    switch (r.response_status) {
      case 'client_error':
        m.client_error_count++;
        m.error_count++;
        break;
      case 'server_error':
        m.server_error_count++;
        m.error_count++;
        break;
      case 'timeout':
        m.timeout_count++;
        m.error_count++;
        break;
    }
    m.response_duration_sum_us += r.response_duration_us;
    if (r.response_duration_us > m.response_duration_max_us) {
      m.response_duration_max_us = r.response_duration_us;
    }
    m.latency_histogram[latencyBucket(r.response_duration_us)]++;
    const sketch = sec.sketches.get(m)!;
    const key = latencySketchKey(r.response_duration_us);
    sketch.set(key, (sketch.get(key) ?? 0) + 1);
    m.request_bytes += r.request_length;
    m.response_bytes += r.response_length;
  }

  /** The row of `r`'s series and endpoint in second `sec`, new; the second's overflow row when it is full. */
  private newRow(sec: Second, r: L7FlowLogRow, seriesKey: string): AppMetricsRow {
    const full = sec.rows >= this.maxRowsPerSecond;
    if (full) {
      this.overflowRequests++;
      seriesKey = '\0' + r.observation_point + '\0' + r.l7_protocol; // no series key starts with NUL
    }
    const endpoint = full ? OVERFLOW_NAME : r.endpoint;
    let buckets = sec.bySeries.get(seriesKey);
    if (!buckets) {
      buckets = new Map();
      sec.bySeries.set(seriesKey, buckets);
    }
    let m = buckets.get(endpoint);
    if (m) {
      return m; // the overflow row, made by an earlier request
    }
    m = {
      time: r.time,
      host: r.host,
      observation_point: r.observation_point,
      client_service: full ? OVERFLOW_NAME : r.client_service,
      server_service: full ? OVERFLOW_NAME : r.server_service,
      l7_protocol: r.l7_protocol,
      endpoint,
      server_port: full ? 0 : r.server_port,
      request_count: 0,
      error_count: 0,
      client_error_count: 0,
      server_error_count: 0,
      timeout_count: 0,
      response_duration_sum_us: 0,
      response_duration_max_us: 0,
      latency_histogram: new Array(LATENCY_BUCKETS_US.length + 1).fill(0),
      request_bytes: 0,
      response_bytes: 0,
      latency_sketch_keys: [],
      latency_sketch_counts: [],
    };
    buckets.set(endpoint, m);
    sec.sketches.set(m, new Map());
    if (!full) {
      sec.rows++;
      this.peakRows = Math.max(this.peakRows, sec.rows);
    }
    return m;
  }

  /** Rows per second (the most held for one second since the last call) against the bound; "evicted" are overflowed requests. */
  stats(): TableStats {
    const s = { name: 'red rows/s', size: this.peakRows, max: this.maxRowsPerSecond, evicted: this.overflowRequests };
    this.peakRows = 0;
    return s;
  }

  /**
   * Rows for seconds before `beforeSec` (all when undefined). A request finishing after its second
   * was flushed yields a second row for the same key: queries always sum(), so totals stay exact.
   */
  flush(beforeSec?: number): AppMetricsRow[] {
    const out: AppMetricsRow[] = [];
    for (const [sec, { bySeries, sketches }] of this.seconds) {
      if (beforeSec === undefined || sec < beforeSec) {
        for (const buckets of bySeries.values()) {
          for (const m of buckets.values()) {
            const keys = [...sketches.get(m)!.keys()].sort((a, b) => a - b);
            m.latency_sketch_keys = keys;
            m.latency_sketch_counts = keys.map((k) => sketches.get(m)!.get(k)!);
            out.push(m);
          }
        }
        this.seconds.delete(sec);
      }
    }
    return out;
  }
}
