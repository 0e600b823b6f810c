package query

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Profile events (profile_samples.event).
const (
	EventOnCPU  = "on_cpu"
	EventOffCPU = "off_cpu"
)

// MaxFlameStacks bounds the distinct stacks one flame graph query reads (the largest first).
const MaxFlameStacks = 20000

// DefaultFlameNodes and MaxFlameNodes bound the nodes of the returned flame graph; smaller
// subtrees are folded into their parent's self value.
const (
	DefaultFlameNodes = 16384
	MaxFlameNodes     = 200000
)

// IDs is a list of process or thread ids given as a number, a string, or an array of either
// (multi-value template variables arrive as strings).
type IDs []uint32

// UnmarshalJSON accepts 12, "12", [12, "13"] or null; an empty string means no filter.
func (ids *IDs) UnmarshalJSON(b []byte) error {
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		raw = []json.RawMessage{b}
	}
	out := IDs{}
	for _, r := range raw {
		var n json.Number
		var s string
		switch {
		case strings.TrimSpace(string(r)) == "null":
			continue
		case json.Unmarshal(r, &n) == nil:
			s = n.String()
		case json.Unmarshal(r, &s) == nil:
			s = strings.TrimSpace(s)
			if s == "" {
				continue
			}
		default:
			return fmt.Errorf("expected an id or a list of ids, got %s", truncate(string(r), 60))
		}
		v, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return fmt.Errorf("%s is not a process or thread id", Quote(truncate(s, 60)))
		}
		out = append(out, uint32(v))
	}
	*ids = out
	return nil
}

// TimeArg is a time given as milliseconds since the epoch (number or string) or RFC 3339 text.
type TimeArg struct {
	T   time.Time
	Set bool
}

// UnmarshalJSON accepts 1700000000000, "1700000000000", "2023-11-14T22:13:20Z" or null.
func (t *TimeArg) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var n json.Number
	var s string
	if json.Unmarshal(b, &n) == nil {
		s = n.String()
	} else if json.Unmarshal(b, &s) != nil {
		return fmt.Errorf("expected milliseconds since the epoch or an RFC 3339 time")
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		t.T, t.Set = time.UnixMilli(ms), true
		return nil
	}
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return fmt.Errorf("%s is neither milliseconds since the epoch nor an RFC 3339 time", Quote(truncate(s, 60)))
	}
	t.T, t.Set = v, true
	return nil
}

// FlameModel is the query JSON of queryType "flamegraph". With baselineFrom/baselineTo the
// result is a diff flame graph: the baseline range on the left (value, self), the query's own
// time range on the right (valueRight, selfRight).
type FlameModel struct {
	Event   string     `json:"event"`   // on_cpu (default) or off_cpu
	Pid     IDs        `json:"pid"`     // process ids
	Tid     IDs        `json:"tid"`     // thread ids
	Process Values     `json:"process"` // process names
	Service Values     `json:"service"` // service names
	Host    Values     `json:"host"`
	Tags    TagFilters `json:"tags"` // tag -> values the sampled process must have (tags.go)
	// GroupBy is one tag whose value (the process's service without one) is each stack's root frame:
	// one flame graph compares workloads, containers, teams.
	GroupBy      Values  `json:"group_by"`
	BaselineFrom TimeArg `json:"baselineFrom"`
	BaselineTo   TimeArg `json:"baselineTo"`
	MaxNodes     int     `json:"maxNodes"` // default DefaultFlameNodes
	// A span's start (µs since the epoch) and duration (µs): the graph covers the span's whole seconds
	// instead of the panel's range (a request-log row's link carries its own time).
	SpanStartUs    numText `json:"span_start_us"`
	SpanDurationUs numText `json:"span_duration_us"`
	// Window is the span's seconds when span_start_us is given (ParseFlame), else nil.
	Window *Range `json:"-"`
}

// ParseFlame decodes flamegraph query JSON and checks the event and the node bound.
func ParseFlame(raw []byte) (*FlameModel, error) {
	var m FlameModel
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("invalid flamegraph query: %w", err)
	}
	switch m.Event {
	case "":
		m.Event = EventOnCPU
	case EventOnCPU, EventOffCPU:
	default:
		return nil, fmt.Errorf("event %s is not one of %s, %s", Quote(truncate(m.Event, 60)), EventOnCPU, EventOffCPU)
	}
	if m.MaxNodes == 0 {
		m.MaxNodes = DefaultFlameNodes
	}
	if m.MaxNodes < 1 || m.MaxNodes > MaxFlameNodes {
		return nil, fmt.Errorf("maxNodes %d is outside 1..%d", m.MaxNodes, MaxFlameNodes)
	}
	if m.BaselineFrom.Set != m.BaselineTo.Set {
		return nil, fmt.Errorf("a diff needs both baselineFrom and baselineTo")
	}
	if m.SpanStartUs != "" {
		start, err := strconv.ParseInt(string(m.SpanStartUs), 10, 64)
		if err != nil || start <= 0 {
			return nil, fmt.Errorf("span_start_us %s is not microseconds since the epoch", Quote(truncate(string(m.SpanStartUs), 40)))
		}
		var dur int64
		if m.SpanDurationUs != "" {
			if dur, err = strconv.ParseInt(string(m.SpanDurationUs), 10, 64); err != nil || dur < 0 {
				return nil, fmt.Errorf("span_duration_us %s is not a duration in microseconds", Quote(truncate(string(m.SpanDurationUs), 40)))
			}
		}
		m.Window = SpanWindow(start, dur)
	} else if m.SpanDurationUs != "" {
		return nil, fmt.Errorf("span_duration_us needs span_start_us")
	}
	return &m, nil
}

// SpanWindow is the range of profile rows that hold a span's samples (start and duration in µs). The agent
// labels a row with the whole second its one-second drain interval started in, and intervals are not aligned
// to seconds: a sample taken at t is in the row of second floor(t) or floor(t)-1, an off-CPU block in the row
// of the second it ended in or the one before. So the rows of seconds floor(start)-1 to floor(end), both
// included (src/components/profilingLink.ts spanRange is the same rule for the app's links).
func SpanWindow(startUs, durationUs int64) *Range {
	end := startUs + durationUs
	return &Range{From: time.Unix(startUs/1_000_000-1, 0), To: time.Unix(end/1_000_000, 0)}
}

// Baseline is the diff's left range, or nil for a plain flame graph.
func (m *FlameModel) Baseline() *Range {
	if !m.BaselineFrom.Set {
		return nil
	}
	return &Range{From: m.BaselineFrom.T, To: m.BaselineTo.T}
}

func (b *builder) idsIn(field, column string, ids IDs) (string, error) {
	if len(ids) > MaxValues {
		return "", fmt.Errorf("filter %s: %d values, the limit is %d", field, len(ids), MaxValues)
	}
	parts := make([]string, len(ids))
	for i, v := range ids {
		parts[i] = strconv.FormatUint(uint64(v), 10)
	}
	return fmt.Sprintf("%s IN (%s)", b.c(column), strings.Join(parts, ", ")), nil
}

// profileFilters are the conditions of a profile query other than time: the event and the pid, tid,
// process, service and host filters, and the tag filters on the sampled process (r: the dimension's range).
func (b *builder) profileFilters(m *FlameModel, r Range) ([]string, error) {
	conds := []string{fmt.Sprintf("%s = %s", b.c("event"), Quote(m.Event))}
	for _, f := range []struct {
		field string
		ids   IDs
	}{{"pid", m.Pid}, {"tid", m.Tid}} {
		if len(f.ids) > 0 {
			s, err := b.idsIn(f.field, f.field, f.ids)
			if err != nil {
				return nil, err
			}
			conds = append(conds, s)
		}
	}
	for _, f := range []struct {
		field string
		vals  Values
	}{{"process", m.Process}, {"service", m.Service}, {"host", m.Host}} {
		if len(f.vals) > 0 {
			s, err := b.in(f.field, f.field, f.vals)
			if err != nil {
				return nil, err
			}
			conds = append(conds, s)
		}
	}
	tags, err := b.tagFilterConds(m.Tags, []RowKey{b.sampledProcess()}, r)
	return append(conds, tags...), err
}

// sampledProcess is a profile row's process as the tag join keys it: by host and pid at the row's
// time (a reused pid names the process of its time), by service for business tags.
func (b *builder) sampledProcess() RowKey {
	return RowKey{Host: b.c("host"), Pid: b.c("pid"), Time: b.c("time"), Service: b.c("service")}
}

// ProfileValueFields are the profile_samples columns the query editor's pickers list.
var ProfileValueFields = []string{"service", "process", "host", "pid", "tid"}

// MaxProfileValues bounds the values one picker lists (the busiest first).
const MaxProfileValues = 500

// BuildProfileValues lists the values of one column (ProfileValueFields) among the profile rows that
// match the other filters in the range, the busiest first (by summed value), with a process name each:
// rows [value, process, weight].
func BuildProfileValues(database, field string, m *FlameModel, r Range) (*Statement, error) {
	known := false
	for _, f := range ProfileValueFields {
		known = known || f == field
	}
	if !known {
		return nil, fmt.Errorf("field %s is not one of %s", Quote(truncate(field, 40)), strings.Join(ProfileValueFields, ", "))
	}
	b, err := newBuilder(database, "profile_samples")
	if err != nil {
		return nil, err
	}
	tf, err := b.timeFilter(r)
	if err != nil {
		return nil, err
	}
	conds, err := b.profileFilters(m, r)
	if err != nil {
		return nil, err
	}
	sql := fmt.Sprintf(`SELECT
  toString(%s) AS v,
  any(%s) AS process_name,
  sum(%s) AS weight
FROM %s
WHERE %s
GROUP BY v
ORDER BY weight DESC, v
LIMIT %d`, b.c(field), b.c("process"), b.c("value"), b.from(), strings.Join(append([]string{tf}, conds...), "\n  AND "), MaxProfileValues)
	st := b.statement(sql)
	st.Limit = MaxProfileValues
	return st, nil
}

// BuildFlameGraph renders the stacks of profile_samples that match the filters, one row per
// distinct stack: [stack (root first), value] or, for a diff, [stack, left value, right value],
// largest first, at most MaxFlameStacks+1 rows (one more than shown, to tell that some were left out).
func BuildFlameGraph(database string, m *FlameModel, r Range) (*Statement, error) {
	b, err := newBuilder(database, "profile_samples")
	if err != nil {
		return nil, err
	}
	right, err := b.timeFilter(r)
	if err != nil {
		return nil, err
	}
	conds, err := b.profileFilters(m, r)
	if err != nil {
		return nil, err
	}
	tag, err := groupTag(m.GroupBy, "a flame graph groups its stacks")
	if err != nil {
		return nil, err
	}
	timeCond, tagRange := right, r
	base := m.Baseline()
	var left string
	if base != nil {
		if left, err = b.timeFilter(*base); err != nil {
			return nil, fmt.Errorf("baseline: %w", err)
		}
		timeCond = fmt.Sprintf("((%s) OR (%s))", left, right)
		tagRange = r
		if base.From.Before(r.From) {
			tagRange.From = base.From
		}
		if base.To.After(r.To) {
			tagRange.To = base.To
		}
	}
	where := append([]string{timeCond}, conds...)
	stack, from, key := fmt.Sprintf("any(%s)", b.c("stack")), b.from(), b.c("stack_id")
	if tag != "" {
		// Grouped: each row read with its root (its process's tag at the row's time), the stacks
		// told apart by root; the filters applied inside, where the table's columns are.
		root, err := b.tagValue(tag, b.sampledProcess(), tagRange)
		if err != nil {
			return nil, err
		}
		from = fmt.Sprintf(`(
  SELECT %s AS flame_root, %s, %s, %s, %s
  FROM %s
  WHERE %s
)`, tagOrName(root, fmt.Sprintf("toString(%s)", b.c("service")), "flame_tag"), b.c("time"), b.c("stack_id"), b.c("stack"), b.c("value"),
			b.from(), strings.Join(where, "\n    AND "))
		stack, key, where = fmt.Sprintf("arrayConcat([flame_root], any(%s))", b.c("stack")), "flame_root, "+b.c("stack_id"), []string{timeCond}
	}
	var sql string
	if base != nil {
		sql = fmt.Sprintf(`SELECT
  %s AS stack,
  sumIf(%s, %s) AS left_value,
  sumIf(%s, %s) AS right_value
FROM %s
WHERE %s
GROUP BY %s
ORDER BY left_value + right_value DESC
LIMIT %d`,
			stack, b.c("value"), left, b.c("value"), right, from, strings.Join(where, "\n  AND "), key, MaxFlameStacks+1)
	} else {
		sql = fmt.Sprintf(`SELECT
  %s AS stack,
  sum(%s) AS total
FROM %s
WHERE %s
GROUP BY %s
ORDER BY total DESC
LIMIT %d`,
			stack, b.c("value"), from, strings.Join(where, "\n  AND "), key, MaxFlameStacks+1)
	}
	st := b.statement(sql)
	st.Limit = MaxFlameStacks
	return st, nil
}
