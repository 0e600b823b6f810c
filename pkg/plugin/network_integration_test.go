package plugin_test

// The network query types (flow_log, net_metrics, netprofile) through the plugin binary over gRPC
// against the real ClickHouse, on rows the REAL agent captured in the namespace test bed
// (testdata/netcapture, recorded by test/e2e/netcapture/recordNetCapture.ts: 5% receive-side loss,
// nftables resets on SYN and on data, a stopped reader, a keep-alive client thinking 200 ms between
// requests, a 50 ms toxiproxy hop). Each query must give the figures the network end-to-end tests
// assert (tcpFlows.e2e, networkProfile.e2e) and that recording holds.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/flowlens/flowlens/pkg/dataplane"
	"github.com/flowlens/flowlens/pkg/pluginhost"
)

const netDB = "flowlens_gotest_network"

// netRecording is testdata/netcapture/recording.json: what was captured, where and when.
type netRecording struct {
	Recorded struct{ From, To time.Time }
	Hosts    map[string]struct{ IP, Netns string }
	Ports    map[string]int
	Scenario struct {
		BigBytes, ThinkMs, ProxyMs, RefusedAttempts int
	} `json:"scenarios"`
	Kernel struct {
		ServerTcpRetransSegs int
	}
}

// loadNetCapture reads the recording and its rows (table → rows, numbers exact).
func loadNetCapture(t *testing.T) (netRecording, map[string][]map[string]any) {
	t.Helper()
	dir := filepath.Join("testdata", "netcapture")
	var rec netRecording
	raw, err := os.ReadFile(filepath.Join(dir, "recording.json"))
	if err == nil {
		err = json.Unmarshal(raw, &rec)
	}
	if err != nil {
		t.Fatal(err)
	}
	return rec, loadTables(t, dir, []string{"l4_flow_log", "net_metrics", "tcp_timeline", "l7_flow_log", "app_metrics"})
}

// loadTables reads recorded tables (dir/<table>.jsonl) as rows, numbers exact.
func loadTables(t *testing.T, dir string, names []string) map[string][]map[string]any {
	t.Helper()
	tables := map[string][]map[string]any{}
	for _, table := range names {
		raw, err := os.ReadFile(filepath.Join(dir, table+".jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(raw))
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		for sc.Scan() {
			d := json.NewDecoder(bytes.NewReader(sc.Bytes()))
			d.UseNumber()
			var row map[string]any
			if err := d.Decode(&row); err != nil {
				t.Fatalf("%s: %v", table, err)
			}
			tables[table] = append(tables[table], row)
		}
	}
	return tables
}

func n64(v any) int64 {
	switch x := v.(type) {
	case json.Number:
		i, _ := x.Int64()
		return i
	case string:
		var i int64
		fmt.Sscan(x, &i)
		return i
	case int64:
		return x
	}
	panic(fmt.Sprintf("not a number: %T %v", v, v))
}

// where counts the rows of table that match every column = value pair.
func where(rows []map[string]any, match map[string]any) []map[string]any {
	var out []map[string]any
	for _, r := range rows {
		ok := true
		for k, v := range match {
			ok = ok && fmt.Sprint(r[k]) == fmt.Sprint(v)
		}
		if ok {
			out = append(out, r)
		}
	}
	return out
}

func TestNetworkIntegration(t *testing.T) {
	admin(t, "SELECT 1")
	rec, rows := loadNetCapture(t)
	freshSchema(t, netDB)
	for table, rs := range rows {
		insertRows(t, netDB, table, rs)
	}
	host, err := pluginhost.Start(context.Background(), buildPlugin(t), pluginhost.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	e := &env{t: t, host: host}
	pc := e.ctx("net-uid", map[string]any{"url": clickhouseURL(), "database": netDB, "username": local.Reader})
	from, to := rec.Recorded.From.Unix()-60, rec.Recorded.To.Unix()+60
	run := func(model string) backend.DataResponse {
		t.Helper()
		res := e.query(pc, from, to, time.Second, model)
		if res.Error != nil {
			t.Fatalf("%s: %v", model, res.Error)
		}
		return res
	}
	l4 := rows["l4_flow_log"]
	client, server, gw := rec.Hosts["client"].IP, rec.Hosts["server"].IP, rec.Hosts["gw"].IP

	t.Run("flow_log", func(t *testing.T) {
		flows := func(model string) *data.Frame {
			t.Helper()
			res := run(model)
			if len(res.Frames) != 1 {
				t.Fatalf("%s: %d frames", model, len(res.Frames))
			}
			return res.Frames[0]
		}
		all := flows(`{"queryType":"flow_log"}`)
		if all.Rows() != len(l4) || all.Rows() != 40 {
			t.Errorf("all flows: %d rows, recorded %d", all.Rows(), len(l4))
		}
		// clean transfers: one row per connection at each end, the body plus python's headers back
		clean := fieldMap(t, flows(`{"queryType":"flow_log","service":"files-clean"}`))
		if n := clean["byte_rx"].Len(); n != 6 {
			t.Fatalf("files-clean: %d rows, want 3 connections x 2 ends", n)
		}
		for i := 0; i < 6; i++ {
			rx := clean["byte_rx"].At(i).(int64)
			if rx < int64(rec.Scenario.BigBytes) || rx >= int64(rec.Scenario.BigBytes)+1000 || clean["retrans_count"].At(i).(int64) != 0 ||
				clean["close_type"].At(i) != "normal" || clean["client_process"].At(i) != "curl" || clean["server_process"].At(i) != "python3" {
				t.Errorf("clean flow %d: rx %d retrans %v close %v", i, rx, clean["retrans_count"].At(i), clean["close_type"].At(i))
			}
		}
		// 5% loss: min_retrans finds exactly the lossy transfers, at the server that resent, and
		// their retransmissions are the kernel's own count for the server's namespace
		lossy := fieldMap(t, flows(`{"queryType":"flow_log","min_retrans":1}`))
		var retrans int64
		for i := 0; i < lossy["retrans_count"].Len(); i++ {
			retrans += lossy["retrans_count"].At(i).(int64)
			if lossy["server_service"].At(i) != "files-lossy" || lossy["observation_point"].At(i) != "server_process" {
				t.Errorf("retransmitting flow %d: %v at %v", i, lossy["server_service"].At(i), lossy["observation_point"].At(i))
			}
		}
		if lossy["retrans_count"].Len() != 3 || retrans != int64(rec.Kernel.ServerTcpRetransSegs) {
			t.Errorf("lossy flows %d, retransmissions %d, kernel TcpRetransSegs %d", lossy["retrans_count"].Len(), retrans, rec.Kernel.ServerTcpRetransSegs)
		}
		// resets: failed connects with the RST from the server; the mid-flow reset
		failed := fieldMap(t, flows(`{"queryType":"flow_log","conn_failed":true}`))
		if failed["close_type"].Len() != rec.Scenario.RefusedAttempts {
			t.Fatalf("failed connects: %d, want %d", failed["close_type"].Len(), rec.Scenario.RefusedAttempts)
		}
		for i := 0; i < failed["close_type"].Len(); i++ {
			if failed["close_type"].At(i) != "connect_failed" || failed["rst_sender"].At(i) != "server" || failed["server_service"].At(i) != "refuser" ||
				failed["server_port"].At(i) != fmt.Sprint(rec.Ports["refused"]) {
				t.Errorf("failed connect %d: %v %v %v", i, failed["close_type"].At(i), failed["rst_sender"].At(i), failed["server_service"].At(i))
			}
		}
		reset := fieldMap(t, flows(`{"queryType":"flow_log","close_type":"reset_by_server","rst_sender":["server"]}`))
		if reset["close_type"].Len() != 1 || reset["server_service"].At(0) != "resetter" || reset["conn_failed"].At(0).(int64) != 0 {
			t.Errorf("reset mid-flow: %d rows", reset["close_type"].Len())
		}
		// the stopped reader: the sender saw its zero window
		slow := fieldMap(t, flows(`{"queryType":"flow_log","service":"files-slow","observation_point":"server_process"}`))
		if slow["zero_window_count"].Len() != 1 || slow["zero_window_count"].At(0).(int64) < 1 || slow["close_type"].At(0) != "normal" {
			t.Errorf("stopped reader: %d rows, zero windows %v", slow["zero_window_count"].Len(), slow["zero_window_count"].At(0))
		}
		// both ends' filters and min RTT, against the recorded rows
		both := flows(fmt.Sprintf(`{"queryType":"flow_log","client_process":"curl","server_process":"toxiproxy-serve","client_ip":%q,"server_ip":%q,"server_port":"%d"}`, client, gw, rec.Ports["proxy"]))
		if want := len(where(l4, map[string]any{"client_process": "curl", "server_process": "toxiproxy-serve", "server_port": rec.Ports["proxy"]})); both.Rows() != want || want != 10 {
			t.Errorf("curl -> toxiproxy: %d rows, recorded %d", both.Rows(), want)
		}
		slowRTT := 0
		for _, r := range l4 {
			if n64(r["rtt_us"]) >= 300 {
				slowRTT++
			}
		}
		if got := flows(`{"queryType":"flow_log","min_rtt_ms":"0.3"}`).Rows(); got != slowRTT || slowRTT == 0 {
			t.Errorf("min_rtt_ms 0.3: %d rows, recorded %d", got, slowRTT)
		}
		// logs frame: data-plane log lines, severity from the flow's health
		logs := flows(`{"queryType":"flow_log","format":"logs","service":["refuser","files-lossy","files-clean"],"observation_point":"client_process"}`)
		if logs.Meta.Type != data.FrameTypeLogLines || logs.Fields[0].Name != "timestamp" || logs.Fields[1].Name != "body" || logs.Fields[2].Name != "severity" {
			t.Fatalf("logs frame: %v %v", logs.Meta.Type, logs.Fields[0].Name)
		}
		lf := fieldMap(t, logs)
		sev := map[string]int{}
		for i := 0; i < logs.Rows(); i++ {
			sev[fmt.Sprint(lf["server_service"].At(i), "=", lf["severity"].At(i))]++
		}
		if want := map[string]int{"refuser=error": 3, "files-lossy=info": 3, "files-clean=info": 3}; fmt.Sprint(sev) != fmt.Sprint(want) {
			t.Errorf("severities %v, want %v (the client's socket resends nothing: its rows are clean)", sev, want)
		}
		logs = flows(`{"queryType":"flow_log","format":"logs","min_retrans":1}`)
		if body := fmt.Sprint(fieldMap(t, logs)["body"].At(0)); fieldMap(t, logs)["severity"].At(0) != "warning" || !strings.Contains(body, "retransmissions") || !strings.Contains(body, "files-lossy") {
			t.Errorf("lossy log line: %s", body)
		}

		// the links of the think-time flow's row: its network profile and its request logs
		think := where(l4, map[string]any{"server_service": "web", "client_process": "node", "observation_point": "client_process"})
		if len(think) != 1 {
			t.Fatalf("think-time flow: %d rows", len(think))
		}
		f := flows(fmt.Sprintf(`{"queryType":"flow_log","client_port":%v,"server_port":%d,"observation_point":"client_process"}`, think[0]["client_port"], rec.Ports["web"]))
		links := fieldMap(t, f)["flow_id"].Config.Links
		if f.Rows() != 1 || len(links) != 2 {
			t.Fatalf("think-time flow: %d rows, %d links", f.Rows(), len(links))
		}
		profile := run(interpolate(t, f, links[0], "flow_id", 0))
		if len(profile.Frames) != 3 || len(pointsOf(profile.Frames[2])) != 2 {
			t.Errorf("the profile link: %d frames, points %v", len(profile.Frames), pointsOf(profile.Frames[len(profile.Frames)-1]))
		}
		reqs := run(interpolate(t, f, links[1], "flow_id", 0))
		if rf := reqs.Frames[0]; rf.Meta.Type != data.FrameTypeLogLines || rf.Rows() != 12 {
			t.Errorf("the request-logs link: %d rows, want 3 requests x 4 observation points", rf.Rows())
		}
	})

	t.Run("net_metrics", func(t *testing.T) {
		res := run(`{"queryType":"net_metrics"}`)
		// the alerting input's shape, as RED's (pkg/dataplane): every series with labels of its own
		if series, err := dataplane.CheckAlertable(res.Frames); err != nil || len(series) != len(res.Frames) {
			t.Fatalf("net_metrics answer is no alerting input: %v (%d series)", err, len(series))
		}
		totals := map[string]float64{} // "client→server metric" → sum of value × bucket (1 s)
		seen := map[string]bool{}
		for _, f := range res.Frames {
			if f.Meta.Type != data.FrameTypeTimeSeriesMulti || len(f.Fields) != 2 || f.Fields[0].Type() != data.FieldTypeTime ||
				f.Fields[1].Type() != data.FieldTypeNullableFloat64 || f.Rows() != int(to-from+1) {
				t.Fatalf("frame %s is not a labelled numeric time series over every second", f.Name)
			}
			v := f.Fields[1]
			key := v.Name + v.Labels.String()
			if seen[key] {
				t.Errorf("two series %s", key)
			}
			seen[key] = true
			for i := 0; i < f.Rows(); i++ {
				if x := v.At(i).(*float64); x != nil {
					totals[v.Labels["client_service"]+"→"+v.Labels["server_service"]+" "+v.Name] += *x
				}
			}
		}
		var cleanBytes int64
		for _, r := range where(l4, map[string]any{"server_service": "files-clean", "observation_point": "server_process"}) {
			cleanBytes += n64(r["byte_tx"]) + n64(r["byte_rx"])
		}
		for k, want := range map[string]float64{
			"curl→files-lossy retrans_rate":       float64(rec.Kernel.ServerTcpRetransSegs),
			"curl→refuser conn_failed_rate":       float64(rec.Scenario.RefusedAttempts),
			"curl→files-clean byte_rate":          float64(cleanBytes),
			"curl→files-clean retrans_rate":       0,
			"python3→files-slow zero_window_rate": 1,
		} {
			if got, ok := totals[k]; !ok || got != want {
				t.Errorf("%s summed over the range = %v, want %v", k, got, want)
			}
		}
		// the lossy edge's retransmission ratio is above the clean edge's, which is 0
		lossyMax, ok := maxOf(res.Frames, "retrans_ratio", "files-lossy")
		if !ok || lossyMax <= 0.01 {
			t.Errorf("lossy edge retrans_ratio max %v", lossyMax)
		}
		// one metric, every edge at both points: labels stay unique with the point
		res = run(`{"queryType":"net_metrics","metric":"rtt_avg","observation_point":"all","service":"files-lossy"}`)
		if len(res.Frames) != 2 || res.Frames[0].Fields[1].Labels["observation_point"] != "client_process" || res.Frames[1].Fields[1].Labels["observation_point"] != "server_process" {
			t.Errorf("all points: %d frames", len(res.Frames))
		}
		none := run(`{"queryType":"net_metrics","service":"nobody"}`)
		if series, err := dataplane.CheckAlertable(none.Frames); err != nil || len(series) != 0 || len(none.Frames) != 1 {
			t.Errorf("no data: %d frames, %v", len(none.Frames), err)
		}
		small := e.ctx("net-small", map[string]any{"url": clickhouseURL(), "database": netDB, "username": local.Reader, "maxSeries": 2})
		if r := e.query(small, from, to, time.Second, `{"queryType":"net_metrics"}`); r.Error == nil || !strings.Contains(r.Error.Error(), "maxSeries") {
			t.Errorf("series bound: %v", r.Error)
		}
	})

	t.Run("netprofile_summary", func(t *testing.T) {
		res := run(`{"queryType":"netprofile_summary"}`)
		if series, err := dataplane.CheckAlertable(res.Frames); err != nil || len(series) != len(res.Frames) {
			t.Fatalf("netprofile_summary answer is no alerting input: %v (%d series)", err, len(series))
		}
		// per edge and metric: the largest value over the range (each edge at its best point)
		peak := map[string]float64{}
		for _, f := range res.Frames {
			v := f.Fields[1]
			if f.Meta.Type != data.FrameTypeTimeSeriesMulti || f.Rows() != int(to-from+1) || v.Config.Unit != "ms" {
				t.Fatalf("frame %s is not a numeric time series in ms over every second", f.Name)
			}
			for i := 0; i < v.Len(); i++ {
				if x := v.At(i).(*float64); x != nil {
					k := v.Labels["client_service"] + "→" + v.Labels["server_service"] + " " + v.Name
					peak[k] = max(peak[k], *x)
				}
			}
		}
		think := float64(rec.Scenario.ThinkMs)
		for k, want := range map[string][2]float64{
			// the keep-alive client thinking 200 ms between its requests: its waits, at the server's NIC
			"node→web client_wait_avg":     {think, think + 50},
			"node→web client_wait_max":     {think, think + 50},
			"node→web server_response_max": {0, 20},
			// the 50 ms proxy hop: through the proxy the server (toxiproxy) answers after the hop's delay
			// (seen at the client's NIC, the only point of that edge); behind it the server answers in ms
			"curl→slb server_response_avg":            {float64(rec.Scenario.ProxyMs) - 5, float64(rec.Scenario.ProxyMs) + 50},
			"toxiproxy-serve→web server_response_max": {0, float64(rec.Scenario.ProxyMs) - 5},
			// every TCP handshake of the bed is well under a millisecond
			"curl→files-clean conn_latency_max": {0.001, 5},
		} {
			got, ok := peak[k]
			if !ok || got < want[0] || got >= want[1] {
				t.Errorf("%s peaks at %v ms (present %v), want in [%v, %v)", k, got, ok, want[0], want[1])
			}
			t.Logf("measured: %s %.3f ms", k, got)
		}
		// one latency at every point: the label keeps the points apart; the think-time flow seen at both NICs
		res = run(`{"queryType":"netprofile_summary","metric":"client_wait_max","observation_point":"all","service":"web","client_service":"node"}`)
		var points []string
		for _, f := range res.Frames {
			points = append(points, f.Fields[1].Labels["observation_point"])
		}
		if fmt.Sprint(points) != "[client_nic server_nic]" {
			t.Errorf("client_wait_max at every point: %v", points)
		}
		if _, err := dataplane.CheckAlertable(res.Frames); err != nil {
			t.Error(err)
		}
		for _, bad := range []string{`{"queryType":"netprofile_summary","metric":"rtt_avg"}`, `{"queryType":"netprofile_summary","min_retrans":1}`} {
			if r := e.query(pc, from, to, time.Second, bad); r.Error == nil || r.Status != backend.StatusBadRequest {
				t.Errorf("%s: %v %v", bad, r.Status, r.Error)
			}
		}
	})

	t.Run("map", func(t *testing.T) {
		res := run(`{"queryType":"map"}`)
		edges := fieldMap(t, res.Frames[1])
		got := map[string]string{}
		for i := 0; i < res.Frames[1].Rows(); i++ {
			ratio := "-"
			if r := edges["detail__retrans_ratio"].At(i).(*float64); r != nil && *r > 0 {
				ratio = "ratio>0"
			}
			got[fmt.Sprint(edges["source"].At(i), "->", edges["target"].At(i))] = fmt.Sprint(edges["detail__requests"].At(i), " ",
				edges["highlighted"].At(i), " ", edges["detail__retransmissions"].At(i), " ", ratio, " ", edges["detail__network"].At(i))
		}
		for edge, want := range map[string]string{
			// the lossy transfers: every retransmission the kernel counted, the edge marked
			"curl->files-lossy": fmt.Sprintf("3 true %d ratio>0 ", rec.Kernel.ServerTcpRetransSegs),
			"curl->files-clean": "3 false 0 - ok",
			// refused connects carried no request: the network alone shows the edge, and why
			"curl->refuser":       "0 true 0 - 3 failed connections, 3 RSTs",
			"curl->resetter":      "1 true 0 - 1 RST",
			"python3->files-slow": "1 true 0 - 1 zero window",
		} {
			if !strings.HasPrefix(got[edge], want) {
				t.Errorf("edge %s: %q, want %q…", edge, got[edge], want)
			}
		}
		if !strings.Contains(got["curl->files-lossy"], "% retransmitted") {
			t.Errorf("lossy edge's verdict: %q", got["curl->files-lossy"])
		}
		// the full-stack latency per observation point: the 50 ms proxy hop. Through the proxy (curl → slb)
		// every point from curl's process to the proxy's process sees the hop's delay, and the split puts it
		// in the server (the proxy); behind it (toxiproxy-serve → web) every point sees a few ms: the proxy
		// adds the ≈50 ms between its server point and its client point
		at := func(edge, field string) *float64 {
			for i := 0; i < res.Frames[1].Rows(); i++ {
				if fmt.Sprint(edges["source"].At(i), "->", edges["target"].At(i)) == edge {
					return edges[field].At(i).(*float64)
				}
			}
			t.Fatalf("no edge %s", edge)
			return nil
		}
		proxyMs := float64(rec.Scenario.ProxyMs)
		show := func(edge string) string {
			var parts []string
			for _, f := range []string{"latency_client_process", "latency_client_nic", "latency_server_nic", "latency_server_process", "time_in_client", "time_in_network", "time_in_server"} {
				if v := at(edge, "detail__"+f); v != nil {
					parts = append(parts, fmt.Sprintf("%s %.3f", f, *v))
				}
			}
			return strings.Join(parts, ", ")
		}
		for _, f := range []string{"latency_client_process", "latency_client_nic", "latency_server_process", "time_in_server"} {
			if v := at("curl->slb", "detail__"+f); v == nil || *v < proxyMs || *v >= proxyMs+50 {
				t.Errorf("curl -> slb %s: %v ms, want the %v ms hop", f, v, proxyMs)
			}
		}
		if v := at("curl->slb", "detail__latency_server_nic"); v != nil {
			t.Errorf("curl -> slb at a server NIC (gw captures nothing): %v", *v)
		}
		for _, f := range []string{"time_in_client", "time_in_network"} {
			if v := at("curl->slb", "detail__"+f); v == nil || *v >= 5 {
				t.Errorf("curl -> slb %s: %v ms, want under 5", f, v)
			}
		}
		for _, f := range []string{"latency_client_process", "latency_server_nic", "latency_server_process"} {
			if v := at("toxiproxy-serve->web", "detail__"+f); v == nil || *v >= 5 {
				t.Errorf("toxiproxy-serve -> web %s: %v ms, want a few ms behind the hop", f, v)
			}
		}
		if added := *at("curl->slb", "detail__latency_server_process") - *at("toxiproxy-serve->web", "detail__latency_client_process"); added < proxyMs-5 || added >= proxyMs+50 {
			t.Errorf("the proxy adds %.1f ms between its server and client points, want ≈ %v", added, proxyMs)
		}
		// the think-time client: all four points saw its 3 requests, each a few ms
		for _, f := range []string{"latency_client_process", "latency_client_nic", "latency_server_nic", "latency_server_process"} {
			if v := at("node->web", "detail__"+f); v == nil || *v >= 20 {
				t.Errorf("node -> web %s: %v ms", f, v)
			}
		}
		for _, e := range []string{"curl->slb", "toxiproxy-serve->web", "node->web"} {
			t.Logf("measured: %s: %s", e, show(e))
		}
		// the network-only edge has no request to time: no latency at any point
		if at("curl->refuser", "detail__latency_client_process") != nil || at("curl->refuser", "detail__time_in_server") != nil {
			t.Error("curl -> refuser: a latency without requests")
		}
		// filtered by protocol, the map keeps to edges with requests (no network-only edge)
		res = run(`{"queryType":"map","l7_protocol":"HTTP"}`)
		for i := 0; i < res.Frames[1].Rows(); i++ {
			if fieldMap(t, res.Frames[1])["target"].At(i) == "refuser" {
				t.Error("an HTTP map shows the refused connects' edge")
			}
		}
	})

	t.Run("netprofile", func(t *testing.T) {
		tl := rows["tcp_timeline"]
		think := where(tl, map[string]any{"server_ip": server, "server_port": rec.Ports["web"], "server_response_count": 3})
		if len(think) != 2 {
			t.Fatalf("think-time timelines: %d", len(think))
		}
		profile := func(cip string, cport any, sip string, sport any) []*data.Frame {
			t.Helper()
			return run(fmt.Sprintf(`{"queryType":"netprofile","client_ip":%q,"client_port":%v,"server_ip":%q,"server_port":%v}`, cip, cport, sip, sport)).Frames
		}
		frames := profile(client, think[0]["client_port"], server, rec.Ports["web"])
		packets, intervals, latencies := fieldMap(t, frames[0]), fieldMap(t, frames[1]), fieldMap(t, frames[2])
		if got := pointsOf(frames[2]); len(got) != 2 || !strings.HasPrefix(got[0], "client_nic ") || !strings.HasPrefix(got[1], "server_nic ") {
			t.Fatalf("points %v", got)
		}
		if frames[0].Rows() != 32 {
			t.Errorf("%d packets, want the 16 of each NIC", frames[0].Rows())
		}
		kinds := map[string]int{}
		for i := 0; i < frames[0].Rows(); i++ {
			kinds[fmt.Sprint(packets["kind"].At(i))]++
		}
		if kinds["syn"] != 2 || kinds["syn_ack"] != 2 || kinds["data"] != 12 || kinds["fin"] < 2 {
			t.Errorf("packet kinds %v: want a SYN, SYN/ACK, 3 requests and 3 responses and FINs at each NIC", kinds)
		}
		// the derived intervals agree with the agent's own figures; the 200 ms think time is the largest
		byPoint := map[string]map[string][]int64{}
		var largestKind string
		var largest int64
		for i := 0; i < frames[1].Rows(); i++ {
			p, k, d := fmt.Sprint(intervals["point"].At(i)), fmt.Sprint(intervals["kind"].At(i)), intervals["duration_us"].At(i).(int64)
			if byPoint[p] == nil {
				byPoint[p] = map[string][]int64{}
			}
			byPoint[p][k] = append(byPoint[p][k], d)
			if d > largest {
				largest, largestKind = d, k
			}
		}
		if largestKind != "client_wait" || largest < int64(rec.Scenario.ThinkMs-5)*1000 || largest >= int64(rec.Scenario.ThinkMs+200)*1000 {
			t.Errorf("largest interval %s %d µs, want the client wait ≈ %d ms", largestKind, largest, rec.Scenario.ThinkMs)
		}
		for i := 0; i < 2; i++ {
			p := fmt.Sprint(latencies["point"].At(i))
			waits := byPoint[p]["client_wait"]
			sort.Slice(waits, func(a, b int) bool { return waits[a] < waits[b] })
			if len(waits) != 2 || waits[1] != latencies["client_wait_max_us"].At(i).(int64) || (waits[0]+waits[1]+1)/2 != latencies["client_wait_us"].At(i).(int64) ||
				latencies["client_wait_count"].At(i).(int64) != 2 {
				t.Errorf("%s: client waits %v, agent max %v mean %v", p, waits, latencies["client_wait_max_us"].At(i), latencies["client_wait_us"].At(i))
			}
			if len(byPoint[p]["server_response"]) != 3 || len(byPoint[p]["connection"]) != 1 || byPoint[p]["connection"][0] != latencies["conn_latency_us"].At(i).(int64) {
				t.Errorf("%s: %d server responses, connection %v vs agent %v", p, len(byPoint[p]["server_response"]), byPoint[p]["connection"], latencies["conn_latency_us"].At(i))
			}
			for _, d := range byPoint[p]["server_response"] {
				if d >= 100_000 {
					t.Errorf("%s: server response %d µs", p, d)
				}
			}
		}
		// the 50 ms proxy hop: at the client's NIC the server (the proxy) answers after ≥ 45 ms; at
		// the server's NIC (the proxy's flow to it) in a few ms
		for _, tlRow := range where(tl, map[string]any{"server_port": rec.Ports["proxy"]}) {
			fr := profile(client, tlRow["client_port"], gw, rec.Ports["proxy"])
			l := fieldMap(t, fr[2])
			if fr[2].Rows() != 1 || l["server_response_us"].At(0).(int64) < int64(rec.Scenario.ProxyMs-5)*1000 || l["server_response_us"].At(0).(int64) >= int64(rec.Scenario.ProxyMs+100)*1000 {
				t.Errorf("through the proxy at the client NIC: %d points, server response %v", fr[2].Rows(), l["server_response_us"].At(0))
			}
		}
		for _, tlRow := range where(tl, map[string]any{"client_ip": gw, "server_port": rec.Ports["web"]}) {
			l := fieldMap(t, profile(gw, tlRow["client_port"], server, rec.Ports["web"])[2])
			if l["server_response_us"].At(0).(int64) >= int64(rec.Scenario.ProxyMs-5)*1000 {
				t.Errorf("behind the proxy at the server NIC: server response %v", l["server_response_us"].At(0))
			}
		}
		// a lossy transfer: 256 packets drawn of its ~900, retransmissions among them, a notice
		lossy := where(tl, map[string]any{"server_port": rec.Ports["lossy"], "observation_point": "server_nic"})[0]
		fr := profile(client, lossy["client_port"], server, rec.Ports["lossy"])
		rk := map[string]int{}
		pf := fieldMap(t, fr[0])
		for i := 0; i < fr[0].Rows(); i++ {
			rk[fmt.Sprint(pf["kind"].At(i))]++
		}
		l := fieldMap(t, fr[2])
		if fr[0].Rows() != 512 || l["events_stored"].At(0).(int64) != 256 || l["packet_count"].At(0).(int64) != n64(lossy["packet_count"]) || len(fr[0].Meta.Notices) != 2 ||
			!strings.Contains(fr[0].Meta.Notices[0].Text, "of "+fmt.Sprint(n64(lossy["packet_count"]))) {
			t.Errorf("lossy flow: %d packets, stored %v of %v, notices %v", fr[0].Rows(), l["events_stored"].At(0), l["packet_count"].At(0), fr[0].Meta.Notices)
		}
		// a refused connect: the SYN and the server's RST at each NIC
		refused := where(tl, map[string]any{"server_port": rec.Ports["refused"], "observation_point": "server_nic"})[0]
		fr = profile(client, refused["client_port"], server, rec.Ports["refused"])
		pf = fieldMap(t, fr[0])
		var seq []string
		for i := 0; i < fr[0].Rows(); i++ {
			seq = append(seq, fmt.Sprint(pf["observation_point"].At(i), ":", pf["kind"].At(i), ":", pf["direction"].At(i)))
		}
		if want := "[client_nic:syn:client_to_server client_nic:rst:server_to_client server_nic:syn:client_to_server server_nic:rst:server_to_client]"; fmt.Sprint(seq) != want {
			t.Errorf("refused connect: %v", seq)
		}
		// zero windows: the stopped reader's flow advertises them at both NICs (its packets marked, the
		// agent's count over every packet), the healthy flows none
		zeroWindows := func(cip string, cport any, sip string, sport any) (marked int, counted []int64) {
			fr := profile(cip, cport, sip, sport)
			pf, l := fieldMap(t, fr[0]), fieldMap(t, fr[2])
			for i := 0; i < fr[0].Rows(); i++ {
				if pf["zero_window"].At(i).(bool) {
					marked++
					if w := pf["window"].At(i).(*int64); w == nil || *w != 0 {
						t.Errorf("a zero-window packet with window %v", w)
					}
				}
			}
			for i := 0; i < fr[2].Rows(); i++ {
				counted = append(counted, l["zero_window_count"].At(i).(int64))
			}
			return marked, counted
		}
		slowTL := where(tl, map[string]any{"server_port": rec.Ports["slowReader"], "observation_point": "server_nic"})
		if len(slowTL) != 1 {
			t.Fatalf("stopped reader: %d timelines at the server NIC", len(slowTL))
		}
		marked, counted := zeroWindows(client, slowTL[0]["client_port"], server, rec.Ports["slowReader"])
		if len(counted) != 2 || counted[0] < 1 || counted[1] < 1 || marked < 2 || int64(marked) > counted[0]+counted[1] {
			t.Errorf("stopped reader: %d zero-window packets drawn, counted %v per NIC", marked, counted)
		}
		t.Logf("measured: stopped reader %d zero-window packets drawn, counted %v (client NIC, server NIC)", marked, counted)
		for _, healthy := range []map[string]any{think[0], where(tl, map[string]any{"server_port": rec.Ports["clean"], "observation_point": "server_nic"})[0], lossy} {
			if marked, counted := zeroWindows(client, healthy["client_port"], server, healthy["server_port"]); marked != 0 || fmt.Sprint(counted) != "[0 0]" {
				t.Errorf("healthy flow to %v: %d zero-window packets, counted %v", healthy["server_port"], marked, counted)
			}
		}
		// unknown flow: empty frames and a notice; missing ends: the user's error
		fr = profile(client, 1, server, 1)
		if fr[0].Rows() != 0 || len(fr[0].Meta.Notices) != 1 || !strings.Contains(fr[0].Meta.Notices[0].Text, "no packet timeline") {
			t.Errorf("unknown flow: %d rows", fr[0].Rows())
		}
		for _, bad := range []string{`{"queryType":"netprofile","client_ip":"1.2.3.4"}`, `{"queryType":"netprofile","client_ip":"a","client_port":1,"server_ip":"b","server_port":70000}`,
			`{"queryType":"netprofile","client_ip":"a","client_port":1,"server_ip":"b","server_port":2,"service":"x"}`} {
			if r := e.query(pc, from, to, time.Second, bad); r.Error == nil || r.Status != backend.StatusBadRequest {
				t.Errorf("%s: %v %v", bad, r.Status, r.Error)
			}
		}
	})
	if host.Exited() {
		t.Error("plugin process died during the test")
	}
}

// pointsOf lists the observation points (lanes) of a latencies frame.
func pointsOf(f *data.Frame) []string {
	var out []string
	for _, fl := range f.Fields {
		if fl.Name == "point" {
			for i := 0; i < fl.Len(); i++ {
				out = append(out, fmt.Sprint(fl.At(i)))
			}
		}
	}
	return out
}

// maxOf is the largest value of metric over the series whose server is server.
func maxOf(frames []*data.Frame, metric, server string) (float64, bool) {
	best, found := 0.0, false
	for _, f := range frames {
		v := f.Fields[1]
		if v.Name != metric || v.Labels["server_service"] != server {
			continue
		}
		for i := 0; i < v.Len(); i++ {
			if x := v.At(i).(*float64); x != nil && (!found || *x > best) {
				best, found = *x, true
			}
		}
	}
	return best, found
}
