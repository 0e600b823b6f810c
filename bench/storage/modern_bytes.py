"""Bytes on disk per request log with the modern DDL (LowCardinality, Delta + ZSTD codecs) on the
modern ClickHouse engine that chdb embeds, for a sample written by `bench/storage -sample-file`.

Usage: python3 bench/storage/modern_bytes.py SAMPLE.bin   (run from the repository root)
Prints one line: "<bytes per row> <rows> <chdb engine version>".
"""

import os
import sys
import tempfile

import chdb
from chdb import session as chdb_session

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DDL = os.path.join(ROOT, "pkg", "schema", "ddl_modern.sql")


def main() -> None:
    sample = os.path.abspath(sys.argv[1])
    with open(sample + ".columns", encoding="utf-8") as f:
        columns = f.read().strip()
    with tempfile.TemporaryDirectory(prefix="flowlens-chdb-") as path:
        s = chdb_session.Session(path)
        with open(DDL, encoding="utf-8") as f:
            text = "\n".join(line for line in f.read().splitlines() if not line.lstrip().startswith("--"))
        for stmt in (x.strip() for x in text.split(";\n")):
            if stmt.rstrip(";"):
                s.query(stmt)
        rows = s.query(
            "SELECT name, type FROM system.columns WHERE database = 'flowlens' AND table = 'l7_flow_log'", "TSV"
        ).bytes().decode().strip().splitlines()
        types = dict(r.split("\t", 1) for r in rows)
        # the sample's structure, in the sample's column order, with the modern table's types
        struct = ", ".join(f"`{c}` {types[c]}" for c in (x.strip().strip("`") for x in columns.split(",")))
        s.query("SYSTEM STOP TTL MERGES")
        s.query(f"INSERT INTO flowlens.l7_flow_log ({columns}) SELECT * FROM file('{sample}', 'RowBinary', '{struct}')")
        s.query("OPTIMIZE TABLE flowlens.l7_flow_log FINAL")
        out = s.query(
            "SELECT sum(bytes_on_disk) / sum(rows), sum(rows), version() FROM system.parts "
            "WHERE database = 'flowlens' AND table = 'l7_flow_log' AND active",
            "TSV",
        ).bytes().decode().strip()
        s.close()
    print(out.replace("\t", " "))


if __name__ == "__main__":
    main()
