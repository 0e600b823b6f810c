package query

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Query types (the query JSON field "queryType").
const (
	TypeRED    = "red"
	TypeMap    = "map"
	TypeSQLLog = "sql_log"
	TypeTrace  = "trace" // options: see TraceQuery
	// TypeFlameGraph: options in FlameModel (pkg/query/flamegraph.go)
	TypeFlameGraph = "flamegraph"
)

// RED metric names; the "metric" option selects one of them or MetricAll.
const (
	MetricRequestRate = "request_rate"
	MetricErrorRate   = "error_rate"
	MetricErrorRatio  = "error_ratio"
	MetricLatencyAvg  = "latency_avg"
	MetricLatencyMax  = "latency_max"
	MetricAll         = "all"
)

// REDMetrics lists the RED metrics in output order.
var REDMetrics = []string{MetricRequestRate, MetricErrorRate, MetricErrorRatio, MetricLatencyAvg, MetricLatencyMax}

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

// Count is a row count given as a JSON number or numeric string of any size: beyond int64 it
// saturates (the caller clamps it to its own bound), fractions are dropped.
type Count int64

// UnmarshalJSON accepts 10, 1e30, "10" or null.
func (c *Count) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "null" {
		return nil
	}
	if u, err := strconv.Unquote(s); err == nil {
		s = strings.TrimSpace(u)
	}
	if s == "" {
		*c = 0
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
	QueryType        string `json:"queryType"`
	Service          Values `json:"service"`           // server_service (map: either end)
	ClientService    Values `json:"client_service"`    // client_service
	L7Protocol       Values `json:"l7_protocol"`       // l7_protocol
	ObservationPoint string `json:"observation_point"` // a point, "preferred" (default) or "all"
	Endpoint         Values `json:"endpoint"`          // endpoint
	Status           Values `json:"status"`            // response_status (sql_log only)
	Metric           string `json:"metric"`            // red: one of REDMetrics or "all" (default)
	Limit            Count  `json:"limit"`             // sql_log: rows, default 1000, more than 10000 is clamped
	// MaxSeries bounds RED's services (the datasource setting, not part of the query JSON).
	MaxSeries int `json:"-"`
}

type camelAliases struct {
	ClientService    Values `json:"clientService"`
	L7Protocol       Values `json:"l7Protocol"`
	ObservationPoint string `json:"observationPoint"`
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
		if len(m.L7Protocol) == 0 {
			m.L7Protocol = a.L7Protocol
		}
		if m.ObservationPoint == "" {
			m.ObservationPoint = a.ObservationPoint
		}
	}
	m.QueryType = strings.TrimSpace(m.QueryType)
	return &m, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
