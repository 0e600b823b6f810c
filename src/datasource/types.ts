import type { DataSourceJsonData } from '@grafana/data';
import type { DataQuery } from '@grafana/schema';

/** Query types the Go backend (pkg/) implements; the JSON value is the contract. */
export type FlowLensQueryType = 'red' | 'map' | 'sql_log';

export const QUERY_TYPES: Array<{ value: FlowLensQueryType; label: string; description: string }> = [
  { value: 'red', label: 'RED', description: 'Requests, errors and latency per service as time series' },
  { value: 'map', label: 'Universal Map', description: 'Services as nodes and calls as edges (node-graph frames)' },
  { value: 'sql_log', label: 'Request log', description: 'Rows of l7_flow_log' },
];

/** Optional filters; the field names are read by the backend as-is. Empty string = no filter. */
export const FILTER_KEYS = ['service', 'l7_protocol', 'observation_point', 'endpoint'] as const;
export type FilterKey = (typeof FILTER_KEYS)[number];

/** RED series the backend returns for `metric` (default `all`). */
export type RedMetric = 'all' | 'request_rate' | 'error_rate' | 'error_ratio' | 'latency_avg' | 'latency_max';

export const RED_METRICS: Array<{ value: RedMetric; label: string }> = [
  { value: 'all', label: 'All' },
  { value: 'request_rate', label: 'Requests/s' },
  { value: 'error_rate', label: 'Errors/s' },
  { value: 'error_ratio', label: 'Error ratio' },
  { value: 'latency_avg', label: 'Avg latency' },
  { value: 'latency_max', label: 'Max latency' },
];

/** Besides the five points: `preferred` (backend default: one point per call) and `all`. */
export const OBSERVATION_POINT_CHOICES = ['preferred', 'all'] as const;

export interface FlowLensQuery extends DataQuery {
  queryType?: FlowLensQueryType;
  /** red only */
  metric?: RedMetric;
  service?: string;
  l7_protocol?: string;
  observation_point?: string;
  endpoint?: string;
}

export const DEFAULT_QUERY: Partial<FlowLensQuery> = { queryType: 'red' };

export interface FlowLensOptions extends DataSourceJsonData {
  url?: string;
  database?: string;
  username?: string;
  /** Per-query bounds the backend enforces (pkg/plugin/settings.go); unset = the backend's default. */
  queryTimeout?: number; // seconds (30), at most 3600
  maxMemoryUsage?: number; // bytes (2e9)
  maxRowsToRead?: number; // (2e9)
  maxResultRows?: number; // (2e6)
  maxResponseBytes?: number; // (64 MiB)
  maxSeries?: number; // RED services per query (100)
  maxSpanDays?: Partial<Record<'red' | 'map' | 'sql_log' | 'trace' | 'flamegraph', number>>; // 31, 31, 7, 7, 7
}

export interface FlowLensSecureOptions {
  password?: string;
}

export const DEFAULT_OPTIONS: Required<Pick<FlowLensOptions, 'url' | 'database' | 'username'>> = {
  url: 'http://127.0.0.1:18123',
  database: 'flowlens',
  username: 'grafana',
};
