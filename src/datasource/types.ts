import type { DataSourceJsonData } from '@grafana/data';
import type { DataQuery } from '@grafana/schema';

/** Query types the Go backend (pkg/) implements; the JSON value is the contract. */
export type FlowLensQueryType =
  | 'red'
  | 'map'
  | 'sql_log'
  | 'trace_search'
  | 'trace'
  | 'flow_log'
  | 'net_metrics'
  | 'netprofile'
  | 'netprofile_summary'
  | 'flamegraph'
  | 'triage'
  | 'annotations';

export const QUERY_TYPES: Array<{ value: FlowLensQueryType; label: string; description: string }> = [
  { value: 'red', label: 'RED', description: 'Requests, errors and latency per service as time series' },
  { value: 'map', label: 'Universal Map', description: 'Services as nodes and calls as edges (node-graph frames)' },
  { value: 'sql_log', label: 'Request log', description: 'Rows of l7_flow_log, as log lines or a table' },
  {
    value: 'trace_search',
    label: 'Trace search',
    description: 'Traces (one row per entry request) matching the filters',
  },
  {
    value: 'trace',
    label: 'Trace',
    description: 'The full-stack trace of one request (row id + time, trace id or X-Request-ID)',
  },
  { value: 'flow_log', label: 'Flow log', description: 'Rows of l4_flow_log (TCP/UDP flows), as log lines or a table' },
  {
    value: 'net_metrics',
    label: 'Network metrics',
    description: 'Bytes, retransmissions, RSTs, failed connections, zero windows and RTT per client→server edge',
  },
  {
    value: 'netprofile',
    label: 'Network profile',
    description: "One TCP flow's packets at each observation point and its four latencies",
  },
  {
    value: 'netprofile_summary',
    label: 'Network profile summary',
    description:
      'The four network-profile latencies (connection, ACK, server response, client wait) per client→server edge over time',
  },
  {
    value: 'flamegraph',
    label: 'Flame graph',
    description:
      'On-CPU or off-CPU stacks of a service, process or thread (flame graph frame), or the diff against a baseline',
  },
  {
    value: 'triage',
    label: 'Triage',
    description:
      'Where the problem is: ranked suspects of a service or edge over the time range against a baseline, with evidence',
  },
  {
    value: 'annotations',
    label: 'Events',
    description: "FlowLens events as annotations: a service's error-rate spike, a new service first seen",
  },
];

/** triage: the baseline when baselineFrom/baselineTo are not given (pkg/query/triage.go). */
export type TriageBaseline = 'before' | 'previous_hour';

/** The columns of a triage answer's one table frame: a row per suspect (rank ≥ 1), then a row per note
 * (rank 0, place 'note'). */
export type TriagePlace =
  | 'client_app'
  | 'client_nic'
  | 'network_path'
  | 'gateway'
  | 'server_nic'
  | 'server_app'
  | 'dependency'
  | 'dns'
  | 'note';
export type TriageKind =
  | 'latency'
  | 'errors'
  | 'connection_failures'
  | 'resets'
  | 'retransmissions'
  | 'zero_windows'
  | 'client_wait'
  | 'cpu'
  | '';
export const TRIAGE_FIELDS = [
  'rank',
  'place',
  'kind',
  'service',
  'client_service',
  'server_service',
  'function',
  'score',
  'confidence',
  'evidence',
] as const;

/** FlowLens events an annotation query lists (pkg/query/annotations.go AnnotationKinds). */
export type AnnotationKind = 'error_spike' | 'new_service' | 'agent_restart' | 'agent_stop';

export const ANNOTATION_KINDS: Array<{ value: AnnotationKind; label: string; description: string }> = [
  {
    value: 'error_spike',
    label: 'Error-rate spike',
    description: 'a service whose error ratio is above the threshold over a minute with enough requests (one region)',
  },
  {
    value: 'new_service',
    label: 'New service',
    description: 'a service first seen in the range (absent the 7 days before)',
  },
  {
    value: 'agent_restart',
    label: 'Agent restart',
    description: "a FlowLens agent started: whether its host's previous run stopped cleanly or crashed / was killed",
  },
  {
    value: 'agent_stop',
    label: 'Agent stop',
    description: 'a FlowLens agent stopped cleanly (why, after how long)',
  },
];

/** Annotation kinds of the agents' own events: per host (the host option, a host tag filter), not narrowed by service or other tags. */
export const AGENT_ANNOTATION_KINDS: ReadonlySet<AnnotationKind> = new Set<AnnotationKind>([
  'agent_restart',
  'agent_stop',
]);

/**
 * Tag filters (pkg/query/tags.go TagFilters): tag -> the values one end must have. Typed, never a glob:
 * each value may hold variables (a multi-value one gives each of its values, All drops the tag).
 */
export type TagFilters = Record<string, string | string[]>;

/** Query types that take tag filters (and so dashboard ad-hoc filters). */
export const TAGGED_QUERY_TYPES: ReadonlySet<FlowLensQueryType> = new Set<FlowLensQueryType>([
  'red',
  'map',
  'sql_log',
  'trace_search',
  'flow_log',
  'net_metrics',
  'netprofile_summary',
  'flamegraph',
  'annotations',
]);

/** The profiles a flame graph query reads (profile_samples.event): on-CPU samples, off-CPU time blocked. */
export type ProfileEvent = 'on_cpu' | 'off_cpu';

/** The flame graph query's filters with a picker (pkg/query/flamegraph.go FlameModel): one value, a variable, or a list. */
export const FLAME_PICKERS = ['service', 'process', 'host', 'pid', 'tid'] as const;
export type FlamePicker = (typeof FLAME_PICKERS)[number];

/** Options only the flame graph query has: dropped on a switch to another type. */
export const FLAME_KEYS = [
  'event',
  'process',
  'host',
  'pid',
  'tid',
  'baselineFrom',
  'baselineTo',
  'span_start_us',
  'span_duration_us',
] as const;

/** Request-log output: Grafana log lines (Logs panel, Explore) or one column per l7_flow_log column. */
export type LogFormat = 'logs' | 'table';

/**
 * Text options the backend reads as-is (pkg/query/model.go, pkg/query/trace.go); each may hold template
 * variables. Numbers are kept as text so a variable can stand for them. Empty string = not set.
 */
export const FILTER_KEYS = [
  'service',
  'client_service',
  'l7_protocol',
  'observation_point',
  'endpoint',
  'request_type',
  'response_code',
  'status',
  'min_duration_ms',
  'max_duration_ms',
  'search',
  'trace_id',
  'request_id',
  'row_id',
  'time',
  'limit',
  'verdicts',
  // the network query types (pkg/query/network.go NetModel; checked by pkg/query/network_test.go)
  'server_process',
  'client_process',
  'server_ip',
  'client_ip',
  'server_port',
  'client_port',
  'host',
  'close_type',
  'rst_sender',
  'conn_failed',
  'min_retrans',
  'min_rtt_ms',
  // sql_log: slowest first, and the serving process's pid (pkg/query/model.go Model)
  'order_by',
  'server_pid',
] as const;
export type FilterKey = (typeof FILTER_KEYS)[number];

/** Options only request rows have (sql_log, trace_search): RED and the map reject them, so a switch to those drops them. */
export const REQUEST_KEYS: FilterKey[] = [
  'request_type',
  'response_code',
  'status',
  'min_duration_ms',
  'max_duration_ms',
  'search',
  'trace_id',
  'request_id',
  'limit',
];

/** The trace query's own inputs. */
export const TRACE_KEYS: FilterKey[] = ['row_id', 'time', 'trace_id', 'request_id'];

/**
 * Filters that take several values (pkg/query Values): a multi-value variable fills them with an
 * array, "All" leaves them out (FlowLensDataSource.applyTemplateVariables).
 */
export const LIST_KEYS = [
  'service',
  'client_service',
  'l7_protocol',
  'endpoint',
  'request_type',
  'response_code',
  'status',
] as const satisfies readonly FilterKey[];
export type ListKey = (typeof LIST_KEYS)[number];

/** The options of each network query type (NetModel), in the editor's order. */
export const FLOW_LOG_KEYS: FilterKey[] = [
  'service',
  'client_service',
  'server_process',
  'client_process',
  'server_ip',
  'client_ip',
  'server_port',
  'client_port',
  'host',
  'observation_point',
  'close_type',
  'rst_sender',
  'conn_failed',
  'min_retrans',
  'min_rtt_ms',
  'limit',
];
export const NET_METRICS_KEYS: FilterKey[] = ['service', 'client_service', 'server_port', 'host', 'observation_point'];
export const NETPROFILE_KEYS: FilterKey[] = [
  'client_ip',
  'client_port',
  'server_ip',
  'server_port',
  'host',
  'observation_point',
];

/** netprofile_summary: the edge filters of net_metrics, and the flow's ends (tcp_timeline keeps them). */
export const NETPROFILE_SUMMARY_KEYS: FilterKey[] = [
  'service',
  'client_service',
  'client_ip',
  'server_ip',
  'server_port',
  'host',
  'observation_point',
];

/** The four latencies per edge the backend returns for `metric` of netprofile_summary (default `all`), in ms. */
export type ProfileMetric =
  | 'all'
  | 'conn_latency_avg'
  | 'conn_latency_max'
  | 'ack_latency_avg'
  | 'ack_latency_max'
  | 'server_response_avg'
  | 'server_response_max'
  | 'client_wait_avg'
  | 'client_wait_max';

export const PROFILE_METRICS: Array<{ value: ProfileMetric; label: string }> = [
  { value: 'all', label: 'All' },
  { value: 'conn_latency_avg', label: 'Connect avg' },
  { value: 'conn_latency_max', label: 'Connect max' },
  { value: 'ack_latency_avg', label: 'ACK avg' },
  { value: 'ack_latency_max', label: 'ACK max' },
  { value: 'server_response_avg', label: 'Response avg' },
  { value: 'server_response_max', label: 'Response max' },
  { value: 'client_wait_avg', label: 'Client wait avg' },
  { value: 'client_wait_max', label: 'Client wait max' },
];

/** Network series the backend returns for `metric` of net_metrics (default `all`). */
export type NetMetric =
  | 'all'
  | 'byte_rate'
  | 'retrans_rate'
  | 'retrans_ratio'
  | 'rst_rate'
  | 'conn_failed_rate'
  | 'zero_window_rate'
  | 'rtt_avg';

export const NET_METRICS: Array<{ value: NetMetric; label: string }> = [
  { value: 'all', label: 'All' },
  { value: 'byte_rate', label: 'Bytes/s' },
  { value: 'retrans_rate', label: 'Retrans/s' },
  { value: 'retrans_ratio', label: 'Retrans ratio' },
  { value: 'rst_rate', label: 'RSTs/s' },
  { value: 'conn_failed_rate', label: 'Failed conns/s' },
  { value: 'zero_window_rate', label: 'Zero windows/s' },
  { value: 'rtt_avg', label: 'Avg RTT' },
];

/** RED series the backend returns for `metric` (default `all`). */
export type RedMetric =
  | 'all'
  | 'request_rate'
  | 'error_rate'
  | 'error_ratio'
  | 'latency_avg'
  | 'latency_p50'
  | 'latency_p90'
  | 'latency_p99'
  | 'latency_max';

export const RED_METRICS: Array<{ value: RedMetric; label: string }> = [
  { value: 'all', label: 'All' },
  { value: 'request_rate', label: 'Requests/s' },
  { value: 'error_rate', label: 'Errors/s' },
  { value: 'error_ratio', label: 'Error ratio' },
  { value: 'latency_avg', label: 'Avg latency' },
  { value: 'latency_p50', label: 'p50' },
  { value: 'latency_p90', label: 'p90' },
  { value: 'latency_p99', label: 'p99' },
  { value: 'latency_max', label: 'Max latency' },
];

/** Dimensions RED series can be split by (pkg/query REDDimensions); `service` is the server. Any tag (team,
 * namespace, workload, ...: the server's) may be added, at most two. */
export type RedGroupBy = 'service' | 'client_service' | 'l7_protocol' | 'endpoint' | 'observation_point';

/** The query types whose editor offers one tag grouping their ends (pkg/query groupTag; checked by
 * pkg/query/tags_test.go): the map's nodes, the network series' ends, the flow groups. The flame graph's
 * own editor offers its roots by a tag too. */
export const ONE_TAG_GROUP_TYPES: FlowLensQueryType[] = ['map', 'net_metrics', 'netprofile_summary', 'flow_log'];

/** Besides the five points: `preferred` (backend default: one point per call) and `all`. */
export const OBSERVATION_POINT_CHOICES = ['preferred', 'all'] as const;

export interface FlowLensQuery extends DataQuery {
  queryType?: FlowLensQueryType;
  /** red: a RED metric; net_metrics: a network metric; netprofile_summary: a latency */
  metric?: RedMetric | NetMetric | ProfileMetric;
  /** red: one series per combination of these (default service); map: one tag naming the nodes;
   * net_metrics, netprofile_summary: one tag naming both ends of each series (client_<tag>, server_<tag>);
   * flow_log: one tag, a table of sums per tag pair and point; flamegraph: one tag, each stack's root frame */
  group_by?: Array<RedGroupBy | string> | string;
  /** tag filters: every listed tag must match (the server for RED, either end for the map and logs) */
  tags?: TagFilters;
  /** annotations: the event kind, the error ratio above which a minute is a spike (0.05), requests it needs (10);
   * agent_restart, agent_stop: the `host` option (FILTER_KEYS) names the agents' hosts */
  annotation?: AnnotationKind;
  threshold?: string;
  min_requests?: string;
  /** list filters (LIST_KEYS): one value, or several (a multi-value variable gives an array) */
  service?: string | string[];
  client_service?: string | string[];
  l7_protocol?: string | string[];
  observation_point?: string;
  endpoint?: string | string[];
  /** sql_log, trace_search */
  request_type?: string | string[];
  response_code?: string | string[];
  status?: string | string[];
  min_duration_ms?: string;
  max_duration_ms?: string;
  search?: string;
  limit?: string;
  /** trace_search: assemble the first N traces (at most 20) for their verdict's culprit */
  verdicts?: string;
  /** sql_log, flow_log: default table (panels, alerts); the editor picks logs in Explore */
  format?: LogFormat;
  /** trace: a request log _id with its time (unix s, ms or µs), or a trace id, or an X-Request-ID */
  row_id?: string;
  time?: string;
  trace_id?: string;
  request_id?: string;
  /** flow_log (all), net_metrics (server_port, host), netprofile (both ends, host): the flow's ends and processes (host: below) */
  server_process?: string;
  client_process?: string;
  server_ip?: string;
  client_ip?: string;
  server_port?: string;
  client_port?: string;
  /** flow_log: normal, reset_by_client, reset_by_server, timeout, connect_failed, still_open */
  close_type?: string;
  /** flow_log: client or server */
  rst_sender?: string;
  /** flow_log: 'true' = failed connection attempts only */
  conn_failed?: string;
  min_retrans?: string;
  min_rtt_ms?: string;
  /** flamegraph (service above): a value, a variable, or a list (a trace span's link gives pid: [4811]) */
  event?: ProfileEvent;
  process?: string | string[];
  /** flamegraph: hosts (a list); flow_log, net_metrics, netprofile: the agent host */
  host?: string | string[];
  pid?: string | number | Array<string | number>;
  tid?: string | number | Array<string | number>;
  /** triage: the default baseline (service above is the target, client_service an edge, endpoint one endpoint) */
  baseline?: TriageBaseline;
  /** flamegraph: the diff's baseline range; triage: an explicit baseline window. ms since the epoch or RFC 3339
   * (variables such as ${__from} allowed) */
  baselineFrom?: string | number;
  baselineTo?: string | number;
  /** sql_log: newest first (`time`, the default) or slowest first (`duration`: a flame graph's slowest requests) */
  order_by?: 'time' | 'duration';
  /** sql_log, trace_search: the process that served the request (server_process above): its pid */
  server_pid?: string;
  /** a request's own time (a request-log row's link): µs since the epoch and duration in µs */
  span_start_us?: string | number;
  span_duration_us?: string | number;
}

export const DEFAULT_QUERY: Partial<FlowLensQuery> = { queryType: 'red' };

export interface FlowLensOptions extends DataSourceJsonData {
  url?: string;
  database?: string;
  username?: string;
  /** The ClickHouse user business-tag changes are written as (INSERT into business_tags only); unset: tags read-only. */
  tagsUsername?: string;
  /** Per-query bounds the backend enforces (pkg/plugin/settings.go); unset = the backend's default. */
  queryTimeout?: number; // seconds (30), at most 3600
  maxMemoryUsage?: number; // bytes (2e9)
  maxRowsToRead?: number; // (2e9)
  maxResultRows?: number; // (2e6)
  maxResponseBytes?: number; // (64 MiB)
  maxSeries?: number; // RED services per query (100)
  maxSpanDays?: Partial<
    Record<
      | 'red'
      | 'map'
      | 'sql_log'
      | 'trace'
      | 'trace_search'
      | 'flamegraph'
      | 'flow_log'
      | 'net_metrics'
      | 'netprofile'
      | 'netprofile_summary'
      | 'triage'
      | 'annotations',
      number
    >
  >; // 31, 31, 7, 7, 7, 7, 7, 31, 7, 7, 7, 31
}

export interface FlowLensSecureOptions {
  password?: string;
  tagsPassword?: string;
}

export const DEFAULT_OPTIONS: Required<Pick<FlowLensOptions, 'url' | 'database' | 'username'>> = {
  url: 'http://127.0.0.1:18123',
  database: 'flowlens',
  username: 'grafana',
};

/** What a FlowLens query variable lists (the backend's `values` resource, pkg/query.ValueKinds). */
export type VariableKind = 'services' | 'client_services' | 'endpoints' | 'protocols' | 'tag_values' | 'tag_keys';

export const VARIABLE_KINDS: Array<{ value: VariableKind; label: string; description: string }> = [
  { value: 'services', label: 'Services', description: 'every service seen at either end of a call' },
  { value: 'client_services', label: 'Client services', description: 'services seen calling others' },
  { value: 'endpoints', label: 'Endpoints', description: 'endpoints served (of the services below, if any)' },
  { value: 'protocols', label: 'Protocols', description: 'application protocols (of the services below, if any)' },
  {
    value: 'tag_values',
    label: 'Tag values',
    description: 'the values a tag took (team by default): teams, namespaces, ...',
  },
  { value: 'tag_keys', label: 'Tag keys', description: 'the tags queries can group and filter by' },
];

/** The query of a FlowLens query variable. */
export interface FlowLensVariableQuery extends DataQuery {
  kind?: VariableKind;
  /** narrows endpoints/protocols to these servers; may hold variables (a multi-value one gives several) */
  service?: string | string[];
  /** tag_values: the tag whose values to list (default team) */
  tag?: string;
  /** services, client services: only those with these tags; endpoints, protocols: of such servers; tag_values: the
   * values of the processes (services for business tags) with these tags ({ team: '$team' } on host: the hosts
   * of the chosen teams' services). May hold variables ({ team: '$team' }: a dashboard's services of its chosen
   * teams; All: every service) */
  tags?: TagFilters;
}
