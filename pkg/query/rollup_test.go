package query

import (
	"strings"
	"testing"
)

// RED and map read the per-edge rollup, percentiles included, unless an endpoint (filter or
// grouping) needs app_metrics' full grain.
func TestMetricsTableChoice(t *testing.T) {
	for _, c := range []struct {
		model, table, maxExpr, sketchExpr string
	}{
		{`{"queryType":"red","metric":"error_ratio"}`, "`app_metrics_edge`", "maxMerge(response_duration_max_us)", ""},
		{`{"queryType":"red","metric":"latency_max","observation_point":"all","service":"a","l7_protocol":"HTTP","group_by":["client_service","l7_protocol","observation_point"]}`, "`app_metrics_edge`", "maxMerge(response_duration_max_us)", ""},
		// percentiles: the rollup's sketch state
		{`{"queryType":"red"}`, "`app_metrics_edge`", "maxMerge(response_duration_max_us)", "sumMap(`latency_sketchMap.keys`, `latency_sketchMap.counts`) AS sketch"},
		{`{"queryType":"red","metric":"latency_p99","observation_point":"all","group_by":["client_service","service"]}`, "`app_metrics_edge`", "maxMerge(response_duration_max_us)", "sumMap(`latency_sketchMap.keys`, `latency_sketchMap.counts`) AS sketch"},
		{`{"queryType":"red","metric":"latency_p99","group_by":["service","team"]}`, "`app_metrics_edge`", "maxMerge(response_duration_max_us)", "sumMap(`latency_sketchMap.keys`, `latency_sketchMap.counts`) AS sketch"},
		// endpoints need the full grain: app_metrics and its sketch arrays
		{`{"queryType":"red","metric":"latency_p99","group_by":"endpoint"}`, "`app_metrics`", "max(response_duration_max_us)", "sumMap(latency_sketch_keys, latency_sketch_counts) AS sketch"},
		{`{"queryType":"red","metric":"request_rate","group_by":"endpoint"}`, "`app_metrics`", "max(response_duration_max_us)", ""},
		{`{"queryType":"red","observation_point":"server_nic","endpoint":"/pay"}`, "`app_metrics`", "max(response_duration_max_us)", "sumMap(latency_sketch_keys, latency_sketch_counts) AS sketch"},
		{`{"queryType":"map"}`, "`app_metrics_edge`", "maxMerge(response_duration_max_us)", ""},
		{`{"queryType":"map","observation_point":"all"}`, "`app_metrics_edge`", "maxMerge(response_duration_max_us)", ""},
		{`{"queryType":"map","endpoint":["/a","/b"]}`, "`app_metrics`", "max(response_duration_max_us)", ""},
	} {
		m := mustParse(t, c.model)
		var st *Statement
		var err error
		if m.QueryType == TypeRED {
			st, err = BuildRED("flowlens", m, testRange, 60)
		} else {
			st, err = BuildMap("flowlens", m, testRange)
		}
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(st.SQL, "FROM `flowlens`."+c.table+"\n") || !strings.Contains(st.SQL, c.maxExpr) ||
			(c.table == "`app_metrics`" && strings.Contains(st.SQL, "maxMerge")) {
			t.Errorf("%s: want %s and %s:\n%s", c.model, c.table, c.maxExpr, st.SQL)
		}
		if c.sketchExpr == "" && strings.Contains(st.SQL, "sketch") || c.sketchExpr != "" && !strings.Contains(st.SQL, c.sketchExpr) {
			t.Errorf("%s: want sketch %q:\n%s", c.model, c.sketchExpr, st.SQL)
		}
	}
	// the unrolled form reads app_metrics whatever the grouping
	st, err := BuildREDFromAppMetrics("flowlens", mustParse(t, `{"queryType":"red","group_by":["service","team"]}`), testRange, 60)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(st.SQL, "app_metrics_edge") || !strings.Contains(st.SQL, "sumMap(latency_sketch_keys, latency_sketch_counts) AS sketch") {
		t.Errorf("unrolled RED:\n%s", st.SQL)
	}
}
