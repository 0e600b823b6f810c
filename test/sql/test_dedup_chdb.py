"""With the modern DDL (pkg/schema/ddl_modern.sql), an INSERT retried with the same
insert_deduplication_token is stored once, on chdb's embedded modern ClickHouse.

The agent seals each batch before its first attempt and sends every retry with the same bytes and
the same token (run id, table, batch sequence): this is the server half of that promise. 18.16
has no deduplication for plain MergeTree and gets no token (see the README).
"""

import os

from chdb import session as chdb_session

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DDL = os.path.join(ROOT, "pkg", "schema", "ddl_modern.sql")
TABLES = ("l7_flow_log", "l4_flow_log", "app_metrics", "app_metrics_edge", "net_metrics", "tcp_timeline", "profile_samples")


def modern_schema():
    s = chdb_session.Session()
    text = "\n".join(l for l in open(DDL, encoding="utf-8").read().splitlines() if not l.lstrip().startswith("--"))
    for stmt in [x.strip() for x in text.split(";\n") if x.strip().rstrip(";")]:
        s.query(stmt)
    s.query("SYSTEM STOP TTL MERGES")
    return s


def count(s, sql):
    return int(s.query(sql, "CSV").bytes().decode().strip())


def test_every_table_remembers_insert_blocks():
    s = modern_schema()
    try:
        for t in TABLES:
            create = s.query(f"SHOW CREATE TABLE flowlens.{t}", "TSVRaw").bytes().decode()
            assert "non_replicated_deduplication_window = 1000" in create, f"{t}: {create}"
    finally:
        s.close()


def test_same_token_stored_once_other_token_twice():
    s = modern_schema()
    try:
        block = (
            "INSERT INTO flowlens.app_metrics (time, observation_point, server_service, endpoint, request_count, "
            "latency_sketch_keys, latency_sketch_counts) SETTINGS insert_deduplication_token = '{token}' VALUES "
            "(toDateTime(1795558421), 'server_process', 'api', '/a', 3, [300, 410], [2, 1]), "
            "(toDateTime(1795558422), 'server_process', 'api', '/b', 4, [300], [4])"
        )
        sketch = "SELECT toString(sumMap(`latency_sketchMap.keys`, `latency_sketchMap.counts`)) FROM flowlens.app_metrics_edge"
        total = "SELECT sum(request_count) FROM flowlens.app_metrics"
        s.query(block.format(token="run1-app_metrics-0"))
        s.query(block.format(token="run1-app_metrics-0"))  # the retry of the same batch
        assert count(s, "SELECT count() FROM flowlens.app_metrics") == 2
        assert count(s, total) == 7
        # the per-edge rollup fed by the materialized view saw the block once too
        assert count(s, "SELECT sum(request_count) FROM flowlens.app_metrics_edge") == 7
        # and so is its latency sketch (RED's percentiles)
        assert s.query(sketch, "TSVRaw").bytes().decode().strip() == "([300,410],[6,1])"
        s.query(block.format(token="run1-app_metrics-1"))  # the same rows in another batch: kept
        assert count(s, "SELECT count() FROM flowlens.app_metrics") == 4
        assert count(s, total) == 14
        assert s.query(sketch, "TSVRaw").bytes().decode().strip() == "([300,410],[12,2])"
        # another table keeps its own window: the same token there is a different block
        s.query(
            "INSERT INTO flowlens.l7_flow_log (time, _id, request_resource) SETTINGS insert_deduplication_token = 'run1-app_metrics-0' "
            "VALUES (toDateTime(1795558421), 1, '/a')"
        )
        assert count(s, "SELECT count() FROM flowlens.l7_flow_log") == 1
    finally:
        s.close()
