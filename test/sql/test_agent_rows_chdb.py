"""Rows exactly as the agent builds them insert into the modern schema (chdb) with JSONEachRow.

build/sql/agent_rows/<table>.jsonl is written by scripts/dump-agent-sql.ts (run by the test command).
"""

import glob
import json
import os

from chdb import session as chdb_session

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DDL = os.path.join(ROOT, "pkg", "schema", "ddl_modern.sql")
ROWS = sorted(glob.glob(os.path.join(ROOT, "build", "sql", "agent_rows", "*.jsonl")))


def test_agent_rows_insert_and_read_back():
    assert ROWS, "build/sql/agent_rows/*.jsonl missing: run node build/agent/scripts/dump-agent-sql.js"
    s = chdb_session.Session()
    text = "\n".join(l for l in open(DDL, encoding="utf-8").read().splitlines() if not l.lstrip().startswith("--"))
    for stmt in [x.strip() for x in text.split(";\n") if x.strip().rstrip(";")]:
        s.query(stmt)
    s.query("SYSTEM STOP TTL MERGES")
    for path in ROWS:
        table = os.path.basename(path)[: -len(".jsonl")]
        rows = [json.loads(l) for l in open(path, encoding="utf-8") if l.strip()]
        s.query(f"INSERT INTO flowlens.{table} FORMAT JSONEachRow " + "\n".join(json.dumps(r) for r in rows))
        got = json.loads(s.query(f"SELECT * REPLACE (toUnixTimestamp(time) AS time) FROM flowlens.{table}", "JSON").bytes())
        assert len(got["data"]) == len(rows), table
        for k, v in rows[0].items():
            back = got["data"][0][k]
            # ClickHouse's JSON output quotes 64-bit integers
            assert str(back) == str(v) or back == v, f"{table}.{k}: wrote {v!r}, read {back!r}"
    s.close()
