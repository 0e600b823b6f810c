package plugin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/flowlens/flowlens/pkg/clickhouse"
	"github.com/flowlens/flowlens/pkg/converters"
	"github.com/flowlens/flowlens/pkg/query"
	"github.com/flowlens/flowlens/pkg/trace"
	"github.com/flowlens/flowlens/pkg/triage"
)

// triageQuery answers queryType "triage": the suspects of a service, an edge or an endpoint over the
// query's range (the fault window) against a baseline window, ranked (pkg/triage). At most seven
// bounded queries: RED per edge at the processes' points (app_metrics), the target's RED per second (its
// baseline's spread), network metrics, flows, the target's packet timelines; then, when its latency rose, RED at the wire's points (request logs) of the edges the
// walk split, and the CPU profiles of the services whose own time rose.
func (d *Datasource) triageQuery(ctx context.Context, raw []byte, r query.Range) (data.Frames, error) {
	m, err := query.ParseTriage(raw)
	if err != nil {
		return nil, badQuery{err}
	}
	w, err := m.Windows(r)
	if err != nil {
		return nil, badQuery{err}
	}
	if err := query.CheckSpan(query.TypeTriage, query.Range{From: minTime(w.Baseline.From, w.Fault.From), To: maxTime(w.Baseline.To, w.Fault.To)}, d.settings.MaxSpan(query.TypeTriage)); err != nil {
		return nil, badQuery{err}
	}
	result, sqls, err := RunTriage(ctx, d.client, d.settings.Database, m, w)
	if err != nil {
		return nil, err
	}
	return data.Frames{d.triageFrame(m, w, result, strings.Join(sqls, ";\n\n"))}, nil
}

// RunTriage is one triage as the datasource runs it (its queries in order, the ranking, the profiles of
// the services whose own time rose): the answer and the SQL it ran. The benchmark times it.
func RunTriage(ctx context.Context, client *clickhouse.Client, database string, m *query.TriageModel, w query.TriageWindows) (*triage.Result, []string, error) {
	secs := func(x query.Range) float64 { return x.To.Sub(x.From).Seconds() + 1 }
	td := triage.NewData(m.Service[0], first(m.ClientService), first(m.Endpoint), [2]float64{secs(w.Baseline), secs(w.Fault)})
	var sqls []string
	run := func(build func() (*query.Statement, error), optional bool, row func(window int, e triage.Edge, point string, v func(int) int64, s func(int) string)) error {
		st, err := build()
		if err != nil {
			return badQuery{err}
		}
		sqls = append(sqls, st.SQL)
		res, err := client.Query(ctx, st.SQL)
		var che *clickhouse.Error
		if optional && errors.As(err, &che) && (che.Code == 60 || che.Code == 16) {
			td.Notes = append(td.Notes, fmt.Sprintf("no %s table or column (an agent without it): its evidence is missing", st.Table))
			return nil
		}
		if err != nil {
			return err
		}
		if len(res.Data) > st.Limit {
			td.Notes = append(td.Notes, fmt.Sprintf("%s: more than %d groups, the rest left out", st.Table, st.Limit))
			res.Data = res.Data[:st.Limit]
		}
		for _, rw := range res.Data {
			v := func(i int) int64 { n, _ := converters.Int64(rw[i]); return n }
			s := func(i int) string { return converters.String(rw[i]) }
			row(int(v(0)), triage.Edge{Client: s(1), Server: s(2)}, s(3), v, s)
		}
		return nil
	}
	red := func(win int, e triage.Edge, point string, v func(int) int64, s func(int) string) {
		td.AddRED(e, point, s(4), win, triage.RED{Requests: v(5), Errors: v(6), DurationSumUs: v(7), DurationMaxUs: v(8)})
	}
	if err := run(func() (*query.Statement, error) { return query.BuildTriageEdges(database, m, w) }, false, red); err != nil {
		return nil, nil, err
	}
	if err := run(func() (*query.Statement, error) { return query.BuildTriageNet(database, m, w) }, true,
		func(win int, e triage.Edge, point string, v func(int) int64, _ func(int) string) {
			td.AddNet(e, point, win, triage.Net{Packets: v(4), Retrans: v(5), RSTs: v(6), Failed: v(7), ZeroWindows: v(8), NewFlows: v(9)})
		}); err != nil {
		return nil, nil, err
	}
	if err := run(func() (*query.Statement, error) { return query.BuildTriageFlows(database, m, w) }, true,
		func(win int, e triage.Edge, point string, v func(int) int64, _ func(int) string) {
			td.AddFlows(e, point, win, triage.Flows{Flows: v(4), Failed: v(5), FailedRSTServer: v(6), FailedRSTClient: v(7), ResetByServer: v(8), ResetByClient: v(9), Timeouts: v(10)})
		}); err != nil {
		return nil, nil, err
	}
	if err := run(func() (*query.Statement, error) { return query.BuildTriageWaits(database, m, w) }, true,
		func(win int, e triage.Edge, point string, v func(int) int64, _ func(int) string) {
			td.AddWaits(e, point, win, triage.Waits{Flows: v(4), WaitSumUs: v(5), WaitCount: v(6), WaitMaxUs: v(7), ResponseSumUs: v(8), ResponseCount: v(9)})
		}); err != nil {
		return nil, nil, err
	}
	if err := run(func() (*query.Statement, error) { return query.BuildTriageSpread(database, m, w) }, false,
		func(win int, _ triage.Edge, _ string, v func(int) int64, s func(int) string) {
			td.AddSpread(s(1), win, triage.RED{Requests: v(3), DurationSumUs: v(4)})
		}); err != nil {
		return nil, nil, err
	}
	result := triage.Analyze(td)
	// the edges the walk split: their NIC points place the time between the ends; read and rank again
	if len(result.WireEdges) > 0 {
		clients, servers := edgeEnds(result.WireEdges)
		if len(servers) <= query.MaxTriageWireServers && len(clients) <= query.MaxTriageWireServers {
			// the split edges' figures at every point over the same seconds replace their processes' own
			type wireRow struct {
				win         int
				e           triage.Edge
				point, prot string
				r           triage.RED
			}
			var rows []wireRow
			if err := run(func() (*query.Statement, error) {
				return query.BuildTriageWireEdges(database, m, w, trace.ErrorStatus, clients, servers)
			}, false, func(win int, e triage.Edge, point string, v func(int) int64, s func(int) string) {
				rows = append(rows, wireRow{win, e, point, s(4), triage.RED{Requests: v(5), Errors: v(6), DurationSumUs: v(7), DurationMaxUs: v(8)}})
			}); err != nil {
				return nil, nil, err
			}
			for _, x := range rows {
				delete(td.RED, x.e)
			}
			for _, x := range rows {
				td.AddRED(x.e, x.point, x.prot, x.win, x.r)
			}
			if ww := w.WireWindows(); ww != w {
				td.Notes = append(td.Notes, fmt.Sprintf("the NIC figures are from the last %d s of each window (their cost follows every call)", query.MaxTriageWireSeconds))
			}
			result = triage.Analyze(td)
		} else {
			td.Notes = append(td.Notes, fmt.Sprintf("the walk reached %d services: their NIC figures are not read (the bound is %d)", len(servers), query.MaxTriageWireServers))
			result = triage.Analyze(td)
		}
	}
	if services := result.ProfileCandidates(query.MaxTriageProfiled); len(services) > 0 {
		profiles, sql, err := triageProfiles(ctx, client, database, services, w)
		if err != nil {
			return nil, nil, err
		}
		sqls = append(sqls, sql)
		result.Refine(profiles, td.Seconds)
	}
	return result, sqls, nil
}

// edgeEnds are the distinct clients and servers of edges.
func edgeEnds(edges []triage.Edge) (clients, servers query.Values) {
	seen := map[string]bool{}
	for _, e := range edges {
		if !seen["c"+e.Client] {
			seen["c"+e.Client] = true
			clients = append(clients, e.Client)
		}
		if !seen["s"+e.Server] {
			seen["s"+e.Server] = true
			servers = append(servers, e.Server)
		}
	}
	return clients, servers
}

func first(v query.Values) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// triageProfiles reads the on-CPU samples of services per function in both windows.
func triageProfiles(ctx context.Context, client *clickhouse.Client, database string, services []string, w query.TriageWindows) (map[string]*triage.Profile, string, error) {
	st, err := query.BuildTriageProfile(database, services, w)
	if err != nil {
		return nil, "", badQuery{err}
	}
	res, err := client.Query(ctx, st.SQL)
	var che *clickhouse.Error
	if errors.As(err, &che) && che.Code == 60 {
		return nil, st.SQL, nil
	}
	if err != nil {
		return nil, "", err
	}
	out := map[string]*triage.Profile{}
	for _, rw := range res.Data {
		svc, fn := converters.String(rw[0]), converters.String(rw[1])
		f, _ := converters.Int64(rw[2])
		b, _ := converters.Int64(rw[3])
		p := out[svc]
		if p == nil {
			p = &triage.Profile{}
			out[svc] = p
		}
		if fn == query.TriageTotalFunction {
			p.Total = [2]int64{b, f}
		} else {
			p.Functions = append(p.Functions, triage.Function{Name: fn, Samples: [2]int64{b, f}})
		}
	}
	return out, st.SQL, nil
}

// triageFrame is the ranked suspects as a table, one row per suspect, then one row per note (rank 0,
// place "note"): what could not be seen is part of the answer. Each row links to the data behind it.
func (d *Datasource) triageFrame(m *query.TriageModel, w query.TriageWindows, r *triage.Result, sql string) *data.Frame {
	var rank []int64
	var place, kind, service, client, server, function, confidence, evidence []string
	var score []float64
	for _, s := range r.Suspects {
		rank = append(rank, int64(s.Rank))
		place, kind, service, function = append(place, s.Place), append(kind, s.Kind), append(service, s.Service), append(function, s.Function)
		client, server = append(client, s.Edge.Client), append(server, s.Edge.Server)
		score, confidence, evidence = append(score, s.Score), append(confidence, s.Confidence), append(evidence, s.Evidence)
	}
	for _, n := range r.Notes {
		rank = append(rank, 0)
		place, kind, service, function = append(place, "note"), append(kind, ""), append(service, ""), append(function, "")
		client, server = append(client, ""), append(server, "")
		score, confidence, evidence = append(score, 0), append(confidence, ""), append(evidence, n)
	}
	f := data.NewFrame("triage",
		data.NewField("rank", nil, nonNil(rank)),
		data.NewField("place", nil, nonNil(place)),
		data.NewField("kind", nil, nonNil(kind)),
		data.NewField("service", nil, nonNil(service)),
		data.NewField("client_service", nil, nonNil(client)),
		data.NewField("server_service", nil, nonNil(server)),
		data.NewField("function", nil, nonNil(function)),
		data.NewField("score", nil, nonNil(score)),
		data.NewField("confidence", nil, nonNil(confidence)),
		data.NewField("evidence", nil, nonNil(evidence)),
	)
	f.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeTable, ExecutedQueryString: sql,
		Custom: map[string]any{
			"fault":     map[string]int64{"from": w.Fault.From.UnixMilli(), "to": w.Fault.To.UnixMilli()},
			"baseline":  map[string]int64{"from": w.Baseline.From.UnixMilli(), "to": w.Baseline.To.UnixMilli()},
			"symptomMs": r.SymptomMs,
		}}
	if len(r.Suspects) == 0 {
		f.Meta.Notices = append(f.Meta.Notices, data.Notice{Severity: data.NoticeSeverityInfo,
			Text: fmt.Sprintf("no suspect: %s's figures in the window are within the bounds of the baseline", m.Service[0])})
	}
	d.triageLinks(f, w)
	return f
}

// triageLinks: from a suspect's evidence to the data behind it, with this datasource: the request logs
// and traces of its service, the flows of its edge, and the on-CPU flame graph of its service over the
// fault window against the baseline (a diff flame graph).
func (d *Datasource) triageLinks(f *data.Frame, w query.TriageWindows) {
	ev := fieldByName(f, "evidence")
	ev.Config = &data.FieldConfig{}
	link := func(title string, q map[string]any) data.DataLink {
		q["refId"] = "A"
		return data.DataLink{Title: title, Internal: &data.InternalDataLink{DatasourceUID: d.uid, DatasourceName: d.name, Query: q}}
	}
	ev.Config.Links = []data.DataLink{
		link("Traces through this service", map[string]any{"queryType": query.TypeTraceSearch, "service": "${__data.fields.service}"}),
		link("Request logs of this service", map[string]any{"queryType": query.TypeSQLLog, "service": "${__data.fields.service}", "format": query.FormatLogs}),
		link("Flows of this edge", map[string]any{"queryType": query.TypeFlowLog, "service": "${__data.fields.server_service}", "client_service": "${__data.fields.client_service}"}),
		link("On-CPU flame graph of this service against the baseline", map[string]any{"queryType": query.TypeFlameGraph, "service": "${__data.fields.service}",
			"event": query.EventOnCPU, "baselineFrom": w.Baseline.From.UnixMilli(), "baselineTo": w.Baseline.To.UnixMilli() + 999}),
	}
}
