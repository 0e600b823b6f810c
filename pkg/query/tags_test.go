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
	for _, bad := range []*Model{{GroupBy: Values{"team"}}, {GroupBy: Values{"label.bad key"}}, {Tags: TagFilters{"pod": make(Values, MaxValues+1)}}} {
		if _, err := BuildMap("flowlens", bad, r); err == nil {
			t.Errorf("%+v: accepted", bad)
		}
	}
	if _, err := BuildMap("flowlens", &Model{GroupBy: Values{"team"}}, r); err == nil || !strings.Contains(err.Error(), "unknown tag 'team': known tags are cmdline, container, container_id") {
		t.Errorf("error %v", err)
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
	for _, tag := range []string{"", "team", "label.", "label.a b", "label.'x"} {
		if _, err := BuildTagValues("flowlens", tag, r); err == nil {
			t.Errorf("tag %q accepted", tag)
		}
	}
	if _, err := BuildTagValues("flowlens`x", "pod", r); err == nil {
		t.Error("bad database accepted")
	}
}
