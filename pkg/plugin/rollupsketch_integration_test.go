package plugin_test

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/flowlens/flowlens/pkg/query"
)

// The rollup's latency sketch on the real server, across the migration that added it: the known
// requests' first minute is stored before that migration (the rollup has no sketch, its view
// none), the second after it. RED read from app_metrics_edge, percentiles included, gives exactly
// the rows app_metrics gives: the migration filled the sketch of the rows already there without
// counting a request twice, and its new view fills it for every insert after.
func TestRollupSketchAcrossItsMigration(t *testing.T) {
	admin(t, "SELECT 1")
	db := fmt.Sprintf("%s_edgesketch_%d", testDB, os.Getpid())
	stmts := schemaStatements(t, func(sql string) string { return admin(t, sql) })
	// the migration's first statement: the sketch column of the rollup
	at := -1
	for i, s := range stmts {
		if strings.HasPrefix(s, "ALTER TABLE flowlens."+query.EdgeTable+" ADD COLUMN `latency_sketchMap.keys`") {
			at = i
		}
	}
	if at < 0 {
		t.Fatal("no migration adds app_metrics_edge.latency_sketchMap to the DDL")
	}
	admin(t, "DROP DATABASE IF EXISTS "+db)
	t.Cleanup(func() { admin(t, "DROP DATABASE IF EXISTS "+db) })
	for _, s := range stmts[:at] {
		admin(t, onDatabase(s, db))
	}
	var before, after []map[string]any
	split := time.Unix(redDataStart+60, 0).UTC().Format("2006-01-02 15:04:05")
	for _, row := range aggregateWithAgent(t, knownRequests()) {
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

	r := query.Range{From: time.Unix(redDataStart, 0), To: time.Unix(redDataStart+119, 0)}
	checked := 0
	for _, model := range []string{
		`{"queryType":"red"}`,
		`{"queryType":"red","metric":"latency_p99","observation_point":"all","group_by":["service","client_service","observation_point","l7_protocol"]}`,
		`{"queryType":"red","metric":"latency_p50","group_by":["service","team"]}`,
	} {
		m, err := query.Parse([]byte(model))
		if err != nil {
			t.Fatal(err)
		}
		for _, bucket := range []int64{5, 60} {
			rollup, err := query.BuildRED(db, m, r, bucket)
			if err != nil {
				t.Fatal(err)
			}
			full, err := query.BuildREDFromAppMetrics(db, m, r, bucket)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(rollup.SQL, "`"+query.EdgeTable+"`") || strings.Contains(full.SQL, query.EdgeTable) {
				t.Fatalf("%s: the rollup's query reads %s, the unrolled one %s", model, rollup.Table, full.Table)
			}
			got, want := admin(t, rollup.SQL+"\nFORMAT TabSeparated"), admin(t, full.SQL+"\nFORMAT TabSeparated")
			if got != want {
				t.Errorf("%s at %d s: the rollup's rows differ from app_metrics':\n%s\nwant\n%s", model, bucket, head(got), head(want))
			}
			lines := strings.Split(want, "\n")
			// every bucket of both minutes has requests and a sketch
			if int64(len(lines)) < 120/bucket || strings.Contains(want, "([],[])") {
				t.Errorf("%s at %d s: %d rows, or one without a sketch:\n%s", model, bucket, len(lines), head(want))
			}
			checked += len(lines)
		}
	}
	t.Logf("%d RED rows (percentile sketches, counts, sums, maxima) from the rollup equal app_metrics'; %d app_metrics rows before the migration, %d after",
		checked, len(before), len(after))
}

func head(s string) string {
	if len(s) > 2000 {
		return s[:2000] + "…"
	}
	return s
}
