package plugin_test

// The datasource's guard rails: every query type with hostile values, a ten-year range, huge
// limits and a readonly=1 user. Each answer is bounded or a clear error, and no query reaches
// ClickHouse without a time limit: checked on every request a recording server receives, and
// against a private real ClickHouse (pkg/clickhouse/chtest) with readonly=2 and readonly=1 users.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/flowlens/flowlens/pkg/clickhouse/chtest"
	"github.com/flowlens/flowlens/pkg/plugin"
)

// guardT0 is the start of the hour of rows the real-server tests load.
const guardT0 = 1700000000

var hostileStrings = []string{
	`'`, `\`, `\'`, "\x00", "a\x00b", `'; DROP TABLE flowlens.l7_flow_log; --`, `\'); DROP DATABASE flowlens; --`,
	"`flowlens`", "サービス 🙂 \u202e", "\xff\xfe", "%27%20OR%201=1", "${jndi:ldap://x}", "\r\n\t", strings.Repeat("a", 1<<20),
}

// hostileNumbers are JSON values for numeric fields.
var hostileNumbers = []string{
	`-1`, `0`, `1e308`, `-1e308`, `99999999999999999999999`, `"NaN"`, `"-Infinity"`, `"1e30"`, `null`, `[]`, `{}`, `true`, `"'; DROP TABLE x"`, `1.5`,
}

// fields are each query type's options: string fields and numeric ones.
var fields = map[string]struct{ strs, nums []string }{
	"red":        {[]string{"service", "client_service", "l7_protocol", "observation_point", "endpoint", "metric", "status"}, nil},
	"map":        {[]string{"service", "client_service", "l7_protocol", "observation_point", "endpoint"}, nil},
	"sql_log":    {[]string{"service", "client_service", "l7_protocol", "observation_point", "endpoint", "status"}, []string{"limit"}},
	"trace":      {[]string{"trace_id"}, []string{"row_id", "time"}},
	"flamegraph": {[]string{"event", "process", "service", "host", "pid"}, []string{"pid", "tid", "maxNodes", "baselineFrom", "baselineTo"}},
	// the network types: one field of each kind of filter (the ends' names, addresses and ports, the host, the
	// enumerations) through their shared renderers, every numeric option
	"flow_log":    {[]string{"service", "client_process", "server_ip", "host", "close_type", "rst_sender"}, []string{"server_port", "client_port", "min_retrans", "min_rtt_ms", "conn_failed", "limit"}},
	"net_metrics": {[]string{"client_service", "observation_point", "metric"}, []string{"server_port"}},
	"netprofile":  {[]string{"client_ip", "host"}, []string{"client_port", "server_port"}},
}

// hostileQueries is every query type with each hostile value in each field (alone, and inside a
// multi-value array for string fields).
func hostileQueries() []string {
	var out []string
	for qt, f := range fields {
		base := map[string]any{"queryType": qt}
		if qt == "trace" {
			base["trace_id"] = "t-1"
		}
		if qt == "netprofile" {
			base["client_ip"], base["client_port"], base["server_ip"], base["server_port"] = "10.0.0.1", 40000, "10.0.0.2", 80
		}
		add := func(field string, v json.RawMessage) {
			m := map[string]any{}
			for k, x := range base {
				m[k] = x
			}
			m[field] = v
			j, _ := json.Marshal(m)
			out = append(out, string(j))
		}
		for _, field := range f.strs {
			// the most values of the longest length a filter takes: 200 KiB of SQL from one filter
			many := make([]string, 200)
			for i := range many {
				many[i] = fmt.Sprintf("%04d%s", i, strings.Repeat("'", 1020))
			}
			arr, _ := json.Marshal(many)
			add(field, arr)
			for _, s := range hostileStrings {
				j, _ := json.Marshal(s)
				add(field, j)
				arr, _ := json.Marshal([]string{"ok", s})
				add(field, arr)
			}
		}
		for _, field := range f.nums {
			for _, n := range hostileNumbers {
				add(field, json.RawMessage(n))
			}
		}
		j, _ := json.Marshal(base)
		out = append(out, string(j))
	}
	return out
}

func newDatasource(t *testing.T, jsonData map[string]any, password string) *plugin.Datasource {
	t.Helper()
	j, _ := json.Marshal(jsonData)
	inst, err := plugin.NewDatasource(context.Background(), backend.DataSourceInstanceSettings{
		JSONData: j, DecryptedSecureJSONData: map[string]string{"password": password},
	})
	if err != nil {
		t.Fatal(err)
	}
	return inst.(*plugin.Datasource)
}

func runQuery(t *testing.T, d *plugin.Datasource, model string, from, to time.Time) backend.DataResponse {
	t.Helper()
	var m map[string]any
	_ = json.Unmarshal([]byte(model), &m)
	qt, _ := m["queryType"].(string)
	resp, err := d.QueryData(context.Background(), &backend.QueryDataRequest{Queries: []backend.DataQuery{{
		RefID: "A", QueryType: qt, JSON: json.RawMessage(model), Interval: 10 * time.Second, MaxDataPoints: 1000,
		TimeRange: backend.TimeRange{From: from, To: to},
	}}})
	if err != nil {
		t.Fatalf("QueryData: %v", err)
	}
	return resp.Responses["A"]
}

// checkBounded fails unless r is frames or a short error (a 1 MB value is never echoed back).
func checkBounded(t *testing.T, model string, r backend.DataResponse) {
	t.Helper()
	if r.Error != nil {
		if msg := r.Error.Error(); msg == "" || len(msg) > 2000 {
			t.Errorf("%.200s: error of %d bytes: %.300s", model, len(msg), msg)
		}
		return
	}
	if len(r.Frames) == 0 {
		t.Errorf("%.200s: neither frames nor an error", model)
	}
}

// recorder is a fake ClickHouse that records each request and answers an empty result; with
// readonly1 it refuses settings the way a readonly=1 profile does.
type recorder struct {
	mu        sync.Mutex
	requests  []*http.Request
	bodies    []string
	readonly1 bool
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rec.mu.Lock()
	rec.requests, rec.bodies = append(rec.requests, r), append(rec.bodies, string(b))
	rec.mu.Unlock()
	if rec.readonly1 && len(r.URL.Query()) > 1 {
		w.WriteHeader(500)
		io.WriteString(w, "Code: 164, e.displayText() = DB::Exception: Cannot override setting (readonly) in readonly mode")
		return
	}
	io.WriteString(w, `{"meta":[],"data":[],"rows":0}`)
}

var limitClause = regexp.MustCompile(`\sLIMIT \d+\nFORMAT JSONCompact$`)

func TestEveryQueryCarriesItsBounds(t *testing.T) {
	for _, readonly1 := range []bool{false, true} {
		rec := &recorder{readonly1: readonly1}
		srv := httptest.NewServer(rec)
		d := newDatasource(t, map[string]any{"url": srv.URL, "queryTimeout": 7, "maxMemoryUsage": 1000000, "maxRowsToRead": 2000000, "maxResultRows": 3000}, "pw")
		from := time.Unix(guardT0, 0)
		queries := hostileQueries()
		for _, q := range queries {
			checkBounded(t, q, runQuery(t, d, q, from, from.Add(time.Hour)))
		}
		srv.Close()
		want := []string{"max_execution_time=7", "timeout_overflow_mode=throw", "max_memory_usage=1000000", "max_rows_to_read=2000000",
			"read_overflow_mode=throw", "max_result_rows=3000", "result_overflow_mode=throw"}
		refused := 0
		for i, r := range rec.requests {
			raw := r.URL.RawQuery
			if !regexp.MustCompile(`^query_id=flowlens-[0-9a-f]{32}(&|$)`).MatchString(raw) {
				t.Fatalf("request %d has no query_id: %s", i, raw)
			}
			if !limitClause.MatchString(rec.bodies[i]) {
				t.Errorf("request %d: no LIMIT at the end of %q", i, rec.bodies[i])
			}
			if readonly1 && len(r.URL.Query()) > 1 {
				refused++
				continue
			}
			for _, s := range want {
				if readonly1 {
					break // after the refusal, only the query id is sent
				}
				if !strings.Contains("&"+raw+"&", "&"+s+"&") {
					t.Fatalf("request %d lacks %s: %s", i, s, raw)
				}
			}
		}
		if len(rec.requests) < len(queries)/2 {
			t.Errorf("only %d requests for %d queries: the matrix does not reach ClickHouse", len(rec.requests), len(queries))
		}
		if readonly1 && refused != 2 {
			t.Errorf("readonly=1: %d refused requests, want 2 (readonly=2, then the limits), then none", refused)
		}
		t.Logf("readonly1=%v: %d queries, %d requests", readonly1, len(queries), len(rec.requests))
	}
}

func TestTenYearRangeAndHugeLimits(t *testing.T) {
	rec := &recorder{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	d := newDatasource(t, map[string]any{"url": srv.URL, "maxSpanDays": map[string]int{"red": 2}}, "pw")
	to := time.Unix(guardT0, 0)
	from := to.AddDate(-10, 0, 0)
	for qt, days := range map[string]int{"red": 2, "map": 31, "sql_log": 7, "trace": 7, "flamegraph": 7} {
		model := fmt.Sprintf(`{"queryType":%q,"trace_id":"t-1"}`, qt)
		r := runQuery(t, d, model, from, to)
		want := fmt.Sprintf("may cover at most %d days (datasource setting maxSpanDays.%s): narrow the time range", days, qt)
		if r.Error == nil || !strings.Contains(r.Error.Error(), want) || !regexp.MustCompile(`covers 365\d\.\d days`).MatchString(r.Error.Error()) {
			t.Errorf("%s over ten years: %v", qt, r.Error)
		}
		// the bound itself is allowed (the recording server's empty answer fails trace decoding: no span error)
		if r := runQuery(t, d, model, to.Add(-time.Duration(days)*24*time.Hour), to); r.Error != nil && strings.Contains(r.Error.Error(), "maxSpanDays") {
			t.Errorf("%s over %d days: %v", qt, days, r.Error)
		}
	}
	r := runQuery(t, d, `{"queryType":"flamegraph","baselineFrom":0,"baselineTo":1700000000000}`, to.Add(-time.Hour), to)
	if r.Error == nil || !strings.Contains(r.Error.Error(), "baseline: the time range covers") {
		t.Errorf("ten-year baseline: %v", r.Error)
	}
	// a trace seeded by a row and its time does not search the panel's range
	if r := runQuery(t, d, `{"queryType":"trace","row_id":5,"time":1700000000}`, from, to); r.Error != nil && strings.Contains(r.Error.Error(), "maxSpanDays") {
		t.Errorf("trace of a row over a ten-year panel: %v", r.Error)
	}
	if r := runQuery(t, d, `{"queryType":"trace","trace_id":"t","time":1e300}`, to.Add(-time.Hour), to); r.Error == nil || !strings.Contains(r.Error.Error(), "before 2106") {
		t.Errorf("time 1e300: %v", r.Error)
	}
	rec.bodies = nil
	r = runQuery(t, d, `{"queryType":"sql_log","limit":1e30}`, to.Add(-time.Hour), to)
	if r.Error != nil || len(r.Frames) != 1 || !strings.HasSuffix(rec.bodies[0], "\nLIMIT 10000\nFORMAT JSONCompact") {
		t.Fatalf("limit 1e30: %v %q", r.Error, rec.bodies)
	}
	if n := noticeText(r.Frames[0]); !strings.Contains(n, "limit 9223372036854775807 is above the maximum 10000: at most 10000 requests are shown") {
		t.Errorf("limit 1e30 notice: %q", n)
	}
	if r := runQuery(t, d, `{"queryType":"flamegraph","maxNodes":1000000000}`, to.Add(-time.Hour), to); r.Error == nil || !strings.Contains(r.Error.Error(), "maxNodes 1000000000 is outside 1..200000") {
		t.Errorf("maxNodes 1e9: %v", r.Error)
	}
}

func noticeText(f *data.Frame) string {
	var out []string
	if f.Meta != nil {
		for _, n := range f.Meta.Notices {
			out = append(out, n.Text)
		}
	}
	return strings.Join(out, " | ")
}

// loadGuardData fills database flowlens of the private server: 150 services in app_metrics (one
// row per service per minute of the hour), 2000 request logs and 100 profile samples.
func loadGuardData(t *testing.T, srv *chtest.Server) {
	applySchema(t, func(sql string) string { return srv.MustExec(t, chtest.Writer, sql) }, "flowlens")
	srv.MustExec(t, chtest.Writer, fmt.Sprintf(`INSERT INTO flowlens.app_metrics (time, host, observation_point, client_service, server_service, l7_protocol, endpoint, request_count, error_count, response_duration_sum_us, response_duration_max_us)
SELECT toDateTime(%d + intDiv(number, 150) * 60), 'h', 'server_process', 'client', concat('svc-', toString(number %% 150)), 'HTTP', '/x', 10, 1, 10000, 2000 FROM system.numbers LIMIT 9000`, guardT0))
	srv.MustExec(t, chtest.Writer, fmt.Sprintf(`INSERT INTO flowlens.l7_flow_log (time, _id, start_time_us, end_time_us, observation_point, l7_protocol, endpoint, response_status, server_service, trace_id)
SELECT toDateTime(%d + number), number + 1, (%d + number) * 1000000, (%d + number) * 1000000 + 500, 'server_process', 'HTTP', '/x', 'ok', concat('svc-', toString(number %% 150)), 't-1' FROM system.numbers LIMIT 2000`, guardT0, guardT0, guardT0))
	srv.MustExec(t, chtest.Writer, fmt.Sprintf(`INSERT INTO flowlens.profile_samples (time, host, pid, tid, process, service, event, stack_id, stack, value)
SELECT toDateTime(%d + number), 'h', 1, 1, 'p', 'svc-1', 'on_cpu', number %% 10, ['main', concat('f', toString(number %% 10))], 1 FROM system.numbers LIMIT 100`, guardT0))
}

// Against the real server: no hostile value makes a query ClickHouse cannot parse or makes one
// write (quoting holds against the real parser), for a readonly=2 and a readonly=1 user alike.
func TestHostileValuesAgainstTheRealServer(t *testing.T) {
	srv := chtest.Start(t)
	loadGuardData(t, srv)
	from := time.Unix(guardT0, 0)
	queries := hostileQueries()
	for _, user := range []string{chtest.Readonly2, chtest.Readonly1} {
		d := newDatasource(t, map[string]any{"url": srv.URL, "username": user, "maxSeries": 200}, chtest.Password(user))
		answered := 0
		for _, q := range queries {
			r := runQuery(t, d, q, from, from.Add(time.Hour))
			checkBounded(t, q, r)
			if r.Error == nil {
				answered++
			} else if testing.Verbose() && user == chtest.Readonly2 {
				t.Logf("refused %.120q: %.160s", q, r.Error.Error())
			}
			if r.Error == nil {
			} else if msg := r.Error.Error(); strings.Contains(msg, "ClickHouse error") || strings.Contains(msg, "Code: ") {
				t.Errorf("%s: %.200s: ClickHouse refused the SQL: %.400s", user, q, msg)
			}
		}
		if answered < len(queries)/3 {
			t.Errorf("%s: only %d of %d hostile queries answered", user, answered, len(queries))
		}
		t.Logf("%s: %d of %d hostile queries answered, the rest refused with a clear error", user, answered, len(queries))
	}
	counts := srv.MustExec(t, chtest.Writer, "SELECT (SELECT count() FROM flowlens.l7_flow_log), (SELECT count() FROM flowlens.app_metrics), (SELECT count() FROM system.tables WHERE database = 'flowlens')")
	if !strings.HasPrefix(counts, "2000\t9000\t") {
		t.Errorf("rows after the hostile queries: %q", counts)
	}
}

// RED's series bound, the server's bounds through the datasource, and the health check's single
// note for a readonly=1 user, against the real server.
func TestGuardRailsAgainstTheRealServer(t *testing.T) {
	srv := chtest.Start(t)
	loadGuardData(t, srv)
	from, to := time.Unix(guardT0, 0), time.Unix(guardT0+3599, 0)
	for _, user := range []string{chtest.Readonly2, chtest.Readonly1} {
		t.Run(user, func(t *testing.T) {
			pw := chtest.Password(user)
			d := newDatasource(t, map[string]any{"url": srv.URL, "username": user}, pw)
			r := runQuery(t, d, `{"queryType":"red"}`, from, to)
			if r.Error == nil || !strings.Contains(r.Error.Error(), "RED: more than 100 services (series) in the time range, the limit is 100 (datasource setting maxSeries): filter by service") {
				t.Errorf("150 services, maxSeries 100: %v", r.Error)
			}
			d = newDatasource(t, map[string]any{"url": srv.URL, "username": user, "maxSeries": 150}, pw)
			r = runQuery(t, d, `{"queryType":"red","metric":"request_rate"}`, from, to)
			if r.Error != nil || len(r.Frames) != 150 {
				t.Errorf("150 services, maxSeries 150: %d frames, %v", len(r.Frames), r.Error)
			}
			d = newDatasource(t, map[string]any{"url": srv.URL, "username": user, "maxResponseBytes": 10000}, pw)
			r = runQuery(t, d, `{"queryType":"sql_log"}`, from, to)
			if r.Error == nil || !strings.Contains(r.Error.Error(), "the answer is larger than 10000 bytes (datasource setting maxResponseBytes)") {
				t.Errorf("response cap: %v", r.Error)
			}
			d = newDatasource(t, map[string]any{"url": srv.URL, "username": user, "maxRowsToRead": 100}, pw)
			r = runQuery(t, d, `{"queryType":"sql_log"}`, from, to)
			if user == chtest.Readonly2 {
				if r.Error == nil || !strings.Contains(r.Error.Error(), "the query would read more than 100 rows (datasource setting maxRowsToRead)") {
					t.Errorf("maxRowsToRead 100: %v", r.Error)
				}
			} else if r.Error != nil || mustRows(t, r.Frames[0]) != 1000 {
				t.Errorf("readonly=1 gets no maxRowsToRead; the LIMIT bounds the answer: %v", r.Error)
			}
			h, err := d.CheckHealth(context.Background(), &backend.CheckHealthRequest{})
			if err != nil || h.Status != backend.HealthStatusOk {
				t.Fatalf("health: %v %+v", err, h)
			}
			note := strings.Count(h.Message, "is readonly=1")
			if (user == chtest.Readonly1) != (note == 1) || (user == chtest.Readonly2 && note != 0) {
				t.Errorf("health note %d times: %s", note, h.Message)
			}
			if user == chtest.Readonly1 && !strings.Contains(h.Message, "max_execution_time=0 (none)") {
				t.Errorf("health does not show the profile's missing time limit: %s", h.Message)
			}
			t.Logf("health: %s", h.Message)
		})
	}
}

func mustRows(t *testing.T, f *data.Frame) int {
	n, err := f.RowLen()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestServicesResourceAndSettingsBounds(t *testing.T) {
	rec := &recorder{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	d := newDatasource(t, map[string]any{"url": srv.URL}, "pw")
	call := func(url string) (int, string) {
		var status int
		var body string
		err := d.CallResource(context.Background(), &backend.CallResourceRequest{Path: "services", Method: "GET", URL: url},
			backend.CallResourceResponseSenderFunc(func(r *backend.CallResourceResponse) error {
				status, body = r.Status, string(r.Body)
				return nil
			}))
		if err != nil {
			t.Fatal(err)
		}
		return status, body
	}
	if status, body := call("/services?from=0&to=1700000000000"); status != 400 || !strings.Contains(body, "maxSpanDays.map") {
		t.Errorf("services over 53 years: %d %s", status, body)
	}
	if status, body := call("/services?from=1699999000000&to=1700000000000"); status != 200 || len(rec.bodies) != 1 || !limitClause.MatchString(rec.bodies[0]) {
		t.Errorf("services over 1000 s: %d %s %q", status, body, rec.bodies)
	}
	for _, q := range plugin.HealthQueries("flowlens") {
		if !regexp.MustCompile(` LIMIT \d+$`).MatchString(q.SQL) {
			t.Errorf("health query %s has no LIMIT: %s", q.Name, q.SQL)
		}
	}
	for _, tc := range []struct {
		jsonData string
		want     string
	}{
		{`{"maxSpanDays":{"sql_log":1,"nope":3}}`, `maxSpanDays: 'nope' is not a query type`},
		{`{"queryTimeout":"30"}`, "not valid JSON"},
	} {
		if _, err := plugin.LoadSettings(backend.DataSourceInstanceSettings{JSONData: []byte(tc.jsonData)}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v", tc.jsonData, err)
		}
	}
	st, err := plugin.LoadSettings(backend.DataSourceInstanceSettings{JSONData: []byte(`{"queryTimeout":100000000,"maxSpanDays":{"sql_log":1},"maxSeries":-5}`)})
	if err != nil || st.QueryTimeout != plugin.MaxTimeout || st.MaxSpan("sql_log") != 24*time.Hour || st.MaxSpan("red") != 31*24*time.Hour || st.MaxSeries != plugin.DefaultMaxSeries {
		t.Errorf("settings %+v, %v", st, err)
	}
	cfg := plugin.ClientConfig(st)
	if cfg.MaxExecutionTime != plugin.MaxTimeout || cfg.Timeout <= time.Duration(plugin.MaxTimeout)*time.Second {
		t.Errorf("client config %+v: the client must wait longer than the server's max_execution_time", cfg)
	}
}
