package trace

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"

	"github.com/flowlens/flowlens/pkg/clickhouse"
	"github.com/flowlens/flowlens/pkg/query"
	"github.com/flowlens/flowlens/pkg/tcptimeline"
)

// ClickHouseFetcher reads l7_flow_log through the read-only HTTP client, one query per call.
type ClickHouseFetcher struct {
	Client   *clickhouse.Client
	Database string

	mu   sync.Mutex
	sqls []string
}

// SQL returns the statements run so far, in order.
func (f *ClickHouseFetcher) SQL() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.sqls...)
}

// Fetch implements Fetcher.
func (f *ClickHouseFetcher) Fetch(ctx context.Context, keys query.TraceKeys, fromSec, toSec int64, limit int) ([]*Span, error) {
	st, err := query.BuildTraceSpans(f.Database, keys, fromSec, toSec, limit)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.sqls = append(f.sqls, st.SQL)
	f.mu.Unlock()
	res, err := f.Client.Query(ctx, st.SQL)
	if err != nil {
		return nil, err
	}
	return SpansFromResult(res)
}

// SpansFromResult decodes rows selected with query.TraceSpanColumns (by column name).
func SpansFromResult(res *clickhouse.Result) ([]*Span, error) {
	return spansFromColumns(res, query.TraceSpanColumns)
}

// spansFromColumns decodes rows holding at least the columns named (by name); a Span field whose
// column is not selected keeps its zero value.
func spansFromColumns(res *clickhouse.Result, need []string) ([]*Span, error) {
	col := map[string]int{}
	for i, c := range res.Meta {
		col[c.Name] = i
	}
	for _, name := range need {
		if _, ok := col[name]; !ok {
			return nil, fmt.Errorf("trace rows lack column %s", name)
		}
	}
	out := make([]*Span, 0, len(res.Data))
	for ri, row := range res.Data {
		if len(row) != len(res.Meta) {
			return nil, fmt.Errorf("trace row %d has %d values, meta has %d columns", ri, len(row), len(res.Meta))
		}
		r := rowReader{row: row, col: col}
		s := &Span{
			RowID: r.u64("_id"), StartUs: int64(r.u64("start_time_us")), EndUs: int64(r.u64("end_time_us")),
			Host: r.str("host"), ObservationPoint: r.str("observation_point"), L7Protocol: r.str("l7_protocol"),
			RequestType: r.str("request_type"), RequestDomain: r.str("request_domain"), RequestResource: r.str("request_resource"),
			Endpoint: r.str("endpoint"), ResponseCode: int32(r.i64("response_code")), ResponseStatus: r.str("response_status"),
			ResponseException: r.str("response_exception"), TraceID: r.str("trace_id"), SpanID: r.str("span_id"),
			ParentSpanID: r.str("parent_span_id"), XRequestID: r.str("x_request_id"),
			SyscallReq: r.u64("syscall_trace_id_request"), SyscallResp: r.u64("syscall_trace_id_response"),
			ThreadReq: uint32(r.u64("syscall_thread_request")), ThreadResp: uint32(r.u64("syscall_thread_response")),
			TCPSeqReq: uint32(r.u64("tcp_seq_request")), TCPSeqResp: uint32(r.u64("tcp_seq_response")),
			ClientIP: r.str("client_ip"), ClientPort: uint16(r.u64("client_port")), ServerIP: r.str("server_ip"),
			ServerPort: uint16(r.u64("server_port")), ClientPID: uint32(r.u64("client_pid")), ServerPID: uint32(r.u64("server_pid")),
			ClientProcess: r.str("client_process"), ServerProcess: r.str("server_process"),
			ClientService: r.str("client_service"), ServerService: r.str("server_service"),
		}
		if r.err != nil {
			return nil, fmt.Errorf("trace row %d: %w", ri, r.err)
		}
		out = append(out, s)
	}
	return out, nil
}

// rowReader reads JSONCompact values (64-bit integers arrive quoted) and keeps the first error.
type rowReader struct {
	row []any
	col map[string]int
	err error
}

// text is the value of column name as text; "" when the column was not selected.
func (r *rowReader) text(name string) string {
	i, ok := r.col[name]
	if !ok {
		return ""
	}
	switch v := r.row[i].(type) {
	case string:
		return v
	case json.Number:
		return string(v)
	case nil:
		return ""
	default:
		return fmt.Sprint(v)
	}
}

func (r *rowReader) str(name string) string { return r.text(name) }

func (r *rowReader) u64(name string) uint64 {
	if _, ok := r.col[name]; !ok {
		return 0
	}
	v, err := strconv.ParseUint(r.text(name), 10, 64)
	if err != nil && r.err == nil {
		r.err = fmt.Errorf("column %s: %w", name, err)
	}
	return v
}

func (r *rowReader) i64(name string) int64 {
	if _, ok := r.col[name]; !ok {
		return 0
	}
	v, err := strconv.ParseInt(r.text(name), 10, 64)
	if err != nil && r.err == nil {
		r.err = fmt.Errorf("column %s: %w", name, err)
	}
	return v
}

// FetchNet implements NetFetcher: the packet timelines and the flow logs around the trace's
// connections, one query each.
func (f *ClickHouseFetcher) FetchNet(ctx context.Context, w NetWindow) (*NetRows, error) {
	tl, err := query.BuildTraceTimelines(f.Database, w.Flows, w.TimelineFrom, w.TimelineTo)
	if err != nil {
		return nil, err
	}
	l4, err := query.BuildTraceL4Flows(f.Database, w.Flows, w.FlowLogFrom, w.FlowLogTo)
	if err != nil {
		return nil, err
	}
	// both at once: a trace's answer waits on the slower one, not their sum
	var results [2]*clickhouse.Result
	var errs [2]error
	var wg sync.WaitGroup
	for i, st := range []*query.Statement{tl, l4} {
		f.mu.Lock()
		f.sqls = append(f.sqls, st.SQL)
		f.mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = f.Client.Query(ctx, st.SQL)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return NetRowsFromResults(results[0], results[1])
}

// NetRowsFromResults decodes the answers of query.BuildTraceTimelines and BuildTraceL4Flows (by
// column name); more rows than the statements' limits mark the evidence truncated.
func NetRowsFromResults(timelines, flows *clickhouse.Result) (*NetRows, error) {
	out := &NetRows{}
	if err := eachRow(timelines, query.TraceTimelineColumns, func(r *rowReader, value func(string) any) error {
		pkts, err := tcptimeline.RowPackets(value)
		if err != nil {
			return err
		}
		if len(out.Timelines) == query.MaxTraceTimelines {
			out.Truncated = true
			return nil
		}
		out.Timelines = append(out.Timelines, Timeline{Flow: flowOf(r), Host: r.str("host"), ObservationPoint: r.str("observation_point"),
			Packets: pkts, RetransCount: int64(r.u64("retrans_count")), EventsTruncated: int64(r.u64("events_truncated"))})
		return nil
	}); err != nil {
		return nil, fmt.Errorf("tcp_timeline: %w", err)
	}
	if err := eachRow(flows, query.TraceL4Columns, func(r *rowReader, _ func(string) any) error {
		if len(out.Flows) == query.MaxTraceL4FlowsRows {
			out.Truncated = true
			return nil
		}
		out.Flows = append(out.Flows, L4Flow{Flow: flowOf(r), Host: r.str("host"), ObservationPoint: r.str("observation_point"),
			ClientPID: uint32(r.u64("client_pid")), StartUs: int64(r.u64("start_time_us")), EndUs: int64(r.u64("end_time_us")),
			SynLatencyUs: int64(r.u64("syn_latency_us")), RetransCount: int64(r.u64("retrans_count")),
			ZeroWindowCount: int64(r.u64("zero_window_count")), RstCount: int64(r.u64("rst_count")),
			RstSender: r.str("rst_sender"), CloseType: r.str("close_type"), ConnFailed: r.u64("conn_failed") != 0})
		return nil
	}); err != nil {
		return nil, fmt.Errorf("l4_flow_log: %w", err)
	}
	return out, nil
}

func flowOf(r *rowReader) Flow {
	return Flow{ClientIP: r.str("client_ip"), ClientPort: uint16(r.u64("client_port")), ServerIP: r.str("server_ip"), ServerPort: uint16(r.u64("server_port"))}
}

// eachRow calls fn on each row of res, which must hold the columns named.
func eachRow(res *clickhouse.Result, need []string, fn func(r *rowReader, value func(string) any) error) error {
	col := map[string]int{}
	for i, c := range res.Meta {
		col[c.Name] = i
	}
	for _, name := range need {
		if _, ok := col[name]; !ok {
			return fmt.Errorf("rows lack column %s", name)
		}
	}
	for ri, row := range res.Data {
		if len(row) != len(res.Meta) {
			return fmt.Errorf("row %d has %d values, meta has %d columns", ri, len(row), len(res.Meta))
		}
		r := &rowReader{row: row, col: col}
		value := func(c string) any { // nil for a column the answer lacks
			if i, ok := col[c]; ok {
				return row[i]
			}
			return nil
		}
		if err := fn(r, value); err != nil {
			return fmt.Errorf("row %d: %w", ri, err)
		}
		if r.err != nil {
			return fmt.Errorf("row %d: %w", ri, r.err)
		}
	}
	return nil
}
