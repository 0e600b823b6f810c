package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/flowlens/flowlens/pkg/clickhouse"
	"github.com/flowlens/flowlens/pkg/converters"
	"github.com/flowlens/flowlens/pkg/query"
)

// flowHints turn l4_flow_log's raw columns into Grafana-friendly fields; ports and ids are text so
// a data link passes them exactly (a string field's display text is its value).
var flowHints = map[string]converters.Hint{
	"time_unix":     {Name: "time", Kind: converters.UnixSeconds},
	"start_time_us": {Name: "start_time", Kind: converters.UnixMicros},
	"end_time_us":   {Name: "end_time", Kind: converters.UnixMicros},
	"flow_id":       {Kind: converters.Text},
	"client_port":   {Kind: converters.Text},
	"server_port":   {Kind: converters.Text},
}

// flowUnits are the display units of the flow-log fields that have one.
var flowUnits = map[string]string{
	"byte_tx": "decbytes", "byte_rx": "decbytes", "rtt_us": "µs", "syn_latency_us": "µs", "rtt_avg_us": "µs",
}

func (d *Datasource) flowLog(ctx context.Context, raw []byte, r query.Range) (data.Frames, error) {
	m, err := query.ParseNet(raw)
	if err != nil {
		return nil, badQuery{err}
	}
	var res *clickhouse.Result
	var runErr error
	st, err := query.SearchFlowLog(d.settings.Database, m, r, func(st *query.Statement) (int, error) {
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
	f, err := converters.Frame("flows", res, flowHints)
	if err != nil {
		return nil, err
	}
	for _, fld := range f.Fields {
		if u, ok := flowUnits[fld.Name]; ok {
			fld.Config = &data.FieldConfig{Unit: u}
		}
	}
	if len(m.GroupBy) == 1 {
		return flowGroupsFrame(f, m.GroupBy[0], st), nil
	}
	d.flowLinks(f)
	if m.Format == query.FormatLogs {
		if f, err = flowLogLines(f); err != nil {
			return nil, err
		}
		f.Meta = &data.FrameMeta{Type: data.FrameTypeLogLines, TypeVersion: data.FrameTypeVersion{0, 0},
			PreferredVisualization: data.VisTypeLogs, ExecutedQueryString: st.SQL}
	} else {
		f.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeTable, ExecutedQueryString: st.SQL}
	}
	if st.RequestedLimit > 0 {
		f.Meta.Notices = append(f.Meta.Notices, data.Notice{Severity: data.NoticeSeverityWarning,
			Text: fmt.Sprintf("limit %d is above the maximum %d: at most %d flows are shown", st.RequestedLimit, query.MaxFlowLogLimit, query.MaxFlowLogLimit)})
	}
	if n, _ := f.RowLen(); n >= st.Limit {
		f.Meta.Notices = append(f.Meta.Notices, data.Notice{Severity: data.NoticeSeverityWarning,
			Text: fmt.Sprintf("showing the newest %d flows only (limit %d, at most %d): narrow the time range or filters", n, st.Limit, query.MaxFlowLogLimit)})
	}
	return data.Frames{f}, nil
}

// flowGroupsFrame is the table of flow_log grouped by tag: its ends' fields named client_<tag> and
// server_<tag> (the series labels of net_metrics grouped alike).
func flowGroupsFrame(f *data.Frame, tag string, st *query.Statement) data.Frames {
	for _, fld := range f.Fields {
		if fld.Name == "client" || fld.Name == "server" {
			fld.Name += "_" + tag
		}
	}
	f.Name = "flows by " + tag
	f.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeTable, ExecutedQueryString: st.SQL}
	if n, _ := f.RowLen(); n >= st.Limit {
		f.Meta.Notices = append(f.Meta.Notices, data.Notice{Severity: data.NoticeSeverityWarning,
			Text: fmt.Sprintf("showing the %d tag pairs with the most flows only (limit %d, at most %d): narrow the time range or filters", n, st.Limit, query.MaxFlowLogLimit)})
	}
	return data.Frames{f}
}

// flowLinkFields are the fields of a flow row that carry its links: its network profile and the
// request logs of its connection, both with this datasource over the flow's own time (a minute either
// side: timelines are written at close, when idle and every 60 s).
func (d *Datasource) flowLinks(f *data.Frame) {
	ends := map[string]any{
		"client_ip": "${__data.fields.client_ip}", "client_port": "${__data.fields.client_port}",
		"server_ip": "${__data.fields.server_ip}", "server_port": "${__data.fields.server_port}",
	}
	profile := map[string]any{"queryType": query.TypeNetProfile}
	logs := map[string]any{"queryType": query.TypeSQLLog, "format": query.FormatLogs, "observation_point": query.ObsAll}
	for k, v := range ends {
		profile[k], logs[k] = v, v
	}
	for _, fld := range f.Fields {
		if fld.Name != "flow_id" {
			continue
		}
		addLinks(fld, d.internalLink("Network profile of this flow", profile), d.internalLink("Request logs of this flow", logs))
	}
}

// FlowSeverity is the log level of a flow: failed or reset flows are errors, lossy or stalled ones
// (retransmissions, zero windows) warnings.
func FlowSeverity(connFailed bool, closeType string, retrans, zeroWindows int64) string {
	switch {
	case connFailed || closeType == "connect_failed" || closeType == "timeout" || strings.HasPrefix(closeType, "reset_by_"):
		return "error"
	case retrans > 0 || zeroWindows > 0:
		return "warning"
	}
	return "info"
}

// FlowBody is the log line of one flow: its ends, how it closed, its volume and its health.
func FlowBody(clientSvc, clientIP, clientPort, serverSvc, serverIP, serverPort, closeType string, byteTx, byteRx, rttUs, retrans, zeroWindows, rsts int64, rstSender, obs string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s:%s -> %s %s:%s %s: %d B sent, %d B received, rtt %s ms",
		firstNonEmpty(clientSvc, "?"), clientIP, clientPort, firstNonEmpty(serverSvc, "?"), serverIP, serverPort, closeType,
		byteTx, byteRx, strconv.FormatFloat(float64(rttUs)/1000, 'f', -1, 64))
	if retrans > 0 {
		fmt.Fprintf(&b, ", %d retransmissions", retrans)
	}
	if zeroWindows > 0 {
		fmt.Fprintf(&b, ", %d zero windows", zeroWindows)
	}
	if rsts > 0 {
		fmt.Fprintf(&b, ", %d RST from the %s", rsts, firstNonEmpty(rstSender, "?"))
	}
	fmt.Fprintf(&b, " (at %s)", obs)
	return b.String()
}

// flowLogLabels are the flow-log columns a log line carries as labels, label name → column.
var flowLogLabels = [][2]string{
	{"service", "server_service"}, {"client_service", "client_service"}, {"close_type", "close_type"},
	{"rst_sender", "rst_sender"}, {"observation_point", "observation_point"}, {"host", "host"},
}

// flowLogLines turns the flow-log table into Grafana's log-lines frame (timestamp = the flow's
// end, body, severity, id = flow_id and point, labels), then every column of the table for the
// line's details and the links.
func flowLogLines(t *data.Frame) (*data.Frame, error) {
	cols := map[string]*data.Field{}
	for _, fld := range t.Fields {
		cols[fld.Name] = fld
	}
	str := func(name string, i int) string { return converters.String(cols[name].At(i)) }
	num := func(name string, i int) int64 {
		v, _ := converters.Int64(cols[name].At(i))
		return v
	}
	n := t.Rows()
	ts, body, sev, id, labels := make([]time.Time, n), make([]string, n), make([]string, n), make([]string, n), make([]json.RawMessage, n)
	for i := 0; i < n; i++ {
		ts[i] = cols["end_time"].At(i).(time.Time)
		body[i] = FlowBody(str("client_service", i), str("client_ip", i), str("client_port", i), str("server_service", i), str("server_ip", i),
			str("server_port", i), str("close_type", i), num("byte_tx", i), num("byte_rx", i), num("rtt_us", i), num("retrans_count", i),
			num("zero_window_count", i), num("rst_count", i), str("rst_sender", i), str("observation_point", i))
		sev[i] = FlowSeverity(num("conn_failed", i) == 1, str("close_type", i), num("retrans_count", i), num("zero_window_count", i))
		id[i] = str("flow_id", i) + "@" + str("observation_point", i) + "@" + strconv.FormatInt(ts[i].UnixMicro(), 10)
		lb := map[string]string{}
		for _, l := range flowLogLabels {
			if v := str(l[1], i); v != "" {
				lb[l[0]] = v
			}
		}
		raw, err := json.Marshal(lb)
		if err != nil {
			return nil, err
		}
		labels[i] = raw
	}
	f := newLogLines(t.Name, ts, body, sev, id, labels)
	f.Fields = append(f.Fields, t.Fields...)
	return f, nil
}

// netMetricInfo says how each network metric is displayed.
var netMetricInfo = map[string]seriesInfo{
	query.NetMetricByteRate:       {"bytes", "Bps"},
	query.NetMetricRetransRate:    {"retransmissions", "short"},
	query.NetMetricRetransRatio:   {"retransmission ratio", "percentunit"},
	query.NetMetricRSTRate:        {"RSTs", "short"},
	query.NetMetricConnFailedRate: {"failed connections", "short"},
	query.NetMetricZeroWindowRate: {"zero windows", "short"},
	query.NetMetricRTTAvg:         {"avg RTT", "ms"},
}

// seriesInfo is how a metric's series is titled and displayed.
type seriesInfo struct{ title, unit string }

// edgeSeriesKind is one query type of per-edge time series (net_metrics, netprofile_summary): the
// aggregates its rows carry after (bucket, client, server, point), its metrics and how each metric's
// value is computed from a bucket's aggregates (get names one; 0 where the edge had no row).
type edgeSeriesKind struct {
	queryType string
	columns   []string
	metrics   []string
	info      map[string]seriesInfo
	value     func(metric string, get func(string) float64, bucket int64) *float64
}

var netMetricsKind = edgeSeriesKind{query.TypeNetMetrics, query.NetMetricsColumns, query.NetMetrics, netMetricInfo, netValue}

// netEdge names one series of the network metrics: a client→server pair (and the observation
// point, outside the preferred mode).
type netEdge struct{ client, server, point string }

// edgeSeries answers a per-edge time-series query (net_metrics, netprofile_summary): the model,
// its statement from build, the kind's frames.
func (d *Datasource) edgeSeries(ctx context.Context, raw []byte, r query.Range, interval time.Duration, kind edgeSeriesKind,
	build func(string, *query.NetModel, query.Range, int64) (*query.Statement, error)) (data.Frames, error) {
	m, err := query.ParseNet(raw)
	if err != nil {
		return nil, badQuery{err}
	}
	bucket := query.Bucket(interval, r)
	m.MaxSeries = d.settings.MaxSeries
	st, err := build(d.settings.Database, m, r, bucket)
	if err != nil {
		return nil, badQuery{err}
	}
	res, err := d.client.Query(ctx, st.SQL)
	if err != nil {
		return nil, err
	}
	ends := [2]string{"client_service", "server_service"}
	if len(m.GroupBy) == 1 {
		ends = [2]string{"client_" + m.GroupBy[0], "server_" + m.GroupBy[0]}
	}
	return edgeSeriesFrames(kind, res, st, m.Metric, ends, r)
}

// edgeSeriesFrames turns (bucket, client, server, point, aggregates...) rows into time-series-multi
// frames, one per (edge, metric), labelled {metric, ends[0], ends[1][, observation_point]} (the ends'
// labels: client_service and server_service, or client_<tag> and server_<tag> grouped by a tag; the metric a label too, so every series of the answer has labels of its own, as RED's), every
// bucket of the range present (the kind's value: rates 0, means null where nothing happened).
func edgeSeriesFrames(kind edgeSeriesKind, res *clickhouse.Result, st *query.Statement, metric string, ends [2]string, r query.Range) (data.Frames, error) {
	nCols := 4 + len(kind.columns)
	rows := map[netEdge]map[int64][]int64{}
	for i, row := range res.Data {
		if len(row) < nCols {
			return nil, fmt.Errorf("%s row %d has %d columns, want %d", kind.queryType, i, len(row), nCols)
		}
		t, err := converters.Int64(row[0])
		if err != nil {
			return nil, fmt.Errorf("%s row %d: %w", kind.queryType, i, err)
		}
		sums := make([]int64, len(kind.columns))
		for j := range sums {
			if sums[j], err = converters.Int64(row[4+j]); err != nil {
				return nil, fmt.Errorf("%s row %d: %w", kind.queryType, i, err)
			}
		}
		e := netEdge{converters.String(row[1]), converters.String(row[2]), converters.String(row[3])}
		if rows[e] == nil {
			rows[e] = map[int64][]int64{}
		}
		rows[e][t] = sums
	}
	if len(res.Data) > st.Limit || len(rows) > st.MaxSeries {
		return nil, badQuery{fmt.Errorf("%s: more than %d client→server edges (series) in the time range, the limit is %d (datasource setting maxSeries): "+
			"filter by service, client_service, server_port or host", kind.queryType, st.MaxSeries, st.MaxSeries)}
	}
	metrics := kind.metrics
	if metric != "" && metric != query.MetricAll {
		metrics = []string{metric}
	}
	edges := make([]netEdge, 0, len(rows))
	for e := range rows {
		edges = append(edges, e)
	}
	sort.Slice(edges, func(i, j int) bool {
		a, b := edges[i], edges[j]
		if a.client != b.client {
			return a.client < b.client
		}
		if a.server != b.server {
			return a.server < b.server
		}
		return a.point < b.point
	})
	times := bucketTimes(r, st.BucketSeconds)
	meta := seriesMeta(st.SQL)
	col := map[string]int{}
	for i, c := range kind.columns {
		col[c] = i
	}
	var frames data.Frames
	for _, e := range edges {
		labels := data.Labels{ends[0]: e.client, ends[1]: e.server}
		title := nodeID(e.client) + " → " + nodeID(e.server)
		if e.point != "" {
			labels["observation_point"] = e.point
			title += " at " + e.point
		}
		for _, name := range metrics {
			values := make([]*float64, len(times))
			for i, t := range times {
				sums := rows[e][t.Unix()]
				get := func(c string) float64 {
					if sums == nil {
						return 0
					}
					return float64(sums[col[c]])
				}
				values[i] = kind.value(name, get, st.BucketSeconds)
			}
			info := kind.info[name]
			l := data.Labels{query.MetricLabel: name}
			for k, v := range labels {
				l[k] = v
			}
			frames = append(frames, seriesFrame(name, l, title+" "+info.title, info.unit, times, values, meta))
		}
	}
	if len(frames) == 0 {
		frames = append(frames, noSeries(meta))
	}
	return frames, nil
}

func netValue(metric string, get func(string) float64, bucket int64) *float64 {
	perSecond := func(c string) *float64 { v := get(c) / float64(bucket); return &v }
	switch metric {
	case query.NetMetricByteRate:
		v := (get("byte_tx") + get("byte_rx")) / float64(bucket)
		return &v
	case query.NetMetricRetransRate:
		return perSecond("retrans_count")
	case query.NetMetricRSTRate:
		return perSecond("rst_count")
	case query.NetMetricConnFailedRate:
		return perSecond("conn_failed_count")
	case query.NetMetricZeroWindowRate:
		return perSecond("zero_window_count")
	case query.NetMetricRetransRatio:
		segments := get("packet_tx") + get("packet_rx")
		if segments == 0 {
			return nil
		}
		v := get("retrans_count") / segments
		return &v
	case query.NetMetricRTTAvg:
		if get("rtt_count") == 0 {
			return nil
		}
		v := get("rtt_sum_us") / get("rtt_count") / 1000
		return &v
	}
	return nil
}

// profileSummaryInfo says how each network-profile summary metric is displayed.
var profileSummaryInfo = map[string]seriesInfo{
	query.ProfileMetricConnAvg:           {"avg connection establishment", "ms"},
	query.ProfileMetricConnMax:           {"max connection establishment", "ms"},
	query.ProfileMetricAckAvg:            {"avg system (ACK) latency", "ms"},
	query.ProfileMetricAckMax:            {"max system (ACK) latency", "ms"},
	query.ProfileMetricServerResponseAvg: {"avg server response", "ms"},
	query.ProfileMetricServerResponseMax: {"max server response", "ms"},
	query.ProfileMetricClientWaitAvg:     {"avg client wait", "ms"},
	query.ProfileMetricClientWaitMax:     {"max client wait", "ms"},
}

var profileSummaryKind = edgeSeriesKind{query.TypeNetProfileSummary, query.ProfileSummaryColumns, query.ProfileMetrics, profileSummaryInfo, profileSummaryValue}

// profileSummaryValue is a latency's mean or largest sample in the bucket, ms; null without a sample.
func profileSummaryValue(metric string, get func(string) float64, _ int64) *float64 {
	latency := strings.TrimSuffix(strings.TrimSuffix(metric, "_avg"), "_max")
	stat := strings.TrimPrefix(metric, latency+"_")
	prefix := map[string]string{"conn_latency": "conn", "ack_latency": "ack", "server_response": "server_response", "client_wait": "client_wait"}[latency]
	if prefix == "" || get(prefix+"_samples") == 0 {
		return nil
	}
	v := get(prefix+"_max_us") / 1000
	if stat == "avg" {
		v = get(prefix+"_sum_us") / get(prefix+"_samples") / 1000
	}
	return &v
}
