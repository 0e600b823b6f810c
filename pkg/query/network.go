package query

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/flowlens/flowlens/pkg/schema"
)

// Network query types: options in NetModel.
const (
	TypeFlowLog    = "flow_log"    // l4_flow_log rows (table or logs frame)
	TypeNetMetrics = "net_metrics" // net_metrics time series per client→server edge
	TypeNetProfile = "netprofile"  // tcp_timeline: one flow's packets per observation point and its four latencies
	// TypeNetProfileSummary is the four latencies of the network profile per client→server edge over time (tcp_timeline)
	TypeNetProfileSummary = "netprofile_summary"
)

// Network metric names; the "metric" option of net_metrics selects one of them or MetricAll.
const (
	NetMetricByteRate       = "byte_rate"        // bytes per second, both directions
	NetMetricRetransRate    = "retrans_rate"     // retransmitted segments per second
	NetMetricRetransRatio   = "retrans_ratio"    // retransmitted segments / segments
	NetMetricRSTRate        = "rst_rate"         // RSTs per second
	NetMetricConnFailedRate = "conn_failed_rate" // failed connection attempts per second
	NetMetricZeroWindowRate = "zero_window_rate" // zero-window episodes per second
	NetMetricRTTAvg         = "rtt_avg"          // mean smoothed RTT, ms
)

// NetMetrics lists the network metrics in output order.
var NetMetrics = []string{NetMetricByteRate, NetMetricRetransRate, NetMetricRetransRatio, NetMetricRSTRate,
	NetMetricConnFailedRate, NetMetricZeroWindowRate, NetMetricRTTAvg}

// DefaultFlowLogLimit and MaxFlowLogLimit bound flow_log rows.
const (
	DefaultFlowLogLimit = 1000
	MaxFlowLogLimit     = 10000
)

// MaxProfileRows bounds the tcp_timeline rows of one network profile (each holds at most 256
// packets: a flow is written at close, when idle and every 60 s, once per observation point).
const MaxProfileRows = 64

// Flag is a boolean given as JSON true/false or as text ("true", "1", "false", "0", ""): template
// variables arrive as strings.
type Flag bool

// UnmarshalJSON accepts true, false, "true", "false", "1", "0", "", null.
func (f *Flag) UnmarshalJSON(b []byte) error {
	s, set := numberText(b)
	if !set {
		*f = false
		return nil
	}
	v, err := strconv.ParseBool(s)
	if err != nil {
		return fmt.Errorf("%s is not true or false", Quote(truncate(s, 40)))
	}
	*f = Flag(v)
	return nil
}

// NetModel is the query JSON of the network query types (flow_log, net_metrics, netprofile). Filter
// names are the l4_flow_log / net_metrics / tcp_timeline column names, as in Model; `service` is the
// server's, as everywhere.
type NetModel struct {
	QueryType        string     `json:"queryType"`
	Service          Values     `json:"service"`           // server_service
	ClientService    Values     `json:"client_service"`    // client_service
	ServerProcess    Values     `json:"server_process"`    // flow_log
	ClientProcess    Values     `json:"client_process"`    // flow_log
	ServerIP         Values     `json:"server_ip"`         // flow_log, netprofile
	ClientIP         Values     `json:"client_ip"`         // flow_log, netprofile
	ServerPort       IDs        `json:"server_port"`       // flow_log, net_metrics, netprofile(_summary)
	ClientPort       IDs        `json:"client_port"`       // flow_log, netprofile
	Host             Values     `json:"host"`              // observing host
	ObservationPoint string     `json:"observation_point"` // a point; flow_log: default all; net_metrics: "preferred" (default), "all"
	CloseType        Values     `json:"close_type"`        // flow_log: schema close types
	RstSender        Values     `json:"rst_sender"`        // flow_log: client, server
	ConnFailed       Flag       `json:"conn_failed"`       // flow_log: failed connects only
	MinRetrans       Count      `json:"min_retrans"`       // flow_log: retrans_count >=
	MinRTTMs         Millis     `json:"min_rtt_ms"`        // flow_log: rtt_us >=
	Metric           string     `json:"metric"`            // net_metrics: one of NetMetrics; netprofile_summary: one of ProfileMetrics; or "all" (default)
	Format           string     `json:"format"`            // flow_log: FormatTable (default) or FormatLogs
	Limit            Count      `json:"limit"`             // flow_log rows
	Tags             TagFilters `json:"tags"`              // tag -> values either end must have (tags.go)
	// GroupBy is one tag naming both ends instead of their services (net_metrics, netprofile_summary:
	// series per tag pair; flow_log: one row of sums per tag pair and point), the map's rule (tags.go).
	GroupBy Values `json:"group_by"`
	// MaxSeries bounds net_metrics' edges (the datasource setting, not part of the query JSON).
	MaxSeries int `json:"-"`
}

// ParseNet decodes the query JSON of a network query type.
func ParseNet(raw []byte) (*NetModel, error) {
	var m NetModel
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("invalid query JSON: %w", err)
	}
	m.QueryType, m.Format, m.Metric = strings.TrimSpace(m.QueryType), strings.TrimSpace(m.Format), strings.TrimSpace(m.Metric)
	for _, p := range append(append(IDs{}, m.ServerPort...), m.ClientPort...) {
		if p > math.MaxUint16 {
			return nil, fmt.Errorf("port %d is above 65535", p)
		}
	}
	return &m, nil
}

// netFilters renders the filters a network table has: the ends' service, process, address, port
// and the observing host. A filter on a column the table lacks is the user's error.
func (b *builder) netFilters(m *NetModel) ([]string, error) {
	var out []string
	for _, f := range []struct {
		column string
		set    bool
	}{{"client_ip", len(m.ClientIP) > 0}, {"server_ip", len(m.ServerIP) > 0}, {"client_port", len(m.ClientPort) > 0}, {"server_port", len(m.ServerPort) > 0}} {
		if f.set && !schema.Get().HasColumn(b.table, f.column) {
			return nil, fmt.Errorf("filter %s does not apply to %s (%s has no such column)", f.column, m.QueryType, b.table)
		}
	}
	for _, f := range []struct {
		column string
		vals   Values
	}{{"server_service", m.Service}, {"client_service", m.ClientService}, {"server_process", m.ServerProcess},
		{"client_process", m.ClientProcess}, {"host", m.Host}} {
		if len(f.vals) == 0 {
			continue
		}
		if !schema.Get().HasColumn(b.table, f.column) {
			return nil, fmt.Errorf("filter %s does not apply to %s (%s has no such column)", f.column, m.QueryType, b.table)
		}
		field := f.column
		if field == "server_service" {
			field = "service"
		}
		s, err := b.in(field, f.column, f.vals)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	ends, err := b.flowEnds(m.ClientIP, m.ServerIP, m.ClientPort, m.ServerPort)
	return append(out, ends...), err
}

// netEnds are the row's two ends as the tag join keys them: by process where the table names pids
// (at the row's time: a reused pid names the process of its time), else (or for business tags,
// kept by service) by service.
func netEnds(b *builder) []RowKey {
	var ends []RowKey
	for _, side := range []string{"client", "server"} {
		var k RowKey
		if schema.Get().HasColumn(b.table, side+"_pid") {
			k.Host, k.Pid, k.Time = b.c("host"), b.c(side+"_pid"), b.c("time")
		}
		if schema.Get().HasColumn(b.table, side+"_service") {
			k.Service = b.c(side + "_service")
			if k.Pid == "" {
				k.ObservedHost = observedHost(b, side)
			}
		}
		ends = append(ends, k)
	}
	return ends
}

// netRows is the common start of the network queries: the builder of table and the time range and
// filters as WHERE conditions; onePoint adds the observation_point filter of the modes "" and "all"
// (every point) or one point (net_metrics renders its own modes).
func netRows(database, table string, m *NetModel, r Range, onePoint bool) (*builder, []string, error) {
	b, err := newBuilder(database, table)
	if err != nil {
		return nil, nil, err
	}
	tf, err := b.timeFilter(r)
	if err != nil {
		return nil, nil, err
	}
	f, err := b.netFilters(m)
	if err != nil {
		return nil, nil, err
	}
	conds := append([]string{tf}, f...)
	tags, err := b.tagFilterConds(m.Tags, netEnds(b), r)
	if err != nil {
		return nil, nil, err
	}
	conds = append(conds, tags...)
	if onePoint && m.ObservationPoint != "" && m.ObservationPoint != ObsAll {
		if !schema.Get().IsObservationPoint(m.ObservationPoint) {
			return nil, nil, fmt.Errorf("observation_point %s is not one of all, %s", Quote(truncate(m.ObservationPoint, 60)), strings.Join(schema.Get().ObservationPoints, ", "))
		}
		conds = append(conds, fmt.Sprintf("%s = %s", b.c("observation_point"), Quote(m.ObservationPoint)))
	}
	return b, conds, nil
}

// FlowLogColumns are the l4_flow_log columns flow_log returns, in order (after time_unix).
var FlowLogColumns = []string{
	"start_time_us", "end_time_us", "observation_point", "host", "l4_protocol",
	"client_service", "server_service", "client_process", "server_process", "client_pid", "server_pid",
	"client_ip", "client_port", "server_ip", "server_port",
	"byte_tx", "byte_rx", "packet_tx", "packet_rx", "rtt_us", "syn_latency_us",
	"retrans_count", "zero_window_count", "rst_count", "rst_sender", "conn_failed", "close_type", "flow_id",
}

// BuildFlowLog renders the flow-log query: the rows of l4_flow_log matching the filters, newest
// first, at most MaxFlowLogLimit. Every observation point is a row here unless observation_point
// names one.
func BuildFlowLog(database string, m *NetModel, r Range) (*Statement, error) {
	if m.Format != "" && m.Format != FormatTable && m.Format != FormatLogs {
		return nil, fmt.Errorf("format %s is not one of table, logs", Quote(truncate(m.Format, 40)))
	}
	b, conds, err := netRows(database, "l4_flow_log", m, r, true)
	if err != nil {
		return nil, err
	}
	for _, v := range m.CloseType {
		if !schema.Get().IsCloseType(v) {
			return nil, fmt.Errorf("filter close_type: %s is not one of %s", Quote(truncate(v, 60)), strings.Join(schema.Get().CloseTypes, ", "))
		}
	}
	for _, v := range m.RstSender {
		if !containsStr(schema.Get().RstSenders, v) {
			return nil, fmt.Errorf("filter rst_sender: %s is not one of %s", Quote(truncate(v, 60)), strings.Join(schema.Get().RstSenders, ", "))
		}
	}
	for _, f := range []struct {
		field string
		vals  Values
	}{{"close_type", m.CloseType}, {"rst_sender", m.RstSender}} {
		if len(f.vals) > 0 {
			s, err := b.in(f.field, f.field, f.vals)
			if err != nil {
				return nil, err
			}
			conds = append(conds, s)
		}
	}
	if m.ConnFailed {
		conds = append(conds, fmt.Sprintf("%s = 1", b.c("conn_failed")))
	}
	if m.MinRetrans < 0 {
		return nil, fmt.Errorf("min_retrans %d is below 0", m.MinRetrans)
	}
	if m.MinRetrans > 0 {
		conds = append(conds, fmt.Sprintf("%s >= %d", b.c("retrans_count"), min(int64(m.MinRetrans), math.MaxUint32)))
	}
	if m.MinRTTMs > 0 {
		conds = append(conds, fmt.Sprintf("%s >= %d", b.c("rtt_us"), min(m.MinRTTMs.Micros(), math.MaxUint32)))
	}
	limit, requested := clampLimit(m.Limit, DefaultFlowLogLimit, MaxFlowLogLimit)
	if tag, err := groupTag(m.GroupBy, "flow_log groups its flows"); err != nil {
		return nil, err
	} else if tag != "" {
		if m.Format == FormatLogs {
			return nil, fmt.Errorf("flow_log grouped by a tag is a table: format logs does not apply")
		}
		return b.flowGroups(tag, conds, r, limit, requested)
	}
	cols := make([]string, len(FlowLogColumns))
	for i, c := range FlowLogColumns {
		cols[i] = b.c(c)
	}
	sql := fmt.Sprintf(`SELECT
  toUInt32(%s) AS time_unix,
  %s
FROM %s
WHERE %s
ORDER BY %s DESC, %s DESC
LIMIT %d`,
		b.c("time"), strings.Join(cols, ",\n  "), b.from(), strings.Join(conds, "\n  AND "), b.c("time"), b.c("start_time_us"), limit)
	st := b.statement(sql)
	st.Limit, st.RequestedLimit = limit, requested
	return st, nil
}

// flowGroups renders flow_log grouped by tag: per (client tag, server tag, observation point) of the
// rows where conds hold (columns client, server: each end's value, or its service without one, the
// map's node names), the distinct flows, failed connects, bytes each way, retransmissions, RSTs,
// zero windows and the mean of the RTT reports (0: none), most flows first. Each row's ends take the
// tag of their process at the row's time (netEnds). Every point is its own row, as flow_log's rows.
func (b *builder) flowGroups(tag string, conds []string, r Range, limit int, requested int64) (*Statement, error) {
	ends := netEnds(b)
	client, err := b.tagValue(tag, ends[0], r)
	if err != nil {
		return nil, err
	}
	server, err := b.tagValue(tag, ends[1], r)
	if err != nil {
		return nil, err
	}
	sql := fmt.Sprintf(`SELECT
  node_client AS client,
  node_server AS server,
  flow_point AS observation_point,
  uniqExact(flow_host, flow_fid, flow_client_ip, flow_client_port, flow_server_ip, flow_server_port) AS flows,
  sum(flow_failed) AS conn_failed,
  sum(flow_byte_tx) AS byte_tx,
  sum(flow_byte_rx) AS byte_rx,
  sum(flow_retrans) AS retrans_count,
  sum(flow_rst) AS rst_count,
  sum(flow_zero_window) AS zero_window_count,
  intDiv(sumIf(flow_rtt, flow_rtt > 0), greatest(countIf(flow_rtt > 0), 1)) AS rtt_avg_us
FROM (
  SELECT %s AS node_client, %s AS node_server, %s AS flow_point, %s AS flow_host, %s AS flow_fid,
    %s AS flow_client_ip, %s AS flow_client_port, %s AS flow_server_ip, %s AS flow_server_port,
    %s AS flow_failed, %s AS flow_byte_tx, %s AS flow_byte_rx, %s AS flow_retrans, %s AS flow_rst, %s AS flow_zero_window, %s AS flow_rtt
  FROM %s
  WHERE %s
)
GROUP BY client, server, observation_point
ORDER BY flows DESC, client, server, observation_point
LIMIT %d`,
		tagOrName(client, b.c("client_service"), "client_tag"), tagOrName(server, b.c("server_service"), "server_tag"),
		b.c("observation_point"), b.c("host"), b.c("flow_id"), b.c("client_ip"), b.c("client_port"), b.c("server_ip"), b.c("server_port"),
		b.c("conn_failed"), b.c("byte_tx"), b.c("byte_rx"), b.c("retrans_count"), b.c("rst_count"), b.c("zero_window_count"), b.c("rtt_us"),
		b.from(), strings.Join(conds, "\n    AND "), limit)
	st := b.statement(sql)
	st.Limit, st.RequestedLimit = limit, requested
	return st, nil
}

// SearchFlowLog runs the flow-log query newest window first (Newest); one flow (both ends' ports
// given) is looked up over the whole range at once, as are the sums of the flows grouped by a tag.
func SearchFlowLog(database string, m *NetModel, r Range, run func(*Statement) (int, error)) (*Statement, error) {
	whole := len(m.ClientPort) > 0 && len(m.ServerPort) > 0 || len(m.GroupBy) > 0
	return Newest(r, whole, func(w Range) (*Statement, error) { return BuildFlowLog(database, m, w) }, run)
}

// NetMetricsColumns are the sums a net_metrics row carries, in the order of the query's columns
// after bucket, client, server and observation point.
var NetMetricsColumns = []string{"byte_tx", "byte_rx", "packet_tx", "packet_rx", "new_flow_count", "closed_flow_count",
	"conn_failed_count", "retrans_count", "rst_count", "zero_window_count", "rtt_sum_us", "rtt_count"}

// How the preferred mode combines an edge's two ends (client_process, server_process) per column; a
// column not named here comes from the edge's best point only (a byte is counted at both ends).
var (
	// perEndColumns each end counts of its own sends or its own view of the peer, never the same event:
	// a socket's retransmissions, the peer's zero windows it saw, and failed connects (the server never
	// has a socket for them: a connect failing beside successful ones would be lost at the server's view).
	// Added over both ends.
	perEndColumns = map[string]bool{"retrans_count": true, "zero_window_count": true, "conn_failed_count": true}
	// eitherEndColumns one or both ends count: an RST a peer sends is counted by both (sent, received),
	// one a middlebox or a firewall injects by the end that received it. The larger end's count.
	eitherEndColumns = map[string]bool{"rst_count": true}
)

// BuildNetMetrics renders the network-metrics query: one row per (bucket, client service, server
// service[, observation point]) with the sums of NetMetricsColumns. In the preferred mode (the
// default) each client→server pair is read at its best observation point over the range (the
// server's view where there is one), except the counts perEndColumns and eitherEndColumns name;
// "all" or one point keeps the point as a label.
func BuildNetMetrics(database string, m *NetModel, r Range, bucket int64) (*Statement, error) {
	if bucket < 1 {
		return nil, fmt.Errorf("bucket must be at least 1 second, got %d", bucket)
	}
	if m.Metric != "" && m.Metric != MetricAll && !containsStr(NetMetrics, m.Metric) {
		return nil, fmt.Errorf("metric %s is not one of all, %s", Quote(truncate(m.Metric, 60)), strings.Join(NetMetrics, ", "))
	}
	for name, set := range map[string]bool{"client_process": len(m.ClientProcess) > 0, "server_process": len(m.ServerProcess) > 0,
		"client_ip": len(m.ClientIP) > 0, "server_ip": len(m.ServerIP) > 0, "client_port": len(m.ClientPort) > 0,
		"close_type": len(m.CloseType) > 0, "rst_sender": len(m.RstSender) > 0, "conn_failed": bool(m.ConnFailed),
		"min_retrans": m.MinRetrans != 0, "min_rtt_ms": m.MinRTTMs != 0} {
		if set {
			return nil, fmt.Errorf("filter %s applies to flow_log only (net_metrics is summed per service pair and port)", name)
		}
	}
	cols := make([]edgeColumn, len(NetMetricsColumns))
	for i, c := range NetMetricsColumns {
		cols[i] = edgeColumn{name: c, agg: aggOf("sum(%s)", c), combine: combineBest}
		switch {
		case perEndColumns[c]:
			cols[i].combine = combineSum
		case eitherEndColumns[c]:
			cols[i].combine = combineMax
		}
	}
	return buildEdgeSeries(database, "net_metrics", m, r, bucket, cols)
}

// How the preferred mode turns an edge's per-point values of a column into one.
const (
	combineBest    = iota // the value at the edge's best point over the range (sum over the bucket)
	combineBestMax        // the largest value at the edge's best point
	combineSum            // added over the points
	combineMax            // the largest point's value
)

// edgeColumn is one aggregate an edge series query returns per bucket: agg renders its SQL over the
// table's rows (col names a column), combine says how the preferred mode merges points.
type edgeColumn struct {
	name    string
	agg     func(col func(string) string) string
	combine int
}

// aggOf is the aggregate format (one %s per column) over columns.
func aggOf(format string, columns ...string) func(func(string) string) string {
	return func(col func(string) string) string {
		args := make([]any, len(columns))
		for i, c := range columns {
			args[i] = col(c)
		}
		return fmt.Sprintf(format, args...)
	}
}

// buildEdgeSeries renders the one query shape of the per-edge time series (net_metrics,
// netprofile_summary): one row per (bucket, client service, server service[, observation point])
// with cols. In the preferred mode (the default) each client→server pair is read at its best
// observation point over the range (PreferredObservationOrder), except the columns whose combine
// says otherwise; "all" or one point keeps the point.
func buildEdgeSeries(database, table string, m *NetModel, r Range, bucket int64, cols []edgeColumn) (*Statement, error) {
	mode, err := observationMode(m.ObservationPoint)
	if err != nil {
		return nil, err
	}
	b, conds, err := netRows(database, table, m, r, false)
	if err != nil {
		return nil, err
	}
	tag, err := groupTag(m.GroupBy, m.QueryType+" groups its series")
	if err != nil {
		return nil, err
	}
	maxSeries := m.MaxSeries
	if maxSeries <= 0 {
		maxSeries = DefaultMaxSeries
	}
	limit := min(BucketCount(r, bucket)*int64(maxSeries), math.MaxInt32)
	// Grouped, the service edges inside are bounded as the map's edges are; the tag pairs by maxSeries.
	innerLimit := limit
	if tag != "" {
		innerLimit = min(BucketCount(r, bucket)*MaxEdges, math.MaxInt32)
	}
	aggs := make([]string, len(cols))
	for i, c := range cols {
		aggs[i] = c.agg(b.c)
	}
	var sql string
	if mode == ObsPreferred {
		conds = append(conds, "point_rank > 0")
		picks := make([]string, len(cols))
		for i, c := range cols {
			v := fmt.Sprintf("tupleElement(p, %d)", i+3)
			switch c.combine {
			case combineSum:
				picks[i] = fmt.Sprintf("sum(%s) AS %s", v, c.name)
			case combineMax:
				picks[i] = fmt.Sprintf("max(%s) AS %s", v, c.name)
			case combineBestMax:
				picks[i] = fmt.Sprintf("maxIf(%s, tupleElement(p, 1) = best_rank) AS %s", v, c.name)
			default:
				picks[i] = fmt.Sprintf("sumIf(%s, tupleElement(p, 1) = best_rank) AS %s", v, c.name)
			}
		}
		sql = fmt.Sprintf(`SELECT
  tupleElement(p, 2) AS bucket,
  client,
  server,
  '' AS point,
  %s
FROM (
  SELECT client, server, min(point_rank) AS best_rank,
    groupArray((point_rank, point_bucket, %s)) AS points
  FROM (
    SELECT %s AS client, %s AS server,
      %s AS point_rank,
      intDiv(toUInt32(%s), %d) * %d AS point_bucket,
      %s
    FROM %s
    WHERE %s
    GROUP BY client, server, point_rank, point_bucket
  )
  GROUP BY client, server
)
ARRAY JOIN points AS p
GROUP BY bucket, client, server
ORDER BY bucket, client, server
LIMIT %d`,
			strings.Join(picks, ",\n  "), strings.Join(pointSums(len(cols)), ", "),
			b.c("client_service"), b.c("server_service"), b.pointRank(), b.c("time"), bucket, bucket,
			strings.Join(withAliases(aggs, "s"), ",\n      "), b.from(), strings.Join(conds, "\n      AND "), innerLimit+1)
	} else {
		if mode != ObsAll {
			conds = append(conds, fmt.Sprintf("%s = %s", b.c("observation_point"), Quote(mode)))
		}
		named := make([]string, len(cols))
		for i, c := range cols {
			named[i] = fmt.Sprintf("%s AS %s", aggs[i], c.name)
		}
		sql = fmt.Sprintf(`SELECT
  intDiv(toUInt32(%s), %d) * %d AS bucket,
  %s AS client,
  %s AS server,
  %s AS point,
  %s
FROM %s
WHERE %s
GROUP BY bucket, client, server, point
ORDER BY bucket, client, server, point
LIMIT %d`,
			b.c("time"), bucket, bucket, b.c("client_service"), b.c("server_service"), b.c("observation_point"),
			strings.Join(named, ",\n  "), b.from(), strings.Join(conds, "\n  AND "), innerLimit+1)
	}
	if tag != "" {
		if sql, err = b.groupEdgeSeries(sql, tag, r, cols, limit); err != nil {
			return nil, err
		}
	}
	st := b.statement(sql)
	st.BucketSeconds, st.Limit, st.MaxSeries = bucket, int(limit), maxSeries
	return st, nil
}

// groupEdgeSeries renders the per-edge series grouped by tag: the service edges' rows of inner
// (bucket, client, server, point, cols: each edge already combined over its points), each end named
// by its tag (tagOrName: its service without one), summed again per (bucket, tag pair, point); a
// largest value stays the largest.
func (b *builder) groupEdgeSeries(inner, tag string, r Range, cols []edgeColumn, limit int64) (string, error) {
	client, err := b.tagValue(tag, RowKey{Service: "edge_client"}, r)
	if err != nil {
		return "", err
	}
	server, err := b.tagValue(tag, RowKey{Service: "edge_server"}, r)
	if err != nil {
		return "", err
	}
	renamed, names, sums := make([]string, len(cols)), make([]string, len(cols)), make([]string, len(cols))
	for i, c := range cols {
		renamed[i], names[i] = fmt.Sprintf("%s AS edge_c%d", c.name, i), fmt.Sprintf("edge_c%d", i)
		agg := "sum"
		if c.combine == combineBestMax {
			agg = "max"
		}
		sums[i] = fmt.Sprintf("%s(edge_c%d) AS %s", agg, i, c.name)
	}
	return fmt.Sprintf(`SELECT
  edge_bucket AS bucket,
  node_client AS client,
  node_server AS server,
  edge_point AS point,
  %s
FROM (
  SELECT edge_bucket, edge_point, %s AS node_client, %s AS node_server, %s
  FROM (
    SELECT bucket AS edge_bucket, client AS edge_client, server AS edge_server, point AS edge_point, %s
    FROM (
%s
    )
  )
)
GROUP BY bucket, client, server, point
ORDER BY bucket, client, server, point
LIMIT %d`, strings.Join(sums, ",\n  "), tagOrName(client, "edge_client", "client_tag"), tagOrName(server, "edge_server", "server_tag"),
		strings.Join(names, ", "), strings.Join(renamed, ", "), inner, limit+1), nil
}

// pointSums names the n per-point sums s1..sn of the preferred net_metrics query's inner level.
func pointSums(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("s%d", i+1)
	}
	return out
}

func withAliases(exprs []string, prefix string) []string {
	out := make([]string, len(exprs))
	for i, e := range exprs {
		out[i] = fmt.Sprintf("%s AS %s%d", e, prefix, i+1)
	}
	return out
}

// ProfileColumns are the tcp_timeline columns netprofile reads, in order (after time_unix).
var ProfileColumns = []string{
	"host", "netns", "interface", "observation_point", "flow_id", "client_ip", "client_port", "server_ip", "server_port",
	"client_service", "server_service",
	"event_time_us", "event_direction", "event_tcp_flags", "event_seq", "event_ack", "event_payload_len",
	"conn_latency_us", "ack_latency_us", "ack_latency_max_us", "ack_count",
	"server_response_us", "server_response_max_us", "server_response_count",
	"client_wait_us", "client_wait_max_us", "client_wait_count",
	"packet_count", "retrans_count", "events_truncated", "event_window", "zero_window_count",
}

// BuildNetProfile renders the network-profile query: the tcp_timeline rows of one TCP flow (both
// ends' address and port, optionally the observing host) over the range, at every observation
// point, oldest first, at most MaxProfileRows+1 (one more tells that some were left out).
func BuildNetProfile(database string, m *NetModel, r Range) (*Statement, error) {
	if len(m.ClientIP) != 1 || len(m.ServerIP) != 1 || len(m.ClientPort) != 1 || len(m.ServerPort) != 1 {
		return nil, fmt.Errorf("a network profile is one TCP flow: give exactly one client_ip, client_port, server_ip and server_port")
	}
	for name, set := range map[string]bool{"service": len(m.Service) > 0, "client_service": len(m.ClientService) > 0,
		"client_process": len(m.ClientProcess) > 0, "server_process": len(m.ServerProcess) > 0, "close_type": len(m.CloseType) > 0,
		"rst_sender": len(m.RstSender) > 0, "conn_failed": bool(m.ConnFailed), "min_retrans": m.MinRetrans != 0, "min_rtt_ms": m.MinRTTMs != 0} {
		if set {
			return nil, fmt.Errorf("filter %s does not apply to netprofile (the flow's ends and host select it)", name)
		}
	}
	b, conds, err := netRows(database, "tcp_timeline", m, r, true)
	if err != nil {
		return nil, err
	}
	cols := make([]string, len(ProfileColumns))
	for i, c := range ProfileColumns {
		cols[i] = b.c(c)
	}
	sql := fmt.Sprintf(`SELECT
  toUInt32(%s) AS time_unix,
  %s
FROM %s
WHERE %s
ORDER BY %s, %s, %s
LIMIT %d`,
		b.c("time"), strings.Join(cols, ",\n  "), b.from(), strings.Join(conds, "\n  AND "),
		b.c("time"), b.c("observation_point"), b.c("flow_id"), MaxProfileRows+1)
	st := b.statement(sql)
	st.Limit = MaxProfileRows
	return st, nil
}

// Network profile summary metrics (netprofile_summary): each of the four latencies per edge and bucket,
// its mean over the samples and its largest sample, in ms.
const (
	ProfileMetricConnAvg           = "conn_latency_avg"    // connection establishment (SYN → SYN/ACK → ACK)
	ProfileMetricConnMax           = "conn_latency_max"    //
	ProfileMetricAckAvg            = "ack_latency_avg"     // system (ACK) latency: data → the ACK covering it
	ProfileMetricAckMax            = "ack_latency_max"     //
	ProfileMetricServerResponseAvg = "server_response_avg" // last request byte → first response byte
	ProfileMetricServerResponseMax = "server_response_max" //
	ProfileMetricClientWaitAvg     = "client_wait_avg"     // last response byte → next request byte
	ProfileMetricClientWaitMax     = "client_wait_max"     //
)

// ProfileMetrics lists the summary's metrics in output order.
var ProfileMetrics = []string{ProfileMetricConnAvg, ProfileMetricConnMax, ProfileMetricAckAvg, ProfileMetricAckMax,
	ProfileMetricServerResponseAvg, ProfileMetricServerResponseMax, ProfileMetricClientWaitAvg, ProfileMetricClientWaitMax}

// ProfileSummaryColumns are the per-bucket aggregates of netprofile_summary, in the query's order after
// bucket, client, server and point: per latency the sum of its samples (µs), their count and the largest.
// A tcp_timeline row holds each latency's mean and count over its interval (the connection's one sample
// where the handshake was seen), so the sum is mean × count.
// (Aliases are not column names: a column aggregated twice under its own name is an error on 18.16.)
var ProfileSummaryColumns = []string{"conn_sum_us", "conn_samples", "conn_max_us", "ack_sum_us", "ack_samples", "ack_max_us",
	"server_response_sum_us", "server_response_samples", "server_response_max_us", "client_wait_sum_us", "client_wait_samples", "client_wait_max_us"}

// BuildNetProfileSummary renders the per-edge summary of the four network-profile latencies over time:
// one row per (bucket, client service, server service[, observation point]) of tcp_timeline, the edge at
// its best point over the range by default (the server's NIC, else the client's).
func BuildNetProfileSummary(database string, m *NetModel, r Range, bucket int64) (*Statement, error) {
	if bucket < 1 {
		return nil, fmt.Errorf("bucket must be at least 1 second, got %d", bucket)
	}
	if m.Metric != "" && m.Metric != MetricAll && !containsStr(ProfileMetrics, m.Metric) {
		return nil, fmt.Errorf("metric %s is not one of all, %s", Quote(truncate(m.Metric, 60)), strings.Join(ProfileMetrics, ", "))
	}
	for name, set := range map[string]bool{"client_process": len(m.ClientProcess) > 0, "server_process": len(m.ServerProcess) > 0,
		"close_type": len(m.CloseType) > 0, "rst_sender": len(m.RstSender) > 0, "conn_failed": bool(m.ConnFailed),
		"min_retrans": m.MinRetrans != 0, "min_rtt_ms": m.MinRTTMs != 0} {
		if set {
			return nil, fmt.Errorf("filter %s does not apply to netprofile_summary (tcp_timeline names services, addresses and ports)", name)
		}
	}
	cols := []edgeColumn{
		{"conn_sum_us", aggOf("sum(%s)", "conn_latency_us"), combineBest},
		{"conn_samples", aggOf("countIf(%s > 0)", "conn_latency_us"), combineBest},
		{"conn_max_us", aggOf("max(%s)", "conn_latency_us"), combineBestMax},
	}
	for _, l := range []struct{ name, mean, count, max string }{
		{"ack", "ack_latency_us", "ack_count", "ack_latency_max_us"},
		{"server_response", "server_response_us", "server_response_count", "server_response_max_us"},
		{"client_wait", "client_wait_us", "client_wait_count", "client_wait_max_us"},
	} {
		cols = append(cols,
			edgeColumn{l.name + "_sum_us", aggOf("sum(toUInt64(%s) * %s)", l.mean, l.count), combineBest},
			edgeColumn{l.name + "_samples", aggOf("sum(%s)", l.count), combineBest},
			edgeColumn{l.name + "_max_us", aggOf("max(%s)", l.max), combineBestMax})
	}
	return buildEdgeSeries(database, "tcp_timeline", m, r, bucket, cols)
}
