package plugin

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/flowlens/flowlens/pkg/clickhouse"
	"github.com/flowlens/flowlens/pkg/query"
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
		"detail__error_rate", "detail__error_ratio", "detail__latency_max", "detail__protocols"}
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

func TestREDFramesAreAlertable(t *testing.T) {
	res := &clickhouse.Result{Data: [][]any{
		{num("60"), "api", "120", "6", "240000", "9000"},
		{num("120"), "db", "60", "0", "6000", "200"},
	}}
	r := query.Range{From: time.Unix(60, 0), To: time.Unix(179, 0)}
	frames, err := redFrames(res, query.MetricErrorRatio, r, 60, "SQL")
	if err != nil {
		t.Fatal(err)
	}
	if len(frames) != 2 {
		t.Fatalf("%d frames, want one per service", len(frames))
	}
	for _, f := range frames {
		if f.Meta.Type != data.FrameTypeTimeSeriesMulti || len(f.Fields) != 2 || f.Fields[0].Type() != data.FieldTypeTime ||
			f.Fields[1].Type() != data.FieldTypeNullableFloat64 || f.Fields[1].Labels["service"] == "" {
			t.Errorf("frame %s is not a labelled numeric time series", f.Name)
		}
	}
	if v := frames[0].Fields[1].At(0).(*float64); v == nil || *v != 0.05 {
		t.Errorf("api error_ratio = %v", v)
	}
	if v := frames[0].Fields[1].At(1).(*float64); v != nil {
		t.Errorf("api error_ratio with no requests = %v, want null", *v)
	}
	// No rows: one empty frame, so alerting reports NoData rather than an error.
	frames, _ = redFrames(&clickhouse.Result{}, "", r, 60, "SQL")
	if len(frames) != 1 || frames[0].Rows() != 0 {
		t.Errorf("empty result: %d frames", len(frames))
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
