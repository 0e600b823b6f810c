package plugin

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/flowlens/flowlens/pkg/clickhouse"
	"github.com/flowlens/flowlens/pkg/dataplane"
	"github.com/flowlens/flowlens/pkg/query"
	"github.com/flowlens/flowlens/pkg/schema"
)

func num(s string) json.Number { return json.Number(s) }

func TestNodeGraphShape(t *testing.T) {
	res := &clickhouse.Result{Data: [][]any{
		{"web", "api", "100", "10", "200000", "9000", []any{"HTTP", "gRPC"}},
		{"", "api", "20", "0", "2000", "100", []any{"HTTP"}},
	}}
	frames, err := mapFrames(res, 10, "SQL")
	if err != nil {
		t.Fatal(err)
	}
	nodes, edges := frames[0], frames[1]
	wantNodeFields := []string{"id", "title", "subtitle", "mainstat", "secondarystat", "arc__success", "arc__errors",
		"detail__requests", "detail__errors", "detail__error_ratio", "detail__latency_max", "detail__outbound_requests"}
	wantEdgeFields := []string{"id", "source", "target", "mainstat", "secondarystat", "detail__requests", "detail__errors",
		"detail__error_rate", "detail__error_ratio", "detail__latency_max", "detail__protocols", "detail__network", "detail__retransmissions",
		"detail__retrans_ratio", "detail__rsts", "detail__conn_failed", "detail__zero_windows", "detail__rtt_avg",
		"detail__latency_client_process", "detail__latency_client_nic", "detail__latency_server_nic", "detail__latency_server_process",
		"detail__time_in_client", "detail__time_in_network", "detail__time_in_server", "highlighted"}
	check := func(f *data.Frame, name string, fields []string, rows int) {
		if f.Name != name || f.Meta.PreferredVisualization != data.VisTypeNodeGraph || f.Rows() != rows {
			t.Errorf("%s: name %q vis %q rows %d", name, f.Name, f.Meta.PreferredVisualization, f.Rows())
		}
		if len(f.Fields) != len(fields) {
			t.Fatalf("%s has %d fields, want %d", name, len(f.Fields), len(fields))
		}
		for i, n := range fields {
			if f.Fields[i].Name != n {
				t.Errorf("%s field %d = %s, want %s", name, i, f.Fields[i].Name, n)
			}
		}
	}
	check(nodes, "nodes", wantNodeFields, 3)
	check(edges, "edges", wantEdgeFields, 2)
	// Nodes sorted by id; the unnamed client becomes "(unknown)".
	if nodes.Fields[0].At(0) != unknownService || nodes.Fields[0].At(1) != "api" || edges.Fields[1].At(1) != unknownService {
		t.Errorf("ids: %v %v", nodes.Fields[0].At(0), edges.Fields[1].At(1))
	}
	// api served 120 requests in 10 s with 10 errors; arcs add up to 1.
	if nodes.Fields[3].At(1).(float64) != 12 || nodes.Fields[5].At(1).(float64)+nodes.Fields[6].At(1).(float64) != 1 {
		t.Errorf("api mainstat %v arcs %v+%v", nodes.Fields[3].At(1), nodes.Fields[5].At(1), nodes.Fields[6].At(1))
	}
	if edges.Fields[4].At(0).(float64) != 2 || edges.Fields[10].At(0) != "HTTP, gRPC" {
		t.Errorf("edge latency %v protocols %v", edges.Fields[4].At(0), edges.Fields[10].At(0))
	}
	if nodes.Fields[5].Config.Color["fixedColor"] != "green" || nodes.Fields[6].Config.Color["fixedColor"] != "red" {
		t.Error("arc colours missing")
	}
}

// Each observation point's requests and latency sum become its mean latency on the edge, and where the
// time goes: in the client, on the path, in the server.
func TestEdgeLatencyPerObservationPoint(t *testing.T) {
	pt := func(req, sumUs int64) pointLatency { return pointLatency{req, sumUs} }
	frames := nodeGraph([]mapEdge{
		// 10 calls: 60 ms at the client's process, 58 at its NIC, 12 at the server's NIC, 11.5 in the server
		{client: "web", server: "api", requests: 10, durationSumUs: 115000, points: map[string]pointLatency{
			"client_process": pt(10, 600000), "client_nic": pt(10, 580000), "server_nic": pt(10, 120000), "server_process": pt(10, 115000)}},
		// seen by the server's process alone: its latency, no split
		{client: "cron", server: "api", requests: 2, durationSumUs: 4000, points: map[string]pointLatency{"server_process": pt(2, 4000)}},
		// a client NIC slower than its process (other samples): the client's part is 0, never negative
		{client: "batch", server: "api", requests: 4, durationSumUs: 4000, points: map[string]pointLatency{
			"client_process": pt(4, 6000), "client_nic": pt(4, 8000), "server_process": pt(4, 4000)}},
		// no request logs: nothing per point
		{client: "x", server: "api", requests: 1, durationSumUs: 1000},
	}, 10, "SQL")
	f := frames[1]
	get := func(name string, row int) string {
		for _, fl := range f.Fields {
			if fl.Name == name {
				if v := fl.At(row).(*float64); v != nil {
					return strings.TrimRight(strings.TrimRight(strconv.FormatFloat(*v, 'f', 3, 64), "0"), ".")
				}
				return "-"
			}
		}
		t.Fatalf("no field %s", name)
		return ""
	}
	for row, want := range []string{"60 58 12 11.5 | 2 46 12", "- - - 2 | - - -", "1.5 2 - 1 | 0 1 1", "- - - - | - - -"} {
		got := strings.Join([]string{get("detail__latency_client_process", row), get("detail__latency_client_nic", row), get("detail__latency_server_nic", row),
			get("detail__latency_server_process", row), "|", get("detail__time_in_client", row), get("detail__time_in_network", row), get("detail__time_in_server", row)}, " ")
		if got != want {
			t.Errorf("edge %v: %s, want %s", f.Fields[0].At(row), got, want)
		}
	}
}

func TestEdgeNetworkVerdict(t *testing.T) {
	for h, want := range map[edgeNet]string{
		{segments: 1000, retrans: 9}:                                "ok",
		{segments: 1000, retrans: 10}:                               "1.0% retransmitted",
		{segments: 0, failed: 3, rsts: 3}:                           "3 failed connections, 3 RSTs",
		{segments: 10, zeroWindows: 2, rttSumUs: 4000, rttCount: 2}: "2 zero windows",
	} {
		if got := h.verdict(); got != want {
			t.Errorf("%+v: %q, want %q", h, got, want)
		}
	}
	h := edgeNet{segments: 0, rttSumUs: 4000, rttCount: 2}
	if h.retransRatio() != nil || *h.rttMs() != 2 {
		t.Errorf("no segments: ratio %v, rtt %v", h.retransRatio(), h.rttMs())
	}
}

func TestREDFramesAreAlertable(t *testing.T) {
	service := []query.GroupDimension{query.REDDimensions[0]}
	res := &clickhouse.Result{Data: [][]any{
		{num("60"), "api", "120", "6", "240000", "9000"},
		{num("120"), "db", "60", "0", "6000", "200"},
	}}
	r := query.Range{From: time.Unix(60, 0), To: time.Unix(179, 0)}
	frames, err := redFrames(res, []string{query.MetricErrorRatio}, service, r, 60, "SQL")
	if err != nil {
		t.Fatal(err)
	}
	series, err := dataplane.CheckAlertable(frames)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(dataplane.Names(series), " "); got != "error_ratio{metric=error_ratio, service=api} error_ratio{metric=error_ratio, service=db}" {
		t.Errorf("series %s", got)
	}
	if v := series[0].Values[0]; v == nil || *v != 0.05 {
		t.Errorf("api error_ratio = %v", v)
	}
	if v := series[0].Values[1]; v != nil {
		t.Errorf("api error_ratio with no requests = %v, want null", *v)
	}
	// Every metric at once, grouped by edge: still one series per label set.
	edge := []query.GroupDimension{query.REDDimensions[0], query.REDDimensions[1]}
	res = &clickhouse.Result{Data: [][]any{
		{num("60"), "api", "web", "120", "6", "240000", "9000", []any{[]any{num("0"), "350"}, []any{"20", "100"}}},
		{num("60"), "api", "cron", "1", "0", "5", "5", []any{[]any{}, []any{}}},
	}}
	frames, err = redFrames(res, query.REDMetrics, edge, r, 60, "SQL")
	if err != nil {
		t.Fatal(err)
	}
	if series, err = dataplane.CheckAlertable(frames); err != nil || len(series) != 2*len(query.REDMetrics) {
		t.Fatalf("%d series, %v", len(series), err)
	}
	for _, s := range series {
		if s.Labels["client_service"] != "web" || s.Labels["service"] != "api" {
			continue
		}
		switch s.Name {
		case query.MetricLatencyP50, query.MetricLatencyP90, query.MetricLatencyP99:
			// 20 requests of 0 µs, 100 under key 350: p50 and up are key 350's value
			want := schema.Get().SketchValueUs(350) / 1000
			if v := s.Values[0]; v == nil || *v != want {
				t.Errorf("%s = %v, want %v", s.Name, v, want)
			}
		}
	}
	// No rows: the data plane's "no data" frame, so alerting reports NoData rather than an error.
	frames, _ = redFrames(&clickhouse.Result{}, query.REDMetrics, service, r, 60, "SQL")
	if series, err := dataplane.CheckAlertable(frames); err != nil || len(series) != 0 || len(frames) != 1 || len(frames[0].Fields) != 0 {
		t.Errorf("empty result: %d frames, %v", len(frames), err)
	}
}

func TestSketchQuantileIsNearestRank(t *testing.T) {
	s := latencySketch{keys: []int64{0, 100, 200}, counts: []int64{29, 70, 1}}
	for q, key := range map[float64]int64{0.01: 0, 0.29: 0, 0.30: 100, 0.99: 100, 0.999: 200, 1: 200} {
		got, ok := s.quantileUs(q)
		if want := schema.Get().SketchValueUs(key); !ok || got != want {
			t.Errorf("q%v = %v, want %v (key %d)", q, got, want, key)
		}
	}
	if _, ok := (latencySketch{}).quantileUs(0.5); ok {
		t.Error("an empty sketch has a quantile")
	}
}

func TestQueryErrorsAreClear(t *testing.T) {
	ds, _ := NewDatasource(t.Context(), backend.DataSourceInstanceSettings{JSONData: []byte(`{"url":"http://127.0.0.1:1"}`)})
	d := ds.(*Datasource)
	for js, want := range map[string]string{
		`{}`:                              "queryType is missing",
		`{"queryType":"x"}`:               "unknown queryType 'x'",
		`{"queryType":"red","service":1}`: "invalid query JSON",
	} {
		res := d.query(t.Context(), backend.DataQuery{RefID: "A", JSON: []byte(js), TimeRange: backend.TimeRange{From: time.Unix(0, 0), To: time.Unix(60, 0)}})
		if res.Error == nil || res.Status != backend.StatusBadRequest || !contains(res.Error.Error(), want) {
			t.Errorf("%s: %v %v", js, res.Status, res.Error)
		}
	}
	res := d.query(t.Context(), backend.DataQuery{RefID: "A", JSON: []byte(`{"queryType":"map"}`), TimeRange: backend.TimeRange{From: time.Unix(0, 0), To: time.Unix(60, 0)}})
	if res.Error == nil || res.ErrorSource != backend.ErrorSourceDownstream || !contains(res.Error.Error(), "cannot reach ClickHouse") {
		t.Errorf("unreachable server: %v %v", res.ErrorSource, res.Error)
	}
	bad, _ := NewDatasource(t.Context(), backend.DataSourceInstanceSettings{JSONData: []byte(`{"database":"a-b"}`)})
	res = bad.(*Datasource).query(t.Context(), backend.DataQuery{JSON: []byte(`{"queryType":"map"}`)})
	if res.Error == nil || !contains(res.Error.Error(), "database") {
		t.Errorf("bad database setting: %v", res.Error)
	}
}

func TestSettingsDefaults(t *testing.T) {
	st, err := LoadSettings(backend.DataSourceInstanceSettings{DecryptedSecureJSONData: map[string]string{"password": "pw"}})
	if err != nil || st.URL != DefaultURL || st.Database != "flowlens" || st.Username != "grafana" || st.Password != "pw" || st.QueryTimeout != 30 {
		t.Errorf("defaults: %+v %v", st, err)
	}
	st, _ = LoadSettings(backend.DataSourceInstanceSettings{URL: "http://ch:8123/", JSONData: []byte(`{"database":"x"}`)})
	if st.URL != "http://ch:8123" || st.Database != "x" {
		t.Errorf("datasource url fallback: %+v", st)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
