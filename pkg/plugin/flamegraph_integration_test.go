package plugin_test

// Flame graph queries through the plugin binary (started the way Grafana starts it) against the
// real local ClickHouse: known profile_samples rows in a database of their own, exact values back.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/flowlens/flowlens/pkg/converters"
	"github.com/flowlens/flowlens/pkg/plugin"
	"github.com/flowlens/flowlens/pkg/pluginhost"
)

const flameDB = "flowlens_gotest_flame"

// rows go in with insertRows (trace_integration_test.go)

func profileRow(dt int, pid, tid int, process, service, event string, value int, stack ...string) map[string]any {
	id := uint32(7) // any id that is the same for the same frames
	for _, f := range stack {
		for _, c := range f + ";" {
			id = id*31 + uint32(c)
		}
	}
	return map[string]any{
		"time": time.Unix(int64(t0+dt), 0).UTC().Format("2006-01-02 15:04:05"), "host": "h1",
		"pid": pid, "tid": tid, "process": process, "service": service, "event": event,
		"stack_id": id, "stack": stack, "value": value,
	}
}

// flamePaths reads a flame graph frame the way the panel does (depth-first rows, a row's parent
// is the last row one level up) into "root;a;b" -> "value/self" (+ " valueRight/selfRight").
func flamePaths(t *testing.T, res backend.DataResponse) map[string]string {
	t.Helper()
	if res.Error != nil {
		t.Fatalf("query error: %v", res.Error)
	}
	if len(res.Frames) != 1 {
		t.Fatalf("%d frames", len(res.Frames))
	}
	f := res.Frames[0]
	if f.Meta == nil || f.Meta.PreferredVisualization != data.VisTypeFlameGraph {
		t.Fatalf("frame meta %+v", f.Meta)
	}
	fl := map[string]*data.Field{}
	for _, x := range f.Fields {
		fl[x.Name] = x
	}
	out := map[string]string{}
	var path []string
	for i := 0; i < f.Rows(); i++ {
		level := int(fl["level"].At(i).(int64))
		path = append(path[:level], fl["label"].At(i).(string))
		v := fmt.Sprintf("%d/%d", fl["value"].At(i), fl["self"].At(i))
		if fl["valueRight"] != nil {
			v += fmt.Sprintf(" %d/%d", fl["valueRight"].At(i), fl["selfRight"].At(i))
		}
		out[strings.Join(path, ";")] = v
	}
	return out
}

func expectPaths(t *testing.T, got map[string]string, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%d nodes, want %d: %v", len(got), len(want), got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

func TestFlameGraphIntegration(t *testing.T) {
	freshSchema(t, flameDB)
	insertRows(t, flameDB, "profile_samples", []map[string]any{
		profileRow(1, 100, 101, "shape", "shape-svc", "on_cpu", 40, "main", "work_a"),
		profileRow(2, 100, 101, "shape", "shape-svc", "on_cpu", 30, "main", "work_a"),
		profileRow(2, 100, 101, "shape", "shape-svc", "on_cpu", 30, "main", "work_b"),
		profileRow(3, 100, 102, "shape", "shape-svc", "off_cpu", 4000, "reader_thread", "block_on_pipe", "read", "entry_SYSCALL_64", "schedule"),
		profileRow(4, 100, 102, "shape", "shape-svc", "off_cpu", 1000, "reader_thread", "block_on_pipe", "read", "entry_SYSCALL_64", "schedule"),
		profileRow(1, 200, 201, "other", "other-svc", "on_cpu", 50, "main", "spin"),
		profileRow(500, 100, 101, "shape", "shape-svc", "on_cpu", 999, "main", "work_a"), // after the range
		profileRow(-100, 100, 101, "shape", "shape-svc", "on_cpu", 20, "main", "work_a"), // the baseline
		profileRow(-100, 100, 101, "shape", "shape-svc", "on_cpu", 80, "main", "work_b"),
	})
	host, err := pluginhost.Start(context.Background(), buildPlugin(t), pluginhost.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	e := &env{t: t, host: host}
	pc := e.ctx("flame", map[string]any{"url": clickhouseURL(), "database": flameDB, "username": local.Reader})
	q := func(model string) backend.DataResponse { return e.query(pc, t0, t0+120, time.Second, model) }

	onCPU := map[string]string{"total": "100/0", "total;main": "100/0", "total;main;work_a": "70/70", "total;main;work_b": "30/30"}
	expectPaths(t, flamePaths(t, q(`{"queryType":"flamegraph","process":"shape"}`)), onCPU)
	expectPaths(t, flamePaths(t, q(`{"queryType":"flamegraph","service":"shape-svc","event":"on_cpu"}`)), onCPU)
	expectPaths(t, flamePaths(t, q(`{"queryType":"flamegraph","pid":100,"tid":"101"}`)), onCPU)
	expectPaths(t, flamePaths(t, q(`{"queryType":"flamegraph","pid":"100","tid":102}`)), map[string]string{"total": "0/0"})
	expectPaths(t, flamePaths(t, q(`{"queryType":"flamegraph"}`)), map[string]string{
		"total": "150/0", "total;main": "150/0", "total;main;work_a": "70/70", "total;main;work_b": "30/30", "total;main;spin": "50/50",
	})
	// off-CPU time: stored in µs, returned in ns (the panel shows time)
	expectPaths(t, flamePaths(t, q(`{"queryType":"flamegraph","pid":[100],"event":"off_cpu"}`)), map[string]string{
		"total": "5000000/0", "total;reader_thread": "5000000/0", "total;reader_thread;block_on_pipe": "5000000/0",
		"total;reader_thread;block_on_pipe;read": "5000000/0", "total;reader_thread;block_on_pipe;read;entry_SYSCALL_64": "5000000/0",
		"total;reader_thread;block_on_pipe;read;entry_SYSCALL_64;schedule": "5000000/5000000",
	})
	// diff: the baseline range on the left, the query range on the right
	expectPaths(t, flamePaths(t, q(fmt.Sprintf(`{"queryType":"flamegraph","process":"shape","baselineFrom":%d,"baselineTo":%d}`, (t0-120)*1000, (t0-61)*1000))), map[string]string{
		"total": "100/0 100/0", "total;main": "100/0 100/0", "total;main;work_a": "20/20 70/70", "total;main;work_b": "80/80 30/30",
	})
	// hostile values are data: no match, no error; bad options are the user's error
	expectPaths(t, flamePaths(t, q(`{"queryType":"flamegraph","process":"x' OR 1=1 OR '\\"}`)), map[string]string{"total": "0/0"})
	for model, want := range map[string]string{
		`{"queryType":"flamegraph","event":"cpu"}`:            "event 'cpu' is not one of on_cpu, off_cpu",
		`{"queryType":"flamegraph","pid":"1) OR (1=1"}`:       "is not a process or thread id",
		`{"queryType":"flamegraph","baselineFrom":"1","x":1}`: "needs both baselineFrom and baselineTo",
	} {
		res := q(model)
		if res.Error == nil || res.Status != backend.StatusBadRequest || !strings.Contains(res.Error.Error(), want) {
			t.Errorf("%s: status %v error %v, want 400 %q", model, res.Status, res.Error, want)
		}
	}
	if host.Exited() {
		t.Error("plugin process died during the test")
	}
}

// recordedBurn is pkg/plugin/testdata/profiles-burn.json: rows the real agent wrote while an HTTP server
// (test/e2e/profiling/burnServer.js) answered one GET /burn that spent 1.5 s of CPU in burnCpu, one GET /wait
// (0.1 s of CPU in burnCpu, then its thread blocked 0.7 s in blockThread) and three GET /fast (recorded by
// test/frontend/record-flamegraph.js): the server's profile rows and every request-log row of its port.
type recordedBurn struct {
	L7FlowLog      []map[string]any `json:"l7_flow_log"`
	ProfileSamples []map[string]any `json:"profile_samples"`
	Wait           struct {
		CPUFunction   string `json:"cpuFunction"`
		BlockFunction string `json:"blockFunction"`
		BlockMs       int64  `json:"blockMs"`
	} `json:"wait"`
}

// loadRecordedBurn puts the recorded rows in database db and starts the plugin binary on it.
func loadRecordedBurn(t *testing.T, db string) (*recordedBurn, *env, backend.PluginContext) {
	raw, err := os.ReadFile("testdata/profiles-burn.json")
	if err != nil {
		t.Fatal(err)
	}
	var rec recordedBurn
	if err := json.Unmarshal(raw, &rec); err != nil {
		t.Fatal(err)
	}
	freshSchema(t, db)
	insertRows(t, db, "l7_flow_log", rec.L7FlowLog)
	insertRows(t, db, "profile_samples", rec.ProfileSamples)
	host, err := pluginhost.Start(context.Background(), buildPlugin(t), pluginhost.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = host.Close() })
	e := &env{t: t, host: host}
	return &rec, e, e.ctx(db, map[string]any{"url": clickhouseURL(), "database": db, "username": local.Reader})
}

// TestFlameGraphOfRecordedRequest: from the request's row (read through the plugin's request-log query) to the
// flame graph of the thread that served it over the request's seconds: that request's function, burnCpu, is
// the hottest frame; the same thread after the request, and another thread of the process during it, hold none.
func TestFlameGraphOfRecordedRequest(t *testing.T) {
	rec, e, pc := loadRecordedBurn(t, "flowlens_gotest_flame_recorded")
	host := e.host

	// the request's row, as a request-log table
	startUs, err := strconv.ParseInt(fmt.Sprint(rec.L7FlowLog[0]["start_time_us"]), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	around := startUs / 1_000_000
	res := e.query(pc, around-60, around+60, time.Second, `{"queryType":"sql_log","endpoint":"/burn","observation_point":"server_process"}`)
	if res.Error != nil || len(res.Frames) != 1 || res.Frames[0].Rows() != 1 {
		t.Fatalf("the /burn row: %v %v", res.Error, res.Frames)
	}
	row := fieldMap(t, res.Frames[0])
	pid := fmt.Sprint(row["server_pid"].At(0))
	tid := fmt.Sprint(row["syscall_thread_response"].At(0))
	start := row["start_time"].At(0).(time.Time)
	end := start.Add(time.Duration(row["response_duration_us"].At(0).(int64)) * time.Microsecond)
	// the profile rows of the request's seconds (query.SpanWindow: a row is labelled with the second its drain
	// interval started in), as the row's link asks
	from, to := start.Unix()-1, end.Unix()
	t.Logf("GET /burn: pid %s thread %s, %s for %v: flame graph over [%d, %d]", pid, tid, start.UTC().Format(time.RFC3339Nano), end.Sub(start), from, to)

	// what the recorded rows hold: the thread's on-CPU samples in those seconds, and those inside burnCpu
	var want, wantBurn int64
	for _, r := range rec.ProfileSamples {
		sec, err := time.ParseInLocation(time.DateTime, r["time"].(string), time.UTC)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(r["pid"]) != pid || fmt.Sprint(r["tid"]) != tid || r["event"] != "on_cpu" || sec.Unix() < from || sec.Unix() > to {
			continue
		}
		v, _ := strconv.ParseInt(fmt.Sprint(r["value"]), 10, 64)
		want += v
		if strings.Contains(strings.Join(converters.Strings(r["stack"]), "\n"), "burnCpu") {
			wantBurn += v
		}
	}
	if want < 50 || wantBurn*10 < want*9 {
		t.Fatalf("the recording: %d samples of thread %s in the request's seconds, %d in burnCpu", want, tid, wantBurn)
	}

	flame := func(from, to int64, model string) (map[string]string, *data.Frame) {
		res := e.query(pc, from, to, time.Second, model)
		paths := flamePaths(t, res)
		return paths, res.Frames[0]
	}
	paths, f := flame(from, to, fmt.Sprintf(`{"queryType":"flamegraph","pid":%s,"tid":[%q],"event":"on_cpu"}`, pid, tid))
	fl := fieldMap(t, f)
	if got := fl["value"].At(0).(int64); got != want {
		t.Errorf("total = %d samples, the recorded rows hold %d", got, want)
	}
	// the hottest frame (largest self) is the request's function, and its subtrees hold what the rows hold
	hot, burn := 0, int64(0)
	for i := 0; i < f.Rows(); i++ {
		if fl["self"].At(i).(int64) > fl["self"].At(hot).(int64) {
			hot = i
		}
	}
	for p, v := range paths {
		parts := strings.Split(p, ";")
		if strings.Contains(parts[len(parts)-1], "burnCpu") && !strings.Contains(strings.Join(parts[:len(parts)-1], ";"), "burnCpu") {
			var n int64
			fmt.Sscanf(v, "%d/", &n)
			burn += n
		}
	}
	if label := fl["label"].At(hot).(string); !strings.Contains(label, "burnCpu") {
		t.Errorf("hottest frame %q, want burnCpu:\n%v", label, paths)
	}
	if burn != wantBurn {
		t.Errorf("burnCpu holds %d of %d samples, the rows %d", burn, want, wantBurn)
	}
	t.Logf("thread %s over the request: %d samples, burnCpu %d (%.1f%%), hottest frame %q", tid, want, burn, 100*float64(burn)/float64(want), fl["label"].At(hot))

	// the row's own link: its query, filled in as Grafana fills a data link from the row, covers the same
	// seconds whatever the panel's range (here two minutes)
	links := row["response_duration_us"].Config.Links
	if len(links) != 3 || links[0].Title != "On-CPU flame graph of the serving thread over this request" || links[1].Title != "Off-CPU flame graph of the serving thread over this request" ||
		links[2].Title != plugin.ThreadActivityTitle || links[2].URL != plugin.ProfilingPage+"?pid=${__data.fields.server_pid}&tid=${__data.fields.syscall_thread_response}&span_start_us=${__data.fields.start_time_us}&span_duration_us=${__value.raw}" {
		t.Fatalf("flame graph links of the row: %+v", links)
	}
	lq, _ := json.Marshal(links[0].Internal.Query)
	filled := strings.NewReplacer(
		"${__data.fields.server_pid}", pid, "${__data.fields.syscall_thread_response}", tid,
		"${__data.fields.start_time_us}", fmt.Sprint(start.UnixMicro()), "${__value.raw}", fmt.Sprint(row["response_duration_us"].At(0)),
	).Replace(string(lq))
	viaLink, lf := flame(around-60, around+60, filled)
	if got := fieldMap(t, lf)["value"].At(0).(int64); got != want || len(viaLink) != len(paths) {
		t.Errorf("through the row's link %s: %d samples in %d nodes, want %d in %d", filled, got, len(viaLink), want, len(paths))
	}

	// the editor's thread picker over the request, for each profile: the process's threads, busiest first, exactly
	// as the rows sum
	picker := func(params string) (int, string) {
		resp, err := host.CallResource(context.Background(), &backend.CallResourceRequest{PluginContext: pc, Path: "profile-values", Method: "GET",
			URL: fmt.Sprintf("/profile-values?from=%d&to=%d&%s", from*1000, to*1000, params)})
		if err != nil {
			t.Fatal(err)
		}
		return resp.Status, string(resp.Body)
	}
	for _, event := range []string{"on_cpu", "off_cpu"} {
		weights := map[string]int64{}
		for _, r := range rec.ProfileSamples {
			sec, _ := time.ParseInLocation(time.DateTime, r["time"].(string), time.UTC)
			if fmt.Sprint(r["pid"]) == pid && r["event"] == event && sec.Unix() >= from && sec.Unix() <= to {
				v, _ := strconv.ParseInt(fmt.Sprint(r["value"]), 10, 64)
				weights[fmt.Sprint(r["tid"])] += v
			}
		}
		status, body := picker("field=tid&event=" + event + "&pid=" + pid)
		var got struct {
			Values []struct {
				Value, Process string
				Weight         int64
			}
		}
		if err := json.Unmarshal([]byte(body), &got); status != 200 || err != nil || len(got.Values) != len(weights) || len(weights) == 0 {
			t.Fatalf("%s thread picker: %d %s, want the threads %v", event, status, body, weights)
		}
		if event == "on_cpu" && got.Values[0].Value != tid {
			t.Errorf("the busiest on-CPU thread is %s, want the serving thread %s", got.Values[0].Value, tid)
		}
		for i, v := range got.Values {
			if v.Weight != weights[v.Value] || v.Process != "node" || (i > 0 && v.Weight > got.Values[i-1].Weight) {
				t.Errorf("%s thread picker value %d: %+v, want weight %d of process node, busiest first", event, i, v, weights[v.Value])
			}
		}
		t.Logf("%s thread picker: %d threads, %v", event, len(got.Values), got.Values)
	}
	if status, body := picker("field=process&process=" + url.QueryEscape("x' OR 1=1 OR '")); status != 200 || body != "{\"values\":[]}\n" {
		t.Errorf("a hostile value is data: %d %s", status, body)
	}
	if status, body := picker("field=stack"); status != 400 || !strings.Contains(body, "field 'stack' is not one of service, process, host, pid, tid") {
		t.Errorf("field stack: %d %s", status, body)
	}
	if status, body := picker("field=pid&pid=1)%20OR%20(1=1"); status != 400 || !strings.Contains(body, "is not a process or thread id") {
		t.Errorf("a hostile pid: %d %s", status, body)
	}

	// the same thread after the request (its last second excluded), and the process's other threads during it
	after, _ := flame(to+1, to+3, fmt.Sprintf(`{"queryType":"flamegraph","pid":%s,"tid":%s,"event":"on_cpu"}`, pid, tid))
	for p := range after {
		if strings.Contains(p, "burnCpu") {
			t.Errorf("after the request: %s", p)
		}
	}
	others := map[string]bool{}
	for _, r := range rec.ProfileSamples {
		if fmt.Sprint(r["tid"]) != tid {
			others[fmt.Sprint(r["tid"])] = true
		}
	}
	if len(others) == 0 {
		t.Fatal("the recording holds no other thread of the process")
	}
	for other := range others {
		got, _ := flame(from, to, fmt.Sprintf(`{"queryType":"flamegraph","pid":%s,"tid":%s}`, pid, other))
		for p := range got {
			if strings.Contains(p, "burnCpu") {
				t.Errorf("thread %s holds %s", other, p)
			}
		}
	}
}

// flameTotals reads a flame graph frame into each label's outermost total (a function counted once per stack)
// and the root's value.
func flameTotals(t *testing.T, res backend.DataResponse) (map[string]int64, int64) {
	t.Helper()
	paths := flamePaths(t, res)
	out := map[string]int64{}
	for p, v := range paths {
		parts := strings.Split(p, ";")
		label := parts[len(parts)-1]
		if slices.Contains(parts[:len(parts)-1], label) {
			continue
		}
		var n int64
		fmt.Sscanf(v, "%d/", &n)
		out[label] += n
	}
	return out, out["total"]
}

// TestSlowestRequestsAndThreadActivity: from the server's flame graph to its slowest requests in the same range
// (the request log slowest first, typed: order_by duration, server_pid), /burn first; and from the /wait row,
// through its links, the serving thread's on-CPU graph holds its CPU (burnCpu) and its off-CPU graph its block
// (blockThread, 0.7 s of time blocked, in ns).
func TestSlowestRequestsAndThreadActivity(t *testing.T) {
	rec, e, pc := loadRecordedBurn(t, "flowlens_gotest_flame_slowest")
	type served struct {
		resource string
		us       int64
	}
	var want []served
	var pid string
	var first int64
	for _, r := range rec.L7FlowLog {
		us, _ := strconv.ParseInt(fmt.Sprint(r["response_duration_us"]), 10, 64)
		start, _ := strconv.ParseInt(fmt.Sprint(r["start_time_us"]), 10, 64)
		if first == 0 || start < first {
			first = start
		}
		if r["observation_point"] == "server_process" {
			want = append(want, served{fmt.Sprint(r["request_resource"]), us})
			pid = fmt.Sprint(r["server_pid"])
		}
	}
	slices.SortFunc(want, func(a, b served) int { return int(b.us - a.us) })
	if len(want) != 5 || want[0].resource != "/burn" {
		t.Fatalf("the recording: %v, want /burn the slowest of 5", want)
	}
	from, to := first/1_000_000-60, first/1_000_000+120
	res := e.query(pc, from, to, time.Second, fmt.Sprintf(
		`{"queryType":"sql_log","format":"table","observation_point":"server_process","order_by":"duration","limit":"20","server_pid":%q}`, pid))
	if res.Error != nil || len(res.Frames) != 1 {
		t.Fatalf("slowest requests: %v", res.Error)
	}
	f := fieldMap(t, res.Frames[0])
	var got []served
	for i := 0; i < res.Frames[0].Rows(); i++ {
		got = append(got, served{f["request_resource"].At(i).(string), f["response_duration_us"].At(i).(int64)})
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("slowest requests %v, want %v", got, want)
	}
	t.Logf("slowest requests of pid %s: %v", pid, got)
	// the client's rows of the same requests (curl's end) are not the server's requests; another pid has none
	if res := e.query(pc, from, to, time.Second, `{"queryType":"sql_log","order_by":"duration","server_pid":"1"}`); res.Error != nil || res.Frames[0].Rows() != 0 {
		t.Errorf("pid 1: %v rows %d", res.Error, res.Frames[0].Rows())
	}

	// the /wait row's links, filled in as Grafana fills them from the row
	i := slices.IndexFunc(got, func(s served) bool { return s.resource == "/wait" })
	links := f["response_duration_us"].Config.Links
	fill := func(s string) string {
		return strings.NewReplacer(
			"${__data.fields.server_pid}", fmt.Sprint(f["server_pid"].At(i)),
			"${__data.fields.syscall_thread_response}", fmt.Sprint(f["syscall_thread_response"].At(i)),
			"${__data.fields.start_time_us}", f["start_time_us"].At(i).(string),
			"${__value.raw}", fmt.Sprint(f["response_duration_us"].At(i)),
		).Replace(s)
	}
	page, err := url.Parse(fill(links[2].URL))
	if err != nil || page.Path != plugin.ProfilingPage || page.Query().Get("tid") != fmt.Sprint(f["syscall_thread_response"].At(i)) {
		t.Fatalf("the side-by-side link %q: %v", page, err)
	}
	graphs := map[string]map[string]int64{}
	totals := map[string]int64{}
	for _, l := range links[:2] {
		q, _ := json.Marshal(l.Internal.Query)
		r := e.query(pc, from, to, time.Second, fill(string(q)))
		event := l.Internal.Query.(map[string]any)["event"].(string)
		graphs[event], totals[event] = flameTotals(t, r)
		if event == "off_cpu" && r.Frames[0].Fields[1].Config.Unit != "ns" {
			t.Errorf("off-CPU unit %q, want ns (time blocked)", r.Frames[0].Fields[1].Config.Unit)
		}
	}
	label := func(event, fn string) (string, int64) {
		for l, v := range graphs[event] {
			if strings.Contains(l, fn) {
				return l, v
			}
		}
		return "", 0
	}
	// on-CPU: the request's CPU is burnCpu's, and nothing of it blocked
	cpuLabel, cpu := label("on_cpu", rec.Wait.CPUFunction)
	if cpu == 0 || cpu*10 < totals["on_cpu"]*8 {
		t.Errorf("on-CPU of the /wait thread: %s %d of %d samples, want at least 80%%:\n%v", cpuLabel, cpu, totals["on_cpu"], graphs["on_cpu"])
	}
	if l, v := label("on_cpu", rec.Wait.BlockFunction); v*10 > totals["on_cpu"] {
		t.Errorf("on-CPU: %s holds %d samples: a block is not CPU", l, v)
	}
	// off-CPU: blockThread's 0.7 s of time blocked (Atomics.wait's timeout, and at most 100 ms more to wake up)
	blockLabel, blocked := label("off_cpu", rec.Wait.BlockFunction)
	if blocked < rec.Wait.BlockMs*1_000_000 || blocked > (rec.Wait.BlockMs+100)*1_000_000 {
		t.Errorf("off-CPU of the /wait thread: %s blocked %d ns, want %d ms to %d ms:\n%v", blockLabel, blocked, rec.Wait.BlockMs, rec.Wait.BlockMs+100, graphs["off_cpu"])
	}
	if l, v := label("off_cpu", rec.Wait.CPUFunction); v != 0 {
		t.Errorf("off-CPU holds %s (%d ns): burnCpu does not block", l, v)
	}
	t.Logf("/wait's thread: on-CPU %d samples, %s %d; off-CPU %v blocked, %s %v", totals["on_cpu"], cpuLabel, cpu,
		time.Duration(totals["off_cpu"]), blockLabel, time.Duration(blocked))
}
