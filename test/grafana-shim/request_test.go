package main

import (
	"testing"
	"time"
)

func TestParseMetricRequest(t *testing.T) {
	now := time.Unix(1700003600, 0)
	body := `{"from":"1700000000000","to":"now","queries":[
	  {"refId":"A","queryType":"red","datasource":{"uid":"flowlens","type":"flowlens-clickhouse-datasource"},"intervalMs":60000,"maxDataPoints":500,"service":"checkout"},
	  {"queryType":"map","datasource":{"uid":"flowlens"}}]}`
	req, err := parseMetricRequest([]byte(body), now)
	if err != nil {
		t.Fatal(err)
	}
	a := req.queries[0]
	if a.RefID != "A" || a.QueryType != "red" || a.Interval != time.Minute || a.MaxDataPoints != 500 || a.uid != "flowlens" {
		t.Errorf("query A = %+v", a)
	}
	if !a.TimeRange.From.Equal(time.Unix(1700000000, 0)) || !a.TimeRange.To.Equal(now) {
		t.Errorf("range = %+v", a.TimeRange)
	}
	if req.queries[1].RefID != "A" || req.queries[1].Interval != time.Second {
		t.Errorf("defaults = %+v", req.queries[1])
	}
	req, err = parseMetricRequest([]byte(`{"from":"now-1h","to":1700003600000,"queries":[{"refId":"B"}]}`), now)
	if err != nil || !req.queries[0].TimeRange.From.Equal(now.Add(-time.Hour)) {
		t.Errorf("relative: %v %+v", err, req)
	}
	for _, bad := range []string{`{}`, `{"queries":[]}`, `{"from":"yesterday","queries":[{}]}`, `nope`} {
		if _, err := parseMetricRequest([]byte(bad), now); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
