package query

import (
	"os"
	"path/filepath"
	"regexp"
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
	st, err := BuildTagValues("flowlens", "label.app", r, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := "SELECT DISTINCT tag_v FROM (SELECT label_values[indexOf(label_keys, 'app')] AS tag_v FROM `flowlens`.`process_tags` WHERE time >= toDateTime(1699992800) AND time <= toDateTime(1700003600)) WHERE tag_v != '' ORDER BY tag_v LIMIT 10000"
	if st.SQL != want || st.Limit != MaxTagValues {
		t.Errorf("got %s", st.SQL)
	}
	if bt, err := BuildTagValues("flowlens", "team", r, nil); err != nil || !strings.Contains(bt.SQL, "FROM (SELECT subject AS tag_k, argMax(value, changed_us) AS tag_v FROM `flowlens`.business_tags WHERE kind = 'service' AND key = 'team'") {
		t.Errorf("business tag values: %v %v", err, bt)
	}
	for _, tag := range []string{"", "Team", "label.", "label.a b", "label.'x"} {
		if _, err := BuildTagValues("flowlens", tag, r, nil); err == nil {
			t.Errorf("tag %q accepted", tag)
		}
	}
	if _, err := BuildTagValues("flowlens`x", "pod", r, nil); err == nil {
		t.Error("bad database accepted")
	}
}

// Grouping by one tag of the ends: network series, flow groups and flame graph roots go through the
// one tag step (tagValue: hash lookups, pid reuse by the row's time where rows carry pids).
func TestGroupByTagSQL(t *testing.T) {
	r := Range{From: time.Unix(1700000000, 0), To: time.Unix(1700003600, 0)}
	net, err := BuildNetMetrics("flowlens", &NetModel{QueryType: TypeNetMetrics, GroupBy: Values{"workload"}}, r, 60)
	if err != nil {
		t.Fatal(err)
	}
	sqlHas(t, "net_metrics by workload", net.SQL,
		"transform(edge_client, tupleElement((SELECT (arrayConcat([''], groupArray(tag_k))",
		"if((transform(edge_server", "AS server_tag) = '', edge_server, server_tag) AS node_server",
		"GROUP BY bucket, client, server, point\nORDER BY bucket, client, server, point\nLIMIT 6101",
		"LIMIT 610001") // the service edges inside: bounded as the map's
	flows, err := BuildFlowLog("flowlens", &NetModel{QueryType: TypeFlowLog, GroupBy: Values{"workload"}, ConnFailed: true}, r)
	if err != nil {
		t.Fatal(err)
	}
	sqlHas(t, "flow_log by workload", flows.SQL,
		"if(transform(concat(host, '/', toString(client_pid)), tupleElement((SELECT (arrayConcat([''], groupArray(tag_k)), arrayConcat([[(toUInt32(0), '')]], groupArray(tag_list)))",
		"start_time AS tag_era",
		"greatest(arrayCount(tag_e -> tag_e.1 <= toUInt32(time), arrayElement(tupleElement(",
		"AS client_tag) = '', client_service, client_tag) AS node_client",
		"conn_failed = 1",
		"GROUP BY client, server, observation_point\nORDER BY flows DESC, client, server, observation_point\nLIMIT 1000")
	team, err := BuildFlowLog("flowlens", &NetModel{QueryType: TypeFlowLog, GroupBy: Values{"team"}}, r)
	if err != nil {
		t.Fatal(err)
	}
	sqlHas(t, "flow_log by team", team.SQL, "transform(client_service, ", "key = 'team'")
	if strings.Contains(team.SQL, "tag_era") {
		t.Errorf("business tags (by service) have no eras:\n%s", team.SQL)
	}
	flame, err := BuildFlameGraph("flowlens", &FlameModel{Event: EventOnCPU, GroupBy: Values{"container"}, Service: Values{"orders"}}, r)
	if err != nil {
		t.Fatal(err)
	}
	sqlHas(t, "flame graph by container", flame.SQL,
		"arrayConcat([flame_root], any(stack)) AS stack",
		"argMax(container_name, time) AS tag_v",
		"AS flame_tag) = '', toString(service), flame_tag) AS flame_root, time, stack_id, stack, value",
		"AND service IN ('orders')",
		"GROUP BY flame_root, stack_id")
	for name, build := range map[string]func() error{
		"net_metrics by two tags": func() error {
			_, err := BuildNetMetrics("flowlens", &NetModel{GroupBy: Values{"team", "workload"}}, r, 60)
			return err
		},
		"flow_log by an unknown tag": func() error {
			_, err := BuildFlowLog("flowlens", &NetModel{GroupBy: Values{"Team"}}, r)
			return err
		},
		"flow groups as log lines": func() error {
			_, err := BuildFlowLog("flowlens", &NetModel{GroupBy: Values{"team"}, Format: FormatLogs}, r)
			return err
		},
		"flame graph by a bad label": func() error {
			_, err := BuildFlameGraph("flowlens", &FlameModel{Event: EventOnCPU, GroupBy: Values{"label.a b"}}, r)
			return err
		},
	} {
		if build() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// The editor offers one tag grouping the ends (src/datasource/types.ts ONE_TAG_GROUP_TYPES) exactly
// for the query types whose builders take one: each listed type accepts group_by workload.
func TestEditorOneTagGroupTypes(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "src", "datasource", "types.ts"))
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile(`ONE_TAG_GROUP_TYPES: FlowLensQueryType\[\] = \[([^\]]*)\]`).FindSubmatch(raw)
	if block == nil {
		t.Fatal("types.ts has no ONE_TAG_GROUP_TYPES")
	}
	r := Range{From: time.Unix(1700000000, 0), To: time.Unix(1700003600, 0)}
	builders := map[string]func() error{
		TypeMap: func() error { _, err := BuildMap("flowlens", &Model{GroupBy: Values{"workload"}}, r); return err },
		TypeNetMetrics: func() error {
			_, err := BuildNetMetrics("flowlens", &NetModel{GroupBy: Values{"workload"}}, r, 60)
			return err
		},
		TypeNetProfileSummary: func() error {
			_, err := BuildNetProfileSummary("flowlens", &NetModel{GroupBy: Values{"workload"}}, r, 60)
			return err
		},
		TypeFlowLog: func() error {
			_, err := BuildFlowLog("flowlens", &NetModel{GroupBy: Values{"workload"}}, r)
			return err
		},
	}
	listed := map[string]bool{}
	for _, m := range regexp.MustCompile(`'(\w+)'`).FindAllSubmatch(block[1], -1) {
		listed[string(m[1])] = true
		build, ok := builders[string(m[1])]
		if !ok {
			t.Errorf("ONE_TAG_GROUP_TYPES lists %s, which groups by no tag of its ends", m[1])
		} else if err := build(); err != nil {
			t.Errorf("%s grouped by workload: %v", m[1], err)
		}
	}
	for typ := range builders {
		if !listed[typ] {
			t.Errorf("%s groups by one tag but the editor does not offer it (ONE_TAG_GROUP_TYPES)", typ)
		}
	}
}
