#!/usr/bin/env bash
# The one test command: installs what is missing, builds everything, starts the local ClickHouse,
# and runs every suite (Go, agent unit, SQL on 18.16 and on chdb's modern engine, end-to-end with
# real eBPF, frontend unit + headless Chromium). Ends with one line: "N passed, N failed".
# Usage: scripts/test.sh [--quick]   (--quick skips setup and the plugin bundle build)
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
export PATH=$PATH:/usr/local/go/bin
logs=build/test-logs
mkdir -p "$logs"
quick=${1:-}
t0=$(date +%s)

if [ "$quick" != --quick ]; then
  scripts/setup.sh || { echo "test: setup failed"; exit 1; }
  scripts/build.sh all || { echo "test: build failed"; exit 1; }
else
  scripts/build.sh agent || { echo "test: build failed"; exit 1; }
fi
scripts/clickhouse.sh start >/dev/null || { echo "test: the local ClickHouse did not start"; exit 1; }
# Its users (it has none without a password) for every suite. Not its URL: tests point agents at
# other servers by config file, which FLOWLENS_CLICKHOUSE_URL would override; FLOWLENS_CH_HTTP_PORT is
# what the tests' default URL follows.
eval "$(scripts/clickhouse.sh env | grep -v '^export FLOWLENS_CLICKHOUSE_URL=')"

total_pass=0
total_fail=0
failed_suites=()

# run_suite NAME PARSER COMMAND...: PARSER turns the log into "pass fail"
run_suite() {
  local name=$1 parser=$2
  shift 2
  local log="$logs/$name.log" start=$(date +%s)
  "$@" >"$log" 2>&1
  local rc=$?
  read -r p f < <($parser "$log")
  p=${p:-0}
  f=${f:-0}
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi # a runner that failed without counting is one failure
  total_pass=$((total_pass + p))
  total_fail=$((total_fail + f))
  printf 'test: %-22s %4d passed, %3d failed  (%ds)\n' "$name" "$p" "$f" "$(( $(date +%s) - start ))"
  if [ "$f" -ne 0 ]; then
    failed_suites+=("$name")
    # The failures first (a node:test "not ok" with its diagnostics, a Go "--- FAIL", a pytest or
    # jest failure), then the log's end: CI shows only this output.
    echo "----- $name: failures in $log -----"
    grep -E -A 25 '^\s*not ok |^\s*--- FAIL|^FAILED |●' "$log" | head -n 200
    echo "----- $name: last lines of $log -----"
    tail -n 30 "$log"
    echo "-----"
  fi
}

parse_node() { awk '/^# pass /{p=$3} /^# fail /{f=$3} END{print p+0, f+0}' "$1"; }
parse_go() { awk '/^(\s*)--- PASS/{p++} /^(\s*)--- FAIL/{f++} END{print p+0, f+0}' "$1"; }
parse_pytest() { grep -Eo '[0-9]+ (passed|failed)' "$1" | awk '/passed/{p=$1} /failed/{f=$1} END{print p+0, f+0}'; }
parse_jest() { awk '/^Tests:/{for(i=1;i<=NF;i++){if($(i+1) ~ /^passed/)p=$i; if($(i+1) ~ /^failed/)f=$i}} END{print p+0, f+0}' "$1"; }
parse_check() { if grep -q '^CHECK-OK$' "$1"; then echo "1 0"; else echo "0 1"; fi; }
parse_bench() { if grep -q '^bench: done' "$1" && ! grep -q FAILED "$1"; then echo "1 0"; else echo "0 1"; fi; }

lint_check() {
  local bad
  bad=$(gofmt -l pkg cmd bench test 2>/dev/null)
  [ -z "$bad" ] || { echo "gofmt: unformatted: $bad"; return 1; }
  go vet ./pkg/... ./cmd/... ./bench/... ./test/... || return 1
  npx --no-install tsc -p tsconfig.agent.json --noEmit || return 1
  if [ "$quick" != --quick ]; then npm run -s typecheck || return 1; fi
  # the frontend and the agent alike: eslint (Grafana's config) and prettier
  npm run -s lint || return 1
  npm run -s format:check || return 1
  echo CHECK-OK
}

run_suite lint+typecheck parse_check lint_check
run_suite agent-unit parse_node node --test build/agent/test/agent/
run_suite go parse_go go test -count=1 -v ./pkg/... ./test/... ./bench/...
run_suite sql-chdb parse_pytest bash -c 'go run ./pkg/cmd/dumpqueries && node build/agent/scripts/dump-agent-sql.js && python3 -m pytest -q test/sql'
run_suite e2e parse_node node --test --test-concurrency=1 build/agent/test/e2e/
run_suite bench-smoke parse_bench bench/run.sh --quick
if [ "$quick" != --quick ]; then
  run_suite frontend-unit parse_jest npx --no-install jest --ci --maxWorkers 2
  run_suite frontend-chromium parse_node node --test --test-concurrency=1 test/frontend/
fi

echo "test: done in $(( $(date +%s) - t0 )) s${failed_suites:+; failed suites: ${failed_suites[*]}}"
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
