package query

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// MaxTraceKeys bounds each id list of one trace-assembly round (the IN lists stay small
// enough for ClickHouse to hash them once per query).
const MaxTraceKeys = 5000

// MaxTraceSpans bounds the rows one assembly query may return.
const MaxTraceSpans = 10000

// MaxTraceSQLBytes bounds one assembly round's SQL: ClickHouse parses at most max_query_size
// (256 KiB by default, which a readonly=1 user cannot raise) and calls a longer query a syntax error.
const MaxTraceSQLBytes = 200 << 10

// ErrTraceRoundTooLarge means the ids of one round do not fit in one query.
var ErrTraceRoundTooLarge = errors.New("the ids of this trace round do not fit in one query")

// TraceFlow is a connection 5-tuple (without the L4 protocol), the link between the client and
// server views of a call that carries no TCP sequence number (TLS plaintext).
type TraceFlow struct {
	ClientIP   string
	ClientPort uint16
	ServerIP   string
	ServerPort uint16
}

// TraceKeys are the ids one assembly round looks up: a row matches when any of its ids is listed.
type TraceKeys struct {
	RowIDs      []uint64 // _id
	SyscallIDs  []uint64 // syscall_trace_id_request or syscall_trace_id_response
	TCPSeqs     []uint32 // tcp_seq_request
	Flows       []TraceFlow
	TraceIDs    []string // trace_id
	XRequestIDs []string // x_request_id
}

// Empty reports whether no id is listed.
func (k *TraceKeys) Empty() bool {
	return len(k.RowIDs)+len(k.SyscallIDs)+len(k.TCPSeqs)+len(k.Flows)+len(k.TraceIDs)+len(k.XRequestIDs) == 0
}

// TraceSpanColumns are the l7_flow_log columns trace assembly reads, in order.
var TraceSpanColumns = []string{
	"_id", "start_time_us", "end_time_us", "host", "observation_point", "l7_protocol", "request_type",
	"request_domain", "request_resource", "endpoint", "response_code", "response_status", "response_exception",
	"trace_id", "span_id", "parent_span_id", "x_request_id",
	"syscall_trace_id_request", "syscall_trace_id_response", "syscall_thread_request", "syscall_thread_response",
	"tcp_seq_request", "tcp_seq_response",
	"client_ip", "client_port", "server_ip", "server_port", "client_pid", "server_pid",
	"client_process", "server_process", "client_service", "server_service",
}

// BuildTraceSpans renders one assembly round: every l7_flow_log row in [from, to] (unix seconds,
// inclusive, on the second-precision time column, which the table is ordered by) carrying any
// of the keys, oldest first, at most limit rows. Numbers are rendered by strconv, strings quoted.
func BuildTraceSpans(database string, k TraceKeys, from, to int64, limit int) (*Statement, error) {
	b, err := newBuilder(database, "l7_flow_log")
	if err != nil {
		return nil, err
	}
	if to < from {
		return nil, fmt.Errorf("trace window ends (%d) before it starts (%d)", to, from)
	}
	if limit <= 0 || limit > MaxTraceSpans {
		return nil, fmt.Errorf("trace span limit %d is outside 1..%d", limit, MaxTraceSpans)
	}
	var ors []string
	u64 := func(col string, vals []uint64) error {
		if len(vals) == 0 {
			return nil
		}
		if len(vals) > MaxTraceKeys {
			return fmt.Errorf("%d %s values in one trace round, the limit is %d", len(vals), col, MaxTraceKeys)
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = strconv.FormatUint(v, 10)
		}
		ors = append(ors, fmt.Sprintf("%s IN (%s)", b.c(col), strings.Join(parts, ", ")))
		return nil
	}
	str := func(col string, vals []string) error {
		if len(vals) == 0 {
			return nil
		}
		if len(vals) > MaxTraceKeys {
			return fmt.Errorf("%d %s values in one trace round, the limit is %d", len(vals), col, MaxTraceKeys)
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			if err := checkValue(col, v); err != nil {
				return err
			}
			parts[i] = Quote(v)
		}
		ors = append(ors, fmt.Sprintf("%s IN (%s)", b.c(col), strings.Join(parts, ", ")))
		return nil
	}
	if err := u64("_id", k.RowIDs); err != nil {
		return nil, err
	}
	if err := u64("syscall_trace_id_request", k.SyscallIDs); err != nil {
		return nil, err
	}
	if err := u64("syscall_trace_id_response", k.SyscallIDs); err != nil {
		return nil, err
	}
	seqs := make([]uint64, len(k.TCPSeqs))
	for i, s := range k.TCPSeqs {
		seqs[i] = uint64(s)
	}
	if err := u64("tcp_seq_request", seqs); err != nil {
		return nil, err
	}
	if err := str("trace_id", k.TraceIDs); err != nil {
		return nil, err
	}
	if err := str("x_request_id", k.XRequestIDs); err != nil {
		return nil, err
	}
	if len(k.Flows) > MaxTraceKeys {
		return nil, fmt.Errorf("%d flows in one trace round, the limit is %d", len(k.Flows), MaxTraceKeys)
	}
	if len(k.Flows) > 0 {
		parts := make([]string, len(k.Flows))
		for i, f := range k.Flows {
			if err := checkValue("client_ip", f.ClientIP); err != nil {
				return nil, err
			}
			if err := checkValue("server_ip", f.ServerIP); err != nil {
				return nil, err
			}
			parts[i] = fmt.Sprintf("(%s, %d, %s, %d)", Quote(f.ClientIP), f.ClientPort, Quote(f.ServerIP), f.ServerPort)
		}
		ors = append(ors, fmt.Sprintf("(%s, %s, %s, %s) IN (%s)", b.c("client_ip"), b.c("client_port"), b.c("server_ip"),
			b.c("server_port"), strings.Join(parts, ", ")))
	}
	if len(ors) == 0 {
		return nil, fmt.Errorf("a trace round needs at least one id")
	}
	cols := make([]string, len(TraceSpanColumns))
	for i, c := range TraceSpanColumns {
		cols[i] = b.c(c)
	}
	sql := fmt.Sprintf(`SELECT
  %s
FROM %s
WHERE %s >= toDateTime(%d) AND %s <= toDateTime(%d)
  AND (%s)
ORDER BY %s, %s
LIMIT %d`,
		strings.Join(cols, ", "), b.from(), b.c("time"), from, b.c("time"), to,
		strings.Join(ors, "\n    OR "), b.c("start_time_us"), b.c("_id"), limit)
	if len(sql) > MaxTraceSQLBytes {
		return nil, fmt.Errorf("%w (%d bytes of SQL, the limit is %d)", ErrTraceRoundTooLarge, len(sql), MaxTraceSQLBytes)
	}
	st := b.statement(sql)
	st.Limit = limit
	return st, nil
}

// TraceQuery is the query JSON of queryType "trace": one row to start from (its _id, and its
// time when known: unix seconds, milliseconds or microseconds) or a trace id, which matches
// trace_id or x_request_id within the panel's time range.
type TraceQuery struct {
	RowID   uint64
	TimeSec int64
	TraceID string
}

// numText is a JSON number or string, as text ("" for null or an empty string: not set). The
// query editor keeps every option as text, so template variables can stand for numbers.
type numText string

func (n *numText) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*n = numText(strings.TrimSpace(s))
		return nil
	}
	var num json.Number
	if err := json.Unmarshal(b, &num); err != nil {
		return err
	}
	*n = numText(num)
	return nil
}

type traceJSON struct {
	RowID      numText `json:"row_id"`
	RowIDCamel numText `json:"rowId"`
	ID         numText `json:"_id"`
	Time       numText `json:"time"`
	TraceID    string  `json:"trace_id"`
	TraceCamel string  `json:"traceId"`
	RequestID  string  `json:"request_id"` // an X-Request-ID: looked up like a trace id (trace_id or x_request_id)
	ReqCamel   string  `json:"requestId"`
}

// ParseTrace reads the trace options of a query.
func ParseTrace(raw []byte) (*TraceQuery, error) {
	var j traceJSON
	if err := json.Unmarshal(raw, &j); err != nil {
		return nil, fmt.Errorf("invalid trace query: row_id and time must be numbers (or numeric strings), trace_id a string: %w", err)
	}
	q := &TraceQuery{TraceID: strings.TrimSpace(j.TraceID)}
	for _, alt := range []string{j.TraceCamel, j.RequestID, j.ReqCamel} {
		alt = strings.TrimSpace(alt)
		if q.TraceID == "" {
			q.TraceID = alt
		} else if alt != "" && alt != q.TraceID {
			return nil, fmt.Errorf("a trace query needs one id: trace_id %s and request_id %s differ", Quote(truncate(q.TraceID, 40)), Quote(truncate(alt, 40)))
		}
	}
	id := j.RowID
	if id == "" {
		id = j.RowIDCamel
	}
	if id == "" {
		id = j.ID
	}
	if id != "" {
		v, err := strconv.ParseUint(string(id), 10, 64)
		if err != nil || v == 0 {
			return nil, fmt.Errorf("row_id %s is not a request log _id (a positive 64-bit integer)", Quote(truncate(string(id), 40)))
		}
		q.RowID = v
	}
	if (q.RowID == 0) == (q.TraceID == "") {
		return nil, fmt.Errorf("a trace query needs exactly one of row_id (a request log _id, with its time), trace_id or request_id")
	}
	if q.TraceID != "" {
		if err := checkValue("trace_id", q.TraceID); err != nil {
			return nil, err
		}
	}
	if j.Time != "" {
		f, err := strconv.ParseFloat(string(j.Time), 64)
		if err != nil || f < 0 {
			return nil, fmt.Errorf("time %s is not a unix time", Quote(truncate(string(j.Time), 40)))
		}
		switch { // seconds, milliseconds or microseconds since the epoch
		case f >= 1e14:
			f /= 1e6
		case f >= 1e11:
			f /= 1e3
		}
		if f > math.MaxUint32 { // also catches +Inf; DateTime ends in 2106
			return nil, fmt.Errorf("time %s is not a unix time before 2106", Quote(truncate(string(j.Time), 40)))
		}
		q.TimeSec = int64(f)
	}
	return q, nil
}
