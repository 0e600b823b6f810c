package plugin_test

// The provisioned notification routing and dashboards of each team, as Grafana's file provisioning
// reads them (no server needed): every rule's labels reach its team's contact point through the
// policy tree (provisioning/alerting/policies.yaml), every route's receiver is a provisioned contact
// point, every rule links to its team's service dashboard on a panel showing the rule's metric, and
// each team has a dashboard folder (provisioning/dashboards/flowlens.yaml) named as its rules' folder.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// route is a notification policy (Grafana's provisioning format: object_matchers as [label, op, value]).
type route struct {
	Receiver       string     `yaml:"receiver"`
	ObjectMatchers [][]string `yaml:"object_matchers"`
	GroupBy        []string   `yaml:"group_by"`
	GroupWait      string     `yaml:"group_wait"`
	GroupInterval  string     `yaml:"group_interval"`
	RepeatInterval string     `yaml:"repeat_interval"`
	Continue       bool       `yaml:"continue"`
	Routes         []route    `yaml:"routes"`
}

type policyFile struct {
	APIVersion    int            `yaml:"apiVersion"`
	ContactPoints []contactPoint `yaml:"contactPoints"`
	Policies      []struct {
		OrgID int `yaml:"orgId"`
		route `yaml:",inline"`
	} `yaml:"policies"`
}

// matches is Alertmanager's matcher: =, !=, =~ and !~ (regular expressions anchored) on one label.
func (r route) matches(labels map[string]string) (bool, error) {
	for _, m := range r.ObjectMatchers {
		if len(m) != 3 {
			return false, fmt.Errorf("matcher %v is not [label, op, value]", m)
		}
		v := labels[m[0]]
		var ok bool
		switch m[1] {
		case "=":
			ok = v == m[2]
		case "!=":
			ok = v != m[2]
		case "=~", "!~":
			re, err := regexp.Compile("^(?:" + m[2] + ")$")
			if err != nil {
				return false, err
			}
			ok = re.MatchString(v) == (m[1] == "=~")
		default:
			return false, fmt.Errorf("matcher operator %q", m[1])
		}
		if !ok {
			return false, nil
		}
	}
	return true, nil
}

// receivers routes an alert's labels as Alertmanager does: depth first, the first matching child
// wins unless it says continue; no child matching leaves it at the parent.
func (r route) receivers(labels map[string]string) ([]string, error) {
	var out []string
	for _, c := range r.Routes {
		ok, err := c.matches(labels)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		got, err := c.receivers(labels)
		if err != nil {
			return nil, err
		}
		if len(got) == 0 {
			got = []string{c.Receiver}
		}
		out = append(out, got...)
		if !c.Continue {
			break
		}
	}
	if len(out) == 0 {
		out = []string{r.Receiver}
	}
	return out, nil
}

func readPolicies(t *testing.T) policyFile {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "provisioning", "alerting", "policies.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var f policyFile
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("policies.yaml: %v", err)
	}
	if f.APIVersion != 1 || len(f.Policies) != 1 || f.Policies[0].OrgID != 1 {
		t.Fatalf("policies.yaml: apiVersion %d, %d policy trees (Grafana keeps one per org)", f.APIVersion, len(f.Policies))
	}
	return f
}

func TestProvisionedNotificationPolicies(t *testing.T) {
	policies := readPolicies(t)
	tree := policies.Policies[0].route
	points := map[string]bool{}
	uids := map[string]bool{}
	addPoints := func(file string, cps []contactPoint) {
		for _, cp := range cps {
			if cp.OrgID != 1 || cp.Name == "" || points[cp.Name] || len(cp.Receivers) == 0 {
				t.Errorf("%s: contact point %+v: org 1, a unique name and receivers", file, cp)
			}
			points[cp.Name] = true
			for _, r := range cp.Receivers {
				if r.UID == "" || uids[r.UID] || r.Type != "email" || r.Settings["addresses"] == nil {
					t.Errorf("%s: receiver %+v: a unique uid, an email with addresses", file, r)
				}
				uids[r.UID] = true
			}
		}
	}
	addPoints("policies.yaml", policies.ContactPoints)
	files, _ := filepath.Glob(filepath.Join("..", "..", "provisioning", "alerting", "team-*.yaml"))
	if len(files) != 3 {
		t.Fatalf("%d team files", len(files))
	}
	type teamRules struct {
		team, folder string
		rules        []alertRule
	}
	var all []teamRules
	for _, path := range files {
		team := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(path), "team-"), ".yaml")
		f := readRuleFile(t, path)
		addPoints(filepath.Base(path), f.ContactPoints)
		if len(f.ContactPoints) != 1 || f.ContactPoints[0].Name != "FlowLens "+team {
			t.Errorf("%s: the team's own contact point FlowLens %s", path, team)
		}
		all = append(all, teamRules{team, f.Groups[0].Folder, f.Groups[0].Rules})
	}
	// every receiver of the tree is a contact point
	var walk func(route)
	walk = func(r route) {
		if !points[r.Receiver] {
			t.Errorf("route receiver %q is no provisioned contact point", r.Receiver)
		}
		for _, c := range r.Routes {
			walk(c)
		}
	}
	walk(tree)
	routed := 0
	for _, tr := range all {
		dashboards := teamDashboards(t, tr.team)
		for _, r := range tr.rules {
			// the labels of an alert instance: the rule's, and the query's (service, metric)
			labels := map[string]string{"alertname": r.Title, "grafana_folder": tr.folder, "service": "backend", "metric": "error_ratio"}
			for k, v := range r.Labels {
				labels[k] = v
			}
			got, err := tree.receivers(labels)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, ",") != "FlowLens "+tr.team {
				t.Errorf("%s (labels %v) goes to %v, want FlowLens %s", r.UID, r.Labels, got, tr.team)
			}
			routed++
			// the rule links to its team's service dashboard, on a panel showing the rule's metric
			uid, panel := r.Annotations["__dashboardUid__"], r.Annotations["__panelId__"]
			d, ok := dashboards[uid]
			if !ok || uid != "flowlens-service-red-"+tr.team {
				t.Errorf("%s: __dashboardUid__ %q is not team %s's service RED dashboard", r.UID, uid, tr.team)
				continue
			}
			metric := ruleMetric(t, r)
			if !d.panelShows(panel, metric) {
				t.Errorf("%s: panel %s of %s does not show %s", r.UID, panel, uid, metric)
			}
			if want := "/d/" + uid + "?var-service={{ $labels.service }}"; r.Annotations["dashboard"] != want {
				t.Errorf("%s: dashboard link %q, want %q", r.UID, r.Annotations["dashboard"], want)
			}
		}
	}
	// an alert of no known team stays at the default
	if got, _ := tree.receivers(map[string]string{"team": "payments"}); strings.Join(got, ",") != "FlowLens default" {
		t.Errorf("an unknown team goes to %v", got)
	}
	t.Logf("%d rules of %d teams routed to their team's contact point; %d contact points", routed, len(all), len(points))

	// one dashboard folder per team, named as the team's rule folder, holding its dashboards
	var providers struct {
		APIVersion int `yaml:"apiVersion"`
		Providers  []struct {
			Name, Folder, FolderUID, Type string
			OrgID                         int `yaml:"orgId"`
			Options                       struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	raw, err := os.ReadFile(filepath.Join("..", "..", "provisioning", "dashboards", "flowlens.yaml"))
	if err == nil {
		err = yaml.Unmarshal(raw, &providers)
	}
	if err != nil {
		t.Fatal(err)
	}
	var folders []string
	for _, p := range providers.Providers {
		team := filepath.Base(p.Options.Path)
		if p.Type != "file" || p.OrgID != 1 || p.Options.Path != "/etc/grafana/provisioning/dashboards/teams/"+team {
			t.Errorf("provider %+v", p)
		}
		folders = append(folders, p.Folder)
		if n := len(teamDashboards(t, team)); n < 6 {
			t.Errorf("team %s: %d dashboards", team, n)
		}
	}
	var want []string
	for _, tr := range all {
		want = append(want, tr.folder)
	}
	sort.Strings(folders)
	sort.Strings(want)
	if strings.Join(folders, ",") != strings.Join(want, ",") {
		t.Errorf("dashboard folders %v, want the rules' folders %v", folders, want)
	}
}

// ruleMetric is the RED metric a rule's datasource query asks for.
func ruleMetric(t *testing.T, r alertRule) string {
	for _, q := range r.Data {
		if m, ok := q.Model["metric"].(string); ok {
			return m
		}
	}
	t.Fatalf("%s: no metric", r.UID)
	return ""
}

type dashboardJSON struct {
	UID    string `json:"uid"`
	Panels []struct {
		ID      int              `json:"id"`
		Targets []map[string]any `json:"targets"`
	} `json:"panels"`
}

func (d dashboardJSON) panelShows(id, metric string) bool {
	for _, p := range d.Panels {
		if fmt.Sprint(p.ID) == id {
			for _, q := range p.Targets {
				if q["metric"] == metric {
					return true
				}
			}
		}
	}
	return false
}

// teamDashboards reads provisioning/dashboards/teams/<team>/*.json by uid.
func teamDashboards(t *testing.T, team string) map[string]dashboardJSON {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join("..", "..", "provisioning", "dashboards", "teams", team, "*.json"))
	out := map[string]dashboardJSON{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		var d dashboardJSON
		if err == nil {
			err = json.Unmarshal(raw, &d)
		}
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[d.UID] = d
	}
	return out
}
