package query

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// A trace search runs in three kinds of statement, all bounded and read-only:
//   - BuildTraceMatches: the newest request rows matching the filters (a page of limit ×
//     TraceSearchRowFactor rows, tried newest window first by SearchTraces);
//   - BuildTraceCalls: the calls around a set of requests (the probes): the requests that hold
//     each (its possible callers) or the calls each holds, the narrow columns pkg/trace walks up
//     (to find each match's root request) and down (to count a trace's calls);
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
	if m.OrderBy != "" && m.OrderBy != OrderByTime {
		return nil, fmt.Errorf("order_by %s: a trace search lists the newest traces (order_by applies to sql_log)", Quote(truncate(m.OrderBy, 40)))
	}
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

// TraceProbe is one request a walk round looks around: the calls that hold it (its caller's
// request, served by its client process) or the calls it holds (made by its server process).
type TraceProbe struct {
	ID             uint64 // the request's _id: each answer row names its probe
	Host           string // the host whose agent saw the process
	PID            uint32 // the caller (CallsServed: the probe's client pid) or the callee (CallsMade: its server pid)
	StartUs, EndUs int64
}

// Call sides of BuildTraceCalls: the requests the probes' processes served (their callers), or the
// calls they made.
const (
	CallsServed = "server_pid"
	CallsMade   = "client_pid"
)

// MaxProbeSeconds bounds the seconds one probe looks over (a long request's calls are looked for
// in its first 10 minutes).
const MaxProbeSeconds = 600

// BuildTraceCalls renders one walk round: the server_process calls related to each probe, as rows
// of probe + TraceCallColumns, at most MaxTraceCalls + 1 (one more tells the walk it was cut).
//   - CallsServed: requests served by the probe's process (its host and PID) that hold the probe
//     in time, started at most leadUs before it: the probe's possible callers;
//   - CallsMade: calls made by the probe's process within the probe's time: its possible calls.
//
// The probes travel as arrays expanded in ClickHouse, one row per (probe, second) the answer may
// start in, and are joined to the table's rows by host, pid and start second: ClickHouse 18.16 has
// no join on ranges, and the join keeps the answer to the calls that fit (a filter by process and
// time alone returns every request a busy process served). The table is read only in the seconds
// the probes span (OR of ranges on its first key column).
func BuildTraceCalls(database, side string, probes []TraceProbe, leadUs int64) (*Statement, error) {
	if side != CallsServed && side != CallsMade {
		return nil, fmt.Errorf("trace calls side %q is not %s or %s", side, CallsServed, CallsMade)
	}
	if len(probes) == 0 || len(probes) > MaxTraceKeys {
		return nil, fmt.Errorf("%d probes in one trace search round, want 1..%d", len(probes), MaxTraceKeys)
	}
	if leadUs < 0 || leadUs > MaxProbeSeconds*1_000_000 {
		return nil, fmt.Errorf("trace search lead %d µs is outside 0..%d s", leadUs, MaxProbeSeconds)
	}
	b, err := newBuilder(database, "l7_flow_log")
	if err != nil {
		return nil, err
	}
	leadSec := (leadUs + 999_999) / 1_000_000
	// the seconds each probe's answers start in, merged into ranges for the table's time filter
	type span struct{ from, to int64 }
	spans := make([]span, 0, len(probes))
	hosts, pids, ids, starts, ends, procs := make([]string, len(probes)), make([]string, len(probes)), make([]string, len(probes)),
		make([]string, len(probes)), make([]string, len(probes)), map[string]bool{}
	for i, p := range probes {
		if err := checkValue("host", p.Host); err != nil {
			return nil, err
		}
		if p.StartUs < 0 || p.EndUs < p.StartUs {
			return nil, fmt.Errorf("probe %d: its time [%d, %d] is not a request's", p.ID, p.StartUs, p.EndUs)
		}
		sec := p.StartUs / 1_000_000
		if side == CallsServed {
			spans = append(spans, span{sec - leadSec, sec})
		} else {
			spans = append(spans, span{sec, min(p.EndUs/1_000_000, sec+MaxProbeSeconds)})
		}
		hosts[i], pids[i], ids[i] = Quote(p.Host), strconv.FormatUint(uint64(p.PID), 10), strconv.FormatUint(p.ID, 10)
		starts[i], ends[i] = strconv.FormatInt(p.StartUs, 10), strconv.FormatInt(p.EndUs, 10)
		procs[fmt.Sprintf("(%s, %d)", Quote(p.Host), p.PID)] = true
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].from < spans[j].from })
	var ranges []string
	for i := 0; i < len(spans); {
		cur := spans[i]
		for i++; i < len(spans) && spans[i].from <= cur.to+1; i++ {
			cur.to = max(cur.to, spans[i].to)
		}
		ranges = append(ranges, fmt.Sprintf("%s >= toDateTime(%d) AND %s <= toDateTime(%d)", b.c("time"), max(0, cur.from), b.c("time"), cur.to))
	}
	procList := make([]string, 0, len(procs))
	for p := range procs {
		procList = append(procList, p)
	}
	sort.Strings(procList)
	cols := make([]string, len(TraceCallColumns))
	for i, c := range TraceCallColumns {
		cols[i] = b.c(c)
	}
	// the seconds of a probe its answers may start in, and the containment they must satisfy
	seconds := fmt.Sprintf("arrayMap(d -> toUInt32(intDiv(p_start, 1000000) - d), range(%d))", leadSec+1)
	fits := fmt.Sprintf("start_time_us <= p_start AND start_time_us >= p_start - %d AND end_time_us >= p_end", leadUs)
	if side == CallsMade {
		seconds = fmt.Sprintf("arrayMap(d -> toUInt32(intDiv(p_start, 1000000) + d), range(toUInt64(least(intDiv(p_end, 1000000) - intDiv(p_start, 1000000), %d) + 1)))", MaxProbeSeconds)
		fits = "start_time_us >= p_start AND end_time_us <= p_end"
	}
	sql := fmt.Sprintf(`SELECT probe, %s
FROM
(
  SELECT %s, %s AS j_host, %s AS j_pid, toUInt32(%s) AS j_sec
  FROM %s
  WHERE (%s)
    AND %s = 'server_process'
    AND (%s, %s) IN (%s)
) AS calls
ALL INNER JOIN
(
  SELECT j_host, j_pid, probe, p_start, p_end, arrayJoin(%s) AS j_sec
  FROM
  (
    SELECT hosts[k] AS j_host, pids[k] AS j_pid, ids[k] AS probe, starts[k] AS p_start, ends[k] AS p_end
    FROM (SELECT [%s] AS hosts, CAST([%s] AS Array(UInt32)) AS pids, CAST([%s] AS Array(UInt64)) AS ids,
      CAST([%s] AS Array(UInt64)) AS starts, CAST([%s] AS Array(UInt64)) AS ends, arrayJoin(arrayEnumerate(hosts)) AS k)
  )
) AS probes USING (j_host, j_pid, j_sec)
WHERE %s
ORDER BY probe, start_time_us, _id
LIMIT %d`,
		strings.Join(TraceCallColumns, ", "),
		strings.Join(cols, ", "), b.c("host"), b.c(side), b.c("time"), b.from(),
		strings.Join(ranges, "\n    OR "), b.c("observation_point"), b.c("host"), b.c(side), strings.Join(procList, ", "),
		seconds, strings.Join(hosts, ", "), strings.Join(pids, ", "), strings.Join(ids, ", "), strings.Join(starts, ", "), strings.Join(ends, ", "),
		fits, MaxTraceCalls+1)
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
