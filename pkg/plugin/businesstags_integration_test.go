package plugin_test

// Business tags through the plugin binary's resource API against the real ClickHouse: set, list,
// change, remove, each change audited; who may change them; hostile input refused.

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/flowlens/flowlens/pkg/dataplane"
	"github.com/flowlens/flowlens/pkg/plugin"
	"github.com/flowlens/flowlens/pkg/pluginhost"
)

// tagsDB is the one test database the local server's tags user may write (scripts/clickhouse.sh).
const tagsDB = "flowlens_gotest_tags"

func TestBusinessTagsIntegration(t *testing.T) {
	freshSchema(t, tagsDB)
	host, err := pluginhost.Start(context.Background(), buildPlugin(t), pluginhost.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	ds := func(user *backend.User, tagsUser string) backend.PluginContext {
		j, _ := json.Marshal(map[string]any{"url": clickhouseURL(), "database": tagsDB, "username": local.Reader, "tagsUsername": tagsUser})
		uid := "tags-uid" // one instance per settings: Grafana keeps a datasource instance until its settings change
		if tagsUser == "" {
			uid = "tags-read-only"
		}
		pc := pluginhost.DatasourceContext(plugin.PluginID, uid, j,
			map[string]string{"password": local.ReaderPassword, "tagsPassword": local.TagsPassword}, time.Unix(1, 0))
		pc.User = user
		return pc
	}
	editor := ds(&backend.User{Login: "alice", Role: "Editor"}, local.Tags)
	call := func(pc backend.PluginContext, method, body string) (int, map[string]any) {
		t.Helper()
		res, err := host.CallResource(context.Background(), &backend.CallResourceRequest{
			PluginContext: pc, Path: "tags", Method: method, URL: "/tags", Body: []byte(body),
		})
		if err != nil {
			t.Fatal(err)
		}
		var out map[string]any
		if err := json.Unmarshal(res.Body, &out); err != nil {
			t.Fatalf("%s tags: %d %s", method, res.Status, res.Body)
		}
		return res.Status, out
	}
	list := func() []string {
		t.Helper()
		status, out := call(editor, "GET", "")
		if status != 200 {
			t.Fatalf("GET tags: %d %v", status, out)
		}
		var got []string
		for _, x := range out["tags"].([]any) {
			m := x.(map[string]any)
			got = append(got, fmt.Sprintf("%s/%s/%s=%s by %s (%s)", m["kind"], m["subject"], m["key"], m["value"], m["updated_by"], m["updated_by_role"]))
		}
		return got
	}

	for _, c := range []struct{ body, want string }{
		{`{"kind":"service","subject":"checkout","key":"team","value":"payments"}`, ""},
		{`{"kind":"service","subject":"backend","key":"team","value":"catalog"}`, ""},
		{`{"kind":"ip_range","subject":"10.1.2.3/16","key":"owner","value":"net-ops"}`, ""},
	} {
		if status, out := call(editor, "POST", c.body); status != 201 {
			t.Fatalf("POST %s: %d %v", c.body, status, out)
		}
	}
	want := []string{
		"ip_range/10.1.0.0/16/owner=net-ops by alice (Editor)",
		"service/backend/team=catalog by alice (Editor)",
		"service/checkout/team=payments by alice (Editor)",
	}
	if got := list(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("tags:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// A change by another user, then a removal: the latest wins; every change stays in the table.
	admin2 := ds(&backend.User{Login: "bob", Role: "Admin"}, local.Tags)
	if status, out := call(admin2, "POST", `{"kind":"service","subject":"backend","key":"team","value":"platform"}`); status != 201 {
		t.Fatalf("change: %d %v", status, out)
	}
	if status, out := call(admin2, "DELETE", `{"kind":"ip_range","subject":"10.1.0.0/16","key":"owner"}`); status != 200 {
		t.Fatalf("removal: %d %v", status, out)
	}
	want = []string{"service/backend/team=platform by bob (Admin)", "service/checkout/team=payments by alice (Editor)"}
	if got := list(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("after change and removal:\n%s", strings.Join(got, "\n"))
	}
	audit := admin(t, "SELECT kind, subject, key, value, deleted, updated_by FROM "+tagsDB+".business_tags ORDER BY changed_us FORMAT TSV")
	if n := len(strings.Split(strings.TrimSpace(audit), "\n")); n != 5 || !strings.Contains(audit, "service\tbackend\tteam\tcatalog\t0\talice") ||
		!strings.Contains(audit, "ip_range\t10.1.0.0/16\towner\t\t1\tbob") {
		t.Errorf("the audit trail (%d rows):\n%s", n, audit)
	}

	// Who may change tags: a Viewer and an anonymous call are refused; reading needs no role.
	for _, u := range []*backend.User{{Login: "carol", Role: "Viewer"}, nil} {
		if status, out := call(ds(u, local.Tags), "POST", `{"kind":"service","subject":"x","key":"team","value":"y"}`); status != 403 {
			t.Errorf("%v: %d %v", u, status, out)
		}
	}
	if status, out := call(ds(&backend.User{Login: "carol", Role: "Viewer"}, local.Tags), "GET", ""); status != 200 || len(out["tags"].([]any)) != 2 {
		t.Errorf("a viewer reads the tags: %d %v", status, out)
	}
	// Without a tags writer the tags are read-only, and say so.
	if status, out := call(ds(&backend.User{Login: "alice", Role: "Editor"}, ""), "POST", `{"kind":"service","subject":"x","key":"team","value":"y"}`); status != 409 ||
		!strings.Contains(fmt.Sprint(out["error"]), "tagsUsername") {
		t.Errorf("no writer: %d %v", status, out)
	}

	// Hostile or malformed changes: refused with the reason, nothing stored.
	for _, body := range []string{
		`{"kind":"service","subject":"a'); DROP TABLE x; --","key":"team","value":"x"}`,
		`{"kind":"vm","subject":"a","key":"team","value":"x"}`,
		`{"kind":"service","subject":"a","key":"Team","value":"x"}`,
		`{"kind":"service","subject":"a","key":"team","value":"x\u0000y"}`,
		`{"kind":"service","subject":"a","key":"team","value":" padded"}`,
		`{"kind":"ip_range","subject":"10.1.0.0/33","key":"team","value":"x"}`,
		`{"kind":"service","subject":"a","key":"team","value":"` + strings.Repeat("v", 300) + `"}`,
		`{"kind":"service","subject":"a","key":"team","value":"x","extra":1}`,
		`{"kind":"service","subject":"","key":"team","value":"x"}`,
		strings.Repeat(" ", 5000),
	} {
		status, out := call(editor, "POST", body)
		if body == `{"kind":"service","subject":"a'); DROP TABLE x; --","key":"team","value":"x"}` {
			// a strange but printable service name is a name: stored as a literal, harmless
			if status != 201 {
				t.Errorf("a quote in a name: %d %v", status, out)
			}
			continue
		}
		if status != 400 {
			t.Errorf("%.60s: %d %v", body, status, out)
		}
	}
	if n := strings.TrimSpace(admin(t, "SELECT count() FROM "+tagsDB+".business_tags")); n != "6" {
		t.Errorf("%s rows after the hostile changes, want 6 (5 + the quoted name)", n)
	}
	// A tag set now groups data written before it: the map of yesterday's RED rows by team.
	at := time.Now().Add(-24 * time.Hour).Truncate(time.Second)
	var rows []map[string]any
	for i, e := range [][3]any{{"web", "checkout", 10}, {"checkout", "backend", 7}, {"web", "search", 5}, {"search", "backend", 3}} {
		rows = append(rows, map[string]any{"time": at.Add(time.Duration(i) * time.Second).UTC().Format("2006-01-02 15:04:05"),
			"client_service": e[0], "server_service": e[1], "l7_protocol": "HTTP", "endpoint": "/x", "observation_point": "server_process",
			"request_count": e[2], "error_count": 0, "response_duration_sum_us": 1000})
	}
	insertRows(t, tagsDB, "app_metrics", rows)
	if status, out := call(editor, "POST", `{"kind":"service","subject":"search","key":"team","value":"catalog"}`); status != 201 {
		t.Fatalf("POST: %d %v", status, out)
	}
	from, to := at.Add(-time.Minute).Unix(), at.Add(time.Minute).Unix()
	res := (&env{t: t, host: host}).query(editor, from, to, time.Second, `{"queryType":"map","group_by":"team","observation_point":"all"}`)
	if res.Error != nil {
		t.Fatal(res.Error)
	}
	var edges []string
	for _, f := range res.Frames {
		if f.Name != "edges" {
			continue
		}
		fm := fieldMap(t, f)
		for i := 0; i < f.Rows(); i++ {
			edges = append(edges, fmt.Sprintf("%v->%v", fm["source"].At(i), fm["target"].At(i)))
		}
	}
	// checkout and search are tagged (payments, catalog), backend is platform; web has no team: its name
	want = []string{"catalog->platform", "payments->platform", "web->catalog", "web->payments"}
	sort.Strings(edges)
	if strings.Join(edges, " ") != strings.Join(want, " ") {
		t.Errorf("map by team: %v, want %v", edges, want)
	}
	// RED grouped by team (the server's) over the same rows, with a percentile so the sketch
	// travels through the regrouping: one alertable series per team, requests summed per team.
	res = (&env{t: t, host: host}).query(editor, from, to, 120*time.Second, `{"queryType":"red","group_by":["team"],"metric":"request_rate","observation_point":"all"}`)
	all, err := dataplane.CheckAlertable(res.Frames)
	if res.Error != nil || err != nil {
		t.Fatalf("RED by team: %v %v", res.Error, err)
	}
	perTeam := map[string]float64{}
	for _, s := range all {
		for _, v := range s.Values {
			if v != nil {
				perTeam[s.Labels["team"]] += *v * 120
			}
		}
	}
	if fmt.Sprint(perTeam) != "map[catalog:5 payments:10 platform:10]" {
		t.Errorf("RED requests by team: %v, want catalog 5, payments 10, platform 10", perTeam)
	}
	res = (&env{t: t, host: host}).query(editor, from, to, 120*time.Second, `{"queryType":"red","group_by":["client_service","team"],"metric":"latency_p99","observation_point":"all"}`)
	if all, err = dataplane.CheckAlertable(res.Frames); res.Error != nil || err != nil || len(all) != 4 {
		t.Errorf("RED p99 by client and team: %d series, %v %v", len(all), res.Error, err)
	}
	if host.Exited() {
		t.Error("plugin process died during the test")
	}
}
