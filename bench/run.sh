#!/usr/bin/env bash
# The benchmark command: figures measured side by side in one run, each printed beside its target.
#   1. syscall cost: write+read loops on loopback TCP without and with the agent (capture on),
#      interleaved rounds, medians; ns per syscall and the difference.
#   2. agent pipeline capacity: recorded-format batches through the real pipeline on one core.
#   3. fuzzing: a million inputs per protocol parser (the tests run 20,000).
# Usage: bench/run.sh [--quick]   (--quick: fewer rounds, for the smoke run inside the tests)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
quick=${1:-}
rounds=5; iters=200000; cap_seconds=5
if [ "$quick" = --quick ]; then rounds=1; iters=20000; cap_seconds=1; fi
[ "$(id -u)" = 0 ] || { echo "bench: run as root (the agent loads eBPF programs)"; exit 1; }
scripts/build.sh agent >/dev/null
scripts/clickhouse.sh start >/dev/null
mkdir -p build/bench
gcc -O2 -o build/bench/syscall_cost bench/syscall_cost.c

agent_pid=""
start_agent() {
  echo '{"statusIntervalMs":0,"database":"flowlens_bench"}' > build/bench/agent.json
  taskset -c 0 node build/agent/src/agent/main.js --config build/bench/agent.json > build/bench/agent.log 2>&1 &
  agent_pid=$!
  for _ in $(seq 1 100); do grep -q 'flowlens-agent: ready' build/bench/agent.log && return 0; sleep 0.1; done
  echo "bench: the agent did not start:"; cat build/bench/agent.log; exit 1
}
stop_agent() { [ -n "$agent_pid" ] && kill -INT "$agent_pid" && wait "$agent_pid" || true; agent_pid=""; }
trap stop_agent EXIT

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
loop() { taskset -c 1 build/bench/syscall_cost tcp "$1" "$iters"; }

printf '\n%-44s %12s %12s %12s %10s\n' "figure" "without" "with agent" "difference" "target"
for size in 64 200 1024; do
  base=(); with=()
  for _ in $(seq 1 "$rounds"); do
    base+=("$(loop "$size")")
    start_agent; with+=("$(loop "$size")"); stop_agent
  done
  b=$(median "${base[@]}"); w=$(median "${with[@]}")
  printf '%-44s %10.0f ns %10.0f ns %+10.0f ns %10s\n' "syscall cost, loopback TCP, ${size} B write+read" "$b" "$w" "$(echo "$w - $b" | bc -l)" "<= +400 ns"
done

cap=$(node build/agent/bench/pipelineCapacity.js "$cap_seconds")
rps=$(node -p "JSON.parse(process.argv[1]).requestsPerSecondPerCore" "$cap")
rss=$(node -p "JSON.parse(process.argv[1]).rssMB" "$cap")
printf '%-44s %12s %12s %12s %10s\n' "pipeline capacity (HTTP req/s per core)" "" "$rps" "" ">= 100000"
printf '%-44s %12s %12s %12s %10s\n' "pipeline RSS at that rate (MB)" "" "$rss" "" "<= 256"
fuzz_iters=1000000
[ "$quick" = --quick ] && fuzz_iters=20000
start=$(date +%s)
if FLOWLENS_FUZZ_ITERATIONS=$fuzz_iters node --test build/agent/test/agent/fuzz/ > build/bench/fuzz.log 2>&1; then fuzz=ok; else fuzz=FAILED; fi
printf '%-44s %12s %12s %12s %10s\n' "fuzz: $fuzz_iters inputs per parser" "" "$fuzz" "$(( $(date +%s) - start )) s" "no crash"
[ "$fuzz" = ok ] || tail -n 40 build/bench/fuzz.log
echo "bench: done (app impact under nginx load, storage and query figures: issue 7, not yet built)"
