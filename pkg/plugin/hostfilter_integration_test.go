package plugin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/flowlens/flowlens/pkg/pluginhost"
)

const hostFilterDB = "flowlens_gotest_hostfilter"

// A dashboard's host variable (tags.host) on every query type that takes tags, on the real ClickHouse:
// two hosts, each running its own services (host-a: shop-web calling shop-db, team shop; host-b:
// blog-web calling blog-db, team blog) with RED rows, request and flow logs, network metrics, profiles
// and agent events of each. Every query with host=host-a answers over both hosts' rows exactly what it
// answers over a database holding host-a's rows alone, and differs from its unfiltered answer
// (host-b's rows were there to exclude). The host variable's own options: the hosts of the chosen team's services.
func TestHostFilterIntegration(t *testing.T) {
	admin(t, "SELECT 1")
	onlyA := hostFilterDB + "_only_a"
	for _, db := range []string{hostFilterDB, onlyA} {
		createSchema(t, db)
	}
	t.Cleanup(func() {
		if os.Getenv("FLOWLENS_KEEP_TESTDB") == "" {
			admin(t, "DROP DATABASE IF EXISTS "+hostFilterDB)
			admin(t, "DROP DATABASE IF EXISTS "+onlyA)
		}
	})
	at := time.Unix(t0, 0).UTC()
	ts := func(s int) string { return at.Add(time.Duration(s) * time.Second).Format("2006-01-02 15:04:05") }
	us := func(s int) int64 { return at.Add(time.Duration(s)*time.Second).UnixMicro() + 250_000 }
	type hostData struct {
		host, team, web, db string
		webPid, dbPid       int
		requests, errors    int
	}
	hosts := []hostData{
		{"host-a", "shop", "shop-web", "shop-db", 10, 11, 40, 10},
		{"host-b", "blog", "blog-web", "blog-db", 20, 21, 60, 30},
	}
	load := func(db string, h hostData) {
		insertRows(t, db, "process_tags", []map[string]any{
			{"time": ts(0), "host": h.host, "pid": h.webPid, "start_time": 100, "process": h.web, "service": h.web},
			{"time": ts(0), "host": h.host, "pid": h.dbPid, "start_time": 100, "process": h.db, "service": h.db},
		})
		team := func(subject string) map[string]any {
			return map[string]any{"time": ts(0), "changed_us": at.UnixMicro(), "kind": "service", "subject": subject, "key": "team", "value": h.team}
		}
		insertRows(t, db, "business_tags", []map[string]any{team(h.web), team(h.db)})
		var metrics, logs, flows, nets, profiles []map[string]any
		for i, s := range []int{10, 70} {
			metrics = append(metrics, map[string]any{
				"time": ts(s), "host": h.host, "observation_point": "server_process", "client_service": h.web, "server_service": h.db,
				"l7_protocol": "HTTP", "endpoint": "/" + h.db, "request_count": h.requests, "error_count": h.errors,
				"response_duration_sum_us": h.requests * 2000, "response_duration_max_us": 9000,
			})
			logs = append(logs, map[string]any{
				"time": ts(s), "_id": h.webPid*100 + i, "start_time_us": us(s), "end_time_us": us(s) + 2000, "response_duration_us": 2000,
				"host": h.host, "observation_point": "server_process", "l7_protocol": "HTTP", "request_type": "GET",
				"request_resource": fmt.Sprintf("/%s/%d", h.db, i), "endpoint": "/" + h.db, "response_code": 200, "response_status": "ok",
				"trace_id": fmt.Sprintf("%s-trace-%d", h.host, i), "client_pid": h.webPid, "server_pid": h.dbPid,
				"client_service": h.web, "server_service": h.db, "server_port": 8080,
			})
			flows = append(flows, map[string]any{
				"time": ts(s), "start_time_us": us(s), "end_time_us": us(s) + 5000, "host": h.host, "observation_point": "server_process",
				"flow_id": h.webPid*100 + i, "l4_protocol": "TCP", "client_ip": "10.0.0.1", "client_port": 40000 + i, "server_ip": "10.0.0.2",
				"server_port": 8080, "client_pid": h.webPid, "server_pid": h.dbPid, "client_process": h.web, "server_process": h.db,
				"client_service": h.web, "server_service": h.db, "byte_tx": 100 * h.webPid, "rtt_us": 300, "close_type": "normal",
			})
			nets = append(nets, map[string]any{
				"time": ts(s), "host": h.host, "observation_point": "server_process", "client_service": h.web, "server_service": h.db,
				"server_port": 8080, "byte_tx": 1000 * h.webPid, "packet_tx": 10, "new_flow_count": 1, "retrans_count": 1, "rtt_sum_us": 300, "rtt_count": 1,
			})
			profiles = append(profiles, map[string]any{
				"time": ts(s), "host": h.host, "pid": h.dbPid, "tid": h.dbPid, "process": h.db, "service": h.db, "event": "on_cpu",
				"stack_id": h.dbPid, "stack": []string{"main", h.db + "_serve"}, "value": h.requests,
			})
		}
		insertRows(t, db, "app_metrics", metrics)
		insertRows(t, db, "l7_flow_log", logs)
		insertRows(t, db, "l4_flow_log", flows)
		insertRows(t, db, "net_metrics", nets)
		insertRows(t, db, "profile_samples", profiles)
		agent := func(event string, s, runStart int) map[string]any {
			return map[string]any{"time": ts(s), "time_us": us(s), "host": h.host, "agent_pid": h.webPid + 1000, "run_start_us": us(runStart),
				"event": event, "agent_version": "0.1.0", "kernel": "6.8.0", "reason": "test"}
		}
		insertRows(t, db, "agent_events", []map[string]any{agent("start", 5, 5), agent("stop", 60, 5), agent("start", 65, 65)})
	}
	for _, h := range hosts {
		load(hostFilterDB, h)
	}
	load(onlyA, hosts[0])

	host, err := pluginhost.Start(context.Background(), buildPlugin(t), pluginhost.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	e := &env{t: t, host: host}
	mixed := e.ctx("hostfilter-uid", map[string]any{"url": clickhouseURL(), "database": hostFilterDB})
	aOnly := e.ctx("hostfilter-a-uid", map[string]any{"url": clickhouseURL(), "database": onlyA})
	answer := func(pc backend.PluginContext, model string) string {
		t.Helper()
		return e.framesJSON(pc, model, "hostfilter-uid")
	}
	for _, model := range []string{
		`{"queryType":"red","metric":"request_rate"}`,
		`{"queryType":"red","metric":"error_ratio","group_by":["service"]}`,
		`{"queryType":"red","metric":"latency_p99","group_by":["endpoint"]}`,
		`{"queryType":"map"}`,
		`{"queryType":"sql_log","format":"table","limit":100}`,
		`{"queryType":"trace_search","limit":50}`,
		`{"queryType":"flow_log","format":"table","limit":100}`,
		`{"queryType":"net_metrics","metric":"byte_rate"}`,
		`{"queryType":"flamegraph","event":"on_cpu"}`,
		`{"queryType":"annotations","annotation":"error_spike","threshold":0.1}`,
		`{"queryType":"annotations","annotation":"new_service"}`,
		`{"queryType":"annotations","annotation":"agent_restart"}`,
		`{"queryType":"annotations","annotation":"agent_stop"}`,
	} {
		filtered := strings.Replace(model, "{", `{"tags":{"host":["host-a"]},`, 1)
		want, all := answer(aOnly, filtered), answer(mixed, model)
		got := answer(mixed, filtered)
		if got != want {
			t.Errorf("%s on both hosts:\n%s\nwant host-a's alone:\n%s", filtered, got, want)
		}
		if got == all {
			t.Errorf("%s: host-b's rows not excluded (the same answer as without the filter)", filtered)
		}
	}
	// a map filtered by a tag keeps its edges' TCP health (net_metrics read with the same filter): host-a's
	// shop-web→shop-db, 2 of 20 segments retransmitted, RTT 0.3 ms
	if got := answer(mixed, `{"tags":{"host":["host-a"]},"queryType":"map"}`); !strings.Contains(got, "10.0% retransmitted") || strings.Contains(got, "blog") {
		t.Errorf("the host-a map lacks its edge's network health, or shows host-b's: %s", got)
	}
	// agent events: the host option and the host tag both hold
	if got := answer(mixed, `{"queryType":"annotations","annotation":"agent_stop","host":["host-a","host-b"],"tags":{"host":["host-b"]}}`); !strings.Contains(got, "host=host-b") || strings.Contains(got, "host=host-a") {
		t.Errorf("agent stops of host and tags.host host-b: %s", got)
	}

	// the host variable's options: every host, or the hosts of a team's services' processes
	for _, c := range []struct{ tags, want string }{
		{"", `{"values":["host-a","host-b"]}`},
		{`{"team":["shop"]}`, `{"values":["host-a"]}`},
		{`{"team":["blog","shop"]}`, `{"values":["host-a","host-b"]}`},
		{`{"team":["nobody"]}`, `{"values":[]}`},
		{`{"process":["blog-db"]}`, `{"values":["host-b"]}`},
	} {
		q := url.Values{"tag": {"host"}, "from": {fmt.Sprint(int64(t0) * 1000)}, "to": {fmt.Sprint(int64(t0+120) * 1000)}}
		if c.tags != "" {
			q.Set("tags", c.tags)
		}
		res, err := host.CallResource(context.Background(), &backend.CallResourceRequest{
			PluginContext: mixed, Path: "tag-values", Method: "GET", URL: "/tag-values?" + q.Encode(),
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.TrimSpace(string(res.Body)); res.Status != 200 || got != c.want {
			t.Errorf("host values of %q: %d %s, want %s", c.tags, res.Status, got, c.want)
		}
	}
	// the teams' own values are narrowed alike (business tags by service)
	res, err := host.CallResource(context.Background(), &backend.CallResourceRequest{
		PluginContext: mixed, Path: "tag-values", Method: "GET",
		URL: "/tag-values?" + url.Values{"tag": {"team"}, "tags": {`{"host":["host-b"]}`}, "from": {fmt.Sprint(int64(t0) * 1000)}, "to": {fmt.Sprint(int64(t0+120) * 1000)}}.Encode(),
	})
	if err != nil || res.Status != 200 || strings.TrimSpace(string(res.Body)) != `{"values":["blog"]}` {
		t.Errorf("teams of host-b: %v %d %s", err, res.Status, res.Body)
	}
	res, err = host.CallResource(context.Background(), &backend.CallResourceRequest{
		PluginContext: mixed, Path: "tag-values", Method: "GET", URL: "/tag-values?tag=host&tags=%7Bnope",
	})
	if err != nil || res.Status != 400 {
		t.Errorf("bad tags: %v %d %s, want a 400", err, res.Status, res.Body)
	}
}

// framesJSON is a query's frames over [t0, t0+120] as JSON without their meta (the executed SQL names the
// database), every datasource uid in them (data links) written as uid: answers over two databases compare.
// No rows at all is an error.
func (e *env) framesJSON(pc backend.PluginContext, model, uid string) string {
	t := e.t
	t.Helper()
	res := e.query(pc, t0, t0+120, time.Second, model)
	if res.Error != nil {
		t.Fatalf("%s: %v", model, res.Error)
	}
	var out []string
	rows := 0
	for _, f := range res.Frames {
		f.Meta = nil
		rows += f.Rows()
		b, err := json.Marshal(data.Frames{f})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	if rows == 0 {
		t.Errorf("%s: no rows", model)
	}
	return strings.ReplaceAll(strings.Join(out, "\n"), pc.DataSourceInstanceSettings.UID, uid)
}

// A service on two hosts (shop-db on host-a, and a replica on host-c whose process is the newer): the host
// filter counts each metrics row on the host that saw its end there, not on the service's newest process's
// host (which counted all of shop-db's rows on host-c and none on host-a).
func TestHostFilterReplicatedService(t *testing.T) {
	admin(t, "SELECT 1")
	const db = "flowlens_gotest_hostreplica"
	dbs := map[string]string{"": db, "host-a": db + "_a", "host-c": db + "_c"}
	at := time.Unix(t0, 0).UTC()
	ts := func(s int) string { return at.Add(time.Duration(s) * time.Second).Format("2006-01-02 15:04:05") }
	for only, name := range dbs {
		freshSchema(t, name)
		insertRows(t, name, "process_tags", []map[string]any{
			{"time": ts(0), "host": "host-a", "pid": 10, "start_time": 100, "process": "shop-web", "service": "shop-web"},
			{"time": ts(0), "host": "host-a", "pid": 11, "start_time": 100, "process": "shop-db", "service": "shop-db"},
			{"time": ts(1), "host": "host-c", "pid": 31, "start_time": 200, "process": "shop-db", "service": "shop-db"},
		})
		var metrics, nets []map[string]any
		for _, h := range []struct {
			host      string
			requests  int
			bytesSent int
		}{{"host-a", 40, 1000}, {"host-c", 25, 3000}} {
			if only != "" && only != h.host {
				continue
			}
			for _, s := range []int{10, 70} {
				metrics = append(metrics, map[string]any{
					"time": ts(s), "host": h.host, "observation_point": "server_process", "client_service": "shop-web", "server_service": "shop-db",
					"l7_protocol": "HTTP", "endpoint": "/q", "request_count": h.requests, "error_count": 1,
					"response_duration_sum_us": h.requests * 2000, "response_duration_max_us": 9000,
				})
				nets = append(nets, map[string]any{
					"time": ts(s), "host": h.host, "observation_point": "server_process", "client_service": "shop-web", "server_service": "shop-db",
					"server_port": 5432, "byte_tx": h.bytesSent, "packet_tx": 10, "new_flow_count": 1, "rtt_sum_us": 300, "rtt_count": 1,
				})
			}
		}
		insertRows(t, name, "app_metrics", metrics)
		insertRows(t, name, "net_metrics", nets)
	}
	host, err := pluginhost.Start(context.Background(), buildPlugin(t), pluginhost.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	e := &env{t: t, host: host}
	pcs := map[string]backend.PluginContext{}
	for only, name := range dbs {
		pcs[only] = e.ctx("replica-"+only, map[string]any{"url": clickhouseURL(), "database": name})
	}
	// model, host, and whose rows answer: RED filters the server, so each host has its own; the map and network
	// metrics keep a row when either end is on the host, so host-a (shop-web's only host) keeps host-c's rows too
	for _, c := range []struct{ model, host, rowsOf string }{
		{`{"queryType":"red","metric":"request_rate"}`, "host-a", "host-a"},
		{`{"queryType":"red","metric":"request_rate"}`, "host-c", "host-c"},
		{`{"queryType":"red","metric":"latency_avg","group_by":["service"]}`, "host-a", "host-a"},
		{`{"queryType":"red","metric":"latency_avg","group_by":["service"]}`, "host-c", "host-c"},
		{`{"queryType":"net_metrics","metric":"byte_rate"}`, "host-c", "host-c"},
		{`{"queryType":"net_metrics","metric":"byte_rate"}`, "host-a", ""},
		{`{"queryType":"map"}`, "host-c", "host-c"},
		{`{"queryType":"map"}`, "host-a", ""},
		// grouped by a tag (the dashboards' map): the host still filters the rows, the grouping names the nodes
		{`{"queryType":"map","group_by":["process"]}`, "host-c", "host-c"},
	} {
		filtered := strings.Replace(c.model, "{", `{"tags":{"host":["`+c.host+`"]},`, 1)
		got, want := e.framesJSON(pcs[""], filtered, "ds"), e.framesJSON(pcs[c.rowsOf], c.model, "ds")
		if got != want {
			t.Errorf("%s over both hosts:\n%s\nwant the rows of %q alone:\n%s", filtered, got, c.rowsOf, want)
		}
	}
}
