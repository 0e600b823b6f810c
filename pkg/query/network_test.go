package query

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/flowlens/flowlens/pkg/schema"
)

// netQueries renders every network query with every filter it takes set.
func netQueries(t *testing.T) map[string]*Statement {
	t.Helper()
	full := func(js string) *NetModel {
		m, err := ParseNet([]byte(js))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	out := map[string]*Statement{}
	add := func(name string, st *Statement, err error) {
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[name] = st
	}
	st, err := BuildFlowLog("flowlens", full(`{"service":"a","client_service":"b","server_process":"p","client_process":["q"],"server_ip":"10.0.0.1",
		"client_ip":"10.0.0.2","server_port":"80","client_port":[1,2],"host":"h","observation_point":"server_process","close_type":"normal",
		"rst_sender":"server","conn_failed":"true","min_retrans":"2","min_rtt_ms":1.5,"format":"logs","limit":5}`), testRange)
	add("flow_log", st, err)
	for _, obs := range []string{"", "all", "client_process"} {
		st, err = BuildNetMetrics("flowlens", full(`{"service":"a","client_service":"b","server_port":80,"host":"h","observation_point":"`+obs+`"}`), testRange, 10)
		add("net_metrics/"+obs, st, err)
	}
	st, err = BuildNetProfile("flowlens", full(`{"client_ip":"10.0.0.2","client_port":"40000","server_ip":"10.0.0.1","server_port":80,"host":"h","observation_point":"server_nic"}`), testRange)
	add("netprofile", st, err)
	for _, obs := range []string{"", "all", "server_nic"} {
		st, err = BuildNetProfileSummary("flowlens", full(`{"service":"a","client_service":"b","server_ip":"10.0.0.1","server_port":80,"host":"h","metric":"client_wait_max","observation_point":"`+obs+`"}`), testRange, 10)
		add("netprofile_summary/"+obs, st, err)
	}
	return out
}

func TestNetworkQueriesReadSchemaColumns(t *testing.T) {
	for name, st := range netQueries(t) {
		for _, c := range st.Columns {
			if !schema.Get().HasColumn(st.Table, c) {
				t.Errorf("%s reads %s.%s, which schema.json lacks", name, st.Table, c)
			}
		}
	}
}

func TestFlowLogFilters(t *testing.T) {
	sql := netQueries(t)["flow_log"].SQL
	for _, want := range []string{"server_service IN ('a')", "client_process IN ('q')", "client_port IN (1, 2)", "server_port IN (80)",
		"close_type IN ('normal')", "rst_sender IN ('server')", "conn_failed = 1", "retrans_count >= 2", "rtt_us >= 1500",
		"observation_point = 'server_process'", "host IN ('h')", "LIMIT 5"} {
		if !strings.Contains(sql, want) {
			t.Errorf("flow_log SQL lacks %q:\n%s", want, sql)
		}
	}
	for js, want := range map[string]string{
		`{"close_type":"closed"}`:      "close_type: 'closed' is not one of normal,",
		`{"rst_sender":"peer"}`:        "rst_sender: 'peer' is not one of client, server",
		`{"conn_failed":"maybe"}`:      "'maybe' is not true or false",
		`{"min_retrans":-1}`:           "min_retrans -1 is below 0",
		`{"server_port":70000}`:        "port 70000 is above 65535",
		`{"format":"csv"}`:             "format 'csv' is not one of table, logs",
		`{"observation_point":"moon"}`: "observation_point 'moon' is not one of",
		`{"client_ip":"x' OR 1=1 --"}`: "",
	} {
		m, err := ParseNet([]byte(js))
		if err == nil {
			_, err = BuildFlowLog("flowlens", m, testRange)
		}
		if (want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), want)) {
			t.Errorf("%s: %v, want %q", js, err, want)
		}
	}
}

func TestNetMetricsAndProfileRefuseWhatTheirTableLacks(t *testing.T) {
	for js, want := range map[string]string{
		`{"client_ip":"1.2.3.4"}`: "client_ip applies to flow_log only",
		`{"conn_failed":true}`:    "conn_failed applies to flow_log only",
		`{"metric":"throughput"}`: "metric 'throughput' is not one of all, byte_rate",
	} {
		m, _ := ParseNet([]byte(js))
		if _, err := BuildNetMetrics("flowlens", m, testRange, 1); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("net_metrics %s: %v, want %q", js, err, want)
		}
	}
	for js, want := range map[string]string{
		`{"client_ip":"a","client_port":1,"server_ip":"b"}`:                               "exactly one client_ip, client_port, server_ip and server_port",
		`{"client_ip":["a","c"],"client_port":1,"server_ip":"b","server_port":2}`:         "exactly one",
		`{"client_ip":"a","client_port":1,"server_ip":"b","server_port":2,"service":"s"}`: "filter service does not apply to netprofile",
	} {
		m, _ := ParseNet([]byte(js))
		if _, err := BuildNetProfile("flowlens", m, testRange); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("netprofile %s: %v, want %q", js, err, want)
		}
	}
	// preferred net metrics: retransmissions, zero windows and failed connects over both ends, RSTs from the end
	// that saw more, the rest at the best point
	sql := netQueries(t)["net_metrics/"].SQL
	for _, want := range []string{"sum(tupleElement(p, 10)) AS retrans_count", "sum(tupleElement(p, 12)) AS zero_window_count",
		"sumIf(tupleElement(p, 3), tupleElement(p, 1) = best_rank) AS byte_tx", "max(tupleElement(p, 11)) AS rst_count",
		"sum(tupleElement(p, 9)) AS conn_failed_count"} {
		if !strings.Contains(sql, want) {
			t.Errorf("preferred net_metrics SQL lacks %q:\n%s", want, sql)
		}
	}
}

// jsonFields are the JSON names of a struct's fields.
func jsonFields(v any) map[string]bool {
	out := map[string]bool{}
	t := reflect.TypeOf(v)
	for i := 0; i < t.NumField(); i++ {
		if name := strings.Split(t.Field(i).Tag.Get("json"), ",")[0]; name != "" && name != "-" {
			out[name] = true
		}
	}
	return out
}

// The query editor's options (src/datasource/types.ts FILTER_KEYS) are the backend's field names:
// every NetModel filter is one, and every one is a field some query model reads.
func TestEditorKeysAreModelFields(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "src", "datasource", "types.ts"))
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile(`(?s)export const FILTER_KEYS = \[(.*?)\] as const`).FindSubmatch(raw)
	if block == nil {
		t.Fatal("types.ts has no FILTER_KEYS")
	}
	keys := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\s*'(\w+)',`).FindAllSubmatch(block[1], -1) {
		keys[string(m[1])] = true
	}
	model, net := jsonFields(Model{}), jsonFields(NetModel{})
	for k := range net {
		if !keys[k] && k != "queryType" && k != "metric" && k != "format" && k != "tags" && k != "group_by" { // tags: FlowLensQuery.tags, a map; group_by: FlowLensQuery.group_by

			t.Errorf("NetModel option %s is not in the editor's FILTER_KEYS", k)
		}
	}
	for k := range keys {
		if !model[k] && !net[k] && k != "row_id" && k != "time" { // row_id and time: TraceQuery (parsed by hand)
			t.Errorf("editor option %s is no field of Model or NetModel", k)
		}
	}
	if !regexp.MustCompile(`(?m)^\s*tags\?: TagFilters;`).Match(raw) {
		t.Error("FlowLensQuery has no tags?: TagFilters (the typed tag filters every query model reads)")
	}
	if len(keys) < 25 {
		t.Errorf("read %d FILTER_KEYS: the pattern no longer matches types.ts", len(keys))
	}
}

func TestNetProfileSummaryQuery(t *testing.T) {
	qs := netQueries(t)
	sql := qs["netprofile_summary/"].SQL
	for _, want := range []string{"server_service IN ('a')", "client_service IN ('b')", "server_ip IN ('10.0.0.1')", "server_port IN (80)", "host IN ('h')",
		"sum(toUInt64(client_wait_us) * client_wait_count) AS s10", "maxIf(tupleElement(p, 14), tupleElement(p, 1) = best_rank) AS client_wait_max_us",
		"countIf(conn_latency_us > 0) AS s2", "FROM `flowlens`.`tcp_timeline`"} {
		if !strings.Contains(sql, want) {
			t.Errorf("netprofile_summary SQL lacks %q:\n%s", want, sql)
		}
	}
	if sql := qs["netprofile_summary/server_nic"].SQL; !strings.Contains(sql, "observation_point = 'server_nic'") || !strings.Contains(sql, "max(client_wait_max_us) AS client_wait_max_us") {
		t.Errorf("one point:\n%s", sql)
	}
	for js, want := range map[string]string{
		`{"metric":"rtt_avg"}`:       "metric 'rtt_avg' is not one of all, conn_latency_avg",
		`{"client_process":"curl"}`:  "filter client_process does not apply to netprofile_summary",
		`{"min_retrans":1}`:          "filter min_retrans does not apply",
		`{"observation_point":"x"}`:  "observation_point 'x' is not one of",
		`{"service":"x' OR 1=1 --"}`: "",
	} {
		m, err := ParseNet([]byte(js))
		if err == nil {
			_, err = BuildNetProfileSummary("flowlens", m, testRange, 60)
		}
		if (want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), want)) {
			t.Errorf("%s: %v, want %q", js, err, want)
		}
	}
	if len(ProfileSummaryColumns) != 12 {
		t.Errorf("%d summary columns", len(ProfileSummaryColumns))
	}
}

func TestMapPointsQuery(t *testing.T) {
	m, err := Parse([]byte(`{"queryType":"map","service":"api","l7_protocol":"HTTP"}`))
	if err != nil {
		t.Fatal(err)
	}
	st, err := BuildMapPoints("flowlens", m, testRange)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"(server_service IN ('api') OR client_service IN ('api'))", "l7_protocol IN ('HTTP')",
		"observation_point IN ('client_process', 'client_nic', 'server_nic', 'server_process')", "countIf(response_duration_us > 0) AS answered",
		"GROUP BY client, server, point", "LIMIT 40000"} {
		if !strings.Contains(st.SQL, want) {
			t.Errorf("map points SQL lacks %q:\n%s", want, st.SQL)
		}
	}
	for _, c := range st.Columns {
		if !schema.Get().HasColumn("l7_flow_log", c) {
			t.Errorf("reads l7_flow_log.%s", c)
		}
	}
	if m, _ := Parse([]byte(`{"queryType":"map","min_duration_ms":5}`)); m != nil {
		if _, err := BuildMapPoints("flowlens", m, testRange); err == nil {
			t.Error("a request filter on the map's points")
		}
	}
}
