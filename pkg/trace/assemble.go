package trace

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"

	"github.com/flowlens/flowlens/pkg/query"
)

// ErrNotFound means the seed span or trace id is not in the searched time range.
var ErrNotFound = errors.New("no request log matches")

// Fetcher returns the rows carrying any of keys whose time column is in [fromSec, toSec], at most
// limit of them.
type Fetcher interface {
	Fetch(ctx context.Context, keys query.TraceKeys, fromSec, toSec int64, limit int) ([]*Span, error)
}

// Seed says where assembly starts: one row (RowID, with its time column when known), or every
// row whose trace_id or x_request_id equals TraceID in [FromSec, ToSec].
type Seed struct {
	RowID          uint64
	TimeSec        int64 // the row's time column; 0 searches FromSec..ToSec
	TraceID        string
	FromSec, ToSec int64
}

// Node is one span of an assembled trace.
type Node struct {
	*Span
	Parent     *Node
	Children   []*Node
	Link       string // how it is linked to Parent (Link* constants); "" for a root
	Depth      int
	ShiftUs    int64 // clock-skew correction added to this span's times
	AStartUs   int64 // start and end after the correction
	AEndUs     int64
	SelfUs     int64 // time not covered by any child
	CriticalUs int64 // time on the trace's critical path not covered by a child on it
	Hop        HopKey
	Call       *CallNet   // the network evidence of the call this span is a view of (nil: none looked up)
	Events     []NetEvent // L4 events shown on this span
	NetWaitUs  int64      // of its critical time, waiting on retransmissions (the network path's)
	charged    []interval // the instants charged to it on the critical path
}

// Stats says what assembly cost.
type Stats struct {
	Queries    int // ClickHouse round trips, the seed lookup included
	Rounds     int // expansion rounds after the seed lookup
	Fetched    int // rows returned by all queries
	Duplicates int // repeated rows dropped
	Candidates int // distinct rows considered
	WindowFrom int64
	WindowTo   int64 // last search window (unix seconds)
}

// Trace is an assembled trace.
type Trace struct {
	ID        string
	Nodes     []*Node // depth first; roots and siblings by start time
	Stats     Stats
	Warnings  []string
	Truncated bool
	Verdict   Verdict
	roots     []*Node
}

type window struct{ from, to int64 }

func (w window) covers(o window) bool { return w.from <= o.from && w.to >= o.to }

// keysOf lists the lookup keys of a span, each with its IN-list kind.
func keysOf(s *Span, add func(key string, put func(*query.TraceKeys))) {
	for _, id := range []uint64{s.SyscallReq, s.SyscallResp} {
		if id != 0 {
			id := id
			add("s:"+strconv.FormatUint(id, 10), func(k *query.TraceKeys) { k.SyscallIDs = append(k.SyscallIDs, id) })
		}
	}
	if s.TCPSeqReq != 0 {
		seq := s.TCPSeqReq
		add("q:"+strconv.FormatUint(uint64(seq), 10), func(k *query.TraceKeys) { k.TCPSeqs = append(k.TCPSeqs, seq) })
	} else if s.ObservationPoint == ClientProcess || s.ObservationPoint == ServerProcess {
		f := query.TraceFlow{ClientIP: s.ClientIP, ClientPort: s.ClientPort, ServerIP: s.ServerIP, ServerPort: s.ServerPort}
		add(fmt.Sprintf("f:%s|%d|%s|%d", f.ClientIP, f.ClientPort, f.ServerIP, f.ServerPort),
			func(k *query.TraceKeys) { k.Flows = append(k.Flows, f) })
	}
	if v := s.TraceID; v != "" {
		add("t:"+v, func(k *query.TraceKeys) { k.TraceIDs = append(k.TraceIDs, v) })
	}
	if v := s.XRequestID; v != "" {
		add("x:"+v, func(k *query.TraceKeys) { k.XRequestIDs = append(k.XRequestIDs, v) })
	}
}

// Assemble gathers every span related to the seed in as few queries as possible: each round
// looks up, in one query, all ids of the trace found so far that were not looked up over the
// current window, until no new id appears (or MaxRounds / MaxSpans is reached); then it links,
// orders and explains the trace.
func Assemble(ctx context.Context, f Fetcher, seed Seed, opt Options) (*Trace, error) {
	opt = opt.withDefaults()
	var first query.TraceKeys
	w := window{seed.FromSec, seed.ToSec}
	switch {
	case seed.RowID != 0:
		first.RowIDs = []uint64{seed.RowID}
		if seed.TimeSec > 0 {
			w = window{seed.TimeSec - 1, seed.TimeSec + 1}
		}
	case seed.TraceID != "":
		first.TraceIDs, first.XRequestIDs = []string{seed.TraceID}, []string{seed.TraceID}
	default:
		return nil, fmt.Errorf("a trace needs a row id (_id) or a trace id")
	}
	if w.to <= 0 || w.to < w.from {
		return nil, fmt.Errorf("a trace search needs a time range (from %d to %d)", w.from, w.to)
	}
	tr := &Trace{}
	pool := map[uint64]*Span{}
	limit := opt.MaxSpans + 1
	fetch := func(k query.TraceKeys, w window) error {
		rows, err := f.Fetch(ctx, k, w.from, w.to, limit)
		if err != nil {
			return err
		}
		tr.Stats.Queries++
		tr.Stats.Fetched += len(rows)
		tr.Stats.WindowFrom, tr.Stats.WindowTo = w.from, w.to
		if len(rows) >= limit {
			tr.Truncated = true
		}
		for _, r := range rows {
			if _, ok := pool[r.RowID]; !ok {
				pool[r.RowID] = r
			} else {
				tr.Stats.Duplicates++
			}
		}
		return nil
	}
	if err := fetch(first, w); err != nil {
		return nil, err
	}
	var seeds []uint64
	var seedLo, seedHi int64
	for _, s := range pool {
		if (seed.RowID != 0 && s.RowID == seed.RowID) || (seed.RowID == 0 && (s.TraceID == seed.TraceID || s.XRequestID == seed.TraceID)) {
			seeds = append(seeds, s.RowID)
			if seedLo == 0 || s.StartUs < seedLo {
				seedLo = s.StartUs
			}
			seedHi = max(seedHi, s.EndUs)
		}
	}
	if len(seeds) == 0 {
		return nil, ErrNotFound
	}
	sort.Slice(seeds, func(i, j int) bool { return seeds[i] < seeds[j] })
	// The search never strays further than MaxWindowSecs/2 from the seed.
	half := opt.MaxWindowSecs / 2
	bound := window{seedLo/1_000_000 - half, seedHi/1_000_000 + half}
	queried := map[string]window{}
	if seed.RowID == 0 {
		queried["t:"+seed.TraceID], queried["x:"+seed.TraceID] = w, w
	}
	for !tr.Truncated {
		g := link(poolSpans(pool), opt)
		members, _ := g.component(seeds)
		lo, hi := g.spans[members[0]].StartUs, int64(0)
		for _, m := range members {
			lo, hi = min(lo, g.spans[m].StartUs), max(hi, g.spans[m].EndUs)
		}
		cur := window{max(lo/1_000_000-opt.PadSeconds, bound.from), min(hi/1_000_000+opt.PadSeconds, bound.to)}
		var next query.TraceKeys
		var fresh []string
		for _, m := range members {
			keysOf(g.spans[m], func(key string, put func(*query.TraceKeys)) {
				if q, ok := queried[key]; ok && q.covers(cur) {
					return
				}
				queried[key] = cur
				fresh = append(fresh, key)
				put(&next)
			})
		}
		if next.Empty() {
			break
		}
		if tr.Stats.Rounds == opt.MaxRounds {
			tr.Warnings = append(tr.Warnings, fmt.Sprintf("stopped after %d rounds with %d ids not looked up: the trace may be incomplete", opt.MaxRounds, len(fresh)))
			break
		}
		tr.Stats.Rounds++
		if err := fetch(next, cur); err != nil {
			if errors.Is(err, query.ErrTraceRoundTooLarge) { // hostile or huge ids: keep what was found
				tr.Warnings = append(tr.Warnings, fmt.Sprintf("stopped after %d rounds: the %d ids of the next one do not fit in one query; the trace may be incomplete", tr.Stats.Rounds-1, len(fresh)))
				break
			}
			return nil, err
		}
	}
	if tr.Truncated {
		tr.Warnings = append(tr.Warnings, fmt.Sprintf("more than %d related rows: the trace is truncated", opt.MaxSpans))
	}
	build(tr, link(poolSpans(pool), opt), seeds)
	if nf, ok := f.(NetFetcher); ok {
		if w, ok := netWindow(tr); ok {
			rows, err := nf.FetchNet(ctx, w)
			if err != nil {
				return nil, err
			}
			tr.Stats.Queries += 2
			if rows.Truncated {
				tr.Warnings = append(tr.Warnings, "more L4 rows around this trace's connections than one lookup reads: its network evidence is incomplete")
			}
			attachNet(tr, rows)
			tr.Verdict = explain(tr.roots)
		}
	}
	return tr, nil
}

func poolSpans(pool map[uint64]*Span) []*Span {
	out := make([]*Span, 0, len(pool))
	for _, s := range pool {
		out = append(out, s)
	}
	return out
}

// Build links a set of spans already fetched and assembles the trace holding the seed rows.
// Tests and callers with rows in hand use it directly.
func Build(spans []*Span, seeds []uint64, opt Options) *Trace {
	tr := &Trace{}
	build(tr, link(spans, opt.withDefaults()), seeds)
	return tr
}

// BuildWithNet is Build with the L4 rows of the trace's connections in hand (NetFetcher's answer):
// the spans get their network events and the verdict accounts for them.
func BuildWithNet(spans []*Span, seeds []uint64, rows *NetRows, opt Options) *Trace {
	tr := Build(spans, seeds, opt)
	attachNet(tr, rows)
	tr.Verdict = explain(tr.roots)
	return tr
}

func build(tr *Trace, g *graph, seeds []uint64) {
	tr.Stats.Candidates = len(g.spans)
	tr.Stats.Duplicates += g.duplicates
	members, others := g.component(seeds)
	if others > 0 {
		tr.Warnings = append(tr.Warnings, fmt.Sprintf("the trace id also matches %d other group(s) of requests far apart in time: showing the largest", others))
	}
	nodes := make(map[int]*Node, len(members))
	for _, m := range members {
		nodes[m] = &Node{Span: g.spans[m], Link: g.reason[m]}
	}
	var roots []*Node
	for _, m := range members {
		n := nodes[m]
		if p, ok := nodes[g.parent[m]]; ok && g.parent[m] >= 0 {
			n.Parent = p
			p.Children = append(p.Children, n)
		} else {
			n.Link = ""
			roots = append(roots, n)
		}
	}
	// members are in span order, so roots and children already are too.
	var walk func(n *Node, depth int)
	walk = func(n *Node, depth int) {
		n.Depth = depth
		n.AStartUs, n.AEndUs = n.StartUs, n.EndUs
		tr.Nodes = append(tr.Nodes, n)
		for _, c := range n.Children {
			walk(c, depth+1)
		}
	}
	for _, r := range roots {
		walk(r, 0)
	}
	if w := ambiguityWarning(g, nodes); w != "" {
		tr.Warnings = append(tr.Warnings, w)
	}
	if g.cycles > 0 {
		tr.Warnings = append(tr.Warnings, fmt.Sprintf("%d link(s) refused because they would have closed a cycle", g.cycles))
	}
	if len(roots) > 1 {
		tr.Warnings = append(tr.Warnings, fmt.Sprintf("%d spans have no parent in the trace (calls whose caller was not observed)", len(roots)))
	}
	correctSkew(roots)
	tr.roots = roots
	tr.Verdict = explain(roots)
	tr.ID = traceID(tr, roots)
}

// ambiguityWarning counts calls left unlinked by a syscall id shared by concurrent requests whose
// candidate parents are in this trace.
func ambiguityWarning(g *graph, nodes map[int]*Node) string {
	n := 0
	for i, amb := range g.ambiguous {
		if !amb {
			continue
		}
		if _, member := nodes[i]; member {
			continue // in the trace through other evidence
		}
		for _, node := range nodes {
			s := node.Span
			if (s.ObservationPoint == ServerProcess || s.ObservationPoint == Gateway) && s.Host == g.spans[i].Host &&
				within(g.spans[i], s, g.opt.SameHostSlackUs) {
				n++
				break
			}
		}
	}
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("%d call(s) made while this trace's server thread also served other requests (shared syscall_trace_id) could not be attributed and are left out", n)
}

// traceID is the trace id most of the spans carry, else one derived from the main root's row id
// (the same whichever span the assembly started from).
func traceID(tr *Trace, roots []*Node) string {
	count := map[string]int{}
	best := ""
	for _, n := range tr.Nodes {
		if n.TraceID != "" {
			count[n.TraceID]++
			if c := count[n.TraceID]; c > count[best] || (c == count[best] && n.TraceID < best) {
				best = n.TraceID
			}
		}
	}
	if best != "" {
		return best
	}
	if r := mainRoot(roots); r != nil {
		return fmt.Sprintf("fl-%016x", r.RowID)
	}
	return ""
}

// mainRoot is the longest root (the end-to-end request); ties go to the earlier, then lower id.
func mainRoot(roots []*Node) *Node {
	var best *Node
	for _, r := range roots {
		if best == nil {
			best = r
			continue
		}
		dr, db := r.AEndUs-r.AStartUs, best.AEndUs-best.AStartUs
		if dr > db || (dr == db && (r.AStartUs < best.AStartUs || (r.AStartUs == best.AStartUs && r.RowID < best.RowID))) {
			best = r
		}
	}
	return best
}

// correctSkew shifts spans observed on another host than their parent so they nest in it,
// assuming the network took as long each way (the child is centred in its parent; a child
// longer than its parent is aligned on its start). Only the child's same-host subtree moves.
func correctSkew(roots []*Node) {
	var shift func(n *Node, delta int64, host string)
	shift = func(n *Node, delta int64, host string) {
		n.ShiftUs += delta
		n.AStartUs += delta
		n.AEndUs += delta
		for _, c := range n.Children {
			if c.Host == host {
				shift(c, delta, host)
			}
		}
	}
	var walk func(n *Node)
	walk = func(n *Node) {
		for _, c := range n.Children {
			if c.Host != n.Host && (c.AStartUs < n.AStartUs || c.AEndUs > n.AEndUs) {
				var delta int64
				if c.AEndUs-c.AStartUs <= n.AEndUs-n.AStartUs {
					delta = ((n.AStartUs + n.AEndUs) - (c.AStartUs + c.AEndUs)) / 2
				} else {
					delta = n.AStartUs - c.AStartUs
				}
				shift(c, delta, c.Host)
			}
			walk(c)
		}
	}
	for _, r := range roots {
		walk(r)
	}
}
