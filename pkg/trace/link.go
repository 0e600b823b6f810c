package trace

import (
	"fmt"
	"sort"
)

// How a span is linked to its parent.
const (
	LinkSameRequest  = "same_request"     // equal tcp_seq_request on one 5-tuple: the same call further along its path
	LinkSameFlow     = "same_flow"        // no TCP sequence number: the one client and server view of a connection that nest
	LinkParentSpanID = "parent_span_id"   // B3 parent span id names the parent call's span id
	LinkSyscall      = "syscall_trace_id" // made by the parent's server thread while it handled the request
	LinkTraceKey     = "trace_key"        // same trace_id / x_request_id; the innermost call whose server is this call's client
)

// graph is a linked pool of spans.
type graph struct {
	opt        Options
	spans      []*Span // deduplicated, ordered by (StartUs, rank, RowID)
	index      map[uint64]int
	parent     []int
	reason     []string
	group      []int
	groups     [][]int // members of each call group, in path order
	uf         []int
	ambiguous  []bool // a syscall id matched several concurrent server spans: left unlinked by it
	cycles     int    // candidate parents refused because they would close a cycle
	duplicates int
	alias      map[uint64]uint64 // row id of a dropped duplicate → the kept row's
}

func (g *graph) find(i int) int {
	for g.uf[i] != i {
		g.uf[i] = g.uf[g.uf[i]]
		i = g.uf[i]
	}
	return i
}

func (g *graph) union(a, b int) {
	ra, rb := g.find(a), g.find(b)
	if ra == rb {
		return
	}
	if ra < rb {
		g.uf[rb] = ra
	} else {
		g.uf[ra] = rb
	}
}

// dedupe drops repeated rows: the same _id (an insert retried) or the same observation written
// twice under two ids (same point, host, 5-tuple, sequence and times); the lowest _id stays.
func dedupe(pool []*Span) ([]*Span, map[uint64]uint64) {
	byID := append([]*Span(nil), pool...)
	sort.Slice(byID, func(i, j int) bool { return byID[i].RowID < byID[j].RowID })
	type obsKey struct {
		obs, host, cip, sip, rtype, res string
		cport, sport                    uint16
		seq                             uint32
		start, end                      int64
	}
	seenID := map[uint64]bool{}
	seenObs := map[obsKey]uint64{}
	out := make([]*Span, 0, len(byID))
	alias := map[uint64]uint64{} // dropped row id → the kept one
	for _, s := range byID {
		k := obsKey{s.ObservationPoint, s.Host, s.ClientIP, s.ServerIP, s.RequestType, s.RequestResource,
			s.ClientPort, s.ServerPort, s.TCPSeqReq, s.StartUs, s.EndUs}
		if seenID[s.RowID] {
			alias[s.RowID] = s.RowID
			continue
		}
		if kept, ok := seenObs[k]; ok {
			alias[s.RowID] = kept
			continue
		}
		seenID[s.RowID], seenObs[k] = true, s.RowID
		out = append(out, s)
	}
	sortSpans(out)
	return out, alias
}

func sortSpans(s []*Span) {
	sort.Slice(s, func(i, j int) bool {
		a, b := s[i], s[j]
		if a.StartUs != b.StartUs {
			return a.StartUs < b.StartUs
		}
		if ra, rb := rank(a.ObservationPoint), rank(b.ObservationPoint); ra != rb {
			return ra < rb
		}
		return a.RowID < b.RowID
	})
}

// link builds call groups, parent edges and trace membership over a pool of spans.
func link(pool []*Span, opt Options) *graph {
	spans, alias := dedupe(pool)
	n := len(spans)
	g := &graph{opt: opt, spans: spans, index: make(map[uint64]int, n), parent: make([]int, n), reason: make([]string, n),
		group: make([]int, n), uf: make([]int, n), ambiguous: make([]bool, n), duplicates: len(alias), alias: alias}
	for i, s := range spans {
		g.index[s.RowID] = i
		g.parent[i], g.group[i], g.uf[i] = -1, -1, i
	}
	g.groupCalls()
	g.linkCalls()
	g.linkKeys()
	return g
}

func (g *graph) newGroup(members ...int) {
	id := len(g.groups)
	for _, m := range members {
		g.group[m] = id
	}
	g.groups = append(g.groups, members)
}

// groupCalls puts the observations of one call into one group and chains them in path order.
func (g *graph) groupCalls() {
	type callKey struct {
		seq          uint32
		cip, sip     string
		cport, sport uint16
	}
	var keys []callKey
	byKey := map[callKey][]int{}
	for i, s := range g.spans {
		if s.TCPSeqReq == 0 {
			continue
		}
		k := callKey{s.TCPSeqReq, s.ClientIP, s.ServerIP, s.ClientPort, s.ServerPort}
		if _, ok := byKey[k]; !ok {
			keys = append(keys, k)
		}
		byKey[k] = append(byKey[k], i)
	}
	for _, k := range keys {
		var mine []int // groups of this key
		for _, i := range byKey[k] {
			s := g.spans[i]
			placed := false
			for _, gi := range mine {
				ok := true
				for _, m := range g.groups[gi] {
					o := g.spans[m]
					// One observation per point, and times that meet (a reused port's old call does not).
					if rank(o.ObservationPoint) == rank(s.ObservationPoint) || !overlaps(o, s, g.opt.allowance(o, s)) {
						ok = false
						break
					}
				}
				if ok {
					g.groups[gi] = append(g.groups[gi], i)
					g.group[i] = gi
					placed = true
					break
				}
			}
			if !placed {
				mine = append(mine, len(g.groups))
				g.newGroup(i)
			}
		}
	}
	// Without a TCP sequence number (TLS plaintext), pair the client and server process views of a
	// connection on one host when exactly one of each nests.
	type flowKey struct {
		host, cip, sip string
		cport, sport   uint16
	}
	clients, servers := map[flowKey][]int{}, map[flowKey][]int{}
	var flows []flowKey
	for i, s := range g.spans {
		if s.TCPSeqReq != 0 || (s.ObservationPoint != ClientProcess && s.ObservationPoint != ServerProcess) {
			continue
		}
		k := flowKey{s.Host, s.ClientIP, s.ServerIP, s.ClientPort, s.ServerPort}
		if s.ObservationPoint == ClientProcess {
			if len(clients[k]) == 0 && len(servers[k]) == 0 {
				flows = append(flows, k)
			}
			clients[k] = append(clients[k], i)
		} else {
			if len(clients[k]) == 0 && len(servers[k]) == 0 {
				flows = append(flows, k)
			}
			servers[k] = append(servers[k], i)
		}
	}
	for _, k := range flows {
		for _, si := range servers[k] {
			var match []int
			for _, ci := range clients[k] {
				if within(g.spans[si], g.spans[ci], g.opt.SameHostSlackUs) {
					match = append(match, ci)
				}
			}
			if len(match) != 1 || g.group[match[0]] >= 0 {
				continue
			}
			back := 0
			for _, sj := range servers[k] {
				if within(g.spans[sj], g.spans[match[0]], g.opt.SameHostSlackUs) {
					back++
				}
			}
			if back == 1 {
				g.newGroup(match[0], si)
			}
		}
	}
	for i := range g.spans {
		if g.group[i] < 0 {
			g.newGroup(i)
		}
	}
	for gi, members := range g.groups {
		sort.SliceStable(members, func(a, b int) bool {
			return rank(g.spans[members[a]].ObservationPoint) < rank(g.spans[members[b]].ObservationPoint)
		})
		g.groups[gi] = members
		reason := LinkSameRequest
		if g.spans[members[0]].TCPSeqReq == 0 {
			reason = LinkSameFlow
		}
		for j := 1; j < len(members); j++ {
			g.setParent(members[j], members[j-1], reason)
		}
	}
}

func (g *graph) setParent(child, parent int, reason string) {
	g.parent[child], g.reason[child] = parent, reason
	g.union(child, parent)
}

// closesCycle reports whether making a span of group gi a child of p would close a cycle.
func (g *graph) closesCycle(gi, p int) bool {
	for x, steps := p, 0; x >= 0 && steps <= len(g.spans); x, steps = g.parent[x], steps+1 {
		if g.group[x] == gi {
			return true
		}
	}
	return false
}

// structural scores whether p's server is h's client: 2 yes, 1 unknown, 0 no.
func structural(p, h *Span) int {
	if p.Host == h.Host && p.ServerPID != 0 && h.ClientPID != 0 {
		if p.ServerPID == h.ClientPID {
			return 2
		}
		return 0
	}
	if p.ServerService != "" && h.ClientService != "" {
		if p.ServerService == h.ClientService {
			return 2
		}
		return 0
	}
	return 1
}

// sameRequest reports whether two views carry the same request text.
func sameRequest(a, b *Span) bool {
	return a.L7Protocol == b.L7Protocol && a.RequestType == b.RequestType && a.RequestResource == b.RequestResource &&
		a.Endpoint == b.Endpoint
}

// conflicts reports whether two spans carry different ids of one kind (trace_id or x_request_id):
// different requests, whatever a shared syscall_trace_id says (an event loop that writes one
// request's call after reading another request carries the other's id).
func conflicts(a, b *Span) bool {
	return (a.TraceID != "" && b.TraceID != "" && a.TraceID != b.TraceID) ||
		(a.XRequestID != "" && b.XRequestID != "" && a.XRequestID != b.XRequestID)
}

func sharesKey(a, b *Span) bool {
	return (a.TraceID != "" && a.TraceID == b.TraceID) || (a.XRequestID != "" && a.XRequestID == b.XRequestID)
}

// linkCalls gives each call group's first observation its parent in another call.
func (g *graph) linkCalls() {
	spanIDs := map[string][]int{}
	type chainEntry struct {
		srv int
		tid uint32 // thread that carried the id, 0 if unknown
	}
	chain := map[uint64][]chainEntry{}   // syscall id → server spans whose handling thread carried it
	closing := map[uint64][]chainEntry{} // syscall id → server spans whose response carried it
	heads := map[uint64][]int{}          // syscall id → calls (group heads) written with it
	keyGroups := map[string][]int{}      // "t:"+trace_id / "x:"+x_request_id → groups
	for gi, members := range g.groups {
		seen := map[string]bool{}
		for _, m := range members {
			s := g.spans[m]
			if s.SpanID != "" {
				spanIDs[s.SpanID] = append(spanIDs[s.SpanID], m)
			}
			for _, k := range []string{"t:" + s.TraceID, "x:" + s.XRequestID} {
				if len(k) > 2 && !seen[k] {
					seen[k] = true
					keyGroups[k] = append(keyGroups[k], gi)
				}
			}
		}
		tail := g.spans[members[len(members)-1]]
		if (tail.ObservationPoint == ServerProcess || tail.ObservationPoint == Gateway) && tail.SyscallReq != 0 {
			chain[tail.SyscallReq] = append(chain[tail.SyscallReq], chainEntry{members[len(members)-1], tail.ThreadReq})
			if tail.SyscallResp != 0 {
				closing[tail.SyscallResp] = append(closing[tail.SyscallResp], chainEntry{members[len(members)-1], tail.ThreadResp})
			}
		}
		if head := g.spans[members[0]]; (head.ObservationPoint == ClientProcess || head.ObservationPoint == Gateway) && head.SyscallReq != 0 {
			heads[head.SyscallReq] = append(heads[head.SyscallReq], members[0])
		}
	}
	order := make([]int, len(g.groups))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return g.groups[order[a]][0] < g.groups[order[b]][0] })

	serverSide := func(p int) bool { return rank(g.spans[p].ObservationPoint) >= rank(Gateway) }
	for _, gi := range order {
		hi := g.groups[gi][0]
		h := g.spans[hi]
		tail := func(p int) int { m := g.groups[g.group[p]]; return m[len(m)-1] }

		// 1. B3: the parent span id is another call's span id.
		if h.ParentSpanID != "" {
			best := -1
			for _, c := range spanIDs[h.ParentSpanID] {
				p := tail(c)
				ps := g.spans[p]
				if g.group[p] == gi || !serverSide(p) || (h.TraceID != "" && ps.TraceID != "" && h.TraceID != ps.TraceID) ||
					!g.opt.nests(h, ps) {
					continue
				}
				if g.closesCycle(gi, p) {
					g.cycles++
					continue
				}
				if best < 0 || tighter(ps, g.spans[best]) {
					best = p
				}
			}
			if best >= 0 {
				g.setParent(hi, best, LinkParentSpanID)
				continue
			}
		}

		// 2. syscall_trace_id: a call made by the server thread that handled the parent request.
		if (h.ObservationPoint == ClientProcess || h.ObservationPoint == Gateway) && h.SyscallReq != 0 {
			var cands []int
			for _, e := range chain[h.SyscallReq] {
				s := g.spans[e.srv]
				if g.group[e.srv] == gi || s.Host != h.Host || (s.ServerPID != 0 && h.ClientPID != 0 && s.ServerPID != h.ClientPID) ||
					(e.tid != 0 && h.ThreadReq != 0 && e.tid != h.ThreadReq) || !within(h, s, g.opt.SameHostSlackUs) || conflicts(h, s) {
					continue
				}
				if g.closesCycle(gi, e.srv) {
					g.cycles++
					continue
				}
				if !containsInt(cands, e.srv) {
					cands = append(cands, e.srv)
				}
			}
			if len(cands) > 1 {
				// Concurrent requests on one thread share the id: a shared trace key may still tell.
				var keyed []int
				for _, c := range cands {
					if sharesKey(h, g.spans[c]) {
						keyed = append(keyed, c)
					}
				}
				if len(keyed) == 1 {
					cands = keyed
				}
			}
			// The other end of the evidence: the server span whose response the thread wrote right
			// after reading this call's reply (the call was its last one).
			var back []int
			if h.SyscallResp != 0 && h.SyscallResp != h.SyscallReq {
				for _, e := range closing[h.SyscallResp] {
					s := g.spans[e.srv]
					if g.group[e.srv] == gi || s.Host != h.Host || (s.ServerPID != 0 && h.ClientPID != 0 && s.ServerPID != h.ClientPID) ||
						(e.tid != 0 && h.ThreadResp != 0 && e.tid != h.ThreadResp) || !within(h, s, g.opt.SameHostSlackUs) || conflicts(h, s) ||
						containsInt(back, e.srv) {
						continue
					}
					if g.closesCycle(gi, e.srv) {
						g.cycles++
						continue
					}
					back = append(back, e.srv)
				}
			}
			// writtenLate: the request's server span already has a call written with this id, so this
			// one is probably another request's call whose write waited (a new pooled connection,
			// a queue for a free one) until after that request's read gave the thread its id.
			writtenLate := func(srv int) bool {
				for _, o := range heads[h.SyscallReq] {
					if os := g.spans[o]; o != hi && os.Host == h.Host && os.ClientPID == h.ClientPID && within(os, g.spans[srv], g.opt.SameHostSlackUs) {
						return true
					}
				}
				return false
			}
			parent := -1
			switch {
			case len(cands) == 1 && (len(back) != 1 || back[0] == cands[0]):
				parent = cands[0]
			case len(cands) == 1 && writtenLate(cands[0]):
				parent = back[0]
			case len(cands) != 1 && len(back) == 1 && (len(cands) == 0 || containsInt(cands, back[0])):
				parent = back[0]
			}
			if parent < 0 && len(cands) > 0 {
				g.ambiguous[hi] = true
			}
			if parent >= 0 {
				g.setParent(hi, parent, LinkSyscall)
				// The reply's read gave the thread a new id: the server's next call carries it.
				if h.SyscallResp != 0 && h.SyscallResp != h.SyscallReq {
					chain[h.SyscallResp] = append(chain[h.SyscallResp], chainEntry{parent, h.ThreadResp})
				}
				continue
			}
		}

		// 3. Same trace_id / x_request_id: the innermost call of the trace whose server is this call's client.
		best, bestScore := -1, 0
		seenGroup := map[int]bool{gi: true}
		for _, m := range g.groups[gi] {
			s := g.spans[m]
			for _, k := range []string{"t:" + s.TraceID, "x:" + s.XRequestID} {
				if len(k) == 2 {
					continue
				}
				for _, pg := range keyGroups[k] {
					if seenGroup[pg] {
						continue
					}
					seenGroup[pg] = true
					p := g.groups[pg][len(g.groups[pg])-1]
					ps := g.spans[p]
					if !g.opt.nests(h, ps) {
						continue
					}
					var score int
					switch {
					case serverSide(p):
						score = structural(ps, h)
					case serverSide(hi) && sameRequest(ps, h):
						// A NAT or proxy changed the 5-tuple between the client's and the server's
						// view of one call: same request, same trace key, nested times.
						score = 3
					}
					if score == 0 || score < bestScore {
						continue
					}
					if g.closesCycle(gi, p) {
						g.cycles++
						continue
					}
					if best < 0 || score > bestScore || tighter(ps, g.spans[best]) {
						best, bestScore = p, score
					}
				}
			}
		}
		if best >= 0 {
			g.setParent(hi, best, LinkTraceKey)
		}
	}
}

// tighter orders candidate parents: the shorter one nests deeper; then the later start, then the lower id.
func tighter(a, b *Span) bool {
	if da, db := a.DurationUs(), b.DurationUs(); da != db {
		return da < db
	}
	if a.StartUs != b.StartUs {
		return a.StartUs > b.StartUs
	}
	return a.RowID < b.RowID
}

func containsInt(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// linkKeys joins spans sharing a trace_id or x_request_id into one trace, unless their times are
// further apart than KeyGapUs (a reused or colliding id does not merge two traces).
func (g *graph) linkKeys() {
	for _, keyOf := range []func(*Span) string{
		func(s *Span) string { return s.TraceID },
		func(s *Span) string { return s.XRequestID },
	} {
		var vals []string
		by := map[string][]int{}
		for i, s := range g.spans {
			if k := keyOf(s); k != "" {
				if _, ok := by[k]; !ok {
					vals = append(vals, k)
				}
				by[k] = append(by[k], i) // spans are in start order already
			}
		}
		for _, v := range vals {
			list := by[v]
			end := g.spans[list[0]].EndUs
			for j := 1; j < len(list); j++ {
				s := g.spans[list[j]]
				if s.StartUs <= end+g.opt.KeyGapUs {
					g.union(list[j-1], list[j])
					end = max(end, s.EndUs)
				} else {
					end = s.EndUs
				}
			}
		}
	}
}

// component returns the members of the trace holding the seed spans (by row id), in span order.
// When the seeds fall into several traces (a trace id reused far apart), the largest is chosen
// and others counts the rest.
func (g *graph) component(seeds []uint64) (members []int, others int) {
	sizes := map[int]int{}
	for i := range g.spans {
		sizes[g.find(i)]++
	}
	best := -1
	roots := map[int]bool{}
	for _, id := range seeds {
		if kept, dup := g.alias[id]; dup {
			id = kept
		}
		i, ok := g.index[id]
		if !ok {
			continue
		}
		r := g.find(i)
		roots[r] = true
		if best < 0 || sizes[r] > sizes[best] || (sizes[r] == sizes[best] && r < best) {
			best = r
		}
	}
	if best < 0 {
		return nil, 0
	}
	for i := range g.spans {
		if g.find(i) == best {
			members = append(members, i)
		}
	}
	return members, len(roots) - 1
}

func (g *graph) describeAmbiguous(members []int) string {
	n := 0
	for _, m := range members {
		if g.ambiguous[m] {
			n++
		}
	}
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("%d call(s) carry a syscall_trace_id shared by concurrent requests on one thread: not linked by it", n)
}
