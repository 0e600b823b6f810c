package plugin

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/flowlens/flowlens/pkg/clickhouse"
	"github.com/flowlens/flowlens/pkg/converters"
	"github.com/flowlens/flowlens/pkg/query"
)

// redBucket is one (bucket, service) row of the RED query.
type redBucket struct {
	requests, errors           int64
	durationSumUs, durationMax int64
}

// metricInfo says how each RED metric is displayed.
var metricInfo = map[string]struct{ title, unit string }{
	query.MetricRequestRate: {"request rate", "reqps"},
	query.MetricErrorRate:   {"error rate", "reqps"},
	query.MetricErrorRatio:  {"error ratio", "percentunit"},
	query.MetricLatencyAvg:  {"avg latency", "ms"},
	query.MetricLatencyMax:  {"max latency", "ms"},
}

func (d *Datasource) red(ctx context.Context, m *query.Model, r query.Range, interval time.Duration) (data.Frames, error) {
	bucket := query.Bucket(interval, r)
	m.MaxSeries = d.settings.MaxSeries
	st, err := query.BuildRED(d.settings.Database, m, r, bucket)
	if err != nil {
		return nil, badQuery{err}
	}
	res, err := d.client.Query(ctx, st.SQL)
	if err != nil {
		return nil, err
	}
	if err := checkSeries(res, st); err != nil {
		return nil, err
	}
	return redFrames(res, m.Metric, r, bucket, st.SQL)
}

// checkSeries fails a RED answer with more services than the series bound. An error, not the
// top N with a notice: an alert rule evaluates every series it gets, and a service left out of a
// top N would read as "no data" (or resolve a firing alert) while it is failing.
func checkSeries(res *clickhouse.Result, st *query.Statement) error {
	services := map[string]bool{}
	for _, row := range res.Data {
		if len(row) > 1 {
			services[converters.String(row[1])] = true
		}
	}
	if len(res.Data) > st.Limit || len(services) > st.MaxSeries {
		return badQuery{fmt.Errorf("RED: more than %d services (series) in the time range, the limit is %d (datasource setting maxSeries): "+
			"filter by service, client_service, l7_protocol or endpoint", st.MaxSeries, st.MaxSeries)}
	}
	return nil
}

// redFrames turns (bucket, service) rows into time-series-multi frames: one frame per
// (service, metric), each a time field plus one numeric field labelled {service}. Every
// frame covers every bucket of the range: rates are 0 where a service had no requests;
// ratio and latencies are null there (undefined, not zero).
func redFrames(res *clickhouse.Result, metric string, r query.Range, bucket int64, sql string) (data.Frames, error) {
	rows := map[string]map[int64]redBucket{}
	for i, row := range res.Data {
		if len(row) < 6 {
			return nil, fmt.Errorf("RED row %d has %d columns, want 6", i, len(row))
		}
		var b redBucket
		t, err := converters.Int64(row[0])
		if err == nil {
			b.requests, err = converters.Int64(row[2])
		}
		if err == nil {
			b.errors, err = converters.Int64(row[3])
		}
		if err == nil {
			b.durationSumUs, err = converters.Int64(row[4])
		}
		if err == nil {
			b.durationMax, err = converters.Int64(row[5])
		}
		if err != nil {
			return nil, fmt.Errorf("RED row %d: %w", i, err)
		}
		svc := converters.String(row[1])
		if rows[svc] == nil {
			rows[svc] = map[int64]redBucket{}
		}
		rows[svc][t] = b
	}
	metrics := query.REDMetrics
	if metric != "" && metric != query.MetricAll {
		metrics = []string{metric}
	}
	first := r.From.Unix() / bucket * bucket
	last := r.To.Unix() / bucket * bucket
	times := make([]time.Time, 0, (last-first)/bucket+1)
	for t := first; t <= last; t += bucket {
		times = append(times, time.Unix(t, 0).UTC())
	}
	services := make([]string, 0, len(rows))
	for s := range rows {
		services = append(services, s)
	}
	sort.Strings(services)
	meta := &data.FrameMeta{
		Type:                   data.FrameTypeTimeSeriesMulti,
		TypeVersion:            data.FrameTypeVersion{0, 1},
		PreferredVisualization: data.VisTypeGraph,
		ExecutedQueryString:    sql,
	}
	var frames data.Frames
	for _, svc := range services {
		for _, name := range metrics {
			values := make([]*float64, len(times))
			for i, t := range times {
				b, present := rows[svc][t.Unix()]
				values[i] = redValue(name, b, present, bucket)
			}
			frames = append(frames, redFrame(svc, name, times, values, meta))
		}
	}
	if len(frames) == 0 {
		// No data: one empty frame of the right shape, so panels and alerting see "no data".
		f := data.NewFrame("", data.NewField("time", nil, []time.Time{}), data.NewField(metrics[0], nil, []*float64{}))
		f.Meta = meta
		frames = append(frames, f)
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
	case query.MetricLatencyMax:
		if !present {
			return nil
		}
		v = float64(b.durationMax) / 1000
	}
	return &v
}

func redFrame(service, metric string, times []time.Time, values []*float64, meta *data.FrameMeta) *data.Frame {
	info := metricInfo[metric]
	value := data.NewField(metric, data.Labels{"service": service}, values)
	label := service
	if label == "" {
		label = unknownService
	}
	value.Config = &data.FieldConfig{Unit: info.unit, DisplayNameFromDS: label + " " + info.title}
	f := data.NewFrame(metric, data.NewField("time", nil, times), value)
	f.Meta = meta
	return f
}
