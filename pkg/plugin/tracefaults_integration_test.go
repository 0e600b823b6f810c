package plugin_test

// The trace query's network evidence through the plugin binary over gRPC against the real
// ClickHouse, on rows the REAL agent captured in the namespace test bed (testdata/tracefaults,
// recorded by test/e2e/netcapture/recordTraceFaults.ts): 20 requests for 128 KiB under 5% loss at
// the client's input, 10 without loss, connects refused then served, a request reset then served on
// a new connection, a keep-alive client thinking 200 ms between requests.

import (
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

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/flowlens/flowlens/pkg/pluginhost"
	"github.com/flowlens/flowlens/pkg/tcptimeline"
)

const faultsDB = "flowlens_gotest_tracefaults"

// faultRecording is testdata/tracefaults/recording.json.
type faultRecording struct {
	Recorded struct{ From, To time.Time }
	Hosts    map[string]struct{ IP string }
	Ports    map[string]int
	Scenario struct {
		LossyRequests, CleanRequests, ThinkMs int
		Refused, Reset                        []struct{ Fails, Code int }
	} `json:"scenarios"`
	// packets the agent's capture dropped (kernel ring and user space), absent in older recordings
	CaptureDrops int64 `json:"captureDrops"`
	Kernel       struct {
		// the server's resends its device refused after the capture saw them (TcpExtTCPRetransFail)
		RetransFail int64 `json:"serverTcpRetransFail"`
	} `json:"kernel"`
}

// traceAnswer is what a test reads of one trace query.
type traceAnswer struct {
	spans    int
	summary  string
	culprit  string // "kind: label"
	network  []map[string]any
	notes    []string
	notices  []string
	logs     map[string][]map[string]any // observation point → its span's logs
	warnings map[string][]string
}

func TestTraceFaultsIntegration(t *testing.T) {
	admin(t, "SELECT 1")
	// FLOWLENS_TRACEFAULTS_DIR: a capture recorded now (test/e2e/traceFaults.e2e.test.ts) instead of the committed one
	dir, live := os.LookupEnv("FLOWLENS_TRACEFAULTS_DIR")
	if !live {
		dir = filepath.Join("testdata", "tracefaults")
	}
	var rec faultRecording
	raw, err := os.ReadFile(filepath.Join(dir, "recording.json"))
	if err == nil {
		err = json.Unmarshal(raw, &rec)
	}
	if err != nil {
		t.Fatal(err)
	}
	rows := loadTables(t, dir, []string{"l7_flow_log", "l4_flow_log", "tcp_timeline"})
	freshSchema(t, faultsDB)
	for table, rs := range rows {
		insertRows(t, faultsDB, table, rs)
	}
	host, err := pluginhost.Start(context.Background(), buildPlugin(t), pluginhost.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	e := &env{t: t, host: host}
	pc := e.ctx("faults-uid", map[string]any{"url": clickhouseURL(), "database": faultsDB, "username": local.Reader})
	from, to := rec.Recorded.From.Unix()-60, rec.Recorded.To.Unix()+60

	assemble := func(row map[string]any) traceAnswer {
		t.Helper()
		model := fmt.Sprintf(`{"queryType":"trace","row_id":"%v","time":%v}`, row["_id"], row["time"])
		res := e.query(pc, from, to, time.Second, model)
		if res.Error != nil || len(res.Frames) != 2 {
			t.Fatalf("%s: %v (%d frames)", model, res.Error, len(res.Frames))
		}
		f := res.Frames[0]
		custom := f.Meta.Custom.(map[string]any)
		v := custom["verdict"].(map[string]any)
		a := traceAnswer{spans: f.Rows(), summary: v["summary"].(string), logs: map[string][]map[string]any{}, warnings: map[string][]string{}}
		if c, ok := v["culprit"].(map[string]any); ok {
			a.culprit = fmt.Sprintf("%v: %v", c["kind"], c["label"])
		}
		for _, n := range v["network"].([]any) {
			a.network = append(a.network, n.(map[string]any))
		}
		for _, n := range v["notes"].([]any) {
			a.notes = append(a.notes, n.(string))
		}
		for _, n := range f.Meta.Notices {
			a.notices = append(a.notices, n.Text)
		}
		fm := fieldMap(t, f)
		for i := 0; i < f.Rows(); i++ {
			obs := fm["observation_point"].At(i).(string)
			var logs []map[string]any
			var warns []string
			if err := json.Unmarshal(fm["logs"].At(i).(json.RawMessage), &logs); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(fm["warnings"].At(i).(json.RawMessage), &warns); err != nil {
				t.Fatal(err)
			}
			a.logs[obs], a.warnings[obs] = logs, warns
		}
		return a
	}
	// the client's view of each request on a port, in order of time
	requests := func(port int) []map[string]any {
		return where(rows["l7_flow_log"], map[string]any{"observation_point": "client_process", "server_port": port, "response_status": "ok"})
	}
	// the kernel's own count of the segments the server resent on a connection: its socket's
	// tcp_retransmit_skb events, in the flow log at server_process
	serverRetrans := func(clientPort any, serverPort int) int64 {
		var n int64
		for _, r := range where(rows["l4_flow_log"], map[string]any{"client_port": clientPort, "server_port": serverPort, "observation_point": "server_process"}) {
			n += n64(r["retrans_count"])
		}
		return n
	}
	// how many times the server's NIC saw the server's lone FIN (no data) go out again: the socket
	// counts such a resend, which comes after the response (an RTO after the lost FIN), outside the call
	loneFINResends := func(clientPort any, serverPort int) int64 {
		var n int64
		for _, r := range where(rows["tcp_timeline"], map[string]any{"client_port": clientPort, "server_port": serverPort, "observation_point": "server_nic"}) {
			flags, dirs, lens := r["event_tcp_flags"].([]any), r["event_direction"].([]any), r["event_payload_len"].([]any)
			fins := int64(0)
			for i := range flags {
				if n64(flags[i])&tcptimeline.FlagFIN != 0 && n64(dirs[i])&1 == 1 && n64(lens[i]) == 0 {
					fins++
				}
			}
			n += max(0, fins-1)
		}
		return n
	}
	figures := regexp.MustCompile(`(\d+) retransmission\(s\), ([\d.]+)(µs|ms|s) waiting on them`)

	t.Run("loss", func(t *testing.T) {
		lossy := requests(rec.Ports["lossy"])
		if len(lossy) != rec.Scenario.LossyRequests {
			t.Fatalf("%d lossy requests recorded, want %d", len(lossy), rec.Scenario.LossyRequests)
		}
		path := "curl → files-lossy"
		networkCulprit := 0
		var lines []string
		for _, r := range lossy {
			a := assemble(r)
			lines = append(lines, fmt.Sprintf("%v: %s", r["request_resource"], a.summary))
			want := serverRetrans(r["client_port"], rec.Ports["lossy"]) - loneFINResends(r["client_port"], rec.Ports["lossy"])
			if want == 0 && !live {
				t.Errorf("%v: the recorded lossy transfer resent nothing", r["request_resource"])
			}
			if a.spans != 4 || len(a.network) != min(1, int(want)) {
				t.Errorf("%v: %d spans, network evidence %v, the server socket resent %d segments", r["request_resource"], a.spans, a.network, want)
				continue
			}
			if want == 0 { // a transfer that lost nothing (about 1 in 100 at 5%): nothing to say
				continue
			}
			n := a.network[0]
			got := int64(n["retransmissions"].(float64))
			// each segment the server's kernel resent is found at the server's NIC, and nothing else, the
			// last segment resent with its FIN on it included (the NIC once read that as a second FIN and
			// was one short). Live under load, the NIC may miss a packet its capture dropped (counted), and
			// see a resend the device then refused (the socket counts it failed, TCPRetransFail: a veth
			// whose peer's backlog was full); the recording has neither.
			missed, extra := rec.CaptureDrops, rec.Kernel.RetransFail
			if got > want+extra || got < want-missed || n["path"] != path || n["seen_at"] != "server_nic" {
				t.Errorf("%v: %d retransmissions on %v seen at %v, the server socket resent %d", r["request_resource"], got, n["path"], n["seen_at"], want)
			}
			// the sentence names the path and its figures
			m := figures.FindStringSubmatch(a.summary)
			if m == nil || m[1] != strconv.FormatInt(got, 10) || !strings.Contains(a.summary, path) {
				t.Errorf("%v: the verdict does not give the network path's figures: %s", r["request_resource"], a.summary)
			}
			if a.culprit == "network: "+path {
				networkCulprit++
				if !strings.HasPrefix(a.summary, path+" (network) holds") {
					t.Errorf("%v: %s", r["request_resource"], a.summary)
				}
			}
			// every resend is a log on the span of the point that saw it, and that span warns
			resent := 0
			for obs, logs := range a.logs {
				for _, l := range logs {
					if strings.Contains(fmt.Sprint(l["fields"]), "retransmission") {
						resent++
						if obs != n["seen_at"] {
							t.Errorf("%v: a retransmission on %s, seen at %v", r["request_resource"], obs, n["seen_at"])
						}
					}
				}
			}
			if int64(resent) != got || len(a.warnings["client_process"]) != 1 || !strings.Contains(a.warnings["client_process"][0], fmt.Sprintf("%d TCP retransmission(s)", got)) {
				t.Errorf("%v: %d retransmission logs, warnings %v", r["request_resource"], resent, a.warnings)
			}
			// an RTO: the request waited 200 ms and more on the network, which the verdict names
			if w := n["retrans_wait_ms"].(float64); w >= 200 && (a.culprit != "network: "+path || n["critical_wait_ms"].(float64) < 200) {
				t.Errorf("%v: %.1f ms waiting on retransmissions, verdict %s", r["request_resource"], w, a.summary)
			}
		}
		// Measured on this recording (RTT 50 µs: a fast retransmit waits 0.1-1 ms, python's own
		// writes of 128 KiB take 2-12 ms clean): 11 of 20 name the network path, 3 did before.
		if networkCulprit < 10 && !live {
			t.Errorf("the network path is the culprit of %d of %d lossy traces, want at least 10:\n%s", networkCulprit, len(lossy), strings.Join(lines, "\n"))
		}
		t.Logf("network path culprit in %d of %d lossy traces", networkCulprit, len(lossy))
	})

	t.Run("clean control", func(t *testing.T) {
		clean := requests(rec.Ports["clean"])
		if len(clean) != rec.Scenario.CleanRequests {
			t.Fatalf("%d clean requests, want %d", len(clean), rec.Scenario.CleanRequests)
		}
		quiet := 0
		for _, r := range clean {
			a := assemble(r)
			// without loss the server's kernel resends nothing, and the verdict says nothing of the network;
			// a live run on a loaded machine may see the kernel resend there too: then the verdict counts it
			want := serverRetrans(r["client_port"], rec.Ports["clean"])
			got := int64(0)
			if len(a.network) == 1 {
				got = int64(a.network[0]["retransmissions"].(float64))
			}
			if a.spans != 4 || len(a.network) != min(1, int(want)) || got != want || strings.Contains(a.summary, "retransmission") != (want > 0) {
				t.Errorf("%v: %d spans, network %v, the server socket resent %d: %s", r["request_resource"], a.spans, a.network, want, a.summary)
			}
			if want == 0 {
				quiet++
			}
		}
		if !live && quiet != len(clean) {
			t.Errorf("%d of the recorded clean transfers resent nothing, want all %d", quiet, len(clean))
		}
	})

	t.Run("failed connects and resets before the request", func(t *testing.T) {
		for name, runs := range map[string][]struct{ Fails, Code int }{"refused": rec.Scenario.Refused, "reset": rec.Scenario.Reset} {
			served := requests(rec.Ports[name])
			if len(served) != len(runs) {
				t.Fatalf("%s: %d served requests, want %d", name, len(served), len(runs))
			}
			kind, count, phrase := "connect_failed", "failed_connects", "failed connect(s)"
			if name == "reset" {
				kind, count, phrase = "reset", "resets", "reset connection(s)"
			}
			for i, r := range served {
				a := assemble(r)
				if len(a.network) != 1 || int(a.network[0][count].(float64)) != runs[i].Fails || a.network[0]["rst_from_server"] != true {
					t.Errorf("%s run %d: network %v, the client met %d", name, i, a.network, runs[i].Fails)
					continue
				}
				if !strings.Contains(a.summary, fmt.Sprintf("before the request, %d %s on python3 → ", runs[i].Fails, phrase)) {
					t.Errorf("%s run %d: %s", name, i, a.summary)
				}
				var events []string
				for _, l := range a.logs["client_process"] {
					fields := map[string]any{}
					for _, kv := range l["fields"].([]any) {
						fields[kv.(map[string]any)["key"].(string)] = kv.(map[string]any)["value"]
					}
					events = append(events, fmt.Sprint(fields["event"]))
					if fields["event"] == kind && runs[i].Fails > 1 && fields["count"] != float64(runs[i].Fails) {
						t.Errorf("%s run %d: count %v, want %d", name, i, fields["count"], runs[i].Fails)
					}
				}
				if strings.Join(events, ",") != kind {
					t.Errorf("%s run %d: client span events %v, want one %s", name, i, events, kind)
				}
			}
		}
		// the request whose connection was reset: its own trace says so
		for _, r := range where(rows["l7_flow_log"], map[string]any{"observation_point": "client_process", "server_port": rec.Ports["reset"], "response_status": "server_error"}) {
			if a := assemble(r); !strings.Contains(a.summary, "the connection of python3 → resetter was reset by the server") {
				t.Errorf("reset request: %s", a.summary)
			}
		}
	})

	t.Run("keep-alive client wait", func(t *testing.T) {
		think := requests(rec.Ports["web"])
		if len(think) != 3 {
			t.Fatalf("%d keep-alive requests, want 3", len(think))
		}
		for i, r := range think {
			a := assemble(r)
			if i == 0 {
				if len(a.notes) != 0 {
					t.Errorf("first request: notes %v", a.notes)
				}
				continue
			}
			if len(a.network) != 1 || len(a.notes) != 1 {
				t.Fatalf("request %d: network %v notes %v", i, a.network, a.notes)
			}
			// the client thought 200 ms (a timer: a little more, never less)
			w := a.network[0]["client_wait_ms"].(float64)
			if w < float64(rec.Scenario.ThinkMs) || w > float64(rec.Scenario.ThinkMs)+60 {
				t.Errorf("request %d: client wait %.1f ms, the client thought %d ms", i, w, rec.Scenario.ThinkMs)
			}
			if !strings.Contains(a.notes[0], "waited") || !strings.Contains(strings.Join(a.notices, "\n"), "Note: "+a.notes[0]) {
				t.Errorf("request %d: notes %v notices %v", i, a.notes, a.notices)
			}
		}
	})
	_ = data.VisTypeTrace
}
