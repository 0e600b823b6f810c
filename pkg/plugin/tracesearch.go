package plugin

import (
	"context"
	"fmt"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/flowlens/flowlens/pkg/clickhouse"
	"github.com/flowlens/flowlens/pkg/converters"
	"github.com/flowlens/flowlens/pkg/query"
)

var traceSearchHints = map[string]converters.Hint{
	"time_unix":     {Name: "time", Kind: converters.UnixSeconds},
	"start_time_us": {Name: "start_time", Kind: converters.UnixMicros},
	"row_id":        {Kind: converters.Text},
}

// traceSearch lists traces, one row per entry request (query.BuildTraceSearch), newest first; the
// row_id, trace_id and x_request_id fields link to the trace, like the request log's.
func (d *Datasource) traceSearch(ctx context.Context, m *query.Model, r query.Range) (data.Frames, error) {
	var res *clickhouse.Result
	var runErr error
	st, err := query.SearchTraces(d.settings.Database, m, r, func(st *query.Statement) (int, error) {
		res, runErr = d.client.Query(ctx, st.SQL)
		if runErr != nil {
			return 0, runErr
		}
		return len(res.Data), nil
	})
	if runErr != nil {
		return nil, runErr
	}
	if err != nil {
		return nil, badQuery{err}
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
