package query

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/flowlens/flowlens/pkg/schema"
)

// TypeTriage names suspects for a service, an edge or an endpoint over a fault window against a
// baseline window: options in TriageModel, the ranking in pkg/triage.
const TypeTriage = "triage"

// Baseline choices of a triage (the "baseline" option) when baselineFrom/baselineTo are not given.
const (
	BaselineBefore       = "before"        // the same length just before the fault window (default)
	BaselinePreviousHour = "previous_hour" // the hour before the fault window
)

// Triage bounds: the rows each of its queries may return (a query that reaches its bound says so in
// the answer's notes), and the profiles it reads.
const (
	MaxTriageEdgeRows    = 20000
	MaxTriageFlowRows    = 5000
	MaxTriageFunctions   = 200
	MaxTriageProfiled    = 3
	MaxTriageWindowRatio = 24 // a baseline at most this many times the fault window
)

// TriageModel is the query JSON of queryType "triage": a service (the server), optionally its client
// (an edge) or an endpoint of it; the query's time range is the fault window.
type TriageModel struct {
	QueryType     string  `json:"queryType"`
	Service       Values  `json:"service"`        // the server service: exactly one
	ClientService Values  `json:"client_service"` // an edge: the client calling it (at most one)
	Endpoint      Values  `json:"endpoint"`       // an endpoint of the service (at most one)
	Baseline      string  `json:"baseline"`       // BaselineBefore (default) or BaselinePreviousHour
	BaselineFrom  TimeArg `json:"baselineFrom"`   // an explicit baseline window (both or neither)
	BaselineTo    TimeArg `json:"baselineTo"`
}

// ParseTriage decodes triage query JSON and checks the target.
func ParseTriage(raw []byte) (*TriageModel, error) {
	var m TriageModel
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("invalid query JSON: %w", err)
	}
	var camel struct {
		ClientService Values `json:"clientService"`
	}
	if json.Unmarshal(raw, &camel) == nil && len(m.ClientService) == 0 {
		m.ClientService = camel.ClientService
	}
	m.Baseline = strings.TrimSpace(m.Baseline)
	if len(m.Service) != 1 {
		return nil, fmt.Errorf("a triage is about one service: give exactly one service (the server; with client_service, the edge)")
	}
	if len(m.ClientService) > 1 || len(m.Endpoint) > 1 {
		return nil, fmt.Errorf("a triage takes at most one client_service and one endpoint")
	}
	for _, v := range [][2]string{{"service", m.Service[0]}, {"client_service", first(m.ClientService)}, {"endpoint", first(m.Endpoint)}} {
		if err := checkValue(v[0], v[1]); err != nil {
			return nil, err
		}
	}
	if m.Baseline != "" && m.Baseline != BaselineBefore && m.Baseline != BaselinePreviousHour {
		return nil, fmt.Errorf("baseline %s is not one of %s, %s", Quote(truncate(m.Baseline, 40)), BaselineBefore, BaselinePreviousHour)
	}
	if m.BaselineFrom.Set != m.BaselineTo.Set {
		return nil, fmt.Errorf("give both baselineFrom and baselineTo, or neither")
	}
	return &m, nil
}

func first(v Values) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// TriageWindows are the fault window (the query's range) and the baseline window, both inclusive at
// second precision and not overlapping.
type TriageWindows struct {
	Fault, Baseline Range
}

// Windows resolves the baseline of fault: explicit, the hour before, or the same length just before.
func (m *TriageModel) Windows(fault Range) (TriageWindows, error) {
	fault = Range{From: fault.From.Truncate(time.Second), To: fault.To.Truncate(time.Second)}
	if fault.To.Before(fault.From) {
		return TriageWindows{}, fmt.Errorf("time range ends (%s) before it starts (%s)", fault.To.UTC().Format(time.RFC3339), fault.From.UTC().Format(time.RFC3339))
	}
	length := fault.To.Sub(fault.From) + time.Second
	var base Range
	switch {
	case m.BaselineFrom.Set:
		base = Range{From: m.BaselineFrom.T.Truncate(time.Second), To: m.BaselineTo.T.Truncate(time.Second)}
		if base.To.Before(base.From) {
			return TriageWindows{}, fmt.Errorf("the baseline ends before it starts")
		}
		if !base.To.Before(fault.From) && !fault.To.Before(base.From) {
			return TriageWindows{}, fmt.Errorf("the baseline window overlaps the fault window (the query's time range)")
		}
		if base.To.Sub(base.From)+time.Second > length*MaxTriageWindowRatio {
			return TriageWindows{}, fmt.Errorf("the baseline window is more than %d times the fault window", MaxTriageWindowRatio)
		}
	case m.Baseline == BaselinePreviousHour:
		base = Range{From: fault.From.Add(-time.Hour), To: fault.From.Add(-time.Second)}
		if length*MaxTriageWindowRatio < time.Hour {
			return TriageWindows{}, fmt.Errorf("the previous hour is more than %d times the fault window: use the default baseline", MaxTriageWindowRatio)
		}
	default:
		base = Range{From: fault.From.Add(-length), To: fault.From.Add(-time.Second)}
	}
	return TriageWindows{Fault: fault, Baseline: base}, nil
}

// windowColumn renders 1 for a row in the fault window, 0 in the baseline, from column (a DateTime
// column, or an expression in seconds); windowConds keeps rows of either window.
func (w TriageWindows) windowColumn(expr string) string {
	return fmt.Sprintf("%s >= %d AND %s <= %d", expr, dateTime(w.Fault.From), expr, dateTime(w.Fault.To))
}

func (w TriageWindows) windowConds(expr string) string {
	return fmt.Sprintf("((%s >= %d AND %s <= %d) OR (%s >= %d AND %s <= %d))",
		expr, dateTime(w.Baseline.From), expr, dateTime(w.Baseline.To), expr, dateTime(w.Fault.From), expr, dateTime(w.Fault.To))
}

// timeConds keeps rows of the table's time column in either window (also as DateTime for the index).
func (b *builder) triageTime(w TriageWindows) []string {
	lo, hi := w.Baseline.From, w.Fault.To
	if w.Fault.From.Before(lo) {
		lo, hi = w.Fault.From, w.Baseline.To
	}
	t := b.c("time")
	return []string{
		fmt.Sprintf("%s >= toDateTime(%d) AND %s <= toDateTime(%d)", t, dateTime(lo), t, dateTime(hi)),
		w.windowConds("toUInt32(" + t + ")"),
	}
}

// graphConds are the conditions of a query over the whole call graph: both windows, and the
// target's own narrowing on its inbound rows (rootOnly).
func (b *builder) graphConds(m *TriageModel, w TriageWindows, endpointColumn bool) ([]string, error) {
	conds := b.triageTime(w)
	root, err := b.rootOnly(m, endpointColumn)
	if err != nil {
		return nil, err
	}
	if root != "" {
		conds = append(conds, root)
	}
	return conds, nil
}

// rootOnly renders the target's own narrowing (its client, its endpoint) as a condition that applies
// to the target's inbound rows only: the rest of the graph (its dependencies) stays whole.
func (b *builder) rootOnly(m *TriageModel, endpointColumn bool) (string, error) {
	var narrow []string
	if len(m.ClientService) > 0 {
		s, err := b.in("client_service", "client_service", m.ClientService)
		if err != nil {
			return "", err
		}
		narrow = append(narrow, s)
	}
	if len(m.Endpoint) > 0 && endpointColumn {
		s, err := b.in("endpoint", "endpoint", m.Endpoint)
		if err != nil {
			return "", err
		}
		narrow = append(narrow, s)
	}
	if len(narrow) == 0 {
		return "", nil
	}
	self, err := b.in("service", "server_service", m.Service)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("(NOT (%s) OR (%s))", self, strings.Join(narrow, " AND ")), nil
}

// TriageEdgeColumns are the columns of BuildTriageEdges and BuildTriageWireEdges, in order.
var TriageEdgeColumns = []string{"fault", "client_service", "server_service", "observation_point", "l7_protocol", "requests", "errors", "duration_sum_us", "duration_max_us"}

// BuildTriageEdges renders RED per (window, client→server edge, observation point, protocol) over both
// windows at the processes' points, for the whole call graph (the ranking walks it from the target down
// its dependencies): app_metrics' per-edge rollup, or app_metrics itself when an endpoint narrows the target.
func BuildTriageEdges(database string, m *TriageModel, w TriageWindows) (*Statement, error) {
	table := EdgeTable
	if len(m.Endpoint) > 0 {
		table = "app_metrics"
	}
	b, err := newBuilder(database, table)
	if err != nil {
		return nil, err
	}
	conds, err := b.graphConds(m, w, true)
	if err != nil {
		return nil, err
	}
	sql := fmt.Sprintf(`SELECT
  %s AS fault,
  %s AS client_service,
  %s AS server_service,
  %s AS observation_point,
  %s AS l7_protocol,
  sum(%s) AS requests,
  sum(%s) AS errors,
  sum(%s) AS duration_sum_us,
  %s AS duration_max_us
FROM %s
WHERE %s
GROUP BY fault, client_service, server_service, observation_point, l7_protocol
ORDER BY fault, client_service, server_service, observation_point, l7_protocol
LIMIT %d`,
		w.windowColumn("toUInt32("+b.c("time")+")"), b.c("client_service"), b.c("server_service"), b.c("observation_point"), b.c("l7_protocol"),
		b.c("request_count"), b.c("error_count"), b.c("response_duration_sum_us"), b.maxDuration(),
		b.from(), strings.Join(conds, "\n  AND "), MaxTriageEdgeRows+1)
	st := b.statement(sql)
	st.Limit = MaxTriageEdgeRows
	return st, nil
}

// TriageSpreadBuckets bounds the buckets of each window in BuildTriageSpread.
const TriageSpreadBuckets = 300

// TriageSpreadColumns are the columns of BuildTriageSpread, in order.
var TriageSpreadColumns = []string{"fault", "observation_point", "bucket", "requests", "duration_sum_us"}

// BuildTriageSpread renders the target's own requests (its inbound edges, at the processes' points) per
// window and time bucket: the baseline's spread from bucket to bucket is the noise a change in the fault
// window must stand out of (a loaded host slows everything a little).
func BuildTriageSpread(database string, m *TriageModel, w TriageWindows) (*Statement, error) {
	table := EdgeTable
	if len(m.Endpoint) > 0 {
		table = "app_metrics"
	}
	b, err := newBuilder(database, table)
	if err != nil {
		return nil, err
	}
	conds := b.triageTime(w)
	self, err := b.in("service", "server_service", m.Service)
	if err != nil {
		return nil, err
	}
	conds = append(conds, self)
	for _, f := range []struct {
		field, column string
		vals          Values
	}{{"client_service", "client_service", m.ClientService}, {"endpoint", "endpoint", m.Endpoint}} {
		if len(f.vals) > 0 {
			c, err := b.in(f.field, f.column, f.vals)
			if err != nil {
				return nil, err
			}
			conds = append(conds, c)
		}
	}
	longest := max(w.Fault.To.Sub(w.Fault.From), w.Baseline.To.Sub(w.Baseline.From))/time.Second + 1
	bucket := max(int64(longest)/TriageSpreadBuckets, 1)
	sql := fmt.Sprintf(`SELECT
  %s AS fault,
  %s AS observation_point,
  intDiv(toUInt32(%s), %d) AS bucket,
  sum(%s) AS requests,
  sum(%s) AS duration_sum_us
FROM %s
WHERE %s
GROUP BY fault, observation_point, bucket
ORDER BY fault, observation_point, bucket
LIMIT %d`,
		w.windowColumn("toUInt32("+b.c("time")+")"), b.c("observation_point"), b.c("time"), bucket,
		b.c("request_count"), b.c("response_duration_sum_us"), b.from(), strings.Join(conds, "\n  AND "), 4*(TriageSpreadBuckets+2)+1)
	st := b.statement(sql)
	st.Limit = 4 * (TriageSpreadBuckets + 2)
	return st, nil
}

// MaxTriageWireServers bounds the servers (and clients) of the edges whose wire points one triage reads.
const MaxTriageWireServers = 32

// MaxTriageWireSeconds bounds the seconds of each window the wire query reads: the last ones (an alert's
// window ends where its fault is): request logs at the NICs are as many as the calls, its cost follows them.
const MaxTriageWireSeconds = 120

// WireWindows are the windows the wire query reads: the last MaxTriageWireSeconds of each.
func (w TriageWindows) WireWindows() TriageWindows {
	last := func(r Range) Range {
		if from := r.To.Add(-(MaxTriageWireSeconds - 1) * time.Second); from.After(r.From) {
			r.From = from
		}
		return r
	}
	return TriageWindows{Fault: last(w.Fault), Baseline: last(w.Baseline)}
}

// BuildTriageWireEdges renders the same figures at every observation point, the wire's too (the NICs: they
// tell where between the ends time is added), from the request logs, which alone hold the wire's points,
// for the edges between clients and servers (those the ranking's walk split), over the last
// MaxTriageWireSeconds of each window (all points over the same seconds: their differences hold). isError tells the response statuses that count as errors (trace.ErrorStatus).
func BuildTriageWireEdges(database string, m *TriageModel, w TriageWindows, isError func(string) bool, clients, servers Values) (*Statement, error) {
	if len(servers) == 0 || len(servers) > MaxTriageWireServers || len(clients) == 0 || len(clients) > MaxTriageWireServers {
		return nil, fmt.Errorf("a triage reads the wire of 1 to %d servers and clients, got %d and %d", MaxTriageWireServers, len(servers), len(clients))
	}
	b, err := newBuilder(database, "l7_flow_log")
	if err != nil {
		return nil, err
	}
	w = w.WireWindows()
	conds, err := b.graphConds(m, w, true)
	if err != nil {
		return nil, err
	}
	var errs []string
	for _, s := range schema.Get().ResponseStatuses {
		if isError(s) {
			errs = append(errs, Quote(s))
		}
	}
	if len(errs) == 0 {
		return nil, fmt.Errorf("no response status counts as an error")
	}
	srv, err := b.in("server_service", "server_service", servers)
	if err != nil {
		return nil, err
	}
	cli, err := b.in("client_service", "client_service", clients)
	if err != nil {
		return nil, err
	}
	b.prewhere = append(b.prewhere, srv, cli)
	sql := fmt.Sprintf(`SELECT
  %s AS fault,
  %s AS client_service,
  %s AS server_service,
  %s AS observation_point,
  %s AS l7_protocol,
  count() AS requests,
  countIf(%s IN (%s)) AS errors,
  sum(%s) AS duration_sum_us,
  max(%s) AS duration_max_us
FROM %s
%sWHERE %s
GROUP BY fault, client_service, server_service, observation_point, l7_protocol
ORDER BY fault, client_service, server_service, observation_point, l7_protocol
LIMIT %d`,
		w.windowColumn("toUInt32("+b.c("time")+")"), b.c("client_service"), b.c("server_service"), b.c("observation_point"), b.c("l7_protocol"),
		b.c("response_status"), strings.Join(errs, ", "), b.c("response_duration_us"), b.c("response_duration_us"),
		b.from(), b.prewhereClause(""), strings.Join(conds, "\n  AND "), MaxTriageEdgeRows+1)
	st := b.statement(sql)
	st.Limit = MaxTriageEdgeRows
	return st, nil
}

// TriageNetColumns are the columns of BuildTriageNet, in order.
var TriageNetColumns = []string{"fault", "client_service", "server_service", "observation_point", "packets", "retrans", "rsts", "failed", "zero_windows", "new_flows"}

// BuildTriageNet renders net_metrics per (window, edge, observation point) over both windows.
func BuildTriageNet(database string, m *TriageModel, w TriageWindows) (*Statement, error) {
	b, err := newBuilder(database, "net_metrics")
	if err != nil {
		return nil, err
	}
	conds, err := b.graphConds(m, w, false)
	if err != nil {
		return nil, err
	}
	sql := fmt.Sprintf(`SELECT
  %s AS fault,
  %s AS client_service,
  %s AS server_service,
  %s AS observation_point,
  sum(%s + %s) AS packets,
  sum(%s) AS retrans,
  sum(%s) AS rsts,
  sum(%s) AS failed,
  sum(%s) AS zero_windows,
  sum(%s) AS new_flows
FROM %s
WHERE %s
GROUP BY fault, client_service, server_service, observation_point
ORDER BY fault, client_service, server_service, observation_point
LIMIT %d`,
		w.windowColumn("toUInt32("+b.c("time")+")"), b.c("client_service"), b.c("server_service"), b.c("observation_point"),
		b.c("packet_tx"), b.c("packet_rx"), b.c("retrans_count"), b.c("rst_count"), b.c("conn_failed_count"), b.c("zero_window_count"), b.c("new_flow_count"),
		b.from(), strings.Join(conds, "\n  AND "), MaxTriageEdgeRows+1)
	st := b.statement(sql)
	st.Limit = MaxTriageEdgeRows
	return st, nil
}

// TriageFlowColumns are the columns of BuildTriageFlows, in order.
var TriageFlowColumns = []string{"fault", "client_service", "server_service", "observation_point", "flows", "failed", "failed_rst_server", "failed_rst_client", "reset_by_server", "reset_by_client", "timeouts"}

// BuildTriageFlows renders the TCP flows that started in either window (l4_flow_log, by their start
// time) per (window, edge, observation point): how many, how many failed to connect and who sent the
// RST, how many were reset later or timed out.
func BuildTriageFlows(database string, m *TriageModel, w TriageWindows) (*Statement, error) {
	b, err := newBuilder(database, "l4_flow_log")
	if err != nil {
		return nil, err
	}
	// a flow's rows (every flowLogIntervalSec and at close) come after its start: read up to the
	// fault window's end plus a minute, keep flows by their start
	wide := TriageWindows{Fault: Range{From: w.Fault.From, To: w.Fault.To.Add(time.Minute)}, Baseline: w.Baseline}
	conds := b.triageTime(wide)[:1]
	start := fmt.Sprintf("intDiv(%s, 1000000)", b.c("start_time_us"))
	conds = append(conds, w.windowConds(start))
	root, err := b.rootOnly(m, false)
	if err != nil {
		return nil, err
	}
	if root != "" {
		conds = append(conds, root)
	}
	ct, rs, cf, id := b.c("close_type"), b.c("rst_sender"), b.c("conn_failed"), b.c("flow_id")
	sql := fmt.Sprintf(`SELECT
  %s AS fault,
  %s AS client_service,
  %s AS server_service,
  %s AS observation_point,
  uniqExact(%s) AS flows,
  uniqExactIf(%s, %s = 1) AS failed,
  uniqExactIf(%s, %s = 1 AND %s = 'server') AS failed_rst_server,
  uniqExactIf(%s, %s = 1 AND %s = 'client') AS failed_rst_client,
  uniqExactIf(%s, %s = 0 AND %s = 'reset_by_server') AS reset_by_server,
  uniqExactIf(%s, %s = 0 AND %s = 'reset_by_client') AS reset_by_client,
  uniqExactIf(%s, %s = 'timeout') AS timeouts
FROM %s
WHERE %s
GROUP BY fault, client_service, server_service, observation_point
ORDER BY fault, client_service, server_service, observation_point
LIMIT %d`,
		w.windowColumn(start), b.c("client_service"), b.c("server_service"), b.c("observation_point"),
		id, id, cf, id, cf, rs, id, cf, rs, id, cf, ct, id, cf, ct, id, ct,
		b.from(), strings.Join(conds, "\n  AND "), MaxTriageFlowRows+1)
	st := b.statement(sql)
	st.Limit = MaxTriageFlowRows
	return st, nil
}

// TriageWaitColumns are the columns of BuildTriageWaits, in order.
var TriageWaitColumns = []string{"fault", "client_service", "server_service", "observation_point", "flows", "wait_sum_us", "wait_count", "wait_max_us", "response_sum_us", "response_count"}

// BuildTriageWaits renders the packet timelines' client wait (the client's time between a response and
// its next request on a keep-alive connection) and server response per (window, edge, point) for the
// target's inbound edges (tcp_timeline).
func BuildTriageWaits(database string, m *TriageModel, w TriageWindows) (*Statement, error) {
	b, err := newBuilder(database, "tcp_timeline")
	if err != nil {
		return nil, err
	}
	conds := b.triageTime(w)
	self, err := b.in("service", "server_service", m.Service)
	if err != nil {
		return nil, err
	}
	conds = append(conds, self)
	if len(m.ClientService) > 0 {
		s, err := b.in("client_service", "client_service", m.ClientService)
		if err != nil {
			return nil, err
		}
		conds = append(conds, s)
	}
	sql := fmt.Sprintf(`SELECT
  %s AS fault,
  %s AS client_service,
  %s AS server_service,
  %s AS observation_point,
  count() AS flows,
  sum(toUInt64(%s) * %s) AS wait_sum_us,
  sum(%s) AS wait_count,
  max(%s) AS wait_max_us,
  sum(toUInt64(%s) * %s) AS response_sum_us,
  sum(%s) AS response_count
FROM %s
WHERE %s
GROUP BY fault, client_service, server_service, observation_point
ORDER BY fault, client_service, server_service, observation_point
LIMIT %d`,
		w.windowColumn("toUInt32("+b.c("time")+")"), b.c("client_service"), b.c("server_service"), b.c("observation_point"),
		b.c("client_wait_us"), b.c("client_wait_count"), b.c("client_wait_count"), b.c("client_wait_max_us"),
		b.c("server_response_us"), b.c("server_response_count"), b.c("server_response_count"),
		b.from(), strings.Join(conds, "\n  AND "), MaxTriageFlowRows+1)
	st := b.statement(sql)
	st.Limit = MaxTriageFlowRows
	return st, nil
}

// TriageProfileColumns are the columns of BuildTriageProfile, in order.
var TriageProfileColumns = []string{"service", "function", "fault_samples", "baseline_samples"}

// TriageTotalFunction names the row of BuildTriageProfile that carries each service's total samples.
const TriageTotalFunction = ""

// BuildTriageProfile renders the on-CPU samples of services per function (a function counts each
// sample whose stack holds it once) in each window, the functions that grew most first, and one row
// per service with its total (function TriageTotalFunction).
func BuildTriageProfile(database string, services []string, w TriageWindows) (*Statement, error) {
	if len(services) == 0 || len(services) > MaxTriageProfiled {
		return nil, fmt.Errorf("a triage profiles 1 to %d services, got %d", MaxTriageProfiled, len(services))
	}
	b, err := newBuilder(database, "profile_samples")
	if err != nil {
		return nil, err
	}
	conds := b.triageTime(w)
	in, err := b.in("service", "service", Values(services))
	if err != nil {
		return nil, err
	}
	conds = append(conds, in, fmt.Sprintf("%s = %s", b.c("event"), Quote(EventOnCPU)))
	fault := w.windowColumn("toUInt32(" + b.c("time") + ")")
	sql := fmt.Sprintf(`SELECT service, function, fault_samples, baseline_samples FROM (
  SELECT %s AS service, arrayJoin(arrayConcat([''], arrayDistinct(%s))) AS function,
    sumIf(%s, %s) AS fault_samples, sumIf(%s, NOT (%s)) AS baseline_samples
  FROM %s
  WHERE %s
  GROUP BY service, function
)
ORDER BY function != '', toInt64(fault_samples) - toInt64(baseline_samples) DESC, function
LIMIT %d BY service`,
		b.c("service"), b.c("stack"), b.c("value"), fault, b.c("value"), fault,
		b.from(), strings.Join(conds, "\n  AND "), MaxTriageFunctions)
	st := b.statement(sql)
	st.Limit = MaxTriageFunctions * len(services)
	return st, nil
}
