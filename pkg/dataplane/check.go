// Package dataplane checks data frames against Grafana's data-plane contract for time series
// (github.com/grafana/dataplane, docs/contract: contract-spec.md and timeseries.md) and against
// what Grafana's alerting needs of a query answer, and evaluates alert rules' reduce and
// threshold steps over them. Query types call it from their tests: every answer an alert rule
// may use must pass CheckAlertable.
package dataplane

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"
)

// Series is one time series of an answer: its name (the value field's name), its dimensions
// (the value field's labels) and its points.
type Series struct {
	Name   string
	Labels data.Labels
	Times  []time.Time
	Values []*float64 // nil: a null point
}

// ID is the series' name and labels, the identity the contract gives an item of a set.
func (s Series) ID() string { return s.Name + "{" + s.Labels.String() + "}" }

// timeSeriesTypes are the data-plane time-series types a frame answer may declare.
var timeSeriesTypes = map[data.FrameType]bool{data.FrameTypeTimeSeriesMulti: true, data.FrameTypeTimeSeriesWide: true}

// CheckTimeSeries reads frames as one data-plane time-series answer and returns its series
// (none for the "no data" response). It fails where the contract says the answer is invalid or
// only worth a warning, which this project treats as an error too:
//   - the first frame declares no type, a type other than TimeSeriesMulti/TimeSeriesWide, or no
//     type version (Meta.TypeVersion, 0.1 and up);
//   - "no data" (a typed frame with no fields) is not the only frame;
//   - a typed frame lacks a time field or a numeric value field, its fields differ in length, its
//     time field has labels, nulls, or times out of ascending order or repeated;
//   - wide: more than one frame declares the type;
//   - two series share a name and labels.
//
// Frames without the type, or with another type, are remainder data (the contract) and skipped.
func CheckTimeSeries(frames data.Frames) ([]Series, error) {
	if len(frames) == 0 {
		return nil, nil // no frame and no error: "no data"
	}
	first := frames[0]
	if first == nil || first.Meta == nil || !timeSeriesTypes[first.Meta.Type] {
		return nil, fmt.Errorf("frame 0 declares no time-series type (Meta.Type %s): want %s or %s",
			describeType(first), data.FrameTypeTimeSeriesMulti, data.FrameTypeTimeSeriesWide)
	}
	kind := first.Meta.Type
	var typed []*data.Frame
	for i, f := range frames {
		if f == nil {
			return nil, fmt.Errorf("frame %d is nil", i)
		}
		if f.Meta == nil || f.Meta.Type != kind {
			continue // remainder data
		}
		if f.Meta.TypeVersion.IsZero() {
			return nil, fmt.Errorf("frame %d (%s) has no type version: the contract's %s is 0.1", i, f.Name, kind)
		}
		typed = append(typed, f)
	}
	noData := 0
	for _, f := range typed {
		if len(f.Fields) == 0 {
			noData++
		}
	}
	if noData > 0 {
		if len(typed) > 1 {
			return nil, fmt.Errorf("a \"no data\" frame (no fields) is present alongside %d other %s frames", len(typed)-1, kind)
		}
		return nil, nil
	}
	if kind == data.FrameTypeTimeSeriesWide && len(typed) > 1 {
		return nil, fmt.Errorf("%d frames declare %s: the wide format has exactly one", len(typed), kind)
	}
	var out []Series
	for i, f := range typed {
		s, err := frameSeries(f, kind)
		if err != nil {
			return nil, fmt.Errorf("frame %d (%s): %w", i, f.Name, err)
		}
		out = append(out, s...)
	}
	seen := map[string]bool{}
	for _, s := range out {
		if seen[s.ID()] {
			return nil, fmt.Errorf("two series are %s: the contract identifies a series by its name and labels", s.ID())
		}
		seen[s.ID()] = true
	}
	return out, nil
}

// CheckAlertable checks frames as the input of a Grafana alert rule: a valid data-plane time
// series answer (CheckTimeSeries) whose series each carry their metric (a value field name or
// a label) and differ in their labels alone, since the alerting engine keys each series (and
// the alert instance it becomes) by its labels and refuses an answer where two series have the
// same labels. Returns the series.
func CheckAlertable(frames data.Frames) ([]Series, error) {
	series, err := CheckTimeSeries(frames)
	if err != nil {
		return nil, err
	}
	byLabels := map[string]string{}
	for _, s := range series {
		if s.Name == "" && s.Labels["__name__"] == "" {
			return nil, fmt.Errorf("series %s has no name: the metric must be in the value field's name or a label", s.Labels)
		}
		key := "{" + s.Labels.String() + "}"
		if other, dup := byLabels[key]; dup {
			return nil, fmt.Errorf("series %s and %s have the same labels %s: alerting cannot tell them apart", other, s.ID(), key)
		}
		byLabels[key] = s.ID()
	}
	return series, nil
}

func describeType(f *data.Frame) string {
	if f == nil || f.Meta == nil || f.Meta.Type == "" {
		return "unset"
	}
	return string(f.Meta.Type)
}

// frameSeries reads the series of one typed frame: multi, the first time field and the first
// numeric field after it; wide, the first time field and every numeric field.
func frameSeries(f *data.Frame, kind data.FrameType) ([]Series, error) {
	if _, err := f.RowLen(); err != nil {
		return nil, err
	}
	timeIdx := -1
	for i, fl := range f.Fields {
		if fl.Type().Time() {
			timeIdx = i
			break
		}
	}
	if timeIdx < 0 {
		return nil, fmt.Errorf("no time field")
	}
	times, err := timeValues(f.Fields[timeIdx])
	if err != nil {
		return nil, err
	}
	var out []Series
	for i, fl := range f.Fields {
		if i == timeIdx || !fl.Type().Numeric() {
			continue
		}
		values := make([]*float64, fl.Len())
		for j := range values {
			v, err := fl.NullableFloatAt(j)
			if err != nil {
				return nil, fmt.Errorf("field %s: %w", fl.Name, err)
			}
			values[j] = v
		}
		labels := data.Labels{}
		for k, v := range fl.Labels {
			if k == "" {
				return nil, fmt.Errorf("field %s has a label with an empty name", fl.Name)
			}
			labels[k] = v
		}
		out = append(out, Series{Name: fl.Name, Labels: labels, Times: times, Values: values})
		if kind == data.FrameTypeTimeSeriesMulti {
			break // further numeric fields are remainder data
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no numeric value field")
	}
	return out, nil
}

func timeValues(fl *data.Field) ([]time.Time, error) {
	if len(fl.Labels) > 0 {
		return nil, fmt.Errorf("time field %s has labels %s: the contract gives labels to value fields only", fl.Name, fl.Labels)
	}
	times := make([]time.Time, fl.Len())
	for i := range times {
		v, ok := fl.ConcreteAt(i)
		if !ok {
			return nil, fmt.Errorf("time field %s has a null at row %d", fl.Name, i)
		}
		times[i] = v.(time.Time)
		if i > 0 && !times[i].After(times[i-1]) {
			what := "out of ascending order"
			if times[i].Equal(times[i-1]) {
				what = "repeated"
			}
			return nil, fmt.Errorf("time field %s: row %d (%s) is %s", fl.Name, i, times[i].Format(time.RFC3339), what)
		}
	}
	return times, nil
}

// Names lists the series' identities, sorted (for test messages and exact comparisons).
func Names(series []Series) []string {
	out := make([]string, len(series))
	for i, s := range series {
		out[i] = s.ID()
	}
	sort.Strings(out)
	return out
}

// LabelKeys lists the label names used by any series, sorted.
func LabelKeys(series []Series) string {
	set := map[string]bool{}
	for _, s := range series {
		for k := range s.Labels {
			set[k] = true
		}
	}
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, ",")
}
