package schema

import "testing"

func TestEmbeddedSchema(t *testing.T) {
	s := Get()
	if s.Database != "flowlens" {
		t.Fatalf("database = %q, want flowlens", s.Database)
	}
	for _, table := range []string{"l7_flow_log", "app_metrics", "l4_flow_log", "net_metrics", "tcp_timeline", "profile_samples"} {
		if s.Table(table) == nil {
			t.Errorf("table %s missing from schema.json", table)
		}
	}
	if !s.HasColumn("app_metrics", "request_count") || s.HasColumn("app_metrics", "nope") {
		t.Error("HasColumn is wrong")
	}
	if !s.IsObservationPoint("server_process") || s.IsObservationPoint("x") {
		t.Error("IsObservationPoint is wrong")
	}
	if !s.IsResponseStatus("timeout") {
		t.Error("IsResponseStatus is wrong")
	}
}
