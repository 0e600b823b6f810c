package plugin_test

// The triage query through the plugin binary over gRPC against the real ClickHouse, on rows the REAL
// agent captured in the triage test bed (testdata/triagecapture, recorded by
// test/e2e/triage/recordTriage.ts: the demo system on the namespace test bed under a steady load, a
// healthy control window and eight faults injected one at a time, each after a healthy window). For
// each fault the triage over its window must name the injected place and kind first, with evidence
// figures within the bounds below; the control names nothing.

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/flowlens/flowlens/pkg/pluginhost"
)

const triageDB = "flowlens_gotest_triage"

// triageRecording is testdata/triagecapture/recording.json.
type triageRecording struct {
	Settings struct {
		FaultS, SlowMs, GatewayMs, LossPercent, BurnMs, ThinkMs, Rate int
	}
	Scenarios []struct {
		Name   string
		Target struct {
			Service       string `json:"service"`
			ClientService string `json:"client_service"`
		}
		Expect *struct{ Place, Kind, Service string }
		Window struct{ From, To int64 }
	}
}

// loadTriageCapture creates the test database and inserts the recorded rows (gzipped JSONEachRow,
// inserted as they are, in chunks).
func loadTriageCapture(t *testing.T, db string) triageRecording {
	t.Helper()
	dir := filepath.Join("testdata", "triagecapture")
	var rec triageRecording
	raw, err := os.ReadFile(filepath.Join(dir, "recording.json"))
	if err == nil {
		err = json.Unmarshal(raw, &rec)
	}
	if err != nil {
		t.Fatal(err)
	}
	createSchema(t, db)
	for _, table := range []string{"l7_flow_log", "app_metrics", "net_metrics", "l4_flow_log", "tcp_timeline", "profile_samples"} {
		f, err := os.Open(filepath.Join(dir, table+".jsonl.gz"))
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(zr)
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		var chunk bytes.Buffer
		n := 0
		flush := func() {
			if n > 0 {
				admin(t, fmt.Sprintf("INSERT INTO %s.%s FORMAT JSONEachRow\n", db, table)+chunk.String())
			}
			chunk.Reset()
			n = 0
		}
		for sc.Scan() {
			chunk.Write(sc.Bytes())
			chunk.WriteByte('\n')
			if n++; n == 5000 {
				flush()
			}
		}
		if err := sc.Err(); err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		flush()
		f.Close()
	}
	return rec
}

// suspectRow is one row of the triage frame.
type suspectRow struct {
	Rank                                                       int64
	Place, Kind, Service, Client, Server, Function, Confidence string
	Score                                                      float64
	Evidence                                                   string
}

func triageRows(t *testing.T, f *data.Frame) (suspects []suspectRow, notes []string) {
	t.Helper()
	m := fieldMap(t, f)
	for i := 0; i < f.Rows(); i++ {
		r := suspectRow{Rank: m["rank"].At(i).(int64), Place: m["place"].At(i).(string), Kind: m["kind"].At(i).(string), Service: m["service"].At(i).(string),
			Client: m["client_service"].At(i).(string), Server: m["server_service"].At(i).(string), Function: m["function"].At(i).(string),
			Confidence: m["confidence"].At(i).(string), Score: m["score"].At(i).(float64), Evidence: m["evidence"].At(i).(string)}
		if r.Place == "note" {
			notes = append(notes, r.Evidence)
		} else {
			suspects = append(suspects, r)
		}
	}
	return suspects, notes
}

// figures are the numbers of an evidence sentence, in order ("17 of 60" → 17, 60; "12.5 ms" → 12.5).
func figures(s string) []float64 {
	var out []float64
	for _, m := range regexp.MustCompile(`-?\d+(\.\d+)?`).FindAllString(s, -1) {
		v, _ := strconv.ParseFloat(m, 64)
		out = append(out, v)
	}
	return out
}

// msAfter is the number of ms in s after the text at (e.g. "waits " → the wait).
func msAfter(t *testing.T, s, at string) float64 {
	t.Helper()
	i := strings.Index(s, at)
	if i < 0 {
		t.Fatalf("%q not in %q", at, s)
	}
	m := regexp.MustCompile(`^(-?\d+(\.\d+)?) ms`).FindStringSubmatch(s[i+len(at):])
	if m == nil {
		t.Fatalf("no ms after %q in %q", at, s)
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

func TestTriageIntegration(t *testing.T) {
	admin(t, "SELECT 1")
	rec := loadTriageCapture(t, triageDB)
	t.Cleanup(func() {
		if os.Getenv("FLOWLENS_KEEP_TESTDB") == "" {
			admin(t, "DROP DATABASE IF EXISTS "+triageDB)
		}
	})
	host, err := pluginhost.Start(context.Background(), buildPlugin(t), pluginhost.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	e := &env{t: t, host: host}
	pc := e.ctx("triage-uid", map[string]any{"url": clickhouseURL(), "database": triageDB, "username": local.Reader})
	st := rec.Settings
	if len(rec.Scenarios) != 9 {
		t.Fatalf("%d scenarios recorded, want the control and eight faults", len(rec.Scenarios))
	}
	for _, sc := range rec.Scenarios {
		t.Run(sc.Name, func(t *testing.T) {
			model := map[string]any{"queryType": "triage", "service": sc.Target.Service}
			if sc.Target.ClientService != "" {
				model["client_service"] = sc.Target.ClientService
			}
			j, _ := json.Marshal(model)
			// the window's seconds, inclusive (the recording's To is exclusive)
			res := e.query(pc, sc.Window.From, sc.Window.To-1, time.Second, string(j))
			if res.Error != nil {
				t.Fatal(res.Error)
			}
			if len(res.Frames) != 1 {
				t.Fatalf("%d frames", len(res.Frames))
			}
			suspects, notes := triageRows(t, res.Frames[0])
			for _, s := range suspects {
				t.Logf("#%d %s %s %s (%s→%s) %s score %.3f %s: %s", s.Rank, s.Place, s.Kind, s.Service, s.Client, s.Server, s.Function, s.Score, s.Confidence, s.Evidence)
			}
			for _, n := range notes {
				t.Logf("note: %s", n)
			}
			if sc.Expect == nil {
				if len(suspects) != 0 {
					t.Fatalf("the healthy window names %d suspects", len(suspects))
				}
				if n := res.Frames[0].Meta.Notices; len(n) != 1 || !strings.Contains(n[0].Text, "no suspect") {
					t.Errorf("notices %v", n)
				}
				return
			}
			if len(suspects) == 0 {
				t.Fatalf("no suspect, want %s %s of %s", sc.Expect.Place, sc.Expect.Kind, sc.Expect.Service)
			}
			top := suspects[0]
			if top.Rank != 1 || top.Place != sc.Expect.Place || top.Kind != sc.Expect.Kind || top.Service != sc.Expect.Service {
				t.Fatalf("first suspect %s %s of %s, want %s %s of %s", top.Place, top.Kind, top.Service, sc.Expect.Place, sc.Expect.Kind, sc.Expect.Service)
			}
			if top.Score <= 0 || top.Score > 1 || top.Confidence == "" {
				t.Errorf("score %v confidence %q", top.Score, top.Confidence)
			}
			ev := top.Evidence
			slow := float64(st.SlowMs)
			switch sc.Name {
			case "gateway_latency":
				// the toxic's latency at the hop, within 20% (the hop's own time: its upstream excluded)
				if got := msAfter(t, ev, "adds "); got < 0.8*float64(st.GatewayMs) || got > 1.2*float64(st.GatewayMs) {
					t.Errorf("the hop adds %v ms, injected %d: %s", got, st.GatewayMs, ev)
				}
			case "slow_database", "slow_dns":
				// pg_sleep / the DNS server's delay, per call: one call per request
				if got := msAfter(t, ev, "own time rose by "); got < 0.8*slow || got > 1.3*slow {
					t.Errorf("own time rose by %v ms, injected %v: %s", got, slow, ev)
				}
			case "slow_cache":
				// DEBUG SLEEP is one more command per view, and blocks redis: the other views' INCRs queue
				// behind it (unread at redis' NIC). The redis calls' mean rises by half the sleep or more,
				// the target sees about the whole sleep
				if got := msAfter(t, ev, "own time rose by "); got < 0.4*slow || got > 1.2*slow {
					t.Errorf("redis mean rose by %v ms, want %v..%v: %s", got, 0.4*slow, 1.2*slow, ev)
				}
				if !strings.Contains(ev, "queued before its process read them") {
					t.Errorf("no queueing at redis' NIC: %s", ev)
				}
			case "lossy_path":
				f := figures(ev[strings.Index(ev, ": ")+2:])
				ratio := f[0] / f[1]
				if top.Client != "frontend" || top.Server != "backend" || ratio < 0.005 || ratio > 3*float64(st.LossPercent)/100 || f[3] > 0.01*f[4] {
					t.Errorf("retransmissions %v of %v (%.3f) on %s→%s, baseline %v: %s", f[0], f[1], ratio, top.Client, top.Server, f[3], ev)
				}
			case "refused":
				f := figures(ev[strings.Index(ev, ": ")+2:])
				// every connect in the window failed, by the nftables RST from the backend's host; none before
				if top.Client != "frontend" || f[0] < 20 || f[0] != f[1] || f[2] != f[0] || !strings.Contains(ev, "RST from the server's side") || !strings.Contains(ev, "baseline no new connections") {
					t.Errorf("failed connects %v: %s", f, ev)
				}
			case "cpu_bound":
				if !strings.Contains(top.Function, "burnCpu") {
					t.Errorf("function %q, want burnCpu", top.Function)
				}
				if got := msAfter(t, ev, "own time rose by "); got < 0.8*float64(st.BurnMs) || got > 3*float64(st.BurnMs) {
					t.Errorf("own time rose by %v ms, burned %d: %s", got, st.BurnMs, ev)
				}
			case "client_wait":
				if got := msAfter(t, ev, "waits "); got < float64(st.ThinkMs) || got > float64(st.ThinkMs)+50 {
					t.Errorf("client waits %v ms, thinks %d: %s", got, st.ThinkMs, ev)
				}
				if got := msAfter(t, ev, "responds in "); got > 50 {
					t.Errorf("server responds in %v ms: %s", got, ev)
				}
			}
			// the links: request logs, traces, flows and the flame graph of the suspect, typed queries
			links := fieldMap(t, res.Frames[0])["evidence"].Config.Links
			if len(links) != 4 || links[0].Internal == nil || links[3].Internal.Query.(map[string]any)["queryType"] != "flamegraph" {
				t.Errorf("links %v", links)
			}
		})
	}
	// Honest uncertainty: the same capture without the db host's own views (as with no agent there:
	// postgres and redis seen only from the backend's side). The slow database is still the suspect,
	// from the client's side, at lower confidence, and the answer says what it could not see.
	t.Run("no agent at the database", func(t *testing.T) {
		const blind = triageDB + "_noagent"
		createSchema(t, blind)
		t.Cleanup(func() {
			if os.Getenv("FLOWLENS_KEEP_TESTDB") == "" {
				admin(t, "DROP DATABASE IF EXISTS "+blind)
			}
		})
		for _, table := range []string{"l7_flow_log", "app_metrics", "net_metrics", "l4_flow_log", "tcp_timeline", "profile_samples"} {
			cond := "NOT (server_service IN ('postgres', 'redis') AND observation_point IN ('server_process', 'server_nic'))"
			if table == "profile_samples" {
				cond = "service NOT IN ('postgres', 'redis')"
			}
			admin(t, fmt.Sprintf("INSERT INTO %s.%s SELECT * FROM %s.%s WHERE %s", blind, table, triageDB, table, cond))
		}
		bpc := e.ctx("triage-blind", map[string]any{"url": clickhouseURL(), "database": blind, "username": local.Reader})
		for _, sc := range rec.Scenarios {
			if sc.Name != "slow_database" {
				continue
			}
			res := e.query(bpc, sc.Window.From, sc.Window.To-1, time.Second, `{"queryType":"triage","service":"gateway"}`)
			if res.Error != nil {
				t.Fatal(res.Error)
			}
			suspects, notes := triageRows(t, res.Frames[0])
			if len(suspects) == 0 || suspects[0].Place != "dependency" || suspects[0].Service != "postgres" || suspects[0].Confidence == "high" {
				t.Fatalf("suspects %+v", suspects)
			}
			if got := msAfter(t, suspects[0].Evidence, "own time rose by "); got < 0.8*float64(st.SlowMs) || got > 1.3*float64(st.SlowMs) {
				t.Errorf("seen from the client: %v ms: %s", got, suspects[0].Evidence)
			}
			if !strings.Contains(strings.Join(notes, "\n"), "postgres is not seen from inside") {
				t.Errorf("notes %q", notes)
			}
		}
	})
	t.Run("bad queries", func(t *testing.T) {
		w := rec.Scenarios[0].Window
		for _, bad := range []string{`{"queryType":"triage"}`, `{"queryType":"triage","service":["a","b"]}`, `{"queryType":"triage","service":"gateway","baseline":"yesterday"}`,
			fmt.Sprintf(`{"queryType":"triage","service":"gateway","baselineFrom":%d,"baselineTo":%d}`, w.From*1000, w.To*1000)} {
			if r := e.query(pc, w.From, w.To-1, time.Second, bad); r.Error == nil || r.Status != backend.StatusBadRequest {
				t.Errorf("%s: %v %v", bad, r.Status, r.Error)
			}
		}
	})
	if host.Exited() {
		t.Error("plugin process died during the test")
	}
}

// The triage on the network test bed's capture (testdata/netcapture, the flows of network_integration_test.go):
// each server's one scenario over the whole recording, against the empty window before it.
func TestTriageNetCapture(t *testing.T) {
	admin(t, "SELECT 1")
	rec, rows := loadNetCapture(t)
	const db = "flowlens_gotest_triage_net"
	freshSchema(t, db)
	for table, rs := range rows {
		insertRows(t, db, table, rs)
	}
	host, err := pluginhost.Start(context.Background(), buildPlugin(t), pluginhost.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	e := &env{t: t, host: host}
	pc := e.ctx("triage-net", map[string]any{"url": clickhouseURL(), "database": db, "username": local.Reader})
	from, to := rec.Recorded.From.Unix()-60, rec.Recorded.To.Unix()+60
	for _, c := range []struct {
		service, place, kind, suspect string
		evidence                      *regexp.Regexp
	}{
		// the reader that stopped for 1 s: the sender saw its zero window
		{"files-slow", "client_app", "zero_windows", "python3", regexp.MustCompile(`python3 stopped reading: 1 zero-window episodes seen by the server process \(baseline 0\)`)},
		{"refuser", "server_nic", "connection_failures", "refuser", regexp.MustCompile(fmt.Sprintf(`%d of %d connects failed, %d with an RST from the server's side`, rec.Scenario.RefusedAttempts, rec.Scenario.RefusedAttempts, rec.Scenario.RefusedAttempts))},
		{"files-lossy", "network_path", "retransmissions", "files-lossy", regexp.MustCompile(fmt.Sprintf(`^curl → files-lossy: %d of \d+ segments retransmitted`, rec.Kernel.ServerTcpRetransSegs))},
	} {
		res := e.query(pc, from, to, time.Second, fmt.Sprintf(`{"queryType":"triage","service":%q}`, c.service))
		if res.Error != nil {
			t.Fatalf("%s: %v", c.service, res.Error)
		}
		suspects, notes := triageRows(t, res.Frames[0])
		for _, s := range suspects {
			t.Logf("%s: #%d %s %s %s %s: %s", c.service, s.Rank, s.Place, s.Kind, s.Service, s.Confidence, s.Evidence)
		}
		if len(suspects) == 0 || suspects[0].Place != c.place || suspects[0].Kind != c.kind || suspects[0].Service != c.suspect || !c.evidence.MatchString(suspects[0].Evidence) {
			t.Errorf("%s: suspects %+v, notes %q", c.service, suspects, notes)
		}
	}
}
