package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
)

var nowFunc = time.Now

// shimQuery is one parsed entry of a MetricRequest's queries.
type shimQuery struct {
	backend.DataQuery
	uid string
}

type metricRequest struct {
	queries []shimQuery
}

// parseMetricRequest reads Grafana's /api/ds/query body: {from, to, queries:[...]}. from and
// to are epoch milliseconds (number or string) or relative times like "now-1h".
func parseMetricRequest(body []byte, now time.Time) (*metricRequest, error) {
	var req struct {
		From    json.RawMessage   `json:"from"`
		To      json.RawMessage   `json:"to"`
		Queries []json.RawMessage `json:"queries"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, fmt.Errorf("bad request body: %w", err)
	}
	if len(req.Queries) == 0 {
		return nil, fmt.Errorf("no queries found in the request")
	}
	from, err := parseTime(req.From, now, now.Add(-6*time.Hour))
	if err != nil {
		return nil, fmt.Errorf("from: %w", err)
	}
	to, err := parseTime(req.To, now, now)
	if err != nil {
		return nil, fmt.Errorf("to: %w", err)
	}
	out := &metricRequest{}
	for i, raw := range req.Queries {
		var q struct {
			RefID      string `json:"refId"`
			QueryType  string `json:"queryType"`
			Datasource struct {
				UID  string `json:"uid"`
				Type string `json:"type"`
			} `json:"datasource"`
			IntervalMs    float64 `json:"intervalMs"`
			MaxDataPoints int64   `json:"maxDataPoints"`
		}
		if err := json.Unmarshal(raw, &q); err != nil {
			return nil, fmt.Errorf("query %d: %w", i, err)
		}
		if q.RefID == "" {
			q.RefID = "A"
		}
		if q.MaxDataPoints <= 0 {
			q.MaxDataPoints = 100
		}
		interval := time.Duration(q.IntervalMs * float64(time.Millisecond))
		if interval <= 0 {
			interval = time.Second
		}
		out.queries = append(out.queries, shimQuery{
			uid: q.Datasource.UID,
			DataQuery: backend.DataQuery{
				RefID: q.RefID, QueryType: q.QueryType, MaxDataPoints: q.MaxDataPoints, Interval: interval,
				TimeRange: backend.TimeRange{From: from, To: to}, JSON: raw,
			},
		})
	}
	return out, nil
}

var relRe = regexp.MustCompile(`^now(?:-(\d+)([smhdw]))?$`)

func parseTime(raw json.RawMessage, now, def time.Time) (time.Time, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return def, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		s = string(raw) // a bare number
	}
	s = strings.TrimSpace(s)
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMilli(ms), nil
	}
	m := relRe.FindStringSubmatch(s)
	if m == nil {
		return time.Time{}, fmt.Errorf("%q is neither epoch milliseconds nor now[-N(s|m|h|d|w)]", s)
	}
	if m[1] == "" {
		return now, nil
	}
	n, _ := strconv.Atoi(m[1])
	unit := map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour, "w": 7 * 24 * time.Hour}[m[2]]
	return now.Add(-time.Duration(n) * unit), nil
}
