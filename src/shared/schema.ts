// The one definition of FlowLens's ClickHouse schema. It renders DDL for modern ClickHouse
// (23.8+: LowCardinality, codecs, TTL) and for Debian's 18.16 server (nearest equivalents), and
// `npm run gen:schema` writes pkg/schema/schema.json from it so the Go datasource cannot drift.
// Table and column names here are a public contract (DESIGN.md "Canonical names"): add, never rename.

export type Dialect = 'modern' | 'legacy';

/** Logical column types; `render` maps them to each dialect. */
export type ColumnType =
  | 'DateTime'
  | 'UInt8'
  | 'UInt16'
  | 'UInt32'
  | 'UInt64'
  | 'Int32'
  | 'Float64'
  | 'String'
  | 'LowString' // low-cardinality string: LowCardinality(String) on modern, String on 18.16
  | 'Array(UInt64)'
  | 'Array(UInt16)'
  | 'Array(UInt32)'
  | 'Array(UInt8)'
  | 'Array(String)'
  | 'AggregateFunction(max, UInt64)'; // a max kept as an aggregate state (merged by maxMerge)

export interface Column {
  name: string;
  type: ColumnType;
  /** Modern-only compression codec, e.g. 'Delta, ZSTD(1)'. */
  codec?: string;
  doc: string;
  /** The migration that added the column to an existing table (absent: migration 1 created it). */
  since?: number;
}

export interface Table {
  name: string;
  doc: string;
  columns: Column[];
  orderBy: string[];
  /** Days of retention on modern ClickHouse (18.16 has no TTL); 0: kept forever. */
  ttlDays: number;
  /** Table engine; MergeTree() when absent. */
  engine?: string;
  /** The migration that created the table (absent: migration 1). */
  since?: number;
}

const c = (name: string, type: ColumnType, doc: string, codec?: string): Column => ({ name, type, doc, codec });
/** The migration that adds the latency sketch to app_metrics. */
const SKETCH_SINCE = 6;
/** The migration that carries the latency sketch into the per-edge rollup app_metrics_edge. */
const EDGE_SKETCH_SINCE = 11;
/** The migration that adds the window field of each packet to tcp_timeline. */
const ZERO_WINDOW_SINCE = 9;
/** The migration that creates agent_events. */
const AGENT_EVENTS_SINCE = 10;
/** A column added by migration `since` (ALTER TABLE ... ADD COLUMN on existing databases). */
const added = (since: number, name: string, type: ColumnType, doc: string, codec?: string): Column => ({
  name,
  type,
  doc,
  codec,
  since,
});

/** Columns naming both ends of a flow; shared by request logs, flow logs and timelines. */
const fiveTuple: Column[] = [
  c('l4_protocol', 'LowString', 'TCP or UDP'),
  c('client_ip', 'String', 'client address (IPv4 dotted or IPv6 text)'),
  c('client_port', 'UInt16', 'client port'),
  c('server_ip', 'String', 'server address'),
  c('server_port', 'UInt16', 'server port'),
];

const endpointsTags: Column[] = [
  c('client_pid', 'UInt32', 'client process id, 0 when the client is not on an observed host'),
  c('server_pid', 'UInt32', 'server process id, 0 when unknown'),
  c('client_process', 'LowString', 'client process name (comm)'),
  c('server_process', 'LowString', 'server process name (comm)'),
  c('client_service', 'LowString', 'best known client service name'),
  c('server_service', 'LowString', 'best known server service name'),
];

export const TABLES: Table[] = [
  {
    name: 'l7_flow_log',
    doc: 'One request/response pair (one span) seen at one observation point.',
    orderBy: ['time', 'server_service', 'l7_protocol'],
    ttlDays: 7,
    columns: [
      c('time', 'DateTime', 'request start, second precision', 'Delta, ZSTD(1)'),
      c('_id', 'UInt64', 'unique row id (agent-assigned), the seed of trace assembly'),
      c('start_time_us', 'UInt64', 'request start, µs since epoch', 'Delta, ZSTD(1)'),
      c('end_time_us', 'UInt64', 'response end, µs since epoch', 'Delta, ZSTD(1)'),
      c('response_duration_us', 'UInt64', 'end_time_us - start_time_us', 'ZSTD(1)'),
      c('host', 'LowString', 'host name of the agent that observed the span'),
      c('observation_point', 'LowString', 'client_process, client_nic, server_nic, server_process, gateway'),
      c('signal_source', 'LowString', 'ebpf or packet'),
      c('l7_protocol', 'LowString', 'HTTP, HTTP2, gRPC, MySQL, PostgreSQL, Redis, DNS, Kafka, ...'),
      c('version', 'LowString', 'protocol version, e.g. 1.1'),
      c('request_type', 'LowString', 'method or command: GET, SELECT, SET, ...'),
      c('request_domain', 'String', 'HTTP host, database name, DNS zone'),
      c('request_resource', 'String', 'path, SQL text, command key, DNS name'),
      c('endpoint', 'String', 'the low-cardinality grouping of the resource (path without query)'),
      c('response_code', 'Int32', 'protocol response code (HTTP status, SQL error number), -1 when none'),
      c('response_status', 'LowString', 'ok, client_error, server_error, timeout, unknown'),
      c('response_exception', 'String', 'error text from the response'),
      c('request_length', 'UInt32', 'request bytes'),
      c('response_length', 'UInt32', 'response bytes'),
      c('trace_id', 'String', 'trace id parsed from the payload (traceparent, b3, uber-trace-id, sw8)'),
      c('span_id', 'String', 'span id parsed from the payload'),
      c('parent_span_id', 'String', 'parent span id parsed from the payload'),
      c('x_request_id', 'String', 'X-Request-ID (configurable header)'),
      c('syscall_trace_id_request', 'UInt64', 'AutoTracing id of the thread when the request was seen'),
      c('syscall_trace_id_response', 'UInt64', 'AutoTracing id of the thread when the response was seen'),
      c('syscall_thread_request', 'UInt32', 'thread id that handled the request syscall'),
      c('syscall_thread_response', 'UInt32', 'thread id that handled the response syscall'),
      c('syscall_coroutine_request', 'UInt64', 'goroutine id for Go programs, else 0'),
      c('syscall_coroutine_response', 'UInt64', 'goroutine id for Go programs, else 0'),
      c('syscall_cap_seq_request', 'UInt64', 'per-socket capture sequence of the request message'),
      c('syscall_cap_seq_response', 'UInt64', 'per-socket capture sequence of the response message'),
      c('tcp_seq_request', 'UInt32', 'TCP sequence number of the first request byte'),
      c('tcp_seq_response', 'UInt32', 'TCP sequence number of the first response byte'),
      c('flow_id', 'UInt64', 'agent-local id of the connection'),
      ...fiveTuple,
      ...endpointsTags,
    ],
  },
  {
    name: 'l4_flow_log',
    doc: 'One L4 flow per reporting interval and at close.',
    orderBy: ['time', 'server_service'],
    ttlDays: 7,
    columns: [
      c('time', 'DateTime', 'end of the interval', 'Delta, ZSTD(1)'),
      c('start_time_us', 'UInt64', 'flow start (or interval start) µs', 'Delta, ZSTD(1)'),
      c('end_time_us', 'UInt64', 'interval end µs', 'Delta, ZSTD(1)'),
      c('host', 'LowString', 'observing host'),
      c('observation_point', 'LowString', 'client_process/server_process (socket) or a NIC point'),
      c('flow_id', 'UInt64', 'agent-local flow id'),
      ...fiveTuple,
      ...endpointsTags,
      c('byte_tx', 'UInt64', 'bytes client → server'),
      c('byte_rx', 'UInt64', 'bytes server → client'),
      c('packet_tx', 'UInt64', 'packets (or sends) client → server'),
      c('packet_rx', 'UInt64', 'packets (or receives) server → client'),
      c('rtt_us', 'UInt32', 'smoothed RTT'),
      c('syn_latency_us', 'UInt32', 'connect() to established'),
      c('retrans_count', 'UInt32', 'retransmitted segments'),
      c('zero_window_count', 'UInt32', 'zero-window events'),
      c('rst_count', 'UInt32', 'RSTs seen'),
      c('rst_sender', 'LowString', 'client, server or empty'),
      c('conn_failed', 'UInt8', '1 when the connection attempt failed'),
      c('close_type', 'LowString', 'normal, reset_by_client, reset_by_server, timeout, connect_failed, still_open'),
    ],
  },
  {
    name: 'app_metrics',
    doc: 'RED metrics per second, computed by the agent from every request (exact under sampling).',
    orderBy: ['time', 'server_service', 'client_service', 'l7_protocol', 'endpoint'],
    ttlDays: 30,
    columns: [
      c('time', 'DateTime', 'the second', 'Delta, ZSTD(1)'),
      c('host', 'LowString', 'observing host'),
      c('observation_point', 'LowString', 'where the requests were seen'),
      c('client_service', 'LowString', 'client service'),
      c('server_service', 'LowString', 'server service'),
      c('l7_protocol', 'LowString', 'protocol'),
      c('endpoint', 'String', 'endpoint'),
      c('server_port', 'UInt16', 'server port'),
      c('request_count', 'UInt64', 'requests that completed (or timed out) in this second'),
      c('error_count', 'UInt64', 'client_error + server_error + timeout'),
      c('client_error_count', 'UInt64', 'client errors (4xx, bad SQL, ...)'),
      c('server_error_count', 'UInt64', 'server errors (5xx, ...)'),
      c('timeout_count', 'UInt64', 'requests with no response in time'),
      c('response_duration_sum_us', 'UInt64', 'latency sum'),
      c('response_duration_max_us', 'UInt64', 'latency max'),
      c('latency_histogram', 'Array(UInt64)', 'counts per bucket; bounds in LATENCY_BUCKETS_US'),
      c('request_bytes', 'UInt64', 'request bytes'),
      c('response_bytes', 'UInt64', 'response bytes'),
      added(
        SKETCH_SINCE,
        'latency_sketch_keys',
        'Array(UInt16)',
        'latency distribution: keys of the non-empty buckets, ascending (latencySketchKey)'
      ),
      added(
        SKETCH_SINCE,
        'latency_sketch_counts',
        'Array(UInt64)',
        'latency distribution: requests per key of latency_sketch_keys (merge with sumMap)'
      ),
    ],
  },
  {
    name: 'app_metrics_edge',
    doc:
      'app_metrics per second, client→server edge, observation point and protocol (no host, endpoint or port): ' +
      'filled by app_metrics_edge_mv; the RED and map queries read it, percentiles included, unless they need the endpoint (3x fewer rows at 10M logs/h)',
    orderBy: ['time', 'server_service', 'client_service', 'observation_point', 'l7_protocol'],
    ttlDays: 30,
    engine: 'SummingMergeTree()',
    since: 4,
    columns: [
      c('time', 'DateTime', 'the second', 'Delta, ZSTD(1)'),
      c('observation_point', 'LowString', 'where the requests were seen'),
      c('client_service', 'LowString', 'client service'),
      c('server_service', 'LowString', 'server service'),
      c('l7_protocol', 'LowString', 'protocol'),
      c('request_count', 'UInt64', 'requests (summed on merge)'),
      c('error_count', 'UInt64', 'client_error + server_error + timeout (summed on merge)'),
      c('response_duration_sum_us', 'UInt64', 'latency sum (summed on merge)'),
      c('response_duration_max_us', 'AggregateFunction(max, UInt64)', 'latency max: read with maxMerge()'),
      // A nested structure whose name ends in Map: SummingMergeTree merges it by key, summing the
      // counts (18.16 and modern). Arrays, not a sumMap state: RED reads them with sumMap at half
      // the server CPU (a state column is deserialized for every row read, kept or not).
      added(
        EDGE_SKETCH_SINCE,
        'latency_sketchMap.keys',
        'Array(UInt16)',
        "app_metrics' latency sketch merged per edge: keys, ascending (summed by key on merge)"
      ),
      added(
        EDGE_SKETCH_SINCE,
        'latency_sketchMap.counts',
        'Array(UInt64)',
        'requests per key of latency_sketchMap.keys (read with sumMap)'
      ),
    ],
  },
  {
    name: 'net_metrics',
    doc: 'Network metrics per second between two services.',
    orderBy: ['time', 'server_service', 'client_service'],
    ttlDays: 30,
    columns: [
      c('time', 'DateTime', 'the second', 'Delta, ZSTD(1)'),
      c('host', 'LowString', 'observing host'),
      c('observation_point', 'LowString', 'where it was measured'),
      c('client_service', 'LowString', 'client service'),
      c('server_service', 'LowString', 'server service'),
      c('server_port', 'UInt16', 'server port'),
      c('byte_tx', 'UInt64', 'bytes client → server'),
      c('byte_rx', 'UInt64', 'bytes server → client'),
      c('packet_tx', 'UInt64', 'packets client → server'),
      c('packet_rx', 'UInt64', 'packets server → client'),
      c('new_flow_count', 'UInt64', 'connections opened'),
      c('closed_flow_count', 'UInt64', 'connections closed'),
      c('conn_failed_count', 'UInt64', 'failed connection attempts'),
      c('retrans_count', 'UInt64', 'retransmissions'),
      c('rst_count', 'UInt64', 'RSTs'),
      c('zero_window_count', 'UInt64', 'zero-window events'),
      c('rtt_sum_us', 'UInt64', 'RTT sum'),
      c('rtt_count', 'UInt64', 'RTT samples'),
    ],
  },
  {
    name: 'tcp_timeline',
    doc: 'One row per profiled TCP flow: packet-level events and derived latencies.',
    orderBy: ['time', 'flow_id'],
    ttlDays: 7,
    columns: [
      c('time', 'DateTime', 'flow start', 'Delta, ZSTD(1)'),
      c('host', 'LowString', 'observing host'),
      c('interface', 'LowString', 'NIC the packets were seen on'),
      c('observation_point', 'LowString', 'client_nic, server_nic, gateway'),
      c('flow_id', 'UInt64', 'flow id'),
      ...fiveTuple,
      c('client_service', 'LowString', 'client service'),
      c('server_service', 'LowString', 'server service'),
      c('event_time_us', 'Array(UInt64)', 'packet timestamps µs'),
      c('event_direction', 'Array(UInt8)', '0 client→server, 1 server→client'),
      c('event_tcp_flags', 'Array(UInt8)', 'TCP flags'),
      c('event_seq', 'Array(UInt32)', 'TCP sequence numbers'),
      c('event_ack', 'Array(UInt32)', 'TCP ack numbers'),
      c('event_payload_len', 'Array(UInt32)', 'payload lengths'),
      c('conn_latency_us', 'UInt32', 'SYN → SYN/ACK → ACK'),
      c('ack_latency_us', 'UInt32', 'system (ACK) latency'),
      c('server_response_us', 'UInt32', 'last request byte → first response byte'),
      c('client_wait_us', 'UInt32', 'last response byte → next request byte'),
      added(2, 'netns', 'LowString', "network namespace of the interface (empty: the agent's own)"),
      added(2, 'ack_latency_max_us', 'UInt32', 'largest system (ACK) latency'),
      added(2, 'server_response_max_us', 'UInt32', 'largest server response latency'),
      added(2, 'client_wait_max_us', 'UInt32', 'largest client wait latency'),
      added(2, 'ack_count', 'UInt32', 'ACK latency samples (ack_latency_us is their mean)'),
      added(2, 'server_response_count', 'UInt32', 'server response samples (server_response_us is their mean)'),
      added(2, 'client_wait_count', 'UInt32', 'client wait samples (client_wait_us is their mean)'),
      added(2, 'packet_count', 'UInt32', 'packets of the flow in this row'),
      added(2, 'retrans_count', 'UInt32', 'retransmitted data segments seen at this interface'),
      added(2, 'events_truncated', 'UInt32', 'packets beyond the stored event arrays'),
      added(
        ZERO_WINDOW_SINCE,
        'event_window',
        'Array(UInt16)',
        'TCP window field per packet, unscaled (0: a zero window)'
      ),
      added(
        ZERO_WINDOW_SINCE,
        'zero_window_count',
        'UInt32',
        'packets advertising a zero window at this interface (also those past the stored events)'
      ),
    ],
  },
  {
    name: 'profile_samples',
    doc: 'Aggregated stack samples per process, interval and event.',
    orderBy: ['time', 'service', 'pid', 'event'],
    ttlDays: 7,
    columns: [
      c('time', 'DateTime', 'interval start', 'Delta, ZSTD(1)'),
      c('host', 'LowString', 'host'),
      c('pid', 'UInt32', 'process id'),
      c('tid', 'UInt32', 'thread id (links a stack to the request on that thread)'),
      c('process', 'LowString', 'process name'),
      c('service', 'LowString', 'service name'),
      c('event', 'LowString', 'on_cpu or off_cpu'),
      c('stack_id', 'UInt64', 'hash of the stack'),
      c('stack', 'Array(String)', 'symbolized frames, root first'),
      c('value', 'UInt64', 'samples (on_cpu) or blocked µs (off_cpu)'),
    ],
  },
  {
    name: 'business_tags',
    doc:
      'Business tags (team, owner, tier, cost centre, ...) that users attach to services, processes or IP ranges through the ' +
      "datasource's resource API: one row per change, so the table is its own audit trail (who, when); the current value of " +
      '(kind, subject, key) is its latest row, a removal a row with deleted = 1. Queries join it at read time (pkg/query ' +
      "businesstags.go), so a tag set today applies to yesterday's data. Kept forever (no TTL).",
    orderBy: ['kind', 'subject', 'key', 'changed_us'],
    ttlDays: 0,
    since: 7,
    columns: [
      c('time', 'DateTime', 'when the change was made (second)'),
      c('changed_us', 'UInt64', 'when the change was made, µs since the epoch: orders changes within one second'),
      c('kind', 'LowString', 'what the tag is attached to: service, process or ip_range'),
      c('subject', 'String', 'the service name, process name or CIDR range (e.g. 10.1.0.0/16)'),
      c(
        'key',
        'LowString',
        'tag key: team, owner, tier, cost_centre or another [a-z][a-z0-9_]* of at most 63 characters'
      ),
      c('value', 'String', 'tag value (empty on removal)'),
      c('deleted', 'UInt8', '1: the tag was removed'),
      c('updated_by', 'String', 'the Grafana user who made the change (login), as Grafana told the datasource'),
      c('updated_by_role', 'LowString', "that user's role in the organisation (Editor, Admin)"),
    ],
  },
  {
    name: 'process_tags',
    doc:
      'Resource dimension: one row per process when the agent first names it, again when its pod becomes known and hourly while it lives. ' +
      'Every signal joins it by (host, pid) or by service at query time (pkg/query/tags.go), so hot rows carry no tag columns.',
    orderBy: ['host', 'pid', 'time'],
    ttlDays: 30,
    engine: 'ReplacingMergeTree()',
    since: 8,
    columns: [
      c('time', 'DateTime', 'when the agent wrote this row (first seen, then hourly)'),
      c('host', 'LowString', 'host of the process'),
      c('pid', 'UInt32', 'process id'),
      c(
        'start_time',
        'UInt64',
        'process start in clock ticks after boot: with host and pid, one process across pid reuse'
      ),
      c('process', 'LowString', 'process name (comm)'),
      c('cmdline', 'String', 'command line, arguments separated by spaces (at most 4 KiB)'),
      c('exe', 'String', 'executable path'),
      c('user', 'LowString', 'user name (the host passwd), else the uid'),
      c('container_id', 'String', 'container id (64 hex), empty outside a container'),
      c('container_runtime', 'LowString', 'containerd, cri-o, docker or podman'),
      c('container_name', 'LowString', "the container's name in its pod (from the kubelet)"),
      c('systemd_unit', 'LowString', 'systemd service or scope outside containers'),
      c('pod_uid', 'String', 'Kubernetes pod uid (from the cgroup path)'),
      c('pod_name', 'LowString', 'pod name'),
      c('pod_namespace', 'LowString', 'pod namespace'),
      c('pod_ip', 'String', 'pod IP'),
      c('workload_kind', 'LowString', 'Deployment, StatefulSet, DaemonSet, Job, CronJob, ReplicaSet or Pod'),
      c('workload_name', 'LowString', 'workload name'),
      c('node', 'LowString', 'Kubernetes node name'),
      c('label_keys', 'Array(String)', 'pod label keys, sorted'),
      c('label_values', 'Array(String)', 'pod label values, in the order of label_keys'),
      c('service', 'LowString', 'the service the agent named it (serviceName rule)'),
    ],
  },
  {
    name: 'agent_events',
    doc:
      "The agent's own lifecycle: one `start` row when a run begins and one `stop` row when it stops cleanly (SIGINT, SIGTERM, " +
      '--duration), written through the same export as every signal. A start whose previous run on the host has no stop row ' +
      'followed a crash or a kill (the annotations query agent_restart, pkg/query/annotations.go).',
    orderBy: ['host', 'time'],
    ttlDays: 90,
    since: AGENT_EVENTS_SINCE,
    columns: [
      c('time', 'DateTime', 'when the event happened (second)'),
      c('time_us', 'UInt64', 'when the event happened, µs since the epoch'),
      c('host', 'LowString', 'host name of the agent (config host)'),
      c('agent_pid', 'UInt32', "the agent's process id"),
      c(
        'run_start_us',
        'UInt64',
        "when this run started, µs since the epoch (a stop row carries its run's start): with host, one run"
      ),
      c('event', 'LowString', 'start, or stop (a clean stop)'),
      c('agent_version', 'LowString', "the agent's version (package.json)"),
      c('kernel', 'LowString', 'kernel release (uname -r)'),
      c(
        'reason',
        'String',
        'start: the configuration it read; stop: why it stopped (interrupted, terminated, ran for N s)'
      ),
    ],
  },
];

/** Upper bounds (µs, inclusive) of app_metrics.latency_histogram buckets; the last bucket is +Inf. */
export const LATENCY_BUCKETS_US = [
  100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000,
  5_000_000, 10_000_000,
];

/**
 * Ratio of consecutive bounds of the latency sketch (app_metrics.latency_sketch_*): key k >= 1 holds
 * the durations in (γ^(k-2), γ^(k-1)] µs, key 0 holds 0 µs. Its representative 2γ^(k-1)/(γ+1) is within
 * (γ-1)/(γ+1) = 0.99% of every duration of the bucket, so a percentile read from merged sketches is
 * within 1% of the exact one (a relative-error sketch; ~1,400 keys span 1 µs to 10^12 µs).
 */
export const LATENCY_SKETCH_GAMMA = 1.02;
const LN_SKETCH_GAMMA = Math.log(LATENCY_SKETCH_GAMMA);

/** The sketch key of a duration in µs (see LATENCY_SKETCH_GAMMA). */
export function latencySketchKey(us: number): number {
  return us < 1 ? 0 : Math.ceil(Math.log(us) / LN_SKETCH_GAMMA) + 1;
}

export const OBSERVATION_POINTS = ['client_process', 'client_nic', 'server_nic', 'server_process', 'gateway'] as const;
export type ObservationPoint = (typeof OBSERVATION_POINTS)[number];

export const RESPONSE_STATUSES = ['ok', 'client_error', 'server_error', 'timeout', 'unknown'] as const;
export type ResponseStatus = (typeof RESPONSE_STATUSES)[number];

/** l4_flow_log.close_type: how a flow ended (still_open: a periodic row of a flow still open). */
export const CLOSE_TYPES = [
  'normal',
  'reset_by_client',
  'reset_by_server',
  'timeout',
  'connect_failed',
  'still_open',
] as const;
export type CloseType = (typeof CLOSE_TYPES)[number];

/** l4_flow_log.rst_sender: the side a RST came from (empty: none). */
export const RST_SENDERS = ['client', 'server'] as const;

export const DATABASE = 'flowlens';

function renderType(t: ColumnType, dialect: Dialect): string {
  if (t === 'LowString') {
    return dialect === 'modern' ? 'LowCardinality(String)' : 'String';
  }
  return t;
}

/** CREATE TABLE for one table in one dialect, with the columns it has after migration `atVersion`. */
export function renderCreateTable(table: Table, dialect: Dialect, database = DATABASE, atVersion = Infinity): string {
  const cols = table.columns
    .filter((col) => (col.since ?? 1) <= atVersion)
    .map((col) => {
      const codec = dialect === 'modern' && col.codec ? ` CODEC(${col.codec})` : '';
      return `  \`${col.name}\` ${renderType(col.type, dialect)}${codec}`;
    })
    .join(',\n');
  const ttl = dialect === 'modern' && table.ttlDays > 0 ? `\nTTL time + INTERVAL ${table.ttlDays} DAY` : '';
  const settings =
    dialect === 'modern' && atVersion >= DEDUP_SINCE
      ? `\nSETTINGS non_replicated_deduplication_window = ${DEDUP_WINDOW}`
      : '';
  return (
    `CREATE TABLE IF NOT EXISTS ${database}.${table.name} (\n${cols}\n) ENGINE = ${table.engine ?? 'MergeTree()'}\n` +
    `PARTITION BY toYYYYMMDD(time)\nORDER BY (${table.orderBy.join(', ')})${ttl}${settings}`
  );
}

/**
 * Insert blocks a (non-replicated) MergeTree table remembers on modern ClickHouse, so an INSERT retried
 * with the same insert_deduplication_token is dropped by the server. The agent sends ~1 INSERT per
 * table per flush interval: 1000 blocks cover minutes of retries. app_metrics_edge needs it too: the
 * view's block of a deduplicated app_metrics insert is deduplicated there (test/sql/test_dedup_chdb.py).
 * Replicated tables deduplicate already; 18.16 has no deduplication for plain MergeTree: nothing there.
 */
export const DEDUP_WINDOW = 1000;
/** The migration that enables it (tables created at or after it carry the setting in their CREATE). */
const DEDUP_SINCE = 5;

export interface Migration {
  version: number;
  doc: string;
  statements: (dialect: Dialect, database: string) => string[];
}

/** Versioned, idempotent migrations, applied in order at agent start. Append; never edit a released one. */
export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    doc: 'canonical tables',
    statements: (dialect, database) => [
      `CREATE DATABASE IF NOT EXISTS ${database}`,
      ...TABLES.filter((t) => (t.since ?? 1) === 1).map((t) => renderCreateTable(t, dialect, database, 1)),
    ],
  },
  {
    version: 2,
    doc: 'tcp_timeline: namespace, latency maxima and sample counts, packets, retransmissions',
    statements: (dialect, database) => renderAddedColumns(2, dialect, database),
  },
  {
    version: 3,
    // bench/storage: 10M generated request logs take 63 B/row with LZ4 on the columns without a
    // codec, 37 B/row with ZSTD(1). 18.16 has no column codecs: scripts/clickhouse.sh compresses its large parts with zstd.
    doc: 'l7_flow_log: ZSTD(1) on every column without a codec of its own (modern only)',
    statements: (dialect, database) => renderDefaultCodec(3, 'l7_flow_log', 'ZSTD(1)', dialect, database),
  },
  {
    version: 4,
    // The view first, then the rows already there: a row inserted between the two statements
    // (by another host's agent) is counted twice in the rollup.
    doc: 'app_metrics_edge: the per-edge rollup of app_metrics, its materialized view, and the existing rows',
    statements: (dialect, database) => {
      const t = TABLES.find((x) => x.name === 'app_metrics_edge');
      return [
        renderCreateTable(t!, dialect, database, 4),
        renderEdgeView(database, 4),
        `INSERT INTO ${database}.app_metrics_edge ${EDGE_SELECT(database, 4)} WHERE time < now() ${EDGE_GROUP}`,
      ];
    },
  },
  {
    version: DEDUP_SINCE,
    doc: 'every table remembers its last insert blocks, so a retried INSERT with the same insert_deduplication_token is stored once (modern only)',
    statements: (dialect, database) =>
      dialect === 'modern'
        ? TABLES.filter((t) => (t.since ?? 1) < DEDUP_SINCE).map(
            (t) =>
              `ALTER TABLE ${database}.${t.name} MODIFY SETTING non_replicated_deduplication_window = ${DEDUP_WINDOW}`
          )
        : [],
  },
  {
    version: SKETCH_SINCE,
    doc: 'app_metrics: latency sketch (latency_sketch_keys/counts), for percentiles within 1%',
    statements: (dialect, database) => renderAddedColumns(SKETCH_SINCE, dialect, database),
  },
  {
    version: 7,
    doc: 'business_tags: team, owner and other business tags set through the datasource (one row per change: the audit trail)',
    statements: (dialect, database) => [
      renderCreateTable(
        TABLES.find((x) => x.name === 'business_tags')!,
        dialect,
        database,
        7
      ),
    ],
  },
  {
    version: 8,
    doc: 'process_tags: the resource dimension of processes, containers and pods (src/agent/tags)',
    statements: (dialect, database) => [
      renderCreateTable(
        TABLES.find((x) => x.name === 'process_tags')!,
        dialect,
        database,
        8
      ),
    ],
  },
  {
    version: ZERO_WINDOW_SINCE,
    doc: 'tcp_timeline: the window field of every stored packet and the zero-window packets of the flow',
    statements: (dialect, database) => renderAddedColumns(ZERO_WINDOW_SINCE, dialect, database),
  },
  {
    version: AGENT_EVENTS_SINCE,
    doc: "agent_events: the agent's starts and clean stops (restart annotations)",
    statements: (dialect, database) => [
      renderCreateTable(
        TABLES.find((x) => x.name === 'agent_events')!,
        dialect,
        database,
        AGENT_EVENTS_SINCE
      ),
    ],
  },
  {
    version: EDGE_SKETCH_SINCE,
    // A view's query cannot be altered on 18.16: the view is dropped and created again, so an
    // app_metrics insert (another host's agent) between the two statements misses the rollup. The
    // rollup rows already there keep an empty sketch: RED reads percentiles over them from
    // app_metrics (pkg/plugin red.go), not from a backfill here (hours on a large store, at agent start).
    doc: 'app_metrics_edge: the latency sketch in the per-edge rollup (and its view again), so RED percentiles read the rollup',
    statements: (dialect, database) => [
      ...renderAddedColumns(EDGE_SKETCH_SINCE, dialect, database),
      `DROP TABLE IF EXISTS ${database}.app_metrics_edge_mv`,
      renderEdgeView(database, EDGE_SKETCH_SINCE),
    ],
  },
];

/** The rollup's key: app_metrics without host, endpoint and port. */
const EDGE_KEY = 'time, observation_point, client_service, server_service, l7_protocol';
const EDGE_GROUP = `GROUP BY ${EDGE_KEY}`;
// one sumMap: ClickHouse computes an aggregate named twice once
const EDGE_SKETCH =
  'tupleElement(sumMap(latency_sketch_keys, latency_sketch_counts), 1) AS `latency_sketchMap.keys`, ' +
  'tupleElement(sumMap(latency_sketch_keys, latency_sketch_counts), 2) AS `latency_sketchMap.counts`';

/** The rollup's rows from app_metrics, with the columns app_metrics_edge has after migration `atVersion`. */
const EDGE_SELECT = (database: string, atVersion = Infinity) =>
  `SELECT ${EDGE_KEY}, sum(request_count) AS request_count, ` +
  'sum(error_count) AS error_count, sum(response_duration_sum_us) AS response_duration_sum_us, ' +
  'maxState(response_duration_max_us) AS response_duration_max_us' +
  (atVersion >= EDGE_SKETCH_SINCE ? `, ${EDGE_SKETCH}` : '') +
  ` FROM ${database}.app_metrics`;

/** The materialized view that fills app_metrics_edge from every app_metrics insert (migration 4, its sketch since migration 11). */
function renderEdgeView(database: string, atVersion = Infinity): string {
  return `CREATE MATERIALIZED VIEW IF NOT EXISTS ${database}.app_metrics_edge_mv TO ${database}.app_metrics_edge AS ${EDGE_SELECT(database, atVersion)} ${EDGE_GROUP}`;
}

/**
 * Every table and view of the current schema, each CREATE ... IF NOT EXISTS: what re-creates a table
 * dropped under a running agent (the migrations table says it was created long ago).
 */
export function renderCurrentSchema(dialect: Dialect, database = DATABASE): string[] {
  return [
    `CREATE DATABASE IF NOT EXISTS ${database}`,
    ...TABLES.map((t) => renderCreateTable(t, dialect, database)),
    renderEdgeView(database),
  ];
}

/** ALTER TABLE ... ADD COLUMN for the columns migration `version` adds (one statement per table). */
export function renderAddedColumns(version: number, dialect: Dialect, database = DATABASE): string[] {
  return TABLES.flatMap((t) => {
    const cols = t.columns.filter((col) => col.since === version);
    if (!cols.length) {
      return [];
    }
    const adds = cols.map((col) => {
      const codec = dialect === 'modern' && col.codec ? ` CODEC(${col.codec})` : '';
      return `ADD COLUMN \`${col.name}\` ${renderType(col.type, dialect)}${codec}`;
    });
    return [`ALTER TABLE ${database}.${t.name} ${adds.join(', ')}`];
  });
}

/** Migration `version` giving the columns of `table` that existed then and have no codec of their own `codec` (modern only). */
export function renderDefaultCodec(
  version: number,
  table: string,
  codec: string,
  dialect: Dialect,
  database = DATABASE
): string[] {
  const t = TABLES.find((x) => x.name === table);
  if (dialect !== 'modern' || !t) {
    return [];
  }
  const cols = t.columns.filter((col) => !col.codec && (col.since ?? 1) < version);
  return [
    `ALTER TABLE ${database}.${t.name} ${cols.map((col) => `MODIFY COLUMN \`${col.name}\` CODEC(${codec})`).join(', ')}`,
  ];
}

export const MIGRATIONS_TABLE = 'schema_migrations';

export function renderMigrationsTable(database = DATABASE): string {
  return (
    `CREATE TABLE IF NOT EXISTS ${database}.${MIGRATIONS_TABLE} ` +
    `(version UInt32, applied_at DateTime, doc String) ENGINE = MergeTree() ORDER BY version`
  );
}

/** The JSON that pkg/schema embeds: names and types only. */
export function schemaJson(): string {
  return (
    JSON.stringify(
      {
        database: DATABASE,
        observation_points: OBSERVATION_POINTS,
        response_statuses: RESPONSE_STATUSES,
        close_types: CLOSE_TYPES,
        rst_senders: RST_SENDERS,
        latency_buckets_us: LATENCY_BUCKETS_US,
        latency_sketch_gamma: LATENCY_SKETCH_GAMMA,
        tables: TABLES.map((t) => ({
          name: t.name,
          columns: t.columns.map((col) => ({ name: col.name, type: col.type })),
        })),
      },
      null,
      2
    ) + '\n'
  );
}
