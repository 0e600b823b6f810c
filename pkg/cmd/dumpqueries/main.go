// Command dumpqueries writes the SQL of every query type the backend issues, with
// representative filters, as [{"name","sql"}] JSON, so test/sql can run it on chdb's modern
// ClickHouse (and anyone can run it on 18.16).
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/flowlens/flowlens/pkg/plugin"
	"github.com/flowlens/flowlens/pkg/query"
	"github.com/flowlens/flowlens/pkg/trace"
)

type entry struct {
	Name string `json:"name"`
	SQL  string `json:"sql"`
}

func main() {
	out := flag.String("out", "build/sql/backend.json", "output file")
	db := flag.String("database", "flowlens", "database name")
	flag.Parse()
	entries, err := render(*db)
	if err != nil {
		fmt.Fprintln(os.Stderr, "dumpqueries:", err)
		os.Exit(1)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	_ = enc.Encode(entries)
	b := bytes.TrimSpace(buf.Bytes())
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "dumpqueries:", err)
		os.Exit(1)
	}
	if err := os.WriteFile(*out, append(b, '\n'), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "dumpqueries:", err)
		os.Exit(1)
	}
	fmt.Printf("wrote %d queries to %s\n", len(entries), *out)
}

func render(db string) ([]entry, error) {
	r := query.Range{From: time.Unix(1700000000, 0), To: time.Unix(1700003600, 0)}
	filtered := query.Model{
		Service: query.Values{"checkout", "it's \\ tricky"}, ClientService: query.Values{"frontend"},
		L7Protocol: query.Values{"HTTP"}, Endpoint: query.Values{"/api/pay"},
	}
	var out []entry
	add := func(name string, st *query.Statement, err error) error {
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		out = append(out, entry{Name: name, SQL: st.SQL})
		return nil
	}
	for _, obs := range []string{"preferred", "all", "server_process"} {
		m := filtered
		m.ObservationPoint = obs
		st, err := query.BuildRED(db, &m, r, 60)
		if err := add("red/"+obs, st, err); err != nil {
			return nil, err
		}
		st, err = query.BuildMap(db, &m, r)
		if err := add("map/"+obs, st, err); err != nil {
			return nil, err
		}
	}
	for _, tm := range []query.Model{
		{GroupBy: query.Values{"workload"}},
		{GroupBy: query.Values{"team"}, Tags: query.TagFilters{"owner": {"it's"}}},
		{GroupBy: query.Values{"label.app.kubernetes.io/name"}, ObservationPoint: "all", Tags: query.TagFilters{"namespace": {"shop", "it's \\ tricky"}}},
		{Tags: query.TagFilters{"container": {"checkout"}}, Endpoint: query.Values{"/api/pay"}},
	} {
		st, err := query.BuildMap(db, &tm, r)
		if err := add("map/tagged/"+strings.Join(tm.GroupBy, ","), st, err); err != nil {
			return nil, err
		}
	}
	tl := query.Model{Tags: query.TagFilters{"workload": {"checkout"}, "label.app": {"it's"}}, Limit: 50}
	if st, err := query.BuildLog(db, &tl, r); add("sql_log/tagged", st, err) != nil {
		return nil, add("sql_log/tagged", st, err)
	}
	if st, err := query.BuildTagValues(db, "label.app.kubernetes.io/name", r, nil); add("tag_values", st, err) != nil {
		return nil, add("tag_values", st, err)
	}
	// a host variable narrowed to a team: the hosts of the team's services' processes
	tv := query.TagFilters{"team": {"shop"}, "namespace": {"it's"}}
	if st, err := query.BuildTagValues(db, "host", r, tv); add("tag_values/tagged", st, err) != nil {
		return nil, add("tag_values/tagged", st, err)
	}
	if st, err := query.BuildTagKeys(db, r); add("resource/tag-keys", st, err) != nil {
		return nil, add("resource/tag-keys", st, err)
	}
	na := query.Model{Service: query.Values{"it's"}, Tags: query.TagFilters{"team": {"shop"}}}
	if st, err := query.BuildNewServices(db, &na, r); add("annotations/new_service", st, err) != nil {
		return nil, add("annotations/new_service", st, err)
	}
	for name, am := range map[string]query.Model{"annotations/agent_events": {}, "annotations/agent_events/hosts": {Host: query.Values{"host-a", "it's"}}} {
		if st, err := query.BuildAgentEvents(db, &am, r); add(name, st, err) != nil {
			return nil, add(name, st, err)
		}
	}
	sa := query.Model{Tags: query.TagFilters{"team": {"shop"}}}
	if st, err := query.BuildErrorSpikeRows(db, &sa, r, 60); add("annotations/error_spike", st, err) != nil {
		return nil, add("annotations/error_spike", st, err)
	}
	for _, obs := range []string{"preferred", "all"} {
		tr := query.Model{ObservationPoint: obs, Tags: query.TagFilters{"namespace": {"shop"}, "label.app": {"it's"}}}
		if st, err := query.BuildRED(db, &tr, r, 60); add("red/tagged/"+obs, st, err) != nil {
			return nil, add("red/tagged/"+obs, st, err)
		}
	}
	st, err := query.BuildRED(db, &query.Model{}, r, 1)
	if err := add("red/unfiltered", st, err); err != nil {
		return nil, err
	}
	// the same over app_metrics: the rollup's answer, percentiles included, must equal it
	st, err = query.BuildREDFromAppMetrics(db, &query.Model{}, r, 1)
	if err := add("red/unfiltered-app_metrics", st, err); err != nil {
		return nil, err
	}
	for _, kind := range []string{"services", "client_services", "endpoints", "protocols"} {
		st, err = query.BuildValues(db, kind, r, query.Values{"checkout", "it's"}, nil)
		if err := add("values/"+kind, st, err); err != nil {
			return nil, err
		}
		st, err = query.BuildValues(db, kind, r, nil, query.TagFilters{"team": {"shop", "it's"}})
		if err := add("values/tagged/"+kind, st, err); err != nil {
			return nil, err
		}
	}
	// every group_by dimension with percentiles (with the endpoint: app_metrics and its sketch), and
	// the rollup's grouping, with and without percentiles (the rollup's sketch)
	for _, obs := range []string{"preferred", "all"} {
		st, err = query.BuildRED(db, &query.Model{ObservationPoint: obs, GroupBy: query.Values{"service", "client_service", "l7_protocol", "endpoint", "observation_point"}}, r, 60)
		if err := add("red/grouped/"+obs, st, err); err != nil {
			return nil, err
		}
		st, err = query.BuildRED(db, &query.Model{ObservationPoint: obs, Metric: query.MetricErrorRatio, GroupBy: query.Values{"client_service", "l7_protocol"}}, r, 60)
		if err := add("red/rollup-grouped/"+obs, st, err); err != nil {
			return nil, err
		}
		st, err = query.BuildRED(db, &query.Model{ObservationPoint: obs, GroupBy: query.Values{"service", "client_service", "l7_protocol", "observation_point"}}, r, 60)
		if err := add("red/rollup-percentiles/"+obs, st, err); err != nil {
			return nil, err
		}
		st, err = query.BuildRED(db, &query.Model{ObservationPoint: obs, Metric: query.MetricLatencyP99, GroupBy: query.Values{"team"}}, r, 60)
		if err := add("red/tagged-rollup-percentiles/"+obs, st, err); err != nil {
			return nil, err
		}
		// grouped by tags of the server: a business tag with the sketch, a resource tag on the rollup
		st, err = query.BuildRED(db, &query.Model{ObservationPoint: obs, GroupBy: query.Values{"team", "endpoint"}, Tags: query.TagFilters{"owner": {"it's"}}}, r, 60)
		if err := add("red/tagged/"+obs, st, err); err != nil {
			return nil, err
		}
		st, err = query.BuildRED(db, &query.Model{ObservationPoint: obs, Metric: query.MetricRequestRate, GroupBy: query.Values{"client_service", "workload"}}, r, 60)
		if err := add("red/tagged-rollup/"+obs, st, err); err != nil {
			return nil, err
		}
	}
	st, err = query.BuildMap(db, &query.Model{}, r)
	if err := add("map/unfiltered", st, err); err != nil {
		return nil, err
	}
	// the map's latency per observation point (request logs)
	st, err = query.BuildMapPoints(db, &filtered, r)
	if err := add("map/points", st, err); err != nil {
		return nil, err
	}
	m := filtered
	m.Status = query.Values{"server_error", "timeout"}
	m.Limit = 100
	st, err = query.BuildLog(db, &m, r)
	if err := add("sql_log/filtered", st, err); err != nil {
		return nil, err
	}
	// a flame graph's slowest requests: its process's, slowest first
	st, err = query.BuildLog(db, &query.Model{ServerProcess: query.Values{"node"}, ServerPid: query.IDs{4811}, OrderBy: query.OrderByDuration, Limit: 20}, r)
	if err := add("sql_log/slowest", st, err); err != nil {
		return nil, err
	}
	st, err = query.BuildLog(db, &query.Model{}, r)
	if err := add("sql_log/unfiltered", st, err); err != nil {
		return nil, err
	}
	m = filtered
	m.Status, m.ResponseCode, m.MinDurationMs, m.Search, m.RequestID = query.Values{"ok"}, query.Values{"200"}, 1.5, "it's", "rid-1"
	st, err = query.BuildTraceMatches(db, &m, r)
	if err := add("trace_search/filtered", st, err); err != nil {
		return nil, err
	}
	st, err = query.BuildTraceMatches(db, &query.Model{ObservationPoint: "client_nic"}, r)
	if err := add("trace_search/unfiltered", st, err); err != nil {
		return nil, err
	}
	from := r.From.UnixMicro()
	probes := []query.TraceProbe{{ID: 7, Host: "vm", PID: 4242, StartUs: from + 1000, EndUs: from + 9000}, {ID: 8, Host: "it's", PID: 1, StartUs: from + 70_000_000, EndUs: from + 75_000_000}}
	st, err = query.BuildTraceCalls(db, query.CallsServed, probes, 10_000_000)
	if err := add("trace_search/callers", st, err); err != nil {
		return nil, err
	}
	st, err = query.BuildTraceCalls(db, query.CallsMade, probes, 0)
	if err := add("trace_search/calls", st, err); err != nil {
		return nil, err
	}
	st, err = query.BuildServices(db, r)
	if err := add("resource/services", st, err); err != nil {
		return nil, err
	}
	st, err = query.BuildTraceSpans(db, query.TraceKeys{
		RowIDs: []uint64{18446744073709551615}, SyscallIDs: []uint64{1, 2}, TCPSeqs: []uint32{4294967295},
		Flows:    []query.TraceFlow{{ClientIP: "10.0.0.1", ClientPort: 4000, ServerIP: "10.0.0.2", ServerPort: 80}},
		TraceIDs: []string{"4bf92f3577b34da6a3ce929d0e0e4736"}, XRequestIDs: []string{"it's \\ tricky"},
	}, r.From.Unix(), r.To.Unix(), 2001)
	if err := add("trace/round", st, err); err != nil {
		return nil, err
	}
	netFlows := []query.TraceFlow{{ClientIP: "10.0.0.1", ClientPort: 4000, ServerIP: "10.0.0.2", ServerPort: 80},
		{ClientIP: "it's \\ tricky", ClientPort: 65535, ServerIP: "::1", ServerPort: 1}}
	st, err = query.BuildTraceTimelines(db, netFlows, r.From.Unix()-180, r.To.Unix())
	if err := add("trace/timelines", st, err); err != nil {
		return nil, err
	}
	st, err = query.BuildTraceL4Flows(db, netFlows, r.From.Unix()-11, r.To.Unix()+70)
	if err := add("trace/l4_flows", st, err); err != nil {
		return nil, err
	}
	for _, q := range []struct{ name, js string }{
		{"flamegraph/process", `{"process":"it's \\ tricky","pid":[12,13],"tid":14,"event":"off_cpu"}`},
		{"flamegraph/service", `{"service":"checkout","host":"h1"}`},
		{"flamegraph/diff", `{"service":"checkout","baselineFrom":1699996400000,"baselineTo":1699999999000}`},
		{"flamegraph/tagged", `{"tags":{"team":["it's"],"namespace":["shop"]}}`},
		{"flamegraph/grouped/workload", `{"group_by":"workload","tags":{"namespace":["shop"]},"service":"checkout"}`},
		{"flamegraph/grouped/workload-eras", `{"group_by":"workload"}`},
		{"flamegraph/grouped/team-diff", `{"group_by":["team"],"baselineFrom":1699996400000,"baselineTo":1699999999000}`},
	} {
		name, js := q.name, q.js
		fm, err := query.ParseFlame([]byte(js))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		st, err = query.BuildFlameGraph(db, fm, r)
		if err := add(name, st, err); err != nil {
			return nil, err
		}
	}
	for _, q := range []struct{ name, js string }{
		{"flow_log/filtered", `{"service":"it's \\ tricky","client_process":"curl","client_ip":"10.0.0.1","server_port":80,"close_type":"connect_failed","rst_sender":"server","conn_failed":true,"min_retrans":1,"min_rtt_ms":0.5}`},
		{"flow_log/unfiltered", `{}`},
		{"net_metrics/preferred", `{"service":"it's \\ tricky","server_port":80}`},
		{"net_metrics/all", `{"observation_point":"all"}`},
		{"net_metrics/tagged", `{"tags":{"team":["it's"]}}`},
		{"flow_log/tagged", `{"tags":{"team":["shop"],"workload":["checkout"]}}`},
		{"flow_log/grouped/workload", `{"group_by":"workload","conn_failed":true,"tags":{"namespace":["it's"]}}`},
		{"flow_log/grouped/workload-eras", `{"group_by":"workload"}`},
		{"flow_log/grouped/team", `{"group_by":["team"],"observation_point":"server_process"}`},
		{"net_metrics/grouped/workload", `{"group_by":"workload","tags":{"team":["it's"]}}`},
		{"net_metrics/grouped/label-all", `{"group_by":"label.app.kubernetes.io/name","observation_point":"all"}`},
		{"netprofile_summary/grouped/team", `{"group_by":"team"}`},
		{"netprofile", `{"client_ip":"10.0.0.1","client_port":40000,"server_ip":"10.0.0.2","server_port":80,"host":"h1"}`},
		{"netprofile_summary/preferred", `{"service":"it's \\ tricky","server_port":80}`},
		{"netprofile_summary/all", `{"observation_point":"all","metric":"client_wait_max"}`},
	} {
		nm, err := query.ParseNet([]byte(q.js))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", q.name, err)
		}
		switch {
		case strings.HasPrefix(q.name, "flow_log"):
			st, err = query.BuildFlowLog(db, nm, r)
		case strings.HasPrefix(q.name, "net_metrics"):
			st, err = query.BuildNetMetrics(db, nm, r, 60)
		case strings.HasPrefix(q.name, "netprofile_summary"):
			st, err = query.BuildNetProfileSummary(db, nm, r, 60)
		default:
			st, err = query.BuildNetProfile(db, nm, r)
		}
		if err := add(q.name, st, err); err != nil {
			return nil, err
		}
	}
	// the triage's queries: a service, an edge with an endpoint, an explicit baseline
	for _, q := range []struct{ name, js string }{
		{"triage/service", `{"service":"checkout"}`},
		{"triage/edge", `{"service":"it's \\ tricky","client_service":"frontend","endpoint":"/api/pay","baseline":"previous_hour"}`},
	} {
		tm, err := query.ParseTriage([]byte(q.js))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", q.name, err)
		}
		w, err := tm.Windows(query.Range{From: r.To.Add(-5 * time.Minute), To: r.To})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", q.name, err)
		}
		for _, b := range []struct {
			part  string
			build func() (*query.Statement, error)
		}{
			{"edges", func() (*query.Statement, error) { return query.BuildTriageEdges(db, tm, w) }},
			{"wire", func() (*query.Statement, error) {
				return query.BuildTriageWireEdges(db, tm, w, trace.ErrorStatus, query.Values{"frontend"}, query.Values{"checkout", "it's \\ tricky"})
			}},
			{"net", func() (*query.Statement, error) { return query.BuildTriageNet(db, tm, w) }},
			{"spread", func() (*query.Statement, error) { return query.BuildTriageSpread(db, tm, w) }},
			{"flows", func() (*query.Statement, error) { return query.BuildTriageFlows(db, tm, w) }},
			{"waits", func() (*query.Statement, error) { return query.BuildTriageWaits(db, tm, w) }},
			{"profile", func() (*query.Statement, error) {
				return query.BuildTriageProfile(db, []string{"checkout", "it's \\ tricky"}, w)
			}},
		} {
			st, err := b.build()
			if err := add(q.name+"/"+b.part, st, err); err != nil {
				return nil, err
			}
		}
	}
	// the query editor's pickers: a column among the rows the other filters match (filter on the same column too)
	pickFilter, err := query.ParseFlame([]byte(`{"process":"it's \\ tricky","pid":[12],"event":"off_cpu"}`))
	if err != nil {
		return nil, err
	}
	for _, field := range query.ProfileValueFields {
		st, err = query.BuildProfileValues(db, field, pickFilter, r)
		if err := add("resource/profile-values/"+field, st, err); err != nil {
			return nil, err
		}
	}
	for _, h := range plugin.HealthQueries(db) {
		out = append(out, entry{Name: "health/" + h.Name, SQL: h.SQL})
	}
	return out, nil
}
