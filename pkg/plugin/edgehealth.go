package plugin

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/flowlens/flowlens/pkg/clickhouse"
	"github.com/flowlens/flowlens/pkg/converters"
	"github.com/flowlens/flowlens/pkg/query"
)

// Unhealthy network edges: a share of retransmitted segments at or above MaxRetransRatio, or any
// failed connection, RST or zero window in the range.
const MaxRetransRatio = 0.01

// edgeNet is the TCP health of one client→server edge over the map's range (net_metrics).
type edgeNet struct {
	segments, retrans, rsts, failed, zeroWindows, rttSumUs, rttCount int64
}

func (h *edgeNet) retransRatio() *float64 {
	if h.segments == 0 {
		return nil
	}
	v := float64(h.retrans) / float64(h.segments)
	return &v
}

func (h *edgeNet) rttMs() *float64 {
	if h.rttCount == 0 {
		return nil
	}
	v := float64(h.rttSumUs) / float64(h.rttCount) / 1000
	return &v
}

// verdict is "ok" or what makes the edge unhealthy, worst first.
func (h *edgeNet) verdict() string {
	var why []string
	if h.failed > 0 {
		why = append(why, counted(h.failed, "failed connection", "failed connections"))
	}
	if r := h.retransRatio(); r != nil && *r >= MaxRetransRatio {
		why = append(why, fmt.Sprintf("%.1f%% retransmitted", *r*100))
	}
	if h.rsts > 0 {
		why = append(why, counted(h.rsts, "RST", "RSTs"))
	}
	if h.zeroWindows > 0 {
		why = append(why, counted(h.zeroWindows, "zero window", "zero windows"))
	}
	if len(why) == 0 {
		return "ok"
	}
	return strings.Join(why, ", ")
}

// counted is "1 RST", "3 RSTs".
func counted[N ~int | ~int64 | ~uint64 | ~uint32](n N, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

// edgeHealth reads each client→server edge's TCP health over the range (of the map's tag filters): the net_metrics query in
// one bucket (its preferred mode: each edge at its best observation point, retransmissions and zero
// windows over both ends).
func (d *Datasource) edgeHealth(ctx context.Context, m *query.Model, r query.Range) (map[[2]string]*edgeNet, string, error) {
	// one bucket: intDiv(time, 2^32-1) is 0 for every DateTime
	st, err := query.BuildNetMetrics(d.settings.Database, &query.NetModel{QueryType: query.TypeNetMetrics, MaxSeries: query.MaxEdges, Tags: m.Tags}, r, math.MaxUint32)
	if err != nil {
		return nil, "", err
	}
	res, err := d.client.Query(ctx, st.SQL)
	var che *clickhouse.Error
	if errors.As(err, &che) && che.Code == 60 {
		return nil, "", nil // no net_metrics table (an agent without flow logs): the map without TCP health
	}
	if err != nil {
		return nil, "", err
	}
	col := map[string]int{}
	for i, c := range query.NetMetricsColumns {
		col[c] = 4 + i
	}
	out := map[[2]string]*edgeNet{}
	for i, row := range res.Data {
		if len(row) < 4+len(query.NetMetricsColumns) {
			return nil, "", fmt.Errorf("net_metrics row %d has %d columns", i, len(row))
		}
		v := func(c string) int64 {
			n, _ := converters.Int64(row[col[c]])
			return n
		}
		out[[2]string{nodeID(converters.String(row[1])), nodeID(converters.String(row[2]))}] = &edgeNet{
			segments: v("packet_tx") + v("packet_rx"), retrans: v("retrans_count"), rsts: v("rst_count"),
			failed: v("conn_failed_count"), zeroWindows: v("zero_window_count"), rttSumUs: v("rtt_sum_us"), rttCount: v("rtt_count"),
		}
	}
	return out, st.SQL, nil
}

// withNetHealth puts each edge's TCP health on it, and adds the edges that only the network saw
// (connections that never carried a parsed request: refused connects, unknown protocols) unless the
// map is filtered by protocol or endpoint, which such edges have none of.
//
// A map filtered by tags keeps service nodes: its health is read with the same tag filter (edgeHealth),
// so a network-only edge it adds has an end with the tags too. A map grouped by a tag names its
// nodes by tag values while net_metrics knows services: it shows RED alone (health keyed by service
// would land on a node of the same name by chance).
func withNetHealth(edges []mapEdge, net map[[2]string]*edgeNet, m *query.Model) []mapEdge {
	if len(m.GroupBy) > 0 {
		return edges
	}
	seen := map[[2]string]bool{}
	for i := range edges {
		k := [2]string{edges[i].client, edges[i].server}
		edges[i].net, seen[k] = net[k], true
	}
	if len(m.L7Protocol) > 0 || len(m.Endpoint) > 0 {
		return edges
	}
	in := func(v string, set query.Values) bool {
		for _, x := range set {
			if nodeID(x) == v {
				return true
			}
		}
		return false
	}
	var extra []mapEdge
	for k, h := range net {
		if seen[k] || (len(m.Service) > 0 && !in(k[0], m.Service) && !in(k[1], m.Service)) || (len(m.ClientService) > 0 && !in(k[0], m.ClientService)) {
			continue
		}
		extra = append(extra, mapEdge{client: k[0], server: k[1], net: h})
	}
	sort.Slice(extra, func(i, j int) bool {
		return extra[i].client < extra[j].client || (extra[i].client == extra[j].client && extra[i].server < extra[j].server)
	})
	return append(edges, extra...)
}
