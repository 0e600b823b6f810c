package trace

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"

	"github.com/flowlens/flowlens/pkg/clickhouse"
	"github.com/flowlens/flowlens/pkg/query"
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
