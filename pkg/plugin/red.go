package plugin

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/flowlens/flowlens/pkg/clickhouse"
	"github.com/flowlens/flowlens/pkg/converters"
	"github.com/flowlens/flowlens/pkg/query"
	"github.com/flowlens/flowlens/pkg/schema"
)

// redBucket is one (bucket, group) row of the RED query.
type redBucket struct {
	requests, errors           int64
	durationSumUs, durationMax int64
	sketch                     latencySketch
}

// latencySketch is a merged latency sketch: keys ascending, requests per key.
type latencySketch struct {
	keys, counts []int64
}

// quantileUs is the nearest-rank q-quantile of the sketch in µs (false when it is empty): the
// representative of the key holding the ceil(q·n)-th smallest duration.
func (s latencySketch) quantileUs(q float64) (float64, bool) {
	var n int64
	for _, c := range s.counts {
		n += c
	}
	if n == 0 {
		return 0, false
	}
	rank := max(int64(math.Ceil(q*float64(n)-1e-9)), 1) // 1e-9: 0.29·100 is 28.999999999999996 in float64
	var seen int64
	for i, c := range s.counts {
		seen += c
		if seen >= rank {
			return schema.Get().SketchValueUs(s.keys[i]), true
		}
	}
	return schema.Get().SketchValueUs(s.keys[len(s.keys)-1]), true
}

// metricInfo says how each RED metric is displayed.
var metricInfo = map[string]struct{ title, unit string }{
	query.MetricRequestRate: {"request rate", "reqps"},
	query.MetricErrorRate:   {"error rate", "reqps"},
	query.MetricErrorRatio:  {"error ratio", "percentunit"},
	query.MetricLatencyAvg:  {"avg latency", "ms"},
	query.MetricLatencyP50:  {"p50 latency", "ms"},
	query.MetricLatencyP90:  {"p90 latency", "ms"},
	query.MetricLatencyP99:  {"p99 latency", "ms"},
	query.MetricLatencyMax:  {"max latency", "ms"},
}

func (d *Datasource) red(ctx context.Context, m *query.Model, r query.Range, interval time.Duration) (data.Frames, error) {
	bucket := query.Bucket(interval, r)
	m.MaxSeries = d.settings.MaxSeries
	st, err := query.BuildRED(d.settings.Database, m, r, bucket)
	if err != nil {
		return nil, badQuery{err}
	}
	groups, _ := m.REDGroupBy()
	metrics, _ := m.REDMetricList()
	res, err := d.client.Query(ctx, st.SQL)
	var chErr *clickhouse.Error
	if st.Table == query.EdgeTable && query.NeedsSketch(metrics) &&
		(errors.As(err, &chErr) && chErr.Code == codeUnknownIdentifier || err == nil && sketchMissing(res, len(groups))) {
		// The rollup lacks the sketch: rows its view wrote before it carried one, or a schema
		// from before migration 11 (an agent not yet upgraded). app_metrics has it.
		if st, err = query.BuildREDFromAppMetrics(d.settings.Database, m, r, bucket); err != nil {
			return nil, badQuery{err}
		}
		res, err = d.client.Query(ctx, st.SQL)
	}
	if err != nil {
		return nil, err
	}
	if err := checkSeries(res, st, len(groups)); err != nil {
		return nil, err
	}
	return redFrames(res, metrics, groups, r, bucket, st.SQL)
}

// codeUnknownIdentifier is ClickHouse's error for a column the table lacks (UNKNOWN_IDENTIFIER).
const codeUnknownIdentifier = 47

// sketchMissing tells whether a row's latency sketch holds fewer requests than the row: rollup
// rows the view wrote before it carried the sketch (or app_metrics rows from before migration 6,
// which app_metrics answers with null percentiles, as it would).
func sketchMissing(res *clickhouse.Result, groups int) bool {
	for _, row := range res.Data {
		_, b, err := redRow(row, groups, true)
		if err != nil {
			return false // redFrames reports it
		}
		var n int64
		for _, c := range b.sketch.counts {
			n += c
		}
		if n < b.requests {
			return true
		}
	}
	return false
}

// checkSeries fails a RED answer with more groups than the series bound. An error, not the
// top N with a notice: an alert rule evaluates every series it gets, and a service left out of a
// top N would read as "no data" (or resolve a firing alert) while it is failing.
func checkSeries(res *clickhouse.Result, st *query.Statement, groups int) error {
	keys := map[string]bool{}
	for _, row := range res.Data {
		if len(row) > groups {
			keys[groupKey(row[1:1+groups])] = true
		}
	}
	if len(res.Data) > st.Limit || len(keys) > st.MaxSeries {
		what := "services (series)"
		if groups > 1 {
			what = "series (group_by combinations)"
		}
		return badQuery{fmt.Errorf("RED: more than %d %s in the time range, the limit is %d (datasource setting maxSeries): "+
			"filter by service, client_service, l7_protocol or endpoint, or group by fewer dimensions", st.MaxSeries, what, st.MaxSeries)}
	}
	return nil
}

// groupKey joins a row's group values with NUL (which no name holds).
func groupKey(values []any) string {
	parts := make([]string, len(values))
	for i, v := range values {
		parts[i] = converters.String(v)
	}
	return strings.Join(parts, "\x00")
}

// redRow decodes one RED row: bucket, groups..., requests, errors, sum, max[, sketch].
func redRow(row []any, groups int, withSketch bool) (int64, redBucket, error) {
	want := groups + 5
	if withSketch {
		want++
	}
	if len(row) < want {
		return 0, redBucket{}, fmt.Errorf("has %d columns, want %d", len(row), want)
	}
	var b redBucket
	t, err := converters.Int64(row[0])
	v := row[1+groups:]
	for i, dst := range []*int64{&b.requests, &b.errors, &b.durationSumUs, &b.durationMax} {
		if err == nil {
			*dst, err = converters.Int64(v[i])
		}
	}
	if err == nil && withSketch {
		b.sketch, err = decodeSketch(v[4])
	}
	return t, b, err
}

// decodeSketch reads sumMap's (keys, counts) tuple, a two-element JSON array of arrays.
func decodeSketch(v any) (latencySketch, error) {
	pair, ok := v.([]any)
	if !ok || len(pair) != 2 {
		return latencySketch{}, fmt.Errorf("sketch is %T, want (keys, counts)", v)
	}
	var s latencySketch
	for i, dst := range []*[]int64{&s.keys, &s.counts} {
		list, ok := pair[i].([]any)
		if !ok {
			return latencySketch{}, fmt.Errorf("sketch element %d is %T, want an array", i, pair[i])
		}
		*dst = make([]int64, len(list))
		for j, x := range list {
			n, err := converters.Int64(x)
			if err != nil {
				return latencySketch{}, fmt.Errorf("sketch: %w", err)
			}
			(*dst)[j] = n
		}
	}
	if len(s.keys) != len(s.counts) {
		return latencySketch{}, fmt.Errorf("sketch has %d keys and %d counts", len(s.keys), len(s.counts))
	}
	return s, nil
}

// redSeries is one group's rows by bucket time.
type redSeries struct {
	values  []string
	buckets map[int64]redBucket
}

// redFrames turns (bucket, group) rows into time-series-multi frames (Grafana's data plane
// contract): one frame per (group, metric), each a time field plus one numeric field named
// after the metric and labelled with the group's dimensions and the metric (query.MetricLabel),
// so every series of the answer has labels of its own. Every frame covers every bucket of the
// range: rates are 0 where a group had no requests; ratio and latencies are null there
// (undefined, not zero).
func redFrames(res *clickhouse.Result, metrics []string, groups []query.GroupDimension, r query.Range, bucket int64, sql string) (data.Frames, error) {
	withSketch := query.NeedsSketch(metrics)
	series := map[string]*redSeries{}
	for i, row := range res.Data {
		t, b, err := redRow(row, len(groups), withSketch)
		if err != nil {
			return nil, fmt.Errorf("RED row %d: %w", i, err)
		}
		key := groupKey(row[1 : 1+len(groups)])
		s := series[key]
		if s == nil {
			s = &redSeries{values: strings.Split(key, "\x00"), buckets: map[int64]redBucket{}}
			series[key] = s
		}
		s.buckets[t] = b
	}
	times := bucketTimes(r, bucket)
	keys := make([]string, 0, len(series))
	for k := range series {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	meta := seriesMeta(sql)
	var frames data.Frames
	for _, k := range keys {
		s := series[k]
		for _, name := range metrics {
			values := make([]*float64, len(times))
			for i, t := range times {
				b, present := s.buckets[t.Unix()]
				values[i] = redValue(name, b, present, bucket)
			}
			frames = append(frames, redFrame(groups, s.values, name, times, values, meta))
		}
	}
	if len(frames) == 0 {
		frames = append(frames, noSeries(meta))
	}
	return frames, nil
}

func redValue(metric string, b redBucket, present bool, bucket int64) *float64 {
	var v float64
	switch metric {
	case query.MetricRequestRate:
		v = float64(b.requests) / float64(bucket)
	case query.MetricErrorRate:
		v = float64(b.errors) / float64(bucket)
	case query.MetricErrorRatio:
		if b.requests == 0 {
			return nil
		}
		v = float64(b.errors) / float64(b.requests)
	case query.MetricLatencyAvg:
		if b.requests == 0 {
			return nil
		}
		v = float64(b.durationSumUs) / float64(b.requests) / 1000
	case query.MetricLatencyP50, query.MetricLatencyP90, query.MetricLatencyP99:
		us, ok := b.sketch.quantileUs(query.Percentiles[metric])
		if !ok {
			return nil // no requests, or rows written before the sketch existed (migration 6)
		}
		v = us / 1000
	case query.MetricLatencyMax:
		if !present {
			return nil
		}
		v = float64(b.durationMax) / 1000
	}
	return &v
}

func redFrame(groups []query.GroupDimension, values []string, metric string, times []time.Time, points []*float64, meta *data.FrameMeta) *data.Frame {
	info := metricInfo[metric]
	labels := data.Labels{query.MetricLabel: metric}
	var display []string
	var client, server string
	for i, g := range groups {
		labels[g.Label] = values[i]
		v := values[i]
		if v == "" && (g.Column == "server_service" || g.Column == "client_service") {
			v = unknownService
		}
		switch g.Column {
		case "client_service":
			client = v
		case "server_service":
			server = v
		default:
			display = append(display, v)
		}
	}
	switch {
	case client != "" && server != "":
		display = append([]string{client + " → " + server}, display...)
	case client != "" || server != "":
		display = append([]string{client + server}, display...)
	}
	return seriesFrame(metric, labels, strings.TrimSpace(strings.Join(display, " ")+" "+info.title), info.unit, times, points, meta)
}
