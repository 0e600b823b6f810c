package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/flowlens/flowlens/pkg/clickhouse"
	"github.com/flowlens/flowlens/pkg/converters"
	"github.com/flowlens/flowlens/pkg/query"
)

// logHints turn the request log's raw columns into Grafana-friendly fields.
var logHints = map[string]converters.Hint{
	"time_unix":     {Name: "time", Kind: converters.UnixSeconds},
	"start_time_us": {Name: "start_time", Kind: converters.UnixMicros},
	"_id":           {Kind: converters.Text}, // 64-bit ids would lose digits in JavaScript numbers
}

func (d *Datasource) requestLog(ctx context.Context, m *query.Model, r query.Range) (data.Frames, error) {
	res, st, err := d.newest(ctx, query.SearchLog, m, r)
	if err != nil {
		return nil, err
	}
	f, err := converters.Frame("requests", res, logHints)
	if err != nil {
		return nil, err
	}
	if m.Format == query.FormatLogs {
		if f, err = logLines(f); err != nil {
			return nil, err
		}
		f.Meta = &data.FrameMeta{Type: data.FrameTypeLogLines, TypeVersion: data.FrameTypeVersion{0, 0},
			PreferredVisualization: data.VisTypeLogs, ExecutedQueryString: st.SQL}
	} else {
		f.Fields = append(f.Fields, startMicrosField(f))
		f.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeTable, ExecutedQueryString: st.SQL}
	}
	for _, fld := range f.Fields {
		switch fld.Name {
		case "response_duration_us":
			fld.Config = &data.FieldConfig{Unit: "µs"}
		case "request_length", "response_length":
			fld.Config = &data.FieldConfig{Unit: "decbytes"}
		}
	}
	d.traceLinks(f)
	if m.Format != query.FormatLogs {
		d.flameLinks(f)
	}
	if st.RequestedLimit > 0 {
		f.Meta.Notices = append(f.Meta.Notices, data.Notice{
			Severity: data.NoticeSeverityWarning,
			Text:     fmt.Sprintf("limit %d is above the maximum %d: at most %d requests are shown", st.RequestedLimit, query.MaxLogLimit, query.MaxLogLimit),
		})
	}
	which := "newest"
	if m.OrderBy == query.OrderByDuration {
		which = "slowest"
	}
	if n, _ := f.RowLen(); n >= st.Limit {
		f.Meta.Notices = append(f.Meta.Notices, data.Notice{
			Severity: data.NoticeSeverityWarning,
			Text:     fmt.Sprintf("showing the %s %d requests only (limit %d, at most %d): narrow the time range or filters", which, n, st.Limit, query.MaxLogLimit),
		})
	}
	return data.Frames{f}, nil
}

// startMicrosField is the rows' start_time_us as text: the trace link passes it as the row's
// time (a string field's display text is its value, whatever the panel's number formatting).
func startMicrosField(f *data.Frame) *data.Field {
	start := fieldByName(f, "start_time")
	out := make([]string, f.Rows())
	for i := range out {
		out[i] = strconv.FormatInt(start.At(i).(time.Time).UnixMicro(), 10)
	}
	return data.NewField("start_time_us", nil, out)
}

func fieldByName(f *data.Frame, name string) *data.Field {
	for _, fld := range f.Fields {
		if fld.Name == name {
			return fld
		}
	}
	return nil
}

// logLabels are the request-log columns a log line carries as labels (Explore filters on them),
// label name → column.
var logLabels = [][2]string{
	{"service", "server_service"}, {"client_service", "client_service"}, {"l7_protocol", "l7_protocol"},
	{"request_type", "request_type"}, {"endpoint", "endpoint"}, {"response_status", "response_status"},
	{"response_code", "response_code"}, {"observation_point", "observation_point"}, {"host", "host"},
}

// Severity is the log level of a response status (Grafana's level names).
func Severity(status string) string {
	switch status {
	case "ok":
		return "info"
	case "client_error":
		return "warning"
	case "server_error", "timeout":
		return "error"
	}
	return "unknown"
}

// LogBody is the log line of one request: what was asked, what came back, how long it took,
// between whom and where it was seen.
func LogBody(proto, reqType, resource string, code int64, status string, durationUs int64, client, server, obs string) string {
	var b strings.Builder
	b.WriteString(proto)
	for _, s := range []string{reqType, resource} {
		if s != "" {
			b.WriteByte(' ')
			b.WriteString(s)
		}
	}
	fmt.Fprintf(&b, " -> %d %s in %s ms", code, status, strconv.FormatFloat(float64(durationUs)/1000, 'f', -1, 64))
	fmt.Fprintf(&b, " (%s -> %s at %s)", firstNonEmpty(client, "?"), firstNonEmpty(server, "?"), obs)
	return b.String()
}

func firstNonEmpty(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// logLines turns the request-log table into Grafana's log-lines frame (data plane contract
// "log-lines" 0.0): timestamp (the request's start, µs), body, severity (from response_status),
// id (_id), labels (JSON of the filterable columns), then the columns a log line's details show
// and the trace links hang on.
func logLines(t *data.Frame) (*data.Frame, error) {
	cols := map[string]*data.Field{}
	for _, fld := range t.Fields {
		cols[fld.Name] = fld
	}
	str := func(name string, i int) string {
		if v, ok := cols[name].At(i).(string); ok {
			return v
		}
		return ""
	}
	num := func(name string, i int) int64 {
		if v, ok := cols[name].At(i).(int64); ok {
			return v
		}
		return 0
	}
	n := t.Rows()
	ts, body, sev, id, labels := make([]time.Time, n), make([]string, n), make([]string, n), make([]string, n), make([]json.RawMessage, n)
	for i := 0; i < n; i++ {
		ts[i] = cols["start_time"].At(i).(time.Time)
		status := str("response_status", i)
		body[i] = LogBody(str("l7_protocol", i), str("request_type", i), str("request_resource", i), num("response_code", i), status,
			num("response_duration_us", i), str("client_service", i), str("server_service", i), str("observation_point", i))
		sev[i], id[i] = Severity(status), str("_id", i)
		lb := make(map[string]string, len(logLabels))
		for _, l := range logLabels {
			if l[1] == "response_code" {
				lb[l[0]] = strconv.FormatInt(num(l[1], i), 10)
			} else if v := str(l[1], i); v != "" {
				lb[l[0]] = v
			}
		}
		raw, err := json.Marshal(lb)
		if err != nil {
			return nil, err
		}
		labels[i] = raw
	}
	f := newLogLines(t.Name, ts, body, sev, id, labels)
	for _, name := range []string{"response_duration_us", "request_resource", "request_domain", "response_exception", "client_process",
		"server_process", "client_ip", "client_port", "server_ip", "server_port", "request_length", "response_length",
		"trace_id", "span_id", "parent_span_id", "x_request_id", "_id"} {
		f.Fields = append(f.Fields, cols[name])
	}
	f.Fields = append(f.Fields, startMicrosField(t))
	return f, nil
}

// newLogLines is the head of a data-plane log-lines frame: timestamp, body, severity, id, labels
// (JSON of string labels), the fields Explore and the logs panel read first.
func newLogLines(name string, ts []time.Time, body, severity, id []string, labels []json.RawMessage) *data.Frame {
	return data.NewFrame(name,
		data.NewField("timestamp", nil, ts),
		data.NewField("body", nil, body),
		data.NewField("severity", nil, severity),
		data.NewField("id", nil, id),
		data.NewField("labels", nil, labels),
	)
}

// traceLinks puts on the _id, trace_id and x_request_id fields a data link that opens the row's
// trace with this datasource (Explore, or a dashboard's table and logs panels). The row id link
// passes the row's start time too, so the trace's seed is looked up in that second only.
func (d *Datasource) traceLinks(f *data.Frame) {
	links := map[string]map[string]any{
		"_id":          {"row_id": "${__value.raw}", "time": "${__data.fields.start_time_us}"},
		"trace_id":     {"trace_id": "${__value.raw}"},
		"x_request_id": {"request_id": "${__value.raw}"},
	}
	titles := map[string]string{"_id": "Trace of this request", "trace_id": "Trace of this trace_id", "x_request_id": "Trace of this X-Request-ID"}
	for _, fld := range f.Fields {
		q, ok := links[fld.Name]
		if !ok {
			continue
		}
		q["queryType"] = query.TypeTrace
		addLinks(fld, d.internalLink(titles[fld.Name], q))
	}
}

// flameLinks: from a request's duration to the flame graphs of the thread that served it (server_pid,
// syscall_thread_response) over the request's own seconds, on-CPU (what it computed) and off-CPU (where it
// waited), each in Explore, and both side by side on the Profiling page.
func (d *Datasource) flameLinks(f *data.Frame) {
	dur := fieldByName(f, "response_duration_us")
	if dur == nil || fieldByName(f, "server_pid") == nil || fieldByName(f, "syscall_thread_response") == nil {
		return
	}
	for _, ev := range []struct{ event, title string }{
		{query.EventOnCPU, "On-CPU flame graph of the serving thread over this request"},
		{query.EventOffCPU, "Off-CPU flame graph of the serving thread over this request"},
	} {
		addLinks(dur, d.internalLink(ev.title, map[string]any{
			"queryType": query.TypeFlameGraph, "event": ev.event,
			"pid": "${__data.fields.server_pid}", "tid": "${__data.fields.syscall_thread_response}",
			"span_start_us": "${__data.fields.start_time_us}", "span_duration_us": "${__value.raw}",
		}))
	}
	// both at once: the app's Profiling page shows them side by side over the request (it reads the span's
	// seconds as query.SpanWindow does)
	addLinks(dur, data.DataLink{
		Title: ThreadActivityTitle,
		URL: ProfilingPage + "?pid=${__data.fields.server_pid}&tid=${__data.fields.syscall_thread_response}" +
			"&span_start_us=${__data.fields.start_time_us}&span_duration_us=${__value.raw}",
	})
}

// The app's pages links open (src/components/constants.ts pageUrl(ROUTES.*)).
const (
	ProfilingPage = "/a/flowlens-observability-app/profiling"
	TriagePage    = "/a/flowlens-observability-app/triage"
)

// ThreadActivityTitle names the link from a request to its thread's on-CPU and off-CPU flame graphs side by side.
const ThreadActivityTitle = "What was this thread doing: on-CPU and off-CPU side by side"

// newest runs a newest-first query (query.SearchLog, query.SearchTraces) and returns the answer
// of the statement it ran last.
func (d *Datasource) newest(ctx context.Context, search func(string, *query.Model, query.Range, func(*query.Statement) (int, error)) (*query.Statement, error),
	m *query.Model, r query.Range) (*clickhouse.Result, *query.Statement, error) {
	var res *clickhouse.Result
	var runErr error
	st, err := search(d.settings.Database, m, r, func(st *query.Statement) (int, error) {
		res, runErr = d.client.Query(ctx, st.SQL)
		if runErr != nil {
			return 0, runErr
		}
		return len(res.Data), nil
	})
	if runErr != nil {
		return nil, nil, runErr
	}
	if err != nil {
		return nil, nil, badQuery{err}
	}
	return res, st, nil
}
