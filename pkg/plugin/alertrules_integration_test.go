package plugin_test

// The provisioned alert rules (provisioning/alerting/team-*.yaml): parsed as Grafana's file
// provisioning reads them, each datasource query checked as a valid FlowLens query, run through
// the plugin binary on the known data set (agentred_integration_test.go) in the real ClickHouse,
// its answer checked as an alerting input, and the rule's reduce and threshold evaluated over it.

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/flowlens/flowlens/pkg/dataplane"
	"github.com/flowlens/flowlens/pkg/query"
)

type ruleFile struct {
	APIVersion    int            `yaml:"apiVersion"`
	Groups        []ruleGroup    `yaml:"groups"`
	ContactPoints []contactPoint `yaml:"contactPoints"`
}

// contactPoint is a provisioned contact point (the fields FlowLens's files use).
type contactPoint struct {
	OrgID     int    `yaml:"orgId"`
	Name      string `yaml:"name"`
	Receivers []struct {
		UID                   string         `yaml:"uid"`
		Type                  string         `yaml:"type"`
		Settings              map[string]any `yaml:"settings"`
		DisableResolveMessage bool           `yaml:"disableResolveMessage"`
	} `yaml:"receivers"`
}

// teamOf is the business tag team of the known data set's services, as the Tags page would set it
// (the provisioned rules select a team's services by it).
var teamOf = map[string]string{"backend": "shop", "frontend": "web", "gateway": "web", "slb": "web", "postgres": "data", "redis": "data"}

// tagTeams stores teamOf in db's business_tags.
func tagTeams(t *testing.T, db string) {
	t.Helper()
	var rows []map[string]any
	for svc, team := range teamOf {
		rows = append(rows, map[string]any{"time": "2026-01-01 00:00:00", "changed_us": 1767225600000000, "kind": "service", "subject": svc,
			"key": "team", "value": team, "deleted": 0, "updated_by": "test", "updated_by_role": "Admin"})
	}
	insertInto(t, db, "business_tags", rows)
}

// readRuleFile decodes one team-<team>.yaml strictly (a misspelt field is an error, not silently ignored).
func readRuleFile(t *testing.T, path string) ruleFile {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f ruleFile
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return f
}

type ruleGroup struct {
	OrgID    int         `yaml:"orgId"`
	Name     string      `yaml:"name"`
	Folder   string      `yaml:"folder"`
	Interval string      `yaml:"interval"`
	Rules    []alertRule `yaml:"rules"`
}

type alertRule struct {
	UID          string            `yaml:"uid"`
	Title        string            `yaml:"title"`
	Condition    string            `yaml:"condition"`
	Data         []ruleQuery       `yaml:"data"`
	NoDataState  string            `yaml:"noDataState"`
	ExecErrState string            `yaml:"execErrState"`
	For          string            `yaml:"for"`
	Annotations  map[string]string `yaml:"annotations"`
	Labels       map[string]string `yaml:"labels"`
	IsPaused     bool              `yaml:"isPaused"`
}

type ruleQuery struct {
	RefID             string `yaml:"refId"`
	RelativeTimeRange *struct {
		From int64 `yaml:"from"`
		To   int64 `yaml:"to"`
	} `yaml:"relativeTimeRange"`
	DatasourceUID string         `yaml:"datasourceUid"`
	Model         map[string]any `yaml:"model"`
}

// provisionedDatasourceUID is the uid provisioning/datasources/flowlens.yaml gives FlowLens.
func provisionedDatasourceUID(t *testing.T) string {
	var f struct {
		Datasources []struct {
			UID  string `yaml:"uid"`
			Type string `yaml:"type"`
		} `yaml:"datasources"`
	}
	b, err := os.ReadFile(filepath.Join("..", "..", "provisioning", "datasources", "flowlens.yaml"))
	if err == nil {
		err = yaml.Unmarshal(b, &f)
	}
	if err != nil || len(f.Datasources) != 1 || f.Datasources[0].Type != "flowlens-clickhouse-datasource" {
		t.Fatalf("provisioned datasource: %v %+v", err, f)
	}
	return f.Datasources[0].UID
}

// ruleSteps checks a rule's structure and returns its datasource query, reduce and threshold.
func ruleSteps(t *testing.T, r alertRule, dsUID string) (ruleQuery, dataplane.Reduce, dataplane.Threshold) {
	t.Helper()
	byRef := map[string]ruleQuery{}
	for _, q := range r.Data {
		if _, dup := byRef[q.RefID]; dup || q.RefID == "" || q.Model["refId"] != q.RefID {
			t.Errorf("%s: refId %q repeated, empty or unlike its model's %v", r.UID, q.RefID, q.Model["refId"])
		}
		byRef[q.RefID] = q
	}
	var ds, reduceQ, thresholdQ ruleQuery
	for _, q := range r.Data {
		switch {
		case q.DatasourceUID == dsUID:
			ds = q
		case q.DatasourceUID == "__expr__" && q.Model["type"] == "reduce":
			reduceQ = q
		case q.DatasourceUID == "__expr__" && q.Model["type"] == "threshold":
			thresholdQ = q
		default:
			t.Errorf("%s: step %s reads datasource %q type %v (want %q or a reduce/threshold expression)", r.UID, q.RefID, q.DatasourceUID, q.Model["type"], dsUID)
		}
	}
	if ds.RelativeTimeRange == nil || ds.RelativeTimeRange.From <= ds.RelativeTimeRange.To || ds.RelativeTimeRange.To < 0 {
		t.Fatalf("%s: datasource step lacks a relative time range: %+v", r.UID, ds.RelativeTimeRange)
	}
	if reduceQ.Model["expression"] != ds.RefID || thresholdQ.Model["expression"] != reduceQ.RefID || r.Condition != thresholdQ.RefID {
		t.Fatalf("%s: steps do not chain query → reduce → threshold = condition (%v → %v, condition %s)", r.UID, reduceQ.Model["expression"], thresholdQ.Model["expression"], r.Condition)
	}
	red := dataplane.Reduce{Reducer: fmt.Sprint(reduceQ.Model["reducer"])}
	if s, ok := reduceQ.Model["settings"].(map[string]any); ok {
		red.Mode = fmt.Sprint(s["mode"])
		if v, ok := s["replaceWithValue"].(float64); ok {
			red.ReplaceWith = v
		}
	}
	conds, _ := thresholdQ.Model["conditions"].([]any)
	if len(conds) != 1 {
		t.Fatalf("%s: threshold has %d conditions, want 1", r.UID, len(conds))
	}
	ev, _ := conds[0].(map[string]any)["evaluator"].(map[string]any)
	th := dataplane.Threshold{Type: fmt.Sprint(ev["type"])}
	params, _ := ev["params"].([]any)
	for _, p := range params {
		f, ok := p.(float64)
		if !ok {
			if i, isInt := p.(int); isInt {
				f, ok = float64(i), true
			}
		}
		if !ok {
			t.Fatalf("%s: threshold parameter %v is not a number", r.UID, p)
		}
		th.Params = append(th.Params, f)
	}
	// the steps are ones Grafana knows: reduce and threshold over a NaN-free number
	if _, err := red.Apply([]*float64{nil}); err != nil {
		t.Errorf("%s: %v", r.UID, err)
	}
	if _, err := th.Fires(0); err != nil {
		t.Errorf("%s: %v", r.UID, err)
	}
	return ds, red, th
}

func TestProvisionedAlertRules(t *testing.T) {
	e, pc, reqs := startKnownRED(t)
	tagTeams(t, redTestDB)
	dsUID := provisionedDatasourceUID(t)
	files, _ := filepath.Glob(filepath.Join("..", "..", "provisioning", "alerting", "team-*.yaml"))
	if len(files) != 3 {
		t.Fatalf("%d rule files, want 3 (team-web, team-shop, team-data)", len(files))
	}
	// evaluated just after the data set's second minute: its last minute with requests is that one
	now := int64(redDataStart + 120)
	uids := map[string]bool{}
	uidRe := regexp.MustCompile(`^[a-zA-Z0-9_-]{1,40}$`)
	var firing []string
	instances := 0
	for _, path := range files {
		team := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(path), "team-"), ".yaml")
		f := readRuleFile(t, path)
		if f.APIVersion != 1 || len(f.Groups) != 1 {
			t.Fatalf("%s: apiVersion %d, %d groups", path, f.APIVersion, len(f.Groups))
		}
		g := f.Groups[0]
		if iv, err := time.ParseDuration(g.Interval); err != nil || iv%(10*time.Second) != 0 || g.OrgID != 1 || g.Folder == "" || g.Name == "" {
			t.Errorf("%s: group %+v: interval must be a multiple of 10s (%v), orgId, folder and name set", path, g, err)
		}
		metrics := map[string]bool{}
		for _, r := range g.Rules {
			if !uidRe.MatchString(r.UID) || uids[r.UID] {
				t.Errorf("%s: uid %q invalid or repeated", path, r.UID)
			}
			uids[r.UID] = true
			if r.Labels["team"] != team || r.Labels["severity"] == "" || r.Title == "" || r.Annotations["summary"] == "" || r.IsPaused {
				t.Errorf("%s: labels %v, title %q, summary %q, paused %v", r.UID, r.Labels, r.Title, r.Annotations["summary"], r.IsPaused)
			}
			if !strings.Contains(r.Annotations["summary"], "$labels.service") {
				t.Errorf("%s: summary does not name the service", r.UID)
			}
			if _, err := time.ParseDuration(r.For); err != nil {
				t.Errorf("%s: for %q: %v", r.UID, r.For, err)
			}
			if !map[string]bool{"Alerting": true, "NoData": true, "OK": true, "KeepLast": true}[r.NoDataState] ||
				!map[string]bool{"Alerting": true, "Error": true, "OK": true, "KeepLast": true}[r.ExecErrState] {
				t.Errorf("%s: noDataState %q, execErrState %q", r.UID, r.NoDataState, r.ExecErrState)
			}
			ds, reduce, threshold := ruleSteps(t, r, dsUID)
			// the annotation that opens the app's Triage page on the alert's service over the rule's window
			if ds.RelativeTimeRange != nil {
				want := fmt.Sprintf("/a/flowlens-observability-app/triage?service={{ $labels.service }}&from=now-%dm&to=now", ds.RelativeTimeRange.From/60)
				if r.Annotations["triage"] != want {
					t.Errorf("%s: triage annotation %q, want %q", r.UID, r.Annotations["triage"], want)
				}
			}
			// The model is a valid FlowLens query (as Grafana sends it: the model's JSON).
			model, _ := json.Marshal(ds.Model)
			m, err := query.Parse(model)
			if err != nil {
				t.Fatalf("%s: %v", r.UID, err)
			}
			from, to := now-ds.RelativeTimeRange.From, now-ds.RelativeTimeRange.To
			if _, err := query.BuildRED("flowlens", m, query.Range{From: time.Unix(from, 0), To: time.Unix(to, 0)}, 60); err != nil || m.QueryType != query.TypeRED {
				t.Fatalf("%s: not a valid RED query: %v", r.UID, err)
			}
			groups, _ := m.REDGroupBy()
			if groups[0].Label != "service" {
				t.Errorf("%s: instances would lack the service label (group_by %v)", r.UID, m.GroupBy)
			}
			metrics[m.Metric] = true
			// Run it through the plugin binary, as the alerting engine would, and evaluate.
			iv := time.Duration(ds.Model["intervalMs"].(int)) * time.Millisecond
			res := e.query(pc, from, to, iv, string(model))
			if res.Error != nil {
				t.Fatalf("%s: %v", r.UID, res.Error)
			}
			got, err := dataplane.Evaluate(res.Frames, reduce, threshold)
			if err != nil {
				t.Fatalf("%s: the answer is not an alerting input: %v", r.UID, err)
			}
			// the team's services come from its business tag, not a list in the rule
			if len(m.Service) != 0 || strings.Join(m.Tags["team"], ",") != team {
				t.Errorf("%s: selects services %v, tags %v (want the tag team=%s)", r.UID, m.Service, m.Tags, team)
			}
			// Expected: one instance per service of the team with requests, valued at its last minute.
			want := map[string]float64{}
			var services []string
			for svc, tm := range teamOf {
				if tm == team {
					services = append(services, svc)
				}
			}
			for _, svc := range services {
				var us []int64
				var errs int
				for _, q := range reqs {
					if q.ServerService == svc && q.Time >= redDataStart+60 {
						us = append(us, q.DurationUs)
						if q.ResponseStatus != "ok" {
							errs++
						}
					}
				}
				if len(us) == 0 {
					continue
				}
				want[svc] = float64(errs) / float64(len(us))
				if m.Metric == query.MetricLatencyP99 {
					want[svc] = exactQuantileMs(us, 0.99)
				}
			}
			if len(got) != len(want) {
				t.Errorf("%s: %d instances, want %d (%v)", r.UID, len(got), len(want), want)
			}
			for _, in := range got {
				svc := in.Labels["service"]
				w, ok := want[svc]
				if !ok || len(in.Labels) != 2 || in.Labels[query.MetricLabel] != m.Metric || in.NoData {
					t.Errorf("%s: unexpected instance %v = %v", r.UID, in.Labels, in.Value)
					continue
				}
				if tol := 1e-12 + map[bool]float64{true: 0.01 * w}[m.Metric == query.MetricLatencyP99]; math.Abs(in.Value-w) > tol {
					t.Errorf("%s %s: reduced %v, exact %v", r.UID, svc, in.Value, w)
				}
				if exactFires, _ := threshold.Fires(w); exactFires != in.Firing {
					t.Errorf("%s %s: firing %v on %v, but the exact value %v says %v", r.UID, svc, in.Firing, in.Value, w, exactFires)
				}
				if in.Firing {
					firing = append(firing, team+"/"+m.Metric+"/"+svc)
				}
				instances++
			}
		}
		if !metrics[query.MetricErrorRatio] || !metrics[query.MetricLatencyP99] || len(metrics) != 2 {
			t.Errorf("%s: rules on %v, want error_ratio and latency_p99", path, metrics)
		}
	}
	sort.Strings(firing)
	if got := strings.Join(firing, " "); got != "data/latency_p99/postgres shop/error_ratio/backend shop/latency_p99/backend" {
		t.Errorf("firing: %s", got)
	}
	t.Logf("%d rules in %d files, %d alert instances, firing: %v", len(uids), len(files), instances, firing)
}
