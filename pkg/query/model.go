package query

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Query types (the query JSON field "queryType").
const (
	TypeRED    = "red"
	TypeMap    = "map"
	TypeSQLLog = "sql_log"
	TypeTrace  = "trace" // options: see TraceQuery
	// TypeTraceSearch lists traces (one row per entry request): options in Model, see BuildTraceSearch.
	TypeTraceSearch = "trace_search"
	// TypeFlameGraph: options in FlameModel (pkg/query/flamegraph.go)
	TypeFlameGraph = "flamegraph"
)

// RED metric names; the "metric" option selects one of them or MetricAll.
const (
	MetricRequestRate = "request_rate"
	MetricErrorRate   = "error_rate"
	MetricErrorRatio  = "error_ratio"
	MetricLatencyAvg  = "latency_avg"
	MetricLatencyP50  = "latency_p50"
	MetricLatencyP90  = "latency_p90"
	MetricLatencyP99  = "latency_p99"
	MetricLatencyMax  = "latency_max"
	MetricAll         = "all"
)

// REDMetrics lists the RED metrics in output order.
var REDMetrics = []string{MetricRequestRate, MetricErrorRate, MetricErrorRatio, MetricLatencyAvg,
	MetricLatencyP50, MetricLatencyP90, MetricLatencyP99, MetricLatencyMax}

// Percentiles maps each percentile metric to its quantile.
var Percentiles = map[string]float64{MetricLatencyP50: 0.50, MetricLatencyP90: 0.90, MetricLatencyP99: 0.99}

// NeedsSketch tells whether metrics include a percentile (read from the latency sketch of app_metrics or its rollup).
func NeedsSketch(metrics []string) bool {
	for _, m := range metrics {
		if _, ok := Percentiles[m]; ok {
			return true
		}
	}
	return false
}

// GroupDimension is one dimension RED series can be split by: the group_by value, the
// app_metrics column and the label it gets on each series. A tag dimension (Tag set, Column
// empty) is the server service's value of that tag, looked up at read time (tags.go).
type GroupDimension struct {
	Name, Column, Label string
	Tag                 bool
}

// REDDimensions are the group_by values of RED, in label order. "service" is the server.
var REDDimensions = []GroupDimension{
	{"service", "server_service", "service", false},
	{"client_service", "client_service", "client_service", false},
	{"l7_protocol", "l7_protocol", "l7_protocol", false},
	{"endpoint", "endpoint", "endpoint", false},
	{"observation_point", "observation_point", "observation_point", false},
}

// MetricLabel is the label naming a series' RED metric (also its field name): with it every
// series of an answer has distinct labels even when several metrics share the answer, which
// Grafana's alerting needs (it identifies a series by its labels).
const MetricLabel = "metric"

// MaxREDTagGroups bounds the tags one RED query groups by.
const MaxREDTagGroups = 2

// REDGroupBy returns the dimensions of group_by in REDDimensions order (default: service), then
// the tags among them (team, namespace, workload, ...: the server's), in the order asked.
func (m *Model) REDGroupBy() ([]GroupDimension, error) {
	if len(m.GroupBy) == 0 {
		return REDDimensions[:1], nil
	}
	names := make([]string, len(REDDimensions))
	for i, d := range REDDimensions {
		names[i] = d.Name
	}
	var out []GroupDimension
	for _, d := range REDDimensions {
		if containsStr(m.GroupBy, d.Name) || (d.Name == "l7_protocol" && containsStr(m.GroupBy, "protocol")) {
			out = append(out, d)
		}
	}
	var tags []GroupDimension
	for _, g := range m.GroupBy {
		if containsStr(names, g) || g == "protocol" {
			continue
		}
		if _, _, err := sourceOf(g); err != nil || g == MetricLabel {
			return nil, fmt.Errorf("group_by %s is not one of %s nor a tag (%s)", Quote(truncate(g, 60)), strings.Join(names, ", "), strings.Join(TagNames(), ", "))
		}
		if !slices.ContainsFunc(tags, func(d GroupDimension) bool { return d.Name == g }) {
			tags = append(tags, GroupDimension{Name: g, Label: g, Tag: true})
		}
	}
	if len(tags) > MaxREDTagGroups {
		return nil, fmt.Errorf("RED groups by at most %d tags: group_by has %d", MaxREDTagGroups, len(tags))
	}
	return append(out, tags...), nil
}

// REDMetricList returns the metrics the query asks for, in REDMetrics order ("all" or none: every one).
func (m *Model) REDMetricList() ([]string, error) {
	switch {
	case m.Metric == "" || m.Metric == MetricAll:
		return REDMetrics, nil
	case containsStr(REDMetrics, m.Metric):
		return []string{m.Metric}, nil
	}
	return nil, fmt.Errorf("metric %s is not one of all, %s", Quote(truncate(m.Metric, 60)), strings.Join(REDMetrics, ", "))
}

// Observation-point filter values beyond the schema's own points.
const (
	// ObsPreferred (the default, also ""): per client→server pair keep only the rows of the
	// best observation point present, so a call seen at both ends is counted once.
	ObsPreferred = "preferred"
	// ObsAll keeps every row (a call seen at two points counts twice).
	ObsAll = "all"
)

// DefaultMaxSeries bounds the services of one RED query when the datasource sets no bound.
const DefaultMaxSeries = 100

// DefaultLogLimit and MaxLogLimit bound sql_log rows.
const (
	DefaultLogLimit = 1000
	MaxLogLimit     = 10000
)

// DefaultTraceSearchLimit and MaxTraceSearchLimit bound trace_search rows.
const (
	DefaultTraceSearchLimit = 100
	MaxTraceSearchLimit     = 1000
)

// MaxSearchVerdicts bounds the traces of one trace search assembled for their verdict (each costs
// a few queries: about 50 ms at 10M request logs an hour).
const MaxSearchVerdicts = 20

// Request-log orders (the "order_by" option of sql_log).
const (
	OrderByTime     = "time"     // newest first (the default)
	OrderByDuration = "duration" // slowest first: a service's slowest requests in a range
)

// Request-log output formats (the "format" option of sql_log).
const (
	FormatTable = "table" // one column per l7_flow_log column (the default: table panels, alert rules)
	FormatLogs  = "logs"  // Grafana's log-lines frame (Logs panel, Explore)
)

// Values is a filter that accepts a JSON string or an array of strings (multi-value
// template variables). Empty strings are dropped.
type Values []string

// UnmarshalJSON accepts "x", ["x","y"] or null.
func (v *Values) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*v = nil
		if one != "" {
			*v = Values{one}
		}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("expected a string or an array of strings, got %s", truncate(string(b), 80))
	}
	out := Values{}
	for _, s := range many {
		if s != "" {
			out = append(out, s)
		}
	}
	*v = out
	return nil
}

// numberText is the text of a JSON number or numeric string (template variables arrive as
// strings). set is false for null (s "null": leave the value as it is) and for "" (s "": unset).
func numberText(b []byte) (s string, set bool) {
	s = strings.TrimSpace(string(b))
	if s == "null" {
		return s, false
	}
	if u, err := strconv.Unquote(s); err == nil {
		s = strings.TrimSpace(u)
	}
	return s, s != ""
}

// Count is a row count given as a JSON number or numeric string of any size: beyond int64 it
// saturates (the caller clamps it to its own bound), fractions are dropped.
type Count int64

// UnmarshalJSON accepts 10, 1e30, "10" or null.
func (c *Count) UnmarshalJSON(b []byte) error {
	s, set := numberText(b)
	if !set {
		if s == "" {
			*c = 0
		}
		return nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) {
		return fmt.Errorf("limit %s is not a number", Quote(truncate(s, 40)))
	}
	switch {
	case f >= math.MaxInt64:
		*c = math.MaxInt64
	case f <= math.MinInt64:
		*c = math.MinInt64
	default:
		*c = Count(f)
	}
	return nil
}

// Model is the query JSON the frontend and alert rules send. Filter names are the column
// names; camelCase aliases are accepted too.
type Model struct {
	QueryType        string     `json:"queryType"`
	Service          Values     `json:"service"`           // server_service (map: either end)
	ClientService    Values     `json:"client_service"`    // client_service
	L7Protocol       Values     `json:"l7_protocol"`       // l7_protocol
	ObservationPoint string     `json:"observation_point"` // a point, "preferred" (default) or "all"
	Endpoint         Values     `json:"endpoint"`          // endpoint
	Status           Values     `json:"status"`            // response_status (sql_log only)
	Metric           string     `json:"metric"`            // red: one of REDMetrics or "all" (default)
	GroupBy          Values     `json:"group_by"`          // red: dimensions of REDDimensions (default service); map: one tag naming the nodes (tags.go)
	Limit            Count      `json:"limit"`             // sql_log: rows, default 1000, more than 10000 is clamped
	RequestType      Values     `json:"request_type"`      // request_type (sql_log, trace_search)
	ResponseCode     Values     `json:"response_code"`     // response_code, integers (sql_log, trace_search)
	MinDurationMs    Millis     `json:"min_duration_ms"`   // response_duration_us >= (sql_log, trace_search)
	MaxDurationMs    Millis     `json:"max_duration_ms"`   // response_duration_us <= (sql_log)
	Search           string     `json:"search"`            // substring of request_resource, case-insensitive (sql_log)
	TraceID          string     `json:"trace_id"`          // trace_id or x_request_id equals (sql_log, trace_search)
	RequestID        string     `json:"request_id"`        // x_request_id equals (sql_log, trace_search)
	Format           string     `json:"format"`            // sql_log: FormatTable (default) or FormatLogs
	Verdicts         Count      `json:"verdicts"`          // trace_search: assemble the first N traces for their culprit (at most MaxSearchVerdicts)
	ClientIP         Values     `json:"client_ip"`         // client_ip (sql_log, trace_search): a flow's requests
	ClientPort       IDs        `json:"client_port"`       // client_port (sql_log, trace_search)
	ServerIP         Values     `json:"server_ip"`         // server_ip (sql_log, trace_search)
	ServerPort       IDs        `json:"server_port"`       // server_port (sql_log, trace_search)
	Tags             TagFilters `json:"tags"`              // map: tag -> values either end must have; red: the server; sql_log, trace_search: client or server end
	ServerProcess    Values     `json:"server_process"`    // server_process (sql_log, trace_search): the process a flame graph shows
	ServerPid        IDs        `json:"server_pid"`        // server_pid (sql_log, trace_search)
	OrderBy          string     `json:"order_by"`          // sql_log: OrderByTime (default, newest first) or OrderByDuration (slowest first)
	Annotation       string     `json:"annotation"`        // annotations: the event kind (AnnotationKinds)
	Threshold        Ratio      `json:"threshold"`         // annotations error_spike: the error ratio above which a bucket is a spike
	MinRequests      Count      `json:"min_requests"`      // annotations error_spike: requests a bucket needs to be judged
	Host             Values     `json:"host"`              // annotations agent_restart, agent_stop: the agents' hosts
	// MaxSeries bounds RED's services (the datasource setting, not part of the query JSON).
	MaxSeries int `json:"-"`
}

// Ratio is a number given as a JSON number or numeric string (template variables arrive as
// strings); null and "" mean not set (0).
type Ratio float64

// UnmarshalJSON accepts 0.05, "0.05", "" or null.
func (x *Ratio) UnmarshalJSON(b []byte) error {
	s, set := numberText(b)
	if !set {
		return nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return fmt.Errorf("%s is not a number", Quote(truncate(s, 40)))
	}
	*x = Ratio(f)
	return nil
}

// Millis is a duration in milliseconds given as a JSON number or numeric string (template
// variables arrive as strings); null, "" and 0 mean no bound.
type Millis float64

// UnmarshalJSON accepts 12.5, "12.5", "" or null.
func (d *Millis) UnmarshalJSON(b []byte) error {
	s, set := numberText(b)
	if !set {
		if s == "" {
			*d = 0
		}
		return nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
		return fmt.Errorf("duration %s is not a number of milliseconds (0 or more)", Quote(truncate(s, 40)))
	}
	*d = Millis(f)
	return nil
}

// Micros is the bound in whole microseconds (the unit of response_duration_us), saturating.
func (d Millis) Micros() int64 {
	us := math.Round(float64(d) * 1000)
	if us >= math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(us)
}

type camelAliases struct {
	GroupBy          Values `json:"groupBy"`
	ClientService    Values `json:"clientService"`
	L7Protocol       Values `json:"l7Protocol"`
	ObservationPoint string `json:"observationPoint"`
	RequestType      Values `json:"requestType"`
	ResponseCode     Values `json:"responseCode"`
	MinDurationMs    Millis `json:"minDurationMs"`
	MaxDurationMs    Millis `json:"maxDurationMs"`
	TraceID          string `json:"traceId"`
	RequestID        string `json:"requestId"`
}

// Parse decodes query JSON.
func Parse(raw []byte) (*Model, error) {
	var m Model
	if len(raw) == 0 {
		return nil, fmt.Errorf("empty query")
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("invalid query JSON: %w", err)
	}
	var a camelAliases
	if err := json.Unmarshal(raw, &a); err == nil {
		if len(m.ClientService) == 0 {
			m.ClientService = a.ClientService
		}
		if len(m.GroupBy) == 0 {
			m.GroupBy = a.GroupBy
		}
		if len(m.L7Protocol) == 0 {
			m.L7Protocol = a.L7Protocol
		}
		if m.ObservationPoint == "" {
			m.ObservationPoint = a.ObservationPoint
		}
		if len(m.RequestType) == 0 {
			m.RequestType = a.RequestType
		}
		if len(m.ResponseCode) == 0 {
			m.ResponseCode = a.ResponseCode
		}
		if m.MinDurationMs == 0 {
			m.MinDurationMs = a.MinDurationMs
		}
		if m.MaxDurationMs == 0 {
			m.MaxDurationMs = a.MaxDurationMs
		}
		if m.TraceID == "" {
			m.TraceID = a.TraceID
		}
		if m.RequestID == "" {
			m.RequestID = a.RequestID
		}
	}
	m.QueryType, m.Annotation = strings.TrimSpace(m.QueryType), strings.TrimSpace(m.Annotation)
	m.TraceID, m.RequestID, m.Format = strings.TrimSpace(m.TraceID), strings.TrimSpace(m.RequestID), strings.TrimSpace(m.Format)
	m.OrderBy = strings.TrimSpace(m.OrderBy)
	return &m, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
