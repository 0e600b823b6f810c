// RED metrics per second from every request log row (before any sampling), for app_metrics.
import { LATENCY_BUCKETS_US } from '../../shared/schema';
import type { L7FlowLogRow } from '../requestlog/l7FlowLog';

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

export class RedAggregator {
  /** second -> series -> endpoint -> row: short keys, and series keys whose hash V8 has cached */
  private seconds = new Map<number, Map<string, Map<string, AppMetricsRow>>>();

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
      key: r.observation_point + '\0' + r.client_service + '\0' + r.server_service + '\0' + r.l7_protocol + '\0' + portString(r.server_port),
    };
  }

  /** Counts `r`; `series` is RedAggregator.series(r, ...) when the caller keeps one per connection. */
  add(r: L7FlowLogRow, series: RedSeries = RedAggregator.series(r)): void {
    let bySeries = this.seconds.get(r.time);
    if (!bySeries) {
      bySeries = new Map();
      this.seconds.set(r.time, bySeries);
    }
    let buckets = bySeries.get(series.key);
    if (!buckets) {
      buckets = new Map();
      bySeries.set(series.key, buckets);
    }
    const key = r.endpoint;
    let m = buckets.get(key);
    if (!m) {
      m = {
        time: r.time,
        host: r.host,
        observation_point: r.observation_point,
        client_service: r.client_service,
        server_service: r.server_service,
        l7_protocol: r.l7_protocol,
        endpoint: r.endpoint,
        server_port: r.server_port,
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
      };
      buckets.set(key, m);
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
    m.request_bytes += r.request_length;
    m.response_bytes += r.response_length;
  }

  /**
   * Rows for seconds before `beforeSec` (all when undefined). A request finishing after its second
   * was flushed yields a second row for the same key: queries always sum(), so totals stay exact.
   */
  flush(beforeSec?: number): AppMetricsRow[] {
    const out: AppMetricsRow[] = [];
    for (const [sec, bySeries] of this.seconds) {
      if (beforeSec === undefined || sec < beforeSec) {
        for (const buckets of bySeries.values()) {
          for (const m of buckets.values()) {
            out.push(m);
          }
        }
        this.seconds.delete(sec);
      }
    }
    return out;
  }
}
