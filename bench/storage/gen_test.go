package main

import (
	"testing"

	"github.com/flowlens/flowlens/pkg/trace"
)

func toSpan(r *row) *trace.Span {
	return &trace.Span{
		RowID: r.id, StartUs: r.start, EndUs: r.end, Host: r.host.name, ObservationPoint: r.obs, L7Protocol: r.proto,
		RequestType: r.rtype, RequestResource: string(r.resource), Endpoint: r.endpoint, ResponseCode: r.code,
		ResponseStatus: r.status, TraceID: r.traceID, SpanID: r.spanID, XRequestID: r.xrid,
		SyscallReq: r.sysReq, SyscallResp: r.sysResp, ThreadReq: r.thrReq, ThreadResp: r.thrResp,
		TCPSeqReq: r.seqReq, TCPSeqResp: r.seqResp, ClientIP: r.cip, ClientPort: r.cport, ServerIP: r.sip, ServerPort: r.sport,
		ClientPID: r.cpid, ServerPID: r.spid, ClientProcess: r.cproc, ServerProcess: r.sproc, ClientService: r.csvc, ServerService: r.ssvc,
	}
}

// The generated traces, dense in time (event-loop id sharing included), are reassembled exactly:
// the bench's exactness check at 10M rows relies on the generator writing linkable ids.
func TestGeneratedTracesAssembleExactly(t *testing.T) {
	g := newGen(3)
	var pool []*trace.Span
	var traces [][]uint64
	obs := map[string]int{}
	statuses := map[string]int{}
	for i := 0; i < 400; i++ {
		// 400 traces in 4 s: ~100/s, as at 10M request logs per hour
		tr := g.trace(int64(1_700_000_000_000_000) + int64(i)*10_000)
		var ids []uint64
		for j := range tr {
			pool = append(pool, toSpan(&tr[j]))
			ids = append(ids, tr[j].id)
			obs[tr[j].obs]++
			statuses[tr[j].status]++
		}
		traces = append(traces, ids)
	}
	for _, p := range []string{trace.ClientProcess, trace.ClientNIC, trace.Gateway, trace.ServerNIC, trace.ServerProcess} {
		if obs[p] == 0 {
			t.Errorf("no %s rows generated: %v", p, obs)
		}
	}
	if n := len(pool); n < 400*15 || statuses["ok"] < n*9/10 || statuses["server_error"] == 0 || statuses["client_error"] == 0 {
		t.Errorf("%d rows, statuses %v", n, statuses)
	}
	for i := 0; i < len(traces); i += 37 {
		want := traces[i]
		tr := trace.Build(pool, []uint64{want[len(want)-1]}, trace.Options{})
		got := map[uint64]bool{}
		for _, n := range tr.Nodes {
			got[n.RowID] = true
		}
		same := len(got) == len(want)
		for _, id := range want {
			same = same && got[id]
		}
		if !same {
			t.Errorf("trace %d: assembled %d spans, generated %d (warnings %v)", i, len(got), len(want), tr.Warnings)
		}
		if roots := len(tr.Nodes) - countParents(tr); roots != 1 {
			t.Errorf("trace %d has %d roots", i, roots)
		}
	}
}

func countParents(tr *trace.Trace) int {
	n := 0
	for _, nd := range tr.Nodes {
		if nd.Parent != nil {
			n++
		}
	}
	return n
}
