package query

import (
	"fmt"
	"strings"
)

// Bounds of a trace's network evidence: the connections looked up at once, and the rows read of
// each table (a timeline row holds at most 256 packets; a connection has one per observation point
// per minute).
const (
	MaxTraceNetFlows    = 500
	MaxTraceTimelines   = 256
	MaxTraceL4FlowsRows = 2000
)

// TraceTimelineColumns are the tcp_timeline columns the trace's network evidence reads.
var TraceTimelineColumns = []string{
	"host", "observation_point", "client_ip", "client_port", "server_ip", "server_port",
	"event_time_us", "event_direction", "event_tcp_flags", "event_seq", "event_ack", "event_payload_len",
	"retrans_count", "events_truncated",
}

// TraceL4Columns are the l4_flow_log columns the trace's network evidence reads.
var TraceL4Columns = []string{
	"start_time_us", "end_time_us", "host", "observation_point", "client_ip", "client_port", "server_ip", "server_port",
	"client_pid", "syn_latency_us", "retrans_count", "zero_window_count", "rst_count", "rst_sender", "conn_failed", "close_type",
}

// flowTuples renders flows as an IN list of (client_ip, client_port, server_ip, server_port), and of
// (client_ip, server_ip, server_port) when ports is false; every address checked and quoted.
func flowTuples(flows []TraceFlow, ports bool) (string, error) {
	if len(flows) == 0 {
		return "", fmt.Errorf("the trace's network evidence needs at least one connection")
	}
	if len(flows) > MaxTraceNetFlows {
		return "", fmt.Errorf("%d connections in one trace, the limit for its network evidence is %d", len(flows), MaxTraceNetFlows)
	}
	seen := map[string]bool{}
	var parts []string
	for _, f := range flows {
		if err := checkValue("client_ip", f.ClientIP); err != nil {
			return "", err
		}
		if err := checkValue("server_ip", f.ServerIP); err != nil {
			return "", err
		}
		p := fmt.Sprintf("(%s, %d, %s, %d)", Quote(f.ClientIP), f.ClientPort, Quote(f.ServerIP), f.ServerPort)
		if !ports {
			p = fmt.Sprintf("(%s, %s, %d)", Quote(f.ClientIP), Quote(f.ServerIP), f.ServerPort)
		}
		if !seen[p] {
			seen[p] = true
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, ", "), nil
}

// BuildTraceTimelines renders the lookup of the packet timelines of a trace's connections: every
// tcp_timeline row of those 5-tuples whose time (the row's first packet's second, at most a flow's
// idle timeout plus a row interval before its packets) is in [from, to], oldest first, at most
// MaxTraceTimelines+1 rows (one more tells that some were left out).
func BuildTraceTimelines(database string, flows []TraceFlow, from, to int64) (*Statement, error) {
	b, err := newBuilder(database, "tcp_timeline")
	if err != nil {
		return nil, err
	}
	if to < from {
		return nil, fmt.Errorf("trace window ends (%d) before it starts (%d)", to, from)
	}
	in, err := flowTuples(flows, true)
	if err != nil {
		return nil, err
	}
	cols := make([]string, len(TraceTimelineColumns))
	for i, c := range TraceTimelineColumns {
		cols[i] = b.c(c)
	}
	sql := fmt.Sprintf(`SELECT
  %s
FROM %s
WHERE %s >= toDateTime(%d) AND %s <= toDateTime(%d)
  AND (%s, %s, %s, %s) IN (%s)
ORDER BY %s, %s
LIMIT %d`,
		strings.Join(cols, ", "), b.from(), b.c("time"), from, b.c("time"), to,
		b.c("client_ip"), b.c("client_port"), b.c("server_ip"), b.c("server_port"), in,
		b.c("time"), b.c("observation_point"), MaxTraceTimelines+1)
	st := b.statement(sql)
	st.Limit = MaxTraceTimelines
	return st, nil
}

// BuildTraceL4Flows renders the lookup of the flow logs around a trace's connections: the rows of
// those 5-tuples, and the failed or reset connections between the same client address and server
// address and port (the attempts a client made before the one that carried its request), whose
// time (the end of the row's interval) is in [from, to], oldest first, at most
// MaxTraceL4FlowsRows+1 rows.
func BuildTraceL4Flows(database string, flows []TraceFlow, from, to int64) (*Statement, error) {
	b, err := newBuilder(database, "l4_flow_log")
	if err != nil {
		return nil, err
	}
	if to < from {
		return nil, fmt.Errorf("trace window ends (%d) before it starts (%d)", to, from)
	}
	own, err := flowTuples(flows, true)
	if err != nil {
		return nil, err
	}
	pairs, err := flowTuples(flows, false)
	if err != nil {
		return nil, err
	}
	cols := make([]string, len(TraceL4Columns))
	for i, c := range TraceL4Columns {
		cols[i] = b.c(c)
	}
	sql := fmt.Sprintf(`SELECT
  %s
FROM %s
WHERE %s >= toDateTime(%d) AND %s <= toDateTime(%d)
  AND ((%s, %s, %s, %s) IN (%s)
    OR ((%s, %s, %s) IN (%s) AND (%s = 1 OR %s > 0)))
ORDER BY %s, %s
LIMIT %d`,
		strings.Join(cols, ", "), b.from(), b.c("time"), from, b.c("time"), to,
		b.c("client_ip"), b.c("client_port"), b.c("server_ip"), b.c("server_port"), own,
		b.c("client_ip"), b.c("server_ip"), b.c("server_port"), pairs, b.c("conn_failed"), b.c("rst_count"),
		b.c("time"), b.c("start_time_us"), MaxTraceL4FlowsRows+1)
	st := b.statement(sql)
	st.Limit = MaxTraceL4FlowsRows
	return st, nil
}
