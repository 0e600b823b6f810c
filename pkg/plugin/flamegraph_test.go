package plugin

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/flowlens/flowlens/pkg/clickhouse"
	"github.com/flowlens/flowlens/pkg/query"
)

// levelItem mirrors how Grafana's flame graph panel reads a nested-set frame
// (nestedSetToLevels in @grafana/flamegraph): rows in depth-first order, a row's parent is the
// last row one level up, siblings are laid out left to right by value (+ valueRight).
type levelItem struct {
	label       string
	start       int64
	width       int64
	level       int64
	parent      *levelItem
	childrenSum int64
}

func readNestedSet(t *testing.T, f *data.Frame) []*levelItem {
	t.Helper()
	fields := map[string]*data.Field{}
	for _, fl := range f.Fields {
		fields[fl.Name] = fl
	}
	for _, name := range []string{"level", "value", "self", "label"} {
		if fields[name] == nil {
			t.Fatalf("frame lacks field %s", name)
		}
	}
	right := func(i int) int64 {
		if fields["valueRight"] == nil {
			return 0
		}
		return fields["valueRight"].At(i).(int64)
	}
	var items []*levelItem
	var lastAtLevel []*levelItem
	var offset int64
	for i := 0; i < f.Rows(); i++ {
		level := fields["level"].At(i).(int64)
		it := &levelItem{label: fields["label"].At(i).(string), level: level, width: fields["value"].At(i).(int64) + right(i)}
		if i == 0 {
			if level != 0 {
				t.Fatalf("first row is at level %d, want the root at 0", level)
			}
		} else {
			prev := items[i-1]
			if level > prev.level+1 || level < 1 {
				t.Fatalf("row %d jumps from level %d to %d", i, prev.level, level)
			}
			if level == prev.level+1 {
				it.parent = prev
				offset = prev.start
			} else {
				sib := lastAtLevel[level]
				it.parent = sib.parent
				offset = sib.start + sib.width
			}
			it.start = offset
			it.parent.childrenSum += it.width
			if it.start+it.width > it.parent.start+it.parent.width {
				t.Fatalf("row %d (%s) ends past its parent %s", i, it.label, it.parent.label)
			}
		}
		for int64(len(lastAtLevel)) <= level {
			lastAtLevel = append(lastAtLevel, nil)
		}
		lastAtLevel[level] = it
		items = append(items, it)
	}
	return items
}

func pathOf(it *levelItem) string {
	var parts []string
	for p := it; p != nil; p = p.parent {
		parts = append([]string{p.label}, parts...)
	}
	return strings.Join(parts, ";")
}

func flameResult(rows ...[]any) *clickhouse.Result {
	return &clickhouse.Result{Data: rows}
}

func stack(frames ...string) []any {
	out := make([]any, len(frames))
	for i, f := range frames {
		out[i] = f
	}
	return out
}

func TestFlameGraphNestedSet(t *testing.T) {
	res := flameResult(
		[]any{stack("main", "work_a"), "70"},
		[]any{stack("main", "work_b"), "30"},
		[]any{stack("main"), json.Number("5")},
		[]any{stack("main", "work_a", "helper"), "10"},
		[]any{stack("other_thread"), "2"},
	)
	stacks, err := parseFlameRows(res, false)
	if err != nil {
		t.Fatal(err)
	}
	m := &query.FlameModel{Event: query.EventOnCPU, MaxNodes: 100}
	f := buildFlameGraph(stacks, m, "SQL")
	if f.Meta.PreferredVisualization != data.VisTypeFlameGraph || len(f.Fields) != 4 {
		t.Fatalf("meta %+v, %d fields", f.Meta, len(f.Fields))
	}
	items := readNestedSet(t, f)
	got := map[string][2]int64{}
	for i, it := range items {
		got[pathOf(it)] = [2]int64{f.Fields[1].At(i).(int64), f.Fields[2].At(i).(int64)}
		if it.childrenSum+f.Fields[2].At(i).(int64) != it.width {
			t.Errorf("%s: self %d + children %d != value %d", pathOf(it), f.Fields[2].At(i), it.childrenSum, it.width)
		}
	}
	want := map[string][2]int64{
		"total":                    {117, 0},
		"total;main":               {115, 5},
		"total;main;work_a":        {80, 70},
		"total;main;work_a;helper": {10, 10},
		"total;main;work_b":        {30, 30},
		"total;other_thread":       {2, 2},
	}
	if len(got) != len(want) {
		t.Errorf("nodes %v", got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	// children sorted by label: main before other_thread, work_a before work_b
	order := []string{}
	for _, it := range items {
		order = append(order, it.label)
	}
	if strings.Join(order, ",") != "total,main,work_a,helper,work_b,other_thread" {
		t.Errorf("order %v", order)
	}
	if f.Fields[1].Config.Unit != "short" {
		t.Errorf("on-CPU unit %q", f.Fields[1].Config.Unit)
	}
}

func TestFlameGraphOffCPUInNanoseconds(t *testing.T) {
	stacks, _ := parseFlameRows(flameResult([]any{stack("main", "read", "schedule"), "2500"}), false)
	f := buildFlameGraph(stacks, &query.FlameModel{Event: query.EventOffCPU, MaxNodes: 100}, "")
	if f.Fields[1].At(0).(int64) != 2_500_000 || f.Fields[1].Config.Unit != "ns" {
		t.Errorf("off-CPU total %v unit %q, want 2500000 ns", f.Fields[1].At(0), f.Fields[1].Config.Unit)
	}
}

func TestFlameGraphDiff(t *testing.T) {
	res := flameResult(
		[]any{stack("main", "work_a"), "60", "20"},
		[]any{stack("main", "work_b"), "40", "80"},
		[]any{stack("main", "new_fn"), "0", "5"},
	)
	stacks, err := parseFlameRows(res, true)
	if err != nil {
		t.Fatal(err)
	}
	m := &query.FlameModel{Event: query.EventOnCPU, MaxNodes: 100}
	m.BaselineFrom.Set, m.BaselineTo.Set = true, true
	f := buildFlameGraph(stacks, m, "")
	names := []string{}
	for _, fl := range f.Fields {
		names = append(names, fl.Name)
	}
	if strings.Join(names, ",") != "level,value,self,label,valueRight,selfRight" {
		t.Fatalf("diff fields %v", names)
	}
	items := readNestedSet(t, f)
	got := map[string]string{}
	for i, it := range items {
		got[pathOf(it)] = fmt.Sprintf("%d/%d %d/%d", f.Fields[1].At(i), f.Fields[2].At(i), f.Fields[4].At(i), f.Fields[5].At(i))
	}
	want := map[string]string{
		"total":             "100/0 105/0",
		"total;main":        "100/0 105/0",
		"total;main;new_fn": "0/0 5/5",
		"total;main;work_a": "60/60 20/20",
		"total;main;work_b": "40/40 80/80",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %s, want %s", k, got[k], v)
		}
	}
	if items[0].width != 205 {
		t.Errorf("root width %d, want left + right = 205", items[0].width)
	}
}

func TestFlameGraphPruneKeepsTotals(t *testing.T) {
	var rows [][]any
	for i := 0; i < 500; i++ {
		rows = append(rows, []any{stack("main", fmt.Sprintf("fn%03d", i), "leaf"), fmt.Sprint(i + 1)})
	}
	stacks, _ := parseFlameRows(flameResult(rows...), false)
	f := buildFlameGraph(stacks, &query.FlameModel{Event: query.EventOnCPU, MaxNodes: 50}, "")
	items := readNestedSet(t, f)
	if len(items) > 51 {
		t.Errorf("%d nodes, want at most 50 + the root", len(items))
	}
	total := int64(500 * 501 / 2)
	if f.Fields[1].At(0).(int64) != total || f.Fields[1].At(1).(int64) != total {
		t.Errorf("root %v main %v, want %d", f.Fields[1].At(0), f.Fields[1].At(1), total)
	}
	for i, it := range items {
		if it.childrenSum+f.Fields[2].At(i).(int64) != it.width {
			t.Errorf("%s: self + children != value after pruning", pathOf(it))
		}
	}
	if len(f.Meta.Notices) != 1 || !strings.Contains(f.Meta.Notices[0].Text, "of 1001 nodes shown") {
		t.Errorf("notices %+v", f.Meta.Notices)
	}
}

func TestFlameGraphTooManyStacks(t *testing.T) {
	rows := make([][]any, query.MaxFlameStacks+1)
	for i := range rows {
		rows[i] = []any{stack(fmt.Sprint(i)), "1"}
	}
	stacks, _ := parseFlameRows(flameResult(rows...), false)
	f := buildFlameGraph(stacks, &query.FlameModel{Event: query.EventOnCPU, MaxNodes: query.MaxFlameNodes}, "")
	if f.Fields[1].At(0).(int64) != query.MaxFlameStacks || len(f.Meta.Notices) != 1 {
		t.Errorf("total %v notices %+v", f.Fields[1].At(0), f.Meta.Notices)
	}
}

func TestFlameGraphBadRows(t *testing.T) {
	if _, err := parseFlameRows(flameResult([]any{stack("a")}), false); err == nil {
		t.Error("a row without a value was accepted")
	}
	if _, err := parseFlameRows(flameResult([]any{stack("a"), "x"}), false); err == nil {
		t.Error("a non-numeric value was accepted")
	}
}
