package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/flowlens/flowlens/pkg/clickhouse"
	"github.com/flowlens/flowlens/pkg/query"
	"github.com/flowlens/flowlens/pkg/trace"
)

// traceQuery assembles the trace of one request log row (or of a trace id in the time range)
// and returns Grafana's trace frame plus the full-stack fields of FlowLens's trace panel, and a
// second frame with the triage verdict.
func (d *Datasource) traceQuery(ctx context.Context, raw json.RawMessage, r query.Range) (data.Frames, error) {
	tq, err := query.ParseTrace(raw)
	if err != nil {
		return nil, badQuery{err}
	}
	if tq.TimeSec == 0 { // the search covers the panel's range
		if err := query.CheckSpan(query.TypeTrace, r, d.settings.MaxSpan(query.TypeTrace)); err != nil {
			return nil, badQuery{err}
		}
	}
	seed := trace.Seed{RowID: tq.RowID, TimeSec: tq.TimeSec, TraceID: tq.TraceID, FromSec: r.From.Unix(), ToSec: r.To.Unix()}
	f := &trace.ClickHouseFetcher{Client: d.client, Database: d.settings.Database}
	started := time.Now()
	tr, err := trace.Assemble(ctx, f, seed, trace.DefaultOptions())
	if errors.Is(err, trace.ErrNotFound) {
		what := fmt.Sprintf("no request log with _id %d", tq.RowID)
		if tq.TraceID != "" {
			what = "no request log with trace_id or x_request_id " + query.Quote(tq.TraceID)
		}
		frames := traceFrames(&trace.Trace{}, f.SQL(), 0)
		frames[0].Meta.Notices = append(frames[0].Meta.Notices, data.Notice{Severity: data.NoticeSeverityInfo,
			Text: what + " in the time range (row_id needs the row's time, or a range around it)"})
		return frames, nil
	}
	if err != nil {
		var ce *clickhouse.ConnectError
		var che *clickhouse.Error
		if errors.As(err, &ce) || errors.As(err, &che) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return nil, err
		}
		return nil, badQuery{err}
	}
	return traceFrames(tr, f.SQL(), time.Since(started)), nil
}

func spanKind(obs string) string {
	switch obs {
	case trace.ClientProcess, trace.ClientNIC:
		return "client"
	case trace.ServerNIC, trace.ServerProcess:
		return "server"
	}
	return "internal"
}

// statusCode follows OpenTelemetry: 0 unset, 1 ok, 2 error.
func statusCode(status string) int64 {
	switch {
	case status == "ok":
		return 1
	case trace.ErrorStatus(status):
		return 2
	}
	return 0
}

var pointLabel = map[string]string{
	trace.ClientNIC: " [client NIC]", trace.ServerNIC: " [server NIC]", trace.Gateway: " [gateway]",
}

type kv struct {
	Key   string `json:"key"`
	Value any    `json:"value"`
}

func rawJSON(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

func ms(us int64) float64 { return float64(us) / 1000 }

// fmtMs writes a duration in µs as milliseconds with at most two decimals ("0.42 ms").
func fmtMs(us int64) string { return strconv.FormatFloat(float64(us)/1000, 'f', 2, 64) + " ms" }

func spanTags(n *trace.Node) []kv {
	tags := []kv{
		{"observation_point", n.ObservationPoint}, {"l7_protocol", n.L7Protocol}, {"request_type", n.RequestType},
		{"request_resource", n.RequestResource}, {"endpoint", n.Endpoint}, {"response_code", n.ResponseCode},
		{"response_status", n.ResponseStatus},
		{"client", fmt.Sprintf("%s:%d", n.ClientIP, n.ClientPort)}, {"server", fmt.Sprintf("%s:%d", n.ServerIP, n.ServerPort)},
		{"client_service", n.ClientService}, {"server_service", n.ServerService},
		{"client_process", fmt.Sprintf("%s (%d)", n.ClientProcess, n.ClientPID)}, {"server_process", fmt.Sprintf("%s (%d)", n.ServerProcess, n.ServerPID)},
		{"hop", n.Hop.String()}, {"self_time_ms", ms(n.SelfUs)}, {"critical_time_ms", ms(n.CriticalUs)},
	}
	opt := []kv{
		{"request_domain", n.RequestDomain}, {"response_exception", n.ResponseException}, {"link", n.Link},
		{"trace_id", n.TraceID}, {"span_id", n.SpanID}, {"parent_span_id", n.ParentSpanID}, {"x_request_id", n.XRequestID},
	}
	for _, t := range opt {
		if t.Value != "" {
			tags = append(tags, t)
		}
	}
	for _, t := range []struct {
		k string
		v uint64
	}{
		{"syscall_trace_id_request", n.SyscallReq}, {"syscall_trace_id_response", n.SyscallResp},
		{"tcp_seq_request", uint64(n.TCPSeqReq)}, {"tcp_seq_response", uint64(n.TCPSeqResp)},
	} {
		if t.v != 0 {
			tags = append(tags, kv{t.k, strconv.FormatUint(t.v, 10)})
		}
	}
	if n.ShiftUs != 0 {
		tags = append(tags, kv{"clock_skew_correction_ms", ms(n.ShiftUs)})
	}
	return tags
}

// traceFrames renders an assembled trace. The first frame has the fields Grafana's trace view
// reads (traceID, spanID, parentSpanID, operationName, serviceName, serviceTags, startTime and
// duration in ms, logs, tags, kind, statusCode, statusMessage, warnings) followed by FlowLens's
// full-stack fields; the second lists the hops of the verdict.
func traceFrames(tr *trace.Trace, sqls []string, took time.Duration) data.Frames {
	n := len(tr.Nodes)
	traceID, spanID, parentID, opName, svcName := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	svcTags, logs, tags, warns := make([]json.RawMessage, n), make([]json.RawMessage, n), make([]json.RawMessage, n), make([]json.RawMessage, n)
	start, dur, self, crit, shift := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	kind, statusMsg, obs, host, process, hopKind, hop, link, proto, status :=
		make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n),
		make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	status64, pid, tid, depth, retrans := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
	netWait := make([]float64, n)
	for i, nd := range tr.Nodes {
		traceID[i] = tr.ID
		spanID[i] = strconv.FormatUint(nd.RowID, 10)
		if nd.Parent != nil {
			parentID[i] = strconv.FormatUint(nd.Parent.RowID, 10)
		}
		opName[i] = nd.Operation() + pointLabel[nd.ObservationPoint]
		svcName[i] = nd.LocalService()
		svcTags[i] = rawJSON([]kv{{"host", nd.Host}, {"observation_point", nd.ObservationPoint},
			{"process", nd.LocalProcess()}, {"pid", nd.LocalPID()}})
		start[i], dur[i] = ms(nd.AStartUs), ms(nd.EndUs-nd.StartUs)
		var spanLogs []any
		if nd.ResponseException != "" {
			spanLogs = append(spanLogs, map[string]any{"timestamp": ms(nd.AEndUs), "fields": []kv{{"exception", nd.ResponseException}}})
		}
		for _, e := range nd.Events {
			fields := []kv{{"event", e.Kind}, {"message", e.Text}}
			if e.Count > 1 {
				fields = append(fields, kv{"count", e.Count})
			}
			if e.WaitUs > 0 {
				fields = append(fields, kv{"wait_ms", ms(e.WaitUs)})
			}
			spanLogs = append(spanLogs, map[string]any{"timestamp": ms(e.TimeUs), "fields": fields})
		}
		logs[i] = rawJSON(append([]any{}, spanLogs...))
		tags[i] = rawJSON(spanTags(nd))
		var w []string
		if nd.ShiftUs != 0 {
			w = append(w, fmt.Sprintf("shifted by %.3f ms to correct the clock skew between %s and its parent's host", ms(nd.ShiftUs), nd.Host))
		}
		if cn := nd.Call; cn != nil && cn.Retransmissions > 0 && (nd.Parent == nil || nd.Parent.Call != cn) {
			w = append(w, fmt.Sprintf("%d TCP retransmission(s) during this call, %s waiting on them (seen at %s)", cn.Retransmissions, fmtMs(cn.RetransWaitUs), cn.Point))
		}
		if nd.Call != nil {
			retrans[i], netWait[i] = nd.Call.Retransmissions, ms(nd.NetWaitUs)
		}
		warns[i] = rawJSON(append([]string{}, w...))
		kind[i] = spanKind(nd.ObservationPoint)
		status64[i] = statusCode(nd.ResponseStatus)
		statusMsg[i] = nd.ResponseException
		if statusMsg[i] == "" && status64[i] == 2 {
			statusMsg[i] = fmt.Sprintf("%s %d (%s)", nd.L7Protocol, nd.ResponseCode, nd.ResponseStatus)
		}
		obs[i], host[i], process[i], pid[i], tid[i] = nd.ObservationPoint, nd.Host, nd.LocalProcess(), int64(nd.LocalPID()), int64(nd.LocalTID())
		hopKind[i], hop[i], self[i], crit[i] = nd.Hop.Kind, nd.Hop.Label, ms(nd.SelfUs), ms(nd.CriticalUs)
		link[i], proto[i], status[i], shift[i], depth[i] = nd.Link, nd.L7Protocol, nd.ResponseStatus, ms(nd.ShiftUs), int64(nd.Depth)
	}
	spans := data.NewFrame("trace",
		data.NewField("traceID", nil, traceID),
		data.NewField("spanID", nil, spanID),
		data.NewField("parentSpanID", nil, parentID),
		data.NewField("operationName", nil, opName),
		data.NewField("serviceName", nil, svcName),
		data.NewField("serviceTags", nil, svcTags),
		withConfig(data.NewField("startTime", nil, start), "Start", "ms"),
		withConfig(data.NewField("duration", nil, dur), "Duration", "ms"),
		data.NewField("logs", nil, logs),
		data.NewField("tags", nil, tags),
		data.NewField("kind", nil, kind),
		data.NewField("statusCode", nil, status64),
		data.NewField("statusMessage", nil, statusMsg),
		data.NewField("warnings", nil, warns),
		data.NewField("observation_point", nil, obs),
		data.NewField("host", nil, host),
		data.NewField("process", nil, process),
		data.NewField("pid", nil, pid),
		data.NewField("tid", nil, tid),
		data.NewField("hop_kind", nil, hopKind),
		data.NewField("hop", nil, hop),
		withConfig(data.NewField("self_time_ms", nil, self), "Self time", "ms"),
		withConfig(data.NewField("critical_time_ms", nil, crit), "Critical-path time", "ms"),
		data.NewField("link", nil, link),
		data.NewField("l7_protocol", nil, proto),
		data.NewField("response_status", nil, status),
		withConfig(data.NewField("clock_skew_correction_ms", nil, shift), "Clock-skew correction", "ms"),
		data.NewField("depth", nil, depth),
		data.NewField("retransmissions", nil, retrans),
		withConfig(data.NewField("retrans_wait_ms", nil, netWait), "Critical time waiting on retransmissions", "ms"),
	)
	v := tr.Verdict
	verdict := map[string]any{"summary": v.Summary, "duration_ms": ms(v.DurationUs)}
	if len(v.Hops) > 0 {
		c := v.Hops[0]
		verdict["culprit"] = map[string]any{"kind": c.Kind, "label": c.Label, "critical_time_ms": ms(c.CriticalUs), "share": c.Share}
	}
	network := []map[string]any{}
	for _, cn := range v.Network {
		network = append(network, map[string]any{"path": cn.Path.Label, "retransmissions": cn.Retransmissions, "retrans_wait_ms": ms(cn.RetransWaitUs),
			"critical_wait_ms": ms(cn.CriticalWaitUs), "seen_at": cn.Point, "untimed_retransmissions": cn.UntimedRetrans,
			"failed_connects": cn.FailedConnects, "resets": cn.Resets, "rst_from_server": cn.RstFromServer, "own_reset": cn.OwnReset,
			"zero_windows": cn.ZeroWindows, "client_wait_ms": ms(cn.ClientWaitUs)})
	}
	verdict["network"], verdict["notes"] = network, append([]string{}, v.Notes...)
	spans.Meta = &data.FrameMeta{
		PreferredVisualization: data.VisTypeTrace,
		ExecutedQueryString:    strings.Join(sqls, ";\n\n"),
		Custom: map[string]any{
			"traceID": tr.ID, "verdict": verdict, "spans": len(tr.Nodes), "queries": tr.Stats.Queries,
			"rounds": tr.Stats.Rounds, "fetched": tr.Stats.Fetched, "duplicates": tr.Stats.Duplicates,
			"truncated": tr.Truncated, "warnings": append([]string{}, tr.Warnings...), "assembly_ms": float64(took.Microseconds()) / 1000,
		},
	}
	if v.Summary != "" && len(tr.Nodes) > 0 {
		spans.Meta.Notices = append(spans.Meta.Notices, data.Notice{Severity: data.NoticeSeverityInfo, Text: "Verdict: " + v.Summary})
	}
	for _, note := range v.Notes {
		spans.Meta.Notices = append(spans.Meta.Notices, data.Notice{Severity: data.NoticeSeverityInfo, Text: "Note: " + note})
	}
	for _, w := range tr.Warnings {
		spans.Meta.Notices = append(spans.Meta.Notices, data.Notice{Severity: data.NoticeSeverityWarning, Text: w})
	}

	k := len(v.Hops)
	hName, hKind, hLabel := make([]string, k), make([]string, k), make([]string, k)
	hCrit, hShare, hSelf := make([]float64, k), make([]float64, k), make([]float64, k)
	hSpans, hCulprit := make([]int64, k), make([]bool, k)
	for i, h := range v.Hops {
		hName[i], hKind[i], hLabel[i] = h.String(), h.Kind, h.Label
		hCrit[i], hShare[i], hSelf[i] = ms(h.CriticalUs), h.Share, ms(h.SelfUs)
		hSpans[i], hCulprit[i] = int64(h.Spans), i == 0
	}
	hops := data.NewFrame("verdict",
		data.NewField("hop", nil, hName),
		data.NewField("kind", nil, hKind),
		data.NewField("label", nil, hLabel),
		withConfig(data.NewField("critical_time_ms", nil, hCrit), "Critical-path time", "ms"),
		withConfig(data.NewField("share", nil, hShare), "Share of end-to-end", "percentunit"),
		withConfig(data.NewField("self_time_ms", nil, hSelf), "Self time", "ms"),
		data.NewField("spans", nil, hSpans),
		data.NewField("culprit", nil, hCulprit),
	)
	hops.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeTable, Custom: map[string]any{"traceID": tr.ID, "verdict": verdict}}
	return data.Frames{spans, hops}
}
