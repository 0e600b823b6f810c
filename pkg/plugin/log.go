package plugin

import (
	"context"
	"fmt"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/flowlens/flowlens/pkg/converters"
	"github.com/flowlens/flowlens/pkg/query"
)

// logHints turn the request log's raw columns into Grafana-friendly fields.
var logHints = map[string]converters.Hint{
	"time_unix":     {Name: "time", Kind: converters.UnixSeconds},
	"start_time_us": {Name: "start_time", Kind: converters.UnixMicros},
	"_id":           {Kind: converters.Text}, // 64-bit ids would lose digits in JavaScript numbers
}

func (d *Datasource) requestLog(ctx context.Context, m *query.Model, r query.Range) (data.Frames, error) {
	st, err := query.BuildLog(d.settings.Database, m, r)
	if err != nil {
		return nil, badQuery{err}
	}
	res, err := d.client.Query(ctx, st.SQL)
	if err != nil {
		return nil, err
	}
	f, err := converters.Frame("requests", res, logHints)
	if err != nil {
		return nil, err
	}
	f.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeTable, ExecutedQueryString: st.SQL}
	for _, fld := range f.Fields {
		switch fld.Name {
		case "response_duration_us":
			fld.Config = &data.FieldConfig{Unit: "µs"}
		case "request_length", "response_length":
			fld.Config = &data.FieldConfig{Unit: "decbytes"}
		}
	}
	if st.RequestedLimit > 0 {
		f.Meta.Notices = append(f.Meta.Notices, data.Notice{
			Severity: data.NoticeSeverityWarning,
			Text:     fmt.Sprintf("limit %d is above the maximum %d: at most %d requests are shown", st.RequestedLimit, query.MaxLogLimit, query.MaxLogLimit),
		})
	}
	if n, _ := f.RowLen(); n >= st.Limit {
		f.Meta.Notices = append(f.Meta.Notices, data.Notice{
			Severity: data.NoticeSeverityWarning,
			Text:     fmt.Sprintf("showing the newest %d requests only (limit %d, at most %d): narrow the time range or filters", n, st.Limit, query.MaxLogLimit),
		})
	}
	return data.Frames{f}, nil
}
