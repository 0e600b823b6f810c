package plugin_test

// Flame graph queries through the plugin binary (started the way Grafana starts it) against the
// real local ClickHouse: known profile_samples rows in a database of their own, exact values back.

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/flowlens/flowlens/pkg/pluginhost"
)

const flameDB = "flowlens_gotest_flame"

// rows go in with insertRows (trace_integration_test.go)

func profileRow(dt int, pid, tid int, process, service, event string, value int, stack ...string) map[string]any {
	id := uint32(7) // any id that is the same for the same frames
	for _, f := range stack {
		for _, c := range f + ";" {
			id = id*31 + uint32(c)
		}
	}
	return map[string]any{
		"time": time.Unix(int64(t0+dt), 0).UTC().Format("2006-01-02 15:04:05"), "host": "h1",
		"pid": pid, "tid": tid, "process": process, "service": service, "event": event,
		"stack_id": id, "stack": stack, "value": value,
	}
}

// flamePaths reads a flame graph frame the way the panel does (depth-first rows, a row's parent
// is the last row one level up) into "root;a;b" -> "value/self" (+ " valueRight/selfRight").
func flamePaths(t *testing.T, res backend.DataResponse) map[string]string {
	t.Helper()
	if res.Error != nil {
		t.Fatalf("query error: %v", res.Error)
	}
	if len(res.Frames) != 1 {
		t.Fatalf("%d frames", len(res.Frames))
	}
	f := res.Frames[0]
	if f.Meta == nil || f.Meta.PreferredVisualization != data.VisTypeFlameGraph {
		t.Fatalf("frame meta %+v", f.Meta)
	}
	fl := map[string]*data.Field{}
	for _, x := range f.Fields {
		fl[x.Name] = x
	}
	out := map[string]string{}
	var path []string
	for i := 0; i < f.Rows(); i++ {
		level := int(fl["level"].At(i).(int64))
		path = append(path[:level], fl["label"].At(i).(string))
		v := fmt.Sprintf("%d/%d", fl["value"].At(i), fl["self"].At(i))
		if fl["valueRight"] != nil {
			v += fmt.Sprintf(" %d/%d", fl["valueRight"].At(i), fl["selfRight"].At(i))
		}
		out[strings.Join(path, ";")] = v
	}
	return out
}

func expectPaths(t *testing.T, got map[string]string, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%d nodes, want %d: %v", len(got), len(want), got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

func TestFlameGraphIntegration(t *testing.T) {
	admin(t, "SELECT 1")
	createSchema(t, flameDB)
	t.Cleanup(func() {
		if os.Getenv("FLOWLENS_KEEP_TESTDB") == "" {
			admin(t, "DROP DATABASE IF EXISTS "+flameDB)
		}
	})
	insertRows(t, flameDB, "profile_samples", []map[string]any{
		profileRow(1, 100, 101, "shape", "shape-svc", "on_cpu", 40, "main", "work_a"),
		profileRow(2, 100, 101, "shape", "shape-svc", "on_cpu", 30, "main", "work_a"),
		profileRow(2, 100, 101, "shape", "shape-svc", "on_cpu", 30, "main", "work_b"),
		profileRow(3, 100, 102, "shape", "shape-svc", "off_cpu", 4000, "reader_thread", "block_on_pipe", "read", "entry_SYSCALL_64", "schedule"),
		profileRow(4, 100, 102, "shape", "shape-svc", "off_cpu", 1000, "reader_thread", "block_on_pipe", "read", "entry_SYSCALL_64", "schedule"),
		profileRow(1, 200, 201, "other", "other-svc", "on_cpu", 50, "main", "spin"),
		profileRow(500, 100, 101, "shape", "shape-svc", "on_cpu", 999, "main", "work_a"), // after the range
		profileRow(-100, 100, 101, "shape", "shape-svc", "on_cpu", 20, "main", "work_a"), // the baseline
		profileRow(-100, 100, 101, "shape", "shape-svc", "on_cpu", 80, "main", "work_b"),
	})
	host, err := pluginhost.Start(context.Background(), buildPlugin(t), pluginhost.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	e := &env{t: t, host: host}
	pc := e.ctx("flame", map[string]any{"url": clickhouseURL(), "database": flameDB, "username": local.Reader})
	q := func(model string) backend.DataResponse { return e.query(pc, t0, t0+120, time.Second, model) }

	onCPU := map[string]string{"total": "100/0", "total;main": "100/0", "total;main;work_a": "70/70", "total;main;work_b": "30/30"}
	expectPaths(t, flamePaths(t, q(`{"queryType":"flamegraph","process":"shape"}`)), onCPU)
	expectPaths(t, flamePaths(t, q(`{"queryType":"flamegraph","service":"shape-svc","event":"on_cpu"}`)), onCPU)
	expectPaths(t, flamePaths(t, q(`{"queryType":"flamegraph","pid":100,"tid":"101"}`)), onCPU)
	expectPaths(t, flamePaths(t, q(`{"queryType":"flamegraph","pid":"100","tid":102}`)), map[string]string{"total": "0/0"})
	expectPaths(t, flamePaths(t, q(`{"queryType":"flamegraph"}`)), map[string]string{
		"total": "150/0", "total;main": "150/0", "total;main;work_a": "70/70", "total;main;work_b": "30/30", "total;main;spin": "50/50",
	})
	// off-CPU time: stored in µs, returned in ns (the panel shows time)
	expectPaths(t, flamePaths(t, q(`{"queryType":"flamegraph","pid":[100],"event":"off_cpu"}`)), map[string]string{
		"total": "5000000/0", "total;reader_thread": "5000000/0", "total;reader_thread;block_on_pipe": "5000000/0",
		"total;reader_thread;block_on_pipe;read": "5000000/0", "total;reader_thread;block_on_pipe;read;entry_SYSCALL_64": "5000000/0",
		"total;reader_thread;block_on_pipe;read;entry_SYSCALL_64;schedule": "5000000/5000000",
	})
	// diff: the baseline range on the left, the query range on the right
	expectPaths(t, flamePaths(t, q(fmt.Sprintf(`{"queryType":"flamegraph","process":"shape","baselineFrom":%d,"baselineTo":%d}`, (t0-120)*1000, (t0-61)*1000))), map[string]string{
		"total": "100/0 100/0", "total;main": "100/0 100/0", "total;main;work_a": "20/20 70/70", "total;main;work_b": "80/80 30/30",
	})
	// hostile values are data: no match, no error; bad options are the user's error
	expectPaths(t, flamePaths(t, q(`{"queryType":"flamegraph","process":"x' OR 1=1 OR '\\"}`)), map[string]string{"total": "0/0"})
	for model, want := range map[string]string{
		`{"queryType":"flamegraph","event":"cpu"}`:            "event 'cpu' is not one of on_cpu, off_cpu",
		`{"queryType":"flamegraph","pid":"1) OR (1=1"}`:       "is not a process or thread id",
		`{"queryType":"flamegraph","baselineFrom":"1","x":1}`: "needs both baselineFrom and baselineTo",
	} {
		res := q(model)
		if res.Error == nil || res.Status != backend.StatusBadRequest || !strings.Contains(res.Error.Error(), want) {
			t.Errorf("%s: status %v error %v, want 400 %q", model, res.Status, res.Error, want)
		}
	}
	if host.Exited() {
		t.Error("plugin process died during the test")
	}
}
