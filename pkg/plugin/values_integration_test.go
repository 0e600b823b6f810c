package plugin_test

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/flowlens/flowlens/pkg/pluginhost"
)

const valuesDB = "flowlens_gotest_values"

// The values resource (dashboard variables) narrowed by tags: a dashboard's service variable lists
// only its team's services, and endpoints only those of the team's servers. Teams are business tags
// set after the traffic (joined at read time).
func TestValuesByTeam(t *testing.T) {
	freshSchema(t, valuesDB)
	row := func(client, server, endpoint string) map[string]any {
		return metricRow(5, client, server, "HTTP", endpoint, "server_process", 3, 0, 300, 100)
	}
	insertRows(t, valuesDB, "app_metrics", []map[string]any{
		row("gateway", "frontend", "/"),
		row("frontend", "backend", "/api/cart"),
		row("frontend", "backend", "/api/pay"),
		row("backend", "postgres", "SELECT"),
		row("loadgen", "gateway", "/"),
	})
	now := time.Now()
	var tags []map[string]any
	for i, st := range [][2]string{{"backend", "shop"}, {"frontend", "web"}, {"gateway", "web"}, {"postgres", "data"}, {"it's", "shop"}} {
		tags = append(tags, map[string]any{
			"time": now.UTC().Format("2006-01-02 15:04:05"), "changed_us": now.UnixMicro() + int64(i), "kind": "service",
			"subject": st[0], "key": "team", "value": st[1], "deleted": 0, "updated_by": "values_integration_test", "updated_by_role": "Admin",
		})
	}
	insertRows(t, valuesDB, "business_tags", tags)

	host, err := pluginhost.Start(context.Background(), buildPlugin(t), pluginhost.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	e := &env{t: t, host: host}
	pc := e.ctx("values-uid", map[string]any{"url": clickhouseURL(), "database": valuesDB, "username": local.Reader})
	values := func(params string) string {
		t.Helper()
		res, err := host.CallResource(context.Background(), &backend.CallResourceRequest{
			PluginContext: pc, Path: "values", Method: "GET",
			URL: "/values?from=" + strconv.Itoa((t0-60)*1000) + "&to=" + strconv.Itoa((t0+120)*1000) + "&" + params,
		})
		if err != nil {
			t.Fatal(err)
		}
		return strconv.Itoa(res.Status) + " " + strings.TrimSpace(string(res.Body))
	}
	tagsParam := func(j string) string { return "tags=" + url.QueryEscape(j) }
	for params, want := range map[string]string{
		"kind=services": `200 {"values":["backend","frontend","gateway","loadgen","postgres"]}`,
		"kind=services&" + tagsParam(`{"team":["shop"]}`):               `200 {"values":["backend"]}`,
		"kind=services&" + tagsParam(`{"team":["web","shop"]}`):         `200 {"values":["backend","frontend","gateway"]}`,
		"kind=services&" + tagsParam(`{"team":"data"}`):                 `200 {"values":["postgres"]}`,
		"kind=client_services&" + tagsParam(`{"team":["web"]}`):         `200 {"values":["frontend","gateway"]}`,
		"kind=endpoints&" + tagsParam(`{"team":["shop"]}`):              `200 {"values":["/api/cart","/api/pay"]}`,
		"kind=protocols&" + tagsParam(`{"team":["nobody"]}`):            `200 {"values":[]}`,
		"kind=services&" + tagsParam(`{"team":["it's"]}`):               `200 {"values":[]}`,
		"kind=services&" + tagsParam(`{"team":["shop"]}`) + "&service=": `200 {"values":["backend"]}`,
	} {
		if got := values(params); got != want {
			t.Errorf("values?%s: %s, want %s", params, got, want)
		}
	}
	if got := values("kind=services&tags=" + url.QueryEscape(`["team"]`)); !strings.HasPrefix(got, "400 ") {
		t.Errorf("tags not an object: %s, want a 400", got)
	}
}
