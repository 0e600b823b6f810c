// The profiler's own kernel-side cost, from the kernel's BPF run-time statistics: loads the
// profiler through the native addon (no agent), runs a CPU-bound and a context-switch workload
// under it, and prints JSON: ns per on-CPU sample, ns per sched_switch, ns per off-CPU capture.
// Usage: node build/agent/bench/profilerCost.js WORKLOADS_BINARY CPU_ITERATIONS SWITCH_ROUNDS
import { execFileSync } from 'node:child_process';
import { loadAddon } from '../src/agent/capture/nativeTracer';
import type { NativeProfilerStats, ProfilerAddon } from '../src/agent/profiling/continuousProfiler';

type Stats = NativeProfilerStats & {
  onCpuRunNs?: number;
  onCpuRuns?: number;
  offCpuRunNs?: number;
  offCpuRuns?: number;
};

const [bin, cpuIters, rounds] = process.argv.slice(2);
const native = loadAddon() as unknown as ProfilerAddon;
native.profilerOpen({ hz: 99, offCpu: 1, offCpuMinUs: 1000, kernelStats: 1 });
const before = native.profilerStats() as Stats;
execFileSync('taskset', ['-c', '1', bin, 'cpu', cpuIters]);
execFileSync('taskset', ['-c', '1', bin, 'switch', rounds]);
native.profilerDrain();
const s = native.profilerStats() as Stats;
native.profilerClose();
const per = (ns?: number, n?: number, ns0?: number, n0?: number) =>
  (n ?? 0) - (n0 ?? 0) > 0 ? ((ns ?? 0) - (ns0 ?? 0)) / ((n ?? 0) - (n0 ?? 0)) : NaN;
process.stdout.write(
  JSON.stringify({
    statsAvailable: s.onCpuRuns !== undefined,
    onCpuNsPerSample: Math.round(per(s.onCpuRunNs, s.onCpuRuns, before.onCpuRunNs, before.onCpuRuns)),
    offCpuNsPerSwitch: Math.round(per(s.offCpuRunNs, s.offCpuRuns, before.offCpuRunNs, before.offCpuRuns)),
    samples: s.samples,
    switches: (s.offCpuRuns ?? 0) - (before.offCpuRuns ?? 0),
    captures: s.offCpuCaptures,
    stackErrors: s.stackErrors,
  }) + '\n'
);
