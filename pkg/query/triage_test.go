package query

import (
	"strings"
	"testing"
	"time"

	"github.com/flowlens/flowlens/pkg/schema"
)

func TestTriageWindows(t *testing.T) {
	at := time.Unix(1_700_000_000, 0)
	fault := Range{From: at, To: at.Add(299 * time.Second)} // 5 minutes, inclusive
	m, err := ParseTriage([]byte(`{"queryType":"triage","service":"checkout"}`))
	if err != nil {
		t.Fatal(err)
	}
	w, err := m.Windows(fault)
	if err != nil {
		t.Fatal(err)
	}
	if !w.Baseline.From.Equal(at.Add(-300*time.Second)) || !w.Baseline.To.Equal(at.Add(-time.Second)) {
		t.Errorf("default baseline %v..%v, want the 5 minutes just before", w.Baseline.From.Unix(), w.Baseline.To.Unix())
	}
	ww := w.WireWindows()
	if ww.Fault.To != w.Fault.To || ww.Fault.To.Sub(ww.Fault.From) != (MaxTriageWireSeconds-1)*time.Second ||
		ww.Baseline.To != w.Baseline.To || ww.Baseline.To.Sub(ww.Baseline.From) != (MaxTriageWireSeconds-1)*time.Second {
		t.Errorf("wire windows %+v", ww)
	}
	if short := (TriageWindows{Fault: Range{From: at, To: at.Add(4 * time.Second)}, Baseline: Range{From: at.Add(-5 * time.Second), To: at.Add(-time.Second)}}); short.WireWindows() != short {
		t.Error("a window shorter than the wire bound is read whole")
	}
	hour, _ := ParseTriage([]byte(`{"service":"checkout","baseline":"previous_hour"}`))
	if w, err := hour.Windows(fault); err != nil || !w.Baseline.From.Equal(at.Add(-time.Hour)) {
		t.Errorf("previous hour: %+v %v", w.Baseline, err)
	}
	// a 1-minute window: the previous hour is more than 24 times as long
	if _, err := hour.Windows(Range{From: at, To: at.Add(59 * time.Second)}); err == nil {
		t.Error("a baseline 60 times the window is accepted")
	}
	overlap, _ := ParseTriage([]byte(`{"service":"checkout","baselineFrom":1700000100000,"baselineTo":"2023-11-14T22:20:00Z"}`))
	if _, err := overlap.Windows(fault); err == nil || !strings.Contains(err.Error(), "overlaps") {
		t.Errorf("overlapping baseline: %v", err)
	}
	for _, bad := range []string{`{}`, `{"service":["a","b"]}`, `{"service":"a","client_service":["b","c"]}`, `{"service":"a","baselineFrom":1}`, `{"service":"a","baseline":"x"}`} {
		if _, err := ParseTriage([]byte(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

// Each triage statement names only columns its table has, and narrows the target's edge on its own rows.
func TestTriageStatements(t *testing.T) {
	m, err := ParseTriage([]byte(`{"service":"it's","client_service":"web","endpoint":"/pay"}`))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Unix(1_700_000_000, 0)
	w, _ := m.Windows(Range{From: at, To: at.Add(59 * time.Second)})
	isErr := func(s string) bool { return s == "server_error" }
	for _, build := range []func() (*Statement, error){
		func() (*Statement, error) { return BuildTriageEdges("flowlens", m, w) },
		func() (*Statement, error) { return BuildTriageSpread("flowlens", m, w) },
		func() (*Statement, error) {
			return BuildTriageWireEdges("flowlens", m, w, isErr, Values{"web"}, Values{"it's"})
		},
		func() (*Statement, error) { return BuildTriageNet("flowlens", m, w) },
		func() (*Statement, error) { return BuildTriageFlows("flowlens", m, w) },
		func() (*Statement, error) { return BuildTriageWaits("flowlens", m, w) },
		func() (*Statement, error) { return BuildTriageProfile("flowlens", []string{"it's"}, w) },
	} {
		st, err := build()
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range st.Columns {
			if !schema.Get().HasColumn(st.Table, c) {
				t.Errorf("%s has no column %s", st.Table, c)
			}
		}
		if !strings.Contains(st.SQL, `'it\'s'`) {
			t.Errorf("%s: the service is not quoted: %s", st.Table, st.SQL)
		}
	}
	st, _ := BuildTriageEdges("flowlens", m, w)
	if st.Table != "app_metrics" || !strings.Contains(st.SQL, "(NOT (server_service IN ('it\\'s')) OR (client_service IN ('web') AND endpoint IN ('/pay')))") {
		t.Errorf("the target's narrowing: %s", st.SQL)
	}
	if _, err := BuildTriageWireEdges("flowlens", m, w, isErr, nil, Values{"a"}); err == nil {
		t.Error("a wire query without clients")
	}
}
