package trace

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Hop kinds: where a span's own time is spent.
const (
	// HopClientApp: a client's own share of a call, from its syscall to its NIC and back (its
	// process and its host's stack); measured when the client NIC is observed.
	HopClientApp = "client_app"
	// HopNetwork: the path between two observation points of one call (NIC to NIC, NIC to
	// process, or process to process over loopback).
	HopNetwork = "network"
	// HopGateway: time inside a gateway (load balancer, NAT, proxy) the call passed through.
	HopGateway = "gateway"
	// HopServerApp: a server process's own time: handling the request, not waiting on its calls.
	HopServerApp = "server_app"
	// HopDependency: a call whose server side is not observed (a database, cache or external API
	// seen from its client only): its whole time.
	HopDependency = "dependency"
)

var hopOrder = map[string]int{HopServerApp: 0, HopDependency: 1, HopGateway: 2, HopNetwork: 3, HopClientApp: 4}

// HopKey names a hop: its kind and the service (or client → server pair) it belongs to.
type HopKey struct {
	Kind  string
	Label string
}

func (h HopKey) String() string { return h.Kind + ": " + h.Label }

// Hop is one hop's share of a trace.
type Hop struct {
	HopKey
	CriticalUs int64   // time on the critical path (what would disappear if the hop took no time)
	SelfUs     int64   // its spans' own time, critical or not (parallel branches included)
	Share      float64 // CriticalUs / end-to-end duration
	Spans      int
}

// Verdict says where a trace's time went. "Excess" is measured as critical-path time: the
// end-to-end duration is split, instant by instant, between the spans on the critical path
// (walking back from the end, always into the child that finished last), each instant charged
// to the deepest span active on that path; the shares add up to 1. The culprit is the hop
// holding the largest share: the one whose slowness the user waited on the most.
type Verdict struct {
	RootRowID  uint64
	DurationUs int64 // end-to-end: the main root's duration
	Hops       []Hop // largest critical time first
	Culprit    HopKey
	Summary    string
	// Network: the calls with L4 evidence (retransmissions, failed connects, resets, zero
	// windows, client wait), largest retransmission wait first; Notes: what lies outside the
	// trace's time but explains it (a keep-alive client's wait before the request).
	Network []CallNet
	Notes   []string
}

func sameCallChild(n *Node) *Node {
	for _, c := range n.Children {
		if c.Link == LinkSameRequest || c.Link == LinkSameFlow {
			return c
		}
	}
	return nil
}

// processLabel names a process's hop by its service; when the agent knew no service name (it
// fell back to the process name), the pid tells apart different processes of one name.
func processLabel(service, process string, pid uint32) string {
	name := firstOf(service, process)
	if pid != 0 && (service == "" || service == process) {
		return fmt.Sprintf("%s (pid %d)", name, pid)
	}
	return name
}

func hopOf(n *Node) HopKey {
	s := n.Span
	pair := s.clientName() + " → " + s.serverName()
	switch s.ObservationPoint {
	case ServerProcess:
		if s.ServerService == "" && s.ServerProcess == "" {
			return HopKey{HopServerApp, s.serverName()}
		}
		return HopKey{HopServerApp, processLabel(s.ServerService, s.ServerProcess, s.ServerPID)}
	case Gateway:
		return HopKey{HopGateway, firstOf(s.Host, "gateway")}
	case ClientNIC, ServerNIC:
		return HopKey{HopNetwork, pair}
	case ClientProcess:
		next := sameCallChild(n)
		switch {
		case next == nil:
			return HopKey{HopDependency, s.serverName()}
		case next.ObservationPoint == ClientNIC:
			if s.ClientService == "" && s.ClientProcess == "" {
				return HopKey{HopClientApp, s.clientName()}
			}
			return HopKey{HopClientApp, processLabel(s.ClientService, s.ClientProcess, s.ClientPID)}
		}
		return HopKey{HopNetwork, pair}
	}
	return HopKey{HopServerApp, s.serverName()}
}

// selfTime is n's duration minus the union of its children's intervals (clipped to n).
func selfTime(n *Node) int64 {
	type iv struct{ a, b int64 }
	var ivs []iv
	for _, c := range n.Children {
		a, b := max(c.AStartUs, n.AStartUs), min(c.AEndUs, n.AEndUs)
		if b > a {
			ivs = append(ivs, iv{a, b})
		}
	}
	sort.Slice(ivs, func(i, j int) bool { return ivs[i].a < ivs[j].a })
	covered, end := int64(0), int64(-1<<62)
	for _, x := range ivs {
		if x.a > end {
			covered += x.b - x.a
			end = x.b
		} else if x.b > end {
			covered += x.b - end
			end = x.b
		}
	}
	return max(0, n.AEndUs-n.AStartUs-covered)
}

// charge puts [a, b] on n's critical time.
func (n *Node) charge(a, b int64) {
	if b <= a {
		return
	}
	n.CriticalUs += b - a
	if k := len(n.charged); k > 0 && n.charged[k-1].a == b {
		n.charged[k-1].a = a // walking back in time: extend the last interval
		return
	}
	n.charged = append(n.charged, interval{a, b})
}

// critical charges [lo, hi] ∩ n to n and, on the critical path, to its descendants.
func critical(n *Node, lo, hi int64) {
	s, e := max(n.AStartUs, lo), min(n.AEndUs, hi)
	if e <= s {
		return
	}
	cur := e
	for cur > s {
		var best *Node
		var bs, be int64
		for _, c := range n.Children {
			cs, ce := max(c.AStartUs, s), min(c.AEndUs, cur)
			if ce <= cs {
				continue
			}
			if best == nil || ce > be || (ce == be && (cs < bs || (cs == bs && c.RowID < best.RowID))) {
				best, bs, be = c, cs, ce
			}
		}
		if best == nil {
			n.charge(s, cur)
			return
		}
		n.charge(be, cur)
		critical(best, bs, be)
		cur = bs
	}
}

func explain(roots []*Node) Verdict {
	var all func(n *Node, f func(*Node))
	all = func(n *Node, f func(*Node)) {
		f(n)
		for _, c := range n.Children {
			all(c, f)
		}
	}
	for _, r := range roots {
		all(r, func(n *Node) {
			n.Hop = hopOf(n)
			n.SelfUs = selfTime(n)
			n.CriticalUs, n.NetWaitUs, n.charged = 0, 0, nil
		})
	}
	root := mainRoot(roots)
	if root == nil {
		return Verdict{Summary: "empty trace"}
	}
	v := Verdict{RootRowID: root.RowID, DurationUs: root.AEndUs - root.AStartUs}
	critical(root, root.AStartUs, root.AEndUs)
	hops := map[HopKey]*Hop{}
	hop := func(k HopKey) *Hop {
		h := hops[k]
		if h == nil {
			h = &Hop{HopKey: k}
			hops[k] = h
		}
		return h
	}
	var calls []*call
	var nodes []*Node
	all(root, func(n *Node) { nodes = append(nodes, n) })
	for _, c := range callsOf(nodes) {
		calls = append(calls, c)
		if c.net != nil {
			c.net.CriticalWaitUs = 0
		}
	}
	all(root, func(n *Node) {
		// time the call's data waited on retransmissions is the network path's, whoever's span held it
		if cn := n.Call; cn != nil && len(cn.waits) > 0 {
			sort.Slice(n.charged, func(i, j int) bool { return n.charged[i].a < n.charged[j].a })
			if moved := overlap(n.charged, cn.waits); moved > 0 {
				n.NetWaitUs = moved
				cn.CriticalWaitUs += moved
				if n.Hop != cn.Path { // a NIC span of the path already counts there
					n.CriticalUs -= moved
					hop(cn.Path).CriticalUs += moved
				}
			}
		}
		h := hop(n.Hop)
		h.CriticalUs += n.CriticalUs
		h.SelfUs += n.SelfUs
		h.Spans++
	})
	for _, h := range hops {
		if v.DurationUs > 0 {
			h.Share = float64(h.CriticalUs) / float64(v.DurationUs)
		}
		v.Hops = append(v.Hops, *h)
	}
	sort.Slice(v.Hops, func(i, j int) bool {
		a, b := v.Hops[i], v.Hops[j]
		if a.CriticalUs != b.CriticalUs {
			return a.CriticalUs > b.CriticalUs
		}
		if hopOrder[a.Kind] != hopOrder[b.Kind] {
			return hopOrder[a.Kind] < hopOrder[b.Kind]
		}
		return a.Label < b.Label
	})
	if len(v.Hops) > 0 {
		c := v.Hops[0]
		v.Culprit = c.HopKey
		v.Summary = fmt.Sprintf("%s (%s) holds %.0f%% of the %s end-to-end time (%s on the critical path)",
			c.Label, c.Kind, c.Share*100, fmtUs(v.DurationUs), fmtUs(c.CriticalUs))
	}
	figures, more, notes := netClauses(&v, calls, root)
	if figures != "" {
		v.Summary += ": " + figures
	}
	if len(more) > 0 {
		v.Summary += "; " + strings.Join(more, "; ")
	}
	v.Notes = notes
	for _, c := range calls {
		if cn := c.net; cn != nil && (cn.OwnReset != "" || cn.Retransmissions > 0 || cn.UntimedRetrans > 0 || cn.FailedConnects > 0 || cn.Resets > 0 || cn.ZeroWindows > 0 || cn.ClientWaitUs > 0) {
			v.Network = append(v.Network, *cn)
		}
	}
	sort.SliceStable(v.Network, func(i, j int) bool { return v.Network[i].RetransWaitUs > v.Network[j].RetransWaitUs })
	return v
}

func fmtUs(us int64) string {
	return (time.Duration(us) * time.Microsecond).Round(10 * time.Microsecond).String()
}
