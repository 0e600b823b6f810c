package query

import (
	"fmt"
	"sort"
	"strings"
)

// A trace search runs in three kinds of statement, all bounded and read-only:
//   - BuildTraceMatches: the newest request rows matching the filters (a page of limit ×
//     TraceSearchRowFactor rows, tried newest window first by SearchTraces);
//   - BuildTraceCalls: the calls a set of processes served, or made, in a time window: the narrow
//     columns pkg/trace walks up (to find each match's root request) and down (to count a trace's
//     calls), matched in Go by time containment, since ClickHouse 18.16 has no join on ranges;
//   - BuildTraceSpans (trace.go): the full rows of the roots found among the calls.

// TraceSearchRowFactor is the matching rows a trace search reads per trace asked for: a trace
// holds several matching requests (the roots are found from them).
const TraceSearchRowFactor = 10

// MaxTraceCalls bounds the rows of one BuildTraceCalls statement (narrow rows: about 100 bytes of
// JSON each). A walk that reaches it says so: the search answers with what it found.
const MaxTraceCalls = 100_000

// TraceCallColumns are the l7_flow_log columns a trace search walks over, in order.
var TraceCallColumns = []string{
	"_id", "start_time_us", "end_time_us", "host", "client_pid", "server_pid", "response_status",
	"trace_id", "x_request_id",
}

// TraceSearchLimit is the traces a search returns for m (DefaultTraceSearchLimit unless asked, at
// most MaxTraceSearchLimit); requested is the limit asked for when it was cut, else 0.
func TraceSearchLimit(m *Model) (limit int, requested int64) {
	return clampLimit(m.Limit, DefaultTraceSearchLimit, MaxTraceSearchLimit)
}

// TraceSearchPoint is the observation point a trace search lists requests at: the one chosen, else
// server_process (each call once, as its server saw it). "all" is refused: one call would be up to
// four rows, four roots of one trace.
func TraceSearchPoint(m *Model) (string, error) {
	mode, err := observationMode(m.ObservationPoint)
	if err != nil {
		return "", err
	}
	switch mode {
	case ObsPreferred:
		return "server_process", nil
	case ObsAll:
		return "", fmt.Errorf("a trace search lists requests at one observation point: observation_point all is not one (leave it empty for server_process)")
	}
	return mode, nil
}

// BuildTraceMatches renders the matching requests of a trace search: the newest rows at the
// search's observation point matching m's filters, with TraceSpanColumns, newest first, at most
// TraceSearchLimit × TraceSearchRowFactor (st.Limit: a full page).
func BuildTraceMatches(database string, m *Model, r Range) (*Statement, error) {
	b, conds, _, err := requestRows(database, m, r)
	if err != nil {
		return nil, err
	}
	point, err := TraceSearchPoint(m)
	if err != nil {
		return nil, err
	}
	conds = append(conds, fmt.Sprintf("%s = %s", b.c("observation_point"), Quote(point)))
	limit, _ := TraceSearchLimit(m)
	limit *= TraceSearchRowFactor
	cols := make([]string, len(TraceSpanColumns))
	for i, c := range TraceSpanColumns {
		cols[i] = b.c(c)
	}
	sql := fmt.Sprintf(`SELECT
  %s
FROM %s
%sWHERE %s
ORDER BY %s DESC, %s DESC, %s
LIMIT %d`,
		strings.Join(cols, ", "), b.from(), b.prewhereClause(""), strings.Join(conds, "\n  AND "),
		b.c("time"), b.c("start_time_us"), b.c("_id"), limit)
	st := b.statement(sql)
	st.Limit = limit
	return st, nil
}

// HostPID names a process by the host whose agent saw it and its pid there.
type HostPID struct {
	Host string
	PID  uint32
}

// Call sides of BuildTraceCalls: the requests the listed processes served, or the calls they made.
const (
	CallsServed = "server_pid"
	CallsMade   = "client_pid"
)

// BuildTraceCalls renders the calls seen at server_process whose side (CallsServed or CallsMade)
// is one of procs, that started in [fromUs, toUs] and ended at or after minEndUs (µs since the
// epoch), with TraceCallColumns, oldest first, at most MaxTraceCalls + 1 rows (one more tells the
// walk it was cut).
func BuildTraceCalls(database, side string, procs []HostPID, fromUs, toUs, minEndUs int64) (*Statement, error) {
	if side != CallsServed && side != CallsMade {
		return nil, fmt.Errorf("trace calls side %q is not %s or %s", side, CallsServed, CallsMade)
	}
	if len(procs) == 0 || len(procs) > MaxTraceKeys {
		return nil, fmt.Errorf("%d processes in one trace search round, want 1..%d", len(procs), MaxTraceKeys)
	}
	if toUs < fromUs || fromUs < 0 {
		return nil, fmt.Errorf("trace search window [%d, %d] is empty", fromUs, toUs)
	}
	b, err := newBuilder(database, "l7_flow_log")
	if err != nil {
		return nil, err
	}
	sorted := append([]HostPID(nil), procs...)
	sort.Slice(sorted, func(i, j int) bool {
		return sorted[i].Host < sorted[j].Host || (sorted[i].Host == sorted[j].Host && sorted[i].PID < sorted[j].PID)
	})
	parts := make([]string, len(sorted))
	for i, p := range sorted {
		if err := checkValue("host", p.Host); err != nil {
			return nil, err
		}
		parts[i] = fmt.Sprintf("(%s, %d)", Quote(p.Host), p.PID)
	}
	cols := make([]string, len(TraceCallColumns))
	for i, c := range TraceCallColumns {
		cols[i] = b.c(c)
	}
	// time is the start's second (the table's first key): it bounds the granules read.
	sql := fmt.Sprintf(`SELECT %s
FROM %s
WHERE %s >= toDateTime(%d) AND %s <= toDateTime(%d)
  AND %s >= %d AND %s <= %d AND %s >= %d
  AND %s = 'server_process'
  AND (%s, %s) IN (%s)
ORDER BY %s, %s
LIMIT %d`,
		strings.Join(cols, ", "), b.from(),
		b.c("time"), fromUs/1_000_000, b.c("time"), toUs/1_000_000,
		b.c("start_time_us"), fromUs, b.c("start_time_us"), toUs, b.c("end_time_us"), minEndUs,
		b.c("observation_point"), b.c("host"), b.c(side), strings.Join(parts, ", "),
		b.c("start_time_us"), b.c("_id"), MaxTraceCalls+1)
	if len(sql) > MaxTraceSQLBytes {
		return nil, fmt.Errorf("%w (%d bytes of SQL, the limit is %d)", ErrTraceRoundTooLarge, len(sql), MaxTraceSQLBytes)
	}
	st := b.statement(sql)
	st.Limit = MaxTraceCalls
	return st, nil
}

// SearchTraces runs BuildTraceMatches newest window first (Newest); a search for one id reads
// the whole range at once.
func SearchTraces(database string, m *Model, r Range, run func(*Statement) (int, error)) (*Statement, error) {
	return Newest(r, m.TraceID != "" || m.RequestID != "", func(w Range) (*Statement, error) { return BuildTraceMatches(database, m, w) }, run)
}
