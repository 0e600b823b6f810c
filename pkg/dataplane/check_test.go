package dataplane

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"
)

func f64(v float64) *float64 { return &v }

var t0 = time.Unix(1700000000, 0).UTC()

func multi(name string, labels data.Labels, times []time.Time, values []*float64) *data.Frame {
	f := data.NewFrame(name, data.NewField("time", nil, times), data.NewField(name, labels, values))
	f.Meta = &data.FrameMeta{Type: data.FrameTypeTimeSeriesMulti, TypeVersion: data.FrameTypeVersion{0, 1}}
	return f
}

func two() []time.Time { return []time.Time{t0, t0.Add(time.Minute)} }

func TestCheckAcceptsTheContractsShapes(t *testing.T) {
	ok := data.Frames{
		multi("cpu", data.Labels{"host": "a"}, two(), []*float64{f64(1), nil}),
		multi("cpu", data.Labels{"host": "b"}, two(), []*float64{f64(6), f64(8)}),
	}
	series, err := CheckAlertable(ok)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(Names(series), " "); got != `cpu{host=a} cpu{host=b}` {
		t.Errorf("series %s", got)
	}
	wide := data.NewFrame("w", data.NewField("time", nil, two()),
		data.NewField("cpu", data.Labels{"host": "a"}, []float64{1, 4}), data.NewField("cpu", data.Labels{"host": "b"}, []int64{6, 8}),
		data.NewField("note", nil, []string{"x", "y"})) // a string field is remainder data
	wide.Meta = &data.FrameMeta{Type: data.FrameTypeTimeSeriesWide, TypeVersion: data.FrameTypeVersion{0, 1}}
	if series, err := CheckAlertable(data.Frames{wide}); err != nil || len(series) != 2 || *series[1].Values[1] != 8 {
		t.Errorf("wide: %v %v", series, err)
	}
	noData := data.NewFrame("")
	noData.Meta = &data.FrameMeta{Type: data.FrameTypeTimeSeriesMulti, TypeVersion: data.FrameTypeVersion{0, 1}}
	if series, err := CheckAlertable(data.Frames{noData}); err != nil || len(series) != 0 {
		t.Errorf("no data: %v %v", series, err)
	}
}

// Each invalid case of the contract (and of alerting) is refused with a message naming it.
func TestCheckRefusesWhatTheContractCallsInvalid(t *testing.T) {
	a := func() *data.Frame { return multi("cpu", data.Labels{"host": "a"}, two(), []*float64{f64(1), f64(2)}) }
	untyped := a()
	untyped.Meta = nil
	noVersion := a()
	noVersion.Meta = &data.FrameMeta{Type: data.FrameTypeTimeSeriesMulti}
	labelledTime := a()
	labelledTime.Fields[0].Labels = data.Labels{"x": "y"}
	unsorted := multi("cpu", nil, []time.Time{t0.Add(time.Minute), t0}, []*float64{f64(1), f64(2)})
	repeated := multi("cpu", nil, []time.Time{t0, t0}, []*float64{f64(1), f64(2)})
	nullTime := multi("cpu", nil, nil, nil)
	nullTime.Fields[0] = data.NewField("time", nil, []*time.Time{&t0, nil})
	nullTime.Fields[1] = data.NewField("cpu", nil, []float64{1, 2})
	noValue := a()
	noValue.Fields = noValue.Fields[:1]
	noData := data.NewFrame("")
	noData.Meta = a().Meta
	otherMetric := multi("mem", data.Labels{"host": "a"}, two(), []*float64{f64(1), f64(2)})
	unnamed := multi("", data.Labels{"host": "a"}, two(), []*float64{f64(1), f64(2)})
	wide := data.NewFrame("w", data.NewField("time", nil, two()), data.NewField("cpu", nil, []float64{1, 2}))
	wide.Meta = &data.FrameMeta{Type: data.FrameTypeTimeSeriesWide, TypeVersion: data.FrameTypeVersion{0, 1}}
	for name, c := range map[string]struct {
		frames data.Frames
		want   string
	}{
		"untyped":                {data.Frames{untyped}, "declares no time-series type"},
		"no type version":        {data.Frames{noVersion}, "no type version"},
		"labelled time":          {data.Frames{labelledTime}, "has labels"},
		"unsorted time":          {data.Frames{unsorted}, "out of ascending order"},
		"repeated time":          {data.Frames{repeated}, "repeated"},
		"null time":              {data.Frames{nullTime}, "null at row 1"},
		"no value field":         {data.Frames{noValue}, "no numeric value field"},
		"no data beside data":    {data.Frames{a(), noData}, "alongside 1 other"},
		"duplicate series":       {data.Frames{a(), a()}, "two series are cpu{host=a}"},
		"same labels, two names": {data.Frames{a(), otherMetric}, "have the same labels {host=a}"},
		"no metric name":         {data.Frames{unnamed}, "has no name"},
		"two wide frames":        {data.Frames{wide, wide}, "the wide format has exactly one"},
	} {
		_, err := CheckAlertable(c.frames)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", name, err, c.want)
		}
	}
	// Two names with distinct labels are a valid data-plane answer, and alertable.
	if _, err := CheckAlertable(data.Frames{a(), multi("mem", data.Labels{"host": "b"}, two(), []*float64{f64(1), f64(2)})}); err != nil {
		t.Error(err)
	}
}

func TestReduceAndThreshold(t *testing.T) {
	pts := []*float64{f64(1), nil, f64(4), f64(math.NaN()), f64(7)}
	for _, c := range []struct {
		r    Reduce
		want float64
	}{
		{Reduce{"last", "", 0}, 7}, {Reduce{"mean", "", 0}, math.NaN()}, {Reduce{"mean", "dropNN", 0}, 4},
		{Reduce{"max", "dropNN", 0}, 7}, {Reduce{"min", "dropNN", 0}, 1}, {Reduce{"sum", "replaceNN", 10}, 32},
		{Reduce{"count", "", 0}, 5}, {Reduce{"count", "dropNN", 0}, 3}, {Reduce{"last", "", 0}, 7},
		{Reduce{"max", "", 0}, math.NaN()},
	} {
		got, err := c.r.Apply(pts)
		if err != nil || !(got == c.want || math.IsNaN(got) && math.IsNaN(c.want)) {
			t.Errorf("%+v = %v (%v), want %v", c.r, got, err, c.want)
		}
	}
	if v, _ := (Reduce{"last", "", 0}).Apply([]*float64{f64(1), nil}); !math.IsNaN(v) {
		t.Errorf("strict last over a trailing null = %v, want NaN", v)
	}
	for _, c := range []struct {
		th   Threshold
		v    float64
		want bool
	}{
		{Threshold{"gt", []float64{0.05}}, 0.05, false}, {Threshold{"gt", []float64{0.05}}, 0.0501, true},
		{Threshold{"lt", []float64{1}}, 0.5, true}, {Threshold{"within_range", []float64{1, 5}}, 5, false},
		{Threshold{"within_range_included", []float64{5, 1}}, 5, true}, {Threshold{"outside_range", []float64{1, 5}}, 6, true},
		{Threshold{"gt", []float64{0}}, math.NaN(), false},
	} {
		if got, err := c.th.Fires(c.v); err != nil || got != c.want {
			t.Errorf("%+v on %v = %v (%v)", c.th, c.v, got, err)
		}
	}
	if _, err := (Threshold{"within_range", []float64{1}}).Fires(2); err == nil {
		t.Error("a range with one bound was accepted")
	}
}
