package plugin

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/flowlens/flowlens/pkg/clickhouse"
	"github.com/flowlens/flowlens/pkg/converters"
	"github.com/flowlens/flowlens/pkg/query"
)

// RequiredTables are the tables the datasource's queries read.
var RequiredTables = []string{"l7_flow_log", "app_metrics", "app_metrics_edge"}

// NamedSQL is one statement with a name (for build/sql dumps).
type NamedSQL struct {
	Name, SQL string
}

// HealthQueries are the statements CheckHealth runs, in order.
func HealthQueries(database string) []NamedSQL {
	tables := make([]string, len(RequiredTables))
	for i, t := range RequiredTables {
		tables[i] = query.Quote(t)
	}
	return []NamedSQL{
		{"version", "SELECT version() AS version LIMIT 1"},
		{"database", "SELECT count() AS n FROM system.databases WHERE name = " + query.Quote(database) + " LIMIT 1"},
		{"tables", "SELECT name FROM system.tables WHERE database = " + query.Quote(database) +
			" AND name IN (" + strings.Join(tables, ", ") + ") ORDER BY name LIMIT " + fmt.Sprint(len(RequiredTables))},
		{"profile", "SELECT name, value FROM system.settings WHERE name IN (" + strings.Join(quoted(profileSettings), ", ") + ") ORDER BY name LIMIT " + fmt.Sprint(len(profileSettings))},
	}
}

// profileSettings are the bounds the health check reports from a readonly=1 user's profile.
var profileSettings = []string{"max_execution_time", "max_memory_usage", "max_result_rows", "max_rows_to_read"}

func quoted(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = query.Quote(n)
	}
	return out
}

// limitsNote says what bounds the queries when the user's profile refuses every setting.
func (d *Datasource) limitsNote(ctx context.Context, q NamedSQL) string {
	if d.client.Mode() != clickhouse.ModeNone {
		return ""
	}
	cfg := d.client.Config()
	profile := "unknown"
	if res, err := d.client.Query(ctx, q.SQL); err == nil {
		var parts []string
		for _, row := range res.Data {
			if len(row) > 1 {
				v := converters.String(row[1])
				if v == "0" {
					v = "0 (none)"
				}
				parts = append(parts, converters.String(row[0])+"="+v)
			}
		}
		profile = strings.Join(parts, ", ")
	}
	return fmt.Sprintf(" Note: the ClickHouse user %s is readonly=1, so the per-query limits (max_execution_time, max_memory_usage, max_rows_to_read, max_result_rows) "+
		"cannot be sent; its profile gives %s. FlowLens still enforces its own: a %s client timeout after which the query is killed on the server, "+
		"the time span per query type, a LIMIT on every query and a %d-byte response cap. Use a readonly=2 user to have every limit apply.",
		query.Quote(d.settings.Username), profile, cfg.Timeout, cfg.MaxResponseBytes)
}

const setupHint = "Start the FlowLens agent once (it creates the schema) or apply pkg/schema/ddl_modern.sql (ddl_legacy.sql for ClickHouse 18.16)."

// CheckHealth backs the "Save & test" button: one clear message per failure.
func (d *Datasource) CheckHealth(ctx context.Context, _ *backend.CheckHealthRequest) (*backend.CheckHealthResult, error) {
	fail := func(msg string) (*backend.CheckHealthResult, error) {
		return &backend.CheckHealthResult{Status: backend.HealthStatusError, Message: msg}, nil
	}
	if d.settingsErr != nil {
		return fail("Invalid settings: " + d.settingsErr.Error())
	}
	st := d.settings
	qs := HealthQueries(st.Database)

	res, err := d.client.Query(ctx, qs[0].SQL)
	if err != nil {
		return fail(connectionMessage(st, err))
	}
	version := firstString(res)

	if res, err = d.client.Query(ctx, qs[1].SQL); err != nil {
		return fail(fmt.Sprintf("Connected to ClickHouse %s but could not list databases: %v", version, err))
	}
	if n, _ := converters.Int64(firstValue(res)); n == 0 {
		return fail(fmt.Sprintf("Database %q does not exist on ClickHouse %s at %s. Check the database setting, or create it: %s",
			st.Database, version, st.URL, setupHint))
	}

	if res, err = d.client.Query(ctx, qs[2].SQL); err != nil {
		return fail(fmt.Sprintf("Connected to ClickHouse %s but could not list tables of %q: %v", version, st.Database, err))
	}
	found := map[string]bool{}
	for _, row := range res.Data {
		if len(row) > 0 {
			found[converters.String(row[0])] = true
		}
	}
	var missing []string
	for _, t := range RequiredTables {
		if !found[t] {
			missing = append(missing, st.Database+"."+t)
		}
	}
	if len(missing) > 0 {
		return fail(fmt.Sprintf("Database %q exists but lacks table(s) %s. %s", st.Database, strings.Join(missing, ", "), setupHint))
	}
	return &backend.CheckHealthResult{
		Status: backend.HealthStatusOk,
		Message: fmt.Sprintf("Connected to ClickHouse %s at %s as %s; database %s has %s.", version, st.URL, st.Username, st.Database, strings.Join(RequiredTables, " and ")) +
			d.limitsNote(ctx, qs[3]),
	}, nil
}

func connectionMessage(st Settings, err error) string {
	var ce *clickhouse.ConnectError
	switch {
	case errors.As(err, &ce):
		return fmt.Sprintf("Cannot connect to ClickHouse at %s: %v. Check the URL setting and that the server is running (for the local server: scripts/clickhouse.sh start).", st.URL, ce.Err)
	case clickhouse.IsAuthError(err):
		return fmt.Sprintf("ClickHouse at %s rejected user %q: %v. Check the username and password settings.", st.URL, st.Username, err)
	}
	return fmt.Sprintf("ClickHouse at %s answered with an error: %v. Check that the URL points to ClickHouse's HTTP port.", st.URL, err)
}

func firstValue(res *clickhouse.Result) any {
	if res == nil || len(res.Data) == 0 || len(res.Data[0]) == 0 {
		return nil
	}
	return res.Data[0][0]
}

func firstString(res *clickhouse.Result) string { return converters.String(firstValue(res)) }
