package plugin_test

// Request logs as Grafana log lines, their trace links and the trace search, through the plugin
// binary over gRPC against the real ClickHouse, on the request paths of trace_integration_test.go.

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

const logsDB = "flowlens_gotest_tracelogs"

// interpolate does what Grafana does with an internal data link's query: ${__value.raw} is the
// clicked field's value, ${__data.fields.<name>} another field's display text on the same row.
func interpolate(t *testing.T, f *data.Frame, link data.DataLink, field string, row int) string {
	t.Helper()
	raw, err := json.Marshal(link.Internal.Query)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.ReplaceAll(string(raw), "${__value.raw}", fmt.Sprint(fieldMap(t, f)[field].At(row)))
	for _, fl := range f.Fields {
		if v, ok := fl.At(row).(string); ok {
			s = strings.ReplaceAll(s, "${__data.fields."+fl.Name+"}", v)
		}
	}
	if strings.Contains(s, "${") {
		t.Fatalf("link query %s has a variable the frame cannot fill", s)
	}
	return s
}

// sameHostCheckout is one request through processes on one host (pids known at both ends, no
// trace id or X-Request-ID): loadgen → gateway → frontend → backend (twice) → redis, at server
// process (each call once) and the gateway's call at its client process too; failed makes the
// second backend call a 500.
func sameHostCheckout(base uint64, at int64, failed bool) []map[string]any {
	row := func(id uint64, obs string, start, end int64, cpid, spid int, csvc, ssvc string) map[string]any {
		st := uint64(at + start)
		return map[string]any{
			"time": time.UnixMicro(int64(st)).UTC().Format("2006-01-02 15:04:05"), "_id": base + id,
			"start_time_us": st, "end_time_us": uint64(at + end), "response_duration_us": end - start,
			"host": "vm", "observation_point": obs, "l7_protocol": "HTTP", "request_type": "GET",
			"request_resource": "/" + ssvc, "endpoint": "/" + ssvc, "response_code": 200, "response_status": "ok",
			"client_pid": cpid, "server_pid": spid, "client_service": csvc, "server_service": ssvc,
			"client_process": csvc, "server_process": ssvc,
		}
	}
	rows := []map[string]any{
		row(1, "server_process", 0, 50_000, 5, 10, "loadgen", "gateway"),
		row(2, "client_process", 500, 49_500, 10, 20, "gateway", "frontend"),
		row(3, "server_process", 1000, 49_000, 10, 20, "gateway", "frontend"),
		row(4, "server_process", 5000, 15_000, 20, 30, "frontend", "backend"),
		row(5, "server_process", 20_000, 30_000, 20, 30, "frontend", "backend"),
		row(6, "server_process", 6000, 7000, 30, 40, "backend", "redis"),
	}
	if failed {
		rows[4]["response_code"], rows[4]["response_status"] = 500, "server_error"
	}
	return rows
}

func TestTraceLogsIntegration(t *testing.T) {
	freshSchema(t, logsDB)
	at := int64(t0) * 1_000_000
	rows := append(tracePath(0, at, "rid-1", 100_000), tracePath(100, at+500, "rid-2", 0)...)
	for i := uint64(0); i < 40; i++ {
		rows = append(rows, tracePath(1000+i*100, at+int64(i)*20_000, fmt.Sprintf("bg-%d", i), 0)...)
	}
	rows = append(rows, tracePath(200, at+60_000_000, "rid-1", 0)...) // the id reused a minute later
	failed := tracePath(5000, at+2_000_000, "err-1", 0)
	for _, r := range failed {
		r["response_code"], r["response_status"], r["request_resource"] = 503, "server_error", "/checkout?id=\\'x"
	}
	rows = append(rows, failed...)
	// One host, no ids (the demo's shape): three checkouts 100 ms apart, 200 s later.
	for i := int64(0); i < 3; i++ {
		rows = append(rows, sameHostCheckout(9000+uint64(i)*10, at+200_000_000+i*100_000, i == 2)...)
	}
	insertRows(t, logsDB, "l7_flow_log", rows)

	host, err := pluginhost.Start(context.Background(), buildPlugin(t), pluginhost.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	e := &env{t: t, host: host}
	pc := e.ctx("tracelogs-uid", map[string]any{"url": clickhouseURL(), "database": logsDB, "username": local.Reader})
	run := func(model string, from, to int64) backend.DataResponse {
		t.Helper()
		res := e.query(pc, from, to, time.Second, model)
		if res.Error != nil {
			t.Fatalf("%s: %v", model, res.Error)
		}
		return res
	}

	t.Run("logs frame", func(t *testing.T) {
		res := run(`{"queryType":"sql_log","format":"logs","request_id":"rid-2","observation_point":"client_process","l7_protocol":"Redis"}`, t0-5, t0+30)
		f := res.Frames[0]
		if f.Meta.Type != data.FrameTypeLogLines || f.Meta.TypeVersion != (data.FrameTypeVersion{0, 0}) || f.Meta.PreferredVisualization != data.VisTypeLogs {
			t.Fatalf("meta %+v", f.Meta)
		}
		var names []string
		for _, fl := range f.Fields {
			names = append(names, fl.Name)
		}
		if got := strings.Join(names, ","); got != "timestamp,body,severity,id,labels,response_duration_us,request_resource,request_domain,"+
			"response_exception,client_process,server_process,client_ip,client_port,server_ip,server_port,request_length,response_length,"+
			"trace_id,span_id,parent_span_id,x_request_id,_id,start_time_us" {
			t.Errorf("fields %s", got)
		}
		if f.Rows() != 1 {
			t.Fatalf("%d rows, want the redis call of rid-2", f.Rows())
		}
		fm := fieldMap(t, f)
		if ts := fm["timestamp"].At(0).(time.Time); ts.UnixMicro() != at+500+10_000 {
			t.Errorf("timestamp %v (%d µs)", ts, ts.UnixMicro())
		}
		if b := fm["body"].At(0); b != "Redis GET GET cart:7 -> 200 ok in 2 ms (backend -> redis at client_process)" {
			t.Errorf("body %q", b)
		}
		if fm["severity"].At(0) != "info" || fm["id"].At(0) != "111" || fm["_id"].At(0) != "111" || fm["start_time_us"].At(0) != fmt.Sprint(at+10_500) {
			t.Errorf("severity %v id %v _id %v start %v", fm["severity"].At(0), fm["id"].At(0), fm["_id"].At(0), fm["start_time_us"].At(0))
		}
		if l := string(fm["labels"].At(0).(json.RawMessage)); l != `{"client_service":"backend","endpoint":"GET","host":"be","l7_protocol":"Redis",`+
			`"observation_point":"client_process","request_type":"GET","response_code":"200","response_status":"ok","service":"redis"}` {
			t.Errorf("labels %s", l)
		}
		// Over a long range the newest page comes from the last minute alone (11 rows of the reused rid-1).
		res = run(`{"queryType":"sql_log","format":"logs","limit":11}`, t0-3000, t0+65)
		if f := res.Frames[0]; f.Rows() != 11 || fieldMap(t, f)["id"].At(0) != "211" || fieldMap(t, f)["id"].At(10) != "201" ||
			!strings.Contains(f.Meta.ExecutedQueryString, fmt.Sprintf("time >= toDateTime(%d) AND time <= toDateTime(%d)", t0+5, t0+65)) {
			t.Errorf("newest page: %d rows, SQL %s", f.Rows(), f.Meta.ExecutedQueryString)
		}
		res = run(`{"queryType":"sql_log","format":"logs","limit":12}`, t0-3000, t0+65)
		if f := res.Frames[0]; f.Rows() != 12 || fieldMap(t, f)["id"].At(11) != "5011" ||
			!strings.Contains(f.Meta.ExecutedQueryString, fmt.Sprintf("time >= toDateTime(%d) AND time <= toDateTime(%d)", t0+65-900, t0+65)) {
			t.Errorf("page of 12: %d rows, SQL %s", f.Rows(), f.Meta.ExecutedQueryString)
		}
		// Newest first, and a failed request is an error line.
		res = run(`{"queryType":"sql_log","format":"logs","status":"server_error","observation_point":"server_process"}`, t0-5, t0+30)
		fm = fieldMap(t, res.Frames[0])
		if res.Frames[0].Rows() != 3 || fm["severity"].At(0) != "error" || fm["id"].At(0) != "5010" || fm["id"].At(2) != "5001" ||
			!strings.HasPrefix(fm["body"].At(0).(string), `HTTP GET /checkout?id=\'x -> 503 server_error in `) {
			t.Errorf("error lines: %d rows, %v %v %v %q", res.Frames[0].Rows(), fm["severity"].At(0), fm["id"].At(0), fm["id"].At(2), fm["body"].At(0))
		}
	})

	t.Run("filters", func(t *testing.T) {
		count := func(model string, want int) {
			t.Helper()
			if n := run(model, t0-5, t0+30).Frames[0].Rows(); n != want {
				t.Errorf("%s: %d rows, want %d", model, n, want)
			}
		}
		count(`{"queryType":"sql_log"}`, 43*11)
		count(`{"queryType":"sql_log","response_code":["503"]}`, 11)
		count(`{"queryType":"sql_log","response_code":"200","client_service":"backend"}`, 42)
		count(`{"queryType":"sql_log","request_type":"GET","l7_protocol":"Redis"}`, 43)
		count(`{"queryType":"sql_log","trace_id":"rid-1"}`, 11)                                          // trace_id matches x_request_id too
		count(`{"queryType":"sql_log","search":"CART:7"}`, 42)                                           // case-insensitive substring
		count(`{"queryType":"sql_log","search":"id=\\'x"}`, 11)                                          // a quote and backslash are data
		count(`{"queryType":"sql_log","min_duration_ms":"100","observation_point":"server_process"}`, 2) // rid-1's gateway delay
		count(`{"queryType":"sql_log","min_duration_ms":1.5,"max_duration_ms":"2","l7_protocol":"Redis"}`, 43)
		count(`{"queryType":"sql_log","max_duration_ms":1.499}`, 0)
		for _, bad := range []string{`{"queryType":"sql_log","response_code":"2xx"}`, `{"queryType":"sql_log","min_duration_ms":"-1"}`,
			`{"queryType":"sql_log","min_duration_ms":5,"max_duration_ms":1}`, `{"queryType":"sql_log","format":"csv"}`,
			`{"queryType":"red","response_code":"500"}`} {
			if res := e.query(pc, t0-5, t0+30, time.Second, bad); res.Error == nil || res.Status != backend.StatusBadRequest {
				t.Errorf("%s: status %v, error %v", bad, res.Status, res.Error)
			}
		}
	})

	t.Run("links open the trace", func(t *testing.T) {
		for _, format := range []string{"logs", "table"} {
			res := run(`{"queryType":"sql_log","format":"`+format+`","request_id":"rid-1","l7_protocol":"Redis"}`, t0-5, t0+30)
			f := res.Frames[0]
			if f.Rows() != 1 {
				t.Fatalf("%s: %d rows", format, f.Rows())
			}
			for _, c := range []struct{ field, query string }{
				{"_id", `{"queryType":"trace","refId":"A","row_id":"11","time":"` + fmt.Sprint(at+100_000+10_000) + `"}`},
				{"x_request_id", `{"queryType":"trace","refId":"A","request_id":"rid-1"}`},
				{"trace_id", `{"queryType":"trace","refId":"A","trace_id":""}`},
			} {
				cfg := fieldMap(t, f)[c.field].Config
				if cfg == nil || len(cfg.Links) != 1 || cfg.Links[0].Internal == nil {
					t.Fatalf("%s %s: links %+v", format, c.field, cfg)
				}
				l := cfg.Links[0]
				if l.Internal.DatasourceUID != "tracelogs-uid" || l.Internal.DatasourceName != "FlowLens" || l.Title == "" {
					t.Errorf("%s %s: link %+v", format, c.field, l)
				}
				q := interpolate(t, f, l, c.field, 0)
				if q != c.query {
					t.Errorf("%s %s: link query %s, want %s", format, c.field, q, c.query)
				}
				if c.field == "trace_id" {
					continue // no trace header in these requests: the link has nothing to open
				}
				// What Grafana runs on a click: the link's query over the panel's range.
				tr := run(q, t0-5, t0+30)
				if tf := tr.Frames[0]; tf.Rows() != 11 || tf.Meta.PreferredVisualization != data.VisTypeTrace || fieldMap(t, tf)["spanID"].At(10) != "11" {
					t.Errorf("%s %s: trace of %d spans, visualisation %q", format, c.field, tf.Rows(), tf.Meta.PreferredVisualization)
				}
			}
		}
	})

	t.Run("trace search on one host: roots by the walk", func(t *testing.T) {
		// Every request listed is a root (the gateway's); the backend's calls lead to theirs.
		from, to := int64(t0+195), int64(t0+230)
		res := run(`{"queryType":"trace_search"}`, from, to)
		fm := fieldMap(t, res.Frames[0])
		if got := res.Frames[0].Rows(); got != 3 {
			t.Fatalf("%d traces, want 3 (one per checkout): %v", got, fm["_id"])
		}
		for i, want := range []string{"9021", "9011", "9001"} {
			if fm["_id"].At(i) != want || fm["service"].At(i) != "gateway" || fm["client_service"].At(i) != "loadgen" ||
				fm["calls"].At(i).(int64) != 5 || fm["matched"].At(i).(int64) != 5 || fm["duration_us"].At(i).(int64) != 50_000 {
				t.Errorf("trace %d: _id %v service %v calls %v matched %v duration %v", i, fm["_id"].At(i), fm["service"].At(i),
					fm["calls"].At(i), fm["matched"].At(i), fm["duration_us"].At(i))
			}
		}
		if fm["error_calls"].At(0).(int64) != 1 || fm["error_calls"].At(1).(int64) != 0 || fm["response_status"].At(0) != "ok" {
			t.Errorf("failed calls: %v %v (entry %v)", fm["error_calls"].At(0), fm["error_calls"].At(1), fm["response_status"].At(0))
		}
		// Filtered on a dependency: the traces holding a failed backend call, listed by their root.
		res = run(`{"queryType":"trace_search","service":"backend","status":"server_error"}`, from, to)
		fm = fieldMap(t, res.Frames[0])
		if res.Frames[0].Rows() != 1 || fm["_id"].At(0) != "9021" || fm["matched"].At(0).(int64) != 1 || fm["calls"].At(0).(int64) != 5 {
			t.Errorf("traces with a failed backend call: %d rows, %v matched %v calls %v", res.Frames[0].Rows(), fm["_id"].At(0), fm["matched"].At(0), fm["calls"].At(0))
		}
		sql := res.Frames[0].Meta.ExecutedQueryString
		if !strings.Contains(sql, "(host, server_pid) IN (('vm', 20))") || !strings.Contains(sql, "(host, client_pid) IN (") {
			t.Errorf("the walk's statements are not in the executed SQL:\n%s", sql)
		}
	})

	t.Run("trace search", func(t *testing.T) {
		res := run(`{"queryType":"trace_search","limit":5}`, t0-5, t0+30)
		f := res.Frames[0]
		fm := fieldMap(t, f)
		// The newest five: err-1 (2 s in), then bg-39..bg-36 (20 ms apart).
		wantIDs := []string{"5001", "4901", "4801", "4701", "4601"}
		if f.Rows() != 5 || len(f.Meta.Notices) != 1 {
			t.Fatalf("%d traces, notices %v", f.Rows(), f.Meta.Notices)
		}
		for i, w := range wantIDs {
			if fm["_id"].At(i) != w {
				t.Errorf("trace %d: _id %v, want %s", i, fm["_id"].At(i), w)
			}
		}
		if fm["x_request_id"].At(1) != "bg-39" || fm["calls"].At(1).(int64) != 3 || fm["matched"].At(1).(int64) != 3 || fm["service"].At(1) != "nginx" || fm["endpoint"].At(1) != "/checkout" ||
			fm["duration_us"].At(1).(int64) != 50_000 || fm["start_time"].At(1).(time.Time).UnixMicro() != at+39*20_000 || fm["time"].At(1).(time.Time).Unix() != t0 ||
			fm["start_time_us"].At(1) != fmt.Sprint(at+39*20_000) || fm["error_calls"].At(1).(int64) != 0 || fm["response_status"].At(1) != "ok" {
			t.Errorf("bg-39: %v %v %v %v %v %v %v", fm["x_request_id"].At(1), fm["calls"].At(1), fm["service"].At(1), fm["duration_us"].At(1),
				fm["start_time"].At(1), fm["error_calls"].At(1), fm["response_status"].At(1))
		}
		if fm["x_request_id"].At(0) != "err-1" || fm["error_calls"].At(0).(int64) != 3 || fm["response_status"].At(0) != "server_error" || fm["response_code"].At(0).(int64) != 503 {
			t.Errorf("err-1: %v %v %v", fm["x_request_id"].At(0), fm["error_calls"].At(0), fm["response_status"].At(0))
		}
		// Slow traces only: rid-1 (its gateway holds it 100 ms), two of its server-side requests that slow
		// (the hosts differ: the X-Request-ID groups them; the backend's, 40 ms, is not found by the walk).
		res = run(`{"queryType":"trace_search","min_duration_ms":100}`, t0-5, t0+30)
		fm = fieldMap(t, res.Frames[0])
		if res.Frames[0].Rows() != 1 || fm["_id"].At(0) != "1" || fm["x_request_id"].At(0) != "rid-1" || fm["matched"].At(0).(int64) != 2 ||
			fm["calls"].At(0).(int64) != 2 || fm["duration_us"].At(0).(int64) != 150_000 || fm["start_time"].At(0).(time.Time).UnixMicro() != at {
			t.Errorf("slow traces: %d rows, %v %v %v %v", res.Frames[0].Rows(), fm["_id"].At(0), fm["matched"].At(0), fm["duration_us"].At(0), fm["start_time"].At(0))
		}
		// By request id, service and endpoint; the entry request's link opens the whole trace.
		res = run(`{"queryType":"trace_search","request_id":"rid-2","service":"backend","endpoint":"/checkout","status":"ok"}`, t0-5, t0+30)
		f = res.Frames[0]
		fm = fieldMap(t, f)
		if f.Rows() != 1 || fm["_id"].At(0) != "110" || fm["service"].At(0) != "backend" || fm["client_service"].At(0) != "frontend" || fm["matched"].At(0).(int64) != 1 {
			t.Fatalf("rid-2 at backend: %d rows, %v %v", f.Rows(), fm["_id"].At(0), fm["service"].At(0))
		}
		tr := run(interpolate(t, f, fm["_id"].Config.Links[0], "_id", 0), t0-5, t0+30)
		if tr.Frames[0].Rows() != 11 || fieldMap(t, tr.Frames[0])["spanID"].At(0) != "101" {
			t.Errorf("trace from the search row: %d spans", tr.Frames[0].Rows())
		}
		// At the client NICs: rid-2's two NIC-captured calls, one trace; the walk finds its root, the
		// gateway's request (the NIC row's client pid is the gateway's, whose request holds it).
		res = run(`{"queryType":"trace_search","trace_id":"rid-2","observation_point":"client_nic"}`, t0-5, t0+30)
		if fm = fieldMap(t, res.Frames[0]); res.Frames[0].Rows() != 1 || fm["matched"].At(0).(int64) != 2 || fm["_id"].At(0) != "101" {
			t.Errorf("client NICs: %d rows, %v matched, entry %v", res.Frames[0].Rows(), fm["matched"].At(0), fm["_id"].At(0))
		}
		// Every point at once would list each call up to four times: refused, saying why.
		if res := e.query(pc, t0-5, t0+30, time.Second, `{"queryType":"trace_search","observation_point":"all"}`); res.Error == nil ||
			!strings.Contains(res.Error.Error(), "one observation point") {
			t.Errorf("observation_point all: %v", res.Error)
		}
		// Newest first over a long range: the last minute holds one trace (the reused rid-1: 3 requests),
		// less than a page (10 matching requests per trace asked for), so the last 15 minutes are read.
		for _, c := range []struct {
			limit int
			ids   string
			from  int64
		}{{1, "201", t0 + 65 - 900}, {2, "201,5001", t0 + 65 - 900}, {3, "201,5001,4901", t0 + 65 - 900}} {
			res = run(fmt.Sprintf(`{"queryType":"trace_search","limit":%d}`, c.limit), t0-1000, t0+65)
			fm = fieldMap(t, res.Frames[0])
			var ids []string
			for i := 0; i < res.Frames[0].Rows(); i++ {
				ids = append(ids, fm["_id"].At(i).(string))
			}
			if strings.Join(ids, ",") != c.ids || fm["x_request_id"].At(0) != "rid-1" || fm["calls"].At(0).(int64) != 3 ||
				!strings.Contains(res.Frames[0].Meta.ExecutedQueryString, fmt.Sprintf("time >= toDateTime(%d) AND time <= toDateTime(%d)", c.from, t0+65)) {
				t.Errorf("limit %d: traces %v (want %s), %v calls; SQL %s", c.limit, ids, c.ids, fm["calls"].At(0), res.Frames[0].Meta.ExecutedQueryString)
			}
		}
		// On request, the first traces are assembled for their verdict: rid-1 waits on its load balancer.
		res = run(`{"queryType":"trace_search","request_id":"rid-1","verdicts":"1"}`, t0-5, t0+30)
		fm = fieldMap(t, res.Frames[0])
		if sh, _ := fm["culprit_share"].At(0).(*float64); res.Frames[0].Rows() != 1 || sh == nil || fmt.Sprintf("%.4f", *sh) != "0.6673" ||
			*fm["culprit"].At(0).(*string) != "gateway: lb-1" || !strings.Contains(*fm["verdict"].At(0).(*string), "lb-1") {
			t.Errorf("verdict of rid-1: %d rows, %v %v", res.Frames[0].Rows(), fm["culprit"].At(0), sh)
		}
		res = run(`{"queryType":"trace_search","limit":2,"verdicts":1}`, t0-5, t0+30)
		if fm = fieldMap(t, res.Frames[0]); fm["culprit"].At(0).(*string) == nil || fm["culprit"].At(1).(*string) != nil {
			t.Errorf("verdicts 1 of 2: %v %v", fm["culprit"].At(0), fm["culprit"].At(1))
		}
		if res := e.query(pc, t0-5, t0+30, time.Second, `{"queryType":"trace_search","service":"x' OR 1=1 --"}`); res.Error != nil || res.Frames[0].Rows() != 0 {
			t.Errorf("hostile service: %v", res.Error)
		}
	})
	if host.Exited() {
		t.Error("plugin process died during the test")
	}
}
