package trace

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/flowlens/flowlens/pkg/query"
	"github.com/flowlens/flowlens/pkg/tcptimeline"
)

// The network under a trace: the L4 events of the connections its calls travel on, read from the
// packet timelines (tcp_timeline: each packet with its time, at the NICs the agent captures) and
// the flow logs (l4_flow_log: per connection counts, failed connects, resets). A call's evidence:
//   - retransmissions during the call, each with the time its lost copy left: from the lost copy to
//     the resend the data waited on the network, so that time of the call's spans on the critical
//     path is the network path's in the verdict (a server's write() blocks, a client's read waits,
//     and neither is the application's doing);
//   - failed connects and resets of the same client to the same server just before the
//     connection that carried the request opened;
//   - zero-window episodes on the connection during the call (counts: the flow log has no times);
//   - on a keep-alive connection, how long the client waited before sending the request (the
//     network profile's client wait ending where the request starts): time outside the trace.

// Flow is a connection's 5-tuple (TCP).
type Flow = query.TraceFlow

// Timeline is one tcp_timeline row: the packets of a connection at one observation point.
type Timeline struct {
	Flow
	Host, ObservationPoint string
	Packets                []tcptimeline.Packet
	RetransCount           int64 // every retransmission of the row, stored packets or not
	EventsTruncated        int64
}

// L4Flow is one l4_flow_log row.
type L4Flow struct {
	Flow
	Host, ObservationPoint string
	ClientPID              uint32
	StartUs, EndUs         int64
	SynLatencyUs           int64
	RetransCount           int64
	ZeroWindowCount        int64
	RstCount               int64
	RstSender, CloseType   string
	ConnFailed             bool
}

// NetRows are the L4 rows around a trace's connections.
type NetRows struct {
	Timelines []Timeline
	Flows     []L4Flow
	Truncated bool // more rows than one lookup reads
}

// NetWindow is where a trace's L4 rows are looked up: its connections and, per table, the time
// column's range (unix seconds).
type NetWindow struct {
	Flows                    []Flow
	TimelineFrom, TimelineTo int64
	FlowLogFrom, FlowLogTo   int64
}

// NetFetcher reads the L4 rows of a trace's connections. A Fetcher that is also a NetFetcher gives
// assembled traces their network evidence.
type NetFetcher interface {
	FetchNet(ctx context.Context, w NetWindow) (*NetRows, error)
}

// Net event kinds.
const (
	EventRetransmission = "retransmission"
	EventConnectFailed  = "connect_failed"
	EventReset          = "reset"
	EventZeroWindow     = "zero_window"
	EventClientWait     = "client_wait"
)

// NetEvent is one L4 event shown on a span (a span log).
type NetEvent struct {
	TimeUs int64 // trace time (clock-skew corrected)
	Kind   string
	Count  int64
	WaitUs int64 // retransmission: how long its data waited; client_wait: the wait
	Text   string
}

// CallNet is the network evidence of one call (every observation point of it).
type CallNet struct {
	Path            HopKey // the call's network hop
	Point           string // observation point whose packets gave the retransmissions
	Retransmissions int64  // resent segments during the call
	RetransWaitUs   int64  // union of the times their data waited, within the call
	CriticalWaitUs  int64  // of which on the critical path (moved to the network path)
	UntimedRetrans  int64  // counted by the flow log only (no packet timeline of the call)
	ZeroWindows     int64
	FailedConnects  int64
	Resets          int64
	RstFromServer   bool
	OwnReset        string // the call's own connection was reset: "server" or "client" sent the RST
	ClientWaitUs    int64
	waits           []interval // trace time
}

type interval struct{ a, b int64 }

// Timing bounds of the evidence.
const (
	// PreludeUs: failed connects and resets at most this long before the connection opened count.
	PreludeUs = 10_000_000
	// timelineLookbackSec: a timeline row's time is its first packet's second; a connection writes a
	// row a minute and is closed after 2 idle minutes, so a row with packets at T starts after T - 3 min.
	timelineLookbackSec = 180
	// flowLogLookaheadSec: a flow log row's time is the end of its interval (a minute) or the close.
	flowLogLookaheadSec = 70
	// nicSlackUs: an L4 event and the span it belongs to, seen on one host, are at most this far apart
	// (the client wait ends with the request's first packet at the NIC; a reset precedes its error span).
	nicSlackUs = 1000
)

// call is one call of the trace: its observation points in path order.
type call struct {
	nodes []*Node
	net   *CallNet
}

func (c *call) head() *Node { return c.nodes[0] }

func (c *call) span() (int64, int64) {
	lo, hi := c.nodes[0].AStartUs, c.nodes[0].AEndUs
	for _, n := range c.nodes {
		lo, hi = min(lo, n.AStartUs), max(hi, n.AEndUs)
	}
	return lo, hi
}

// at is the call's node observed at point obs, nil when none was.
func (c *call) at(obs string) *Node {
	for _, n := range c.nodes {
		if n.ObservationPoint == obs {
			return n
		}
	}
	return nil
}

func (c *call) flow() Flow {
	s := c.head().Span
	return Flow{ClientIP: s.ClientIP, ClientPort: s.ClientPort, ServerIP: s.ServerIP, ServerPort: s.ServerPort}
}

// callsOf splits a trace into calls: a node linked to its parent as the same request continues
// its parent's call.
func callsOf(nodes []*Node) []*call {
	var out []*call
	byHead := map[*Node]*call{}
	for _, n := range nodes {
		if n.Parent != nil && (n.Link == LinkSameRequest || n.Link == LinkSameFlow) {
			c := byHead[n.Parent]
			c.nodes = append(c.nodes, n)
			byHead[n] = c
			continue
		}
		c := &call{nodes: []*Node{n}, net: n.Call}
		byHead[n] = c
		out = append(out, c)
	}
	return out
}

// netWindow lists a trace's TCP connections and where their rows are.
func netWindow(tr *Trace) (NetWindow, bool) {
	var w NetWindow
	seen := map[Flow]bool{}
	var lo, hi int64
	for _, c := range callsOf(tr.Nodes) {
		f := c.flow()
		if f.ClientIP == "" || f.ServerIP == "" || f.ClientPort == 0 || f.ServerPort == 0 {
			continue
		}
		if !seen[f] && len(w.Flows) < query.MaxTraceNetFlows {
			seen[f] = true
			w.Flows = append(w.Flows, f)
		}
		for _, n := range c.nodes {
			if lo == 0 || n.StartUs < lo {
				lo = n.StartUs
			}
			hi = max(hi, n.EndUs)
		}
	}
	if len(w.Flows) == 0 {
		return w, false
	}
	from, to := lo/1_000_000, hi/1_000_000+1
	w.TimelineFrom, w.TimelineTo = from-timelineLookbackSec, to
	w.FlowLogFrom, w.FlowLogTo = from-PreludeUs/1_000_000-1, to+flowLogLookaheadSec
	return w, true
}

// union merges intervals; the total length of the result.
func union(ivs []interval) ([]interval, int64) {
	sort.Slice(ivs, func(i, j int) bool { return ivs[i].a < ivs[j].a })
	var out []interval
	var total int64
	for _, x := range ivs {
		if x.b <= x.a {
			continue
		}
		if len(out) > 0 && x.a <= out[len(out)-1].b {
			if x.b > out[len(out)-1].b {
				total += x.b - out[len(out)-1].b
				out[len(out)-1].b = x.b
			}
			continue
		}
		out = append(out, x)
		total += x.b - x.a
	}
	return out, total
}

// overlap is the length of a ∩ b, both sorted and disjoint.
func overlap(a, b []interval) int64 {
	var n int64
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		lo, hi := max(a[i].a, b[j].a), min(a[i].b, b[j].b)
		if hi > lo {
			n += hi - lo
		}
		if a[i].b < b[j].b {
			i++
		} else {
			j++
		}
	}
	return n
}

// attachNet gives each call of the trace its network evidence and its spans their events.
func attachNet(tr *Trace, rows *NetRows) {
	if rows == nil {
		return
	}
	timelines := map[Flow][]*Timeline{}
	for i := range rows.Timelines {
		t := &rows.Timelines[i]
		timelines[t.Flow] = append(timelines[t.Flow], t)
	}
	flows := map[Flow][]*L4Flow{}
	type pair struct {
		cip, sip string
		sport    uint16
	}
	failures := map[pair][]*L4Flow{}
	for i := range rows.Flows {
		f := &rows.Flows[i]
		flows[f.Flow] = append(flows[f.Flow], f)
		if f.ConnFailed || f.RstCount > 0 {
			k := pair{f.ClientIP, f.ServerIP, f.ServerPort}
			failures[k] = append(failures[k], f)
		}
	}
	for _, c := range callsOf(tr.Nodes) {
		f := c.flow()
		cn := &CallNet{Path: HopKey{HopNetwork, c.head().clientName() + " → " + c.head().serverName()}}
		lo, hi := c.span()
		retransmissions(c, cn, timelines[f], lo, hi)
		if cn.Retransmissions == 0 {
			// no packet timeline: the flow log counts them, without times
			for _, r := range flows[f] {
				if r.StartUs <= c.head().EndUs && r.EndUs >= c.head().StartUs && (r.ObservationPoint == ClientProcess || r.ObservationPoint == ServerProcess) {
					cn.UntimedRetrans = max(cn.UntimedRetrans, r.RetransCount)
				}
			}
		}
		for _, r := range flows[f] {
			if r.StartUs <= c.head().EndUs && r.EndUs >= c.head().StartUs {
				cn.ZeroWindows = max(cn.ZeroWindows, r.ZeroWindowCount)
			}
		}
		for _, r := range flows[f] {
			// the call's own connection reset while it ran (or right after: the RST ends it)
			if r.RstCount > 0 && r.EndUs >= c.head().StartUs-nicSlackUs && r.EndUs <= c.head().EndUs+1_000_000 && cn.OwnReset == "" {
				cn.OwnReset = strings.TrimPrefix(r.CloseType, "reset_by_")
				if cn.OwnReset == r.CloseType || cn.OwnReset == "" {
					cn.OwnReset = firstOf(r.RstSender, "unknown")
				}
				c.head().Events = append(c.head().Events, NetEvent{TimeUs: c.head().AStartUs + (r.EndUs - c.head().StartUs), Kind: EventReset, Count: 1,
					Text: fmt.Sprintf("this connection was reset (RST from the %s side, flow log close_type %s)", cn.OwnReset, r.CloseType)})
			}
		}
		if cn.ZeroWindows > 0 {
			c.head().Events = append(c.head().Events, NetEvent{TimeUs: lo, Kind: EventZeroWindow, Count: cn.ZeroWindows,
				Text: fmt.Sprintf("the receiver's window was closed %d time(s) on this connection while the call ran (flow log, no times)", cn.ZeroWindows)})
		}
		prelude(c, cn, flows[f], failures[pair{f.ClientIP, f.ServerIP, f.ServerPort}])
		clientWait(c, cn, timelines[f])
		c.net = cn
		for _, n := range c.nodes {
			n.Call = cn
		}
	}
}

// retransmissions finds the resends during [lo, hi] (trace time) of each direction at its sender's
// NIC (a segment seen again there was sent again; at the receiver's NIC a segment overtaken on the
// way looks the same), else at the other point that saw the most.
func retransmissions(c *call, cn *CallNet, rows []*Timeline, lo, hi int64) {
	type seen struct {
		point  string
		node   *Node
		resent [2][]tcptimeline.Retransmission
		shift  int64
	}
	byPoint := map[string]*seen{}
	var points []string
	for _, t := range rows {
		// times of a NIC are on its host's clock: shifted like the call's span seen there
		node := c.at(t.ObservationPoint)
		var shift int64
		if node != nil && node.Host == t.Host {
			shift = node.ShiftUs
		} else if node = c.head(); node.Host == t.Host {
			shift = node.ShiftUs
		}
		_, resent := tcptimeline.Analyze(append([]tcptimeline.Packet(nil), t.Packets...))
		key := t.ObservationPoint + " " + t.Host
		s := byPoint[key]
		if s == nil {
			s = &seen{point: t.ObservationPoint, node: node, shift: shift}
			byPoint[key] = s
			points = append(points, key)
		}
		for _, r := range resent {
			if at := r.ResentUs + shift; at >= lo && at <= hi {
				s.resent[r.Dir&1] = append(s.resent[r.Dir&1], r)
			}
		}
	}
	var ivs []interval
	most := 0
	for dir, sender := range []string{ClientNIC, ServerNIC} {
		var best *seen
		for _, k := range points {
			s := byPoint[k]
			switch {
			case best == nil:
				best = s
			case (s.point == sender) != (best.point == sender):
				if s.point == sender {
					best = s
				}
			case len(s.resent[dir]) > len(best.resent[dir]):
				best = s
			}
		}
		if best == nil || len(best.resent[dir]) == 0 {
			continue
		}
		resent := best.resent[dir]
		cn.Retransmissions += int64(len(resent))
		if len(resent) > most {
			most, cn.Point = len(resent), best.point
		}
		on := best.node
		if on == nil {
			on = c.head()
		}
		what := "request (client → server)"
		if dir == 1 {
			what = "response (server → client)"
		}
		for _, r := range resent {
			text := fmt.Sprintf("TCP retransmission of %d %s bytes at seq %d", r.Len, what, r.Seq)
			if r.FIN {
				text = fmt.Sprintf("TCP retransmission of the FIN closing the %s at seq %d", what, r.Seq)
			}
			if w := r.WaitUs(); w > 0 {
				text += fmt.Sprintf(": waited %s since the lost copy left", fmtUs(w))
				ivs = append(ivs, interval{max(r.FirstUs+best.shift, lo), min(r.ResentUs+best.shift, hi)})
			}
			on.Events = append(on.Events, NetEvent{TimeUs: r.ResentUs + best.shift, Kind: EventRetransmission, Count: 1, WaitUs: r.WaitUs(), Text: text + " (seen at " + best.point + ")"})
		}
	}
	cn.waits, cn.RetransWaitUs = union(ivs)
}

// prelude counts the failed connects and resets of the call's client to its server in the
// PreludeUs before the call's connection opened (its first flow log row's start, else the call's
// start); the client's pid must match where both rows know it.
func prelude(c *call, cn *CallNet, own, failed []*L4Flow) {
	h := c.head()
	open := h.StartUs
	for _, r := range own {
		if r.StartUs > 0 && r.StartUs < open && r.StartUs >= h.StartUs-PreludeUs*6 {
			open = r.StartUs
		}
	}
	seen := map[Flow]bool{}
	var last int64
	for _, r := range failed {
		if r.ClientPort == h.ClientPort || r.EndUs > open || r.EndUs < open-PreludeUs || seen[r.Flow] {
			continue
		}
		if h.ClientPID != 0 && r.ClientPID != 0 && r.ClientPID != h.ClientPID {
			continue
		}
		seen[r.Flow] = true
		if r.ConnFailed {
			cn.FailedConnects++
		} else {
			cn.Resets++
		}
		cn.RstFromServer = cn.RstFromServer || r.RstSender == "server"
		last = max(last, r.EndUs)
	}
	if cn.FailedConnects+cn.Resets == 0 {
		return
	}
	from := "the server"
	if !cn.RstFromServer {
		from = "the client's side"
	}
	at := h.AStartUs - (h.StartUs - last) // on the head's corrected clock
	if cn.FailedConnects > 0 {
		h.Events = append(h.Events, NetEvent{TimeUs: at, Kind: EventConnectFailed, Count: cn.FailedConnects,
			Text: fmt.Sprintf("%d connect(s) of %s to %s failed (RST from %s) in the %s before this connection opened",
				cn.FailedConnects, h.clientName(), h.serverName(), from, fmtUs(PreludeUs))})
	}
	if cn.Resets > 0 {
		h.Events = append(h.Events, NetEvent{TimeUs: at, Kind: EventReset, Count: cn.Resets,
			Text: fmt.Sprintf("%d connection(s) of %s to %s reset (RST from %s) in the %s before this connection opened",
				cn.Resets, h.clientName(), h.serverName(), from, fmtUs(PreludeUs))})
	}
}

// clientWait finds, on a keep-alive connection, the client's wait that ended with this request's
// first packet at a NIC (the network profile's client wait latency).
func clientWait(c *call, cn *CallNet, rows []*Timeline) {
	for _, obs := range []string{ClientNIC, ServerNIC} {
		n := c.at(obs)
		if n == nil {
			continue
		}
		for _, t := range rows {
			if t.ObservationPoint != obs || t.Host != n.Host {
				continue
			}
			intervals, _ := tcptimeline.Analyze(append([]tcptimeline.Packet(nil), t.Packets...))
			for _, iv := range intervals {
				if iv.Kind == tcptimeline.LatencyClientWait && iv.EndUs >= n.StartUs-nicSlackUs && iv.EndUs <= n.StartUs+nicSlackUs {
					cn.ClientWaitUs = iv.EndUs - iv.StartUs
					h := c.head()
					h.Events = append(h.Events, NetEvent{TimeUs: h.AStartUs, Kind: EventClientWait, WaitUs: cn.ClientWaitUs,
						Text: fmt.Sprintf("%s waited %s on this keep-alive connection before sending the request (client wait at %s; outside the trace)",
							h.clientName(), fmtUs(cn.ClientWaitUs), obs)})
					return
				}
			}
		}
	}
}

// netClauses are the verdict's network sentences: the culprit's figures when it is a network path
// with retransmissions, else the call with the most retransmission wait; failed connects and
// resets; the root's client wait as a note.
func netClauses(v *Verdict, calls []*call, root *Node) (culprit string, more []string, notes []string) {
	var best *CallNet
	for _, c := range calls {
		cn := c.net
		if cn == nil {
			continue
		}
		if cn.Retransmissions > 0 && (best == nil || cn.RetransWaitUs > best.RetransWaitUs || (cn.RetransWaitUs == best.RetransWaitUs && cn.Retransmissions > best.Retransmissions)) {
			best = cn
		}
		if cn.FailedConnects > 0 || cn.Resets > 0 {
			var what []string
			if cn.FailedConnects > 0 {
				what = append(what, fmt.Sprintf("%d failed connect(s)", cn.FailedConnects))
			}
			if cn.Resets > 0 {
				what = append(what, fmt.Sprintf("%d reset connection(s)", cn.Resets))
			}
			from := "from the server"
			if !cn.RstFromServer {
				from = "from the client's side"
			}
			more = append(more, fmt.Sprintf("before the request, %s on %s (RST %s)", strings.Join(what, " and "), cn.Path.Label, from))
		}
		if cn.OwnReset != "" {
			more = append(more, fmt.Sprintf("the connection of %s was reset by the %s", cn.Path.Label, cn.OwnReset))
		}
		if cn.UntimedRetrans > 0 {
			more = append(more, fmt.Sprintf("%s retransmitted %d segment(s) on this connection (flow log: when is unknown)", cn.Path.Label, cn.UntimedRetrans))
		}
		if cn.ZeroWindows > 0 {
			more = append(more, fmt.Sprintf("%d zero-window episode(s) on %s", cn.ZeroWindows, cn.Path.Label))
		}
		if c.head() == root && cn.ClientWaitUs > 0 {
			notes = append(notes, fmt.Sprintf("before this request %s waited %s on its keep-alive connection (client wait, outside the trace's %s)",
				root.clientName(), fmtUs(cn.ClientWaitUs), fmtUs(v.DurationUs)))
		}
	}
	if best != nil {
		figures := fmt.Sprintf("%d retransmission(s), %s waiting on them", best.Retransmissions, fmtUs(best.RetransWaitUs))
		if v.Culprit == best.Path {
			culprit = figures
		} else {
			more = append([]string{fmt.Sprintf("the network path %s: %s (%s on the critical path)", best.Path.Label, figures, fmtUs(best.CriticalWaitUs))}, more...)
		}
	}
	return culprit, more, notes
}
