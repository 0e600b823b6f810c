#!/usr/bin/env bash
# The main job: setup (when needed), build, then the local ClickHouse, the agent and the demo
# services; Ctrl-C stops it cleanly. Extra arguments go to demo/runDemo.ts (--duration S, --rate N).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
scripts/setup.sh
scripts/build.sh all
exec node build/agent/demo/runDemo.js "$@"
