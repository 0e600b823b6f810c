package plugin_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/flowlens/flowlens/pkg/pluginhost"
	"github.com/flowlens/flowlens/pkg/query"
)

const agentEventsDB = "flowlens_gotest_agentevents"

// Agent restart and stop annotations through the plugin binary over agent_events rows on the real
// ClickHouse (the rows the agent writes: src/agent/agentEvents.ts). The range is [t0, t0+600].
// Host a: a run before the range killed (no stop), then one stopped cleanly before the range, then
// in the range a start (previous: clean), a start (previous: killed), its clean stop. Host b: its
// first start ever in the range. Host c: a run started before the range and killed, restarted in the
// range. Host "it's": its only earlier start older than the 30-day lookback.
func TestAgentEventAnnotations(t *testing.T) {
	freshSchema(t, agentEventsDB, "agent_events")
	at := func(s int64) int64 { return (t0+s)*1_000_000 + 250_000 } // µs, a quarter second into second s
	row := func(host, event string, s, runStart int64, pid int, version, reason string) map[string]any {
		return map[string]any{
			"time": time.UnixMicro(at(s)).UTC().Format("2006-01-02 15:04:05"), "time_us": at(s), "host": host,
			"agent_pid": pid, "run_start_us": at(runStart), "event": event, "agent_version": version,
			"kernel": "6.8.0-generic", "reason": reason,
		}
	}
	insertRows(t, agentEventsDB, "agent_events", []map[string]any{
		row("a", "start", -7200, -7200, 90, "0.0.9", "config /etc/flowlens.json"),
		row("a", "start", -3600, -3600, 100, "0.0.9", "config /etc/flowlens.json"),
		row("a", "stop", -1800, -3600, 100, "0.0.9", "terminated"),
		row("a", "start", 60, 60, 101, "0.1.0", "config /etc/flowlens.json"),
		row("a", "start", 120, 120, 102, "0.1.0", "config /etc/flowlens.json"),
		row("a", "stop", 300, 120, 102, "0.1.0", "interrupted"),
		row("b", "start", 200, 200, 7, "0.1.0", "defaults and environment"),
		row("c", "start", -600, -600, 50, "0.1.0", "defaults and environment"),
		row("c", "start", 400, 400, 51, "0.1.0", "defaults and environment"),
		row("it's", "start", -31*86400, -31*86400, 5, "0.1.0", "defaults and environment"),
		row("it's", "start", 500, 500, 6, "0.1.0", "defaults and environment"),
		row("a", "start", 700, 700, 103, "0.1.0", "after the range"),
	})

	host, err := pluginhost.Start(context.Background(), buildPlugin(t), pluginhost.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	e := &env{t: t, host: host}
	pc := e.ctx("agentevents-uid", map[string]any{"url": clickhouseURL(), "database": agentEventsDB, "username": local.Reader})
	annotations := func(model string) []string {
		t.Helper()
		res := e.query(pc, t0, t0+600, time.Second, model)
		if res.Error != nil {
			t.Fatalf("%s: %v", model, res.Error)
		}
		f := res.Frames[0]
		var out []string
		for i := 0; i < f.Rows(); i++ {
			start, end := f.Fields[0].At(i).(time.Time), f.Fields[1].At(i).(time.Time)
			if !start.Equal(end) {
				t.Errorf("%s: event %d is a region (%s–%s), want a point", model, i, start, end)
			}
			out = append(out, fmt.Sprintf("%d %s [%s]", start.UnixMicro()-t0*1_000_000, f.Fields[2].At(i), f.Fields[3].At(i)))
		}
		return out
	}
	started := func(s int64) string {
		return time.UnixMicro(at(s)).UTC().Format("2006-01-02 15:04:05 UTC")
	}
	want := []string{
		fmt.Sprintf("60250000 a: agent 0.1.0 started (pid 101, kernel 6.8.0-generic); the previous run (0.0.9, pid 100, started %s) stopped cleanly (terminated) after 30m0s [flowlens,agent_restart,host=a,previous=clean]", started(-3600)),
		fmt.Sprintf("120250000 a: agent 0.1.0 started (pid 102, kernel 6.8.0-generic); the previous run (0.1.0, pid 101, started %s) did not stop cleanly: no stop was recorded (crashed or killed) [flowlens,agent_restart,host=a,previous=unclean]", started(60)),
		"200250000 b: agent 0.1.0 started (pid 7, kernel 6.8.0-generic); no earlier run recorded in the 30 days before [flowlens,agent_restart,host=b,previous=none]",
		fmt.Sprintf("400250000 c: agent 0.1.0 started (pid 51, kernel 6.8.0-generic); the previous run (0.1.0, pid 50, started %s) did not stop cleanly: no stop was recorded (crashed or killed) [flowlens,agent_restart,host=c,previous=unclean]", started(-600)),
		"500250000 it's: agent 0.1.0 started (pid 6, kernel 6.8.0-generic); no earlier run recorded in the 30 days before [flowlens,agent_restart,host=it's,previous=none]",
	}
	if got := annotations(`{"queryType":"annotations","annotation":"agent_restart"}`); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("agent restarts:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// the host filter (a quote in a value is escaped); service and team filters do not narrow host events
	got := annotations(`{"queryType":"annotations","annotation":"agent_restart","host":["c","it's"],"service":["backend"],"tags":{"team":["shop"]}}`)
	if strings.Join(got, "\n") != strings.Join(want[3:], "\n") {
		t.Errorf("agent restarts of c and it's:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want[3:], "\n"))
	}
	// clean stops in the range: only a's second run (its first stop is before the range)
	wantStop := "300250000 a: agent 0.1.0 stopped cleanly (interrupted) after 3m0s (pid 102) [flowlens,agent_stop,host=a]"
	if got := annotations(`{"queryType":"annotations","annotation":"agent_stop"}`); strings.Join(got, "\n") != wantStop {
		t.Errorf("agent stops:\n%s\nwant\n%s", strings.Join(got, "\n"), wantStop)
	}
	if got := annotations(`{"queryType":"annotations","annotation":"agent_stop","host":"b"}`); len(got) != 0 {
		t.Errorf("agent stops of b: %v, want none", got)
	}
	// a crash loop: more rows than the bound in the range; the oldest are read and the frame says so
	var loop []map[string]any
	for i := 0; i <= query.MaxAgentEventRows; i++ {
		r := row("loop", "start", 1000, 1000, 1000+i, "0.1.0", "crash loop")
		r["time_us"], r["run_start_us"] = at(1000)+int64(i), at(1000)+int64(i)
		loop = append(loop, r)
	}
	insertRows(t, agentEventsDB, "agent_events", loop)
	res := e.query(pc, t0+900, t0+1100, time.Second, `{"queryType":"annotations","annotation":"agent_restart"}`)
	if res.Error != nil {
		t.Fatal(res.Error)
	}
	f := res.Frames[0]
	// the bound's rows less a's, b's, c's and it's last runs before the range
	if n := f.Rows(); n != query.MaxAgentEventRows-4 {
		t.Errorf("crash loop: %d events, want %d", n, query.MaxAgentEventRows-4)
	}
	if f.Meta == nil || len(f.Meta.Notices) != 1 || !strings.Contains(f.Meta.Notices[0].Text, "later ones are left out") {
		t.Errorf("crash loop: notices %+v, want one saying the events were cut", f.Meta)
	}
	if n := len(annotations(`{"queryType":"annotations","annotation":"agent_restart","host":"b"}`)); n != 1 {
		t.Errorf("b: %d restarts", n)
	}

	res = e.query(pc, t0, t0+600, time.Second, `{"queryType":"annotations","annotation":"agent_restart","host":["`+strings.Repeat("h", query.MaxValueLen+1)+`"]}`)
	if res.Error == nil || res.Status != backend.StatusBadRequest || !strings.Contains(res.Error.Error(), "filter host: value is") {
		t.Errorf("a host name over the value bound: %v (%d), want a bad request", res.Error, res.Status)
	}
}
