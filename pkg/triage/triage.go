// Package triage names where a problem is: given what the agent measured of a service (or an edge)
// and its call graph in a fault window and a baseline window, it ranks suspects (a place, a kind of
// fault, the evidence as figures against the baseline). It reads nothing itself: pkg/plugin runs the
// queries of pkg/query/triage.go and hands their rows here.
//
// How blame is placed. Latency: the same calls are seen at up to four observation points (client
// process, client NIC, server NIC, server process), so the time each segment adds is the difference
// of neighbouring points; a service's own time is its latency minus what its dependency calls
// (calls per request × their latency) account for. Walking from the target down the dependencies that
// account for most of its change, each place's change is weighted by its calls per target request
// (its impact on the target). Network and connection evidence (failed connects and who sent the RST,
// resets, retransmissions) and the packet timelines' client wait are compared between the windows
// on every edge the walk reaches. A place is a suspect only when its figures changed against the
// baseline beyond fixed bounds: a healthy window names nothing.
package triage

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// Places a suspect can be.
const (
	PlaceClientApp   = "client_app"
	PlaceClientNIC   = "client_nic"
	PlaceNetworkPath = "network_path"
	PlaceGateway     = "gateway"
	PlaceServerNIC   = "server_nic"
	PlaceServerApp   = "server_app"
	PlaceDependency  = "dependency"
	PlaceDNS         = "dns"
)

// Kinds of fault.
const (
	KindLatency     = "latency"
	KindErrors      = "errors"
	KindConnFailed  = "connection_failures"
	KindResets      = "resets"
	KindRetrans     = "retransmissions"
	KindClientWait  = "client_wait"
	KindZeroWindow  = "zero_windows"
	KindCPU         = "cpu"
	ConfidenceHigh  = "high"
	ConfidenceMed   = "medium"
	ConfidenceLow   = "low"
	pointClientProc = "client_process"
	pointClientNIC  = "client_nic"
	pointServerNIC  = "server_nic"
	pointServerProc = "server_process"
)

// Bounds of what counts as a change (fault window against baseline).
const (
	MinLatencyMs        = 5.0  // a latency symptom: at least this many ms slower on average...
	MinLatencyShare     = 0.2  // ...and this share of the baseline latency...
	NoiseFactor         = 3.0  // ...and this many standard errors of the change, from the baseline's spread
	MinImpactShare      = 0.25 // a latency suspect accounts for this share of the symptom
	MinImpactMs         = 3.0
	MinErrorRatio       = 0.05 // an error symptom: the error ratio rose by this much...
	MinErrors           = 3    // ...with at least this many errors
	MinFailed           = 3    // failed connects, resets
	MinFailedShare      = 0.1  // of the flows started
	MinRetransRatio     = 0.01 // retransmitted segments / segments
	MinRetrans          = 5
	MinClientWaitMs     = 10.0
	ClientWaitFactor    = 3.0 // the wait grew this many times
	MinCPUShare         = 0.3 // a function's share of the service's CPU samples in the window
	MinCPUGrowth        = 2.0 // and its samples grew this many times
	MinRequestsForHigh  = 20  // fewer requests in a window: low confidence
	maxDepth            = 6
	proxyRatioTolerance = 0.25
)

// Edge is a client→server pair of services.
type Edge struct{ Client, Server string }

func (e Edge) String() string { return e.Client + " → " + e.Server }

// RED is one window's requests of an edge at one observation point.
type RED struct{ Requests, Errors, DurationSumUs, DurationMaxUs int64 }

func (r RED) avgMs() float64 {
	if r.Requests == 0 {
		return 0
	}
	return float64(r.DurationSumUs) / float64(r.Requests) / 1000
}

// Net is one window's network metrics of an edge at one observation point.
type Net struct{ Packets, Retrans, RSTs, Failed, ZeroWindows, NewFlows int64 }

// Flows are one window's TCP flows of an edge (by start time) at one observation point.
type Flows struct {
	Flows, Failed, FailedRSTServer, FailedRSTClient, ResetByServer, ResetByClient, Timeouts int64
}

// Waits are one window's packet-timeline figures of an edge at one observation point.
type Waits struct{ Flows, WaitSumUs, WaitCount, WaitMaxUs, ResponseSumUs, ResponseCount int64 }

// Function is one function's on-CPU samples (stacks holding it) in [baseline, fault].
type Function struct {
	Name    string
	Samples [2]int64
}

// Profile is a service's on-CPU samples in [baseline, fault] and its functions, most grown first.
type Profile struct {
	Total     [2]int64
	Functions []Function
}

// Data is what the queries read: each figure as [baseline, fault].
type Data struct {
	Service, Client, Endpoint string
	// Seconds of [baseline, fault]: counts are compared as rates
	Seconds  [2]float64
	RED      map[Edge]map[string]*[2]RED
	Protocol map[Edge]string
	Net      map[Edge]map[string]*[2]Net
	Flows    map[Edge]map[string]*[2]Flows
	Waits    map[Edge]map[string]*[2]Waits
	Profiles map[string]*Profile
	// Spread is the target's own requests per time bucket, per observation point, per window: the
	// baseline's bucket-to-bucket spread of the mean latency is the noise a change must stand out of
	Spread map[string]*[2][]RED
	// Notes the reader adds (a query's bound reached, a table missing)
	Notes []string
}

// NewData is Data with its maps made.
func NewData(service, client, endpoint string, seconds [2]float64) *Data {
	return &Data{Service: service, Client: client, Endpoint: endpoint, Seconds: seconds,
		RED: map[Edge]map[string]*[2]RED{}, Protocol: map[Edge]string{}, Net: map[Edge]map[string]*[2]Net{},
		Flows: map[Edge]map[string]*[2]Flows{}, Waits: map[Edge]map[string]*[2]Waits{}, Profiles: map[string]*Profile{},
		Spread: map[string]*[2][]RED{}}
}

// AddRED adds a row of RED (window 0 baseline, 1 fault).
func (d *Data) AddRED(e Edge, point, protocol string, window int, r RED) {
	if d.RED[e] == nil {
		d.RED[e] = map[string]*[2]RED{}
	}
	if d.RED[e][point] == nil {
		d.RED[e][point] = &[2]RED{}
	}
	x := &d.RED[e][point][window]
	x.Requests += r.Requests
	x.Errors += r.Errors
	x.DurationSumUs += r.DurationSumUs
	x.DurationMaxUs = max(x.DurationMaxUs, r.DurationMaxUs)
	if d.Protocol[e] == "" || r.Requests > 0 && protocol != "" {
		d.Protocol[e] = protocol
	}
}

// AddSpread adds one time bucket of the target's own requests at a point.
func (d *Data) AddSpread(point string, window int, r RED) {
	if d.Spread[point] == nil {
		d.Spread[point] = &[2][]RED{}
	}
	d.Spread[point][window] = append(d.Spread[point][window], r)
}

// noiseMs is how far the fault window's mean latency at point may move from the baseline's by chance:
// the standard error of the difference of the two windows' means of per-bucket means, from the
// baseline's spread (0 for fewer than three baseline buckets: nothing to tell it from).
func (d *Data) noiseMs(point string) float64 {
	sp := d.Spread[point]
	if sp == nil {
		return 0
	}
	var xs []float64
	for _, r := range sp[0] {
		if r.Requests > 0 {
			xs = append(xs, r.avgMs())
		}
	}
	faultBuckets := 0
	for _, r := range sp[1] {
		if r.Requests > 0 {
			faultBuckets++
		}
	}
	if len(xs) < 3 || faultBuckets == 0 {
		return 0
	}
	var sum, sq float64
	for _, x := range xs {
		sum += x
	}
	mean := sum / float64(len(xs))
	for _, x := range xs {
		sq += (x - mean) * (x - mean)
	}
	sd := math.Sqrt(sq / float64(len(xs)-1))
	return sd * math.Sqrt(1/float64(len(xs))+1/float64(faultBuckets))
}

// AddNet adds a row of network metrics.
func (d *Data) AddNet(e Edge, point string, window int, n Net) {
	if d.Net[e] == nil {
		d.Net[e] = map[string]*[2]Net{}
	}
	if d.Net[e][point] == nil {
		d.Net[e][point] = &[2]Net{}
	}
	x := &d.Net[e][point][window]
	x.Packets += n.Packets
	x.Retrans += n.Retrans
	x.RSTs += n.RSTs
	x.Failed += n.Failed
	x.ZeroWindows += n.ZeroWindows
	x.NewFlows += n.NewFlows
}

// AddFlows adds a row of flows.
func (d *Data) AddFlows(e Edge, point string, window int, f Flows) {
	if d.Flows[e] == nil {
		d.Flows[e] = map[string]*[2]Flows{}
	}
	if d.Flows[e][point] == nil {
		d.Flows[e][point] = &[2]Flows{}
	}
	x := &d.Flows[e][point][window]
	x.Flows += f.Flows
	x.Failed += f.Failed
	x.FailedRSTServer += f.FailedRSTServer
	x.FailedRSTClient += f.FailedRSTClient
	x.ResetByServer += f.ResetByServer
	x.ResetByClient += f.ResetByClient
	x.Timeouts += f.Timeouts
}

// AddWaits adds a row of packet-timeline figures.
func (d *Data) AddWaits(e Edge, point string, window int, w Waits) {
	if d.Waits[e] == nil {
		d.Waits[e] = map[string]*[2]Waits{}
	}
	if d.Waits[e][point] == nil {
		d.Waits[e][point] = &[2]Waits{}
	}
	x := &d.Waits[e][point][window]
	x.Flows += w.Flows
	x.WaitSumUs += w.WaitSumUs
	x.WaitCount += w.WaitCount
	x.WaitMaxUs = max(x.WaitMaxUs, w.WaitMaxUs)
	x.ResponseSumUs += w.ResponseSumUs
	x.ResponseCount += w.ResponseCount
}

// Suspect is one ranked answer.
type Suspect struct {
	Rank       int
	Place      string
	Kind       string
	Service    string // the service the place belongs to (the client for client-side places)
	Edge       Edge   // the edge the evidence is on (empty for a service's own time)
	Function   string // KindCPU: the function
	Score      float64
	Confidence string
	Evidence   string
	// impact of a latency suspect on the target, ms per request
	impactMs float64
}

// Result is the ranked suspects and the notes on what could not be seen.
type Result struct {
	Suspects []Suspect
	Notes    []string
	// SymptomMs is the target's latency change (fault − baseline, ms) at its callers' view
	SymptomMs float64
	// WireEdges are the edges on the latency walk where time was added between two observation points:
	// their figures at the wire's points (the NICs) tell where between them; read those and analyze again
	WireEdges []Edge
}

// points in the order a call passes them, outside in
var pointOrder = []string{pointClientProc, pointClientNIC, pointServerNIC, pointServerProc}

// segmentPlace is the place between two neighbouring points.
var segmentPlace = map[[2]string]string{
	{pointClientProc, pointClientNIC}: PlaceClientNIC,
	{pointClientNIC, pointServerNIC}:  PlaceNetworkPath,
	{pointServerNIC, pointServerProc}: PlaceServerNIC,
}

type analysis struct {
	d        *Data
	suspects []Suspect
	notes    []string
	noted    map[string]bool
	// inbound edges per server, outbound per client
	in, out map[string][]Edge
	symptom float64 // ms
	// callersMs is the target's latency in the fault window at its callers' view
	callersMs float64
	errDelta  float64 // error ratio change at the target
	lowData   bool
	// edges whose segments the latency walk examined (their wire points tell more)
	wire map[Edge]bool
}

func (a *analysis) note(s string) {
	if !a.noted[s] {
		a.noted[s] = true
		a.notes = append(a.notes, s)
	}
}

// sumRED is RED of edges at a point, per window ("" point: each edge at its best view for outside).
func (a *analysis) sumRED(edges []Edge, point string) [2]RED {
	var out [2]RED
	for _, e := range edges {
		p := a.d.RED[e][point]
		if p == nil {
			continue
		}
		for w := 0; w < 2; w++ {
			out[w].Requests += p[w].Requests
			out[w].Errors += p[w].Errors
			out[w].DurationSumUs += p[w].DurationSumUs
			out[w].DurationMaxUs = max(out[w].DurationMaxUs, p[w].DurationMaxUs)
		}
	}
	return out
}

// firstPoint is the first of points at which any of edges has requests in the fault window.
func (a *analysis) firstPoint(edges []Edge, points []string) string {
	for _, p := range points {
		for _, e := range edges {
			if x := a.d.RED[e][p]; x != nil && x[1].Requests > 0 {
				return p
			}
		}
	}
	return ""
}

var outsideIn = pointOrder
var insideOut = []string{pointServerProc, pointServerNIC, pointClientNIC, pointClientProc}

// Analyze ranks the suspects of d (profiles of services whose own time rose are read afterwards:
// see ProfileCandidates and Refine).
func Analyze(d *Data) *Result {
	a := &analysis{d: d, noted: map[string]bool{}, in: map[string][]Edge{}, out: map[string][]Edge{}, wire: map[Edge]bool{}}
	a.notes = append(a.notes, d.Notes...)
	for e := range d.RED {
		if e.Client == e.Server {
			continue
		}
		a.in[e.Server] = append(a.in[e.Server], e)
		a.out[e.Client] = append(a.out[e.Client], e)
	}
	for _, m := range []map[string][]Edge{a.in, a.out} {
		for k := range m {
			sort.Slice(m[k], func(i, j int) bool { return m[k][i].String() < m[k][j].String() })
		}
	}
	root := a.in[d.Service]
	reached := map[string]bool{d.Service: true}
	if len(root) == 0 {
		a.note(fmt.Sprintf("no requests to %s in either window: only its network figures are compared", d.Service))
	} else {
		outer := a.firstPoint(root, outsideIn)
		if outer == "" {
			a.note(fmt.Sprintf("no requests to %s in the fault window", d.Service))
		} else {
			r := a.sumRED(root, outer)
			if r[0].Requests == 0 {
				a.note(fmt.Sprintf("no requests to %s in the baseline window: nothing to compare its latency and errors with", d.Service))
			} else {
				a.symptom = r[1].avgMs() - r[0].avgMs()
				a.errDelta = errRatio(r[1]) - errRatio(r[0])
				if r[0].Requests < MinRequestsForHigh || r[1].Requests < MinRequestsForHigh {
					a.lowData = true
					a.note(fmt.Sprintf("few requests to %s (%d in the baseline, %d in the window): its latency and error figures are of low confidence", d.Service, r[0].Requests, r[1].Requests))
				}
				a.callersMs = r[1].avgMs()
				noise := NoiseFactor * d.noiseMs(outer)
				switch {
				case a.symptom < MinLatencyMs || a.symptom < MinLatencyShare*r[0].avgMs():
				case a.symptom < noise:
					a.note(fmt.Sprintf("%s is %s slower than in the baseline, within what its baseline's spread from one moment to the next allows (%s): not a change to explain", d.Service, ms(a.symptom), ms(noise)))
					a.symptom = 0
				default:
					a.latency(d.Service, root, 1, 0, map[string]bool{})
				}
				if a.errDelta >= MinErrorRatio && r[1].Errors >= MinErrors {
					a.errorsAt(d.Service, root, 0, map[string]bool{})
				}
			}
		}
		a.reach(d.Service, reached, 0)
	}
	a.network(reached)
	a.clientWait()
	return a.result()
}

func errRatio(r RED) float64 {
	if r.Requests == 0 {
		return 0
	}
	return float64(r.Errors) / float64(r.Requests)
}

// reach marks the services the target calls, directly or not.
func (a *analysis) reach(s string, seen map[string]bool, depth int) {
	if depth >= maxDepth {
		return
	}
	for _, e := range a.out[s] {
		if !seen[e.Server] {
			seen[e.Server] = true
			a.reach(e.Server, seen, depth+1)
		}
	}
}

// viewOf is the RED of edges at the first point of points that has them, and that point.
func (a *analysis) viewOf(edges []Edge, points []string) ([2]RED, string) {
	p := a.firstPoint(edges, points)
	if p == "" {
		return [2]RED{}, ""
	}
	return a.sumRED(edges, p), p
}

// latency walks service s (its inbound edges in, weighted by mult calls per target request): the
// time its incoming edges' segments added, its own time, and its dependencies' share, recursively.
func (a *analysis) latency(s string, in []Edge, mult float64, depth int, seen map[string]bool) {
	if seen[s] || depth >= maxDepth {
		return
	}
	seen[s] = true
	// the segments of the incoming edges, each edge on its own
	for _, e := range in {
		a.segments(e, mult*a.share(e, in))
	}
	self, selfPoint := a.viewOf(in, insideOut)
	if selfPoint != pointServerProc {
		a.note(fmt.Sprintf("%s is not seen from inside (no agent on its host, or its process unknown): its own time and the network before it are told apart only by %s", s, pointName(selfPoint)))
	}
	if self[0].Requests == 0 || self[1].Requests == 0 {
		return
	}
	delta := self[1].avgMs() - self[0].avgMs()
	own := delta
	type dep struct {
		server string
		edges  []Edge
		calls  float64 // per request of s, fault window
		delta  float64 // contribution change, ms per request of s
	}
	deps := map[string]*dep{}
	for _, e := range a.out[s] {
		x := deps[e.Server]
		if x == nil {
			x = &dep{server: e.Server}
			deps[e.Server] = x
		}
		x.edges = append(x.edges, e)
	}
	var order []*dep
	for _, x := range deps {
		r, _ := a.viewOf(x.edges, outsideIn)
		c0 := float64(r[0].Requests) / float64(self[0].Requests)
		c1 := float64(r[1].Requests) / float64(self[1].Requests)
		x.calls = c1
		x.delta = c1*r[1].avgMs() - c0*r[0].avgMs()
		own -= x.delta
		order = append(order, x)
	}
	sort.Slice(order, func(i, j int) bool { return order[i].delta > order[j].delta })
	if impact := own * mult; a.counts(impact) {
		place := a.selfPlace(s, in)
		ev := fmt.Sprintf("%s's own time rose by %s per request (%s → %s at %s, its dependency calls excluded)",
			s, ms(own), ms(self[0].avgMs()), ms(self[1].avgMs()), pointName(selfPoint))
		if place == PlaceGateway {
			ev = fmt.Sprintf("the %s hop %s adds %s per request (%s → %s, its upstream's share excluded)", protoName(a.d.Protocol[in[0]]), s, ms(own), ms(self[0].avgMs()), ms(self[1].avgMs()))
		}
		a.add(Suspect{Place: place, Kind: KindLatency, Service: s, Evidence: ev, impactMs: impact, Confidence: a.confidence(self, selfPoint == pointServerProc)})
	}
	for _, x := range order {
		if a.counts(x.delta * mult) {
			a.latency(x.server, x.edges, mult*x.calls, depth+1, seen)
		}
	}
}

// share is edge e's share of the fault window's requests of edges.
func (a *analysis) share(e Edge, edges []Edge) float64 {
	r, _ := a.viewOf([]Edge{e}, outsideIn)
	all, _ := a.viewOf(edges, outsideIn)
	if all[1].Requests == 0 {
		return 0
	}
	return float64(r[1].Requests) / float64(all[1].Requests)
}

// counts tells whether a latency impact (ms per target request) is big enough to name.
func (a *analysis) counts(impact float64) bool {
	return impact >= MinImpactMs && impact >= MinImpactShare*a.symptom
}

// segments names the time added between neighbouring observation points of edge e.
func (a *analysis) segments(e Edge, mult float64) {
	var present []string
	for _, p := range pointOrder {
		if x := a.d.RED[e][p]; x != nil && x[0].Requests > 0 && x[1].Requests > 0 {
			present = append(present, p)
		}
	}
	for i := 0; i+1 < len(present); i++ {
		outer, inner := a.d.RED[e][present[i]], a.d.RED[e][present[i+1]]
		added := (outer[1].avgMs() - inner[1].avgMs()) - (outer[0].avgMs() - inner[0].avgMs())
		if !a.counts(added * mult) {
			continue
		}
		a.wire[e] = true // time added between two points: the points between them (the NICs) tell where
		place := segmentPlace[[2]string{present[i], present[i+1]}]
		if place == "" {
			place = PlaceNetworkPath // points missing between: the span holds the network
		}
		svc := e.Server
		if place == PlaceClientNIC {
			svc = e.Client
		}
		a.add(Suspect{Place: place, Kind: KindLatency, Service: svc, Edge: e, impactMs: added * mult, Confidence: a.confidence(*inner, true),
			Evidence: fmt.Sprintf("%s: %s more between %s and %s (%s → %s at %s, %s → %s at %s)", e, ms(added), pointName(present[i]), pointName(present[i+1]),
				ms(outer[0].avgMs()), ms(outer[1].avgMs()), pointName(present[i]), ms(inner[0].avgMs()), ms(inner[1].avgMs()), pointName(present[i+1]))})
	}
}

// selfPlace is where a service's own time is: a gateway when it forwards each request to one
// upstream of its own protocol, DNS or a dependency when it speaks a data protocol, else the app.
func (a *analysis) selfPlace(s string, in []Edge) string {
	proto := a.d.Protocol[in[0]]
	switch strings.ToUpper(proto) {
	case "DNS":
		return PlaceDNS
	case "HTTP", "HTTP2", "GRPC", "HTTP/1", "HTTP/2", "":
	default:
		if s != a.d.Service {
			return PlaceDependency
		}
	}
	if len(a.out[s]) == 1 && strings.EqualFold(a.d.Protocol[a.out[s][0]], proto) {
		self, _ := a.viewOf(in, insideOut)
		up, _ := a.viewOf(a.out[s], outsideIn)
		if self[1].Requests > 0 && math.Abs(float64(up[1].Requests)/float64(self[1].Requests)-1) <= proxyRatioTolerance {
			return PlaceGateway
		}
	}
	return PlaceServerApp
}

// errorsAt walks errors down: a service whose error ratio rose is blamed unless a dependency's errors
// or failed connections explain it (those are followed, or named by network()).
func (a *analysis) errorsAt(s string, in []Edge, depth int, seen map[string]bool) {
	if seen[s] || depth >= maxDepth {
		return
	}
	seen[s] = true
	self, point := a.viewOf(in, insideOut)
	if self[1].Requests == 0 {
		return
	}
	rise := errRatio(self[1]) - errRatio(self[0])
	if rise < MinErrorRatio || self[1].Errors < MinErrors {
		return
	}
	explained := false
	for _, e := range a.out[s] {
		r, _ := a.viewOf([]Edge{e}, outsideIn)
		failed := a.failed(e)
		depErrors := float64(r[1].Errors+failed[1]) - float64(r[0].Errors+failed[0])*a.rateScale()
		if depErrors >= MinErrors && depErrors >= 0.5*rise*float64(self[1].Requests) {
			explained = true
			a.errorsAt(e.Server, a.in[e.Server], depth+1, seen)
		}
	}
	if explained {
		return
	}
	a.add(Suspect{Place: a.selfPlace(s, in), Kind: KindErrors, Service: s, Score: math.Min(1, rise/math.Max(a.errDelta, MinErrorRatio)),
		Confidence: a.confidence(self, point == pointServerProc),
		Evidence:   fmt.Sprintf("%s answered %d errors of %d requests (%s), baseline %d of %d (%s); its dependencies' errors do not explain them", s, self[1].Errors, self[1].Requests, pct(errRatio(self[1])), self[0].Errors, self[0].Requests, pct(errRatio(self[0])))})
}

// rateScale turns a baseline count into the fault window's length.
func (a *analysis) rateScale() float64 {
	if a.d.Seconds[0] <= 0 {
		return 1
	}
	return a.d.Seconds[1] / a.d.Seconds[0]
}

// failed is the failed connects of edge e [baseline, fault] at its best point for them.
func (a *analysis) failed(e Edge) [2]int64 {
	f, _ := a.flowsOf(e)
	if f == nil {
		return [2]int64{}
	}
	return [2]int64{f[0].Failed, f[1].Failed}
}

// flowsOf is edge e's flows at the client's process (it sees every attempt), else the point with most.
func (a *analysis) flowsOf(e Edge) (*[2]Flows, string) {
	pts := a.d.Flows[e]
	if f := pts[pointClientProc]; f != nil {
		return f, pointClientProc
	}
	var best *[2]Flows
	var bp string
	for _, p := range append(append([]string{}, pointOrder...), "gateway") {
		if f := pts[p]; f != nil && (best == nil || f[1].Flows > best[1].Flows) {
			best, bp = f, p
		}
	}
	return best, bp
}

// network names failed connects, resets and retransmissions that rose on the edges of the reached
// services (their inbound and outbound edges).
func (a *analysis) network(reached map[string]bool) {
	edges := map[Edge]bool{}
	for _, m := range []map[Edge]map[string]*[2]Flows{a.d.Flows} {
		for e := range m {
			if reached[e.Server] || (e.Server == a.d.Service) {
				edges[e] = true
			}
		}
	}
	for e := range a.d.Net {
		if reached[e.Server] {
			edges[e] = true
		}
	}
	var list []Edge
	for e := range edges {
		if e.Server == a.d.Service && a.d.Client != "" && e.Client != a.d.Client {
			continue
		}
		list = append(list, e)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].String() < list[j].String() })
	scale := a.rateScale()
	for _, e := range list {
		if f, point := a.flowsOf(e); f != nil {
			b, w := f[0], f[1]
			share := func(n, of int64) float64 {
				if of == 0 {
					return 0
				}
				return float64(n) / float64(of)
			}
			if w.Failed >= MinFailed && share(w.Failed, w.Flows) >= MinFailedShare && float64(w.Failed) > 2*float64(b.Failed)*scale {
				place, who := PlaceNetworkPath, "no RST (timed out or dropped)"
				switch {
				case w.FailedRSTServer*2 >= w.Failed:
					place, who = PlaceServerNIC, "RST from the server's side"
				case w.FailedRSTClient*2 >= w.Failed:
					place, who = PlaceClientNIC, "RST from the client's side"
				}
				ev := fmt.Sprintf("%s: %d of %d connects failed, %d with an %s; baseline %s", e, w.Failed, w.Flows, max(w.FailedRSTServer, w.FailedRSTClient), who, ofText(b.Failed, b.Flows))
				if resets := w.ResetByServer + w.ResetByClient; resets > 0 {
					ev += fmt.Sprintf("; %d established connections reset", resets)
				}
				a.add(Suspect{Place: place, Kind: KindConnFailed, Service: e.Server, Edge: e, Score: share(w.Failed, w.Flows), Evidence: ev + fmt.Sprintf(" (at %s)", pointName(point)),
					Confidence: countConfidence(w.Failed)})
			} else if resets := w.ResetByServer + w.ResetByClient; resets >= MinFailed && share(resets, w.Flows) >= MinFailedShare && float64(resets) > 2*float64(b.ResetByServer+b.ResetByClient)*scale {
				place, who := PlaceServerNIC, "the server's side"
				if w.ResetByClient > w.ResetByServer {
					place, who = PlaceClientNIC, "the client's side"
				}
				a.add(Suspect{Place: place, Kind: KindResets, Service: e.Server, Edge: e, Score: share(resets, w.Flows), Confidence: countConfidence(resets),
					Evidence: fmt.Sprintf("%s: %d of %d connections reset from %s; baseline %s", e, resets, w.Flows, who, ofText(b.ResetByServer+b.ResetByClient, b.Flows))})
			}
		}
		if pts := a.d.Net[e]; pts != nil {
			var retrans, packets [2]int64
			for _, n := range pts {
				for i := 0; i < 2; i++ {
					retrans[i] += n[i].Retrans // each end counts its own resends
					packets[i] = max(packets[i], n[i].Packets)
				}
			}
			ratio := func(i int) float64 {
				if packets[i] == 0 {
					return 0
				}
				return float64(retrans[i]) / float64(packets[i])
			}
			// a zero window an end saw is its peer's: the peer's application stopped reading
			for _, z := range []struct{ seenAt, place, reader string }{
				{pointServerProc, PlaceClientApp, e.Client}, {pointClientProc, PlaceServerApp, e.Server}} {
				n := pts[z.seenAt]
				if n == nil || n[1].ZeroWindows == 0 || float64(n[1].ZeroWindows) <= 2*float64(n[0].ZeroWindows)*scale {
					continue
				}
				flows := max(n[1].NewFlows, 1)
				a.add(Suspect{Place: z.place, Kind: KindZeroWindow, Service: z.reader, Edge: e, Score: math.Min(1, float64(n[1].ZeroWindows)/float64(flows)),
					Confidence: countConfidence(n[1].ZeroWindows * 5), // one episode is one flow's: not many
					Evidence:   fmt.Sprintf("%s: %s stopped reading: %d zero-window episodes seen by the %s (baseline %d)", e, z.reader, n[1].ZeroWindows, pointName(z.seenAt), n[0].ZeroWindows)})
			}
			if retrans[1] >= MinRetrans && ratio(1) >= MinRetransRatio && ratio(1) >= 3*ratio(0) {
				a.add(Suspect{Place: PlaceNetworkPath, Kind: KindRetrans, Service: e.Server, Edge: e, Score: math.Min(1, 10*ratio(1)), Confidence: countConfidence(retrans[1]),
					Evidence: fmt.Sprintf("%s: %d of %d segments retransmitted (%s), baseline %d of %d (%s)", e, retrans[1], packets[1], pct(ratio(1)), retrans[0], packets[0], pct(ratio(0)))})
			}
		}
	}
}

// clientWait names the client of the target's inbound edges when its wait between a response and
// its next request (packet timelines) grew well beyond the server's response time.
func (a *analysis) clientWait() {
	var edges []Edge
	for e := range a.d.Waits {
		if e.Server == a.d.Service && (a.d.Client == "" || e.Client == a.d.Client) {
			edges = append(edges, e)
		}
	}
	sort.Slice(edges, func(i, j int) bool { return edges[i].String() < edges[j].String() })
	for _, e := range edges {
		pts := a.d.Waits[e]
		p := pointServerNIC
		if pts[p] == nil {
			p = pointClientNIC
		}
		x := pts[p]
		if x == nil {
			continue
		}
		mean := func(sum, n int64) float64 {
			if n == 0 {
				return 0
			}
			return float64(sum) / float64(n) / 1000
		}
		w0, w1 := mean(x[0].WaitSumUs, x[0].WaitCount), mean(x[1].WaitSumUs, x[1].WaitCount)
		r1 := mean(x[1].ResponseSumUs, x[1].ResponseCount)
		if x[1].WaitCount == 0 {
			continue
		}
		if x[0].WaitCount == 0 {
			a.note(fmt.Sprintf("%s: no keep-alive request pairs in the baseline's packet timelines: the client's wait (%s now) is not compared", e, ms(w1)))
			continue
		}
		if w1 >= MinClientWaitMs && w1 >= ClientWaitFactor*w0 && w1 >= 5*r1 {
			a.add(Suspect{Place: PlaceClientApp, Kind: KindClientWait, Service: e.Client, Edge: e, Score: w1 / (w1 + r1), Confidence: countConfidence(x[1].WaitCount),
				Evidence: fmt.Sprintf("%s waits %s between a response and its next request (%d waits, baseline %s); the server responds in %s (at %s)", e.Client, ms(w1), x[1].WaitCount, ms(w0), ms(r1), pointName(p))})
		}
	}
}

func countConfidence(n int64) string {
	if n >= 10 {
		return ConfidenceHigh
	}
	return ConfidenceMed
}

// confidence of a latency or error figure: enough requests, seen from inside.
func (a *analysis) confidence(r [2]RED, inside bool) string {
	switch {
	case a.lowData || r[0].Requests < MinRequestsForHigh || r[1].Requests < MinRequestsForHigh:
		return ConfidenceLow
	case !inside:
		return ConfidenceMed
	}
	return ConfidenceHigh
}

func (a *analysis) add(s Suspect) {
	if s.Kind == KindLatency {
		s.Score = a.latencyScore(s.impactMs)
		s.Evidence += fmt.Sprintf("; %s of the %s the target's callers see added", ms(s.impactMs), ms(a.symptom))
	}
	a.suspects = append(a.suspects, s)
}

// latencyScore is a latency suspect's share of the time the target's callers wait in the window (not only
// of its change: a small rise on an edge whose client waits far longer is not that edge's problem).
func (a *analysis) latencyScore(impactMs float64) float64 {
	return math.Min(1, impactMs/math.Max(math.Max(a.symptom, a.callersMs), MinLatencyMs))
}

var placeRank = map[string]int{PlaceNetworkPath: 0, PlaceServerNIC: 1, PlaceClientNIC: 2, PlaceDNS: 3, PlaceDependency: 4, PlaceGateway: 5, PlaceServerApp: 6, PlaceClientApp: 7}

// result merges suspects of one place (network latency on an edge with its retransmissions or
// failures: one cause) and ranks them.
func (a *analysis) result() *Result {
	// a segment's latency goes to the network evidence of its edge; else time between the server's NIC
	// and its process goes to the server's own time when that rose too (a busy server leaves requests
	// queued unread: a single-threaded cache blocked in a slow command)
	into := func(s Suspect) *Suspect {
		if s.Kind != KindLatency || s.Edge == (Edge{}) {
			return nil
		}
		for i := range a.suspects {
			o := &a.suspects[i]
			if o.Edge == s.Edge && (o.Kind == KindRetrans || o.Kind == KindConnFailed || o.Kind == KindResets) {
				return o
			}
		}
		if s.Place == PlaceServerNIC {
			for i := range a.suspects {
				if o := &a.suspects[i]; o.Kind == KindLatency && o.Edge == (Edge{}) && o.Service == s.Edge.Server {
					return o
				}
			}
		}
		return nil
	}
	var out []Suspect
	var absorbed []int
	for i, s := range a.suspects {
		if o := into(s); o != nil {
			if o.Kind == KindLatency {
				o.impactMs += s.impactMs
				o.Score = a.latencyScore(o.impactMs)
				o.Evidence += "; and queued before its process read them: " + s.Evidence
			} else {
				o.Score = math.Max(o.Score, s.Score)
				o.Evidence += "; " + s.Evidence
			}
			absorbed = append(absorbed, i)
		}
	}
	for i, s := range a.suspects {
		if !containsInt(absorbed, i) {
			out = append(out, s)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if math.Abs(out[i].Score-out[j].Score) > 1e-9 {
			return out[i].Score > out[j].Score
		}
		return placeRank[out[i].Place] < placeRank[out[j].Place]
	})
	for i := range out {
		out[i].Rank = i + 1
		out[i].Score = math.Round(out[i].Score*1000) / 1000
	}
	if len(out) == 0 && a.symptom >= MinLatencyMs {
		a.note(fmt.Sprintf("%s is %s slower than in the baseline but no single place accounts for a quarter of it", a.d.Service, ms(a.symptom)))
	}
	var wire []Edge
	for e := range a.wire {
		wire = append(wire, e)
	}
	sort.Slice(wire, func(i, j int) bool { return wire[i].String() < wire[j].String() })
	return &Result{Suspects: out, Notes: a.notes, SymptomMs: a.symptom, WireEdges: wire}
}

// ProfileCandidates are the services whose own time is a suspect (their CPU profile may say why).
func (r *Result) ProfileCandidates(limit int) []string {
	var out []string
	for _, s := range r.Suspects {
		if s.Kind == KindLatency && s.Edge == (Edge{}) && (s.Place == PlaceServerApp || s.Place == PlaceGateway) && len(out) < limit {
			out = append(out, s.Service)
		}
	}
	return out
}

// Refine turns a service's own-time suspect into a CPU suspect when its profile shows a function
// that grew and holds a large share of its on-CPU samples in the window.
func (r *Result) Refine(profiles map[string]*Profile, seconds [2]float64) {
	for i := range r.Suspects {
		s := &r.Suspects[i]
		p := profiles[s.Service]
		if s.Kind != KindLatency || s.Edge != (Edge{}) || p == nil || p.Total[1] == 0 {
			if s.Kind == KindLatency && s.Edge == (Edge{}) && (s.Place == PlaceServerApp) && (p == nil || p.Total[1] == 0) {
				r.Notes = append(r.Notes, fmt.Sprintf("no CPU profile of %s in the window: its own time is not split into CPU and waiting", s.Service))
			}
			continue
		}
		f := hottestGrown(p)
		if f == nil {
			continue
		}
		share := float64(f.Samples[1]) / float64(p.Total[1])
		rate := func(n int64, w int) float64 {
			if seconds[w] <= 0 {
				return 0
			}
			return float64(n) / seconds[w]
		}
		if share < MinCPUShare || rate(f.Samples[1], 1) < MinCPUGrowth*rate(f.Samples[0], 0) {
			continue
		}
		s.Kind, s.Function = KindCPU, f.Name
		s.Evidence = fmt.Sprintf("%s: %s on CPU in %s of its samples (%d, %.1f/s; baseline %d, %.1f/s); ", s.Service, f.Name, pct(share), f.Samples[1], rate(f.Samples[1], 1), f.Samples[0], rate(f.Samples[0], 0)) + s.Evidence
	}
}

// hottestGrown is the most specific function among those whose samples grew most: of the functions
// within 80% of the largest growth, the one in fewest samples (a caller holds all its callees' samples).
func hottestGrown(p *Profile) *Function {
	var top int64
	for _, f := range p.Functions {
		top = max(top, f.Samples[1]-f.Samples[0])
	}
	if top <= 0 {
		return nil
	}
	var best *Function
	for i := range p.Functions {
		f := &p.Functions[i]
		if g := f.Samples[1] - f.Samples[0]; float64(g) >= 0.8*float64(top) && (best == nil || f.Samples[1] < best.Samples[1]) {
			best = f
		}
	}
	return best
}

func containsInt(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func ms(v float64) string {
	switch a := math.Abs(v); {
	case a >= 100:
		return fmt.Sprintf("%.0f ms", v)
	case a >= 10:
		return fmt.Sprintf("%.1f ms", v)
	default:
		return fmt.Sprintf("%.2f ms", v)
	}
}

func pct(v float64) string { return fmt.Sprintf("%.1f%%", v*100) }

func ofText(n, of int64) string {
	if of == 0 {
		return "no new connections"
	}
	if n == 0 {
		return fmt.Sprintf("none of %d", of)
	}
	return fmt.Sprintf("%d of %d", n, of)
}

func pointName(p string) string {
	if p == "" {
		return "no observation point"
	}
	return strings.ReplaceAll(p, "_", " ")
}

func protoName(p string) string {
	if p == "" {
		return "TCP"
	}
	return p
}
