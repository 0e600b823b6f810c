package query

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/flowlens/flowlens/pkg/schema"
)

var testRange = Range{From: time.Unix(1700000000, 0), To: time.Unix(1700003600, 0)}

func TestQuote(t *testing.T) {
	cases := map[string]string{
		"plain":               `'plain'`,
		"it's":                `'it\'s'`,
		`back\slash`:          `'back\\slash'`,
		`\'`:                  `'\\\''`,
		"'; DROP TABLE x; --": `'\'; DROP TABLE x; --'`,
		"nul\x00byte":         `'nul\0byte'`,
		"line\nbreak\r\t":     `'line\nbreak\r\t'`,
		"bell\x07":            `'bell\x07'`,
		"ünïcødé 服务 🚀":        `'ünïcødé 服务 🚀'`,
	}
	for in, want := range cases {
		if got := Quote(in); got != want {
			t.Errorf("Quote(%q) = %s, want %s", in, got, want)
		}
	}
}

// Every quote inside a literal must be escaped: walk the literal like ClickHouse's lexer.
func TestQuoteNeverEndsEarly(t *testing.T) {
	for _, in := range []string{`'`, `\`, `\'`, `''`, `\\'`, `a'b\'c\\'d`, "x\\\x00'"} {
		q := Quote(in)
		end := -1
		for i := 1; i < len(q); i++ {
			if q[i] == '\\' {
				i++
				continue
			}
			if q[i] == '\'' {
				end = i
				break
			}
		}
		if end != len(q)-1 {
			t.Errorf("Quote(%q) = %s closes at %d of %d", in, q, end, len(q))
		}
	}
}

func TestIdent(t *testing.T) {
	for _, ok := range []string{"flowlens", "flowlens_gotest", "_x1"} {
		if _, err := Ident(ok); err != nil {
			t.Errorf("Ident(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "1abc", "flow-lens", "a`b", "a.b", "x; DROP TABLE y", "é", strings.Repeat("a", 65)} {
		if _, err := Ident(bad); err == nil {
			t.Errorf("Ident(%q) accepted", bad)
		}
	}
}

func mustParse(t *testing.T, js string) *Model {
	t.Helper()
	m, err := Parse([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestParseValues(t *testing.T) {
	m := mustParse(t, `{"queryType":"red","service":["a","","b"],"l7Protocol":"HTTP","observationPoint":"server_nic","endpoint":""}`)
	if len(m.Service) != 2 || m.L7Protocol[0] != "HTTP" || m.ObservationPoint != "server_nic" || m.Endpoint != nil {
		t.Errorf("parsed %+v", m)
	}
	if _, err := Parse([]byte(`{"service":42}`)); err == nil {
		t.Error("numeric service accepted")
	}
}

// sqlHas fails t for each of wants the rendered SQL lacks; what names the statement.
func sqlHas(t *testing.T, what, sql string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(sql, want) {
			t.Errorf("%s SQL lacks %q:\n%s", what, want, sql)
		}
	}
}

func TestREDSQL(t *testing.T) {
	m := mustParse(t, `{"queryType":"red","service":"checkout","l7_protocol":["HTTP","gRPC"],"endpoint":"/api/pay","metric":"latency_max"}`)
	st, err := BuildRED("flowlens", m, testRange, 60)
	if err != nil {
		t.Fatal(err)
	}
	filters := []string{"FROM `flowlens`.`app_metrics`", "time >= toDateTime(1700000000) AND time <= toDateTime(1700003600)",
		"server_service IN ('checkout')", "l7_protocol IN ('HTTP', 'gRPC')", "endpoint IN ('/api/pay')"}
	rank := "transform(observation_point, ['server_process', 'server_nic', 'client_nic', 'client_process', 'gateway'], [1, 2, 3, 4, 5], 0)"
	sqlHas(t, "RED", st.SQL, append(filters,
		"intDiv(toUInt32(time), 60) * 60 AS point_bucket",
		rank+" AS point_rank",
		"GROUP BY client_service, server_service, point_rank, point_bucket",
		"WHERE tupleElement(p, 1) = best_rank",
		"tupleElement(p, 3) AS g0",
		"GROUP BY bucket, g0")...)
	// percentiles: each pair's best point by a subquery, then one aggregation with the sketch
	m.Metric = ""
	st, err = BuildRED("flowlens", m, testRange, 60)
	if err != nil {
		t.Fatal(err)
	}
	sqlHas(t, "percentile RED", st.SQL, append(filters,
		"intDiv(toUInt32(time), 60) * 60 AS bucket",
		"server_service AS g0",
		"sumMap(latency_sketch_keys, latency_sketch_counts) AS sketch",
		"AND (client_service, server_service, "+rank+") IN (\n    SELECT client_service, server_service, min("+rank+")",
		"AND "+rank+" > 0\n    GROUP BY client_service, server_service)",
		"GROUP BY bucket, g0")...)
	// group_by: each dimension a column, in REDDimensions order, the pair's own columns grouped once
	m.GroupBy = Values{"observation_point", "endpoint", "client_service", "service"}
	m.Metric = MetricErrorRatio
	st, err = BuildRED("flowlens", m, testRange, 60)
	if err != nil {
		t.Fatal(err)
	}
	sqlHas(t, "grouped RED", st.SQL,
		"server_service AS g0, client_service AS g1, endpoint AS g2, observation_point AS g3",
		"GROUP BY client_service, server_service, g2, g3, point_rank, point_bucket",
		"groupArray((point_rank, point_bucket, g0, g1, g2, g3, point_requests, point_errors, point_sum_us, point_max_us))",
		"sum(tupleElement(p, 7)) AS requests",
		"GROUP BY bucket, g0, g1, g2, g3")
	if strings.Contains(st.SQL, "sumMap") {
		t.Errorf("error ratio reads the sketch:\n%s", st.SQL)
	}
	m.GroupBy = Values{"service", "Pod"}
	if _, err := BuildRED("flowlens", m, testRange, 60); err == nil || !strings.Contains(err.Error(), `group_by 'Pod' is not one of service, client_service`) {
		t.Errorf("unknown dimension: %v", err)
	}
	for _, bad := range []Values{{"metric"}, {"team", "pod", "workload"}} {
		if _, err := BuildRED("flowlens", &Model{GroupBy: bad}, testRange, 60); err == nil {
			t.Errorf("group_by %v accepted", bad)
		}
	}
	// A tag beside a dimension: the plain RED by (dimension, server) inside, the server's tag
	// looked up on its few rows, summed again per (dimension, tag); the sketch merged again.
	st, err = BuildRED("flowlens", &Model{GroupBy: Values{"team", "endpoint"}, Metric: MetricLatencyP99}, testRange, 60)
	if err != nil {
		t.Fatal(err)
	}
	sqlHas(t, "RED by tag", st.SQL,
		"server_service AS g0,", "endpoint AS g1,",
		"tagged_g1 AS g0,\n  tagged_t0 AS g1",
		"transform(tagged_g0, tupleElement((SELECT (arrayConcat([''], groupArray(tag_k))",
		"key = 'team'",
		"sumMap(tupleElement(tagged_sketch, 1), tupleElement(tagged_sketch, 2)) AS sketch",
		"GROUP BY bucket, g0, g1")
	m.GroupBy, m.Metric = nil, ""
	m.ObservationPoint = "all"
	st, _ = BuildRED("flowlens", m, testRange, 60)
	if strings.Contains(st.SQL, "observation_point") {
		t.Errorf("all mode still filters observation_point:\n%s", st.SQL)
	}
	m.ObservationPoint = "client_process"
	st, _ = BuildRED("flowlens", m, testRange, 60)
	if !strings.Contains(st.SQL, "observation_point = 'client_process'") {
		t.Errorf("explicit point missing:\n%s", st.SQL)
	}
}

func TestMapServiceMatchesEitherEnd(t *testing.T) {
	st, err := BuildMap("flowlens", mustParse(t, `{"queryType":"map","service":"db"}`), testRange)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(st.SQL, "(server_service IN ('db') OR client_service IN ('db'))") {
		t.Errorf("map SQL:\n%s", st.SQL)
	}
	// Preferred mode: one scan, each pair's best point picked by argMin over its rank.
	for _, want := range []string{"argMin(point_requests, point_rank) AS requests", "GROUP BY client_service, server_service, point_rank",
		"AND point_rank > 0", "LIMIT 10000"} {
		if !strings.Contains(st.SQL, want) {
			t.Errorf("map SQL lacks %q:\n%s", want, st.SQL)
		}
	}
}

func TestLogLimitAndStatus(t *testing.T) {
	st, err := BuildLog("flowlens", mustParse(t, `{"queryType":"sql_log","limit":999999,"status":["server_error","timeout"]}`), testRange)
	if err != nil {
		t.Fatal(err)
	}
	if st.Limit != MaxLogLimit || !strings.HasSuffix(st.SQL, "LIMIT 10000") {
		t.Errorf("limit not clamped:\n%s", st.SQL)
	}
	if !strings.Contains(st.SQL, "response_status IN ('server_error', 'timeout')") || !strings.Contains(st.SQL, "ORDER BY time DESC, start_time_us DESC") {
		t.Errorf("log SQL:\n%s", st.SQL)
	}
	st, _ = BuildLog("flowlens", mustParse(t, `{"queryType":"sql_log"}`), testRange)
	if st.Limit != DefaultLogLimit {
		t.Errorf("default limit %d", st.Limit)
	}
}

// A flame graph's slowest requests: the requests its process served in the range, slowest first, read over the
// whole range (not the newest window first); the process's name is a literal, its pid a number.
func TestLogSlowestOfAProcess(t *testing.T) {
	m := mustParse(t, `{"queryType":"sql_log","service":"burn","server_process":"x' OR 1=1 OR '","server_pid":["4811"],"order_by":"duration","limit":"10"}`)
	st, err := BuildLog("flowlens", m, testRange)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"server_service IN ('burn')", `server_process IN ('x\' OR 1=1 OR \'')`, "server_pid IN (4811)",
		"ORDER BY response_duration_us DESC, start_time_us DESC", "LIMIT 10"} {
		if !strings.Contains(st.SQL, want) {
			t.Errorf("slowest SQL lacks %q:\n%s", want, st.SQL)
		}
	}
	var windows []Range
	if _, err := SearchLog("flowlens", m, testRange, func(st *Statement) (int, error) { windows = append(windows, testRange); return 0, nil }); err != nil || len(windows) != 1 {
		t.Errorf("the slowest requests read %d windows (%v), want the whole range once", len(windows), err)
	}
	for model, want := range map[string]string{
		`{"queryType":"sql_log","order_by":"fastest"}`:      "order_by 'fastest' is not one of time, duration",
		`{"queryType":"sql_log","server_pid":"1) OR (1=1"}`: "is not a process or thread id",
	} {
		m, err := Parse([]byte(model))
		if err == nil {
			_, err = BuildLog("flowlens", m, testRange)
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", model, err, want)
		}
	}
	if _, err := BuildRED("flowlens", mustParse(t, `{"queryType":"red","order_by":"duration"}`), testRange, 60); err == nil || !strings.Contains(err.Error(), "order_by applies to sql_log") {
		t.Errorf("red with order_by: %v", err)
	}
}

// Hostile values end up inside literals (escaped) or are rejected; they never reach the SQL raw.
func TestHostileInput(t *testing.T) {
	hostile := []string{
		`'; DROP TABLE flowlens.app_metrics; --`,
		`\'; DROP TABLE x; --`,
		`a\`,
		"x' OR 1=1 OR '",
		"名前' UNION SELECT * FROM system.users --",
		"\x00\n'",
	}
	for _, h := range hostile {
		for _, field := range []string{"service", "client_service", "l7_protocol", "endpoint"} {
			m := &Model{}
			v := Values{h}
			switch field {
			case "service":
				m.Service = v
			case "client_service":
				m.ClientService = v
			case "l7_protocol":
				m.L7Protocol = v
			case "endpoint":
				m.Endpoint = v
			}
			for name, build := range builders() {
				st, err := build(m)
				if err != nil {
					t.Fatalf("%s %s: %v", name, field, err)
				}
				if !strings.Contains(st.SQL, Quote(h)) {
					t.Errorf("%s %s: escaped literal missing", name, field)
				}
				// Outside literals, the SQL must be identical to the one built from a benign value.
				benign := *m
				for _, p := range []*Values{&benign.Service, &benign.ClientService, &benign.L7Protocol, &benign.Endpoint} {
					if len(*p) > 0 {
						*p = Values{"x"}
					}
				}
				if stripLiterals(st.SQL) != stripLiterals(mustBuild(t, build, &benign).SQL) {
					t.Errorf("%s %s: hostile text changed the SQL structure:\n%s", name, field, st.SQL)
				}
				if strings.Contains(stripLiterals(st.SQL), "DROP") || strings.Contains(stripLiterals(st.SQL), "UNION") || strings.Contains(stripLiterals(st.SQL), "1=1") {
					t.Errorf("%s %s: hostile keyword outside literals:\n%s", name, field, st.SQL)
				}
			}
		}
	}
	rejects := []*Model{
		{Service: Values{strings.Repeat("x", MaxValueLen+1)}},
		{Endpoint: Values{"\xff\xfe"}},
		{ObservationPoint: "server_process' OR '1'='1"},
		{Service: make(Values, MaxValues+1)},
	}
	for i, m := range rejects {
		for name, build := range builders() {
			if _, err := build(m); err == nil {
				t.Errorf("case %d %s: accepted", i, name)
			}
		}
	}
	if _, err := BuildLog("flowlens", &Model{Status: Values{"ok' OR 1=1"}}, testRange); err == nil {
		t.Error("unknown status accepted")
	}
	if _, err := BuildRED("flowlens", &Model{Metric: "x'"}, testRange, 1); err == nil {
		t.Error("unknown metric accepted")
	}
	if _, err := BuildRED("flowlens`; DROP", &Model{}, testRange, 1); err == nil {
		t.Error("hostile database accepted")
	}
	if _, err := BuildMap("flowlens", &Model{}, Range{From: testRange.To, To: testRange.From}); err == nil {
		t.Error("reversed range accepted")
	}
}

func mustBuild(t *testing.T, build func(*Model) (*Statement, error), m *Model) *Statement {
	st, err := build(m)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// stripLiterals removes every '...' literal, honouring backslash escapes, and the IN clauses
// they sat in, leaving the SQL structure.
func stripLiterals(sql string) string {
	var b strings.Builder
	for i := 0; i < len(sql); i++ {
		if sql[i] != '\'' {
			b.WriteByte(sql[i])
			continue
		}
		for i++; i < len(sql) && sql[i] != '\''; i++ {
			if sql[i] == '\\' {
				i++
			}
		}
		b.WriteString("''")
	}
	return b.String()
}

func builders() map[string]func(*Model) (*Statement, error) {
	return map[string]func(*Model) (*Statement, error){
		"red":          func(m *Model) (*Statement, error) { return BuildRED("flowlens", m, testRange, 10) },
		"map":          func(m *Model) (*Statement, error) { return BuildMap("flowlens", m, testRange) },
		"log":          func(m *Model) (*Statement, error) { return BuildLog("flowlens", m, testRange) },
		"trace_search": func(m *Model) (*Statement, error) { return BuildTraceMatches("flowlens", m, testRange) },
	}
}

func TestBucket(t *testing.T) {
	if b := Bucket(0, testRange); b != 1 {
		t.Errorf("zero interval -> %d", b)
	}
	if b := Bucket(1500*time.Millisecond, testRange); b != 2 {
		t.Errorf("1.5s -> %d", b)
	}
	week := Range{From: time.Unix(0, 0), To: time.Unix(7*86400, 0)}
	if b := Bucket(time.Second, week); (7*86400+1)/b > MaxPoints {
		t.Errorf("week at 1s -> %d buckets", (7*86400+1)/b)
	}
}

// Every column the queries name exists in schema.json, in the table they read.
func TestColumnsExistInSchema(t *testing.T) {
	full := &Model{Service: Values{"a"}, ClientService: Values{"b"}, L7Protocol: Values{"HTTP"}, Endpoint: Values{"/"}}
	s := schema.Get()
	for name, build := range builders() {
		for _, obs := range []string{"", "all", "server_process"} {
			if name == "trace_search" && obs == "all" {
				continue // refused: one point only
			}
			m := *full
			m.ObservationPoint = obs
			if name == "log" || name == "trace_search" {
				m.Status, m.RequestType, m.ResponseCode, m.Search, m.TraceID, m.RequestID = Values{"ok"}, Values{"GET"}, Values{"200"}, "x", "t", "r"
				m.MinDurationMs, m.MaxDurationMs = 1, 2
			}
			st, err := build(&m)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range st.Columns {
				if !s.HasColumn(st.Table, c) {
					t.Errorf("%s query reads %s.%s, which schema.json lacks", name, st.Table, c)
				}
			}
		}
	}
	// The preference order covers exactly the schema's observation points.
	if len(PreferredObservationOrder) != len(s.ObservationPoints) {
		t.Errorf("PreferredObservationOrder %v vs schema %v", PreferredObservationOrder, s.ObservationPoints)
	}
	for _, p := range PreferredObservationOrder {
		if !s.IsObservationPoint(p) {
			t.Errorf("%s is not a schema observation point", p)
		}
	}
}

func TestCountSaturatesAndRejectsNonNumbers(t *testing.T) {
	for in, want := range map[string]Count{`10`: 10, `"10"`: 10, `1e30`: math.MaxInt64, `-1e30`: math.MinInt64, `1.9`: 1, `null`: 0, `""`: 0, `"Infinity"`: math.MaxInt64} {
		var c Count
		if err := json.Unmarshal([]byte(in), &c); err != nil || c != want {
			t.Errorf("%s: %d, %v", in, c, err)
		}
	}
	for _, in := range []string{`"NaN"`, `"x"`, `[]`, `{}`, `true`} {
		var c Count
		if err := json.Unmarshal([]byte(in), &c); err == nil {
			t.Errorf("%s accepted as %d", in, c)
		}
	}
}

func TestREDLimitIsBucketsTimesSeries(t *testing.T) {
	r := Range{From: time.Unix(1700000000, 0), To: time.Unix(1700003599, 0)}
	st, err := BuildRED("flowlens", &Model{MaxSeries: 7}, r, 60)
	if err != nil || BucketCount(r, 60) != 61 || st.Limit != 61*7 || !strings.HasSuffix(st.SQL, fmt.Sprintf("\nLIMIT %d", 61*7+1)) {
		t.Fatalf("limit %d, err %v, SQL ends %q", st.Limit, err, st.SQL[len(st.SQL)-20:])
	}
	st, _ = BuildRED("flowlens", &Model{ObservationPoint: "all"}, r, 60)
	if st.MaxSeries != DefaultMaxSeries || !strings.HasSuffix(st.SQL, fmt.Sprintf("\nLIMIT %d", 61*DefaultMaxSeries+1)) {
		t.Errorf("default series bound: %d %q", st.MaxSeries, st.SQL[len(st.SQL)-20:])
	}
	if err := CheckSpan(TypeSQLLog, Range{From: r.To, To: r.From}, time.Hour); err == nil || !strings.Contains(err.Error(), "ends") {
		t.Errorf("reversed range: %v", err)
	}
}

// The request filters' values are literals or numbers: hostile text cannot change the SQL.
func TestHostileRequestFilters(t *testing.T) {
	for _, h := range []string{`'; DROP TABLE x; --`, `\'; DROP TABLE x; --`, `a\`, "x' OR 1=1 OR '", "\x00\n'"} {
		for _, build := range []func(*Model) (*Statement, error){
			func(m *Model) (*Statement, error) { return BuildLog("flowlens", m, testRange) },
			func(m *Model) (*Statement, error) { return BuildTraceMatches("flowlens", m, testRange) },
		} {
			st := mustBuild(t, build, &Model{Search: h, TraceID: h, RequestID: h, RequestType: Values{h}})
			benign := mustBuild(t, build, &Model{Search: "x", TraceID: "x", RequestID: "x", RequestType: Values{"x"}})
			if stripLiterals(st.SQL) != stripLiterals(benign.SQL) || !strings.Contains(st.SQL, "positionCaseInsensitiveUTF8(request_resource, "+Quote(h)+")") {
				t.Errorf("hostile %q changed the SQL:\n%s", h, st.SQL)
			}
		}
	}
	for _, m := range []string{`{"response_code":"200 OR 1"}`, `{"min_duration_ms":"1; DROP"}`, `{"max_duration_ms":"NaN"}`, `{"min_duration_ms":-1}`} {
		parsed, err := Parse([]byte(m))
		if err == nil {
			_, err = BuildLog("flowlens", parsed, testRange)
		}
		if err == nil {
			t.Errorf("%s accepted", m)
		}
	}
	st := mustBuild(t, func(m *Model) (*Statement, error) { return BuildLog("flowlens", m, testRange) },
		&Model{ResponseCode: Values{" 503", "-1"}, MinDurationMs: 1.5, MaxDurationMs: 1e30})
	if !strings.Contains(st.SQL, "response_code IN (503, -1)") || !strings.Contains(st.SQL, "response_duration_us >= 1500") ||
		!strings.Contains(st.SQL, "response_duration_us <= 9223372036854775807") {
		t.Errorf("numbers: %s", st.SQL)
	}
	ts := mustBuild(t, func(m *Model) (*Statement, error) { return BuildTraceMatches("flowlens", m, testRange) }, &Model{Limit: 5000})
	if l, req := TraceSearchLimit(&Model{Limit: 5000}); ts.Limit != MaxTraceSearchLimit*TraceSearchRowFactor || l != MaxTraceSearchLimit || req != 5000 ||
		!strings.HasSuffix(ts.SQL, "LIMIT 10000") || !strings.Contains(ts.SQL, "observation_point = 'server_process'") {
		t.Errorf("trace search bounds: limit %d (%d, requested %d)\n%s", ts.Limit, l, req, ts.SQL)
	}
	if _, err := BuildTraceMatches("flowlens", &Model{ObservationPoint: ObsAll}, testRange); err == nil {
		t.Errorf("trace search at all observation points accepted")
	}
	// The walk's statements: every host quoted, pids and times numbers, bounded, one side or the other.
	probes := []TraceProbe{{ID: 1, Host: "b'; DROP", PID: 7, StartUs: 1_700_000_000_123_456, EndUs: 1_700_000_000_200_000},
		{ID: 2, Host: "a", PID: 4294967295, StartUs: 1_700_000_005_000_000, EndUs: 1_700_000_006_000_000}}
	calls, err := BuildTraceCalls("flowlens", CallsServed, probes, 10_000_000)
	if err != nil || !strings.Contains(calls.SQL, "(host, server_pid) IN (('a', 4294967295), ('b\\'; DROP', 7))") ||
		!strings.Contains(calls.SQL, "(time >= toDateTime(1699999990) AND time <= toDateTime(1700000005))") ||
		!strings.Contains(calls.SQL, "['b\\'; DROP', 'a'] AS hosts") || !strings.Contains(calls.SQL, "range(11)") ||
		!strings.Contains(calls.SQL, "start_time_us >= p_start - 10000000 AND end_time_us >= p_end") || !strings.HasSuffix(calls.SQL, "LIMIT 100001") {
		t.Errorf("trace calls: %v\n%s", err, calls.SQL)
	}
	made, err := BuildTraceCalls("flowlens", CallsMade, probes[:1], 0)
	if err != nil || !strings.Contains(made.SQL, "(host, client_pid) IN (('b\\'; DROP', 7))") ||
		!strings.Contains(made.SQL, "(time >= toDateTime(1700000000) AND time <= toDateTime(1700000000))") ||
		!strings.Contains(made.SQL, "WHERE start_time_us >= p_start AND end_time_us <= p_end") {
		t.Errorf("trace calls made: %v\n%s", err, made.SQL)
	}
	for _, bad := range []func() (*Statement, error){
		func() (*Statement, error) { return BuildTraceCalls("flowlens", "time", probes, 0) },
		func() (*Statement, error) { return BuildTraceCalls("flowlens", CallsMade, nil, 0) },
		func() (*Statement, error) {
			return BuildTraceCalls("flowlens", CallsMade, []TraceProbe{{ID: 1, Host: "a", PID: 1, StartUs: 5, EndUs: 1}}, 0)
		},
		func() (*Statement, error) { return BuildTraceCalls("flowlens", CallsServed, probes, -1) },
	} {
		if _, err := bad(); err == nil {
			t.Errorf("a bad trace-calls round was built")
		}
	}
}

// A trace search reads the last minute, then the last 15 minutes, then the range, and stops at
// the first full page (of matching requests); an id search reads the range at once; a short range is read once.
func TestSearchTracesWindows(t *testing.T) {
	to := time.Unix(1_700_000_000, 0)
	r := Range{From: to.Add(-6 * time.Hour), To: to}
	windows := func(m *Model, r Range, pages ...int) []int64 {
		var froms []int64
		st, err := SearchTraces("flowlens", m, r, func(st *Statement) (int, error) {
			i := len(froms)
			froms = append(froms, to.Unix()-mustFrom(t, st.SQL))
			return pages[i], nil
		})
		if err != nil || !strings.Contains(st.SQL, fmt.Sprintf("toDateTime(%d)", to.Unix()-froms[len(froms)-1])) {
			t.Fatalf("%v: last statement %v", err, st)
		}
		return froms
	}
	check := func(got []int64, want ...int64) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("windows (seconds back) %v, want %v", got, want)
		}
	}
	// a page is the matching requests of limit traces: limit × TraceSearchRowFactor rows
	check(windows(&Model{}, r, 1000), 60)
	check(windows(&Model{}, r, 999, 1000), 60, 900)
	check(windows(&Model{Limit: 5}, r, 49, 49, 49), 60, 900, 6*3600)
	check(windows(&Model{RequestID: "rid"}, r, 1), 6*3600)
	check(windows(&Model{}, Range{From: to.Add(-10 * time.Minute), To: to}, 0, 0), 60, 600)
	check(windows(&Model{}, Range{From: to.Add(-30 * time.Second), To: to}, 0), 30)
}

func mustFrom(t *testing.T, sql string) int64 {
	var from int64
	i := strings.Index(sql, "time >= toDateTime(")
	if i < 0 {
		t.Fatalf("no time filter in %s", sql)
	}
	fmt.Sscanf(sql[i+len("time >= toDateTime("):], "%d", &from)
	return from
}
