package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/flowlens/flowlens/pkg/clickhouse"
	"github.com/flowlens/flowlens/pkg/converters"
	"github.com/flowlens/flowlens/pkg/query"
)

// flameRoot is the label of the flame graph's single root (the total).
const flameRoot = "total"

// flameNode is one call path prefix: its inclusive value and self value, on the left (or only)
// profile and on the right profile of a diff.
type flameNode struct {
	label                 string
	value, self           int64
	valueRight, selfRight int64
	children              map[string]*flameNode
}

func (n *flameNode) child(label string) *flameNode {
	if n.children == nil {
		n.children = map[string]*flameNode{}
	}
	c := n.children[label]
	if c == nil {
		c = &flameNode{label: label}
		n.children[label] = c
	}
	return c
}

// add adds one stack (root first) with its left and right values.
func (n *flameNode) add(stack []string, left, right int64) {
	n.value += left
	n.valueRight += right
	cur := n
	for _, f := range stack {
		cur = cur.child(f)
		cur.value += left
		cur.valueRight += right
	}
	cur.self += left
	cur.selfRight += right
}

func (n *flameNode) total() int64 { return n.value + n.valueRight }

// count returns the number of nodes below n (n excluded).
func (n *flameNode) count() int {
	c := 0
	for _, ch := range n.children {
		c += 1 + ch.count()
	}
	return c
}

func collectTotals(n *flameNode, out *[]int64) {
	for _, ch := range n.children {
		*out = append(*out, ch.total())
		collectTotals(ch, out)
	}
}

// prune keeps at most maxNodes nodes below the root: subtrees whose total is at or below the
// largest dropped total are folded into their parent's self values, so every node still has
// value = self + the sum of its children's values.
func (n *flameNode) prune(maxNodes int) {
	var totals []int64
	collectTotals(n, &totals)
	if len(totals) <= maxNodes {
		return
	}
	sort.Slice(totals, func(i, j int) bool { return totals[i] > totals[j] })
	threshold := totals[maxNodes] // a node is kept only if its total is larger
	var walk func(*flameNode)
	walk = func(p *flameNode) {
		for label, ch := range p.children {
			if ch.total() <= threshold {
				p.self += ch.value
				p.selfRight += ch.valueRight
				delete(p.children, label)
				continue
			}
			walk(ch)
		}
	}
	walk(n)
}

// flameStack is one row of the flame graph query.
type flameStack struct {
	frames      []string
	left, right int64
}

func parseFlameRows(res *clickhouse.Result, diff bool) ([]flameStack, error) {
	want := 2
	if diff {
		want = 3
	}
	out := make([]flameStack, 0, len(res.Data))
	for i, row := range res.Data {
		if len(row) < want {
			return nil, fmt.Errorf("flame graph row %d has %d columns, want %d", i, len(row), want)
		}
		s := flameStack{frames: converters.Strings(row[0])}
		var err error
		if s.left, err = converters.Int64(row[1]); err == nil && diff {
			s.right, err = converters.Int64(row[2])
		}
		if err != nil {
			return nil, fmt.Errorf("flame graph row %d: %w", i, err)
		}
		out = append(out, s)
	}
	return out, nil
}

// flameFrame renders the tree as Grafana's flame graph frame: one row per node in depth-first
// pre-order (the nested-set order the panel reads), children sorted by label, fields level,
// value, self, label (+ valueRight, selfRight for a diff). `scale` multiplies every value
// (µs -> ns for off-CPU time), `unit` is the value fields' unit.
func flameFrame(root *flameNode, diff bool, scale int64, unit string) *data.Frame {
	var levels, values, selfs, valuesR, selfsR []int64
	var labels []string
	var walk func(n *flameNode, level int64)
	walk = func(n *flameNode, level int64) {
		levels = append(levels, level)
		labels = append(labels, n.label)
		values = append(values, n.value*scale)
		selfs = append(selfs, n.self*scale)
		valuesR = append(valuesR, n.valueRight*scale)
		selfsR = append(selfsR, n.selfRight*scale)
		kids := make([]*flameNode, 0, len(n.children))
		for _, c := range n.children {
			kids = append(kids, c)
		}
		sort.Slice(kids, func(i, j int) bool { return kids[i].label < kids[j].label })
		for _, c := range kids {
			walk(c, level+1)
		}
	}
	walk(root, 0)
	cfg := &data.FieldConfig{Unit: unit}
	fields := []*data.Field{
		data.NewField("level", nil, levels),
		data.NewField("value", nil, values).SetConfig(cfg),
		data.NewField("self", nil, selfs).SetConfig(cfg),
		data.NewField("label", nil, labels),
	}
	if diff {
		fields = append(fields,
			data.NewField("valueRight", nil, valuesR).SetConfig(cfg),
			data.NewField("selfRight", nil, selfsR).SetConfig(cfg))
	}
	f := data.NewFrame("flamegraph", fields...)
	f.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeFlameGraph}
	return f
}

// buildFlameGraph turns query rows into the frame; notices say what was left out.
func buildFlameGraph(stacks []flameStack, m *query.FlameModel, sql string) *data.Frame {
	diff := m.Baseline() != nil
	root := &flameNode{label: flameRoot}
	truncated := len(stacks) > query.MaxFlameStacks
	if truncated {
		stacks = stacks[:query.MaxFlameStacks]
	}
	for _, s := range stacks {
		root.add(s.frames, s.left, s.right)
	}
	nodes := root.count()
	root.prune(m.MaxNodes)
	scale, unit := int64(1), "short"
	if m.Event == query.EventOffCPU {
		scale, unit = 1000, "ns" // stored as µs; the panel shows ns as time
	}
	f := flameFrame(root, diff, scale, unit)
	f.Meta.ExecutedQueryString = sql
	if truncated {
		f.AppendNotices(data.Notice{Severity: data.NoticeSeverityWarning,
			Text: fmt.Sprintf("only the %d largest stacks are shown: narrow the time range or filter by pid, thread or process", query.MaxFlameStacks)})
	}
	if nodes > m.MaxNodes {
		f.AppendNotices(data.Notice{Severity: data.NoticeSeverityInfo,
			Text: fmt.Sprintf("%d of %d nodes shown; the smallest are counted in their parent's self value (maxNodes)", m.MaxNodes, nodes)})
	}
	return f
}

func (d *Datasource) flameGraph(ctx context.Context, raw json.RawMessage, r query.Range) (data.Frames, error) {
	m, err := query.ParseFlame(raw)
	if err != nil {
		return nil, badQuery{err}
	}
	if m.Window != nil {
		if err := query.CheckSpan(query.TypeFlameGraph, *m.Window, d.settings.MaxSpan(query.TypeFlameGraph)); err != nil {
			return nil, badQuery{fmt.Errorf("span: %w", err)}
		}
		r = *m.Window
	}
	if base := m.Baseline(); base != nil {
		if err := query.CheckSpan(query.TypeFlameGraph, *base, d.settings.MaxSpan(query.TypeFlameGraph)); err != nil {
			return nil, badQuery{fmt.Errorf("baseline: %w", err)}
		}
	}
	st, err := query.BuildFlameGraph(d.settings.Database, m, r)
	if err != nil {
		return nil, badQuery{err}
	}
	res, err := d.client.Query(ctx, st.SQL)
	if err != nil {
		return nil, err
	}
	stacks, err := parseFlameRows(res, m.Baseline() != nil)
	if err != nil {
		return nil, err
	}
	return data.Frames{buildFlameGraph(stacks, m, st.SQL)}, nil
}
