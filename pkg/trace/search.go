package trace

import (
	"context"
	"fmt"
	"sort"
	"strconv"

	"github.com/flowlens/flowlens/pkg/clickhouse"
	"github.com/flowlens/flowlens/pkg/query"
)

// Trace search: one row per root request. The matching requests (query.BuildTraceMatches) are
// often calls inside other requests (a backend's /products is called by the frontend's
// /api/checkout, itself called through the gateway); each is walked up to the request that
// started it, and the trace is that root. A call's caller is found where the agent saw both: the
// call's client pid on its host is a server process whose request encloses the call in time (the
// tightest one; one sharing the call's trace key first). Calls between hosts carry no client pid at
// the server: their trace_id / X-Request-ID (shared within KeyGapUs) groups them instead; without
// either, a call between hosts is listed as a root (opening it still assembles the whole trace, by
// TCP sequence numbers). Each root is then walked down the same way to count its calls.

// MaxSearchDepth bounds the walk up and down (calls nested deeper are not followed).
const MaxSearchDepth = 12

// ParentLeadUs is how long before a call its caller's request may have started (the time the
// caller spent before making this call): 10 s.
const ParentLeadUs = 10_000_000

// CallFetcher reads the calls a trace search walks (query.BuildTraceCalls), and full rows by _id.
type CallFetcher interface {
	// Calls returns, for each probe, the server_process calls on its side (query.CallsServed: its
	// possible callers, started at most leadUs before it; query.CallsMade: the calls it may hold),
	// and whether more were cut.
	Calls(ctx context.Context, side string, probes []query.TraceProbe, leadUs int64) ([]ProbeCall, bool, error)
	// Rows returns the full rows of ids within [fromSec, toSec].
	Rows(ctx context.Context, ids []uint64, fromSec, toSec int64) ([]*Span, error)
}

// ProbeCall is one answer of a walk round: a call around the probe (its _id).
type ProbeCall struct {
	Probe uint64
	Call  *Span
}

// Found is one trace of a search: its root request and what the walk counted under it.
type Found struct {
	Root       *Span
	EndUs      int64 // the latest end among its calls (the trace's extent)
	Calls      int   // requests of the trace at server_process (the root included)
	ErrorCalls int   // of which client_error, server_error or timeout
	Matched    int   // matching requests in the trace
}

// SearchResult is a search's traces (newest root first) and how complete the walk was.
type SearchResult struct {
	Traces  []Found
	Cut     bool // a walk round reached query.MaxTraceCalls: some roots or counts may be missing
	Queries int
}

// ErrorStatus reports whether a response status counts as an error (client error, server error,
// timeout): the trace search's failed calls and the trace frame's error spans.
func ErrorStatus(s string) bool {
	return s == "client_error" || s == "server_error" || s == "timeout"
}

// Search finds the root request of each matching row, groups the roots of one trace (trace_id /
// x_request_id within KeyGapUs), counts each trace's calls, and returns the newest limit traces.
func Search(ctx context.Context, f CallFetcher, matched []*Span, limit int, opt Options) (*SearchResult, error) {
	opt = opt.withDefaults()
	res := &SearchResult{}
	byID := map[uint64]*Span{}
	parent := map[uint64]uint64{}
	for _, s := range matched {
		byID[s.RowID] = s
	}

	// Up: each round looks up the callers of the previous round's rows.
	frontier := matched
	for depth := 0; depth < MaxSearchDepth && len(frontier) > 0; depth++ {
		var kids []*Span
		for _, s := range frontier {
			if s.ClientPID != 0 {
				kids = append(kids, s)
			}
		}
		if len(kids) == 0 {
			break
		}
		probes := make([]query.TraceProbe, len(kids))
		for i, k := range kids {
			probes[i] = query.TraceProbe{ID: k.RowID, Host: k.Host, PID: k.ClientPID, StartUs: k.StartUs, EndUs: k.EndUs}
		}
		answers, cut, err := f.Calls(ctx, query.CallsServed, probes, ParentLeadUs)
		res.Queries++
		if err != nil {
			return nil, err
		}
		res.Cut = res.Cut || cut
		callers := map[uint64][]*Span{}
		for _, a := range answers {
			callers[a.Probe] = append(callers[a.Probe], a.Call)
		}
		frontier = nil
		for _, s := range kids {
			p := enclosing(callers[s.RowID], s)
			if p == nil {
				continue
			}
			if known, ok := byID[p.RowID]; ok {
				p = known
			} else {
				byID[p.RowID] = p
				frontier = append(frontier, p)
			}
			parent[s.RowID] = p.RowID
		}
	}
	rootOf := func(id uint64) uint64 {
		for i := 0; i < 2*MaxSearchDepth; i++ { // bounded: a cycle would need equal intervals
			p, ok := parent[id]
			if !ok {
				break
			}
			id = p
		}
		return id
	}

	// Roots, oldest first, grouped by trace key: the first of a group is the trace's entry.
	rootSet := map[uint64]bool{}
	matchedPer := map[uint64]int{}
	for _, s := range matched {
		r := rootOf(s.RowID)
		rootSet[r] = true
		matchedPer[r]++
	}
	roots := make([]*Span, 0, len(rootSet))
	for id := range rootSet {
		roots = append(roots, byID[id])
	}
	sort.Slice(roots, func(i, j int) bool { return earlier(roots[i], roots[j]) })
	type group struct {
		entry  *Span
		lastUs int64 // the latest start of a member: the key gap counts from it
		roots  []*Span
	}
	var groups []*group
	byKey := map[string]*group{}
	for _, r := range roots {
		var g *group
		for _, k := range []string{"t:" + r.TraceID, "x:" + r.XRequestID} {
			if len(k) > 2 && g == nil {
				if kg := byKey[k]; kg != nil && r.StartUs-kg.lastUs <= opt.KeyGapUs {
					g = kg
				}
			}
		}
		if g == nil {
			g = &group{entry: r}
			groups = append(groups, g)
		}
		g.roots = append(g.roots, r)
		g.lastUs = max(g.lastUs, r.StartUs)
		for _, k := range []string{"t:" + r.TraceID, "x:" + r.XRequestID} {
			if len(k) > 2 {
				byKey[k] = g
			}
		}
	}
	// Newest entry first; keep limit.
	sort.Slice(groups, func(i, j int) bool { return earlier(groups[j].entry, groups[i].entry) })
	if len(groups) > limit {
		groups = groups[:limit]
	}

	// Down: count each trace's calls, from its roots.
	traceOf := map[uint64]int{}
	found := make([]Found, len(groups))
	frontier = nil
	for gi, g := range groups {
		found[gi].Root = g.entry
		for _, r := range g.roots {
			traceOf[r.RowID] = gi
			frontier = append(frontier, r)
			found[gi].Matched += matchedPer[r.RowID]
		}
	}
	counted := map[uint64]bool{}
	for depth := 0; len(frontier) > 0; depth++ {
		for _, s := range frontier {
			if counted[s.RowID] {
				continue
			}
			counted[s.RowID] = true
			fd := &found[traceOf[s.RowID]]
			fd.Calls++
			if ErrorStatus(s.ResponseStatus) {
				fd.ErrorCalls++
			}
			fd.EndUs = max(fd.EndUs, s.EndUs)
		}
		if depth == MaxSearchDepth {
			break
		}
		var servers []*Span
		for _, s := range frontier {
			if s.ServerPID != 0 && s.ObservationPoint != ClientProcess {
				servers = append(servers, s)
			}
		}
		if len(servers) == 0 {
			break
		}
		probes := make([]query.TraceProbe, len(servers))
		byRow := make(map[uint64]*Span, len(servers))
		for i, p := range servers {
			probes[i] = query.TraceProbe{ID: p.RowID, Host: p.Host, PID: p.ServerPID, StartUs: p.StartUs, EndUs: p.EndUs}
			byRow[p.RowID] = p
		}
		answers, cut, err := f.Calls(ctx, query.CallsMade, probes, 0)
		res.Queries++
		if err != nil {
			return nil, err
		}
		res.Cut = res.Cut || cut
		// a call held by several probes (concurrent requests of one process) goes to the tightest
		holders, calls := map[uint64][]*Span{}, map[uint64]*Span{}
		var order []uint64
		for _, a := range answers {
			if _, seen := calls[a.Call.RowID]; !seen {
				calls[a.Call.RowID] = a.Call
				order = append(order, a.Call.RowID)
			}
			holders[a.Call.RowID] = append(holders[a.Call.RowID], byRow[a.Probe])
		}
		frontier = nil
		for _, id := range order {
			c := calls[id]
			if counted[id] {
				continue
			}
			if p := enclosing(holders[id], c); p != nil {
				traceOf[id] = traceOf[p.RowID]
				frontier = append(frontier, c)
			}
		}
	}

	// Full rows of the entries the walk found (the matches already have theirs).
	var missing []uint64
	var fromSec, toSec int64
	for _, fd := range found {
		if fd.Root.ObservationPoint != "" {
			continue
		}
		if len(missing) == 0 {
			fromSec, toSec = fd.Root.StartUs/1_000_000, fd.Root.StartUs/1_000_000
		}
		missing = append(missing, fd.Root.RowID)
		fromSec, toSec = min(fromSec, fd.Root.StartUs/1_000_000), max(toSec, fd.Root.StartUs/1_000_000)
	}
	if len(missing) > 0 {
		rows, err := f.Rows(ctx, missing, fromSec, toSec)
		res.Queries++
		if err != nil {
			return nil, err
		}
		full := map[uint64]*Span{}
		for _, r := range rows {
			full[r.RowID] = r
		}
		for i := range found {
			if r, ok := full[found[i].Root.RowID]; ok {
				found[i].Root = r
			} else if found[i].Root.ObservationPoint == "" {
				return nil, fmt.Errorf("trace search: the row %d of a root request was not found again", found[i].Root.RowID)
			}
		}
	}
	res.Traces = found
	return res, nil
}

// earlier orders spans by start, then row id.
func earlier(a, b *Span) bool {
	if a.StartUs != b.StartUs {
		return a.StartUs < b.StartUs
	}
	return a.RowID < b.RowID
}

// enclosing picks the caller of call among candidates (requests its client process served, one
// clock): one whose time holds the call's, not carrying another trace key; one sharing a key
// first, then the tightest. Nil when none.
func enclosing(candidates []*Span, call *Span) *Span {
	var best *Span
	for _, c := range candidates {
		if c.RowID == call.RowID || c.StartUs > call.StartUs || c.EndUs < call.EndUs || conflicts(c, call) {
			continue
		}
		if best == nil || (sharesKey(c, call) && !sharesKey(best, call)) ||
			(sharesKey(c, call) == sharesKey(best, call) && tighter(c, best)) {
			best = c
		}
	}
	return best
}

// ClickHouseCalls is the CallFetcher over the read-only HTTP client; it records the SQL it ran.
type ClickHouseCalls struct {
	Client   *clickhouse.Client
	Database string
	SQL      []string
}

// probesPerRound keeps one round's SQL well under query.MaxTraceSQLBytes (about 80 bytes a probe).
const probesPerRound = 1000

// Calls implements CallFetcher.
func (c *ClickHouseCalls) Calls(ctx context.Context, side string, probes []query.TraceProbe, leadUs int64) ([]ProbeCall, bool, error) {
	var out []ProbeCall
	cut := false
	for start := 0; start < len(probes); start += probesPerRound {
		st, err := query.BuildTraceCalls(c.Database, side, probes[start:min(len(probes), start+probesPerRound)], leadUs)
		if err != nil {
			return nil, false, err
		}
		c.SQL = append(c.SQL, st.SQL)
		res, err := c.Client.Query(ctx, st.SQL)
		if err != nil {
			return nil, false, err
		}
		spans, err := spansFromColumns(res, append([]string{"probe"}, query.TraceCallColumns...))
		if err != nil {
			return nil, false, err
		}
		if len(spans) > st.Limit {
			spans, cut = spans[:st.Limit], true
		}
		probeCol := 0
		for i, m := range res.Meta {
			if m.Name == "probe" {
				probeCol = i
			}
		}
		for i, s := range spans {
			id, err := strconv.ParseUint(fmt.Sprint(res.Data[i][probeCol]), 10, 64)
			if err != nil {
				return nil, false, fmt.Errorf("trace calls row %d: probe: %w", i, err)
			}
			out = append(out, ProbeCall{Probe: id, Call: s})
		}
	}
	return out, cut, nil
}

// Rows implements CallFetcher.
func (c *ClickHouseCalls) Rows(ctx context.Context, ids []uint64, fromSec, toSec int64) ([]*Span, error) {
	st, err := query.BuildTraceSpans(c.Database, query.TraceKeys{RowIDs: ids}, fromSec, toSec, query.MaxTraceSpans)
	if err != nil {
		return nil, err
	}
	c.SQL = append(c.SQL, st.SQL)
	res, err := c.Client.Query(ctx, st.SQL)
	if err != nil {
		return nil, err
	}
	return SpansFromResult(res)
}
