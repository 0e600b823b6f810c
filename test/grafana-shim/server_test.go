package main

// Drives the shim's HTTP API end to end: built plugin binary ← gRPC ← shim ← HTTP, against the
// real local ClickHouse (scripts/clickhouse.sh start; its users from pkg/localch).

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/flowlens/flowlens/pkg/localch"
	"github.com/flowlens/flowlens/pkg/pluginhost"
)

const shimDB = "flowlens_shimtest"

func chURL() string { return localch.Local().URL }

// chAdmin runs sql as the local server's writer.
func chAdmin(t *testing.T, sql string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(localch.Local().WriterRequest(sql))
	if err != nil {
		t.Fatalf("ClickHouse at %s is unreachable (%v): run scripts/clickhouse.sh start", chURL(), err)
	}
	defer resp.Body.Close()
	if b, _ := io.ReadAll(resp.Body); resp.StatusCode != 200 {
		t.Fatalf("ClickHouse: %s (%s)", b, localch.Local().Hint())
	}
}

func TestShimEndToEnd(t *testing.T) {
	chAdmin(t, "DROP DATABASE IF EXISTS "+shimDB)
	chAdmin(t, "CREATE DATABASE "+shimDB)
	t.Cleanup(func() { chAdmin(t, "DROP DATABASE IF EXISTS "+shimDB) })
	// Only the columns the datasource reads; enough for health and the map.
	chAdmin(t, "CREATE TABLE "+shimDB+".app_metrics (time DateTime, observation_point String, client_service String, server_service String, l7_protocol String, endpoint String, request_count UInt64, error_count UInt64, response_duration_sum_us UInt64, response_duration_max_us UInt64) ENGINE = MergeTree() ORDER BY time")
	chAdmin(t, "CREATE TABLE "+shimDB+".l7_flow_log (time DateTime, observation_point String, client_service String, server_service String, l7_protocol String, endpoint String, response_status String, response_duration_us UInt64) ENGINE = MergeTree() ORDER BY time")
	chAdmin(t, "INSERT INTO "+shimDB+".app_metrics VALUES (toDateTime(1700000010), 'server_process', 'web', 'api', 'HTTP', '/x', 60, 6, 120000, 9000)")
	// The per-edge rollup RED and the map read (the schema fills it by a materialized view).
	chAdmin(t, "CREATE TABLE "+shimDB+".app_metrics_edge (time DateTime, observation_point String, client_service String, server_service String, l7_protocol String, request_count UInt64, error_count UInt64, response_duration_sum_us UInt64, response_duration_max_us AggregateFunction(max, UInt64)) ENGINE = SummingMergeTree() ORDER BY (time, server_service, client_service, observation_point, l7_protocol)")
	chAdmin(t, "INSERT INTO "+shimDB+".app_metrics_edge SELECT time, observation_point, client_service, server_service, l7_protocol, sum(request_count), sum(error_count), sum(response_duration_sum_us), maxState(response_duration_max_us) FROM "+shimDB+".app_metrics GROUP BY time, observation_point, client_service, server_service, l7_protocol")

	bin := filepath.Join(t.TempDir(), "gpx_flowlens-clickhouse-datasource_linux_amd64")
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	cmd := exec.Command(goBin, "build", "-o", bin, "../../pkg")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build plugin: %v\n%s", err, out)
	}
	host, err := pluginhost.Start(context.Background(), bin, pluginhost.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	static := t.TempDir()
	os.WriteFile(filepath.Join(static, "index.html"), []byte("<html>shim</html>"), 0o644)
	ds := (&datasource{UID: "fl", JSONData: json.RawMessage(`{"url":"` + chURL() + `","database":"` + shimDB + `"}`), updated: time.Now()}).withLocalCredentials()
	srv := httptest.NewServer(newServer(host, ds, static))
	defer srv.Close()

	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/api/datasources/uid/fl/health"); code != 200 || !strings.Contains(body, `"status":"OK"`) {
		t.Errorf("health: %d %s", code, body)
	}
	if code, _ := get("/api/datasources/uid/other/health"); code != 404 {
		t.Errorf("unknown uid: %d", code)
	}
	if code, body := get("/api/datasources/uid/fl/resources/ping"); code != 200 || !strings.Contains(body, `"ok":true`) {
		t.Errorf("resource ping: %d %s", code, body)
	}
	if code, body := get("/index.html"); code != 200 || body != "<html>shim</html>" {
		t.Errorf("static: %d %s", code, body)
	}

	q := `{"from":"1700000000000","to":"1700000060000","queries":[
	  {"refId":"M","queryType":"map","datasource":{"uid":"fl","type":"flowlens-clickhouse-datasource"},"intervalMs":1000,"maxDataPoints":100},
	  {"refId":"R","queryType":"red","metric":"request_rate","datasource":{"uid":"fl"},"intervalMs":60000,"maxDataPoints":100}]}`
	resp, err := http.Post(srv.URL+"/api/ds/query", "application/json", strings.NewReader(q))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Results map[string]struct {
			Status int `json:"status"`
			Error  string
			Frames []struct {
				Schema struct {
					Name   string
					RefID  string `json:"refId"`
					Meta   map[string]any
					Fields []struct {
						Name   string
						Type   string
						Labels map[string]string
					}
				}
				Data struct{ Values [][]any }
			}
		}
	}
	body, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(body, &out); err != nil || resp.StatusCode != 200 {
		t.Fatalf("status %d, decode %v: %.600s", resp.StatusCode, err, body)
	}
	m := out.Results["M"]
	if m.Status != 200 || len(m.Frames) != 2 || m.Frames[0].Schema.Name != "nodes" || m.Frames[1].Schema.Name != "edges" {
		t.Fatalf("map result: %+v", m)
	}
	if m.Frames[1].Schema.Meta["preferredVisualisationType"] != "nodeGraph" || m.Frames[1].Data.Values[0][0] != "web->api" {
		t.Errorf("edges frame: %+v", m.Frames[1])
	}
	if rate := m.Frames[1].Data.Values[3][0].(float64); rate != 1 { // 60 requests over 60 s
		t.Errorf("edge mainstat = %v, want 1", rate)
	}
	r := out.Results["R"]
	if r.Status != 200 || len(r.Frames) != 1 || r.Frames[0].Schema.Fields[1].Labels["service"] != "api" ||
		r.Frames[0].Schema.Fields[0].Type != "time" || r.Frames[0].Schema.Fields[1].Type != "number" {
		t.Fatalf("red result: %+v", r)
	}
	if v := r.Frames[0].Data.Values[1][0].(float64); v != 1 {
		t.Errorf("request_rate = %v, want 1", v)
	}

	// A failing query: Grafana's 400 with the per-query error in the body.
	resp2, err := http.Post(srv.URL+"/api/ds/query", "application/json", strings.NewReader(`{"from":"now-1h","to":"now","queries":[{"refId":"X","queryType":"nope"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp2.Body)
	resp2.Body.Close()
	if resp2.StatusCode != 400 || !strings.Contains(string(b), "unknown queryType") {
		t.Errorf("bad query: %d %s", resp2.StatusCode, b)
	}
}
