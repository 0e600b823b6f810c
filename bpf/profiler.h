/* SPDX-License-Identifier: Apache-2.0 */
/* Maps and keys shared by profiler.bpf.c (producer) and native/src/profiler.c (consumer).
 * The kernel counts samples per (pid, tid, user stack, kernel stack, kind) in a hash map; user
 * space reads the aggregated counts once per interval, never one event per sample. */
#ifndef FLOWLENS_PROFILER_H
#define FLOWLENS_PROFILER_H

#define FLP_MAX_DEPTH 127      /* frames kept per stack (the kernel's PERF_MAX_STACK_DEPTH) */
#define FLP_MAX_FILTER_PIDS 1024

enum flp_kind {
	FLP_ON_CPU = 0,  /* value: samples */
	FLP_OFF_CPU = 1, /* value: blocked nanoseconds */
};

/* One aggregation cell. Explicit padding-free layout: the kernel hashes every byte of a key. */
struct flp_count_key {
	__u32 pid;  /* tgid */
	__u32 tid;
	__u64 user_stack;   /* hash of the user frames; 0 = none */
	__u64 kernel_stack; /* hash of the kernel frames; 0 = none */
	__u32 kind;
	__u32 stack_flags; /* FLP_STACK_* */
};

enum flp_stack_flags {
	FLP_STACK_USER_ERR = 1,   /* bpf_get_stack failed for the user stack */
	FLP_STACK_KERNEL_ERR = 2, /* ... for the kernel stack */
	FLP_STACK_USER_TRUNC = 4, /* the user stack was deeper than FLP_MAX_DEPTH */
	FLP_STACK_RATE_LIMITED = 8, /* off-CPU: the capture budget of this CPU was spent; no stacks */
};

/* One stack, stored once under its hash (LRU map). */
struct flp_stack {
	__u32 len; /* frames used in ips[] */
	__u32 pad;
	__u64 ips[FLP_MAX_DEPTH];
};

/* How to step out of a frame that keeps no frame pointer at one instruction (learnt by user space
 * from the binary's .eh_frame): CFA = sp + cfa_off; the return address is at CFA - 8; rbp was saved
 * at CFA + rbp_off (0: rbp unchanged); cfa_off 0 marks the outermost frame. Keyed by process and exact address (ASLR differs per
 * process). Frames without a rule are stepped by the frame-pointer chain. */
struct flp_unwind_key {
	__u32 pid;
	__u32 pad;
	__u64 ip;
};

struct flp_unwind_rule {
	__s32 cfa_off;
	__s32 rbp_off;
};

#define FLP_MAX_UNWIND_RULES 65536

/* A thread that blocked: when (0: not blocked), and where (its user stack, captured at switch-out). */
struct flp_blocked {
	__u64 ts_ns;
	__u64 user_stack;
	__u32 pid;
	__u32 stack_flags;
};

/* Per-CPU budget of off-CPU stack captures per second. */
struct flp_budget {
	__u64 window_start_ns;
	__u64 used;
};

enum flp_stat {
	FLP_STAT_SAMPLES = 0,        /* on-CPU samples counted */
	FLP_STAT_OFFCPU_EVENTS,      /* blocks >= the threshold counted */
	FLP_STAT_SWITCH_OUT,         /* blocks whose stack was captured */
	FLP_STAT_STACK_ERRORS,       /* bpf_get_stack failures */
	FLP_STAT_COUNTS_FULL,        /* samples lost: the counts map was full */
	FLP_STAT_STACKS_FAILED,      /* stacks not stored (update failed) */
	FLP_STAT_RATE_LIMITED,       /* off-CPU blocks recorded without a stack (capture budget spent) */
	FLP_STAT_MAX,
};

#endif
