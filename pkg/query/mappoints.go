package query

import (
	"fmt"
	"strings"
)

// MapPointObservations are the observation points whose latency the map puts on each edge, in the
// order a request crosses them (the full-stack view: client process, client NIC, server NIC, server process).
var MapPointObservations = []string{"client_process", "client_nic", "server_nic", "server_process"}

// BuildMapPoints renders the map's per-point latency query: per client→server edge and observation
// point of MapPointObservations, the requests answered and their latency sum (µs), from the request
// logs (app_metrics has no NIC rows). The map's own filters apply; rows without a response (one-way
// messages, timeouts) have no latency and are not counted.
func BuildMapPoints(database string, m *Model, r Range) (*Statement, error) {
	b, err := newBuilder(database, "l7_flow_log")
	if err != nil {
		return nil, err
	}
	tf, err := b.timeFilter(r)
	if err != nil {
		return nil, err
	}
	f, err := b.filters(m, true, false)
	if err != nil {
		return nil, err
	}
	points := make([]string, len(MapPointObservations))
	for i, p := range MapPointObservations {
		points[i] = Quote(p)
	}
	conds := append(append([]string{tf}, f...), fmt.Sprintf("%s IN (%s)", b.c("observation_point"), strings.Join(points, ", ")))
	d := b.c("response_duration_us")
	sql := fmt.Sprintf(`SELECT
  %s AS client,
  %s AS server,
  %s AS point,
  countIf(%s > 0) AS answered,
  sumIf(%s, %s > 0) AS answered_sum_us
FROM %s
WHERE %s
GROUP BY client, server, point
ORDER BY client, server, point
LIMIT %d`,
		b.c("client_service"), b.c("server_service"), b.c("observation_point"), d, d, d, b.from(), strings.Join(conds, "\n  AND "), MaxEdges*len(MapPointObservations))
	st := b.statement(sql)
	st.Limit = MaxEdges * len(MapPointObservations)
	return st, nil
}
