package plugin_test

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/flowlens/flowlens/pkg/query"
)

// The rollup's latency sketch across the migration that added it, on the real server. The known
// requests are stored three times: in redTestDB all after the migration (the rollup's view fills the
// sketch); in a database where the first minute is stored before the migration (its rollup rows
// have no sketch) and the second after; in one that never had the migration (an agent not yet
// upgraded: the rollup has no sketch columns). Through the plugin binary all three answer every RED
// query alike, percentiles included: from the rollup where it has the sketch of every row, else from
// app_metrics. The rollup's own rows equal app_metrics'.
func TestRollupSketchAcrossItsMigration(t *testing.T) {
	e, pcAfter, reqs := startKnownRED(t)
	db := fmt.Sprintf("%s_edgesketch_%d", testDB, os.Getpid())
	stmts := schemaStatements(t, func(sql string) string { return admin(t, sql) })
	// the migration's first statement: the sketch columns of the rollup
	at := -1
	for i, s := range stmts {
		if strings.HasPrefix(s, "ALTER TABLE flowlens."+query.EdgeTable+" ADD COLUMN `latency_sketchMap.keys`") {
			at = i
		}
	}
	if at < 0 {
		t.Fatal("no migration adds app_metrics_edge.latency_sketchMap to the DDL")
	}
	old := db + "_old"
	for _, d := range []string{db, old} {
		admin(t, "DROP DATABASE IF EXISTS "+d)
		t.Cleanup(func() { admin(t, "DROP DATABASE IF EXISTS "+d) })
		for _, s := range stmts[:at] {
			admin(t, onDatabase(s, d))
		}
	}
	var before, after []map[string]any
	split := time.Unix(redDataStart+60, 0).UTC().Format("2006-01-02 15:04:05")
	for _, row := range aggregateWithAgent(t, reqs) {
		if row["time"].(string) < split {
			before = append(before, row)
		} else {
			after = append(after, row)
		}
	}
	if len(before) == 0 || len(after) == 0 {
		t.Fatalf("%d rows before the migration, %d after: want both", len(before), len(after))
	}
	insertInto(t, db, "app_metrics", before)
	for _, s := range stmts[at:] {
		admin(t, onDatabase(s, db))
	}
	insertInto(t, db, "app_metrics", after)
	insertInto(t, old, "app_metrics", append(before, after...))
	pcAcross := e.ctx("red-across", map[string]any{"url": clickhouseURL(), "database": db})
	pcOld := e.ctx("red-old", map[string]any{"url": clickhouseURL(), "database": old})

	models := []string{
		`{"queryType":"red"}`,
		`{"queryType":"red","metric":"latency_p99","observation_point":"all","group_by":["service","client_service","observation_point","l7_protocol"]}`,
		`{"queryType":"red","metric":"latency_p50","group_by":["service","team"]}`,
	}
	whole := query.Range{From: time.Unix(redDataStart, 0), To: time.Unix(redDataStart+119, 0)}
	second := query.Range{From: time.Unix(redDataStart+60, 0), To: time.Unix(redDataStart+119, 0)}
	values := 0
	for _, model := range models {
		m, err := query.Parse([]byte(model))
		if err != nil {
			t.Fatal(err)
		}
		for _, bucket := range []int64{5, 60} {
			// SQL: after the migration the rollup's rows equal app_metrics' (sketches, counts, sums,
			// maxima); over the first minute its sketches are empty
			for _, c := range []struct {
				db string
				r  query.Range
			}{{db, second}, {redTestDB, whole}} {
				rollup, err := query.BuildRED(c.db, m, c.r, bucket)
				if err != nil {
					t.Fatal(err)
				}
				full, err := query.BuildREDFromAppMetrics(c.db, m, c.r, bucket)
				if err != nil {
					t.Fatal(err)
				}
				got, want := admin(t, rollup.SQL+"\nFORMAT TabSeparated"), admin(t, full.SQL+"\nFORMAT TabSeparated")
				if rollup.Table != query.EdgeTable || got != want || strings.Contains(want, "([],[])") {
					t.Errorf("%s at %d s on %s: the rollup's rows (%s) differ from app_metrics':\n%s\nwant\n%s", model, bucket, c.db, rollup.Table, head(got), head(want))
				}
			}
			rollup, _ := query.BuildRED(db, m, whole, bucket)
			if got := admin(t, rollup.SQL+"\nFORMAT TabSeparated"); !strings.Contains(got, "([],[])") {
				t.Errorf("%s at %d s: the rollup's rows of the minute before the migration have a sketch:\n%s", model, bucket, head(got))
			}
			// the plugin's answers (alertable frames) are the same on the three databases
			for _, c := range []struct {
				pc backend.PluginContext
				r  query.Range
			}{{pcAcross, whole}, {pcAcross, second}, {pcOld, whole}} {
				r, interval := c.r, time.Duration(bucket)*time.Second
				got, _ := series(t, e.query(c.pc, r.From.Unix(), r.To.Unix(), interval, model))
				want, _ := series(t, e.query(pcAfter, r.From.Unix(), r.To.Unix(), interval, model))
				if len(got) != len(want) || len(want) == 0 {
					t.Fatalf("%s at %d s over %d–%d: %d series, want %d", model, bucket, r.From.Unix(), r.To.Unix(), len(got), len(want))
				}
				for key, w := range want {
					g := got[key]
					if len(g) != len(w) {
						t.Errorf("%s: %d points, want %d", key, len(g), len(w))
						continue
					}
					for i := range w {
						values++
						if (g[i] == nil) != (w[i] == nil) || g[i] != nil && *g[i] != *w[i] {
							t.Errorf("%s at %d s over %d–%d, point %d: %v, want %v", key, bucket, r.From.Unix(), r.To.Unix(), i, val(g[i]), val(w[i]))
						}
					}
				}
			}
		}
	}
	t.Logf("%d RED values alike with %d app_metrics rows written before the migration and %d after, with all after, and with no migration", values, len(before), len(after))
}

func val(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

func head(s string) string {
	if len(s) > 2000 {
		return s[:2000] + "…"
	}
	return s
}
