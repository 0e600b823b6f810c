#!/usr/bin/env bash
# The main job: setup (when needed), build, then the local ClickHouse, the agent and the demo
# services; Ctrl-C stops it cleanly. Extra arguments go to demo/runDemo.ts (--duration S, --rate N).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
scripts/setup.sh
scripts/build.sh all
# the local ClickHouse's users (the demo starts the server; the agent writes, the trace view reads)
scripts/clickhouse.sh start >/dev/null
eval "$(scripts/clickhouse.sh env)"
exec node build/agent/demo/runDemo.js "$@"
