#!/usr/bin/env bash
# The benchmark command: figures measured side by side in one run, each printed beside its target.
#   1. syscall cost: write+read loops on loopback TCP without and with the agent (capture on),
#      interleaved rounds, medians; ns per syscall and the difference.
#   2. agent pipeline capacity: recorded-format batches through the real pipeline on one core.
#   3. application impact: nginx at a constant 10k req/s and at saturation (bench/loadgen, open and
#      closed loop), without vs with the agent doing full L7 capture: latency percentiles,
#      throughput, agent CPU and peak RSS; the agent's CPU again without profiling, and without
#      profiling and the automatic tags (src/agent/tags).
#   4. fuzzing: a million inputs per protocol parser (the tests run 20,000).
#   5. profiling overhead (bench/profiling.sh): a CPU-bound loop and a pipe ping-pong with the
#      agent's profiling off vs on at 99 Hz, and the profiler's kernel cost per sample and switch.
# Usage: bench/run.sh [--quick]   (--quick: fewer rounds, for the smoke run inside the tests)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
quick=${1:-}
rounds=5; iters=200000; cap_seconds=5; load_seconds=10; warmup_seconds=5
if [ "$quick" = --quick ]; then rounds=1; iters=20000; cap_seconds=1; load_seconds=2; warmup_seconds=1; fi
[ "$(id -u)" = 0 ] || { echo "bench: run as root (the agent loads eBPF programs)"; exit 1; }
scripts/build.sh agent >/dev/null
scripts/clickhouse.sh start >/dev/null
eval "$(scripts/clickhouse.sh env)" # the agent writes as the local server's writer (no passwordless user)
mkdir -p build/bench
gcc -O2 -o build/bench/syscall_cost bench/syscall_cost.c
PATH=$PATH:/usr/local/go/bin go build -o build/bin/loadgen ./bench/loadgen

agent_pid=""
start_agent() {
  echo '{"statusIntervalMs":0,"database":"flowlens_bench"}' > build/bench/agent.json
  taskset -c 0 node build/agent/src/agent/main.js --config build/bench/agent.json > build/bench/agent.log 2>&1 &
  agent_pid=$!
  local ready=""
  for _ in $(seq 1 100); do grep -q 'flowlens-agent: ready' build/bench/agent.log && { ready=1; break; }; sleep 0.1; done
  [ -n "$ready" ] || { echo "bench: the agent did not start:"; cat build/bench/agent.log; exit 1; }
  # steady state: the per-segment hook that finds flows older than the agent runs its first seconds only
  if grep -q 'TCP flows: tracepoints attached' build/bench/agent.log; then
    for _ in $(seq 1 150); do grep -q 'discovery of flows older than the agent ended' build/bench/agent.log && return 0; sleep 0.1; done
    echo "bench: the agent's discovery of older TCP flows did not end"; exit 1
  fi
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
# --- application impact: nginx serving a small page, the agent capturing every request ---
mkdir -p build/bench/nginx/logs
cat > build/bench/nginx/nginx.conf <<NGINX
worker_processes 1;
pid $here/build/bench/nginx/nginx.pid;
error_log $here/build/bench/nginx/logs/error.log warn;
events { worker_connections 1024; }
http { access_log off; keepalive_requests 1000000;
  server { listen 127.0.0.1:28400; location / { default_type text/plain; return 200 "hello from nginx, a page of a typical small API answer\n"; } } }
NGINX
/usr/sbin/nginx -p "$here/build/bench/nginx" -c "$here/build/bench/nginx/nginx.conf" -g 'daemon off;' &
nginx_pid=$!
trap 'stop_agent; kill $nginx_pid 2>/dev/null || true' EXIT
sleep 0.5
# Each run has an unmeasured warm-up in the same load-generator process, with and without the agent
# alike: the figures are the steady state of a running agent, not its first seconds (the JIT, and
# the profiler learning the stacks of a process it has not seen yet).
load() { build/bin/loadgen -url http://127.0.0.1:28400/ -rate "$1" -warmup "${warmup_seconds}s" -duration "${load_seconds}s" -conns 32 "${@:2}"; }
# load_agent RATE: load() while the agent runs; sets load_out and load_cores (the agent's CPU over
# the measured part only)
load_agent() {
  rm -f build/bench/measuring
  load "$1" -mark build/bench/measuring > build/bench/load.json &
  local lp=$! t0 s0 t1 s1
  while [ ! -f build/bench/measuring ] && kill -0 "$lp" 2>/dev/null; do sleep 0.02; done
  t0=$(cpu_ticks "$agent_pid"); c0=$(cpu_ticks "$ch_pid"); s0=$(date +%s.%N)
  wait "$lp"
  t1=$(cpu_ticks "$agent_pid"); c1=$(cpu_ticks "$ch_pid"); s1=$(date +%s.%N)
  load_out=$(cat build/bench/load.json)
  load_cores=$(echo "($t1 - $t0) / $(getconf CLK_TCK) / ($s1 - $s0)" | bc -l)
  load_ch_cores=$(echo "($c1 - $c0) / $(getconf CLK_TCK) / ($s1 - $s0)" | bc -l)
}
# the local ClickHouse shares these 2 CPUs with nginx, the load generator and the agent: its CPU for
# the agent's inserts is shown beside the agent's
ch_pid=$(cat "${FLOWLENS_DATA:-.data}/clickhouse/clickhouse.pid")
field() { node -p "JSON.parse(process.argv[1]).$2" "$1"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# one 10 s run's p99 swings 2x with whatever else the host does: interleaved rounds, medians
load_rounds=3; [ "$quick" = --quick ] && load_rounds=1
bp50=(); bp99=(); bp999=(); brate=(); wp50=(); wp99=(); wp999=(); wrate=(); cores=(); agent_rss=0; cores_l7=(); lp99=(); ch_cores=(); cores_notags=()
for _ in $(seq 1 "$load_rounds"); do
  base=$(load 10000)
  bp50+=("$(field "$base" p50_us)"); bp99+=("$(field "$base" p99_us)"); bp999+=("$(field "$base" p999_us)"); brate+=("$(field "$base" rate_per_sec)")
  start_agent
  load_agent 10000
  with=$load_out
  cores+=("$load_cores"); ch_cores+=("$load_ch_cores")
  rss=$(awk '/VmHWM/ {print int($2/1024)}' "/proc/$agent_pid/status")
  [ "$rss" -gt "$agent_rss" ] && agent_rss=$rss
  stop_agent
  wp50+=("$(field "$with" p50_us)"); wp99+=("$(field "$with" p99_us)"); wp999+=("$(field "$with" p999_us)"); wrate+=("$(field "$with" rate_per_sec)")
  # the same with continuous profiling off: what L7 capture alone costs (profiling is on by default)
  FLOWLENS_PROFILING=false start_agent
  load_agent 10000
  stop_agent
  cores_l7+=("$load_cores")
  lp99+=("$(field "$load_out" p99_us)")
  # and with the automatic tags off too: what tagging processes (src/agent/tags) costs
  FLOWLENS_PROFILING=false FLOWLENS_TAGS=false start_agent
  load_agent 10000
  stop_agent
  cores_notags+=("$load_cores")
done
agent_cores=$(median "${cores[@]}")
median_of() { local -n values=$1; median "${values[@]}"; }
for p in p50 p99 p999; do
  b=$(median_of "b$p"); w=$(median_of "w$p")
  target=""; [ $p = p99 ] && target="<= 1.05x"
  printf '%-44s %10s us %10s us %11.2fx %10s\n' "nginx at 10k req/s: latency ${p}_us (median of $load_rounds)" "$b" "$w" "$(echo "$w / $b" | bc -l)" "$target"
done
printf '%-44s %12.0f %12.0f %12s %10s\n' "nginx at 10k req/s: achieved req/s" "$(median "${brate[@]}")" "$(median "${wrate[@]}")" "" ""
printf '%-44s %12s %12.3f %12s %10s\n' "agent CPU at 10k req/s (cores)" "" "$agent_cores" "" "<= 0.10"
printf '%-44s %12s %12.3f %12s %10s\n' "  local ClickHouse CPU for its inserts (cores)" "" "$(median "${ch_cores[@]}")" "" ""
printf '%-44s %10s us %10s us %11.2fx %10s\n' "  with profiling off: latency p99_us" "$(median_of bp99)" "$(median "${lp99[@]}")" "$(echo "$(median "${lp99[@]}") / $(median_of bp99)" | bc -l)" ""
printf '%-44s %12s %12.3f %12s %10s\n' "  with profiling off: agent CPU (cores)" "" "$(median "${cores_l7[@]}")" "" ""
printf '%-44s %12s %12.3f %12s %10s\n' "  with profiling and tags off: agent CPU" "" "$(median "${cores_notags[@]}")" "" ""
printf '%-44s %12s %12s %12s %10s\n' "agent peak RSS (MB, highest of the rounds)" "" "$agent_rss" "" "<= 256"
sat_base=$(load 0)
start_agent; load_agent 0; sat_with=$load_out; stop_agent
sb=$(field "$sat_base" rate_per_sec); sw=$(field "$sat_with" rate_per_sec)
printf '%-44s %12.0f %12.0f %11.2fx %10s\n' "nginx saturation throughput (req/s)" "$sb" "$sw" "$(echo "$sw / $sb" | bc -l)" ">= 0.90x"
printf '%-44s %12s %12.3f %12s %10s\n' "  at saturation: agent CPU (cores)" "" "$load_cores" "" ""
printf '%-44s %12s %12.3f %12s %10s\n' "  at saturation: local ClickHouse CPU (cores)" "" "$load_ch_cores" "" ""
kill $nginx_pid 2>/dev/null || true

# --- profiling overhead at 99 Hz: CPU-bound and context-switch workloads, profiling off vs on ---
bench/profiling.sh "$quick" | tail -n +2

fuzz_iters=1000000
[ "$quick" = --quick ] && fuzz_iters=20000
start=$(date +%s)
if FLOWLENS_FUZZ_ITERATIONS=$fuzz_iters node --test build/agent/test/agent/fuzz/ > build/bench/fuzz.log 2>&1; then fuzz=ok; else fuzz=FAILED; fi
printf '%-44s %12s %12s %12s %10s\n' "fuzz: $fuzz_iters inputs per parser" "" "$fuzz" "$(( $(date +%s) - start )) s" "no crash"
[ "$fuzz" = ok ] || tail -n 40 build/bench/fuzz.log

# --- storage and queries: 10M generated request logs (one hour) in an own database on the local
# ClickHouse; bytes per request log, the backend's map and RED SQL, trace assembly (bench/storage) ---
storage_rows=10000000; storage_runs=5; storage_traces=9
[ "$quick" = --quick ] && { storage_rows=200000; storage_runs=3; storage_traces=5; }
PATH=$PATH:/usr/local/go/bin go build -o build/bin/storagebench ./bench/storage
build/bin/storagebench -url "$FLOWLENS_CLICKHOUSE_URL" -rows "$storage_rows" -runs "$storage_runs" -traces "$storage_traces" \
  -sample-file build/bench/storage_sample.bin -sample-rows 1000000
if modern=$(python3 bench/storage/modern_bytes.py build/bench/storage_sample.bin 2>build/bench/modern_bytes.log); then
  read -r bpr mrows mversion <<<"$modern"
  printf '%-44s %12s %12s %12s %10s  %s\n' "storage: bytes per request log, modern DDL" "" "$(printf '%.1f B' "$bpr")" "" "<= 64 B" \
    "chdb $mversion, first $mrows rows, ddl_modern.sql (codecs)"
else
  echo "storage: modern DDL not measured (chdb): $(tail -n 1 build/bench/modern_bytes.log)"
fi
rm -f build/bench/storage_sample.bin
echo "bench: done"
