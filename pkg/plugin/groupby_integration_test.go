package plugin_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/flowlens/flowlens/pkg/dataplane"
	"github.com/flowlens/flowlens/pkg/pluginhost"
)

const groupByDB = "flowlens_gotest_groupby"

// Network metrics, flows and profiles grouped by a tag of their ends, on the real ClickHouse: the
// resource tags of each end's process (by host and pid at the row's time: pid 700 is reused by a
// new workload at second 61), business tags by service, an end without the tag named by its
// service (the map's rule).
func TestGroupByTagIntegration(t *testing.T) {
	freshSchema(t, groupByDB)
	at := time.Unix(t0, 0).UTC()
	ts := func(s int) string { return at.Add(time.Duration(s) * time.Second).Format("2006-01-02 15:04:05") }
	// pid 700 (service orders) is orders-v1 until second 60, then a new process reuses it (orders-v2);
	// pid 710 (service orders-canary) is orders-v2 too; 800 the database, 900 the web front; 999
	// (service batch) has no process tags.
	insertRows(t, groupByDB, "process_tags", []map[string]any{
		{"time": ts(0), "host": "vm", "pid": 700, "start_time": 1000, "process": "orders", "service": "orders", "workload_name": "orders-v1"},
		{"time": ts(30), "host": "vm", "pid": 700, "start_time": 1000, "process": "orders", "service": "orders", "workload_name": "orders-v1"},
		{"time": ts(61), "host": "vm", "pid": 700, "start_time": 7000, "process": "orders", "service": "orders", "workload_name": "orders-v2"},
		{"time": ts(0), "host": "vm", "pid": 710, "start_time": 1500, "process": "orders", "service": "orders-canary", "workload_name": "orders-v2"},
		{"time": ts(0), "host": "vm", "pid": 800, "start_time": 500, "process": "db", "service": "orders-db", "workload_name": "orders-db"},
		{"time": ts(0), "host": "vm", "pid": 900, "start_time": 600, "process": "web", "service": "web", "workload_name": "web"},
	})
	team := func(subject, value string) map[string]any {
		return map[string]any{"time": ts(0), "changed_us": at.UnixMicro(), "kind": "service", "subject": subject, "key": "team", "value": value}
	}
	insertRows(t, groupByDB, "business_tags", []map[string]any{
		team("orders", "shop"), team("orders-canary", "shop"), team("web", "shop"), team("orders-db", "data"),
	})

	// net_metrics: per service pair; the server end's rows are the preferred point, the client end's
	// (doubled bytes) must not count.
	net := func(s int, client, server, point string, bytes, retrans int) map[string]any {
		return map[string]any{"time": ts(s), "host": "vm", "observation_point": point, "client_service": client, "server_service": server,
			"server_port": 80, "byte_tx": bytes, "packet_tx": 10, "retrans_count": retrans, "new_flow_count": 1}
	}
	insertRows(t, groupByDB, "net_metrics", []map[string]any{
		net(10, "web", "orders", "server_process", 1000, 1), net(10, "web", "orders", "client_process", 2000, 0),
		net(20, "web", "orders-canary", "server_process", 500, 2),
		net(30, "orders", "orders-db", "server_process", 300, 0),
		net(40, "batch", "orders-db", "server_process", 70, 4),
	})
	// l4_flow_log: flow 1 (web → pid 700 while orders-v1) reported twice, flow 2 (the same pids
	// while orders-v2), flow 3 a failed connect then; orders → db from both eras; batch → db.
	flow := func(s, id, clientPid, serverPid int, client, server string, tx, rx, retrans, rst, failed int) map[string]any {
		return map[string]any{"time": ts(s), "start_time_us": at.Add(time.Duration(s-1) * time.Second).UnixMicro(), "end_time_us": at.Add(time.Duration(s) * time.Second).UnixMicro(),
			"host": "vm", "observation_point": "server_process", "l4_protocol": "TCP", "flow_id": id,
			"client_pid": clientPid, "server_pid": serverPid, "client_service": client, "server_service": server,
			"client_ip": "10.0.0.1", "client_port": 40000 + id, "server_ip": "10.0.0.2", "server_port": 80,
			"byte_tx": tx, "byte_rx": rx, "retrans_count": retrans, "rst_count": rst, "conn_failed": failed, "rtt_us": 100 * id}
	}
	insertRows(t, groupByDB, "l4_flow_log", []map[string]any{
		flow(10, 1, 900, 700, "web", "orders", 100, 1000, 1, 0, 0),
		flow(50, 1, 900, 700, "web", "orders", 50, 500, 0, 0, 0),
		flow(65, 2, 900, 700, "web", "orders", 10, 20, 0, 0, 0),
		flow(90, 3, 900, 700, "web", "orders", 0, 0, 0, 1, 1),
		flow(20, 4, 700, 800, "orders", "orders-db", 7, 8, 0, 0, 0),
		flow(70, 5, 700, 800, "orders", "orders-db", 3, 4, 2, 0, 0),
		flow(80, 6, 999, 800, "batch", "orders-db", 1, 1, 0, 0, 0),
	})
	// profile_samples: pid 700 in both eras, the database, and batch (no tags)
	samples := []map[string]any{
		profileRow(10, 700, 700, "orders", "orders", "on_cpu", 5, "main", "handle"),
		profileRow(70, 700, 700, "orders", "orders", "on_cpu", 7, "main", "handle"),
		profileRow(20, 800, 800, "db", "orders-db", "on_cpu", 3, "main", "scan"),
		profileRow(25, 999, 999, "batch", "batch", "on_cpu", 2, "main", "handle"),
	}
	for _, s := range samples {
		s["host"] = "vm"
	}
	insertRows(t, groupByDB, "profile_samples", samples)

	host, err := pluginhost.Start(context.Background(), buildPlugin(t), pluginhost.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	e := &env{t: t, host: host}
	pc := e.ctx("groupby-uid", map[string]any{"url": clickhouseURL(), "database": groupByDB, "username": local.Reader})
	from, to := int64(t0-5), int64(t0+114)

	// net_metrics by workload: services keyed to their newest workload (orders: orders-v2, merged
	// with orders-canary), batch by its name; one alertable series per (metric, pair).
	netSums := func(model, label string) map[string]float64 {
		t.Helper()
		res := e.query(pc, from, to, 120*time.Second, model)
		if res.Error != nil {
			t.Fatal(res.Error)
		}
		all, err := dataplane.CheckAlertable(res.Frames)
		if err != nil {
			t.Fatalf("%s: not an alerting input: %v", model, err)
		}
		out := map[string]float64{}
		for _, s := range all {
			if _, ok := s.Labels["client_service"]; ok {
				t.Errorf("%s: series %v keeps the service labels", model, s.Labels)
			}
			for _, v := range s.Values {
				if v != nil {
					out[s.Labels["client_"+label]+"->"+s.Labels["server_"+label]+" "+s.Name] += *v
				}
			}
		}
		return out
	}
	got := netSums(`{"queryType":"net_metrics","group_by":"workload","metric":"byte_rate"}`, "workload")
	want := map[string]float64{"web->orders-v2 byte_rate": 1500.0 / 120, "orders-v2->orders-db byte_rate": 300.0 / 120, "batch->orders-db byte_rate": 70.0 / 120}
	expectSums(t, "net_metrics by workload", got, want)
	got = netSums(`{"queryType":"net_metrics","group_by":["team"],"metric":"retrans_rate"}`, "team")
	want = map[string]float64{"shop->shop retrans_rate": 3.0 / 120, "shop->data retrans_rate": 0, "batch->data retrans_rate": 4.0 / 120}
	expectSums(t, "net_metrics by team", got, want)
	// every point its own series (observation_point a label): the client end's 2000 bytes too
	got = netSums(`{"queryType":"net_metrics","group_by":"workload","metric":"byte_rate","observation_point":"all"}`, "workload")
	want = map[string]float64{"web->orders-v2 byte_rate": 3500.0 / 120, "orders-v2->orders-db byte_rate": 300.0 / 120, "batch->orders-db byte_rate": 70.0 / 120}
	expectSums(t, "net_metrics by workload, all points", got, want)
	// a tag filter keeps working beside the grouping
	got = netSums(`{"queryType":"net_metrics","group_by":"team","metric":"retrans_rate","tags":{"workload":["orders-db"]}}`, "team")
	want = map[string]float64{"shop->data retrans_rate": 0, "batch->data retrans_rate": 4.0 / 120}
	expectSums(t, "net_metrics by team to orders-db", got, want)
	// all metrics: one series per (metric, pair), labels unique (CheckAlertable above); 3 pairs x 7 metrics
	res := e.query(pc, from, to, 120*time.Second, `{"queryType":"net_metrics","group_by":"workload"}`)
	if all, err := dataplane.CheckAlertable(res.Frames); res.Error != nil || err != nil || len(all) != 21 {
		t.Errorf("net_metrics by workload, all metrics: %d series, %v %v", len(all), res.Error, err)
	}
	res = e.query(pc, from, to, 120*time.Second, `{"queryType":"net_metrics","group_by":"workload","observation_point":"all","metric":"byte_rate"}`)
	if all, err := dataplane.CheckAlertable(res.Frames); res.Error != nil || err != nil || len(all) != 4 {
		t.Errorf("net_metrics by workload at every point: %d series (want 4: web->orders-v2 at both ends), %v %v", len(all), res.Error, err)
	}

	// flow_log by workload: the pid reused at second 61 splits web → orders into the two eras
	flows := func(model, tag string) string {
		t.Helper()
		res := e.query(pc, from, to, time.Second, model)
		if res.Error != nil {
			t.Fatal(res.Error)
		}
		if len(res.Frames) != 1 {
			t.Fatalf("%s: %d frames", model, len(res.Frames))
		}
		fm := fieldMap(t, res.Frames[0])
		var rows []string
		for i := 0; i < res.Frames[0].Rows(); i++ {
			rows = append(rows, fmt.Sprintf("%v->%v@%v flows=%v failed=%v tx=%v rx=%v retrans=%v rst=%v rtt=%v",
				fm["client_"+tag].At(i), fm["server_"+tag].At(i), fm["observation_point"].At(i), fm["flows"].At(i), fm["conn_failed"].At(i),
				fm["byte_tx"].At(i), fm["byte_rx"].At(i), fm["retrans_count"].At(i), fm["rst_count"].At(i), fm["rtt_avg_us"].At(i)))
		}
		sort.Strings(rows)
		return strings.Join(rows, "\n")
	}
	expectText(t, "flows by workload", flows(`{"queryType":"flow_log","group_by":"workload"}`, "workload"), `
batch->orders-db@server_process flows=1 failed=0 tx=1 rx=1 retrans=0 rst=0 rtt=600
orders-v1->orders-db@server_process flows=1 failed=0 tx=7 rx=8 retrans=0 rst=0 rtt=400
orders-v2->orders-db@server_process flows=1 failed=0 tx=3 rx=4 retrans=2 rst=0 rtt=500
web->orders-v1@server_process flows=1 failed=0 tx=150 rx=1500 retrans=1 rst=0 rtt=100
web->orders-v2@server_process flows=2 failed=1 tx=10 rx=20 retrans=0 rst=1 rtt=250`)
	expectText(t, "flows by team", flows(`{"queryType":"flow_log","group_by":["team"]}`, "team"), `
batch->data@server_process flows=1 failed=0 tx=1 rx=1 retrans=0 rst=0 rtt=600
shop->data@server_process flows=2 failed=0 tx=10 rx=12 retrans=2 rst=0 rtt=450
shop->shop@server_process flows=3 failed=1 tx=160 rx=1520 retrans=1 rst=1 rtt=175`)
	// filters before grouping: failed connects only; a tag filter on the other end
	expectText(t, "failed connects by workload", flows(`{"queryType":"flow_log","group_by":"workload","conn_failed":true}`, "workload"), `
web->orders-v2@server_process flows=1 failed=1 tx=0 rx=0 retrans=0 rst=1 rtt=300`)
	expectText(t, "flows of orders-v1 by workload", flows(`{"queryType":"flow_log","group_by":"workload","tags":{"workload":["orders-v1"]}}`, "workload"), `
orders-v1->orders-db@server_process flows=1 failed=0 tx=7 rx=8 retrans=0 rst=0 rtt=400
web->orders-v1@server_process flows=1 failed=0 tx=150 rx=1500 retrans=1 rst=0 rtt=100`)
	if res := e.query(pc, from, to, time.Second, `{"queryType":"flow_log","group_by":"workload","format":"logs"}`); res.Error == nil {
		t.Error("flow groups as log lines: accepted")
	}

	// flame graph by workload: pid 700's samples under the workload of their time
	flame := func(model string) map[string]string {
		t.Helper()
		return flamePaths(t, e.query(pc, from, to, time.Second, model))
	}
	expectPaths(t, flame(`{"queryType":"flamegraph","group_by":"workload"}`), map[string]string{
		"total":           "17/0",
		"total;orders-v1": "5/0", "total;orders-v1;main": "5/0", "total;orders-v1;main;handle": "5/5",
		"total;orders-v2": "7/0", "total;orders-v2;main": "7/0", "total;orders-v2;main;handle": "7/7",
		"total;orders-db": "3/0", "total;orders-db;main": "3/0", "total;orders-db;main;scan": "3/3",
		"total;batch": "2/0", "total;batch;main": "2/0", "total;batch;main;handle": "2/2",
	})
	expectPaths(t, flame(`{"queryType":"flamegraph","group_by":"team","tags":{"workload":["orders-v2","orders-db"]}}`), map[string]string{
		"total":      "10/0",
		"total;shop": "7/0", "total;shop;main": "7/0", "total;shop;main;handle": "7/7",
		"total;data": "3/0", "total;data;main": "3/0", "total;data;main;scan": "3/3",
	})
	// a diff grouped: the baseline (the first minute) on the left, the second minute on the right
	diff := fmt.Sprintf(`{"queryType":"flamegraph","group_by":"workload","baselineFrom":%d,"baselineTo":%d}`, (t0-5)*1000, (t0+59)*1000)
	expectPaths(t, flamePaths(t, e.query(pc, t0+60, t0+114, time.Second, diff)), map[string]string{
		"total":           "10/0 7/0",
		"total;orders-v1": "5/0 0/0", "total;orders-v1;main": "5/0 0/0", "total;orders-v1;main;handle": "5/5 0/0",
		"total;orders-v2": "0/0 7/0", "total;orders-v2;main": "0/0 7/0", "total;orders-v2;main;handle": "0/0 7/7",
		"total;orders-db": "3/0 0/0", "total;orders-db;main": "3/0 0/0", "total;orders-db;main;scan": "3/3 0/0",
		"total;batch": "2/0 0/0", "total;batch;main": "2/0 0/0", "total;batch;main;handle": "2/2 0/0",
	})
	if host.Exited() {
		t.Error("plugin process died during the test")
	}
}

func expectSums(t *testing.T, what string, got, want map[string]float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %v, want %v", what, got, want)
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || !near(g, v) {
			t.Errorf("%s: %s = %v, want %v (all: %v)", what, k, g, v, got)
		}
	}
}

func expectText(t *testing.T, what, got, want string) {
	t.Helper()
	if want = strings.TrimSpace(want); got != want {
		t.Errorf("%s:\n%s\nwant\n%s", what, got, want)
	}
}
