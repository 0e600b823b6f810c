package query

import (
	"strings"
	"testing"
)

func TestTraceNetLookupsAreBoundedAndEscaped(t *testing.T) {
	flows := []TraceFlow{{ClientIP: "10.0.0.1", ClientPort: 4000, ServerIP: "10.0.0.2", ServerPort: 80},
		{ClientIP: "10.0.0.1", ClientPort: 4000, ServerIP: "10.0.0.2", ServerPort: 80}, // repeated: listed once
		{ClientIP: "x') OR 1=1 --", ClientPort: 1, ServerIP: "10.0.0.2", ServerPort: 80}}
	tl, err := BuildTraceTimelines("flowlens", flows, 100, 200)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(tl.SQL, "IN (('10.0.0.1', 4000, '10.0.0.2', 80), ('x\\') OR 1=1 --', 1, '10.0.0.2', 80))") ||
		!strings.Contains(tl.SQL, "LIMIT 257") || !strings.Contains(tl.SQL, "time >= toDateTime(100) AND time <= toDateTime(200)") {
		t.Errorf("timelines:\n%s", tl.SQL)
	}
	l4, err := BuildTraceL4Flows("flowlens", flows, 100, 200)
	if err != nil {
		t.Fatal(err)
	}
	// the connections themselves, and the failed or reset ones of the same client to the same server
	if !strings.Contains(l4.SQL, "(client_ip, server_ip, server_port) IN (('10.0.0.1', '10.0.0.2', 80), ('x\\') OR 1=1 --', '10.0.0.2', 80)) AND (conn_failed = 1 OR rst_count > 0)") ||
		!strings.Contains(l4.SQL, "LIMIT 2001") {
		t.Errorf("flow logs:\n%s", l4.SQL)
	}
	many := make([]TraceFlow, MaxTraceNetFlows+1)
	for i := range many {
		many[i] = TraceFlow{ClientIP: "10.0.0.1", ClientPort: uint16(i + 1), ServerIP: "10.0.0.2", ServerPort: 80}
	}
	if _, err := BuildTraceTimelines("flowlens", many, 100, 200); err == nil {
		t.Error("more connections than the bound were accepted")
	}
	if _, err := BuildTraceL4Flows("flowlens", flows, 200, 100); err == nil {
		t.Error("a window ending before it starts was accepted")
	}
	if _, err := BuildTraceTimelines("flowlens", nil, 100, 200); err == nil {
		t.Error("no connection was accepted")
	}
}
