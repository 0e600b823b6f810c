package plugin

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/flowlens/flowlens/pkg/clickhouse"
	"github.com/flowlens/flowlens/pkg/converters"
	"github.com/flowlens/flowlens/pkg/query"
)

// unknownService names the node of rows whose service the agent could not name.
const unknownService = "(unknown)"

// mapEdge is one client→server row of the map query.
type mapEdge struct {
	client, server             string
	requests, errors           int64
	durationSumUs, durationMax int64
	protocols                  []string
	net                        *edgeNet                // TCP health from net_metrics, nil where the edge had no flows
	points                     map[string]pointLatency // each observation point's latency (request logs), nil where unknown
}

// nodeTotals aggregates the edges that end (inbound) or start (outbound) at a service.
type nodeTotals struct {
	id                         string
	requests, errors           int64 // inbound: requests this service served
	durationSumUs, durationMax int64
	outbound                   int64 // requests this service made
	protocols                  map[string]bool
}

func (d *Datasource) serviceMap(ctx context.Context, m *query.Model, r query.Range) (data.Frames, error) {
	st, err := query.BuildMap(d.settings.Database, m, r)
	if err != nil {
		return nil, badQuery{err}
	}
	res, err := d.client.Query(ctx, st.SQL)
	if err != nil {
		return nil, err
	}
	// Rates are per second of the requested range (at least one second).
	seconds := max(r.To.Sub(r.From).Seconds(), 1)
	edges, err := mapEdges(res)
	if err != nil {
		return nil, err
	}
	var net map[[2]string]*edgeNet
	var points map[[2]string]map[string]pointLatency
	var netSQL, pointsSQL string
	if len(m.GroupBy) == 0 { // a map grouped by a tag shows RED alone (withNetHealth)
		if net, netSQL, err = d.edgeHealth(ctx, m, r); err != nil {
			return nil, err
		}
		if points, pointsSQL, err = d.edgePoints(ctx, m, r); err != nil {
			return nil, err
		}
	}
	sql := st.SQL
	for _, more := range []string{netSQL, pointsSQL} {
		if more != "" {
			sql += ";\n" + more
		}
	}
	edges = withNetHealth(edges, net, m)
	for i := range edges {
		edges[i].points = points[[2]string{edges[i].client, edges[i].server}]
	}
	frames := nodeGraph(edges, seconds, sql)
	d.mapLinks(frames, m)
	return frames, nil
}

func nodeID(s string) string {
	if s == "" {
		return unknownService
	}
	return s
}

// mapFrames builds Grafana's node-graph frames "nodes" and "edges" from edge rows.
func mapFrames(res *clickhouse.Result, seconds float64, sql string) (data.Frames, error) {
	edges, err := mapEdges(res)
	if err != nil {
		return nil, err
	}
	return nodeGraph(edges, seconds, sql), nil
}

// mapEdges reads the map query's edge rows.
func mapEdges(res *clickhouse.Result) ([]mapEdge, error) {
	edges := make([]mapEdge, 0, len(res.Data))
	for i, row := range res.Data {
		if len(row) < 7 {
			return nil, fmt.Errorf("map row %d has %d columns, want 7", i, len(row))
		}
		e := mapEdge{client: nodeID(converters.String(row[0])), server: nodeID(converters.String(row[1]))}
		var err error
		if e.requests, err = converters.Int64(row[2]); err == nil {
			if e.errors, err = converters.Int64(row[3]); err == nil {
				if e.durationSumUs, err = converters.Int64(row[4]); err == nil {
					e.durationMax, err = converters.Int64(row[5])
				}
			}
		}
		if err != nil {
			return nil, fmt.Errorf("map row %d: %w", i, err)
		}
		e.protocols = converters.Strings(row[6])
		sort.Strings(e.protocols)

		edges = append(edges, e)
	}
	return edges, nil
}

func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func nodeGraph(edges []mapEdge, seconds float64, sql string) data.Frames {
	nodes := map[string]*nodeTotals{}
	node := func(id string) *nodeTotals {
		if nodes[id] == nil {
			nodes[id] = &nodeTotals{id: id, protocols: map[string]bool{}}
		}
		return nodes[id]
	}
	n := len(edges)
	eID, eSrc, eDst := make([]string, n), make([]string, n), make([]string, n)
	eRate, eLat := make([]float64, n), make([]float64, n)
	eReq, eErr := make([]int64, n), make([]int64, n)
	eErrRate, eErrRatio, eMax := make([]float64, n), make([]float64, n), make([]float64, n)
	eProto := make([]string, n)
	eRetrans, eRST, eFailed, eZero := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
	eRetransRatio, eRTT := make([]*float64, n), make([]*float64, n)
	eHealth, eUnhealthy := make([]string, n), make([]bool, n)
	ePoint := map[string][]*float64{}
	for _, p := range stackPoints {
		ePoint[p] = make([]*float64, n)
	}
	eInClient, eInNetwork, eInServer := make([]*float64, n), make([]*float64, n), make([]*float64, n)
	for i, e := range edges {
		for _, p := range stackPoints {
			if v, ok := e.points[p].meanMs(); ok {
				ePoint[p][i] = &v
			}
		}
		if len(e.points) > 1 {
			sp := splitTime(e.points)
			eInClient[i], eInNetwork[i], eInServer[i] = sp.client, sp.network, sp.server
		}
		if h := e.net; h != nil {
			eRetrans[i], eRST[i], eFailed[i], eZero[i] = h.retrans, h.rsts, h.failed, h.zeroWindows
			eRetransRatio[i], eRTT[i] = h.retransRatio(), h.rttMs()
			eHealth[i] = h.verdict()
			eUnhealthy[i] = eHealth[i] != "ok"
		}
		eID[i], eSrc[i], eDst[i] = e.client+"->"+e.server, e.client, e.server
		eReq[i], eErr[i] = e.requests, e.errors
		eRate[i] = float64(e.requests) / seconds
		eErrRate[i] = float64(e.errors) / seconds
		eErrRatio[i] = ratio(e.errors, e.requests)
		eLat[i] = ratio(e.durationSumUs, e.requests) / 1000
		eMax[i] = float64(e.durationMax) / 1000
		eProto[i] = strings.Join(e.protocols, ", ")

		s := node(e.server)
		s.requests += e.requests
		s.errors += e.errors
		s.durationSumUs += e.durationSumUs
		s.durationMax = max(s.durationMax, e.durationMax)
		for _, p := range e.protocols {
			s.protocols[p] = true
		}
		node(e.client).outbound += e.requests
	}
	meta := func() *data.FrameMeta {
		return &data.FrameMeta{PreferredVisualization: data.VisTypeNodeGraph, ExecutedQueryString: sql}
	}
	edgeFrame := data.NewFrame("edges",
		data.NewField("id", nil, eID),
		data.NewField("source", nil, eSrc),
		data.NewField("target", nil, eDst),
		withConfig(data.NewField("mainstat", nil, eRate), "Requests/s", "reqps"),
		withConfig(data.NewField("secondarystat", nil, eLat), "Avg latency", "ms"),
		withConfig(data.NewField("detail__requests", nil, eReq), "Requests", "short"),
		withConfig(data.NewField("detail__errors", nil, eErr), "Errors", "short"),
		withConfig(data.NewField("detail__error_rate", nil, eErrRate), "Errors/s", "reqps"),
		withConfig(data.NewField("detail__error_ratio", nil, eErrRatio), "Error ratio", "percentunit"),
		withConfig(data.NewField("detail__latency_max", nil, eMax), "Max latency", "ms"),
		withConfig(data.NewField("detail__protocols", nil, eProto), "Protocols", ""),
		withConfig(data.NewField("detail__network", nil, eHealth), "Network", ""),
		withConfig(data.NewField("detail__retransmissions", nil, eRetrans), "Retransmissions", "short"),
		withConfig(data.NewField("detail__retrans_ratio", nil, eRetransRatio), "Retransmitted", "percentunit"),
		withConfig(data.NewField("detail__rsts", nil, eRST), "RSTs", "short"),
		withConfig(data.NewField("detail__conn_failed", nil, eFailed), "Failed connections", "short"),
		withConfig(data.NewField("detail__zero_windows", nil, eZero), "Zero windows", "short"),
		withConfig(data.NewField("detail__rtt_avg", nil, eRTT), "Avg RTT", "ms"),
		// the full-stack latency: the mean each observation point saw, and where the time goes
		withConfig(data.NewField("detail__latency_client_process", nil, ePoint[pointClientProcess]), "Latency at client process", "ms"),
		withConfig(data.NewField("detail__latency_client_nic", nil, ePoint[pointClientNIC]), "Latency at client NIC", "ms"),
		withConfig(data.NewField("detail__latency_server_nic", nil, ePoint[pointServerNIC]), "Latency at server NIC", "ms"),
		withConfig(data.NewField("detail__latency_server_process", nil, ePoint[pointServerProcess]), "Latency at server process", "ms"),
		withConfig(data.NewField("detail__time_in_client", nil, eInClient), "Time in client", "ms"),
		withConfig(data.NewField("detail__time_in_network", nil, eInNetwork), "Time on the path", "ms"),
		withConfig(data.NewField("detail__time_in_server", nil, eInServer), "Time in server", "ms"),
		// Grafana's node graph draws a highlighted edge in its highlight colour: the unhealthy network edges
		data.NewField("highlighted", nil, eUnhealthy),
	)
	edgeFrame.Meta = meta()

	ids := make([]string, 0, len(nodes))
	for id := range nodes {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	k := len(ids)
	nID, nSub := make([]string, k), make([]string, k)
	nRate, nLat, nOK, nErrArc := make([]float64, k), make([]float64, k), make([]float64, k), make([]float64, k)
	nReq, nErr, nOut := make([]int64, k), make([]int64, k), make([]int64, k)
	nErrRatio, nMax := make([]float64, k), make([]float64, k)
	for i, id := range ids {
		t := nodes[id]
		protos := make([]string, 0, len(t.protocols))
		for p := range t.protocols {
			protos = append(protos, p)
		}
		sort.Strings(protos)
		nID[i], nSub[i] = id, strings.Join(protos, ", ")
		nReq[i], nErr[i], nOut[i] = t.requests, t.errors, t.outbound
		nRate[i] = float64(t.requests) / seconds
		nLat[i] = ratio(t.durationSumUs, t.requests) / 1000
		nMax[i] = float64(t.durationMax) / 1000
		nErrRatio[i] = ratio(t.errors, t.requests)
		// The arc sections must add up to 1; a pure client (served nothing) gets none.
		if t.requests > 0 {
			nErrArc[i] = nErrRatio[i]
			nOK[i] = 1 - nErrRatio[i]
		}
	}
	nodeFrame := data.NewFrame("nodes",
		data.NewField("id", nil, nID),
		data.NewField("title", nil, append([]string(nil), nID...)),
		data.NewField("subtitle", nil, nSub),
		withConfig(data.NewField("mainstat", nil, nRate), "Requests/s served", "reqps"),
		withConfig(data.NewField("secondarystat", nil, nLat), "Avg latency", "ms"),
		withColor(data.NewField("arc__success", nil, nOK), "Success", "green"),
		withColor(data.NewField("arc__errors", nil, nErrArc), "Errors", "red"),
		withConfig(data.NewField("detail__requests", nil, nReq), "Requests served", "short"),
		withConfig(data.NewField("detail__errors", nil, nErr), "Errors", "short"),
		withConfig(data.NewField("detail__error_ratio", nil, nErrRatio), "Error ratio", "percentunit"),
		withConfig(data.NewField("detail__latency_max", nil, nMax), "Max latency", "ms"),
		withConfig(data.NewField("detail__outbound_requests", nil, nOut), "Requests made", "short"),
	)
	nodeFrame.Meta = meta()
	return data.Frames{nodeFrame, edgeFrame}
}

func withConfig(f *data.Field, displayName, unit string) *data.Field {
	f.Config = &data.FieldConfig{DisplayName: displayName, Unit: unit}
	return f
}

func withColor(f *data.Field, displayName, color string) *data.Field {
	f.Config = &data.FieldConfig{DisplayName: displayName, Color: map[string]interface{}{"mode": "fixed", "fixedColor": color}}
	return f
}
