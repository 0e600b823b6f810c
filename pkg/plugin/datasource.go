// Package plugin is the FlowLens datasource instance: QueryData, CheckHealth and resources.
package plugin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/instancemgmt"
	"github.com/grafana/grafana-plugin-sdk-go/backend/log"
	"github.com/grafana/grafana-plugin-sdk-go/backend/resource/httpadapter"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/flowlens/flowlens/pkg/clickhouse"
	"github.com/flowlens/flowlens/pkg/query"
)

// PluginID is the datasource's plugin id.
const PluginID = "flowlens-clickhouse-datasource"

// Datasource is one configured FlowLens datasource.
type Datasource struct {
	// uid and name identify this datasource in the data links of its frames (a request log row
	// opens its trace with the same datasource).
	uid, name   string
	settings    Settings
	settingsErr error
	client      *clickhouse.Client
	// tagsWriter writes business-tag changes as settings.TagsUsername; nil when none is set.
	tagsWriter *clickhouse.Client
	backend.CallResourceHandler
}

var (
	_ backend.QueryDataHandler      = (*Datasource)(nil)
	_ backend.CheckHealthHandler    = (*Datasource)(nil)
	_ backend.CallResourceHandler   = (*Datasource)(nil)
	_ instancemgmt.InstanceDisposer = (*Datasource)(nil)
)

// NewDatasource is the instance factory given to datasource.Manage. Bad settings do not
// fail here: they are reported by CheckHealth and each query, where the user sees them.
func NewDatasource(_ context.Context, s backend.DataSourceInstanceSettings) (instancemgmt.Instance, error) {
	ds := &Datasource{uid: s.UID, name: s.Name}
	st, err := LoadSettings(s)
	ds.settings = st
	if err == nil {
		ds.client, err = clickhouse.New(ClientConfig(st))
	}
	if err == nil && st.TagsUsername != "" {
		cfg := ClientConfig(st)
		cfg.Username, cfg.Password = st.TagsUsername, st.TagsPassword
		ds.tagsWriter, err = clickhouse.New(cfg)
	}
	if err != nil {
		log.DefaultLogger.Warn("invalid datasource settings", "error", err)
		ds.client = nil
		ds.settingsErr = err
	}
	ds.CallResourceHandler = httpadapter.New(ds.routes())
	return ds, nil
}

// ClientConfig is the ClickHouse client of settings st: the server stops a query at queryTimeout
// (max_execution_time), and the client gives up a few seconds later, so the server's clearer
// error arrives first where the profile lets the limit be sent.
func ClientConfig(st Settings) clickhouse.Config {
	return clickhouse.Config{
		URL: st.URL, Username: st.Username, Password: st.Password,
		Timeout: time.Duration(st.QueryTimeout)*time.Second + clientGrace, MaxExecutionTime: st.QueryTimeout,
		MaxMemoryUsage: st.MaxMemoryUsage, MaxRowsToRead: st.MaxRowsToRead, MaxResultRows: st.MaxResultRows,
		MaxResponseBytes: st.MaxResponseBytes,
	}
}

// clientGrace is how much longer than max_execution_time the HTTP client waits.
const clientGrace = 3 * time.Second

// Dispose is called when the settings change; the HTTP client needs no cleanup.
func (d *Datasource) Dispose() {}

// QueryData runs each query; one query's failure is that query's error only.
func (d *Datasource) QueryData(ctx context.Context, req *backend.QueryDataRequest) (*backend.QueryDataResponse, error) {
	resp := backend.NewQueryDataResponse()
	for _, q := range req.Queries {
		resp.Responses[q.RefID] = d.query(ctx, q)
	}
	return resp, nil
}

func (d *Datasource) query(ctx context.Context, q backend.DataQuery) backend.DataResponse {
	if d.settingsErr != nil {
		return backend.ErrDataResponseWithSource(backend.StatusBadRequest, backend.ErrorSourceDownstream, d.settingsErr.Error())
	}
	m, err := query.Parse(q.JSON)
	if err != nil {
		return backend.ErrDataResponse(backend.StatusBadRequest, err.Error())
	}
	if m.QueryType == "" {
		m.QueryType = q.QueryType
	}
	r := query.Range{From: q.TimeRange.From, To: q.TimeRange.To}
	switch m.QueryType {
	case query.TypeRED, query.TypeMap, query.TypeSQLLog, query.TypeTraceSearch, query.TypeFlameGraph,
		query.TypeFlowLog, query.TypeNetMetrics, query.TypeNetProfile, query.TypeNetProfileSummary, query.TypeAnnotations:
		if err := query.CheckSpan(m.QueryType, r, d.settings.MaxSpan(m.QueryType)); err != nil {
			return backend.ErrDataResponse(backend.StatusBadRequest, err.Error())
		}
	}
	var frames data.Frames
	switch m.QueryType {
	case query.TypeRED:
		frames, err = d.red(ctx, m, r, q.Interval)
	case query.TypeMap:
		frames, err = d.serviceMap(ctx, m, r)
	case query.TypeSQLLog:
		frames, err = d.requestLog(ctx, m, r)
	case query.TypeTraceSearch:
		frames, err = d.traceSearch(ctx, m, r)
	case query.TypeFlameGraph:
		frames, err = d.flameGraph(ctx, q.JSON, r)
	case query.TypeTrace:
		frames, err = d.traceQuery(ctx, q.JSON, r)
	case query.TypeFlowLog:
		frames, err = d.flowLog(ctx, q.JSON, r)
	case query.TypeNetMetrics:
		frames, err = d.edgeSeries(ctx, q.JSON, r, q.Interval, netMetricsKind, query.BuildNetMetrics)
	case query.TypeNetProfile:
		frames, err = d.netProfile(ctx, q.JSON, r)
	case query.TypeNetProfileSummary:
		frames, err = d.edgeSeries(ctx, q.JSON, r, q.Interval, profileSummaryKind, query.BuildNetProfileSummary)
	case query.TypeTriage:
		frames, err = d.triageQuery(ctx, q.JSON, r)
	case query.TypeAnnotations:
		frames, err = d.annotations(ctx, m, r, q.Interval)
	case "":
		return backend.ErrDataResponse(backend.StatusBadRequest, "queryType is missing: use red, map, sql_log, trace, trace_search, flamegraph, flow_log, net_metrics, netprofile, netprofile_summary, triage or annotations")
	default:
		return backend.ErrDataResponse(backend.StatusBadRequest, fmt.Sprintf("unknown queryType %s: use red, map, sql_log, trace, trace_search, flamegraph, flow_log, net_metrics, netprofile, netprofile_summary, triage or annotations", query.Quote(m.QueryType)))
	}
	if err != nil {
		return errorResponse(err)
	}
	return backend.DataResponse{Frames: frames}
}

// badQuery marks errors in the user's query, as opposed to server failures.
type badQuery struct{ error }

func errorResponse(err error) backend.DataResponse {
	var bq badQuery
	if errors.As(err, &bq) {
		return backend.ErrDataResponse(backend.StatusBadRequest, err.Error())
	}
	var le *clickhouse.LimitError
	if errors.As(err, &le) {
		return backend.ErrDataResponseWithSource(backend.StatusBadRequest, backend.ErrorSourceDownstream, err.Error())
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return backend.ErrDataResponseWithSource(backend.StatusTimeout, backend.ErrorSourceDownstream, "the query was cancelled: "+err.Error())
	}
	var ce *clickhouse.ConnectError
	if errors.As(err, &ce) {
		return backend.ErrDataResponseWithSource(backend.StatusBadGateway, backend.ErrorSourceDownstream, err.Error())
	}
	var che *clickhouse.Error
	if errors.As(err, &che) {
		return backend.ErrDataResponseWithSource(backend.StatusBadGateway, backend.ErrorSourceDownstream, err.Error())
	}
	return backend.ErrDataResponse(backend.StatusInternal, err.Error())
}

func (d *Datasource) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/ping", d.handlePing)
	mux.HandleFunc("/schema", d.handleSchema)
	mux.HandleFunc("/services", d.handleServices)
	mux.HandleFunc("/profile-values", d.handleProfileValues)
	mux.HandleFunc("/values", d.handleValues)
	mux.HandleFunc("/tags", d.handleBusinessTags)
	mux.HandleFunc("/tag-values", d.handleTagValues)
	return mux
}
