// Answers "can this kernel run the FlowLens tracer" once, with a message naming what is missing.
import { existsSync } from 'node:fs';
import { release } from 'node:os';

export interface FeatureProblem {
  what: string;
  fix: string;
}

export function kernelVersion(): [number, number] {
  const m = /^(\d+)\.(\d+)/.exec(release());
  return m ? [Number(m[1]), Number(m[2])] : [0, 0];
}

/** Problems that stop the socket tracer from loading; empty when the kernel is fit. */
export function checkTracerFeatures(): FeatureProblem[] {
  const problems: FeatureProblem[] = [];
  if (process.platform !== 'linux') {
    problems.push({
      what: `FlowLens's agent runs on Linux only (this is ${process.platform})`,
      fix: 'run it on a Linux host',
    });
    return problems;
  }
  const [major, minor] = kernelVersion();
  // tp_btf on sys_exit, ring buffers and bpf_get_current_task_btf need 5.11+ (and no memlock rlimit then).
  if (major < 5 || (major === 5 && minor < 11)) {
    problems.push({ what: `kernel ${release()} is older than 5.11`, fix: 'upgrade the kernel to 5.11 or newer' });
  }
  // FLOWLENS_BTF_PATH exists for tests that simulate a kernel without BTF
  const btf = process.env.FLOWLENS_BTF_PATH || '/sys/kernel/btf/vmlinux';
  if (!existsSync(btf)) {
    problems.push({
      what: `the kernel exposes no BTF (${btf} is missing)`,
      fix: 'use a kernel built with CONFIG_DEBUG_INFO_BTF=y (the default on current distributions)',
    });
  }
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    problems.push({
      what: 'the agent is not running as root',
      fix: 'run it with sudo, or grant CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN',
    });
  }
  return problems;
}
