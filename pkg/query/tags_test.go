package query

import (
	"strings"
	"testing"
	"time"
)

func TestTaggedMapSQL(t *testing.T) {
	r := Range{From: time.Unix(1700000000, 0), To: time.Unix(1700003600, 0)}
	m := &Model{GroupBy: Values{"workload"}, Tags: TagFilters{"namespace": {"shop", "it's"}, "label.app.kubernetes.io/name": {"x"}}}
	st, err := BuildMap("flowlens", m, r)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"argMax(workload_name, time) AS tag_v FROM `flowlens`.`process_tags` WHERE time >= toDateTime(1699992800) AND time <= toDateTime(1700003600)",
		"tag_v IN ('shop', 'it\\'s')",
		"label_values[indexOf(label_keys, 'app.kubernetes.io/name')]",
		"GROUP BY client, server\nORDER BY requests DESC, client, server\nLIMIT 10000",
	} {
		if !strings.Contains(st.SQL, want) {
			t.Errorf("SQL lacks %q:\n%s", want, st.SQL)
		}
	}
	if st.Limit != MaxEdges {
		t.Errorf("limit %d", st.Limit)
	}
	for _, bad := range []*Model{{GroupBy: Values{"Team"}}, {GroupBy: Values{"label.bad key"}}, {GroupBy: Values{"workload", "team"}}, {Tags: TagFilters{"pod": make(Values, MaxValues+1)}}} {
		if _, err := BuildMap("flowlens", bad, r); err == nil {
			t.Errorf("%+v: accepted", bad)
		}
	}
	if _, err := BuildMap("flowlens", &Model{GroupBy: Values{"Team"}}, r); err == nil || !strings.Contains(err.Error(), "unknown tag 'Team': known tags are cmdline, container, container_id") {
		t.Errorf("error %v", err)
	}
	// a business tag (any other key) groups by the service's current value, whatever the range
	team, err := BuildMap("flowlens", &Model{GroupBy: Values{"team"}, Tags: TagFilters{"owner": {"it's"}}}, r)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"SELECT subject AS tag_k, argMax(value, changed_us) AS tag_v FROM `flowlens`.business_tags WHERE kind = 'service' AND key = 'team' GROUP BY tag_k HAVING argMax(deleted, changed_us) = 0",
		"key = 'owner'", "tag_v IN ('it\\'s')",
	} {
		if !strings.Contains(team.SQL, want) {
			t.Errorf("business tags: no %s in\n%s", want, team.SQL)
		}
	}
}

func TestTagValuesSQL(t *testing.T) {
	r := Range{From: time.Unix(1700000000, 0), To: time.Unix(1700003600, 0)}
	st, err := BuildTagValues("flowlens", "label.app", r)
	if err != nil {
		t.Fatal(err)
	}
	want := "SELECT DISTINCT tag_v FROM (SELECT label_values[indexOf(label_keys, 'app')] AS tag_v FROM `flowlens`.`process_tags` WHERE time >= toDateTime(1699992800) AND time <= toDateTime(1700003600)) WHERE tag_v != '' ORDER BY tag_v LIMIT 10000"
	if st.SQL != want || st.Limit != MaxTagValues {
		t.Errorf("got %s", st.SQL)
	}
	if bt, err := BuildTagValues("flowlens", "team", r); err != nil || !strings.Contains(bt.SQL, "FROM (SELECT subject AS tag_k, argMax(value, changed_us) AS tag_v FROM `flowlens`.business_tags WHERE kind = 'service' AND key = 'team'") {
		t.Errorf("business tag values: %v %v", err, bt)
	}
	for _, tag := range []string{"", "Team", "label.", "label.a b", "label.'x"} {
		if _, err := BuildTagValues("flowlens", tag, r); err == nil {
			t.Errorf("tag %q accepted", tag)
		}
	}
	if _, err := BuildTagValues("flowlens`x", "pod", r); err == nil {
		t.Error("bad database accepted")
	}
}
