package trace

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flowlens/flowlens/pkg/clickhouse"
	"github.com/flowlens/flowlens/pkg/tcptimeline"
)

// faultsDir holds the rows the real agent wrote for traces meeting network faults
// (test/e2e/netcapture/recordTraceFaults.ts).
var faultsDir = filepath.Join("..", "plugin", "testdata", "tracefaults")

// loadRows reads a recorded table as a query answer holding every recorded column (numbers exact).
func loadRows(t *testing.T, table string) *clickhouse.Result {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(faultsDir, table+".jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	res := &clickhouse.Result{}
	col := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		d := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		d.UseNumber()
		var row map[string]any
		if err := d.Decode(&row); err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		if len(res.Meta) == 0 {
			for k := range row {
				col[k] = len(res.Meta)
				res.Meta = append(res.Meta, clickhouse.Column{Name: k})
			}
		}
		vals := make([]any, len(res.Meta))
		for k, v := range row {
			vals[col[k]] = v
		}
		res.Data = append(res.Data, vals)
	}
	return res
}

// TestVerdictUnderLoss measures the verdict on the 20 lossy traces the real agent recorded (5%
// loss at the client's input, 128 KiB responses) with and without their network evidence, and on
// the 10 clean ones. Without it the server or the client was blamed in 17 of 20 and no sentence
// named a retransmission; with it every lossy verdict gives the network path's figures, the time
// waiting on retransmissions moves to that path (the hops still add up to the trace), and the
// path is the culprit wherever that time outweighs the server's own writes (11 of 20 here: on this
// 50 µs-RTT bed a fast retransmit waits 0.1-1 ms, python's writes of 128 KiB take 2-12 ms clean).
func TestVerdictUnderLoss(t *testing.T) {
	spans, err := SpansFromResult(loadRows(t, "l7_flow_log"))
	if err != nil {
		t.Fatal(err)
	}
	net, err := NetRowsFromResults(loadRows(t, "tcp_timeline"), loadRows(t, "l4_flow_log"))
	if err != nil {
		t.Fatal(err)
	}
	type tally struct{ traces, appBlamedBefore, networkBefore, networkAfter, named int }
	byPort := map[uint16]*tally{8082: {}, 8081: {}}
	for _, s := range spans {
		k := byPort[s.ServerPort]
		if s.ObservationPoint != ClientProcess || k == nil {
			continue
		}
		k.traces++
		before := Build(spans, []uint64{s.RowID}, Options{})
		after := BuildWithNet(spans, []uint64{s.RowID}, net, Options{})
		if len(after.Nodes) != 4 {
			t.Fatalf("%s: %d spans", s.RequestResource, len(after.Nodes))
		}
		if before.Verdict.Culprit.Kind == HopServerApp || before.Verdict.Culprit.Kind == HopClientApp {
			k.appBlamedBefore++
		}
		if before.Verdict.Culprit.Kind == HopNetwork {
			k.networkBefore++
		}
		if strings.Contains(before.Verdict.Summary, "retransmission") {
			t.Errorf("%s: before %s", s.RequestResource, before.Verdict.Summary)
		}
		v := after.Verdict
		if v.Culprit.Kind == HopNetwork {
			k.networkAfter++
		}
		var sum int64
		for _, h := range v.Hops {
			sum += h.CriticalUs
		}
		if sum != v.DurationUs || v.DurationUs != before.Verdict.DurationUs {
			t.Errorf("%s: hops add up to %d µs of %d", s.RequestResource, sum, v.DurationUs)
		}
		if len(v.Network) == 0 {
			continue
		}
		n := v.Network[0]
		if n.CriticalWaitUs > n.RetransWaitUs || n.RetransWaitUs <= 0 {
			t.Errorf("%s: %d µs of %d waiting on retransmissions on the critical path", s.RequestResource, n.CriticalWaitUs, n.RetransWaitUs)
		}
		if strings.Contains(v.Summary, "curl → files-lossy (network) holds") != (v.Culprit.Kind == HopNetwork) ||
			!strings.Contains(v.Summary, fmt.Sprintf("%d retransmission(s), %s waiting on them", n.Retransmissions, fmtUs(n.RetransWaitUs))) {
			t.Errorf("%s: %s", s.RequestResource, v.Summary)
		}
		k.named++
	}
	lossy, clean := byPort[8082], byPort[8081]
	t.Logf("lossy: %+v; clean: %+v", *lossy, *clean)
	if *lossy != (tally{traces: 20, appBlamedBefore: 17, networkBefore: 3, networkAfter: 11, named: 20}) {
		t.Errorf("lossy traces %+v", *lossy)
	}
	if clean.traces != 10 || clean.named != 0 || clean.networkAfter != clean.networkBefore {
		t.Errorf("clean traces %+v", *clean)
	}
}

// A server whose response write blocks 200 ms while TCP resends a lost segment (RTO): that time is the
// network path's, the server keeps its own; failed connects count only from the same client process in
// the 10 s before the connection opened.
func TestRetransmissionWaitMovesToTheNetworkPath(t *testing.T) {
	const ms = 1000
	call := tuple("10.0.0.1", 40000, "10.0.0.2", 80, 777)
	spans := []*Span{
		span(1, ClientProcess, "c", 0, 300*ms, call, client(10, "web"), server(20, "api")),
		span(2, ClientNIC, "c", 1*ms, 299*ms, call, client(10, "web"), server(20, "api")),
		span(3, ServerNIC, "s", 2*ms, 298*ms, call, client(10, "web"), server(20, "api")),
		span(4, ServerProcess, "s", 3*ms, 290*ms, call, client(10, "web"), server(20, "api")),
	}
	flow := Flow{ClientIP: "10.0.0.1", ClientPort: 40000, ServerIP: "10.0.0.2", ServerPort: 80}
	const ack, psh = 0x10, 0x18
	// at the server's NIC: the request, a response of 3 segments whose 2nd is lost at 50 ms and resent at 250 ms
	pkts := []tcptimeline.Packet{
		{TimeUs: t0 + 2*ms, Dir: 0, Flags: psh, Seq: 100, Ack: 500, PayloadLen: 100},
		{TimeUs: t0 + 40*ms, Dir: 1, Flags: ack, Seq: 500, Ack: 200, PayloadLen: 1000},
		{TimeUs: t0 + 50*ms, Dir: 1, Flags: ack, Seq: 1500, Ack: 200, PayloadLen: 1000},
		{TimeUs: t0 + 60*ms, Dir: 1, Flags: psh, Seq: 2500, Ack: 200, PayloadLen: 1000},
		{TimeUs: t0 + 250*ms, Dir: 1, Flags: ack, Seq: 1500, Ack: 200, PayloadLen: 1000},
	}
	failed := func(port uint16, pid uint32, endUs int64) L4Flow {
		return L4Flow{Flow: Flow{ClientIP: "10.0.0.1", ClientPort: port, ServerIP: "10.0.0.2", ServerPort: 80}, Host: "c",
			ObservationPoint: ClientProcess, ClientPID: pid, StartUs: endUs - 100, EndUs: endUs, RstCount: 1, RstSender: "server",
			ConnFailed: true, CloseType: "connect_failed"}
	}
	rows := &NetRows{
		Timelines: []Timeline{{Flow: flow, Host: "s", ObservationPoint: ServerNIC, Packets: pkts}},
		Flows: []L4Flow{
			{Flow: flow, Host: "c", ObservationPoint: ClientProcess, ClientPID: 10, StartUs: t0 - 5*ms, EndUs: t0 + 301*ms, RetransCount: 0},
			failed(39000, 10, t0-1_000*ms),  // counted
			failed(39001, 10, t0-2_000*ms),  // counted
			failed(39002, 99, t0-1_500*ms),  // another process of the same host: not this client
			failed(39003, 10, t0-11_000*ms), // too long before
		},
	}
	before := Build(spans, []uint64{1}, Options{})
	checkVerdict(t, before.Verdict, 300*ms, HopKey{HopServerApp, "api"}, map[string]int64{
		"client_app: web": 2 * ms, "network: web → api": 11 * ms, "server_app: api": 287 * ms})
	tr := BuildWithNet(spans, []uint64{1}, rows, Options{})
	checkVerdict(t, tr.Verdict, 300*ms, HopKey{HopNetwork, "web → api"}, map[string]int64{
		"client_app: web": 2 * ms, "network: web → api": 211 * ms, "server_app: api": 87 * ms})
	want := "web → api (network) holds 70% of the 300ms end-to-end time (211ms on the critical path): 1 retransmission(s), 200ms waiting on them; " +
		"before the request, 2 failed connect(s) on web → api (RST from the server)"
	if tr.Verdict.Summary != want {
		t.Errorf("summary\n got %s\nwant %s", tr.Verdict.Summary, want)
	}
	n := tr.Verdict.Network[0]
	if n.Retransmissions != 1 || n.RetransWaitUs != 200*ms || n.CriticalWaitUs != 200*ms || n.FailedConnects != 2 || n.Point != ServerNIC {
		t.Errorf("network evidence %+v", n)
	}
	var events []string
	for _, nd := range tr.Nodes {
		for _, e := range nd.Events {
			events = append(events, fmt.Sprintf("%d %s %d", nd.RowID, e.Kind, e.Count))
		}
		if nd.RowID == 4 && (nd.NetWaitUs != 200*ms || nd.CriticalUs != 87*ms) {
			t.Errorf("server span: %d µs waited, %d µs critical", nd.NetWaitUs, nd.CriticalUs)
		}
	}
	if strings.Join(events, ", ") != "1 connect_failed 2, 3 retransmission 1" {
		t.Errorf("events %v", events)
	}
}
