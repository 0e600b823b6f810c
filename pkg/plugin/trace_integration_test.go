package plugin_test

// Trace assembly end to end: request logs of a gateway → frontend → load balancer → backend →
// redis path (two overlapping requests sharing nginx's event-loop thread) loaded into an own
// database on the real ClickHouse, assembled through the plugin binary over gRPC.

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/flowlens/flowlens/pkg/pluginhost"
)

const traceDB = "flowlens_gotest_trace"

// tracePath returns the rows of one request through the path; base offsets row ids and ports,
// at is its start (µs since epoch), gatewayDelay the time the load balancer holds it.
func tracePath(base uint64, at int64, rid string, gatewayDelay int64) []map[string]any {
	e := 40_000 + gatewayDelay
	procs := map[string]string{"nginx": "nginx", "frontend": "node", "backend": "java", "redis": "redis-server"}
	row := func(id uint64, obs, host string, start, end int64, c string, cport int, s string, sport int, seq uint32,
		cpid, spid int, csvc, ssvc string, sysReq, sysResp uint64) map[string]any {
		st := uint64(at + start)
		return map[string]any{
			"time": time.UnixMicro(int64(st)).UTC().Format("2006-01-02 15:04:05"), "_id": base + id,
			"start_time_us": st, "end_time_us": uint64(at + end), "response_duration_us": end - start,
			"host": host, "observation_point": obs, "l7_protocol": "HTTP", "request_type": "GET",
			"request_resource": "/checkout?id=7", "endpoint": "/checkout", "response_code": 200, "response_status": "ok",
			"x_request_id": rid, "tcp_seq_request": seq, "client_ip": c, "client_port": cport, "server_ip": s, "server_port": sport,
			"client_pid": cpid, "server_pid": spid, "client_process": procs[csvc], "server_process": procs[ssvc],
			"client_service": csvc, "server_service": ssvc,
			"syscall_trace_id_request": sysReq, "syscall_trace_id_response": sysResp,
		}
	}
	p := int(base) + 50000
	q := uint32(base) * 10
	bs := 9000 + base*10
	rows := []map[string]any{
		row(1, "server_process", "gw", 0, e+10_000, "203.0.113.9", p, "10.0.0.1", 80, q+1, 0, 10, "", "nginx", 7000, 7001),
		row(2, "client_process", "gw", 1000, e+9000, "10.0.0.1", p+1, "10.0.0.2", 3000, q+2, 10, 0, "nginx", "frontend", 7000, 7001),
		row(3, "client_nic", "gw", 1050, e+8950, "10.0.0.1", p+1, "10.0.0.2", 3000, q+2, 10, 0, "nginx", "frontend", 0, 0),
		row(4, "server_nic", "fe", 1150, e+8850, "10.0.0.1", p+1, "10.0.0.2", 3000, q+2, 0, 20, "nginx", "frontend", 0, 0),
		row(5, "server_process", "fe", 1200, e+8800, "10.0.0.1", p+1, "10.0.0.2", 3000, q+2, 0, 20, "nginx", "frontend", 8000+base, 8100+base),
		row(6, "client_process", "fe", 5000, e+5000, "10.0.0.2", p+2, "10.0.0.3", 4000, q+3, 20, 0, "frontend", "backend", 0, 0),
		row(7, "client_nic", "fe", 5050, e+4950, "10.0.0.2", p+2, "10.0.0.3", 4000, q+3, 20, 0, "frontend", "backend", 0, 0),
		row(8, "gateway", "lb-1", 5100, e+4900, "10.0.0.2", p+2, "10.0.0.3", 4000, q+3, 0, 0, "frontend", "backend", 0, 0),
		row(9, "server_nic", "be", 5100+gatewayDelay, e+4800, "10.0.0.2", p+2, "10.0.0.3", 4000, q+3, 0, 30, "frontend", "backend", 0, 0),
		row(10, "server_process", "be", 5150+gatewayDelay, e+4750, "10.0.0.2", p+2, "10.0.0.3", 4000, q+3, 0, 30, "frontend", "backend", bs, bs+2),
		row(11, "client_process", "be", 10_000+gatewayDelay, 12_000+gatewayDelay, "10.0.0.3", p+3, "10.0.0.9", 6379, q+4, 30, 0, "backend", "redis", bs, bs+1),
	}
	rows[10]["l7_protocol"], rows[10]["request_type"], rows[10]["request_resource"], rows[10]["endpoint"] = "Redis", "GET", "GET cart:7", "GET"
	return rows
}

func insertRows(t *testing.T, db, table string, rows []map[string]any) {
	var b strings.Builder
	fmt.Fprintf(&b, "INSERT INTO %s.%s FORMAT JSONEachRow\n", db, table)
	for _, r := range rows {
		j, _ := json.Marshal(r)
		b.Write(j)
		b.WriteByte('\n')
	}
	admin(t, b.String())
}

func TestTraceIntegration(t *testing.T) {
	freshSchema(t, traceDB)
	at := int64(t0) * 1_000_000
	rows := append(tracePath(0, at, "rid-1", 100_000), tracePath(100, at+500, "rid-2", 0)...)
	// Background traffic in the same seconds: other requests of the same services.
	for i := uint64(0); i < 40; i++ {
		rows = append(rows, tracePath(1000+i*100, at+int64(i)*20_000, fmt.Sprintf("bg-%d", i), 0)...)
	}
	// The same request id reused a minute later by an unrelated request (must not merge).
	rows = append(rows, tracePath(200, at+60_000_000, "rid-1", 0)...)
	insertRows(t, traceDB, "l7_flow_log", rows)

	host, err := pluginhost.Start(context.Background(), buildPlugin(t), pluginhost.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	e := &env{t: t, host: host}
	pc := e.ctx("trace", map[string]any{"url": clickhouseURL(), "database": traceDB, "username": local.Reader})

	run := func(model string, from, to int64) backend.DataResponse {
		t.Helper()
		return e.query(pc, from, to, time.Second, model)
	}
	check := func(res backend.DataResponse, wantSpans int, wantCulprit string) (*data.Frame, map[string]any) {
		t.Helper()
		if res.Error != nil {
			t.Fatalf("trace query: %v", res.Error)
		}
		if len(res.Frames) != 2 {
			t.Fatalf("%d frames", len(res.Frames))
		}
		f := res.Frames[0]
		if f.Rows() != wantSpans || f.Meta.PreferredVisualization != data.VisTypeTrace {
			t.Fatalf("%d spans (want %d), visualisation %q", f.Rows(), wantSpans, f.Meta.PreferredVisualization)
		}
		custom, _ := f.Meta.Custom.(map[string]any)
		v, _ := custom["verdict"].(map[string]any)
		c, _ := v["culprit"].(map[string]any)
		if c == nil || c["label"] != wantCulprit {
			t.Errorf("culprit %v, want %s", c, wantCulprit)
		}
		return f, custom
	}
	// From the redis call of request 1 (row 11) with its time: the whole path, request 1 only.
	f, custom := check(run(`{"queryType":"trace","row_id":"11","time":`+fmt.Sprint(t0)+`}`, t0-60, t0+60), 11, "lb-1")
	fm := fieldMap(t, f)
	wantParent := []string{"", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10"}
	for i := 0; i < 11; i++ {
		if fm["spanID"].At(i) != fmt.Sprint(i+1) || fm["parentSpanID"].At(i) != wantParent[i] {
			t.Errorf("span %d: id %v parent %v, want %d < %s", i, fm["spanID"].At(i), fm["parentSpanID"].At(i), i+1, wantParent[i])
		}
	}
	wantObs := []string{"server_process", "client_process", "client_nic", "server_nic", "server_process", "client_process",
		"client_nic", "gateway", "server_nic", "server_process", "client_process"}
	for i, w := range wantObs {
		if fm["observation_point"].At(i) != w {
			t.Errorf("span %d at %v, want %s", i, fm["observation_point"].At(i), w)
		}
	}
	if fm["traceID"].At(0) != "fl-0000000000000001" || fm["duration"].At(0).(float64) != 150 || fm["hop"].At(7) != "lb-1" {
		t.Errorf("trace id %v, root %v ms, span 8 hop %v", fm["traceID"].At(0), fm["duration"].At(0), fm["hop"].At(7))
	}
	if q, _ := custom["queries"].(float64); q < 2 || q > 6 {
		t.Errorf("%v ClickHouse queries for one trace", custom["queries"])
	}
	if !strings.Contains(f.Meta.ExecutedQueryString, "syscall_trace_id_request IN") {
		t.Errorf("executed SQL: %s", f.Meta.ExecutedQueryString)
	}
	share := fieldMap(t, res2verdict(t, run(`{"queryType":"trace","rowId":11,"time":`+fmt.Sprint(t0*1000)+`}`, t0-60, t0+60)))
	if share["hop"].At(0) != "gateway: lb-1" || fmt.Sprintf("%.4f", share["share"].At(0)) != "0.6673" {
		t.Errorf("verdict: %v %v", share["hop"].At(0), share["share"].At(0))
	}

	// Request 2 from its nginx span: its own 11 spans; the backend is its slowest hop.
	f, _ = check(run(`{"queryType":"trace","row_id":"101","time":`+fmt.Sprint(t0)+`}`, t0-60, t0+60), 11, "backend")
	if fieldMap(t, f)["spanID"].At(10) != "111" {
		t.Errorf("request 2 spans: %v", fieldMap(t, f)["spanID"])
	}
	// By X-Request-ID: the request a minute later that reuses the id is another trace; over a range
	// holding both, the earlier of the two (equal sizes) is shown with a warning.
	check(run(`{"queryType":"trace","trace_id":"rid-1"}`, t0-5, t0+30), 11, "lb-1")
	res := run(`{"queryType":"trace","trace_id":"rid-1"}`, t0-5, t0+120)
	f, custom = check(res, 11, "lb-1")
	if w, _ := custom["warnings"].([]any); len(w) != 1 || !strings.Contains(fmt.Sprint(w[0]), "1 other group") {
		t.Errorf("warnings %v", custom["warnings"])
	}

	// Not found, hostile and bad input.
	res = run(`{"queryType":"trace","trace_id":"x' OR 1=1 --"}`, t0-5, t0+30)
	if res.Error != nil || res.Frames[0].Rows() != 0 || len(res.Frames[0].Meta.Notices) != 1 ||
		!strings.Contains(res.Frames[0].Meta.Notices[0].Text, "no request log with trace_id") {
		t.Errorf("hostile trace id: %v", res.Error)
	}
	res = run(`{"queryType":"trace","row_id":"999999","time":`+fmt.Sprint(t0)+`}`, t0-5, t0+30)
	if res.Error != nil || res.Frames[0].Rows() != 0 {
		t.Errorf("unknown row: %v", res.Error)
	}
	for _, bad := range []string{`{"queryType":"trace"}`, `{"queryType":"trace","row_id":"-1"}`, `{"queryType":"trace","row_id":"1","trace_id":"a"}`,
		`{"queryType":"trace","row_id":"1","time":"yesterday"}`} {
		res = run(bad, t0-5, t0+30)
		if res.Error == nil || res.Status != backend.StatusBadRequest {
			t.Errorf("%s: status %v error %v", bad, res.Status, res.Error)
		}
	}
	if host.Exited() {
		t.Error("plugin process died during the test")
	}
}

func res2verdict(t *testing.T, res backend.DataResponse) *data.Frame {
	t.Helper()
	if res.Error != nil || len(res.Frames) != 2 {
		t.Fatalf("trace query: %v (%d frames)", res.Error, len(res.Frames))
	}
	return res.Frames[1]
}
