package plugin_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/flowlens/flowlens/pkg/pluginhost"
)

const groupByScaleDB = "flowlens_gotest_groupby_scale"

// Flows and profiles grouped by a tag at volume: 1M flow rows and 200k samples of 2000 processes
// (100 pids reused half-way by another workload); every flow and sample lands in exactly one group
// (the totals match the table's) and the answer comes in bounded time (the tag looked up by hash per row).
func TestGroupByTagAtVolume(t *testing.T) {
	freshSchema(t, groupByScaleDB, "process_tags", "l4_flow_log", "profile_samples")
	db := groupByScaleDB
	admin(t, fmt.Sprintf(`INSERT INTO %s.process_tags (time, host, pid, start_time, process, service, workload_name)
SELECT toDateTime(%d), 'vm', toUInt32(number + 1), 1, 'p', concat('s', toString(number %% 40)), concat('w', toString(number %% 50)) FROM numbers(2000)`, db, t0))
	admin(t, fmt.Sprintf(`INSERT INTO %s.process_tags (time, host, pid, start_time, process, service, workload_name)
SELECT toDateTime(%d), 'vm', toUInt32(number + 1), 2, 'p', concat('s', toString(number %% 40)), concat('reused', toString(number %% 5)) FROM numbers(100)`, db, t0+1800))
	admin(t, fmt.Sprintf(`INSERT INTO %s.l4_flow_log (time, host, observation_point, flow_id, client_pid, server_pid, client_service, server_service, client_port, byte_tx, byte_rx, retrans_count)
SELECT toDateTime(%d + number %% 3600), 'vm', 'server_process', number, toUInt32(1 + number %% 2000), toUInt32(1 + (number * 7) %% 2000),
  concat('s', toString(number %% 40)), concat('s', toString((number * 7) %% 40)), toUInt16(number %% 60000), 1, 2, number %% 3 = 0 FROM numbers(1000000)`, db, t0))
	admin(t, fmt.Sprintf(`INSERT INTO %s.profile_samples (time, host, pid, tid, process, service, event, stack_id, stack, value)
SELECT toDateTime(%d + number %% 3600), 'vm', toUInt32(1 + number %% 2000), 1, 'p', concat('s', toString(number %% 40)), 'on_cpu',
  number %% 100, ['main', concat('f', toString(number %% 100))], 1 FROM numbers(200000)`, db, t0))

	host, err := pluginhost.Start(context.Background(), buildPlugin(t), pluginhost.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	e := &env{t: t, host: host}
	pc := e.ctx("groupby-scale-uid", map[string]any{"url": clickhouseURL(), "database": db, "username": local.Reader})

	start := time.Now()
	res := e.query(pc, t0, t0+3599, time.Second, `{"queryType":"flow_log","group_by":"workload","limit":10000}`)
	took := time.Since(start)
	if res.Error != nil {
		t.Fatal(res.Error)
	}
	fm := fieldMap(t, res.Frames[0])
	var flows, tx int64
	reused := 0
	for i := 0; i < res.Frames[0].Rows(); i++ {
		flows += fm["flows"].At(i).(int64)
		tx += fm["byte_tx"].At(i).(int64)
		if strings.HasPrefix(fmt.Sprint(fm["client_workload"].At(i)), "reused") {
			reused++
		}
	}
	t.Logf("flow_log by workload over 1M rows: %d tag pairs in %v", res.Frames[0].Rows(), took)
	// 50 workloads and 5 of reused pids: each end one of 55 values
	if flows != 1000000 || tx != 1000000 || reused == 0 || res.Frames[0].Rows() > 55*55 {
		t.Errorf("flows %d, bytes %d, %d groups from reused pids, %d rows", flows, tx, reused, res.Frames[0].Rows())
	}
	if took > 30*time.Second {
		t.Errorf("flow_log by workload over 1M rows took %v", took)
	}
	// a tag filter at volume (the same lookup, on either end): exactly the flows of an end in reused1,
	// the workload pids 2, 7, ... 97 take from second 1800 (the generator's formula)
	workload := func(pid, s int) string {
		if pid <= 100 && s >= 1800 {
			return fmt.Sprintf("reused%d", (pid-1)%5)
		}
		return fmt.Sprintf("w%d", (pid-1)%50)
	}
	want := int64(0)
	for n := 0; n < 1000000; n++ {
		if workload(1+n%2000, n%3600) == "reused1" || workload(1+(n*7)%2000, n%3600) == "reused1" {
			want++
		}
	}
	start = time.Now()
	res = e.query(pc, t0, t0+3599, time.Second, `{"queryType":"flow_log","group_by":"workload","tags":{"workload":["reused1"]},"limit":10000}`)
	took = time.Since(start)
	if res.Error != nil {
		t.Fatal(res.Error)
	}
	fm, flows = fieldMap(t, res.Frames[0]), 0
	for i := 0; i < res.Frames[0].Rows(); i++ {
		flows += fm["flows"].At(i).(int64)
	}
	t.Logf("flow_log of workload reused1 by workload over 1M rows: %d flows in %v", flows, took)
	if flows != want || want == 0 {
		t.Errorf("flows of reused1: %d, want %d", flows, want)
	}
	start = time.Now()
	paths := flamePaths(t, e.query(pc, t0, t0+3599, time.Second, `{"queryType":"flamegraph","group_by":"workload"}`))
	took = time.Since(start)
	roots, rootSum := 0, int64(0)
	for path, v := range paths {
		if strings.Count(path, ";") == 1 {
			var n int64
			fmt.Sscanf(v, "%d/", &n)
			roots, rootSum = roots+1, rootSum+n
		}
	}
	t.Logf("flamegraph by workload over 200k samples: %d roots in %v", roots, took)
	if paths["total"] != "200000/0" || rootSum != 200000 || roots != 55 {
		t.Errorf("flame graph by workload: total %s, %d roots summing to %d (want 200000, 55)", paths["total"], roots, rootSum)
	}
	if took > 30*time.Second {
		t.Errorf("flamegraph by workload over 200k samples took %v", took)
	}
}
