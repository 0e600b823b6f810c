package query

import (
	"fmt"
	"strings"
	"time"
)

// TypeAnnotations: FlowLens events as Grafana annotations (one frame of time, timeEnd, text, tags);
// the event kind is Model.Annotation.
const TypeAnnotations = "annotations"

// Annotation kinds.
const (
	// AnnotationErrorSpike: a service whose error ratio is above Model.Threshold over a bucket with
	// at least Model.MinRequests requests; consecutive buckets make one region.
	AnnotationErrorSpike = "error_spike"
	// AnnotationNewService: a service seen for the first time in the range (not in the
	// NewServiceLookback before it).
	AnnotationNewService = "new_service"
	// AnnotationAgentRestart: an agent started (agent_events), saying whether its host's previous
	// run stopped cleanly; AnnotationAgentStop: an agent stopped cleanly. Both are per host
	// (Model.Host and a host tag filter, tags.host: a dashboard's host variable); service and other
	// tag filters do not narrow them.
	AnnotationAgentRestart = "agent_restart"
	AnnotationAgentStop    = "agent_stop"
)

// AnnotationKinds lists the kinds in the editor's order.
var AnnotationKinds = []string{AnnotationErrorSpike, AnnotationNewService, AnnotationAgentRestart, AnnotationAgentStop}

// Defaults of the error spike.
const (
	DefaultSpikeThreshold   = 0.05
	DefaultSpikeMinRequests = 10
	// MinSpikeBucket is the shortest bucket a spike is judged over: shorter ones make one failing
	// request out of two a "spike".
	MinSpikeBucket = 60
)

// NewServiceLookback is how far before the range a service must be absent to be new in it.
const NewServiceLookback = 7 * 24 * time.Hour

// MaxAnnotations bounds the events one query returns.
const MaxAnnotations = 1000

// AgentRunLookback is how far before the range the previous run of a host is looked for.
const AgentRunLookback = 30 * 24 * time.Hour

// MaxAgentEventRows bounds the agent_events rows one query reads: the range's starts and stops and
// each host's last run before it (its start and, when clean, its stop).
const MaxAgentEventRows = 4 * MaxAnnotations

// CheckAnnotation checks the annotation options of m and fills in their defaults.
func CheckAnnotation(m *Model) error {
	if !containsStr(AnnotationKinds, m.Annotation) {
		return fmt.Errorf("annotation %s is not one of %s", Quote(truncate(m.Annotation, 60)), strings.Join(AnnotationKinds, ", "))
	}
	if m.Threshold < 0 || m.Threshold > 1 {
		return fmt.Errorf("threshold %g is not an error ratio between 0 and 1", float64(m.Threshold))
	}
	if m.Threshold == 0 {
		m.Threshold = DefaultSpikeThreshold
	}
	if m.MinRequests <= 0 {
		m.MinRequests = DefaultSpikeMinRequests
	}
	return nil
}

// SpikeBucket is the bucket an error spike is judged over: the panel's, at least MinSpikeBucket.
func SpikeBucket(interval time.Duration, r Range) int64 {
	return max(Bucket(interval, r), MinSpikeBucket)
}

// BuildErrorSpikeRows renders the per-(bucket, service) RED rows an error spike is found in: the
// RED query itself (the same observation-point choice, filters and tag join), by server service.
func BuildErrorSpikeRows(database string, m *Model, r Range, bucket int64) (*Statement, error) {
	red := *m
	red.QueryType, red.Metric, red.GroupBy = TypeRED, MetricErrorRatio, Values{"service"}
	return BuildRED(database, &red, r, bucket)
}

// BuildNewServices renders the services (either end of a call) whose first row in app_metrics
// since NewServiceLookback before the range falls in the range: rows [service, first_seen (unix s)],
// first seen first. The service and tag filters apply to the service itself.
func BuildNewServices(database string, m *Model, r Range) (*Statement, error) {
	b, err := newBuilder(database, "app_metrics")
	if err != nil {
		return nil, err
	}
	if r.To.Before(r.From) {
		return nil, fmt.Errorf("time range ends (%s) before it starts (%s)", r.To, r.From)
	}
	wide := Range{From: r.From.Add(-NewServiceLookback), To: r.To}
	tf, err := b.timeFilter(wide)
	if err != nil {
		return nil, err
	}
	var outer []string
	if len(m.Service) > 0 {
		s, err := b.inExpr("service", "service", m.Service)
		if err != nil {
			return nil, err
		}
		outer = append(outer, s)
	}
	tags, err := b.tagFilterConds(m.Tags, []RowKey{{Service: "service"}}, r)
	if err != nil {
		return nil, err
	}
	outer = append(outer, tags...)
	where := ""
	if len(outer) > 0 {
		where = "\nWHERE " + strings.Join(outer, "\n  AND ")
	}
	sql := fmt.Sprintf(`SELECT service, toUInt32(min(first_seen)) AS first_seen
FROM (
  SELECT %s AS service, min(%s) AS first_seen FROM %s WHERE %s GROUP BY service
  UNION ALL
  SELECT %s AS service, min(%s) AS first_seen FROM %s WHERE %s GROUP BY service
)%s
GROUP BY service
HAVING service != '' AND first_seen >= toDateTime(%d)
ORDER BY first_seen, service
LIMIT %d`,
		b.c("server_service"), b.c("time"), b.from(), tf,
		b.c("client_service"), b.c("time"), b.from(), tf,
		where, dateTime(r.From), MaxAnnotations)
	st := b.statement(sql)
	st.Limit = MaxAnnotations
	return st, nil
}

// AgentEventColumns are the columns of BuildAgentEvents' rows, in order.
var AgentEventColumns = []string{"host", "event", "time_us", "run_start_us", "agent_pid", "agent_version", "kernel", "reason"}

// BuildAgentEvents renders the agent_events rows the restart and stop annotations are made from,
// oldest first: every start and stop in the range, and for each host with a start before the range
// (within AgentRunLookback) its last run's rows, so the range's first start knows whether the run
// before it stopped cleanly. 18.16 has no window functions: the pairing is the caller's.
func BuildAgentEvents(database string, m *Model, r Range) (*Statement, error) {
	b, err := newBuilder(database, "agent_events")
	if err != nil {
		return nil, err
	}
	if r.To.Before(r.From) {
		return nil, fmt.Errorf("time range ends (%s) before it starts (%s)", r.To, r.From)
	}
	hosts := ""
	// the host option and a host tag filter both name agents' hosts: each that is set must hold
	for _, f := range []struct {
		name string
		vals Values
	}{{"host", m.Host}, {"tags.host", m.Tags["host"]}} {
		if len(f.vals) > 0 {
			h, err := b.in(f.name, "host", f.vals)
			if err != nil {
				return nil, err
			}
			hosts += "\n  AND " + h
		}
	}
	from, to, lookback := dateTime(r.From), dateTime(r.To), dateTime(r.From.Add(-AgentRunLookback))
	cols := make([]string, len(AgentEventColumns))
	for i, c := range AgentEventColumns {
		cols[i] = b.c(c)
	}
	sql := fmt.Sprintf(`SELECT %s
FROM %s
WHERE %s >= toDateTime(%d) AND %s <= toDateTime(%d)%s
  AND (%s >= toDateTime(%d) OR (host, run_start_us) IN (
    SELECT host, max(run_start_us) FROM %s
    WHERE %s = 'start' AND time >= toDateTime(%d) AND time < toDateTime(%d)%s
    GROUP BY host))
ORDER BY time_us, event
LIMIT %d`,
		strings.Join(cols, ", "), b.from(),
		b.c("time"), lookback, b.c("time"), to, hosts,
		b.c("time"), from,
		b.from(), b.c("event"), lookback, from, strings.ReplaceAll(hosts, "\n  ", "\n    "),
		MaxAgentEventRows)
	st := b.statement(sql)
	st.Limit = MaxAgentEventRows
	return st, nil
}
