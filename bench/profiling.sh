#!/usr/bin/env bash
# Profiling overhead, side by side (called by bench/run.sh; runs alone too): a CPU-bound loop and
# a pipe ping-pong (two blocking context switches per round trip) on CPU 1, with the agent on
# CPU 0 running with profiling off and with profiling on at 99 Hz per CPU (plus no agent at all,
# for reference); interleaved rounds, medians, ratios. Then the profiler's kernel-side cost per
# sample and per context switch, from the kernel's BPF run-time statistics.
# Usage: bench/profiling.sh [--quick]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
quick=${1:-}
rounds=5; cpu_iters=7000000; switch_rounds=200000
if [ "$quick" = --quick ]; then rounds=1; cpu_iters=1500000; switch_rounds=30000; fi
[ "$(id -u)" = 0 ] || { echo "bench: run as root (the agent loads eBPF programs)"; exit 1; }
mkdir -p build/bench
gcc -O2 -fno-omit-frame-pointer -o build/bench/profiling_workloads bench/profiling_workloads.c

agent_pid=""
start_agent() { # $1: profiling enabled (true|false)
  echo "{\"statusIntervalMs\":0,\"database\":\"flowlens_bench\",\"profiling\":{\"enabled\":$1}}" > build/bench/agent-profiling.json
  taskset -c 0 node build/agent/src/agent/main.js --config build/bench/agent-profiling.json > build/bench/agent-profiling.log 2>&1 &
  agent_pid=$!
  for _ in $(seq 1 150); do grep -q 'flowlens-agent: ready' build/bench/agent-profiling.log && return 0; sleep 0.1; done
  echo "bench: the agent did not start:"; cat build/bench/agent-profiling.log; exit 1
}
stop_agent() { [ -n "$agent_pid" ] && kill -INT "$agent_pid" && wait "$agent_pid" || true; agent_pid=""; }
trap stop_agent EXIT
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
work() { taskset -c 1 build/bench/profiling_workloads "$@"; }

cpu_none=(); cpu_off=(); cpu_on=(); wall_none=(); wall_off=(); wall_on=(); sw_none=(); sw_off=(); sw_on=(); agent_off=(); agent_on=()
for _ in $(seq 1 "$rounds"); do
  read -r w c < <(work cpu "$cpu_iters"); wall_none+=("$w"); cpu_none+=("$c"); sw_none+=("$(work switch "$switch_rounds")")
  for mode in false true; do
    start_agent $mode
    sleep 3 # past the agent's start-up work (its first intervals read every binary's symbols)
    t0=$(cpu_ticks "$agent_pid"); s0=$(date +%s.%N)
    read -r w c < <(work cpu "$cpu_iters")
    s=$(work switch "$switch_rounds")
    sleep 2 # a window long enough for clock-tick CPU accounting, with the agent's drains in it
    t1=$(cpu_ticks "$agent_pid"); s1=$(date +%s.%N)
    cores=$(echo "($t1 - $t0) / $(getconf CLK_TCK) / ($s1 - $s0)" | bc -l)
    if [ $mode = true ]; then cpu_on+=("$c"); wall_on+=("$w"); sw_on+=("$s"); agent_on+=("$cores"); else cpu_off+=("$c"); wall_off+=("$w"); sw_off+=("$s"); agent_off+=("$cores"); fi
    stop_agent
  done
done
cn=$(median "${cpu_none[@]}"); cf=$(median "${cpu_off[@]}"); co=$(median "${cpu_on[@]}")
wn=$(median "${wall_none[@]}"); wf=$(median "${wall_off[@]}"); wo=$(median "${wall_on[@]}")
sn=$(median "${sw_none[@]}"); sf=$(median "${sw_off[@]}"); so=$(median "${sw_on[@]}")
af=$(median "${agent_off[@]}"); ao=$(median "${agent_on[@]}")
printf '\n%-44s %12s %12s %12s %10s %10s\n' "profiling figure" "no agent" "prof. off" "prof. 99 Hz" "on/off" "target"
printf '%-44s %9.1f ms %9.1f ms %9.1f ms %9.3fx %10s\n' "CPU-bound loop: CPU time (${cpu_iters} iter.)" "$cn" "$cf" "$co" "$(echo "$co / $cf" | bc -l)" "<= 1.02x"
printf '%-44s %9.1f ms %9.1f ms %9.1f ms %9.3fx %10s\n' "CPU-bound loop: wall time" "$wn" "$wf" "$wo" "$(echo "$wo / $wf" | bc -l)" ""
printf '%-44s %9.0f ns %9.0f ns %9.0f ns %9.3fx %10s\n' "pipe round trip (2 blocking switches)" "$sn" "$sf" "$so" "$(echo "$so / $sf" | bc -l)" ""
printf '%-44s %12s %12.4f %12.4f %10s %10s\n' "agent CPU, workloads + 2 s (cores)" "" "$af" "$ao" "" ""
cost=$(node build/agent/bench/profilerCost.js build/bench/profiling_workloads "$cpu_iters" "$switch_rounds")
field() { node -p "JSON.parse(process.argv[1]).$2" "$1"; }
printf '%-44s %12s %12s %9s ns %10s %10s\n' "kernel cost per on-CPU sample" "" "" "$(field "$cost" onCpuNsPerSample)" "" ""
printf '%-44s %12s %12s %9s ns %10s %10s\n' "kernel cost per context switch (off-CPU)" "" "" "$(field "$cost" offCpuNsPerSwitch)" "" ""
echo "bench: profiling done ($rounds rounds; medians)"
