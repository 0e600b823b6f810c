package plugin

import (
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/flowlens/flowlens/pkg/query"
)

// The data-plane time-series shape shared by RED and the network metrics: one frame per (series,
// metric), a time field covering every bucket of the range and one labelled numeric field, so
// alert rules evaluate each series on its own (labels unique over the answer: the metric is a label too).

// bucketTimes are the starts of the range's buckets (the first and last may be partial).
func bucketTimes(r query.Range, bucket int64) []time.Time {
	first := r.From.Unix() / bucket * bucket
	last := r.To.Unix() / bucket * bucket
	times := make([]time.Time, 0, (last-first)/bucket+1)
	for t := first; t <= last; t += bucket {
		times = append(times, time.Unix(t, 0).UTC())
	}
	return times
}

// seriesMeta is the frame metadata of a time-series-multi answer.
func seriesMeta(sql string) *data.FrameMeta {
	return &data.FrameMeta{
		Type:                   data.FrameTypeTimeSeriesMulti,
		TypeVersion:            data.FrameTypeVersion{0, 1},
		PreferredVisualization: data.VisTypeGraph,
		ExecutedQueryString:    sql,
	}
}

// seriesFrame is one series of one metric: a time field and the metric's values labelled labels.
func seriesFrame(metric string, labels data.Labels, display, unit string, times []time.Time, values []*float64, meta *data.FrameMeta) *data.Frame {
	value := data.NewField(metric, labels, values)
	value.Config = &data.FieldConfig{Unit: unit, DisplayNameFromDS: display}
	f := data.NewFrame(metric, data.NewField("time", nil, times), value)
	f.Meta = meta
	return f
}

// noSeries is the answer without data, the data plane's "no data" response: one frame with the
// type and no fields, so panels and alerting see "no data" rather than an error.
func noSeries(meta *data.FrameMeta) *data.Frame {
	f := data.NewFrame("")
	f.Meta = meta
	return f
}
