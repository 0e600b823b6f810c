package plugin

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/flowlens/flowlens/pkg/query"
	"github.com/flowlens/flowlens/pkg/trace"
)

// traceSearch lists traces, one row per root request (trace.Search over the newest matching
// requests, query.SearchTraces), newest first; the _id, trace_id and x_request_id fields link to
// the trace, like the request log's.
func (d *Datasource) traceSearch(ctx context.Context, m *query.Model, r query.Range) (data.Frames, error) {
	limit, requested := query.TraceSearchLimit(m)
	res, st, err := d.newest(ctx, query.SearchTraces, m, r)
	if err != nil {
		return nil, err
	}
	matched, err := trace.SpansFromResult(res)
	if err != nil {
		return nil, err
	}
	calls := &trace.ClickHouseCalls{Client: d.client, Database: d.settings.Database}
	found, err := trace.Search(ctx, calls, matched, limit, trace.DefaultOptions())
	if err != nil {
		return nil, err
	}
	f := traceSearchFrame(found.Traces)
	d.traceLinks(f)
	f.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeTable,
		ExecutedQueryString: strings.Join(append([]string{st.SQL}, calls.SQL...), ";\n\n")}
	if m.Verdicts > 0 {
		if err := d.searchVerdicts(ctx, f, int(min(m.Verdicts, query.MaxSearchVerdicts))); err != nil {
			return nil, err
		}
		if m.Verdicts > query.MaxSearchVerdicts {
			f.Meta.Notices = append(f.Meta.Notices, data.Notice{Severity: data.NoticeSeverityWarning,
				Text: fmt.Sprintf("verdicts %d is above the maximum %d: the first %d traces are explained", m.Verdicts, query.MaxSearchVerdicts, query.MaxSearchVerdicts)})
		}
	}
	if requested > 0 {
		f.Meta.Notices = append(f.Meta.Notices, data.Notice{Severity: data.NoticeSeverityWarning,
			Text: fmt.Sprintf("limit %d is above the maximum %d: at most %d traces are shown", requested, query.MaxTraceSearchLimit, query.MaxTraceSearchLimit)})
	}
	if len(matched) >= st.Limit {
		f.Meta.Notices = append(f.Meta.Notices, data.Notice{Severity: data.NoticeSeverityInfo,
			Text: fmt.Sprintf("traces of the newest %d matching requests (from %s): narrow the time range or filters for older ones",
				len(matched), time.UnixMicro(matched[len(matched)-1].StartUs).UTC().Format(time.RFC3339))})
	}
	if found.Cut {
		f.Meta.Notices = append(f.Meta.Notices, data.Notice{Severity: data.NoticeSeverityWarning,
			Text: fmt.Sprintf("a walk between calls reached %d rows: some roots or call counts may be missing", query.MaxTraceCalls)})
	}
	return data.Frames{f}, nil
}

// traceSearchFrame is one row per trace: its root request (the entry) and the counts of the walk.
func traceSearchFrame(traces []trace.Found) *data.Frame {
	n := len(traces)
	ids, startUs := make([]string, n), make([]string, n)
	times, starts := make([]time.Time, n), make([]time.Time, n)
	dur, calls, errCalls, matched, codes := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
	str := map[string][]string{}
	strCols := []string{"service", "endpoint", "l7_protocol", "request_type", "client_service", "response_status", "trace_id", "x_request_id"}
	for _, c := range strCols {
		str[c] = make([]string, n)
	}
	for i, t := range traces {
		r := t.Root
		ids[i], startUs[i] = strconv.FormatUint(r.RowID, 10), strconv.FormatInt(r.StartUs, 10)
		times[i], starts[i] = time.Unix(r.StartUs/1_000_000, 0).UTC(), time.UnixMicro(r.StartUs).UTC()
		dur[i] = max(t.EndUs, r.EndUs) - r.StartUs
		calls[i], errCalls[i], matched[i], codes[i] = int64(t.Calls), int64(t.ErrorCalls), int64(t.Matched), int64(r.ResponseCode)
		for c, v := range map[string]string{"service": r.ServerService, "endpoint": r.Endpoint, "l7_protocol": r.L7Protocol,
			"request_type": r.RequestType, "client_service": r.ClientService, "response_status": r.ResponseStatus,
			"trace_id": r.TraceID, "x_request_id": r.XRequestID} {
			str[c][i] = v
		}
	}
	f := data.NewFrame("traces",
		data.NewField("_id", nil, ids),
		data.NewField("time", nil, times),
		data.NewField("start_time", nil, starts),
		withConfig(data.NewField("duration_us", nil, dur), "Duration", "µs"))
	for _, c := range strCols[:6] {
		f.Fields = append(f.Fields, data.NewField(c, nil, str[c]))
	}
	f.Fields = append(f.Fields,
		data.NewField("response_code", nil, codes),
		withConfig(data.NewField("calls", nil, calls), "Calls", ""),
		withConfig(data.NewField("error_calls", nil, errCalls), "Failed calls", ""),
		withConfig(data.NewField("matched", nil, matched), "Matching requests", ""),
		data.NewField("trace_id", nil, str["trace_id"]),
		data.NewField("x_request_id", nil, str["x_request_id"]),
		data.NewField("start_time_us", nil, startUs))
	return f
}

// searchVerdicts assembles the first n traces of a search (as the trace query does from their
// entry request) and adds their verdict: the culprit hop, its share of the end-to-end time and
// the one-sentence summary; the other rows have none. Not free: a few queries per trace.
func (d *Datasource) searchVerdicts(ctx context.Context, f *data.Frame, n int) error {
	rows := f.Rows()
	culprit, summary, share := make([]*string, rows), make([]*string, rows), make([]*float64, rows)
	ids, starts := fieldByName(f, "_id"), fieldByName(f, "start_time")
	fetcher := &trace.ClickHouseFetcher{Client: d.client, Database: d.settings.Database}
	for i := 0; i < min(n, rows); i++ {
		id, err := strconv.ParseUint(ids.At(i).(string), 10, 64)
		if err != nil {
			return err
		}
		seed := trace.Seed{RowID: id, TimeSec: starts.At(i).(time.Time).Unix()}
		tr, err := trace.Assemble(ctx, fetcher, seed, trace.DefaultOptions())
		if errors.Is(err, trace.ErrNotFound) {
			continue // gone since the search (TTL)
		}
		if err != nil {
			return err
		}
		v := tr.Verdict
		if len(v.Hops) == 0 {
			continue
		}
		c, s, sh := v.Hops[0].String(), v.Summary, v.Hops[0].Share
		culprit[i], summary[i], share[i] = &c, &s, &sh
	}
	f.Fields = append(f.Fields,
		data.NewField("culprit", nil, culprit),
		withConfig(data.NewField("culprit_share", nil, share), "Culprit's share", "percentunit"),
		data.NewField("verdict", nil, summary))
	return nil
}
