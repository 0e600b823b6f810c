package plugin

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/flowlens/flowlens/pkg/trace"
)

func TestTraceFrameShape(t *testing.T) {
	const t0 = int64(1_700_000_000_000_000)
	s := func(id uint64, obs, host string, start, end int64, seq uint32, sysReq, sysResp uint64) *trace.Span {
		return &trace.Span{RowID: id, ObservationPoint: obs, Host: host, StartUs: t0 + start, EndUs: t0 + end,
			L7Protocol: "HTTP", RequestType: "GET", Endpoint: "/pay", ResponseStatus: "ok", ResponseCode: 200,
			ClientIP: "10.0.0.1", ClientPort: 4000, ServerIP: "10.0.0.2", ServerPort: 80, TCPSeqReq: seq,
			ClientPID: 1, ClientService: "web", ClientProcess: "node", ServerPID: 2, ServerService: "api", ServerProcess: "api",
			SyscallReq: sysReq, SyscallResp: sysResp}
	}
	db := s(3, trace.ClientProcess, "b", 2000, 9000, 9, 70, 71)
	db.ClientPID, db.ClientService, db.ServerPID, db.ServerService, db.L7Protocol = 2, "api", 0, "mysql", "MySQL"
	db.ServerIP, db.ServerPort, db.ResponseStatus, db.ResponseException = "10.0.0.9", 3306, "server_error", "1213: Deadlock found"
	spans := []*trace.Span{
		s(1, trace.ClientProcess, "a", 0, 10_000, 5, 0, 0),
		s(2, trace.ServerProcess, "a", 500, 9500, 5, 70, 72),
		db,
	}
	db.Host = "a"
	spans[1].ThreadReq, spans[1].ThreadResp = 4711, 4712 // the server thread that read the request (and the one that answered)
	db.ThreadResp = 4713                                 // a call whose request write was not seen: the thread that read its reply
	tr := trace.Build(spans, []uint64{3}, trace.Options{})
	frames := traceFrames(tr, []string{"SELECT 1", "SELECT 2"}, 3*time.Millisecond)
	if len(frames) != 2 || frames[0].Name != "trace" || frames[1].Name != "verdict" {
		t.Fatalf("frames %v", frames)
	}
	f := frames[0]
	want := []struct {
		name string
		typ  data.FieldType
	}{
		{"traceID", data.FieldTypeString}, {"spanID", data.FieldTypeString}, {"parentSpanID", data.FieldTypeString},
		{"operationName", data.FieldTypeString}, {"serviceName", data.FieldTypeString}, {"serviceTags", data.FieldTypeJSON},
		{"startTime", data.FieldTypeFloat64}, {"duration", data.FieldTypeFloat64}, {"logs", data.FieldTypeJSON},
		{"tags", data.FieldTypeJSON}, {"kind", data.FieldTypeString}, {"statusCode", data.FieldTypeInt64},
		{"statusMessage", data.FieldTypeString}, {"warnings", data.FieldTypeJSON},
		{"observation_point", data.FieldTypeString}, {"host", data.FieldTypeString}, {"process", data.FieldTypeString},
		{"pid", data.FieldTypeInt64}, {"tid", data.FieldTypeInt64}, {"hop_kind", data.FieldTypeString}, {"hop", data.FieldTypeString},
		{"self_time_ms", data.FieldTypeFloat64}, {"critical_time_ms", data.FieldTypeFloat64}, {"link", data.FieldTypeString},
		{"l7_protocol", data.FieldTypeString}, {"response_status", data.FieldTypeString},
		{"clock_skew_correction_ms", data.FieldTypeFloat64}, {"depth", data.FieldTypeInt64},
		{"retransmissions", data.FieldTypeInt64}, {"retrans_wait_ms", data.FieldTypeFloat64},
	}
	if len(f.Fields) != len(want) {
		t.Fatalf("%d fields, want %d", len(f.Fields), len(want))
	}
	for i, w := range want {
		if f.Fields[i].Name != w.name || f.Fields[i].Type() != w.typ {
			t.Errorf("field %d = %s %v, want %s %v", i, f.Fields[i].Name, f.Fields[i].Type(), w.name, w.typ)
		}
	}
	if f.Meta.PreferredVisualization != data.VisTypeTrace || f.Rows() != 3 || f.Meta.ExecutedQueryString != "SELECT 1;\n\nSELECT 2" {
		t.Fatalf("meta %+v rows %d", f.Meta, f.Rows())
	}
	fm := fieldMap(f)
	row := func(name string, i int) any { return fm[name].At(i) }
	if row("traceID", 0) != "fl-0000000000000001" || row("spanID", 2) != "3" || row("parentSpanID", 2) != "2" || row("parentSpanID", 0) != "" {
		t.Errorf("ids %v %v %v", row("traceID", 0), row("spanID", 2), row("parentSpanID", 2))
	}
	if row("startTime", 1).(float64) != float64(t0+500)/1000 || row("duration", 1).(float64) != 9 {
		t.Errorf("start %v duration %v", row("startTime", 1), row("duration", 1))
	}
	if row("tid", 0).(int64) != 0 || row("tid", 1).(int64) != 4711 || row("tid", 2).(int64) != 4713 {
		t.Errorf("threads %v %v %v", row("tid", 0), row("tid", 1), row("tid", 2))
	}
	if row("serviceName", 0) != "web" || row("serviceName", 1) != "api" || row("kind", 0) != "client" || row("kind", 1) != "server" {
		t.Errorf("service/kind %v %v %v %v", row("serviceName", 0), row("serviceName", 1), row("kind", 0), row("kind", 1))
	}
	if row("statusCode", 2).(int64) != 2 || row("statusMessage", 2) != "1213: Deadlock found" || row("statusCode", 0).(int64) != 1 {
		t.Errorf("status %v %v", row("statusCode", 2), row("statusMessage", 2))
	}
	if row("hop", 2) != "mysql" || row("hop_kind", 2) != trace.HopDependency || row("link", 2) != trace.LinkSyscall || row("pid", 1).(int64) != 2 {
		t.Errorf("hop %v %v link %v", row("hop_kind", 2), row("hop", 2), row("link", 2))
	}
	var logs []map[string]any
	if err := json.Unmarshal(row("logs", 2).(json.RawMessage), &logs); err != nil || len(logs) != 1 {
		t.Errorf("logs %s", row("logs", 2))
	}
	var tags []kv
	_ = json.Unmarshal(row("tags", 2).(json.RawMessage), &tags)
	found := false
	for _, kv := range tags {
		found = found || (kv.Key == "syscall_trace_id_request" && kv.Value == "70")
	}
	if !found {
		t.Errorf("tags lack the syscall id: %s", row("tags", 2))
	}
	// The verdict: mysql's 7 ms of 10 ms; api's own 2 ms; the loopback network 1 ms.
	custom := f.Meta.Custom.(map[string]any)
	verdict := custom["verdict"].(map[string]any)
	if c := verdict["culprit"].(map[string]any); c["label"] != "mysql" || c["critical_time_ms"] != 7.0 || c["share"] != 0.7 {
		t.Errorf("culprit %v", c)
	}
	if custom["spans"] != 3 || len(f.Meta.Notices) != 1 || !strings.HasPrefix(f.Meta.Notices[0].Text, "Verdict: mysql (dependency) holds 70%") {
		t.Errorf("custom %v notices %v", custom, f.Meta.Notices)
	}
	v := fieldMap(frames[1])
	if frames[1].Rows() != 3 || v["hop"].At(0) != "dependency: mysql" || v["share"].At(1).(float64) != 0.2 ||
		v["hop"].At(2) != "network: web → api" || v["culprit"].At(0) != true || v["culprit"].At(1) != false {
		t.Errorf("verdict frame: %v %v %v", v["hop"].At(0), v["share"].At(1), v["hop"].At(2))
	}
}

func fieldMap(f *data.Frame) map[string]*data.Field {
	out := map[string]*data.Field{}
	for _, fl := range f.Fields {
		out[fl.Name] = fl
	}
	return out
}
