package query

import (
	"strings"
	"testing"

	"github.com/flowlens/flowlens/pkg/schema"
)

func TestTraceSpansSQL(t *testing.T) {
	k := TraceKeys{
		RowIDs: []uint64{18446744073709551615}, SyscallIDs: []uint64{7, 9}, TCPSeqs: []uint32{4294967295},
		Flows:    []TraceFlow{{ClientIP: "10.0.0.1", ClientPort: 4000, ServerIP: "10.0.0.2", ServerPort: 80}},
		TraceIDs: []string{"abc"}, XRequestIDs: []string{"x' OR 1=1 --\\"},
	}
	st, err := BuildTraceSpans("flowlens", k, 1700000000, 1700000010, 2001)
	if err != nil {
		t.Fatal(err)
	}
	sqlHas(t, "the", st.SQL,
		"FROM `flowlens`.`l7_flow_log`",
		"WHERE time >= toDateTime(1700000000) AND time <= toDateTime(1700000010)",
		"_id IN (18446744073709551615)",
		"syscall_trace_id_request IN (7, 9)", "syscall_trace_id_response IN (7, 9)",
		"tcp_seq_request IN (4294967295)",
		"(client_ip, client_port, server_ip, server_port) IN (('10.0.0.1', 4000, '10.0.0.2', 80))",
		"trace_id IN ('abc')",
		`x_request_id IN ('x\' OR 1=1 --\\')`,
		"ORDER BY start_time_us, _id\nLIMIT 2001",
	)
	s := schema.Get()
	for _, c := range st.Columns {
		if !s.HasColumn(st.Table, c) {
			t.Errorf("trace query reads %s.%s, which schema.json lacks", st.Table, c)
		}
	}
	// Only the listed kinds appear.
	st, err = BuildTraceSpans("flowlens", TraceKeys{TraceIDs: []string{"t"}}, 1, 2, 10)
	if err != nil || strings.Contains(st.SQL, "syscall_trace_id_request IN") || strings.Contains(st.SQL, "(_id IN") ||
		!strings.Contains(st.SQL, "trace_id IN ('t')") {
		t.Errorf("trace-id only: %v\n%v", err, st)
	}
}

func TestTraceSpansRejects(t *testing.T) {
	many := make([]uint64, MaxTraceKeys+1)
	bad := []struct {
		name string
		k    TraceKeys
		from int64
		to   int64
		lim  int
		want string
	}{
		{"no keys", TraceKeys{}, 1, 2, 10, "at least one id"},
		{"window", TraceKeys{RowIDs: []uint64{1}}, 5, 2, 10, "before it starts"},
		{"limit", TraceKeys{RowIDs: []uint64{1}}, 1, 2, 0, "outside"},
		{"too many", TraceKeys{SyscallIDs: many}, 1, 2, 10, "the limit is"},
		{"long value", TraceKeys{TraceIDs: []string{strings.Repeat("a", MaxValueLen+1)}}, 1, 2, 10, "bytes long"},
		{"bad utf8", TraceKeys{XRequestIDs: []string{"\xff"}}, 1, 2, 10, "UTF-8"},
		{"bad ip", TraceKeys{Flows: []TraceFlow{{ClientIP: "\xff"}}}, 1, 2, 10, "UTF-8"},
	}
	for _, b := range bad {
		_, err := BuildTraceSpans("flowlens", b.k, b.from, b.to, b.lim)
		if err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%s: err %v, want %q", b.name, err, b.want)
		}
	}
	if _, err := BuildTraceSpans("x`; DROP", TraceKeys{RowIDs: []uint64{1}}, 1, 2, 10); err == nil {
		t.Error("bad database name accepted")
	}
}

func TestParseTrace(t *testing.T) {
	good := []struct {
		raw  string
		want TraceQuery
	}{
		{`{"row_id":"9007199254740993","time":1700000000}`, TraceQuery{RowID: 9007199254740993, TimeSec: 1700000000}},
		{`{"rowId":42,"time":"1700000000123"}`, TraceQuery{RowID: 42, TimeSec: 1700000000}},
		{`{"_id":"7","time":1700000000123456}`, TraceQuery{RowID: 7, TimeSec: 1700000000}},
		{`{"trace_id":" 4bf92f3577b34da6a3ce929d0e0e4736 "}`, TraceQuery{TraceID: "4bf92f3577b34da6a3ce929d0e0e4736"}},
		{`{"traceId":"req-1"}`, TraceQuery{TraceID: "req-1"}},
		// the editor's options: numbers as text, empty ones unset, an X-Request-ID
		{`{"request_id":"rid-1","row_id":"","time":""}`, TraceQuery{TraceID: "rid-1"}},
		{`{"row_id":"11","time":"1700000000250000","trace_id":"","request_id":null}`, TraceQuery{RowID: 11, TimeSec: 1700000000}},
		{`{"trace_id":"a","requestId":"a"}`, TraceQuery{TraceID: "a"}},
	}
	for _, g := range good {
		q, err := ParseTrace([]byte(g.raw))
		if err != nil || *q != g.want {
			t.Errorf("%s: %+v %v, want %+v", g.raw, q, err, g.want)
		}
	}
	for _, bad := range []string{`{}`, `{"row_id":"0"}`, `{"row_id":"-3"}`, `{"row_id":"x"}`, `{"row_id":1,"trace_id":"a"}`, `{"trace_id":"a","request_id":"b"}`, `{"row_id":1,"request_id":"b"}`,
		`{"row_id":1,"time":"noon"}`, `{"row_id":1,"time":-5}`, `{"trace_id":"` + strings.Repeat("z", MaxValueLen+1) + `"}`, `[`} {
		if _, err := ParseTrace([]byte(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
