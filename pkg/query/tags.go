package query

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/flowlens/flowlens/pkg/schema"
)

// The read-time tag join: every query that groups or filters by a tag asks this one step for the
// tag's value of one end of its rows. A tag lives in a dimension table (a TagSource) keyed by what
// a row knows of its end: (host, pid) on rows that carry pids (request logs, flow logs, profiles),
// the service name on metrics (app_metrics, app_metrics_edge). The rows themselves carry no tag
// columns, so a tag added to a dimension applies to data written before it.

// RowKey is what a row knows of one of its ends, as column expressions of the row's table.
type RowKey struct {
	Host, Pid string // both set: the end's process on that host
	Time      string // with Host and Pid: the row's DateTime, telling apart processes that reused a pid
	Service   string // else: the end's service name
	// ObservedHost, on rows keyed by service that carry their observing host (app_metrics, net_metrics):
	// the row's host where this end is the one observed at the row's point, else empty. The host tag takes it
	// over the service's: a service running on two hosts is counted on each for the rows seen there.
	ObservedHost string
}

// observedHost renders RowKey.ObservedHost for one side ("client" or "server") of the builder's table:
// the row's host at that side's own points, an empty string elsewhere; "" when the table has no host (the rollup).
func observedHost(b *builder, side string) string {
	sc := schema.Get()
	if !sc.HasColumn(b.table, "host") || !sc.HasColumn(b.table, "observation_point") {
		return ""
	}
	return fmt.Sprintf("if(%s IN ('%s_process', '%s_nic'), %s, '')", b.c("observation_point"), side, side, b.c("host"))
}

// TagSource is one dimension table and the tags it holds.
type TagSource struct {
	Table string
	// Value is the dimension's expression for tag (ok false when it does not hold it).
	Value func(tag string) (expr string, ok bool)
	// ProcessKey and ServiceKey are the dimension's expressions matching RowKey's two forms ("" none).
	ProcessKey, ServiceKey string
	// Lookback widens the time range read from the dimension (its rows are rewritten this often).
	LookbackSeconds int64
	// EraKey, with ProcessKey, tells one process from another that reused its pid (process_tags:
	// start_time): a row takes the tags of the process its key named at the row's time.
	EraKey string
	// Rows, when set, renders the dimension's (tag_k, tag_v) rows for tag itself, whatever the
	// range (business tags: a tag set once applies to all data, before and after).
	Rows func(db, tag string) string
}

// ProcessTagColumns are the tags of the process_tags dimension (agent: src/agent/tags) by name.
var ProcessTagColumns = map[string]string{
	"host":              "host",
	"process":           "process",
	"cmdline":           "cmdline",
	"exe":               "exe",
	"user":              "user",
	"container_id":      "container_id",
	"container_runtime": "container_runtime",
	"container":         "container_name",
	"systemd_unit":      "systemd_unit",
	"pod":               "pod_name",
	"pod_uid":           "pod_uid",
	"namespace":         "pod_namespace",
	"workload":          "workload_name",
	"workload_kind":     "workload_kind",
	"node":              "node",
}

// LabelPrefix names a pod label as a tag: label.app, label.app.kubernetes.io/name.
const LabelPrefix = "label."

var labelKeyRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/-]{0,316}$`)

// ProcessTags is the process/container/pod dimension the agent writes.
var ProcessTags = TagSource{
	Table: "process_tags",
	Value: func(tag string) (string, bool) {
		if col, ok := ProcessTagColumns[tag]; ok {
			return col, true
		}
		if key, ok := strings.CutPrefix(tag, LabelPrefix); ok && labelKeyRe.MatchString(key) {
			return fmt.Sprintf("label_values[indexOf(label_keys, %s)]", Quote(key)), true
		}
		return "", false
	},
	ProcessKey:      "concat(host, '/', toString(pid))",
	ServiceKey:      "service",
	LookbackSeconds: 7200,
	EraKey:          "start_time",
}

// BusinessTags are the tags users set on services (business_tags: team, owner, tier, ...; see
// businesstags.go): any other tag key, joined by service name. Their current value is the latest
// change of (service, key) that is not a removal; the query's range does not restrict them.
var BusinessTags = TagSource{
	Table: "business_tags",
	Value: func(tag string) (string, bool) {
		return "value", tagKeyRe.MatchString(tag)
	},
	ServiceKey: "subject",
	Rows: func(db, tag string) string {
		return fmt.Sprintf("SELECT subject AS tag_k, argMax(value, changed_us) AS tag_v FROM %s.business_tags WHERE kind = %s AND key = %s "+
			"GROUP BY tag_k HAVING argMax(deleted, changed_us) = 0", db, Quote(TagOnService), Quote(tag))
	},
}

// TagSources are searched in order for a tag: the resource dimensions first, then business tags.
var TagSources = []*TagSource{&ProcessTags, &BusinessTags}

// MaxTagKeys bounds the dimension rows one lookup reads.
const MaxTagKeys = 100000

// TagNames lists the tags queries accept (labels as label.<key>).
func TagNames() []string {
	return append(FixedTagNames(), LabelPrefix+"<key>", "<business tag key: team, owner, ...>")
}

func sourceOf(tag string) (*TagSource, string, error) {
	for _, s := range TagSources {
		if v, ok := s.Value(tag); ok {
			return s, v, nil
		}
	}
	return nil, "", fmt.Errorf("unknown tag %s: known tags are %s", Quote(truncate(tag, 80)), strings.Join(TagNames(), ", "))
}

// tagKeys renders the row's key expression and the dimension's matching one.
func (s *TagSource) keys(end RowKey) (row, dim string, err error) {
	switch {
	case end.Host != "" && end.Pid != "" && s.ProcessKey != "":
		return fmt.Sprintf("concat(%s, '/', toString(%s))", end.Host, end.Pid), s.ProcessKey, nil
	case end.Service != "" && s.ServiceKey != "":
		return end.Service, s.ServiceKey, nil
	}
	return "", "", fmt.Errorf("tag table %s cannot be joined to these rows", s.Table)
}

func (b *builder) dimWhere(s *TagSource, r Range) string {
	return fmt.Sprintf("time >= toDateTime(%d) AND time <= toDateTime(%d)", max(dateTime(r.From)-s.LookbackSeconds, 0), dateTime(r.To))
}

// tagValue renders tag's value for the end `end` of each row (” when the dimension has none): the
// dimension's newest value per key in the range, as two constant arrays the rows look up by hash
// (transform), so it fits raw rows. With eras (process_tags keyed by host/pid, the row's time
// given), a key that named several processes over the range takes the value of the process it named
// at the row's time (eraValue).
func (b *builder) tagValue(tag string, end RowKey, r Range) (string, error) {
	if tag == "host" && end.ObservedHost != "" {
		byService, err := b.tagValue(tag, RowKey{Service: end.Service}, r)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("if(%s != '', %s, %s)", end.ObservedHost, end.ObservedHost, byService), nil
	}
	row, values, err := b.tagJoin(tag, end, r)
	if err != nil {
		return "", err
	}
	// transform refuses empty arrays: a key '' (an end without a key, which has no tag) heads them.
	kv := fmt.Sprintf("(SELECT (arrayConcat([''], groupArray(tag_k)), arrayConcat([''], groupArray(tag_s))) FROM (SELECT tag_k, toString(tag_v) AS tag_s FROM (%s) WHERE tag_k != '' LIMIT %d))", values, MaxTagKeys)
	byKey := fmt.Sprintf("transform(%s, tupleElement(%s, 1), tupleElement(%s, 2), '')", row, kv, kv)
	s, value, _ := sourceOf(tag)
	if !s.hasEras(end) {
		return byKey, nil
	}
	index, eraValue := b.eraValue(s, value, row, end.Time, r)
	return fmt.Sprintf("if(%s = 0, %s, %s)", index, byKey, eraValue), nil
}

// eraValue renders, for rows whose key (host/pid) named several processes over the range, the value
// of the process it named at the row's time: each era runs from its process's first dimension row to
// the next one's (the first from the start, the last to the end). The reused keys and their eras
// (sorted by start) are constant arrays: a row finds its key's eras by hash (index, 0 for a key not
// reused) and counts those started by its time, so each row reads only its own key's few eras.
func (b *builder) eraValue(s *TagSource, value, row, rowTime string, r Range) (index, eraValue string) {
	eras := fmt.Sprintf("SELECT %s AS tag_k, %s AS tag_era, toUInt32(min(time)) AS tag_from, argMax(%s, time) AS tag_v FROM %s.`%s` WHERE %s GROUP BY tag_k, tag_era",
		s.ProcessKey, s.EraKey, value, b.db, s.Table, b.dimWhere(s, r))
	reused := fmt.Sprintf("(SELECT (arrayConcat([''], groupArray(tag_k)), arrayConcat([[(toUInt32(0), '')]], groupArray(tag_list))) FROM ("+
		"SELECT tag_k, arraySort(groupArray((tag_from, toString(tag_v)))) AS tag_list FROM (%s) GROUP BY tag_k HAVING count() > 1 LIMIT %d))", eras, MaxTagKeys)
	index = fmt.Sprintf("transform(%s, tupleElement(%s, 1), arrayEnumerate(tupleElement(%s, 1)), 0)", row, reused, reused)
	// greatest(..., time >= 0): an era before the first counts as the first, and the row's time is
	// named outside the lambda too (18.16 prunes a subquery's columns named only inside a lambda).
	keyEras := fmt.Sprintf("arrayElement(tupleElement(%s, 2), %s)", reused, index)
	eraValue = fmt.Sprintf("arrayElement(%s, greatest(arrayCount(tag_e -> tag_e.1 <= toUInt32(%s), %s), toUInt32(%s) >= 0)).2",
		keyEras, rowTime, keyEras, rowTime)
	return index, eraValue
}

// tagOrName renders a node's name from its tag value (the map's rule, shared by every grouping by
// a tag of the ends): the tag's value, or, for an end without the tag, its own name (fallback).
func tagOrName(value, fallback, alias string) string {
	return fmt.Sprintf("if((%s AS %s) = '', %s, %s)", value, alias, fallback, alias)
}

// tagJoin renders the row's key expression for `end` and the dimension's (tag_k, tag_v) rows: the
// newest value per key over the range (widened by the source's lookback).
func (b *builder) tagJoin(tag string, end RowKey, r Range) (row, values string, err error) {
	s, value, err := sourceOf(tag)
	if err != nil {
		return "", "", err
	}
	row, dim, err := s.keys(end)
	if err != nil {
		return "", "", err
	}
	return row, s.rowsOf(b.db, tag, dim, value, b.dimWhere(s, r)), nil
}

// rowsOf renders the dimension's (tag_k, tag_v) rows: key dim, the newest value of value per key
// where `where` holds (the source's own Rows when it has them).
func (s *TagSource) rowsOf(db, tag, dim, value, where string) string {
	if s.Rows != nil {
		return s.Rows(db, tag)
	}
	return fmt.Sprintf("SELECT %s AS tag_k, argMax(%s, time) AS tag_v FROM %s.`%s` WHERE %s GROUP BY tag_k", dim, value, db, s.Table, where)
}

// tagMatch renders a condition true for rows whose end `end` has one of vals as tag (hash lookup:
// fit for raw rows).
func (b *builder) tagMatch(tag string, end RowKey, vals Values, r Range) (string, error) {
	if tag == "host" && end.ObservedHost != "" {
		// the row's own host where it observed this end; the service's host where it did not
		own, err := b.inExpr("tags.host", end.ObservedHost, vals)
		if err != nil {
			return "", err
		}
		byService, err := b.tagMatch(tag, RowKey{Service: end.Service}, vals, r)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("((%s != '' AND %s) OR (%s = '' AND %s))", end.ObservedHost, own, end.ObservedHost, byService), nil
	}
	if s, _, err := sourceOf(tag); err == nil && s.hasEras(end) {
		// across pid reuse: the value of the process the key named at the row's time
		v, err := b.tagValue(tag, end, r)
		if err != nil {
			return "", err
		}
		return b.inExpr("tags."+tag, v, vals)
	}
	row, values, err := b.tagJoin(tag, end, r)
	if err != nil {
		return "", err
	}
	in, err := b.inExpr("tags."+tag, "tag_v", vals)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s IN (SELECT tag_k FROM (%s) WHERE %s LIMIT %d)", row, values, in, MaxTagKeys), nil
}

// hasEras tells whether rows keyed by end tell apart the processes that reused a pid (s's EraKey).
func (s *TagSource) hasEras(end RowKey) bool {
	return s.EraKey != "" && s.Rows == nil && end.Time != "" && end.Host != "" && end.Pid != ""
}

// TagFilters is the query's tag filters: tag -> accepted values.
type TagFilters map[string]Values

// without is the filters but tag's.
func (f TagFilters) without(tag string) TagFilters {
	out := TagFilters{}
	for t, v := range f {
		if t != tag {
			out[t] = v
		}
	}
	return out
}

// sortedTags lists the filters' tags in a fixed order (stable SQL).
func (f TagFilters) sortedTags() []string {
	tags := make([]string, 0, len(f))
	for t, v := range f {
		if len(v) > 0 {
			tags = append(tags, t)
		}
	}
	sort.Strings(tags)
	return tags
}

// tagFilterConds renders one condition per tag filter: either end (eitherEnd) or the given one matches.
func (b *builder) tagFilterConds(f TagFilters, ends []RowKey, r Range) ([]string, error) {
	if len(f) > 16 {
		return nil, fmt.Errorf("%d tag filters, the limit is 16", len(f))
	}
	var out []string
	for _, tag := range f.sortedTags() {
		var alts []string
		for _, end := range ends {
			m, err := b.tagMatch(tag, end, f[tag], r)
			if err != nil {
				return nil, err
			}
			alts = append(alts, m)
		}
		out = append(out, "("+strings.Join(alts, " OR ")+")")
	}
	return out, nil
}

// groupTag is the one tag a query groups its ends by (group_by: the map's nodes, network series, flow
// groups, flame graph roots), "" for none; what names the query in the error.
func groupTag(groupBy Values, what string) (string, error) {
	switch len(groupBy) {
	case 0:
		return "", nil
	case 1:
		_, _, err := sourceOf(groupBy[0])
		return groupBy[0], err
	}
	return "", fmt.Errorf("%s by one tag: group_by has %d (%s)", what, len(groupBy), Quote(truncate(strings.Join(groupBy, ", "), 80)))
}

// taggedMap renders the map with nodes named by m.GroupBy (an end without that tag keeps its
// service name) and edges kept when each tag filter matches either end: the service edges of the
// plain map, each end's tag looked up on those few rows, summed again per tag edge.
func (b *builder) taggedMap(m *Model, r Range) (*Statement, error) {
	if _, err := groupTag(m.GroupBy, "the map groups its nodes"); err != nil {
		return nil, err
	}
	// the host filters the plain map's rows (BuildMap), the other tags its edges' ends here
	plain := *m
	plain.GroupBy, plain.Tags = nil, TagFilters{"host": m.Tags["host"]}
	edges, err := BuildMap(strings.Trim(b.db, "`"), &plain, r)
	if err != nil {
		return nil, err
	}
	for _, c := range edges.Columns {
		b.c(c)
	}
	client, server := "client", "server"
	if len(m.GroupBy) == 1 {
		cv, err := b.tagValue(m.GroupBy[0], RowKey{Service: "client"}, r)
		if err != nil {
			return nil, err
		}
		sv, err := b.tagValue(m.GroupBy[0], RowKey{Service: "server"}, r)
		if err != nil {
			return nil, err
		}
		client, server = tagOrName(cv, "client", "client_tag"), tagOrName(sv, "server", "server_tag")
	}
	where := ""
	if conds, err := b.tagFilterConds(m.Tags.without("host"), []RowKey{{Service: "client"}, {Service: "server"}}, r); err != nil {
		return nil, err
	} else if len(conds) > 0 {
		where = "\n  WHERE " + strings.Join(conds, "\n    AND ")
	}
	sql := fmt.Sprintf(`SELECT
  node_client AS client,
  node_server AS server,
  sum(edge_requests) AS requests,
  sum(edge_errors) AS errors,
  sum(edge_sum_us) AS duration_sum_us,
  max(edge_max_us) AS duration_max_us,
  groupUniqArrayArray(edge_protocols) AS protocols
FROM (
  SELECT %s AS node_client, %s AS node_server,
    requests AS edge_requests, errors AS edge_errors, duration_sum_us AS edge_sum_us, duration_max_us AS edge_max_us, protocols AS edge_protocols
  FROM (
%s
  )%s
)
GROUP BY client, server
ORDER BY requests DESC, client, server
LIMIT %d`, client, server, edges.SQL, where, MaxEdges)
	st := b.statement(sql)
	st.Limit = MaxEdges
	return st, nil
}

// taggedRED renders RED grouped by tags of the server service beside any of REDDimensions: the
// plain RED statement grouped by those dimensions and the server service, each row's server
// tagged (few rows: one per bucket and series), summed again per tag value. A server without the
// tag is grouped under ”. The columns are those of BuildRED, tags after the dimensions.
func taggedRED(database string, m *Model, r Range, bucket int64, groups []GroupDimension, metrics []string, table string) (*Statement, error) {
	var dims, tags []GroupDimension
	for _, g := range groups {
		if g.Tag {
			tags = append(tags, g)
		} else {
			dims = append(dims, g)
		}
	}
	plain := *m
	plain.GroupBy = nil
	for _, d := range dims {
		plain.GroupBy = append(plain.GroupBy, d.Name)
	}
	if !containsStr(plain.GroupBy, "service") {
		plain.GroupBy = append(plain.GroupBy, "service")
	}
	// The inner series are (dimensions, server) pairs: bounded as the map's edges are.
	plain.MaxSeries = MaxEdges
	inner, err := buildRED(database, &plain, r, bucket, table)
	if err != nil {
		return nil, err
	}
	innerGroups, err := plain.REDGroupBy()
	if err != nil {
		return nil, err
	}
	b, err := newBuilder(database, inner.Table)
	if err != nil {
		return nil, err
	}
	for _, c := range inner.Columns {
		b.c(c)
	}
	serverAlias := ""
	var middle, outer []string
	for i, g := range innerGroups {
		middle = append(middle, fmt.Sprintf("g%d AS tagged_g%d", i, i))
		if g.Column == "server_service" {
			serverAlias = fmt.Sprintf("tagged_g%d", i)
		}
	}
	for i, d := range dims {
		at := slices.IndexFunc(innerGroups, func(g GroupDimension) bool { return g.Name == d.Name })
		outer = append(outer, fmt.Sprintf("tagged_g%d AS g%d", at, i))
	}
	for i, t := range tags {
		v, err := b.tagValue(t.Name, RowKey{Service: serverAlias}, r)
		if err != nil {
			return nil, err
		}
		middle = append(middle, fmt.Sprintf("%s AS tagged_t%d", v, i))
		outer = append(outer, fmt.Sprintf("tagged_t%d AS g%d", i, len(dims)+i))
	}
	sketch, sketchMiddle := "", ""
	if NeedsSketch(metrics) {
		sketchMiddle = ", sketch AS tagged_sketch"
		sketch = ",\n  sumMap(tupleElement(tagged_sketch, 1), tupleElement(tagged_sketch, 2)) AS sketch"
	}
	key := strings.Join(append([]string{"bucket"}, groupAliases(groups)...), ", ")
	maxSeries := m.MaxSeries
	if maxSeries <= 0 {
		maxSeries = DefaultMaxSeries
	}
	limit := min(BucketCount(r, bucket)*int64(maxSeries), math.MaxInt32)
	sql := fmt.Sprintf(`SELECT
  tagged_bucket AS bucket,
  %s,
  sum(tagged_requests) AS requests,
  sum(tagged_errors) AS errors,
  sum(tagged_sum_us) AS duration_sum_us,
  max(tagged_max_us) AS duration_max_us%s
FROM (
  SELECT bucket AS tagged_bucket, %s,
    requests AS tagged_requests, errors AS tagged_errors, duration_sum_us AS tagged_sum_us, duration_max_us AS tagged_max_us%s
  FROM (
%s
  )
)
GROUP BY %s
ORDER BY %s
LIMIT %d`, strings.Join(outer, ",\n  "), sketch, strings.Join(middle, ", "), sketchMiddle, inner.SQL, key, key, limit+1)
	st := b.statement(sql)
	st.BucketSeconds, st.Limit, st.MaxSeries = bucket, int(limit), maxSeries
	return st, nil
}

// MaxTagValues bounds the values listed for a tag picker.
const MaxTagValues = 10000

// BuildTagValues renders the values tag took over the range (for query-editor pickers and tag_values
// variables), one per row, sorted, at most MaxTagValues. With tag filters, only the values of the
// dimension rows that match them: a process tag (host, namespace, ...) of the processes whose own tags
// or whose service's business tags match (the hosts of team shop's services), a business tag of the
// services that match.
func BuildTagValues(database, tag string, r Range, tags TagFilters) (*Statement, error) {
	b, err := newBuilder(database, "process_tags")
	if err != nil {
		return nil, err
	}
	if r.To.Before(r.From) {
		return nil, fmt.Errorf("time range ends (%s) before it starts (%s)", r.To, r.From)
	}
	s, value, err := sourceOf(tag)
	if err != nil {
		return nil, err
	}
	// each dimension row's own keys, for the tag filters: a process by host/pid and its service
	keys, end := "", RowKey{Host: "tag_host", Pid: "tag_pid", Service: "tag_service"}
	if len(tags.sortedTags()) > 0 {
		keys = ", host AS tag_host, pid AS tag_pid, service AS tag_service"
	}
	inner := fmt.Sprintf("SELECT %s AS tag_v%s FROM %s.`%s` WHERE %s", value, keys, b.db, s.Table, b.dimWhere(s, r))
	if s.Rows != nil {
		inner, end = s.Rows(b.db, tag), RowKey{Service: "tag_k"}
	}
	conds, err := b.tagFilterConds(tags, []RowKey{end}, r)
	if err != nil {
		return nil, err
	}
	where := append([]string{"tag_v != ''"}, conds...)
	sql := fmt.Sprintf("SELECT DISTINCT tag_v FROM (%s) WHERE %s ORDER BY tag_v LIMIT %d", inner, strings.Join(where, " AND "), MaxTagValues)
	st := &Statement{SQL: sql, Table: s.Table, Limit: MaxTagValues}
	return st, nil
}

// MaxTagKeyNames bounds the tag keys listed for ad-hoc filters.
const MaxTagKeyNames = 1000

// BuildTagKeys renders the concrete tag keys besides the fixed process tags (TagNames): the pod
// labels seen over the range (label.<key>) and the business tag keys set on services now, one per
// row, sorted.
func BuildTagKeys(database string, r Range) (*Statement, error) {
	b, err := newBuilder(database, "process_tags")
	if err != nil {
		return nil, err
	}
	if r.To.Before(r.From) {
		return nil, fmt.Errorf("time range ends (%s) before it starts (%s)", r.To, r.From)
	}
	sql := fmt.Sprintf(`SELECT DISTINCT k FROM (
  SELECT concat(%s, arrayJoin(label_keys)) AS k FROM %s.process_tags WHERE %s
  UNION ALL
  SELECT key AS k FROM (
    SELECT key, argMax(deleted, changed_us) AS removed FROM %s.business_tags WHERE kind = %s GROUP BY subject, key
  ) WHERE removed = 0
)
ORDER BY k
LIMIT %d`, Quote(LabelPrefix), b.db, b.dimWhere(&ProcessTags, r), b.db, Quote(TagOnService), MaxTagKeyNames)
	return &Statement{SQL: sql, Table: "process_tags", Limit: MaxTagKeyNames}, nil
}

// FixedTagNames are the tags every process has a column for (ProcessTagColumns), sorted.
func FixedTagNames() []string {
	names := make([]string, 0, len(ProcessTagColumns))
	for k := range ProcessTagColumns {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}
