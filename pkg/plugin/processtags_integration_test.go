package plugin_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/flowlens/flowlens/pkg/pluginhost"
)

const procTagsDB = "flowlens_gotest_proctags"

// A pid reused by another process within the range: each request row takes the tags of the
// process its pid named at the row's time (process_tags tells them apart by start_time), not
// the newest one's; a pid never reused is matched as before.
func TestProcessTagsAcrossPidReuse(t *testing.T) {
	freshSchema(t, procTagsDB)
	at := time.Unix(t0, 0).UTC()
	ts := func(s int) string { return at.Add(time.Duration(s) * time.Second).Format("2006-01-02 15:04:05") }
	// pid 700 runs the old orders (workload orders-v1) until second 60, then a new process reuses
	// the pid (orders-v2, started later); pid 800 is the database the whole time.
	tags := []map[string]any{
		{"time": ts(0), "host": "vm", "pid": 700, "start_time": 1000, "process": "orders", "workload_name": "orders-v1"},
		{"time": ts(30), "host": "vm", "pid": 700, "start_time": 1000, "process": "orders", "workload_name": "orders-v1"},
		{"time": ts(61), "host": "vm", "pid": 700, "start_time": 7000, "process": "orders", "workload_name": "orders-v2"},
		{"time": ts(0), "host": "vm", "pid": 800, "start_time": 500, "process": "db", "workload_name": "orders-db"},
	}
	insertRows(t, procTagsDB, "process_tags", tags)
	var rows []map[string]any
	for i, s := range []int{10, 20, 50, 65, 90} {
		us := at.Add(time.Duration(s)*time.Second).UnixMicro() + 1000
		rows = append(rows, map[string]any{
			"time": ts(s), "_id": 100 + i, "start_time_us": us, "end_time_us": us + 500, "response_duration_us": 500,
			"host": "vm", "observation_point": "server_process", "l7_protocol": "MySQL", "request_type": "COM_QUERY",
			"request_resource": fmt.Sprintf("SELECT %d", s), "endpoint": "SELECT", "response_status": "ok",
			"client_pid": 700, "server_pid": 800, "client_service": "orders", "server_service": "orders-db",
		})
	}
	insertRows(t, procTagsDB, "l7_flow_log", rows)

	host, err := pluginhost.Start(context.Background(), buildPlugin(t), pluginhost.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	e := &env{t: t, host: host}
	pc := e.ctx("proctags-uid", map[string]any{"url": clickhouseURL(), "database": procTagsDB, "username": local.Reader})
	resources := func(workloads string) string {
		t.Helper()
		res := e.query(pc, t0-5, t0+120, time.Second, `{"queryType":"sql_log","tags":{"workload":`+workloads+`}}`)
		if res.Error != nil {
			t.Fatal(res.Error)
		}
		var got []string
		for _, f := range res.Frames {
			fm := fieldMap(t, f)
			for i := 0; i < f.Rows(); i++ {
				got = append(got, fmt.Sprint(fm["request_resource"].At(i)))
			}
		}
		sort.Strings(got)
		return strings.Join(got, ", ")
	}
	for _, c := range []struct{ workloads, want string }{
		{`["orders-v1"]`, "SELECT 10, SELECT 20, SELECT 50"},
		{`["orders-v2"]`, "SELECT 65, SELECT 90"},
		{`["orders-v1","orders-v2"]`, "SELECT 10, SELECT 20, SELECT 50, SELECT 65, SELECT 90"},
		{`["orders-db"]`, "SELECT 10, SELECT 20, SELECT 50, SELECT 65, SELECT 90"}, // the server end, never reused
		{`["nothing"]`, ""},
	} {
		if got := resources(c.workloads); got != c.want {
			t.Errorf("workload %s: %q, want %q", c.workloads, got, c.want)
		}
	}
}
