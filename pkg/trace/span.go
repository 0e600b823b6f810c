// Package trace assembles full-stack traces from l7_flow_log rows (one row = one request seen at
// one observation point) and says where the time went. It is pure Go: rows come from a Fetcher
// (ClickHouseFetcher in production, an in-memory table in tests) and the result is plain structs
// the datasource turns into Grafana frames.
//
// How spans link (strongest evidence first):
//   - same request: equal tcp_seq_request on the same 5-tuple (or, without a TCP sequence number,
//     the one client and one server process view of a connection whose times nest) is one call
//     seen at several observation points, chained client_process → client_nic → gateway →
//     server_nic → server_process;
//   - parent_span_id (B3) naming another call's span_id;
//   - syscall_trace_id: a client call made by a server process while it handled a request carries
//     the id the server's read got (or the id the reply of its previous call got), on the same
//     host and pid, inside the server span's time, and only if exactly one server span qualifies
//     (event-loop servers give concurrent requests the same id: ambiguous ids link nothing), and
//     never when the two carry different trace_id / x_request_id (an event loop that writes one
//     request's call after reading another request hands the call the other's id); the response
//     side checks it: the server span whose response the thread wrote right after reading the
//     call's reply (same syscall_trace_id_response) had the call as its last one. When the two
//     sides disagree, the response side wins only if the request side's server span already has
//     a call written with that id (the call's write came late); otherwise neither links;
//   - trace_id / x_request_id: spans sharing one within KeyGapUs of each other are one trace;
//     such a call's parent is the innermost call of the same trace whose server is its client.
package trace

import (
	"fmt"
	"strings"
)

// Observation points (schema.ts OBSERVATION_POINTS), in path order.
const (
	ClientProcess = "client_process"
	ClientNIC     = "client_nic"
	Gateway       = "gateway"
	ServerNIC     = "server_nic"
	ServerProcess = "server_process"
)

// rank orders observation points along one call's path; unknown points sort last.
func rank(obs string) int {
	switch obs {
	case ClientProcess:
		return 0
	case ClientNIC:
		return 1
	case Gateway:
		return 2
	case ServerNIC:
		return 3
	case ServerProcess:
		return 4
	}
	return 5
}

// Span is one l7_flow_log row: a request and its response seen at one observation point.
type Span struct {
	RowID             uint64 // _id
	StartUs, EndUs    int64  // µs since epoch
	Host              string // agent host that observed it
	ObservationPoint  string
	L7Protocol        string
	RequestType       string
	RequestDomain     string
	RequestResource   string
	Endpoint          string
	ResponseCode      int32
	ResponseStatus    string
	ResponseException string
	TraceID           string
	SpanID            string
	ParentSpanID      string
	XRequestID        string
	SyscallReq        uint64 // syscall_trace_id_request
	SyscallResp       uint64 // syscall_trace_id_response
	ThreadReq         uint32
	ThreadResp        uint32
	TCPSeqReq         uint32
	TCPSeqResp        uint32
	ClientIP          string
	ClientPort        uint16
	ServerIP          string
	ServerPort        uint16
	ClientPID         uint32
	ServerPID         uint32
	ClientProcess     string
	ServerProcess     string
	ClientService     string
	ServerService     string
}

// DurationUs is end - start, never negative.
func (s *Span) DurationUs() int64 { return max(0, s.EndUs-s.StartUs) }

// clientSide reports whether the span was observed on the client's side of the call.
func (s *Span) clientSide() bool {
	return s.ObservationPoint == ClientProcess || s.ObservationPoint == ClientNIC
}

// LocalService is the service whose view this is: the client's at client points, the server's at
// server points and gateways.
func (s *Span) LocalService() string {
	if s.clientSide() {
		return firstOf(s.ClientService, s.ClientProcess, s.ClientIP)
	}
	if s.ObservationPoint == Gateway && s.Host != "" {
		return s.Host
	}
	return firstOf(s.ServerService, s.ServerProcess, s.ServerIP)
}

// LocalProcess and LocalPID name the observed process (client at client points, else server).
func (s *Span) LocalProcess() string {
	if s.clientSide() {
		return s.ClientProcess
	}
	return s.ServerProcess
}

// LocalPID is the pid of the observed process, 0 when unknown.
func (s *Span) LocalPID() uint32 {
	if s.clientSide() {
		return s.ClientPID
	}
	return s.ServerPID
}

// LocalTID is the thread of the span's own process that handled it: the one that wrote the request
// (client process) or read it (server process), else the one that moved the response; 0 where no
// process saw it (NICs, gateways) or the thread is unknown.
func (s *Span) LocalTID() uint32 {
	if s.ObservationPoint != ClientProcess && s.ObservationPoint != ServerProcess {
		return 0
	}
	if s.ThreadReq != 0 {
		return s.ThreadReq
	}
	return s.ThreadResp
}

func (s *Span) serverName() string {
	if n := firstOf(s.ServerService, s.ServerProcess); n != "" {
		return n
	}
	if s.ServerIP != "" {
		return fmt.Sprintf("%s:%d", s.ServerIP, s.ServerPort)
	}
	return "(unknown server)"
}

func (s *Span) clientName() string {
	if n := firstOf(s.ClientService, s.ClientProcess, s.ClientIP); n != "" {
		return n
	}
	return "(unknown client)"
}

// Operation is a short name for the request: method and endpoint (or resource).
func (s *Span) Operation() string {
	what := firstOf(s.Endpoint, s.RequestResource)
	if len(what) > 120 {
		what = what[:120] + "…"
	}
	op := strings.TrimSpace(s.RequestType + " " + what)
	if s.RequestType != "" && (what == s.RequestType || strings.HasPrefix(what, s.RequestType+" ")) {
		op = what // endpoints of SQL and Redis already start with the command ("SELECT orders", "GET")
	}
	if op == "" {
		op = firstOf(s.L7Protocol, "request")
	}
	return op
}

func firstOf(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// Options bound and tune assembly. Zero fields take DefaultOptions' values.
type Options struct {
	PadSeconds      int64 // the search window is the trace's envelope ± this (whole seconds)
	MaxWindowSecs   int64 // the search window never exceeds this around the seed
	MaxRounds       int   // expansion rounds after the seed lookup
	MaxSpans        int   // spans fetched in all, beyond which the trace is marked truncated
	ClockSkewUs     int64 // allowance when nesting spans observed on different hosts
	SameHostSlackUs int64 // allowance when nesting spans observed on one host (one clock)
	KeyGapUs        int64 // spans sharing a trace_id / x_request_id further apart than this are not linked
}

// DefaultOptions are the datasource's settings.
func DefaultOptions() Options {
	return Options{
		PadSeconds:      5,
		MaxWindowSecs:   600,
		MaxRounds:       8,
		MaxSpans:        2000,
		ClockSkewUs:     100_000,
		SameHostSlackUs: 200,
		KeyGapUs:        1_000_000,
	}
}

func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.PadSeconds <= 0 {
		o.PadSeconds = d.PadSeconds
	}
	if o.MaxWindowSecs <= 0 {
		o.MaxWindowSecs = d.MaxWindowSecs
	}
	if o.MaxRounds <= 0 {
		o.MaxRounds = d.MaxRounds
	}
	if o.MaxSpans <= 0 {
		o.MaxSpans = d.MaxSpans
	}
	if o.ClockSkewUs <= 0 {
		o.ClockSkewUs = d.ClockSkewUs
	}
	if o.SameHostSlackUs <= 0 {
		o.SameHostSlackUs = d.SameHostSlackUs
	}
	if o.KeyGapUs <= 0 {
		o.KeyGapUs = d.KeyGapUs
	}
	return o
}

// allowance is how far a span observed on host b may stick out of one observed on host a.
func (o Options) allowance(a, b *Span) int64 {
	if a.Host == b.Host {
		return o.SameHostSlackUs
	}
	return o.ClockSkewUs
}

// within reports whether child nests in parent, give or take slack µs at each end.
func within(child, parent *Span, slack int64) bool {
	return child.StartUs >= parent.StartUs-slack && child.EndUs <= parent.EndUs+slack
}

// nests reports whether child may be parent's descendant: it lies inside parent give or take the
// allowance between their hosts' clocks, and is not longer (durations are measured on one clock
// each, so skew does not excuse a child outlasting its parent).
func (o Options) nests(child, parent *Span) bool {
	return within(child, parent, o.allowance(child, parent)) && child.DurationUs() <= parent.DurationUs()+2*o.SameHostSlackUs
}

// overlaps reports whether two spans overlap once each end is widened by slack.
func overlaps(a, b *Span, slack int64) bool {
	return a.StartUs <= b.EndUs+slack && b.StartUs <= a.EndUs+slack
}
