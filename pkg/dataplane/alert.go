package dataplane

import (
	"fmt"
	"math"
	"strings"

	"github.com/grafana/grafana-plugin-sdk-go/data"
)

// Reduce is the reduce step of a Grafana alert rule (a server-side expression of type "reduce").
type Reduce struct {
	Reducer string // last, mean, min, max, sum, count
	// Mode: "" (strict: a null or NaN point makes the result NaN), "dropNN" (drop them) or
	// "replaceNN" (replace them with ReplaceWith).
	Mode        string
	ReplaceWith float64
}

// Apply reduces one series' points to a number; NaN where the reduction is undefined (an
// empty series, or a null in strict mode).
func (r Reduce) Apply(values []*float64) (float64, error) {
	pts := make([]float64, 0, len(values))
	for _, v := range values {
		x := math.NaN()
		if v != nil {
			x = *v
		}
		if math.IsNaN(x) {
			switch r.Mode {
			case "dropNN":
				continue
			case "replaceNN":
				x = r.ReplaceWith
			case "", "strict":
			default:
				return 0, fmt.Errorf("reduce mode %q is not strict, dropNN or replaceNN", r.Mode)
			}
		}
		pts = append(pts, x)
	}
	if r.Reducer == "count" {
		return float64(len(pts)), nil
	}
	if len(pts) == 0 {
		return math.NaN(), nil
	}
	switch r.Reducer {
	case "last":
		return pts[len(pts)-1], nil
	case "sum", "mean":
		s := 0.0
		for _, x := range pts {
			s += x
		}
		if r.Reducer == "mean" {
			s /= float64(len(pts))
		}
		return s, nil
	case "min", "max":
		out := pts[0]
		for _, x := range pts[1:] {
			if math.IsNaN(x) || math.IsNaN(out) {
				out = math.NaN()
			} else if (r.Reducer == "min") == (x < out) {
				out = x
			}
		}
		return out, nil
	}
	return 0, fmt.Errorf("reducer %q is not last, mean, min, max, sum or count", r.Reducer)
}

// Threshold is the condition step of a Grafana alert rule (a server-side expression of type
// "threshold"): the series fires when its reduced value meets it.
type Threshold struct {
	Type   string // gt, lt, gte, lte, eq, ne, within_range, outside_range, within_range_included, outside_range_included
	Params []float64
}

// Fires tells whether v meets the threshold; NaN never does.
func (t Threshold) Fires(v float64) (bool, error) {
	need := 1
	if strings.HasPrefix(t.Type, "within") || strings.HasPrefix(t.Type, "outside") {
		need = 2
	}
	if len(t.Params) < need {
		return false, fmt.Errorf("threshold %s needs %d parameter(s), has %d", t.Type, need, len(t.Params))
	}
	if math.IsNaN(v) {
		return false, nil
	}
	a := t.Params[0]
	switch t.Type {
	case "gt":
		return v > a, nil
	case "lt":
		return v < a, nil
	case "gte":
		return v >= a, nil
	case "lte":
		return v <= a, nil
	case "eq":
		return v == a, nil
	case "ne":
		return v != a, nil
	}
	lo, hi := min(a, t.Params[1]), max(a, t.Params[1])
	switch t.Type {
	case "within_range":
		return v > lo && v < hi, nil
	case "outside_range":
		return v < lo || v > hi, nil
	case "within_range_included":
		return v >= lo && v <= hi, nil
	case "outside_range_included":
		return v <= lo || v >= hi, nil
	}
	return false, fmt.Errorf("threshold type %q is not one Grafana knows", t.Type)
}

// Instance is one alert instance: a series' labels, its reduced value and its state.
type Instance struct {
	Labels data.Labels
	Value  float64
	Firing bool
	NoData bool // the reduced value is NaN (no points, or a null in strict mode)
}

// Evaluate runs a rule's reduce and threshold over a query answer the way the alerting engine
// does: the answer must be alertable (CheckAlertable), each series becomes one instance keyed
// by its labels. "No data" gives no instance.
func Evaluate(frames data.Frames, r Reduce, t Threshold) ([]Instance, error) {
	series, err := CheckAlertable(frames)
	if err != nil {
		return nil, err
	}
	out := make([]Instance, 0, len(series))
	for _, s := range series {
		v, err := r.Apply(s.Values)
		if err != nil {
			return nil, err
		}
		firing, err := t.Fires(v)
		if err != nil {
			return nil, err
		}
		out = append(out, Instance{Labels: s.Labels, Value: v, Firing: firing, NoData: math.IsNaN(v)})
	}
	return out, nil
}
