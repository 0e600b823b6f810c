package plugin

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/flowlens/flowlens/pkg/converters"
	"github.com/flowlens/flowlens/pkg/query"
	"github.com/flowlens/flowlens/pkg/trace"
)

var traceSearchHints = map[string]converters.Hint{
	"time_unix":     {Name: "time", Kind: converters.UnixSeconds},
	"start_time_us": {Name: "start_time", Kind: converters.UnixMicros},
	"row_id":        {Kind: converters.Text},
}

// traceSearch lists traces, one row per entry request (query.BuildTraceSearch), newest first; the
// row_id, trace_id and x_request_id fields link to the trace, like the request log's.
func (d *Datasource) traceSearch(ctx context.Context, m *query.Model, r query.Range) (data.Frames, error) {
	res, st, err := d.newest(ctx, query.SearchTraces, m, r)
	if err != nil {
		return nil, err
	}
	f, err := converters.Frame("traces", res, traceSearchHints)
	if err != nil {
		return nil, err
	}
	f.Fields = append(f.Fields, startMicrosField(f))
	for _, fld := range f.Fields {
		switch fld.Name {
		case "row_id":
			fld.Name = "_id" // the request log's name: the same link, and the trace panel reads one name
		case "duration_us":
			fld.Config = &data.FieldConfig{DisplayName: "Duration", Unit: "µs"}
		case "trace_key":
			fld.Config = &data.FieldConfig{Custom: map[string]any{"hidden": true}}
		}
	}
	d.traceLinks(f)
	f.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeTable, ExecutedQueryString: st.SQL}
	if m.Verdicts > 0 {
		if err := d.searchVerdicts(ctx, f, int(min(m.Verdicts, query.MaxSearchVerdicts))); err != nil {
			return nil, err
		}
		if m.Verdicts > query.MaxSearchVerdicts {
			f.Meta.Notices = append(f.Meta.Notices, data.Notice{Severity: data.NoticeSeverityWarning,
				Text: fmt.Sprintf("verdicts %d is above the maximum %d: the first %d traces are explained", m.Verdicts, query.MaxSearchVerdicts, query.MaxSearchVerdicts)})
		}
	}
	if st.RequestedLimit > 0 {
		f.Meta.Notices = append(f.Meta.Notices, data.Notice{Severity: data.NoticeSeverityWarning,
			Text: fmt.Sprintf("limit %d is above the maximum %d: at most %d traces are shown", st.RequestedLimit, query.MaxTraceSearchLimit, query.MaxTraceSearchLimit)})
	}
	if n := f.Rows(); n >= st.Limit {
		f.Meta.Notices = append(f.Meta.Notices, data.Notice{Severity: data.NoticeSeverityWarning,
			Text: fmt.Sprintf("showing the newest %d traces only (limit %d, at most %d): narrow the time range or filters", n, st.Limit, query.MaxTraceSearchLimit)})
	}
	return data.Frames{f}, nil
}

// searchVerdicts assembles the first n traces of a search (as the trace query does from their
// entry request) and adds their verdict: the culprit hop, its share of the end-to-end time and
// the one-sentence summary; the other rows have none. Not free: a few queries per trace.
func (d *Datasource) searchVerdicts(ctx context.Context, f *data.Frame, n int) error {
	rows := f.Rows()
	culprit, summary, share := make([]*string, rows), make([]*string, rows), make([]*float64, rows)
	ids, starts := fieldByName(f, "_id"), fieldByName(f, "start_time")
	fetcher := &trace.ClickHouseFetcher{Client: d.client, Database: d.settings.Database}
	for i := 0; i < min(n, rows); i++ {
		id, err := strconv.ParseUint(ids.At(i).(string), 10, 64)
		if err != nil {
			return err
		}
		seed := trace.Seed{RowID: id, TimeSec: starts.At(i).(time.Time).Unix()}
		tr, err := trace.Assemble(ctx, fetcher, seed, trace.DefaultOptions())
		if errors.Is(err, trace.ErrNotFound) {
			continue // gone since the search (TTL)
		}
		if err != nil {
			return err
		}
		v := tr.Verdict
		if len(v.Hops) == 0 {
			continue
		}
		c, s, sh := v.Hops[0].String(), v.Summary, v.Hops[0].Share
		culprit[i], summary[i], share[i] = &c, &s, &sh
	}
	f.Fields = append(f.Fields,
		data.NewField("culprit", nil, culprit),
		withConfig(data.NewField("culprit_share", nil, share), "Culprit's share", "percentunit"),
		data.NewField("verdict", nil, summary))
	return nil
}
