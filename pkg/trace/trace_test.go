package trace

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/flowlens/flowlens/pkg/query"
)

// memFetcher is an in-memory l7_flow_log answering assembly rounds like the SQL does.
type memFetcher struct {
	rows    []*Span
	queries []query.TraceKeys
}

func (m *memFetcher) Fetch(_ context.Context, k query.TraceKeys, from, to int64, limit int) ([]*Span, error) {
	m.queries = append(m.queries, k)
	u64 := func(list []uint64, v uint64) bool {
		for _, x := range list {
			if x == v {
				return true
			}
		}
		return false
	}
	str := func(list []string, v string) bool {
		for _, x := range list {
			if x == v {
				return true
			}
		}
		return false
	}
	var out []*Span
	for _, r := range m.rows {
		t := r.StartUs / 1_000_000
		if t < from || t > to {
			continue
		}
		hit := u64(k.RowIDs, r.RowID) || u64(k.SyscallIDs, r.SyscallReq) || u64(k.SyscallIDs, r.SyscallResp) ||
			str(k.TraceIDs, r.TraceID) || str(k.XRequestIDs, r.XRequestID)
		for _, s := range k.TCPSeqs {
			hit = hit || s == r.TCPSeqReq
		}
		for _, f := range k.Flows {
			hit = hit || (f.ClientIP == r.ClientIP && f.ClientPort == r.ClientPort && f.ServerIP == r.ServerIP && f.ServerPort == r.ServerPort)
		}
		if hit {
			c := *r
			out = append(out, &c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].StartUs < out[j].StartUs })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// shape renders a trace as "id" for roots and "id<parent:link" for the rest, depth first.
func shape(tr *Trace) []string {
	var out []string
	for _, n := range tr.Nodes {
		if n.Parent == nil {
			out = append(out, fmt.Sprint(n.RowID))
		} else {
			out = append(out, fmt.Sprintf("%d<%d:%s", n.RowID, n.Parent.RowID, n.Link))
		}
	}
	return out
}

func expectShape(t *testing.T, tr *Trace, want ...string) {
	t.Helper()
	if got := shape(tr); !reflect.DeepEqual(got, want) {
		t.Errorf("trace shape\n got %v\nwant %v", got, want)
	}
}

func hopUs(v Verdict) map[string]int64 {
	out := map[string]int64{}
	for _, h := range v.Hops {
		out[h.String()] = h.CriticalUs
	}
	return out
}

// checkVerdict asserts the culprit, each hop's critical time, and that the hops add up.
func checkVerdict(t *testing.T, v Verdict, duration int64, culprit HopKey, hops map[string]int64) {
	t.Helper()
	if v.DurationUs != duration {
		t.Errorf("end-to-end %d µs, want %d", v.DurationUs, duration)
	}
	if v.Culprit != culprit {
		t.Errorf("culprit %v, want %v (%s)", v.Culprit, culprit, v.Summary)
	}
	if got := hopUs(v); !reflect.DeepEqual(got, hops) {
		t.Errorf("hops\n got %v\nwant %v", got, hops)
	}
	var sum int64
	var share float64
	for _, h := range v.Hops {
		sum += h.CriticalUs
		share += h.Share
	}
	if sum != v.DurationUs || math.Abs(share-1) > 1e-9 {
		t.Errorf("hops add up to %d µs (shares %.6f), want %d (1)", sum, share, v.DurationUs)
	}
}

func remove(spans []*Span, ids ...uint64) []*Span {
	var out []*Span
	for _, s := range spans {
		keep := true
		for _, id := range ids {
			keep = keep && s.RowID != id
		}
		if keep {
			out = append(out, s)
		}
	}
	return out
}

func TestDeepFlowChain(t *testing.T) {
	want := []string{"1", "2<1:same_request", "3<2:syscall_trace_id", "4<2:syscall_trace_id"}
	for _, seed := range []uint64{1, 2, 3, 4} {
		tr := Build(deepflowChain(), []uint64{seed}, Options{})
		expectShape(t, tr, want...)
		if tr.ID != "fl-0000000000000001" {
			t.Errorf("seed %d: trace id %q", seed, tr.ID)
		}
	}
	tr := Build(deepflowChain(), []uint64{3}, Options{})
	checkVerdict(t, tr.Verdict, 100_000, HopKey{HopDependency, "postgres"}, map[string]int64{
		"dependency: postgres": 70_000, "server_app: web": 24_600, "dependency: redis": 5_000, "network: curl → web": 400,
	})
	if n := tr.Nodes[1]; n.SelfUs != 99_600-75_000 || n.Hop != (HopKey{HopServerApp, "web"}) {
		t.Errorf("web self %d hop %v", n.SelfUs, n.Hop)
	}
	// The noise stays out: the colliding id (another pid) and the next request.
	tr = Build(deepflowChain(), []uint64{6}, Options{})
	expectShape(t, tr, "6")
	tr = Build(deepflowChain(), []uint64{5}, Options{})
	expectShape(t, tr, "5")
}

// Without a service name the agent names a process by its comm: different processes of one name
// are different hops.
func TestUnnamedServicesAreToldApartByPid(t *testing.T) {
	spans := deepflowChain()
	for _, s := range spans {
		s.ClientService, s.ServerService = "", ""
		if s.ServerPID == 0 {
			s.ServerProcess = ""
			s.ServerService = map[string]string{"10.0.0.5": "redis", "10.0.0.6": "postgres"}[s.ServerIP]
		}
	}
	tr := Build(spans, []uint64{3}, Options{})
	checkVerdict(t, tr.Verdict, 100_000, HopKey{HopDependency, "postgres"}, map[string]int64{
		"dependency: postgres": 70_000, "server_app: web-bin (pid 200)": 24_600, "dependency: redis": 5_000,
		"network: curl-bin → web-bin": 400,
	})
}

func TestGatewayWithRequestID(t *testing.T) {
	want := []string{"1", "2<1:syscall_trace_id", "3<2:same_request", "4<3:same_request", "5<4:same_request",
		"6<5:trace_key", "7<6:same_request", "8<7:same_request", "9<8:same_request", "10<9:same_request", "11<10:syscall_trace_id"}
	for _, seed := range []uint64{11, 1, 8} {
		tr := Build(gatewayPath(), []uint64{seed}, Options{})
		expectShape(t, tr, want...)
		if len(tr.Warnings) != 0 {
			t.Errorf("warnings %v", tr.Warnings)
		}
	}
	tr := Build(gatewayPath(), []uint64{11}, Options{})
	checkVerdict(t, tr.Verdict, 150_000, HopKey{HopGateway, "lb-1"}, map[string]int64{
		"gateway: lb-1": 100_100, "server_app: backend": 37_600, "server_app: frontend": 7_600, "server_app: nginx": 2_000,
		"dependency: redis": 2_000, "network: nginx → frontend": 300, "network: frontend → backend": 200,
		"client_app: nginx": 100, "client_app: frontend": 100,
	})
	// Request 2 overlaps request 1 on nginx's event-loop thread (same syscall ids); its
	// X-Request-ID tells the two apart, and nothing of request 1 joins it.
	var want2 []string
	for _, w := range want {
		var a, b uint64
		var link string
		if n, _ := fmt.Sscanf(strings.Replace(strings.Replace(w, "<", " ", 1), ":", " ", 1), "%d %d %s", &a, &b, &link); n == 3 {
			want2 = append(want2, fmt.Sprintf("%d<%d:%s", a+100, b+100, link))
		} else {
			want2 = append(want2, fmt.Sprint(a+100))
		}
	}
	tr = Build(gatewayPath(), []uint64{111}, Options{})
	expectShape(t, tr, want2...)
	if tr.Verdict.Culprit != (HopKey{HopServerApp, "backend"}) {
		t.Errorf("request 2 culprit %v", tr.Verdict.Culprit)
	}
}

func TestNATChangesTheTuple(t *testing.T) {
	// No gateway observation; between the frontend's NIC and the backend's the tuple changes.
	spans := remove(gatewayPath(), 8)
	for _, s := range spans {
		if s.RowID == 9 || s.RowID == 10 {
			s.ClientIP, s.ClientPort = "10.0.0.200", 61000
		}
	}
	tr := Build(spans, []uint64{11}, Options{})
	expectShape(t, tr, "1", "2<1:syscall_trace_id", "3<2:same_request", "4<3:same_request", "5<4:same_request",
		"6<5:trace_key", "7<6:same_request", "9<7:trace_key", "10<9:same_request", "11<10:syscall_trace_id")
	// Without a request id only the process-side ids link: the backend's part stands alone.
	for _, s := range spans {
		s.XRequestID = ""
	}
	tr = Build(spans, []uint64{11}, Options{})
	expectShape(t, tr, "9", "10<9:same_request", "11<10:syscall_trace_id")
}

func TestConcurrentRequestsOnOneThreadAreNotMerged(t *testing.T) {
	spans := pipelined(false)
	tr := Build(spans, []uint64{2}, Options{})
	expectShape(t, tr, "1", "2<1:same_request")
	if len(tr.Warnings) != 1 || !strings.Contains(tr.Warnings[0], "2 call(s)") {
		t.Errorf("warnings %v", tr.Warnings)
	}
	expectShape(t, Build(spans, []uint64{12}, Options{}), "11", "12<11:same_request")
	expectShape(t, Build(spans, []uint64{3}, Options{}), "3")
	expectShape(t, Build(spans, []uint64{13}, Options{}), "13")

	// With a request id each ambiguous call finds its own request.
	spans = pipelined(true)
	expectShape(t, Build(spans, []uint64{2}, Options{}), "1", "2<1:same_request", "3<2:syscall_trace_id")
	expectShape(t, Build(spans, []uint64{13}, Options{}), "11", "12<11:same_request", "13<12:syscall_trace_id")

	// Sequential requests on the same connection and thread get new ids: each keeps its call.
	spans = sequentialKeepAlive()
	expectShape(t, Build(spans, []uint64{3}, Options{}), "1", "2<1:same_request", "3<2:syscall_trace_id")
	expectShape(t, Build(spans, []uint64{11}, Options{}), "11", "12<11:same_request", "13<12:syscall_trace_id")
}

func TestDeferredGatewayWriteCarriesAnotherRequestsID(t *testing.T) {
	// nginx (one event-loop thread) reads A (id 7000), then B (id 7001), and only then writes A's
	// upstream call (a new upstream connection became writable): A's call carries B's id. Each
	// request id is in the gateway's response, so A's server span and A's call carry "A".
	in := func(port uint16, seq uint32) mod { return tuple("10.0.0.9", port, "10.0.0.1", 80, seq) }
	up := func(port uint16, seq uint32) mod { return tuple("10.0.0.1", port, "10.0.0.2", 3000, seq) }
	spans := []*Span{
		span(1, ClientProcess, "h", 0, 50_100, in(40000, 1), client(1, "curl"), server(10, "gateway"), sys(100, 101, 1), xrid("A")),
		span(2, ServerProcess, "h", 50, 50_000, in(40000, 1), client(1, "curl"), server(10, "gateway"), sys(7000, 7100, 10), xrid("A")),
		span(3, ClientProcess, "h", 2000, 40_000, up(41000, 2), client(10, "gateway"), server(0, "frontend"), sys(7001, 7101, 10), xrid("A")),
		span(11, ClientProcess, "h", 900, 60_100, in(40001, 11), client(2, "curl"), server(10, "gateway"), sys(200, 201, 2), xrid("B")),
		span(12, ServerProcess, "h", 1000, 60_000, in(40001, 11), client(2, "curl"), server(10, "gateway"), sys(7001, 7102, 10), xrid("B")),
		span(13, ClientProcess, "h", 2500, 55_000, up(41001, 12), client(10, "gateway"), server(0, "frontend"), sys(7001, 7102, 10), xrid("B")),
	}
	expectShape(t, Build(spans, []uint64{2}, Options{}), "1", "2<1:same_request", "3<2:trace_key")
	expectShape(t, Build(spans, []uint64{12}, Options{}), "11", "12<11:same_request", "13<12:syscall_trace_id")
	// Without request ids nothing tells the two calls apart: both follow the id to B (the
	// limit of syscall_trace_id on an event loop, documented in the package comment).
	for _, s := range spans {
		s.XRequestID = ""
	}
	expectShape(t, Build(spans, []uint64{12}, Options{}), "11", "12<11:same_request", "3<12:syscall_trace_id", "13<12:syscall_trace_id")
}

// eventLoopLateWrite: the demo's Node frontend (one thread, ids as recorded on the netbed). It
// reads request 1 (id 905), calls /products (reply id 921); reads request 2 (id 926) and calls
// /products for it (reply 2057); only then, the pooled connection for request 1's second call
// (/reserve) being new, writes that call: it carries 926, request 2's id. Its reply (read with id
// 2047) is followed at once by request 1's response (id 2047). Request 2's /reserve (id 2057,
// reply 2524) precedes request 2's response (2524).
func eventLoopLateWrite() []*Span {
	in := func(port uint16, seq uint32) mod { return tuple("10.0.0.12", port, "10.0.0.13", 3000, seq) }
	call := func(port uint16, seq uint32, res string) mod {
		return func(s *Span) {
			tuple("10.0.0.13", port, "10.0.0.14", 8000, seq)(s)
			proto("HTTP", "GET", res)(s)
		}
	}
	fe, be := server(20, "frontend"), server(0, "backend")
	return []*Span{
		span(1, ServerProcess, "h", 0, 16_250, in(40001, 1), client(0, "slb"), fe, sys(905, 2047, 20)),
		span(2, ClientProcess, "h", 110, 1_370, call(51666, 2, "/products?item=1"), client(20, "frontend"), be, sys(905, 921, 20)),
		span(3, ClientProcess, "h", 2_080, 16_130, call(56086, 3, "/reserve?item=1"), client(20, "frontend"), be, sys(926, 2047, 20)),
		span(11, ServerProcess, "h", 1_900, 65_500, in(40002, 11), client(0, "slb"), fe, sys(926, 2524, 20)),
		span(12, ClientProcess, "h", 2_015, 17_350, call(51666, 12, "/products?item=2"), client(20, "frontend"), be, sys(926, 2057, 20)),
		span(13, ClientProcess, "h", 17_500, 65_370, call(51694, 13, "/reserve?item=2"), client(20, "frontend"), be, sys(2057, 2524, 20)),
	}
}

func TestEventLoopCallWrittenLate(t *testing.T) {
	spans := eventLoopLateWrite()
	// The late call goes to the request whose response followed its reply, not to the request
	// whose read gave the thread the id it was written with.
	expectShape(t, Build(spans, []uint64{1}, Options{}), "1", "2<1:syscall_trace_id", "3<1:syscall_trace_id")
	expectShape(t, Build(spans, []uint64{11}, Options{}), "11", "12<11:syscall_trace_id", "13<11:syscall_trace_id")
	// When request 2 made no call of its own with that id, nothing says the write came late: the
	// two ends of the evidence disagree and the call is linked to neither.
	spans = remove(eventLoopLateWrite(), 12, 13)
	tr := Build(spans, []uint64{11}, Options{})
	expectShape(t, tr, "11")
	expectShape(t, Build(spans, []uint64{1}, Options{}), "1", "2<1:syscall_trace_id")
	if len(tr.Warnings) != 1 || !strings.Contains(tr.Warnings[0], "1 call(s)") {
		t.Errorf("warnings %v", tr.Warnings)
	}
}

func TestCycleIsBroken(t *testing.T) {
	// B3 ids that point at each other, times that nest both ways within the skew allowance.
	spans := []*Span{
		span(1, ClientProcess, "a", 0, 100_000, tuple("10.0.0.1", 1000, "10.0.0.2", 80, 1), client(1, "q-svc"), server(2, "p-svc"), traced("T", "p", "q")),
		span(2, ServerProcess, "b", 10, 99_990, tuple("10.0.0.1", 1000, "10.0.0.2", 80, 1), client(1, "q-svc"), server(2, "p-svc"), traced("T", "p", "q")),
		span(3, ClientProcess, "c", 0, 100_000, tuple("10.0.0.3", 1000, "10.0.0.4", 80, 2), client(3, "p-svc"), server(4, "q-svc"), traced("T", "q", "p")),
		span(4, ServerProcess, "d", 10, 99_990, tuple("10.0.0.3", 1000, "10.0.0.4", 80, 2), client(3, "p-svc"), server(4, "q-svc"), traced("T", "q", "p")),
	}
	for _, seed := range []uint64{1, 4} {
		tr := Build(spans, []uint64{seed}, Options{})
		expectShape(t, tr, "3", "4<3:same_request", "1<4:parent_span_id", "2<1:same_request")
		if tr.ID != "T" || len(tr.Warnings) != 1 || !strings.Contains(tr.Warnings[0], "closed a cycle") {
			t.Errorf("id %q warnings %v", tr.ID, tr.Warnings)
		}
	}
}

// skewed: client host a; server host b whose clock is behind by skew µs; the server calls a db.
func skewed(skew int64) []*Span {
	c := tuple("10.0.0.1", 5000, "10.0.0.2", 80, 77)
	return []*Span{
		span(1, ClientProcess, "a", 0, 100_000, c, client(1, "app"), server(2, "api")),
		span(2, ClientNIC, "a", 100, 99_900, c, client(1, "app"), server(2, "api")),
		span(3, ServerNIC, "b", 300, 99_700, c, client(1, "app"), server(2, "api"), shift(-skew)),
		span(4, ServerProcess, "b", 400, 99_600, c, client(1, "app"), server(2, "api"), sys(10, 12, 2), shift(-skew)),
		span(5, ClientProcess, "b", 10_000, 60_000, tuple("10.0.0.2", 6000, "10.0.0.9", 5432, 78), client(2, "api"), server(0, "db"),
			sys(10, 11, 2), proto("PostgreSQL", "SELECT", "SELECT 1"), shift(-skew)),
	}
}

func TestClockSkew(t *testing.T) {
	tr := Build(skewed(40_000), []uint64{5}, Options{})
	expectShape(t, tr, "1", "2<1:same_request", "3<2:same_request", "4<3:same_request", "5<4:syscall_trace_id")
	for _, n := range tr.Nodes {
		want := int64(0)
		if n.Host == "b" {
			want = 40_000
		}
		if n.ShiftUs != want {
			t.Errorf("span %d shifted %d µs, want %d", n.RowID, n.ShiftUs, want)
		}
	}
	checkVerdict(t, tr.Verdict, 100_000, HopKey{HopDependency, "db"}, map[string]int64{
		"dependency: db": 50_000, "server_app: api": 49_200, "network: app → api": 600, "client_app: app": 200,
	})
	// A clock half a second off is beyond the allowance: the two sides are not one call.
	expectShape(t, Build(skewed(500_000), []uint64{1}, Options{}), "1", "2<1:same_request")
	expectShape(t, Build(skewed(500_000), []uint64{5}, Options{}), "3", "4<3:same_request", "5<4:syscall_trace_id")
}

func TestConflictingIDsDoNotMerge(t *testing.T) {
	req := func(base uint64, at int64, seq uint32) []*Span {
		c := tuple("10.0.0.1", 7000, "10.0.0.2", 80, seq)
		return []*Span{
			span(base+1, ClientProcess, "h", at, at+20_000, c, client(1, "app"), server(2, "api"), xrid("dup"), traced("same-trace", "s", "")),
			span(base+2, ServerProcess, "h", at+100, at+19_900, c, client(1, "app"), server(2, "api"), xrid("dup"), traced("same-trace", "s", "")),
		}
	}
	spans := append(req(0, 0, 1), req(10, 30_000_000, 2)...)
	spans = append(spans, req(20, 30_100_000, 3)...) // same ids again, 0.1 s after the second: one trace
	expectShape(t, Build(spans, []uint64{1}, Options{}), "1", "2<1:same_request")
	tr := Build(spans, []uint64{12}, Options{})
	expectShape(t, tr, "11", "12<11:same_request", "21", "22<21:same_request")

	// Searching by the id finds all three groups; the largest (the later pair) is shown.
	f := &memFetcher{rows: spans}
	tr, err := Assemble(context.Background(), f, Seed{TraceID: "dup", FromSec: t0/1e6 - 10, ToSec: t0/1e6 + 100}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	expectShape(t, tr, "11", "12<11:same_request", "21", "22<21:same_request")
	if !strings.Contains(strings.Join(tr.Warnings, "\n"), "also matches 1 other group") {
		t.Errorf("warnings %v", tr.Warnings)
	}
}

func TestDuplicatesAreDropped(t *testing.T) {
	spans := deepflowChain()
	again := *spans[2] // the same row twice (an insert retried)
	other := *spans[3] // the same observation written under another id
	other.RowID = 40
	spans = append(spans, &again, &other)
	tr := Build(spans, []uint64{40}, Options{})
	expectShape(t, tr, "1", "2<1:same_request", "3<2:syscall_trace_id", "4<2:syscall_trace_id")
	if tr.Stats.Duplicates != 2 {
		t.Errorf("duplicates %d, want 2", tr.Stats.Duplicates)
	}
}

func TestAssembleFromAnySpanInFewRounds(t *testing.T) {
	rows := gatewayPath()
	var first *Trace
	for _, s := range rows {
		if s.RowID > 100 {
			continue
		}
		f := &memFetcher{rows: rows}
		tr, err := Assemble(context.Background(), f, Seed{RowID: s.RowID, TimeSec: s.StartUs / 1_000_000}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = tr
		}
		if !reflect.DeepEqual(shape(tr), shape(first)) || tr.ID != first.ID || len(tr.Nodes) != 11 {
			t.Errorf("seed %d: %v (id %s), want %v (id %s)", s.RowID, shape(tr), tr.ID, shape(first), first.ID)
		}
		// One seed lookup, then each round batches every new id into one query.
		if tr.Stats.Queries != len(f.queries) || tr.Stats.Queries > 5 || tr.Stats.Rounds != tr.Stats.Queries-1 {
			t.Errorf("seed %d: %d queries (%d rounds)", s.RowID, tr.Stats.Queries, tr.Stats.Rounds)
		}
	}
	f := &memFetcher{rows: rows}
	tr, err := Assemble(context.Background(), f, Seed{RowID: 11, TimeSec: (t0 + 110_000) / 1_000_000}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Round 1 looked up the redis call's ids only; later rounds batched several kinds at once.
	if k := f.queries[1]; len(k.SyscallIDs) != 2 || len(k.TCPSeqs) != 1 || len(k.XRequestIDs) != 0 {
		t.Errorf("round 1 keys %+v", k)
	}
	if k := f.queries[2]; len(k.TCPSeqs) == 0 || len(k.XRequestIDs) != 1 || len(k.SyscallIDs) == 0 {
		t.Errorf("round 2 keys %+v", k)
	}
	if _, err := Assemble(context.Background(), f, Seed{RowID: 9999, TimeSec: t0 / 1_000_000}, Options{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown row: %v", err)
	}
	if _, err := Assemble(context.Background(), f, Seed{}, Options{}); err == nil {
		t.Error("empty seed accepted")
	}
	tr, err = Assemble(context.Background(), &memFetcher{rows: rows}, Seed{RowID: 11, TimeSec: t0 / 1_000_000}, Options{MaxSpans: 4})
	if err != nil || !tr.Truncated || !strings.Contains(strings.Join(tr.Warnings, " "), "truncated") {
		t.Errorf("MaxSpans 4: err %v truncated %v warnings %v", err, tr.Truncated, tr.Warnings)
	}
	tr, err = Assemble(context.Background(), &memFetcher{rows: rows}, Seed{RowID: 11, TimeSec: t0 / 1_000_000}, Options{MaxRounds: 1})
	if err != nil || len(tr.Nodes) == 11 || !strings.Contains(strings.Join(tr.Warnings, " "), "stopped after 1 rounds") {
		t.Errorf("MaxRounds 1: err %v nodes %d warnings %v", err, len(tr.Nodes), tr.Warnings)
	}
}

func TestOperationNamesTheCommandOnce(t *testing.T) {
	for _, c := range []struct{ typ, endpoint, res, want string }{
		{"GET", "/api/items", "/api/items?id=7", "GET /api/items"},
		{"SELECT", "SELECT products", "SELECT id FROM products WHERE id = 7", "SELECT products"},
		{"INCRBY", "INCRBY", "INCRBY views:7", "INCRBY"},
		{"GET", "", "GET user:1", "GET user:1"},
		{"", "", "", "HTTP"},
	} {
		s := span(1, ClientProcess, "h", 0, 1, proto("HTTP", c.typ, c.res))
		s.Endpoint = c.endpoint
		if got := s.Operation(); got != c.want {
			t.Errorf("%q %q %q: %q, want %q", c.typ, c.endpoint, c.res, got, c.want)
		}
	}
}

// sqlFetcher answers like memFetcher but first renders the round's SQL, as ClickHouseFetcher does.
type sqlFetcher struct{ memFetcher }

func (f *sqlFetcher) Fetch(ctx context.Context, k query.TraceKeys, from, to int64, limit int) ([]*Span, error) {
	if _, err := query.BuildTraceSpans("flowlens", k, from, to, limit); err != nil {
		return nil, err
	}
	return f.memFetcher.Fetch(ctx, k, from, to, limit)
}

// Hostile traffic can give a trace's spans ids of 1 KB each: a round whose SQL would exceed what
// ClickHouse parses stops the expansion with a warning, and the spans found so far are the trace.
func TestARoundTooLargeForOneQueryStopsWithAWarning(t *testing.T) {
	f := &sqlFetcher{}
	f.rows = append(f.rows, span(1, ServerProcess, "h", 0, 1000, traced("T", "", "")))
	for i := 0; i < 300; i++ {
		f.rows = append(f.rows, span(uint64(2+i), ServerProcess, "h", int64(10+i), int64(20+i), traced("T", "", ""), xrid(fmt.Sprintf("%04d%s", i, strings.Repeat("x", 1000)))))
	}
	tr, err := Assemble(context.Background(), f, Seed{TraceID: "T", FromSec: t0/1_000_000 - 10, ToSec: t0/1_000_000 + 10}, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Nodes) != 301 || len(tr.Warnings) == 0 || tr.Warnings[0] != "stopped after 0 rounds: the 301 ids of the next one do not fit in one query; the trace may be incomplete" {
		t.Errorf("%d spans, warnings %q", len(tr.Nodes), tr.Warnings)
	}
}
