package plugin

import (
	"context"
	"errors"
	"fmt"

	"github.com/flowlens/flowlens/pkg/clickhouse"
	"github.com/flowlens/flowlens/pkg/converters"
	"github.com/flowlens/flowlens/pkg/query"
)

// Observation points of a call, from the client's process to the server's, as a request crosses them.
const (
	pointClientProcess = "client_process"
	pointClientNIC     = "client_nic"
	pointServerNIC     = "server_nic"
	pointServerProcess = "server_process"
)

// stackPoints are the points whose latency the map puts on an edge, in the order a request crosses them.
var stackPoints = query.MapPointObservations

// pointLatency is what one observation point saw of an edge's calls over the range.
type pointLatency struct{ requests, sumUs int64 }

// meanMs is the point's mean latency, false where it saw no request.
func (p pointLatency) meanMs() (float64, bool) {
	if p.requests == 0 {
		return 0, false
	}
	return float64(p.sumUs) / float64(p.requests) / 1000, true
}

// edgePoints reads each edge's latency per observation point over the map's range (query.BuildMapPoints),
// keyed like edgeHealth's answer; nil without request logs, or over a range longer than request logs
// are searched (the datasource's sql_log span).
func (d *Datasource) edgePoints(ctx context.Context, m *query.Model, r query.Range) (map[[2]string]map[string]pointLatency, string, error) {
	if r.To.Sub(r.From) > d.settings.MaxSpan(query.TypeSQLLog) {
		return nil, "", nil
	}
	st, err := query.BuildMapPoints(d.settings.Database, m, r)
	if err != nil {
		return nil, "", err
	}
	res, err := d.client.Query(ctx, st.SQL)
	var che *clickhouse.Error
	if errors.As(err, &che) && che.Code == 60 {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	out := map[[2]string]map[string]pointLatency{}
	for i, row := range res.Data {
		if len(row) < 5 {
			return nil, "", fmt.Errorf("map points row %d has %d columns, want 5", i, len(row))
		}
		var p pointLatency
		if p.requests, err = converters.Int64(row[3]); err == nil {
			p.sumUs, err = converters.Int64(row[4])
		}
		if err != nil {
			return nil, "", fmt.Errorf("map points row %d: %w", i, err)
		}
		k := [2]string{nodeID(converters.String(row[0])), nodeID(converters.String(row[1]))}
		if out[k] == nil {
			out[k] = map[string]pointLatency{}
		}
		out[k][converters.String(row[2])] = p
	}
	return out, st.SQL, nil
}

// timeSplit is where an edge's time goes, from the mean latency at each point that saw its calls:
// in the server (below the outermost server-side point: its NIC, else its process), in the client
// (between the client's process and its NIC) and on the path between (the client's outermost point
// minus the server's; with no NIC that includes both kernels). A part is nil where the points that
// bound it are missing; negative differences (different samples per point) are 0.
type timeSplit struct{ client, network, server *float64 }

func splitTime(points map[string]pointLatency) timeSplit {
	at := func(p string) (float64, bool) { return points[p].meanMs() }
	var out timeSplit
	server, ok := at(pointServerNIC)
	if !ok {
		server, ok = at(pointServerProcess)
	}
	cp, hasCP := at(pointClientProcess)
	cn, hasCN := at(pointClientNIC)
	if !ok || (!hasCP && !hasCN) {
		return out // the server's or the client's side unseen: no split
	}
	nonNeg := func(v float64) *float64 { v = max(v, 0); return &v }
	out.server = nonNeg(server)
	if hasCP && hasCN {
		out.client = nonNeg(cp - cn)
	}
	if hasCN {
		out.network = nonNeg(cn - server)
	} else {
		out.network = nonNeg(cp - server)
	}
	return out
}
