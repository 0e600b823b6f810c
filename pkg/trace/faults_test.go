package trace

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
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

func TestLossyTracesExplore(t *testing.T) {
	spans, err := SpansFromResult(loadRows(t, "l7_flow_log"))
	if err != nil {
		t.Fatal(err)
	}
	net, err := NetRowsFromResults(loadRows(t, "tcp_timeline"), loadRows(t, "l4_flow_log"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range spans {
		if s.ObservationPoint != ClientProcess {
			continue
		}
		before := Build(spans, []uint64{s.RowID}, Options{})
		tr := BuildWithNet(spans, []uint64{s.RowID}, net, Options{})
		t.Logf("%d %s %d spans:\n   before: %s\n   after:  %s %v", s.ServerPort, s.RequestResource, len(tr.Nodes), before.Verdict.Summary, tr.Verdict.Summary, tr.Verdict.Notes)
		for _, n := range tr.Nodes {
			for _, e := range n.Events {
				t.Logf("      %s event %s: %s", n.ObservationPoint, e.Kind, e.Text)
			}
		}
	}
}
