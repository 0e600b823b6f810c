package query

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/flowlens/flowlens/pkg/schema"
)

// PreferredObservationOrder is the order in which the default ("preferred") mode picks one
// observation point per client→server pair: the server's own view first (it sees every call
// the server handled, with the server's latency), then the wire near the server, then the
// client side, then a gateway.
var PreferredObservationOrder = []string{"server_process", "server_nic", "client_nic", "client_process", "gateway"}

// MaxPoints bounds the time buckets of one RED series; the bucket grows to respect it.
const MaxPoints = 11000

// Range is the query time range, inclusive, at second precision.
type Range struct {
	From, To time.Time
}

// Statement is one rendered SELECT plus what it reads, so tests can check the columns
// against schema.json.
type Statement struct {
	SQL           string
	Table         string
	Columns       []string
	BucketSeconds int64 // RED only
	// Limit is the most rows the caller may use; the SQL's LIMIT is Limit, or Limit+1 where one
	// row more tells that the answer was cut (RED, flame graph).
	Limit int
	// RequestedLimit is the sql_log limit asked for when it was above MaxLogLimit (0 otherwise).
	RequestedLimit int64
	MaxSeries      int // RED only
}

// builder renders SQL and records each column it names.
type builder struct {
	db          string // back-quoted
	table       string
	cols        map[string]bool
	filterBytes int // bytes of filter values rendered so far (MaxFilterBytes)
	// prewhere are the request-log conditions on small, selective columns (trace_id, x_request_id,
	// response_status, response_code, response_duration_us): read first, alone, so the other
	// columns are read only for the granules holding matches. The optimizer moves one condition it
	// picks by column size (observation_point, say) and reads every column of most rows: an id
	// search over an hour of 10M request logs took 1.3 s with it, 0.2 s with PREWHERE.
	prewhere []string
}

// prewhereClause renders b.prewhere as a PREWHERE clause with a trailing newline ("" for none).
func (b *builder) prewhereClause(indent string) string {
	if len(b.prewhere) == 0 {
		return ""
	}
	return "PREWHERE " + strings.Join(b.prewhere, " AND ") + "\n" + indent
}

func newBuilder(database, table string) (*builder, error) {
	db, err := Ident(database)
	if err != nil {
		return nil, fmt.Errorf("database name: %w", err)
	}
	return &builder{db: db, table: table, cols: map[string]bool{}}, nil
}

// c names a column of the builder's table.
func (b *builder) c(name string) string {
	b.cols[name] = true
	return name
}

func (b *builder) from() string { return b.db + ".`" + b.table + "`" }

func (b *builder) statement(sql string) *Statement {
	cols := make([]string, 0, len(b.cols))
	for c := range b.cols {
		cols = append(cols, c)
	}
	sort.Strings(cols)
	return &Statement{SQL: sql, Table: b.table, Columns: cols}
}

func (b *builder) timeFilter(r Range) (string, error) {
	if r.To.Before(r.From) {
		return "", fmt.Errorf("time range ends (%s) before it starts (%s)", r.To, r.From)
	}
	return fmt.Sprintf("%s >= toDateTime(%d) AND %s <= toDateTime(%d)", b.c("time"), dateTime(r.From), b.c("time"), dateTime(r.To)), nil
}

// dateTime is t in unix seconds within DateTime's range (UInt32): toDateTime wraps values outside it.
func dateTime(t time.Time) int64 { return min(max(t.Unix(), 0), math.MaxUint32) }

// queryNames name the query types in errors.
var queryNames = map[string]string{
	TypeRED: "RED", TypeMap: "map", TypeSQLLog: "request log (sql_log)", TypeTrace: "trace", TypeTraceSearch: "trace search", TypeFlameGraph: "flame graph",
	TypeFlowLog: "flow log", TypeNetMetrics: "network metrics", TypeNetProfile: "network profile", TypeNetProfileSummary: "network profile summary",
	TypeTriage: "triage", TypeAnnotations: "annotations",
}

// CheckSpan rejects a time range that ends before it starts or is longer than maxSpan, the
// bound of queries of type queryType (datasource setting maxSpanDays).
func CheckSpan(queryType string, r Range, maxSpan time.Duration) error {
	if r.To.Before(r.From) {
		return fmt.Errorf("time range ends (%s) before it starts (%s)", r.To.UTC().Format(time.RFC3339), r.From.UTC().Format(time.RFC3339))
	}
	if span := r.To.Sub(r.From); span > maxSpan {
		return fmt.Errorf("the time range covers %.1f days; %s queries may cover at most %d days (datasource setting maxSpanDays.%s): narrow the time range",
			span.Hours()/24, queryNames[queryType], int64(maxSpan/(24*time.Hour)), queryType)
	}
	return nil
}

// in renders `column IN ('a', 'b')` after checking each value.
func (b *builder) in(field, column string, vals Values) (string, error) {
	return b.inExpr(field, b.c(column), vals)
}

// inExpr renders `expr IN ('a', 'b')` after checking each value (expr is not a column of the builder's table).
func (b *builder) inExpr(field, expr string, vals Values) (string, error) {
	if len(vals) > MaxValues {
		return "", fmt.Errorf("filter %s: %d values, the limit is %d", field, len(vals), MaxValues)
	}
	quoted := make([]string, len(vals))
	for i, v := range vals {
		if err := checkValue(field, v); err != nil {
			return "", err
		}
		quoted[i] = Quote(v)
		b.filterBytes += len(quoted[i])
	}
	if b.filterBytes > MaxFilterBytes {
		return "", fmt.Errorf("filters: %d bytes of values in all, the limit is %d (ClickHouse parses at most 256 KiB of SQL): use fewer or shorter values", b.filterBytes, MaxFilterBytes)
	}
	return fmt.Sprintf("%s IN (%s)", expr, strings.Join(quoted, ", ")), nil
}

// filters renders the user filters shared by all query types (not time, not observation point).
// serviceEitherEnd makes `service` match client or server (the map's neighbourhood view).
func (b *builder) filters(m *Model, serviceEitherEnd bool, withStatus bool) ([]string, error) {
	var out []string
	add := func(field, column string, vals Values) error {
		if len(vals) == 0 {
			return nil
		}
		s, err := b.in(field, column, vals)
		if err == nil {
			out = append(out, s)
		}
		return err
	}
	if len(m.Service) > 0 && serviceEitherEnd {
		srv, err := b.in("service", "server_service", m.Service)
		if err != nil {
			return nil, err
		}
		cli, _ := b.in("service", "client_service", m.Service)
		out = append(out, "("+srv+" OR "+cli+")")
	} else if err := add("service", "server_service", m.Service); err != nil {
		return nil, err
	}
	if err := add("client_service", "client_service", m.ClientService); err != nil {
		return nil, err
	}
	if err := add("l7_protocol", "l7_protocol", m.L7Protocol); err != nil {
		return nil, err
	}
	if err := add("endpoint", "endpoint", m.Endpoint); err != nil {
		return nil, err
	}
	if withStatus {
		for _, s := range m.Status {
			if !schema.Get().IsResponseStatus(s) {
				return nil, fmt.Errorf("filter status: %s is not one of %s", Quote(truncate(s, 60)), strings.Join(schema.Get().ResponseStatuses, ", "))
			}
		}
		if len(m.Status) > 0 {
			st, err := b.in("status", "response_status", m.Status)
			if err != nil {
				return nil, err
			}
			b.prewhere = append(b.prewhere, st)
		}
		req, err := b.requestFilters(m)
		if err != nil {
			return nil, err
		}
		out = append(out, req...)
	} else if f := m.requestFilterSet(); f != "" {
		return nil, fmt.Errorf("filter %s applies to sql_log and trace_search only (app_metrics has no per-request rows)", f)
	}
	return out, nil
}

// requestFilterSet names the first per-request filter m sets ("" for none).
func (m *Model) requestFilterSet() string {
	switch {
	case len(m.Status) > 0:
		return "status"
	case len(m.RequestType) > 0:
		return "request_type"
	case len(m.ResponseCode) > 0:
		return "response_code"
	case m.MinDurationMs > 0:
		return "min_duration_ms"
	case m.MaxDurationMs > 0:
		return "max_duration_ms"
	case m.Search != "":
		return "search"
	case m.TraceID != "":
		return "trace_id"
	case m.RequestID != "":
		return "request_id"
	case len(m.ClientIP) > 0 || len(m.ServerIP) > 0 || len(m.ClientPort) > 0 || len(m.ServerPort) > 0:
		return "client_ip/client_port/server_ip/server_port"
	case len(m.ServerProcess) > 0:
		return "server_process"
	case len(m.ServerPid) > 0:
		return "server_pid"
	case m.OrderBy != "":
		return "order_by"
	}
	return ""
}

// requestFilters renders the filters only request logs have: request type, response code,
// duration bounds, a substring of the resource (found by position, not a regex: linear in the
// resource's length) and a trace or request id.
func (b *builder) requestFilters(m *Model) ([]string, error) {
	var out []string
	if len(m.RequestType) > 0 {
		s, err := b.in("request_type", "request_type", m.RequestType)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	if len(m.ResponseCode) > 0 {
		if len(m.ResponseCode) > MaxValues {
			return nil, fmt.Errorf("filter response_code: %d values, the limit is %d", len(m.ResponseCode), MaxValues)
		}
		codes := make([]string, len(m.ResponseCode))
		for i, v := range m.ResponseCode {
			c, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
			if err != nil {
				return nil, fmt.Errorf("filter response_code: %s is not an integer", Quote(truncate(v, 40)))
			}
			codes[i] = strconv.FormatInt(c, 10)
		}
		b.prewhere = append(b.prewhere, fmt.Sprintf("%s IN (%s)", b.c("response_code"), strings.Join(codes, ", ")))
	}
	if m.MinDurationMs > 0 {
		b.prewhere = append(b.prewhere, fmt.Sprintf("%s >= %d", b.c("response_duration_us"), m.MinDurationMs.Micros()))
	}
	if m.MaxDurationMs > 0 {
		if m.MinDurationMs > m.MaxDurationMs {
			return nil, fmt.Errorf("min_duration_ms %g is above max_duration_ms %g", float64(m.MinDurationMs), float64(m.MaxDurationMs))
		}
		b.prewhere = append(b.prewhere, fmt.Sprintf("%s <= %d", b.c("response_duration_us"), m.MaxDurationMs.Micros()))
	}
	if m.Search != "" {
		if err := checkValue("search", m.Search); err != nil {
			return nil, err
		}
		out = append(out, fmt.Sprintf("positionCaseInsensitiveUTF8(%s, %s) > 0", b.c("request_resource"), Quote(m.Search)))
	}
	if m.TraceID != "" {
		if err := checkValue("trace_id", m.TraceID); err != nil {
			return nil, err
		}
		q := Quote(m.TraceID)
		b.prewhere = append(b.prewhere, fmt.Sprintf("(%s = %s OR %s = %s)", b.c("trace_id"), q, b.c("x_request_id"), q))
	}
	if m.RequestID != "" {
		if err := checkValue("request_id", m.RequestID); err != nil {
			return nil, err
		}
		b.prewhere = append(b.prewhere, fmt.Sprintf("%s = %s", b.c("x_request_id"), Quote(m.RequestID)))
	}
	ends, err := b.flowEnds(m.ClientIP, m.ServerIP, m.ClientPort, m.ServerPort)
	if err != nil {
		return nil, err
	}
	out = append(out, ends...)
	// the process a flame graph shows (its name or pid) served the request
	if len(m.ServerProcess) > 0 {
		s, err := b.in("server_process", "server_process", m.ServerProcess)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	if len(m.ServerPid) > 0 {
		s, err := b.idsIn("server_pid", "server_pid", m.ServerPid)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// flowEnds renders the filters on a flow's ends that are set: client and server address and port.
func (b *builder) flowEnds(clientIP, serverIP Values, clientPort, serverPort IDs) ([]string, error) {
	var out []string
	for _, f := range []struct {
		column string
		vals   Values
	}{{"client_ip", clientIP}, {"server_ip", serverIP}} {
		if len(f.vals) > 0 {
			s, err := b.in(f.column, f.column, f.vals)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
	}
	for _, f := range []struct {
		column string
		ports  IDs
	}{{"client_port", clientPort}, {"server_port", serverPort}} {
		if len(f.ports) > 0 {
			s, err := b.idsIn(f.column, f.column, f.ports)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
	}
	return out, nil
}

// observationMode validates the observation_point option: "preferred", "all" or a point.
func observationMode(v string) (string, error) {
	switch v {
	case "", ObsPreferred:
		return ObsPreferred, nil
	case ObsAll:
		return ObsAll, nil
	}
	if !schema.Get().IsObservationPoint(v) {
		return "", fmt.Errorf("observation_point %s is not one of preferred, all, %s", Quote(truncate(v, 60)), strings.Join(schema.Get().ObservationPoints, ", "))
	}
	return v, nil
}

// observationFilter renders the observation-point condition of an app_metrics query in "all" or
// single-point mode ("preferred" is rendered by preferredRED and preferredMap, which pick each
// client→server pair's best point of PreferredObservationOrder in the same scan).
func (b *builder) observationFilter(mode string) string {
	if mode == ObsAll || mode == ObsPreferred {
		return ""
	}
	return fmt.Sprintf("%s = %s", b.c("observation_point"), Quote(mode))
}

// appMetricsWhere renders the full WHERE of an app_metrics query.
func (b *builder) appMetricsWhere(m *Model, r Range, serviceEitherEnd bool) (string, error) {
	tf, err := b.timeFilter(r)
	if err != nil {
		return "", err
	}
	f, err := b.filters(m, serviceEitherEnd, false)
	if err != nil {
		return "", err
	}
	mode, err := observationMode(m.ObservationPoint)
	if err != nil {
		return "", err
	}
	conds := append([]string{tf}, f...)
	if o := b.observationFilter(mode); o != "" {
		conds = append(conds, o)
	}
	return strings.Join(conds, "\n  AND "), nil
}

// Bucket returns the RED bucket in seconds: the request interval rounded up to whole
// seconds, at least 1 s, grown so the range has at most MaxPoints buckets.
func Bucket(interval time.Duration, r Range) int64 {
	s := int64(math.Ceil(interval.Seconds()))
	if s < 1 {
		s = 1
	}
	span := r.To.Unix() - r.From.Unix() + 1
	if span/s > MaxPoints {
		s = (span + MaxPoints - 1) / MaxPoints
	}
	return s
}

// BuildRED renders the RED query: one row per (bucket, group) with sums, max and, when a
// percentile is asked for, the merged latency sketch. The columns are bucket, one per dimension
// of GroupBy (REDGroupBy order), requests, errors, duration_sum_us, duration_max_us and, with
// percentiles, sketch (sumMap's (keys, counts)). Rates, averages and percentiles are computed in
// Go so empty buckets and zero divisions are explicit.
func BuildRED(database string, m *Model, r Range, bucket int64) (*Statement, error) {
	return buildRED(database, m, r, bucket, "")
}

// BuildREDFromAppMetrics renders the RED query of BuildRED over app_metrics even where the rollup
// would do: the unrolled answer the rollup's is checked against (tests, bench/storage).
func BuildREDFromAppMetrics(database string, m *Model, r Range, bucket int64) (*Statement, error) {
	return buildRED(database, m, r, bucket, "app_metrics")
}

// buildRED renders BuildRED over table, or the table redTable picks when it is empty.
func buildRED(database string, m *Model, r Range, bucket int64, table string) (*Statement, error) {
	if bucket < 1 {
		return nil, fmt.Errorf("bucket must be at least 1 second, got %d", bucket)
	}
	metrics, err := m.REDMetricList()
	if err != nil {
		return nil, err
	}
	groups, err := m.REDGroupBy()
	if err != nil {
		return nil, err
	}
	if groups[len(groups)-1].Tag {
		return taggedRED(database, m, r, bucket, groups, metrics, table)
	}
	if table == "" {
		table = redTable(m, groups)
	}
	b, err := newBuilder(database, table)
	if err != nil {
		return nil, err
	}
	maxSeries := m.MaxSeries
	if maxSeries <= 0 {
		maxSeries = DefaultMaxSeries
	}
	// Each group has at most one row per bucket: more rows than buckets x maxSeries means more
	// than maxSeries groups, and the one row over the bound tells so.
	rows := min(BucketCount(r, bucket)*int64(maxSeries), math.MaxInt32)
	rq := redQuery{groups: groups, sketch: NeedsSketch(metrics), bucket: bucket, limit: rows + 1}
	var st *Statement
	var err2 error
	mode, err := observationMode(m.ObservationPoint)
	switch {
	case err == nil && mode == ObsPreferred && rq.sketch:
		// Percentiles: each pair's best point by a subquery, then one aggregation of its rows. The
		// one-scan form below carries every bucket's sketch through groupArray: 3.4x the server CPU
		// (357 vs 104 ms for an hour of 183k app_metrics rows on 18.16), same answer.
		st, err2 = b.plainRED(m, r, rq, b.bestPointOfPair)
	case err == nil && mode == ObsPreferred:
		st, err2 = b.preferredRED(m, r, rq)
	default:
		st, err2 = b.plainRED(m, r, rq, nil)
	}
	if err2 != nil {
		return nil, err2
	}
	st.BucketSeconds, st.Limit, st.MaxSeries = bucket, int(rows), maxSeries
	return st, nil
}

// redQuery is what shapes one RED statement beside the filters.
type redQuery struct {
	groups        []GroupDimension
	sketch        bool
	bucket, limit int64
}

// redTable picks app_metrics where the rollup lacks what the query needs: the endpoint. The
// rollup carries the latency sketch (migration 11), so percentiles read it too.
func redTable(m *Model, groups []GroupDimension) string {
	for _, g := range groups {
		if g.Column == "endpoint" {
			return "app_metrics"
		}
	}
	return metricsTable(m)
}

// BucketCount is the number of buckets of the range (the first and last may be partial).
func BucketCount(r Range, bucket int64) int64 {
	first, last := dateTime(r.From)/bucket*bucket, dateTime(r.To)/bucket*bucket
	return (last-first)/bucket + 1
}

// groupAliases are the result names of the group columns: g0, g1, ...
func groupAliases(groups []GroupDimension) []string {
	out := make([]string, len(groups))
	for i := range groups {
		out[i] = fmt.Sprintf("g%d", i)
	}
	return out
}

// bestPointOfPair renders the condition keeping only the rows of each client→server pair's best
// observation point (PreferredObservationOrder) among the rows where holds.
func (b *builder) bestPointOfPair(where string) string {
	cli, srv, rank := b.c("client_service"), b.c("server_service"), b.pointRank()
	return fmt.Sprintf(`(%s, %s, %s) IN (
    SELECT %s, %s, min(%s)
    FROM %s
    WHERE %s
      AND %s > 0
    GROUP BY %s, %s)`, cli, srv, rank, cli, srv, rank, b.from(), where, rank, cli, srv)
}

// plainRED renders RED in one aggregation of the rows where appMetricsWhere holds and, when
// narrow is set, the condition it renders from that WHERE.
func (b *builder) plainRED(m *Model, r Range, q redQuery, narrow func(where string) string) (*Statement, error) {
	where, err := b.appMetricsWhere(m, r, false)
	if err != nil {
		return nil, err
	}
	tags, err := b.serverTagConds(m, r)
	if err != nil {
		return nil, err
	}
	where = strings.Join(append([]string{where}, tags...), "\n  AND ")
	if narrow != nil {
		where += "\n  AND " + narrow(where)
	}
	aliases := groupAliases(q.groups)
	cols := make([]string, len(q.groups))
	for i, g := range q.groups {
		cols[i] = fmt.Sprintf("%s AS %s,\n  ", b.c(g.Column), aliases[i])
	}
	sketch := ""
	if q.sketch {
		sketch = fmt.Sprintf(",\n  %s AS sketch", b.sketch())
	}
	key := strings.Join(append([]string{"bucket"}, aliases...), ", ")
	sql := fmt.Sprintf(`SELECT
  intDiv(toUInt32(%s), %d) * %d AS bucket,
  %ssum(%s) AS requests,
  sum(%s) AS errors,
  sum(%s) AS duration_sum_us,
  %s AS duration_max_us%s
FROM %s
WHERE %s
GROUP BY %s
ORDER BY %s
LIMIT %d`,
		b.c("time"), q.bucket, q.bucket, strings.Join(cols, ""),
		b.c("request_count"), b.c("error_count"), b.c("response_duration_sum_us"), b.maxDuration(), sketch,
		b.from(), where, key, key, q.limit)
	return b.statement(sql), nil
}

// preferredRED renders the RED query in preferred mode in one scan of app_metrics: rows are
// summed per (client, server, group columns, observation point, bucket), and of each
// client→server pair only the rows of its best point (PreferredObservationOrder) over the whole
// range are kept. Same result as the former IN-subquery form (a second scan choosing each
// pair's point), at about 70% of its CPU on 18.16 (the 1.8M rows of an hour at 10M request
// logs are read and hashed once).
func (b *builder) preferredRED(m *Model, r Range, q redQuery) (*Statement, error) {
	tf, err := b.timeFilter(r)
	if err != nil {
		return nil, err
	}
	f, err := b.filters(m, false, false)
	if err != nil {
		return nil, err
	}
	tags, err := b.serverTagConds(m, r)
	if err != nil {
		return nil, err
	}
	conds := append(append(append([]string{tf}, f...), tags...), "point_rank > 0")
	cli, srv := b.c("client_service"), b.c("server_service")
	aliases := groupAliases(q.groups)
	// inner: the group columns beside the pair (a pair's own columns are grouped already)
	var innerCols, innerKeys []string
	for i, g := range q.groups {
		innerCols = append(innerCols, fmt.Sprintf("%s AS %s", b.c(g.Column), aliases[i]))
		if g.Column != "client_service" && g.Column != "server_service" {
			innerKeys = append(innerKeys, aliases[i])
		}
	}
	// tuple: rank, bucket, group values, requests, errors, sum, max[, sketch keys, counts]
	tuple := append(append([]string{"point_rank", "point_bucket"}, aliases...), "point_requests", "point_errors", "point_sum_us", "point_max_us")
	sketchInner, sketchOuter := "", ""
	if q.sketch {
		tuple = append(tuple, "tupleElement(point_sketch, 1)", "tupleElement(point_sketch, 2)")
		sketchInner = fmt.Sprintf(",\n      %s AS point_sketch", b.sketch())
		n := len(tuple)
		sketchOuter = fmt.Sprintf(",\n  sumMap(tupleElement(p, %d), tupleElement(p, %d)) AS sketch", n-1, n)
	}
	outerCols := make([]string, len(q.groups))
	for i := range q.groups {
		outerCols[i] = fmt.Sprintf("tupleElement(p, %d) AS %s,\n  ", i+3, aliases[i])
	}
	v := len(q.groups) + 3 // the tuple index of requests
	key := strings.Join(append([]string{"bucket"}, aliases...), ", ")
	innerSelect := strings.Join(append([]string{cli, srv}, innerCols...), ", ")
	innerGroup := strings.Join(append(append([]string{cli, srv}, innerKeys...), "point_rank", "point_bucket"), ", ")
	sql := fmt.Sprintf(`SELECT
  tupleElement(p, 2) AS bucket,
  %ssum(tupleElement(p, %d)) AS requests,
  sum(tupleElement(p, %d)) AS errors,
  sum(tupleElement(p, %d)) AS duration_sum_us,
  max(tupleElement(p, %d)) AS duration_max_us%s
FROM (
  SELECT %s, %s, min(point_rank) AS best_rank,
    groupArray((%s)) AS points
  FROM (
    SELECT %s,
      %s AS point_rank,
      intDiv(toUInt32(%s), %d) * %d AS point_bucket,
      sum(%s) AS point_requests,
      sum(%s) AS point_errors,
      sum(%s) AS point_sum_us,
      %s AS point_max_us%s
    FROM %s
    WHERE %s
    GROUP BY %s
  )
  GROUP BY %s, %s
)
ARRAY JOIN points AS p
WHERE tupleElement(p, 1) = best_rank
GROUP BY %s
ORDER BY %s
LIMIT %d`,
		strings.Join(outerCols, ""), v, v+1, v+2, v+3, sketchOuter,
		cli, srv, strings.Join(tuple, ", "),
		innerSelect,
		b.pointRank(),
		b.c("time"), q.bucket, q.bucket,
		b.c("request_count"), b.c("error_count"), b.c("response_duration_sum_us"), b.maxDuration(), sketchInner,
		b.from(), strings.Join(conds, "\n      AND "),
		innerGroup,
		cli, srv, key, key, q.limit)
	return b.statement(sql), nil
}

// metricEnds are a metrics row's two ends for the tag join: by service, the host by the row's own where
// the row saw that end.
func (b *builder) metricEnds() []RowKey {
	return []RowKey{
		{Service: b.c("client_service"), ObservedHost: observedHost(b, "client")},
		{Service: b.c("server_service"), ObservedHost: observedHost(b, "server")},
	}
}

// serverTagConds renders RED's tag filters: on the server of each series (metrics name it by service;
// the host by the row's own where the row saw the server).
func (b *builder) serverTagConds(m *Model, r Range) ([]string, error) {
	return b.tagFilterConds(m.Tags, []RowKey{{Service: b.c("server_service"), ObservedHost: observedHost(b, "server")}}, r)
}

// MaxEdges bounds the map's edges.
const MaxEdges = 10000

// BuildMap renders the Universal Map query: one row per client→server edge over the range.
func BuildMap(database string, m *Model, r Range) (*Statement, error) {
	b, err := newBuilder(database, metricsTable(m))
	if err != nil {
		return nil, err
	}
	if len(m.GroupBy) > 0 || len(m.Tags.without("host").sortedTags()) > 0 {
		return b.taggedMap(m, r)
	}
	// the host alone filters the rows themselves: the host each row saw its end on (a service on two hosts
	// counts on each), the service's own where the row did not see it
	host, err := b.tagFilterConds(TagFilters{"host": m.Tags["host"]}, b.metricEnds(), r)
	if err != nil {
		return nil, err
	}
	if mode, err := observationMode(m.ObservationPoint); err == nil && mode == ObsPreferred {
		return b.preferredMap(m, r, host)
	}
	where, err := b.appMetricsWhere(m, r, true)
	if err != nil {
		return nil, err
	}
	where = strings.Join(append([]string{where}, host...), "\n  AND ")
	sql := fmt.Sprintf(`SELECT
  %s AS client,
  %s AS server,
  sum(%s) AS requests,
  sum(%s) AS errors,
  sum(%s) AS duration_sum_us,
  %s AS duration_max_us,
  groupUniqArray(%s) AS protocols
FROM %s
WHERE %s
GROUP BY client, server
ORDER BY requests DESC, client, server
LIMIT %d`,
		b.c("client_service"), b.c("server_service"),
		b.c("request_count"), b.c("error_count"), b.c("response_duration_sum_us"), b.maxDuration(),
		b.c("l7_protocol"), b.from(), where, MaxEdges)
	st := b.statement(sql)
	st.Limit = MaxEdges
	return st, nil
}

// preferredMap renders the map query in preferred mode in one scan: sums per (client, server,
// observation point), then per pair the sums of its best point. Same rows as the IN-subquery
// form, at under half its CPU on 18.16 (one read of the hour instead of two, and the second
// aggregation runs over a few hundred rows).
func (b *builder) preferredMap(m *Model, r Range, host []string) (*Statement, error) {
	tf, err := b.timeFilter(r)
	if err != nil {
		return nil, err
	}
	f, err := b.filters(m, true, false)
	if err != nil {
		return nil, err
	}
	conds := append(append(append([]string{tf}, f...), host...), "point_rank > 0")
	sql := fmt.Sprintf(`SELECT
  %s AS client,
  %s AS server,
  argMin(point_requests, point_rank) AS requests,
  argMin(point_errors, point_rank) AS errors,
  argMin(point_sum_us, point_rank) AS duration_sum_us,
  argMin(point_max_us, point_rank) AS duration_max_us,
  argMin(point_protocols, point_rank) AS protocols
FROM (
  SELECT %s, %s,
    %s AS point_rank,
    sum(%s) AS point_requests,
    sum(%s) AS point_errors,
    sum(%s) AS point_sum_us,
    %s AS point_max_us,
    groupUniqArray(%s) AS point_protocols
  FROM %s
  WHERE %s
  GROUP BY %s, %s, point_rank
)
GROUP BY client, server
ORDER BY requests DESC, client, server
LIMIT %d`,
		b.c("client_service"), b.c("server_service"),
		b.c("client_service"), b.c("server_service"), b.pointRank(),
		b.c("request_count"), b.c("error_count"), b.c("response_duration_sum_us"), b.maxDuration(),
		b.c("l7_protocol"), b.from(), strings.Join(conds, "\n    AND "),
		b.c("client_service"), b.c("server_service"), MaxEdges)
	st := b.statement(sql)
	st.Limit = MaxEdges
	return st, nil
}

// EdgeTable is app_metrics rolled up per second, client→server edge, observation point and
// protocol (schema.ts; filled by a materialized view): about a third of the rows.
const EdgeTable = "app_metrics_edge"

// metricsTable picks the rollup unless the query filters by endpoint or host, which only app_metrics keeps.
func metricsTable(m *Model) string {
	if len(m.Endpoint) > 0 || len(m.Tags["host"]) > 0 {
		return "app_metrics"
	}
	return EdgeTable
}

// maxDuration renders the latency maximum: the rollup keeps it as an aggregate state.
func (b *builder) maxDuration() string {
	if b.table == EdgeTable {
		return fmt.Sprintf("maxMerge(%s)", b.c("response_duration_max_us"))
	}
	return fmt.Sprintf("max(%s)", b.c("response_duration_max_us"))
}

// sketch renders the merged latency sketch, (keys, counts) with keys ascending, from the two
// arrays of each row: app_metrics' own, the rollup's nested latency_sketchMap.
func (b *builder) sketch() string {
	if b.table == EdgeTable {
		return fmt.Sprintf("sumMap(`%s`, `%s`)", b.c("latency_sketchMap.keys"), b.c("latency_sketchMap.counts"))
	}
	return fmt.Sprintf("sumMap(%s, %s)", b.c("latency_sketch_keys"), b.c("latency_sketch_counts"))
}

// pointRank renders an observation point's place in PreferredObservationOrder (1 = best, 0 = none).
func (b *builder) pointRank() string {
	order, ranks := make([]string, len(PreferredObservationOrder)), make([]string, len(PreferredObservationOrder))
	for i, p := range PreferredObservationOrder {
		order[i], ranks[i] = Quote(p), fmt.Sprint(i+1)
	}
	return fmt.Sprintf("transform(%s, [%s], [%s], 0)", b.c("observation_point"), strings.Join(order, ", "), strings.Join(ranks, ", "))
}

// LogColumns are the l7_flow_log columns sql_log returns, in order.
var LogColumns = []string{
	"start_time_us", "response_duration_us", "observation_point", "l7_protocol", "request_type",
	"request_domain", "request_resource", "endpoint", "response_code", "response_status",
	"response_exception", "client_service", "server_service", "client_process", "server_process",
	"client_ip", "client_port", "server_ip", "server_port", "request_length", "response_length",
	"trace_id", "span_id", "parent_span_id", "x_request_id", "host", "_id",
	"server_pid", "syscall_thread_response", // the thread that served the request: its flame graph's link
}

// requestRows is the common start of the queries over request logs (sql_log, trace_search): the
// builder, the time range and request filters as WHERE conditions, and the observation-point mode.
func requestRows(database string, m *Model, r Range) (*builder, []string, string, error) {
	b, err := newBuilder(database, "l7_flow_log")
	if err != nil {
		return nil, nil, "", err
	}
	tf, err := b.timeFilter(r)
	if err != nil {
		return nil, nil, "", err
	}
	f, err := b.filters(m, false, true)
	if err != nil {
		return nil, nil, "", err
	}
	mode, err := observationMode(m.ObservationPoint)
	if err != nil {
		return nil, nil, "", err
	}
	// a tag filter matches the client's or the server's process (rows name both by pid on the observing host)
	tags, err := b.tagFilterConds(m.Tags, []RowKey{{Host: b.c("host"), Pid: b.c("client_pid"), Time: b.c("time"), Service: b.c("client_service")}, {Host: b.c("host"), Pid: b.c("server_pid"), Time: b.c("time"), Service: b.c("server_service")}}, r)
	if err != nil {
		return nil, nil, "", err
	}
	return b, append(append([]string{tf}, f...), tags...), mode, nil
}

// clampLimit is the rows a query returns for the requested limit (def when none), at most max;
// requested is the limit asked for when it was cut (for the notice), else 0.
func clampLimit(asked Count, def, max int) (limit int, requested int64) {
	switch {
	case asked > Count(max):
		return max, int64(asked)
	case asked > 0:
		return int(asked), 0
	}
	return def, 0
}

// BuildLog renders the request-log query: newest first (or slowest first, order_by duration), at
// most MaxLogLimit rows. Every observation of a call is a row here, so observation_point defaults to all.
func BuildLog(database string, m *Model, r Range) (*Statement, error) {
	if m.Format != "" && m.Format != FormatTable && m.Format != FormatLogs {
		return nil, fmt.Errorf("format %s is not one of table, logs", Quote(truncate(m.Format, 40)))
	}
	if m.OrderBy != "" && m.OrderBy != OrderByTime && m.OrderBy != OrderByDuration {
		return nil, fmt.Errorf("order_by %s is not one of %s, %s", Quote(truncate(m.OrderBy, 40)), OrderByTime, OrderByDuration)
	}
	b, conds, mode, err := requestRows(database, m, r)
	if err != nil {
		return nil, err
	}
	limit, requested := clampLimit(m.Limit, DefaultLogLimit, MaxLogLimit)
	if mode != ObsPreferred && mode != ObsAll {
		conds = append(conds, fmt.Sprintf("%s = %s", b.c("observation_point"), Quote(mode)))
	}
	cols := make([]string, len(LogColumns))
	for i, c := range LogColumns {
		cols[i] = b.c(c)
	}
	order := fmt.Sprintf("%s DESC, %s DESC", b.c("time"), b.c("start_time_us"))
	if m.OrderBy == OrderByDuration {
		order = fmt.Sprintf("%s DESC, %s DESC", b.c("response_duration_us"), b.c("start_time_us"))
	}
	// The time column is returned as unix seconds: DateTime text would be in the server's zone.
	sql := fmt.Sprintf(`SELECT
  toUInt32(%s) AS time_unix,
  %s
FROM %s
%sWHERE %s
ORDER BY %s
LIMIT %d`,
		b.c("time"), strings.Join(cols, ",\n  "), b.from(), b.prewhereClause(""), strings.Join(conds, "\n  AND "),
		order, limit)
	st := b.statement(sql)
	st.Limit, st.RequestedLimit = limit, requested
	return st, nil
}

func containsStr(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// MaxServices bounds the services listed for query-editor pickers.
const MaxServices = 10000

// BuildServices renders the services seen in app_metrics over the range (either end), for
// query-editor pickers: one per row, at most MaxServices.
func BuildServices(database string, r Range) (*Statement, error) {
	return BuildValues(database, "services", r, nil, nil)
}

// ValueKinds maps the kinds of values a dashboard variable can list (the datasource's
// `values` resource) to their app_metrics column; "services" is either end (BuildServices).
var ValueKinds = map[string]string{
	"services":        "",
	"server_services": "server_service",
	"client_services": "client_service",
	"endpoints":       "endpoint",
	"protocols":       "l7_protocol",
}

// BuildValues renders the distinct values of one kind (ValueKinds) seen in app_metrics over the
// range, for dashboard variables and pickers; services narrows them to those servers' rows
// (the endpoints of one service, say), tags to the services that have those tags (a service
// kind: the listed service itself; endpoints and protocols: their server). One per row, sorted,
// at most MaxServices.
func BuildValues(database, kind string, r Range, services Values, tags TagFilters) (*Statement, error) {
	column, ok := ValueKinds[kind]
	if !ok {
		kinds := make([]string, 0, len(ValueKinds))
		for k := range ValueKinds {
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		return nil, fmt.Errorf("kind %s is not one of %s", Quote(truncate(kind, 60)), strings.Join(kinds, ", "))
	}
	b, err := newBuilder(database, "app_metrics")
	if err != nil {
		return nil, err
	}
	tf, err := b.timeFilter(r)
	if err != nil {
		return nil, err
	}
	conds := []string{tf}
	if len(services) > 0 {
		in, err := b.in("service", "server_service", services)
		if err != nil {
			return nil, err
		}
		conds = append(conds, in)
	}
	var value string
	if column == "" { // services: either end (of the named servers' edges)
		value = fmt.Sprintf("arrayJoin([%s, %s]) AS value", b.c("server_service"), b.c("client_service"))
	} else {
		value = fmt.Sprintf("%s AS value", b.c(column))
	}
	// a service is tagged itself; an endpoint or protocol through its server
	isService := column == "" || strings.HasSuffix(column, "_service")
	if !isService {
		tagConds, err := b.tagFilterConds(tags, []RowKey{{Service: b.c("server_service")}}, r)
		if err != nil {
			return nil, err
		}
		conds = append(conds, tagConds...)
	}
	sql := fmt.Sprintf("SELECT DISTINCT %s FROM %s WHERE %s ORDER BY value LIMIT %d", value, b.from(), strings.Join(conds, " AND "), MaxServices)
	if isService && len(tags) > 0 {
		tagConds, err := b.tagFilterConds(tags, []RowKey{{Service: "value"}}, r)
		if err != nil {
			return nil, err
		}
		sql = fmt.Sprintf("SELECT value FROM (\n  SELECT DISTINCT %s FROM %s WHERE %s\n)\nWHERE %s\nORDER BY value LIMIT %d",
			value, b.from(), strings.Join(conds, " AND "), strings.Join(tagConds, " AND "), MaxServices)
	}
	st := b.statement(sql)
	st.Limit = MaxServices
	return st, nil
}

// NewestWindows are the trailing windows a newest-first query (request log, trace search) tries
// before the whole range: most pages fill within the last minute, and a window of the table
// (ordered by time) reads only its own granules, where the whole range would read every column of
// every row to sort them (4 s for the request log over an hour of 10M request logs).
var NewestWindows = []time.Duration{time.Minute, 15 * time.Minute}

// Newest runs a newest-first query built by build over the trailing windows of r, then r itself,
// and stops at the first that fills a page (st.Limit rows): its rows are then exactly the newest
// of r. A search for one id (wholeRange) reads r at once: one id never fills a page. run executes
// one statement and returns its row count. It returns the last statement run.
func Newest(r Range, wholeRange bool, build func(Range) (*Statement, error), run func(*Statement) (int, error)) (*Statement, error) {
	windows := NewestWindows
	if wholeRange {
		windows = nil
	}
	for _, w := range append(append([]time.Duration{}, windows...), 0) {
		sub := r
		if w > 0 {
			if r.To.Sub(r.From) <= w {
				continue
			}
			sub.From = r.To.Add(-w)
		}
		st, err := build(sub)
		if err != nil {
			return nil, err
		}
		n, err := run(st)
		if err != nil || n >= st.Limit || w == 0 {
			return st, err
		}
	}
	panic("unreachable: the last window is the whole range")
}

// SearchLog runs the request-log query newest window first (Newest); the slowest requests
// (order_by duration) can be anywhere in the range, so that order reads the whole range at once.
func SearchLog(database string, m *Model, r Range, run func(*Statement) (int, error)) (*Statement, error) {
	whole := m.TraceID != "" || m.RequestID != "" || m.OrderBy == OrderByDuration
	return Newest(r, whole, func(w Range) (*Statement, error) { return BuildLog(database, m, w) }, run)
}
