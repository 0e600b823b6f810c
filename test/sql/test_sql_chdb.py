"""Runs the modern DDL and every query the backends issue on chdb's embedded modern ClickHouse.

The queries come from build/sql/*.json ([{"name": ..., "sql": ...}]): build/sql/backend.json is
written by `go run ./pkg/cmd/dumpqueries`, build/sql/agent.json by the agent's dump script.
Run from the repo root:  go run ./pkg/cmd/dumpqueries && python3 -m pytest -q test/sql
Needs the `chdb` PyPI package (installed by the project's setup script).
"""

import glob
import json
import os
import re

import chdb
import pytest
from chdb import session as chdb_session

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DDL = os.path.join(ROOT, "pkg", "schema", "ddl_modern.sql")
QUERY_FILES = sorted(glob.glob(os.path.join(ROOT, "build", "sql", "*.json")))


def ddl_statements():
    with open(DDL, encoding="utf-8") as f:
        text = f.read()
    text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
    return [s.strip() for s in text.split(";\n") if s.strip().rstrip(";")]


def load_queries():
    out = []
    for path in QUERY_FILES:
        with open(path, encoding="utf-8") as f:
            entries = json.load(f)
        assert isinstance(entries, list), f"{path}: want a JSON array of {{name, sql}}"
        for e in entries:
            out.append(pytest.param(e["sql"], id=f"{os.path.basename(path)}:{e['name']}"))
    return out


@pytest.fixture(scope="module")
def db():
    s = chdb_session.Session()
    for stmt in ddl_statements():
        s.query(stmt)
    # The fixture rows are from 2023, far past the modern TTL: keep background merges from
    # deleting them while the tests run.
    s.query("SYSTEM STOP TTL MERGES")
    # A few rows inside the dumped queries' range (1700000000..1700003600), so the
    # observation-point subqueries and aggregates run on data, not on empty parts.
    s.query(
        "INSERT INTO flowlens.app_metrics (time, observation_point, client_service, server_service, "
        "l7_protocol, endpoint, request_count, error_count, response_duration_sum_us, response_duration_max_us, "
        "latency_sketch_keys, latency_sketch_counts) VALUES "
        "(toDateTime(1700000100), 'server_process', 'frontend', 'checkout', 'HTTP', '/api/pay', 10, 1, 5000, 900, [250, 340], [9, 1]), "
        "(toDateTime(1700000100), 'client_process', 'frontend', 'checkout', 'HTTP', '/api/pay', 10, 1, 6000, 950, [260, 345], [9, 1]), "
        "(toDateTime(1700000100), 'server_process', 'gateway', 'checkout', 'HTTP', '/api/cart', 4, 0, 2000, 700, [250, 300], [3, 1])"
    )
    s.query(
        "INSERT INTO flowlens.l7_flow_log (time, start_time_us, observation_point, l7_protocol, "
        "response_status, client_service, server_service, endpoint) VALUES "
        "(toDateTime(1700000100), 1700000100000000, 'server_process', 'HTTP', 'timeout', 'frontend', 'checkout', '/api/pay')"
    )
    yield s
    s.close()


def test_ddl_creates_every_table(db):
    tables = db.query("SELECT name FROM system.tables WHERE database = 'flowlens' ORDER BY name", "CSV").bytes()
    names = set(tables.decode().replace('"', "").split())
    for t in ("l7_flow_log", "l4_flow_log", "app_metrics", "net_metrics", "tcp_timeline", "profile_samples"):
        assert t in names, f"{t} missing after ddl_modern.sql: {sorted(names)}"


def test_query_files_exist():
    names = [os.path.basename(p) for p in QUERY_FILES]
    assert "backend.json" in names, "build/sql/backend.json missing: run `go run ./pkg/cmd/dumpqueries` first"


@pytest.mark.parametrize("sql", load_queries())
def test_query_runs_on_modern_clickhouse(db, sql):
    assert not re.search(r"\bFORMAT\b\s+\w+\s*$", sql), "dumped SQL must not carry a FORMAT clause"
    res = db.query(sql, "JSONCompact")
    out = json.loads(res.bytes() or b"{}")
    assert "meta" in out, f"no result metadata for:\n{sql}"


def test_map_counts_a_call_seen_at_both_ends_once(db):
    """The default observation-point preference works on modern ClickHouse too."""
    path = os.path.join(ROOT, "build", "sql", "backend.json")
    with open(path, encoding="utf-8") as f:
        sql = {e["name"]: e["sql"] for e in json.load(f)}["map/unfiltered"]
    out = json.loads(db.query(sql, "JSONCompact").bytes())
    rows = {(r[0], r[1]): r for r in out["data"]}
    assert ("frontend", "checkout") in rows, out
    edge = rows[("frontend", "checkout")]
    assert int(edge[2]) == 10 and int(edge[3]) == 1 and int(edge[4]) == 5000, edge


def test_red_percentiles_from_the_rollup_equal_app_metrics(db):
    """The rollup's sketch (the nested latency_sketchMap its materialized view fills) gives the
    rows app_metrics' sketch arrays give: percentiles read from either are the same."""
    path = os.path.join(ROOT, "build", "sql", "backend.json")
    with open(path, encoding="utf-8") as f:
        sql = {e["name"]: e["sql"] for e in json.load(f)}
    assert "app_metrics_edge" in sql["red/unfiltered"] and "sumMap(`latency_sketchMap.keys`, `latency_sketchMap.counts`)" in sql["red/unfiltered"]
    assert "app_metrics_edge" not in sql["red/unfiltered-app_metrics"]
    rollup = json.loads(db.query(sql["red/unfiltered"], "JSONCompact").bytes())["data"]
    full = json.loads(db.query(sql["red/unfiltered-app_metrics"], "JSONCompact").bytes())["data"]
    assert rollup == full
    # checkout's second 100: frontend→checkout at its best point (server_process) and gateway→checkout
    assert [r[1:] for r in rollup] == [["checkout", 14, 1, 7000, 900, [[250, 300, 340], [12, 1, 1]]]], rollup


def test_agent_events_pairs_each_start_with_the_run_before_it(db):
    """agent_events on modern ClickHouse: the range's rows and each host's last run before it, nothing older."""
    path = os.path.join(ROOT, "build", "sql", "backend.json")
    with open(path, encoding="utf-8") as f:
        queries = {e["name"]: e["sql"] for e in json.load(f)}
    # the dumped range is 1700000000..1700003600; host-a: a killed run, a cleanly stopped one, both
    # before the range, then a start in it; it's: a start in the range only
    def ev(host, event, sec, run):
        return f"(toDateTime({sec}), {sec}000000, '{host}', 1, {run}000000, '{event}', '0.1.0', '6.8', '')"

    db.query(
        "INSERT INTO flowlens.agent_events (time, time_us, host, agent_pid, run_start_us, event, agent_version, kernel, reason) VALUES "
        + ", ".join(
            [
                ev("host-a", "start", 1699990000, 1699990000),
                ev("host-a", "start", 1699995000, 1699995000),
                ev("host-a", "stop", 1699996000, 1699995000),
                ev("host-a", "start", 1700000100, 1700000100),
                ev("it''s", "start", 1700000200, 1700000200),
                ev("host-b", "start", 1700000300, 1700000300),
            ]
        )
    )
    out = json.loads(db.query(queries["annotations/agent_events/hosts"], "JSONCompact").bytes())
    got = [(r[0], r[1], int(r[2]) // 1000000) for r in out["data"]]
    assert got == [
        ("host-a", "start", 1699995000),
        ("host-a", "stop", 1699996000),
        ("host-a", "start", 1700000100),
        ("it's", "start", 1700000200),
    ], got


def test_grouping_by_a_tag_follows_pid_reuse(db):
    """Flows and profile samples grouped by workload on modern ClickHouse: pid 700 is reused at second 61 by
    another workload, so its rows before and after fall in two groups (pkg/query tagValue's eras)."""
    path = os.path.join(ROOT, "build", "sql", "backend.json")
    with open(path, encoding="utf-8") as f:
        sql = {e["name"]: e["sql"] for e in json.load(f)}
    t = 1700000000
    db.query(
        "INSERT INTO flowlens.process_tags (time, host, pid, start_time, service, workload_name) VALUES "
        f"(toDateTime({t}), 'vm', 700, 1000, 'orders', 'orders-v1'), (toDateTime({t + 30}), 'vm', 700, 1000, 'orders', 'orders-v1'), "
        f"(toDateTime({t + 61}), 'vm', 700, 7000, 'orders', 'orders-v2'), (toDateTime({t}), 'vm', 900, 600, 'web', 'web')"
    )
    db.query(
        "INSERT INTO flowlens.l4_flow_log (time, host, observation_point, flow_id, client_pid, server_pid, client_service, "
        "server_service, byte_tx, rst_count) VALUES "
        f"(toDateTime({t + 10}), 'vm', 'server_process', 1, 900, 700, 'web', 'orders', 100, 0), "
        f"(toDateTime({t + 50}), 'vm', 'server_process', 1, 900, 700, 'web', 'orders', 50, 0), "
        f"(toDateTime({t + 65}), 'vm', 'server_process', 2, 900, 700, 'web', 'orders', 10, 1)"
    )
    db.query(
        "INSERT INTO flowlens.profile_samples (time, host, pid, tid, process, service, event, stack_id, stack, value) VALUES "
        f"(toDateTime({t + 10}), 'vm', 700, 700, 'orders', 'orders', 'on_cpu', 1, ['main', 'a'], 5), "
        f"(toDateTime({t + 70}), 'vm', 700, 700, 'orders', 'orders', 'on_cpu', 1, ['main', 'a'], 7)"
    )
    flows = json.loads(db.query(sql["flow_log/grouped/workload-eras"], "JSONCompact").bytes())
    got = sorted((r[0], r[1], int(r[3]), int(r[5]), int(r[8])) for r in flows["data"])
    assert got == [("web", "orders-v1", 1, 150, 0), ("web", "orders-v2", 1, 10, 1)], flows["data"]
    flame = json.loads(db.query(sql["flamegraph/grouped/workload-eras"], "JSONCompact").bytes())
    got = sorted((tuple(r[0]), int(r[1])) for r in flame["data"])
    assert got == [(("orders-v1", "main", "a"), 5), (("orders-v2", "main", "a"), 7)], flame["data"]
