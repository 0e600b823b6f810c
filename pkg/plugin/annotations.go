package plugin

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/flowlens/flowlens/pkg/converters"
	"github.com/flowlens/flowlens/pkg/query"
)

// annotationEvent is one FlowLens event as a Grafana annotation.
type annotationEvent struct {
	start, end time.Time
	text       string
	tags       []string
}

// annotations answers the annotations query type: one frame with the fields Grafana reads an
// annotation from (time, timeEnd, text, tags: comma-separated), oldest first.
func (d *Datasource) annotations(ctx context.Context, m *query.Model, r query.Range, interval time.Duration) (data.Frames, error) {
	if err := query.CheckAnnotation(m); err != nil {
		return nil, badQuery{err}
	}
	var events []annotationEvent
	var sql string
	var err error
	cut := false
	switch m.Annotation {
	case query.AnnotationErrorSpike:
		events, sql, err = d.errorSpikes(ctx, m, r, interval)
	case query.AnnotationNewService:
		events, sql, err = d.newServices(ctx, m, r)
	case query.AnnotationAgentRestart, query.AnnotationAgentStop:
		events, sql, cut, err = d.agentEvents(ctx, m, r)
	}
	if err != nil {
		return nil, err
	}
	f := annotationFrame(events, sql)
	if cut {
		f.AppendNotices(data.Notice{Severity: data.NoticeSeverityWarning,
			Text: fmt.Sprintf("the first %d agent events of the range were read: later ones are left out; narrow the time range or the hosts", query.MaxAgentEventRows)})
	}
	return data.Frames{f}, nil
}

func annotationFrame(events []annotationEvent, sql string) *data.Frame {
	sort.SliceStable(events, func(i, j int) bool { return events[i].start.Before(events[j].start) })
	n := len(events)
	times, ends, texts, tags := make([]time.Time, n), make([]time.Time, n), make([]string, n), make([]string, n)
	for i, e := range events {
		times[i], ends[i], texts[i], tags[i] = e.start, e.end, e.text, strings.Join(e.tags, ",")
	}
	f := data.NewFrame("annotations",
		data.NewField("time", nil, times), data.NewField("timeEnd", nil, ends),
		data.NewField("text", nil, texts), data.NewField("tags", nil, tags))
	f.Meta = &data.FrameMeta{ExecutedQueryString: sql}
	return f
}

// errorSpikes finds, per server service, the buckets of the RED rows (the RED query's own rows)
// with at least MinRequests requests and an error ratio above Threshold; consecutive ones are one
// region, its text the worst bucket's ratio and the region's totals.
func (d *Datasource) errorSpikes(ctx context.Context, m *query.Model, r query.Range, interval time.Duration) ([]annotationEvent, string, error) {
	bucket := query.SpikeBucket(interval, r)
	m.MaxSeries = d.settings.MaxSeries
	st, err := query.BuildErrorSpikeRows(d.settings.Database, m, r, bucket)
	if err != nil {
		return nil, "", badQuery{err}
	}
	res, err := d.client.Query(ctx, st.SQL)
	if err != nil {
		return nil, "", err
	}
	if err := checkSeries(res, st, 1); err != nil {
		return nil, "", err
	}
	type spike struct {
		t      int64
		b      redBucket
		server string
	}
	var spikes []spike
	for i, row := range res.Data {
		t, b, err := redRow(row, 1, false)
		if err != nil {
			return nil, "", fmt.Errorf("error spike row %d: %w", i, err)
		}
		if b.requests >= int64(m.MinRequests) && float64(b.errors) > float64(m.Threshold)*float64(b.requests) {
			spikes = append(spikes, spike{t, b, converters.String(row[1])})
		}
	}
	sort.Slice(spikes, func(i, j int) bool {
		return spikes[i].server < spikes[j].server || (spikes[i].server == spikes[j].server && spikes[i].t < spikes[j].t)
	})
	var events []annotationEvent
	for i := 0; i < len(spikes); {
		j, requests, errs, worst := i, int64(0), int64(0), 0.0
		for ; j < len(spikes) && spikes[j].server == spikes[i].server && spikes[j].t == spikes[i].t+int64(j-i)*bucket; j++ {
			requests += spikes[j].b.requests
			errs += spikes[j].b.errors
			worst = max(worst, float64(spikes[j].b.errors)/float64(spikes[j].b.requests))
		}
		service := spikes[i].server
		if service == "" {
			service = unknownService
		}
		start, end := time.Unix(spikes[i].t, 0).UTC(), time.Unix(spikes[j-1].t+bucket, 0).UTC()
		events = append(events, annotationEvent{
			start: start, end: end,
			text: fmt.Sprintf("%s: error ratio up to %.1f%% (%d of %d requests failed over %s; threshold %.1f%%)",
				service, worst*100, errs, requests, end.Sub(start), float64(m.Threshold)*100),
			tags: []string{"flowlens", query.AnnotationErrorSpike, "service=" + service},
		})
		i = j
	}
	return events, st.SQL, nil
}

// newServices lists the services first seen in the range, each a point annotation.
func (d *Datasource) newServices(ctx context.Context, m *query.Model, r query.Range) ([]annotationEvent, string, error) {
	st, err := query.BuildNewServices(d.settings.Database, m, r)
	if err != nil {
		return nil, "", badQuery{err}
	}
	res, err := d.client.Query(ctx, st.SQL)
	if err != nil {
		return nil, "", err
	}
	events := make([]annotationEvent, 0, len(res.Data))
	for i, row := range res.Data {
		if len(row) < 2 {
			return nil, "", fmt.Errorf("new service row %d has %d columns, want 2", i, len(row))
		}
		s, err := converters.Int64(row[1])
		if err != nil {
			return nil, "", fmt.Errorf("new service row %d: %w", i, err)
		}
		service, at := converters.String(row[0]), time.Unix(s, 0).UTC()
		events = append(events, annotationEvent{
			start: at, end: at,
			text: fmt.Sprintf("%s: new service, first seen (not in the %d days before)", service, int(query.NewServiceLookback.Hours()/24)),
			tags: []string{"flowlens", query.AnnotationNewService, "service=" + service},
		})
	}
	return events, st.SQL, nil
}

// agentRow is one agent_events row (query.AgentEventColumns).
type agentRow struct {
	host, event, version, kernel, reason string
	at, runStart                         time.Time
	pid                                  int64
}

func parseAgentRow(row []interface{}) (agentRow, error) {
	if len(row) < len(query.AgentEventColumns) {
		return agentRow{}, fmt.Errorf("%d columns, want %d", len(row), len(query.AgentEventColumns))
	}
	var nums [3]int64
	for i, col := range []int{2, 3, 4} {
		n, err := converters.Int64(row[col])
		if err != nil {
			return agentRow{}, fmt.Errorf("%s: %w", query.AgentEventColumns[col], err)
		}
		nums[i] = n
	}
	return agentRow{
		host: converters.String(row[0]), event: converters.String(row[1]),
		at: time.UnixMicro(nums[0]).UTC(), runStart: time.UnixMicro(nums[1]).UTC(), pid: nums[2],
		version: converters.String(row[5]), kernel: converters.String(row[6]), reason: converters.String(row[7]),
	}, nil
}

// agentEvents makes the agent_restart annotations (each start in the range, saying how the host's
// run before it ended: a stop row of that run is a clean stop, none a crash or kill) or the
// agent_stop ones (each clean stop in the range, with why and how long the run lasted).
// cut says the rows reached the query's bound (MaxAgentEventRows): later events are missing.
func (d *Datasource) agentEvents(ctx context.Context, m *query.Model, r query.Range) (events []annotationEvent, sql string, cut bool, err error) {
	st, err := query.BuildAgentEvents(d.settings.Database, m, r)
	if err != nil {
		return nil, "", false, badQuery{err}
	}
	res, err := d.client.Query(ctx, st.SQL)
	if err != nil {
		return nil, "", false, err
	}
	type run struct{ host, start string }
	lastStart := map[string]agentRow{} // host -> its latest start so far
	stops := map[run]agentRow{}
	for i, raw := range res.Data {
		row, err := parseAgentRow(raw)
		if err != nil {
			return nil, "", false, fmt.Errorf("agent event row %d: %w", i, err)
		}
		inRange := !row.at.Before(r.From.Truncate(time.Second))
		switch row.event {
		case "stop":
			stops[run{row.host, row.runStart.String()}] = row
			if inRange && m.Annotation == query.AnnotationAgentStop {
				events = append(events, annotationEvent{
					start: row.at, end: row.at,
					text: fmt.Sprintf("%s: agent %s stopped cleanly (%s) after %s (pid %d)",
						row.host, row.version, row.reason, runLength(row.at.Sub(row.runStart)), row.pid),
					tags: []string{"flowlens", query.AnnotationAgentStop, "host=" + row.host},
				})
			}
		case "start":
			prev, seen := lastStart[row.host]
			lastStart[row.host] = row
			if !inRange || m.Annotation != query.AnnotationAgentRestart {
				continue
			}
			text := fmt.Sprintf("%s: agent %s started (pid %d, kernel %s); ", row.host, row.version, row.pid, row.kernel)
			previous := "none"
			if !seen {
				text += fmt.Sprintf("no earlier run recorded in the %d days before", int(query.AgentRunLookback.Hours()/24))
			} else {
				was := fmt.Sprintf("the previous run (%s, pid %d, started %s)", prev.version, prev.pid, prev.runStart.Format("2006-01-02 15:04:05 MST"))
				if stop, ok := stops[run{prev.host, prev.runStart.String()}]; ok {
					previous = "clean"
					text += fmt.Sprintf("%s stopped cleanly (%s) after %s", was, stop.reason, runLength(stop.at.Sub(prev.runStart)))
				} else {
					previous = "unclean"
					text += was + " did not stop cleanly: no stop was recorded (crashed or killed)"
				}
			}
			events = append(events, annotationEvent{
				start: row.at, end: row.at, text: text,
				tags: []string{"flowlens", query.AnnotationAgentRestart, "host=" + row.host, "previous=" + previous},
			})
		}
	}
	return events, st.SQL, len(res.Data) >= st.Limit, nil
}

// runLength is how long a run lasted, to the second (to the millisecond under one).
func runLength(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Second)
}
