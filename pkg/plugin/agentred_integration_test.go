package plugin_test

// RED over known requests: the requests are generated here, turned into app_metrics rows by the
// agent's own RED aggregator (build/agent, run by node: the latency sketch is the agent's, not a
// copy), stored in the real local ClickHouse and queried through the plugin binary.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/flowlens/flowlens/pkg/pluginhost"
)

// knownRequest is one request of the known data set (an L7FlowLogRow's RED fields).
type knownRequest struct {
	Time             int64  `json:"time"`
	Host             string `json:"host"`
	ObservationPoint string `json:"observation_point"`
	ClientService    string `json:"client_service"`
	ServerService    string `json:"server_service"`
	L7Protocol       string `json:"l7_protocol"`
	Endpoint         string `json:"endpoint"`
	ServerPort       int    `json:"server_port"`
	ResponseStatus   string `json:"response_status"`
	DurationUs       int64  `json:"response_duration_us"`
	RequestLength    int    `json:"request_length"`
	ResponseLength   int    `json:"response_length"`
}

// knownService describes one server's requests over the data set's two minutes.
type knownService struct {
	name, client, protocol string
	endpoints              []string
	perMinute              int
	errorRatio             [2]float64 // per minute
	slowShare              float64    // share of requests in the 200 ms – 2 s tail
}

// redDataStart is the first second of the known data set (minute-aligned).
const redDataStart = t0 + 600

// knownServices, named as on the demo system (the provisioned rules name its services): backend
// fails (8% errors in its second minute) and has a slow tail, frontend is healthy, postgres is
// error-free but slow; the provisioned rules must fire exactly on those.
var knownServices = []knownService{
	{"backend", "frontend", "HTTP", []string{"/inventory/reserve", "/products"}, 6000, [2]float64{0.01, 0.08}, 0.03},
	{"frontend", "slb", "HTTP", []string{"/products"}, 3000, [2]float64{0.002, 0.004}, 0},
	{"postgres", "backend", "PostgreSQL", []string{"SELECT"}, 1200, [2]float64{0, 0}, 0.05},
}

// knownRequests generates the data set: per service, perMinute requests in each of two minutes
// at redDataStart, durations drawn from a fixed seed (200 µs – 5 ms mostly, 5 – 80 ms often,
// the slow share in 200 ms – 2 s).
func knownRequests() []knownRequest {
	rng := rand.New(rand.NewPCG(16, 3))
	logUniform := func(lo, hi float64) int64 {
		return int64(math.Exp(math.Log(lo) + rng.Float64()*(math.Log(hi)-math.Log(lo))))
	}
	var out []knownRequest
	for _, s := range knownServices {
		for minute := range 2 {
			for i := range s.perMinute {
				var us int64
				switch p := rng.Float64(); {
				case p < s.slowShare:
					us = logUniform(200_000, 2_000_000)
				case p < 0.3:
					us = logUniform(5_000, 80_000)
				default:
					us = logUniform(200, 5_000)
				}
				status := "ok"
				if rng.Float64() < s.errorRatio[minute] {
					status = "server_error"
				}
				out = append(out, knownRequest{
					Time: int64(redDataStart + 60*minute + i*60/s.perMinute), Host: "h1", ObservationPoint: "server_process",
					ClientService: s.client, ServerService: s.name, L7Protocol: s.protocol, Endpoint: s.endpoints[i%len(s.endpoints)],
					ServerPort: 8080, ResponseStatus: status, DurationUs: us, RequestLength: 100, ResponseLength: 200,
				})
			}
		}
	}
	return out
}

// aggregateWithAgent runs the agent's RedAggregator over the requests and returns its app_metrics rows.
func aggregateWithAgent(t *testing.T, reqs []knownRequest) []map[string]any {
	t.Helper()
	module, err := filepath.Abs(filepath.Join("..", "..", "build", "agent", "src", "agent", "metrics", "redAggregator.js"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(module); err != nil {
		t.Fatalf("the agent is not built (%v): run scripts/build.sh agent", err)
	}
	script := `const { RedAggregator } = require(process.argv[1]);
let input = '';
process.stdin.on('data', (d) => (input += d)).on('end', () => {
  const red = new RedAggregator();
  for (const r of JSON.parse(input)) red.add(r);
  process.stdout.write(red.flush().map((m) => JSON.stringify(m)).join('\n'));
});`
	in, _ := json.Marshal(reqs)
	cmd := exec.Command("node", "-e", script, module)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node RedAggregator: %v\n%s", err, stderr.String())
	}
	var rows []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("aggregator row %q: %v", line, err)
		}
		m["time"] = time.Unix(int64(m["time"].(float64)), 0).UTC().Format("2006-01-02 15:04:05")
		rows = append(rows, m)
	}
	return rows
}

// exactQuantileMs is the nearest-rank q-quantile of the durations, in ms.
func exactQuantileMs(us []int64, q float64) float64 {
	s := append([]int64(nil), us...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	rank := max(int(math.Ceil(q*float64(len(s))-1e-9)), 1)
	return float64(s[rank-1]) / 1000
}

// redTestDB holds the known data set: its own database (the fixtures of TestIntegration differ),
// one per test process, so runs from several checkouts on the shared server do not drop each other's.
var redTestDB = fmt.Sprintf("%s_red_%d", testDB, os.Getpid())

// startKnownRED loads the known data set and starts the plugin binary on it.
func startKnownRED(t *testing.T) (*env, backend.PluginContext, []knownRequest) {
	t.Helper()
	admin(t, "SELECT 1")
	createSchema(t, redTestDB, "app_metrics", "app_metrics_edge", "business_tags")
	t.Cleanup(func() { admin(t, "DROP DATABASE IF EXISTS "+redTestDB) })
	reqs := knownRequests()
	rows := aggregateWithAgent(t, reqs)
	insertInto(t, redTestDB, "app_metrics", rows)
	host, err := pluginhost.Start(context.Background(), buildPlugin(t), pluginhost.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = host.Close() })
	e := &env{t: t, host: host}
	return e, e.ctx("red", map[string]any{"url": clickhouseURL(), "database": redTestDB}), reqs
}

// Percentiles from the agent's sketch, merged by ClickHouse over seconds, endpoints and minutes,
// are within 1% of the exact nearest-rank percentile of the known durations.
func TestREDPercentilesWithinOnePercent(t *testing.T) {
	e, pc, reqs := startKnownRED(t)
	type cut struct {
		key      string // series key (see series)
		from, to int64
		keep     func(knownRequest) bool
	}
	var cuts []cut
	for _, s := range knownServices {
		svc := s.name
		for minute := range int64(2) {
			from := int64(redDataStart) + 60*minute
			cuts = append(cuts, cut{svc, from, from + 59, func(r knownRequest) bool { return r.ServerService == svc && r.Time >= from && r.Time <= from+59 }})
		}
		cuts = append(cuts, cut{svc, redDataStart, redDataStart + 119, func(r knownRequest) bool { return r.ServerService == svc }})
	}
	worst := 0.0
	checked := 0
	for _, c := range cuts {
		// an hour's bucket: the cut (inside one hour) is one point, whatever its alignment
		got, times := series(t, e.query(pc, c.from, c.to, time.Hour, `{"queryType":"red","metric":"all"}`))
		if len(times) != 1 {
			t.Fatalf("%d buckets over %d–%d, want 1", len(times), c.from, c.to)
		}
		var us []int64
		for _, r := range reqs {
			if c.keep(r) {
				us = append(us, r.DurationUs)
			}
		}
		for metric, q := range map[string]float64{"latency_p50": 0.5, "latency_p90": 0.9, "latency_p99": 0.99} {
			exact := exactQuantileMs(us, q)
			v := got[c.key+"/"+metric]
			if len(v) != 1 || v[0] == nil {
				t.Errorf("%s %s over %d–%d: no value", c.key, metric, c.from, c.to)
				continue
			}
			rel := math.Abs(*v[0]-exact) / exact
			worst = max(worst, rel)
			checked++
			if rel > 0.01 {
				t.Errorf("%s %s over %d–%d: %.4f ms, exact %.4f ms (%.2f%% off)", c.key, metric, c.from, c.to, *v[0], exact, 100*rel)
			}
		}
		if v := got[c.key+"/request_rate"]; len(v) != 1 || v[0] == nil || math.Abs(*v[0]*3600-float64(len(us))) > 1e-6 {
			t.Errorf("%s request rate %v × 3600 s ≠ %d requests", c.key, v, len(us))
		}
	}
	// Per endpoint (app_metrics' full grain), backend's second minute.
	got, _ := series(t, e.query(pc, redDataStart+60, redDataStart+119, time.Minute, `{"queryType":"red","service":"backend","group_by":["service","endpoint"],"metric":"latency_p99"}`))
	for _, ep := range knownServices[0].endpoints {
		var us []int64
		for _, r := range reqs {
			if r.ServerService == "backend" && r.Endpoint == ep && r.Time >= redDataStart+60 {
				us = append(us, r.DurationUs)
			}
		}
		exact := exactQuantileMs(us, 0.99)
		v := got["backend/latency_p99/"+ep]
		if len(v) != 1 || v[0] == nil || math.Abs(*v[0]-exact)/exact > 0.01 {
			t.Errorf("backend %s p99 %v, exact %.4f ms", ep, v, exact)
		} else {
			worst = max(worst, math.Abs(*v[0]-exact)/exact)
			checked++
		}
	}
	t.Logf("%d percentiles over %d requests (the agent's sketch, merged by ClickHouse): worst %.3f%% from the exact value", checked, len(reqs), 100*worst)
}
