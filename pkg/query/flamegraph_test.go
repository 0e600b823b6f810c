package query

import (
	"strings"
	"testing"
	"time"

	"github.com/flowlens/flowlens/pkg/schema"
)

func TestParseFlame(t *testing.T) {
	m, err := ParseFlame([]byte(`{"queryType":"flamegraph","pid":[12,"13"],"tid":"14","process":"shape","baselineFrom":1700000000000,"baselineTo":"2023-11-14T22:23:20Z"}`))
	if err != nil {
		t.Fatal(err)
	}
	if m.Event != EventOnCPU || len(m.Pid) != 2 || m.Pid[1] != 13 || m.Tid[0] != 14 || m.Process[0] != "shape" || m.MaxNodes != DefaultFlameNodes {
		t.Errorf("parsed %+v", m)
	}
	b := m.Baseline()
	if b == nil || b.From.Unix() != 1700000000 || b.To.Unix() != 1700000600 {
		t.Errorf("baseline %+v", b)
	}
	m, err = ParseFlame([]byte(`{"pid":"","tid":null,"event":"off_cpu"}`))
	if err != nil || len(m.Pid) != 0 || len(m.Tid) != 0 || m.Baseline() != nil {
		t.Errorf("empty filters: %+v %v", m, err)
	}
	for js, want := range map[string]string{
		`{"event":"wall"}`:   "event 'wall' is not one of on_cpu, off_cpu",
		`{"pid":"12; DROP"}`: "is not a process or thread id",
		`{"pid":-1}`:         "is not a process or thread id",
		`{"pid":4294967296}`: "is not a process or thread id",
		`{"baselineFrom":1}`: "needs both baselineFrom and baselineTo",
		`{"baselineFrom":"yesterday","baselineTo":1}`: "neither milliseconds",
		`{"maxNodes":1000000}`:                        "maxNodes 1000000 is outside",
	} {
		if _, err := ParseFlame([]byte(js)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", js, err, want)
		}
	}
}

func TestFlameGraphSQL(t *testing.T) {
	r := Range{From: time.Unix(1700000000, 0), To: time.Unix(1700000060, 0)}
	m, _ := ParseFlame([]byte(`{"pid":12,"tid":[13,14],"process":["sh'ape"],"service":"svc\\","host":"h1","event":"off_cpu"}`))
	st, err := BuildFlameGraph("flowlens", m, r)
	if err != nil {
		t.Fatal(err)
	}
	sqlHas(t, "the", st.SQL,
		"FROM `flowlens`.`profile_samples`",
		"time >= toDateTime(1700000000) AND time <= toDateTime(1700000060)",
		"event = 'off_cpu'", "pid IN (12)", "tid IN (13, 14)", `process IN ('sh\'ape')`, `service IN ('svc\\')`, "host IN ('h1')",
		"GROUP BY stack_id", "ORDER BY total DESC", "LIMIT 20001",
	)
	if strings.Join(st.Columns, ",") != "event,host,pid,process,service,stack,stack_id,tid,time,value" {
		t.Errorf("columns %v", st.Columns)
	}
	for _, c := range st.Columns {
		if !schema.Get().HasColumn(st.Table, c) {
			t.Errorf("flamegraph query reads %s.%s, which schema.json lacks", st.Table, c)
		}
	}
	m, _ = ParseFlame([]byte(`{"service":"api","baselineFrom":1699999000000,"baselineTo":1699999060000}`))
	st, err = BuildFlameGraph("flowlens", m, r)
	if err != nil {
		t.Fatal(err)
	}
	sqlHas(t, "diff", st.SQL,
		"sumIf(value, time >= toDateTime(1699999000) AND time <= toDateTime(1699999060)) AS left_value",
		"sumIf(value, time >= toDateTime(1700000000) AND time <= toDateTime(1700000060)) AS right_value",
		"((time >= toDateTime(1699999000) AND time <= toDateTime(1699999060)) OR (time >= toDateTime(1700000000) AND time <= toDateTime(1700000060)))",
		"event = 'on_cpu'",
	)
	m, _ = ParseFlame([]byte(`{"baselineFrom":1700000060000,"baselineTo":1700000000000}`))
	if _, err := BuildFlameGraph("flowlens", m, r); err == nil || !strings.Contains(err.Error(), "baseline") {
		t.Errorf("reversed baseline: %v", err)
	}
	if _, err := BuildFlameGraph("bad name", &FlameModel{Event: EventOnCPU}, r); err == nil {
		t.Error("bad database name accepted")
	}
}

func TestParseFlameSpanWindow(t *testing.T) {
	// a request-log row's link: the rows of the span's seconds, from the second before its start (a row is
	// labelled with the second its drain interval started in) to the second of its end, both included
	m, err := ParseFlame([]byte(`{"pid":"4811","tid":"4811","span_start_us":"1796219298934107","span_duration_us":1665814}`))
	if err != nil {
		t.Fatal(err)
	}
	if m.Window == nil || m.Window.From.Unix() != 1796219297 || m.Window.To.Unix() != 1796219300 {
		t.Errorf("window %+v", m.Window)
	}
	// a span inside one second, and one that ends on a second
	if m, _ := ParseFlame([]byte(`{"span_start_us":1000000500000,"span_duration_us":"100"}`)); m.Window.From.Unix() != 999999 || m.Window.To.Unix() != 1000000 {
		t.Errorf("short span: %+v", m.Window)
	}
	if m, _ := ParseFlame([]byte(`{"span_start_us":2000000,"span_duration_us":1000000}`)); m.Window.From.Unix() != 1 || m.Window.To.Unix() != 3 {
		t.Errorf("whole-second span: %+v", m.Window)
	}
	if m, _ := ParseFlame([]byte(`{"pid":1}`)); m.Window != nil {
		t.Errorf("no span, no window: %+v", m.Window)
	}
	for raw, want := range map[string]string{
		`{"span_start_us":"1.5 s"}`:                       "span_start_us '1.5 s' is not microseconds since the epoch",
		`{"span_start_us":"-3"}`:                          "span_start_us '-3' is not microseconds",
		`{"span_start_us":5,"span_duration_us":"1.67 s"}`: "span_duration_us '1.67 s' is not a duration in microseconds",
		`{"span_duration_us":5}`:                          "span_duration_us needs span_start_us",
	} {
		if _, err := ParseFlame([]byte(raw)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", raw, err, want)
		}
	}
}
