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
