package plugin_test

// Integration test: builds the plugin binary, starts it the way Grafana does (pluginhost: the
// go-plugin handshake and gRPC), loads known rows into a fresh database on the real local
// ClickHouse and checks exact numbers. Needs the server: scripts/clickhouse.sh start, with its
// users from the environment of scripts/clickhouse.sh env or its credentials file (pkg/localch).

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/flowlens/flowlens/pkg/dataplane"
	"github.com/flowlens/flowlens/pkg/localch"
	"github.com/flowlens/flowlens/pkg/plugin"
	"github.com/flowlens/flowlens/pkg/pluginhost"
	"github.com/flowlens/flowlens/pkg/query"
)

const testDB = "flowlens_gotest"

// t0 is minute-aligned so 60 s buckets start at it.
const t0 = 1699999980

// local is the local server and its users (scripts/clickhouse.sh env, or its credentials file).
var local = localch.Local()

func clickhouseURL() string { return local.URL }

// admin runs a statement as the local server's writer.
func admin(t *testing.T, sql string) string {
	t.Helper()
	resp, err := http.DefaultClient.Do(local.WriterRequest(sql))
	if err != nil {
		t.Fatalf("ClickHouse at %s is unreachable (%v): run scripts/clickhouse.sh start, or set FLOWLENS_CLICKHOUSE_URL", clickhouseURL(), err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("ClickHouse rejected %q: %s (%s)", truncate(sql, 200), b, local.Hint())
	}
	return strings.TrimSpace(string(b))
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// createSchema applies the generated DDL (legacy for 18.x/19.x servers) to database db.
// freshSchema is createSchema on a database dropped first, dropped again when the test ends
// (kept with FLOWLENS_KEEP_TESTDB set, to look at).
func freshSchema(t *testing.T, db string, tables ...string) {
	t.Helper()
	admin(t, "DROP DATABASE IF EXISTS "+db)
	createSchema(t, db, tables...)
	t.Cleanup(func() {
		if os.Getenv("FLOWLENS_KEEP_TESTDB") == "" {
			admin(t, "DROP DATABASE IF EXISTS "+db)
		}
	})
}

func createSchema(t *testing.T, db string, tables ...string) {
	applySchema(t, func(sql string) string { return admin(t, sql) }, db, tables...)
}

// schemaStatements are the statements of the generated DDL for the server's version (legacy for
// 18.x/19.x servers), in order, on the database flowlens.
func schemaStatements(t *testing.T, admin func(string) string) []string {
	version := admin("SELECT version()")
	ddl := "ddl_modern.sql"
	if strings.HasPrefix(version, "18.") || strings.HasPrefix(version, "19.") {
		ddl = "ddl_legacy.sql"
	}
	raw, err := os.ReadFile(filepath.Join("..", "schema", ddl))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, stmt := range strings.Split(string(raw), ";\n") {
		var lines []string
		for _, l := range strings.Split(strings.TrimSpace(stmt), "\n") {
			if !strings.HasPrefix(strings.TrimSpace(l), "--") {
				lines = append(lines, l)
			}
		}
		if stmt = strings.TrimSpace(strings.Join(lines, "\n")); stmt != "" {
			out = append(out, stmt)
		}
	}
	return out
}

// onDatabase is a schema statement on database db instead of flowlens.
func onDatabase(stmt, db string) string {
	stmt = strings.ReplaceAll(stmt, "flowlens.", db+".")
	return strings.Replace(stmt, "DATABASE IF NOT EXISTS flowlens", "DATABASE IF NOT EXISTS "+db, 1)
}

// applySchema is createSchema through exec, which runs one statement as a writer.
func applySchema(t *testing.T, admin func(string) string, db string, tables ...string) {
	stmts := schemaStatements(t, admin)
	admin("DROP DATABASE IF EXISTS " + db)
	for _, stmt := range stmts {
		if len(tables) > 0 && !strings.HasPrefix(stmt, "CREATE DATABASE") {
			// keep a statement only if every table it names is kept (views and backfills included)
			keep := true
			for _, name := range regexp.MustCompile(`flowlens\.(\w+)`).FindAllStringSubmatch(stmt, -1) {
				found := name[1] == "schema_migrations" || strings.HasSuffix(name[1], "_mv")
				for _, tb := range tables {
					found = found || name[1] == tb
				}
				keep = keep && found
			}
			if !keep {
				continue
			}
		}
		admin(onDatabase(stmt, db))
	}
}

func insertJSON(t *testing.T, table string, rows []map[string]any) {
	insertInto(t, testDB, table, rows)
}

// insertInto inserts rows into db.table as JSONEachRow.
func insertInto(t *testing.T, db, table string, rows []map[string]any) {
	var b strings.Builder
	fmt.Fprintf(&b, "INSERT INTO %s.%s FORMAT JSONEachRow\n", db, table)
	for _, r := range rows {
		j, _ := json.Marshal(r)
		b.Write(j)
		b.WriteByte('\n')
	}
	admin(t, b.String())
}

func metricRow(dt int, client, server, proto, endpoint, obs string, req, errs, sumUs, maxUs int) map[string]any {
	return map[string]any{
		"time": time.Unix(int64(t0+dt), 0).UTC().Format("2006-01-02 15:04:05"), "host": "h1",
		"observation_point": obs, "client_service": client, "server_service": server,
		"l7_protocol": proto, "endpoint": endpoint, "request_count": req, "error_count": errs,
		"response_duration_sum_us": sumUs, "response_duration_max_us": maxUs,
	}
}

func loadFixtures(t *testing.T) {
	insertJSON(t, "app_metrics", []map[string]any{
		metricRow(0, "frontend", "checkout", "HTTP", "/pay", "server_process", 10, 1, 50000, 20000),
		metricRow(0, "frontend", "checkout", "HTTP", "/pay", "client_process", 10, 1, 60000, 25000), // same calls, client view
		metricRow(30, "frontend", "checkout", "HTTP", "/cart", "server_process", 20, 0, 40000, 5000),
		metricRow(60, "frontend", "checkout", "HTTP", "/pay", "server_process", 6, 3, 30000, 9000),
		metricRow(5, "frontend", "checkout", "gRPC", "/Pay/Charge", "server_process", 4, 0, 8000, 3000),
		metricRow(10, "checkout", "mysql", "MySQL", "SELECT", "client_process", 30, 0, 15000, 2000), // no server agent
		metricRow(70, "checkout", "redis", "Redis", "GET", "client_process", 12, 2, 1200, 300),
		metricRow(70, "checkout", "redis", "Redis", "GET", "server_nic", 12, 2, 1000, 250),
		metricRow(500, "frontend", "checkout", "HTTP", "/pay", "server_process", 99, 99, 1, 1), // outside the range
	})
	logRow := func(dt int, status string, code int, resource string) map[string]any {
		start := uint64(t0+dt)*1_000_000 + 250_000
		return map[string]any{
			"time": time.Unix(int64(t0+dt), 0).UTC().Format("2006-01-02 15:04:05"), "_id": uint64(1)<<63 + uint64(dt),
			"start_time_us": start, "end_time_us": start + 1500, "response_duration_us": 1500,
			"observation_point": "server_process", "l7_protocol": "HTTP", "request_type": "GET",
			"request_resource": resource, "endpoint": "/pay", "response_code": code, "response_status": status,
			"client_service": "frontend", "server_service": "checkout", "server_port": 8080,
		}
	}
	insertJSON(t, "l7_flow_log", []map[string]any{
		logRow(1, "ok", 200, "/pay?a=1"),
		logRow(2, "server_error", 503, "/pay?a=2"),
		logRow(3, "ok", 200, "/pay?a=3"),
	})
}

func buildPlugin(t *testing.T) string {
	if p := os.Getenv("FLOWLENS_PLUGIN_BINARY"); p != "" {
		return p
	}
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goBin); err != nil {
		goBin = "go"
	}
	out := filepath.Join(t.TempDir(), "gpx_flowlens-clickhouse-datasource_linux_amd64")
	cmd := exec.Command(goBin, "build", "-o", out, "..")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the plugin: %v\n%s", err, b)
	}
	return out
}

type env struct {
	t    *testing.T
	host *pluginhost.Host
}

// ctx is a datasource of jsonData, as the local server's Grafana user unless jsonData names one.
func (e *env) ctx(uid string, jsonData map[string]any) backend.PluginContext {
	if _, ok := jsonData["username"]; !ok {
		jsonData["username"] = local.Reader
	}
	j, _ := json.Marshal(jsonData)
	return pluginhost.DatasourceContext(plugin.PluginID, uid, j, map[string]string{"password": local.ReaderPassword}, time.Unix(1, 0))
}

func (e *env) query(pc backend.PluginContext, from, to int64, interval time.Duration, model string) backend.DataResponse {
	e.t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(model), &m); err != nil {
		e.t.Fatal(err)
	}
	resp, err := e.host.QueryData(context.Background(), &backend.QueryDataRequest{
		PluginContext: pc,
		Queries: []backend.DataQuery{{
			RefID: "A", QueryType: fmt.Sprint(m["queryType"]), JSON: json.RawMessage(model), Interval: interval,
			MaxDataPoints: 1000, TimeRange: backend.TimeRange{From: time.Unix(from, 0), To: time.Unix(to, 0)},
		}},
	})
	if err != nil {
		e.t.Fatalf("QueryData over gRPC: %v", err)
	}
	return resp.Responses["A"]
}

func TestIntegration(t *testing.T) {
	admin(t, "SELECT 1") // fails with the start hint when the server is down
	createSchema(t, testDB)
	loadFixtures(t)
	createSchema(t, testDB+"_partial", "app_metrics")
	t.Cleanup(func() {
		admin(t, "DROP DATABASE IF EXISTS "+testDB+"_partial")
		if os.Getenv("FLOWLENS_KEEP_TESTDB") == "" {
			admin(t, "DROP DATABASE IF EXISTS "+testDB)
		}
	})

	host, err := pluginhost.Start(context.Background(), buildPlugin(t), pluginhost.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	e := &env{t: t, host: host}
	good := e.ctx("good", map[string]any{"url": clickhouseURL(), "database": testDB, "username": local.Reader})

	t.Run("health", func(t *testing.T) { testHealth(t, e, good) })
	t.Run("red", func(t *testing.T) { testRED(t, e, good) })
	t.Run("map", func(t *testing.T) { testMap(t, e, good) })
	t.Run("sql_log", func(t *testing.T) { testLog(t, e, good) })
	t.Run("resources", func(t *testing.T) {
		res, err := host.CallResource(context.Background(), &backend.CallResourceRequest{
			PluginContext: good, Path: "services", Method: "GET",
			URL: fmt.Sprintf("/services?from=%d&to=%d", int64(t0)*1000, int64(t0+120)*1000),
		})
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != 200 || strings.TrimSpace(string(res.Body)) != `{"services":["checkout","frontend","mysql","redis"]}` {
			t.Errorf("services: %d %s", res.Status, res.Body)
		}
		// values for dashboard variables; service repeated = a multi-value variable
		for q, want := range map[string]string{
			"kind=services":                                 `200 {"values":["checkout","frontend","mysql","redis"]}`,
			"kind=client_services":                          `200 {"values":["checkout","frontend"]}`,
			"kind=endpoints&service=checkout":               `200 {"values":["/Pay/Charge","/cart","/pay"]}`,
			"kind=protocols&service=checkout&service=redis": `200 {"values":["HTTP","Redis","gRPC"]}`,
			"kind=services&service=redis":                   `200 {"values":["checkout","redis"]}`,
			"kind=endpoints&service=x'%20OR%201%3D1%20--":   `200 {"values":[]}`,
			"kind=pods": `400 {"error":"kind 'pods' is not one of client_services, endpoints, protocols, server_services, services"}`,
		} {
			res, err := host.CallResource(context.Background(), &backend.CallResourceRequest{
				PluginContext: good, Path: "values", Method: "GET",
				URL: fmt.Sprintf("/values?%s&from=%d&to=%d", q, int64(t0)*1000, int64(t0+120)*1000),
			})
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprintf("%d %s", res.Status, strings.TrimSpace(string(res.Body))); got != want {
				t.Errorf("values?%s: %s, want %s", q, got, want)
			}
		}
	})
	if host.Exited() {
		t.Error("plugin process died during the test")
	}
}

func testHealth(t *testing.T, e *env, good backend.PluginContext) {
	check := func(pc backend.PluginContext, wantOK bool, want ...string) {
		t.Helper()
		res, err := e.host.CheckHealth(context.Background(), pc)
		if err != nil {
			t.Fatal(err)
		}
		if (res.Status == backend.HealthStatusOk) != wantOK {
			t.Errorf("status %s, message %q", res.Status, res.Message)
		}
		for _, w := range want {
			if !strings.Contains(res.Message, w) {
				t.Errorf("health message %q lacks %q", res.Message, w)
			}
		}
	}
	check(good, true, "Connected to ClickHouse", testDB, "l7_flow_log and app_metrics")
	check(e.ctx("badurl", map[string]any{"url": "http://127.0.0.1:1", "database": testDB}), false,
		"Cannot connect to ClickHouse at http://127.0.0.1:1", "scripts/clickhouse.sh start")
	check(e.ctx("nodb", map[string]any{"url": clickhouseURL(), "database": testDB + "_missing"}), false,
		`Database "`+testDB+`_missing" does not exist`, "ddl_legacy.sql")
	check(e.ctx("partial", map[string]any{"url": clickhouseURL(), "database": testDB + "_partial"}), false,
		"lacks table(s) "+testDB+"_partial.l7_flow_log")
	check(e.ctx("baduser", map[string]any{"url": clickhouseURL(), "database": testDB, "username": "nosuchuser"}), false,
		`rejected user "nosuchuser"`)
	check(e.ctx("baddbname", map[string]any{"url": clickhouseURL(), "database": "x`; DROP"}), false, "Invalid settings")
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// series maps "service/metric" (and "/client_service", "/observation_point"... for each
// further label, in REDDimensions order) to the values of its series, after checking the answer
// is a valid alerting input.
func series(t *testing.T, res backend.DataResponse) (map[string][]*float64, []time.Time) {
	t.Helper()
	if res.Error != nil {
		t.Fatalf("query error: %v", res.Error)
	}
	all, err := dataplane.CheckAlertable(res.Frames)
	if err != nil {
		t.Fatalf("RED answer is not an alerting input: %v", err)
	}
	out := map[string][]*float64{}
	var times []time.Time
	for _, s := range all {
		if s.Labels[query.MetricLabel] != s.Name {
			t.Errorf("series %s: label metric=%q", s.ID(), s.Labels[query.MetricLabel])
		}
		key := s.Labels["service"] + "/" + s.Name
		for _, d := range query.REDDimensions[1:] {
			if v, ok := s.Labels[d.Label]; ok {
				key += "/" + v
			}
		}
		out[key], times = s.Values, s.Times
	}
	return out, times
}

func expectSeries(t *testing.T, got map[string][]*float64, key string, want ...any) {
	t.Helper()
	vals, ok := got[key]
	if !ok {
		t.Errorf("no series %s", key)
		return
	}
	if len(vals) != len(want) {
		t.Errorf("%s has %d points, want %d", key, len(vals), len(want))
		return
	}
	for i, w := range want {
		switch w := w.(type) {
		case nil:
			if vals[i] != nil {
				t.Errorf("%s[%d] = %v, want null", key, i, *vals[i])
			}
		case float64:
			if vals[i] == nil || !near(*vals[i], w) {
				t.Errorf("%s[%d] = %v, want %v", key, i, fmtPtr(vals[i]), w)
			}
		}
	}
}

func fmtPtr(p *float64) string {
	if p == nil {
		return "null"
	}
	return fmt.Sprint(*p)
}

func testRED(t *testing.T, e *env, pc backend.PluginContext) {
	got, times := series(t, e.query(pc, t0, t0+120, time.Minute, `{"queryType":"red"}`))
	if len(times) != 3 || times[0].Unix() != t0 || times[2].Unix() != t0+120 {
		t.Fatalf("buckets %v", times)
	}
	if len(got) != 3*8 {
		t.Errorf("%d series, want 24 (3 services × 8 metrics)", len(got))
	}
	// checkout, preferred = server_process rows: bucket 0 = 10+20+4 requests, bucket 1 = 6.
	expectSeries(t, got, "checkout/request_rate", 34.0/60, 6.0/60, 0.0)
	expectSeries(t, got, "checkout/error_rate", 1.0/60, 3.0/60, 0.0)
	expectSeries(t, got, "checkout/error_ratio", 1.0/34, 0.5, nil)
	expectSeries(t, got, "checkout/latency_avg", 98000.0/34/1000, 5.0, nil)
	expectSeries(t, got, "checkout/latency_max", 20.0, 9.0, nil)
	// rows without a latency sketch (written before migration 6): no percentile, not a wrong one
	expectSeries(t, got, "checkout/latency_p99", nil, nil, nil)
	// mysql has only client_process rows: they are kept.
	expectSeries(t, got, "mysql/request_rate", 0.5, 0.0, 0.0)
	expectSeries(t, got, "mysql/latency_avg", 0.5, nil, nil)
	// redis: server_nic preferred over client_process.
	expectSeries(t, got, "redis/request_rate", 0.0, 0.2, 0.0)
	expectSeries(t, got, "redis/error_ratio", nil, 2.0/12, nil)
	expectSeries(t, got, "redis/latency_avg", nil, 1000.0/12/1000, nil)
	expectSeries(t, got, "redis/latency_max", nil, 0.25, nil)

	got, _ = series(t, e.query(pc, t0, t0+120, time.Minute, `{"queryType":"red","observation_point":"all","service":"checkout","metric":"request_rate"}`))
	if len(got) != 1 {
		t.Errorf("filtered RED: %d series, want 1", len(got))
	}
	expectSeries(t, got, "checkout/request_rate", 44.0/60, 6.0/60, 0.0)

	got, _ = series(t, e.query(pc, t0, t0+120, time.Minute, `{"queryType":"red","observation_point":"client_process","l7_protocol":["Redis","MySQL"],"metric":"latency_max"}`))
	expectSeries(t, got, "mysql/latency_max", 2.0, nil, nil)
	expectSeries(t, got, "redis/latency_max", nil, 0.3, nil)

	// Per edge and observation point (all points): one series each, labelled with both ends and the point.
	got, _ = series(t, e.query(pc, t0, t0+120, time.Minute, `{"queryType":"red","observation_point":"all","group_by":["service","client_service","observation_point"],"metric":"request_rate"}`))
	if len(got) != 5 {
		t.Errorf("edge × point RED: %d series, want 5: %v", len(got), keys(got))
	}
	expectSeries(t, got, "checkout/request_rate/frontend/server_process", 34.0/60, 6.0/60, 0.0)
	expectSeries(t, got, "checkout/request_rate/frontend/client_process", 10.0/60, 0.0, 0.0)
	expectSeries(t, got, "redis/request_rate/checkout/server_nic", 0.0, 0.2, 0.0)
	// Per protocol and endpoint, preferred point: the client_process /pay row is not counted again.
	got, _ = series(t, e.query(pc, t0, t0+120, time.Minute, `{"queryType":"red","service":"checkout","group_by":["service","l7_protocol","endpoint"],"metric":"error_ratio"}`))
	if len(got) != 3 {
		t.Errorf("protocol × endpoint RED: %d series, want 3: %v", len(got), keys(got))
	}
	expectSeries(t, got, "checkout/error_ratio/HTTP//pay", 0.1, 0.5, nil)
	expectSeries(t, got, "checkout/error_ratio/HTTP//cart", 0.0, nil, nil)
	expectSeries(t, got, "checkout/error_ratio/gRPC//Pay/Charge", 0.0, nil, nil)

	// 1 s buckets (interval below a second).
	got, times = series(t, e.query(pc, t0, t0+119, 100*time.Millisecond, `{"queryType":"red","service":"checkout","endpoint":"/cart","metric":"request_rate"}`))
	if len(times) != 120 {
		t.Errorf("1 s buckets: %d points", len(times))
	}
	if v := got["checkout/request_rate"]; len(v) == 120 && (*v[30] != 20 || *v[0] != 0) {
		t.Errorf("1 s bucket values: [0]=%v [30]=%v", *v[0], *v[30])
	}

	// Hostile values are data, not SQL: no match, no error.
	res := e.query(pc, t0, t0+120, time.Minute, `{"queryType":"red","service":"x' OR 1=1 OR '\\","metric":"request_rate"}`)
	if none, err := dataplane.CheckAlertable(res.Frames); res.Error != nil || err != nil || len(none) != 0 || len(res.Frames) != 1 {
		t.Errorf("hostile service: err %v, %d frames", res.Error, len(res.Frames))
	}
	res = e.query(pc, t0, t0+120, time.Minute, `{"queryType":"red","observation_point":"nowhere"}`)
	if res.Error == nil || res.Status != backend.StatusBadRequest || !strings.Contains(res.Error.Error(), "observation_point") {
		t.Errorf("bad observation point: %v %v", res.Status, res.Error)
	}
}

func keys(m map[string][]*float64) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func fieldMap(t *testing.T, f *data.Frame) map[string]*data.Field {
	out := map[string]*data.Field{}
	for _, fl := range f.Fields {
		out[fl.Name] = fl
	}
	return out
}

func testMap(t *testing.T, e *env, pc backend.PluginContext) {
	res := e.query(pc, t0, t0+120, time.Minute, `{"queryType":"map"}`)
	if res.Error != nil {
		t.Fatal(res.Error)
	}
	if len(res.Frames) != 2 || res.Frames[0].Name != "nodes" || res.Frames[1].Name != "edges" {
		t.Fatalf("frames %v", res.Frames)
	}
	for _, f := range res.Frames {
		if f.Meta.PreferredVisualization != data.VisTypeNodeGraph {
			t.Errorf("%s: preferred visualisation %q", f.Name, f.Meta.PreferredVisualization)
		}
	}
	edges := fieldMap(t, res.Frames[1])
	type edge struct {
		id         string
		rate, lat  float64
		req, errs  int64
		ratio, max float64
		protocols  string
	}
	want := []edge{
		{"frontend->checkout", 40.0 / 120, 128000.0 / 40 / 1000, 40, 4, 0.1, 20, "HTTP, gRPC"},
		{"checkout->mysql", 30.0 / 120, 0.5, 30, 0, 0, 2, "MySQL"},
		{"checkout->redis", 12.0 / 120, 1000.0 / 12 / 1000, 12, 2, 2.0 / 12, 0.25, "Redis"},
	}
	if n := res.Frames[1].Rows(); n != len(want) {
		t.Fatalf("%d edges, want %d", n, len(want))
	}
	for i, w := range want {
		got := edge{
			edges["id"].At(i).(string), edges["mainstat"].At(i).(float64), edges["secondarystat"].At(i).(float64),
			edges["detail__requests"].At(i).(int64), edges["detail__errors"].At(i).(int64),
			edges["detail__error_ratio"].At(i).(float64), edges["detail__latency_max"].At(i).(float64),
			edges["detail__protocols"].At(i).(string),
		}
		if got.id != w.id || !near(got.rate, w.rate) || !near(got.lat, w.lat) || got.req != w.req || got.errs != w.errs ||
			!near(got.ratio, w.ratio) || !near(got.max, w.max) || got.protocols != w.protocols {
			t.Errorf("edge %d = %+v, want %+v", i, got, w)
		}
		src, dst, _ := strings.Cut(w.id, "->")
		if edges["source"].At(i) != src || edges["target"].At(i) != dst {
			t.Errorf("edge %d source/target %v/%v", i, edges["source"].At(i), edges["target"].At(i))
		}
	}
	// Each node and edge offers its RED, requests, traces and flows; an edge's RED link, filled in
	// as Grafana fills it from the row, is that call's RED.
	var titles []string
	for _, l := range edges["id"].Config.Links {
		titles = append(titles, l.Title)
	}
	if got := strings.Join(titles, ", "); got != "RED of this call, Requests of this call, Traces of this call, Flows of this call, Triage this call" {
		t.Errorf("edge links: %s", got)
	}
	if n := len(fieldMap(t, res.Frames[0])["id"].Config.Links); n != 5 {
		t.Errorf("node links: %d, want 5", n)
	}
	if u := edges["id"].Config.Links[4].URL; u != plugin.TriagePage+"?service=${__data.fields.target}&client=${__data.fields.source}&from=${__from}&to=${__to}" {
		t.Errorf("the edge's triage link: %s", u)
	}
	link := interpolate(t, res.Frames[1], edges["id"].Config.Links[0], "id", 0)
	got, _ := series(t, e.query(pc, t0, t0+120, time.Minute, link))
	var calls float64
	for _, v := range got["checkout/request_rate/frontend"] {
		if v != nil {
			calls += *v * 60
		}
	}
	if len(got) != len(query.REDMetrics) || !near(calls, 40) {
		t.Errorf("the edge's RED link %s: %d series, %v requests of frontend->checkout, want %d series and 40", link, len(got), calls, len(query.REDMetrics))
	}
	nodes := fieldMap(t, res.Frames[0])
	type node struct {
		id, subtitle      string
		served, out, errs int64
		rate, ok, bad     float64
	}
	wantNodes := []node{
		{"checkout", "HTTP, gRPC", 40, 42, 4, 40.0 / 120, 0.9, 0.1},
		{"frontend", "", 0, 40, 0, 0, 0, 0},
		{"mysql", "MySQL", 30, 0, 0, 30.0 / 120, 1, 0},
		{"redis", "Redis", 12, 0, 2, 12.0 / 120, 10.0 / 12, 2.0 / 12},
	}
	if n := res.Frames[0].Rows(); n != len(wantNodes) {
		t.Fatalf("%d nodes, want %d", n, len(wantNodes))
	}
	for i, w := range wantNodes {
		got := node{
			nodes["id"].At(i).(string), nodes["subtitle"].At(i).(string),
			nodes["detail__requests"].At(i).(int64), nodes["detail__outbound_requests"].At(i).(int64), nodes["detail__errors"].At(i).(int64),
			nodes["mainstat"].At(i).(float64), nodes["arc__success"].At(i).(float64), nodes["arc__errors"].At(i).(float64),
		}
		if got.id != w.id || got.subtitle != w.subtitle || got.served != w.served || got.out != w.out || got.errs != w.errs ||
			!near(got.rate, w.rate) || !near(got.ok, w.ok) || !near(got.bad, w.bad) {
			t.Errorf("node %d = %+v, want %+v", i, got, w)
		}
	}
	// service filter: edges touching mysql only.
	res = e.query(pc, t0, t0+120, time.Minute, `{"queryType":"map","service":"mysql"}`)
	if res.Error != nil || res.Frames[1].Rows() != 1 || res.Frames[0].Rows() != 2 {
		t.Errorf("map filtered by mysql: %v", res.Error)
	}
}

func testLog(t *testing.T, e *env, pc backend.PluginContext) {
	res := e.query(pc, t0, t0+120, time.Minute, `{"queryType":"sql_log"}`)
	if res.Error != nil {
		t.Fatal(res.Error)
	}
	f := res.Frames[0]
	fm := fieldMap(t, f)
	if f.Rows() != 3 || f.Meta.PreferredVisualization != data.VisTypeTable {
		t.Fatalf("rows %d meta %+v", f.Rows(), f.Meta)
	}
	if got := fm["time"].At(0).(time.Time); got.Unix() != t0+3 {
		t.Errorf("newest first: time[0] = %v", got)
	}
	if got := fm["start_time"].At(0).(time.Time); got.UnixMicro() != (t0+3)*1_000_000+250_000 {
		t.Errorf("start_time[0] = %v", got)
	}
	if fm["response_code"].At(0).(int64) != 200 || fm["response_duration_us"].At(0).(int64) != 1500 {
		t.Errorf("numbers: %v %v", fm["response_code"].At(0), fm["response_duration_us"].At(0))
	}
	if fm["_id"].At(0).(string) != fmt.Sprint(uint64(1)<<63+3) {
		t.Errorf("_id = %v", fm["_id"].At(0))
	}
	res = e.query(pc, t0, t0+120, time.Minute, `{"queryType":"sql_log","status":"server_error"}`)
	if res.Error != nil || res.Frames[0].Rows() != 1 || fieldMap(t, res.Frames[0])["request_resource"].At(0) != "/pay?a=2" {
		t.Errorf("status filter: %v", res.Error)
	}
	res = e.query(pc, t0, t0+120, time.Minute, `{"queryType":"sql_log","limit":2}`)
	if res.Error != nil || res.Frames[0].Rows() != 2 || len(res.Frames[0].Meta.Notices) != 1 {
		t.Errorf("limit 2: %v rows %d", res.Error, res.Frames[0].Rows())
	}
	res = e.query(pc, t0, t0+120, time.Minute, `{"queryType":"sql_log","status":"ok'); DROP TABLE x; --"}`)
	if res.Error == nil || res.Status != backend.StatusBadRequest {
		t.Errorf("hostile status accepted")
	}
}
