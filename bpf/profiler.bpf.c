// SPDX-License-Identifier: GPL-2.0
/* FlowLens profiler: on-CPU stack samples (a perf_event program on a per-CPU software clock) and
 * off-CPU blocked time per stack (tp_btf/sched_switch), with user and kernel frames and the thread
 * id, counted in the kernel.
 *
 * Cost decisions:
 *  - counts are aggregated here, in a hash map keyed by (pid, tid, user stack, kernel stack, kind);
 *    user space reads them once per interval, so a sample costs no ring record and no wakeup;
 *  - two count maps alternate (`gen`): user space flips `gen`, then drains the map no program
 *    writes to any more, so nothing is read while it is being counted;
 *  - a stack is stored once under a 64-bit hash of its frames in an LRU map (no stack-map bucket
 *    collisions that drop samples; stacks unused for long are the ones evicted);
 *  - user stacks are walked here, by frame pointers, except at addresses where user space has
 *    installed an unwind rule (functions without a frame pointer, e.g. libc's syscall wrappers,
 *    which a plain frame-pointer walk would make skip their caller);
 *  - off-CPU: the user stack is captured when a thread blocks (it is the running task then, so its
 *    memory is readable); when it is switched back in, blocks of at least `min_block_ns` add their
 *    time, with the kernel stack read then from the task's saved stack (the expensive half of a
 *    capture, so short blocks never pay it). User-stack captures are budgeted per CPU per second;
 *    past the budget a block is still timed, without its stacks. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "profiler.h"

char LICENSE[] SEC("license") = "GPL";

#define PF_KTHREAD 0x00200000
#define TASK_DEAD_STATE 0x00000080
#define ERR_EXIST 17
#define ERR_FAULT 14

/* Set by the loader before load (rodata). */
const volatile __u32 self_tgid = 0;              /* the agent itself: never profiled */
const volatile __u64 min_block_ns = 1000000;     /* off-CPU: shorter blocks are not counted */
const volatile bool filter_pids = false;         /* profile only the pids in pid_filter */
const volatile __u64 offcpu_captures_per_sec = 10000; /* per CPU */

/* Which count map the programs fill (0 or 1); flipped by user space before each drain. */
__u32 gen = 0;

struct counts_map {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384); /* resized by the loader */
	__type(key, struct flp_count_key);
	__type(value, __u64);
};
struct counts_map counts0 SEC(".maps");
struct counts_map counts1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192); /* resized by the loader */
	__type(key, __u64);
	__type(value, struct flp_stack);
} stacks SEC(".maps");

/* Scratch for one stack: slot 0 for on-CPU samples, slot 1 for off-CPU captures. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct flp_stack);
} scratch SEC(".maps");

/* Per thread: where and when it blocked (ts_ns 0: not blocked). Task-local storage: no hashing
 * or locking on the scheduler's hot path, and freed with the thread. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct flp_blocked);
} blocked SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FLP_MAX_FILTER_PIDS);
	__type(key, __u32);
	__type(value, __u8);
} pid_filter SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FLP_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct flp_budget);
} budget SEC(".maps");

/* (pid, address) -> how to unwind there; written by user space */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, FLP_MAX_UNWIND_RULES);
	__type(key, struct flp_unwind_key);
	__type(value, struct flp_unwind_rule);
} unwind_rules SEC(".maps");

/* pids that have rules: one lookup spares the per-frame lookups of every other process */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, __u32);
} unwind_pids SEC(".maps");

static __always_inline void stat(__u32 k)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &k);
	if (v)
		(*v)++;
}

static __always_inline bool wanted(__u32 pid)
{
	if (!pid || pid == self_tgid)
		return false;
	return !filter_pids || bpf_map_lookup_elem(&pid_filter, &pid);
}

static __always_inline int add_to(void *map, struct flp_count_key *k, __u64 v)
{
	__u64 *c = bpf_map_lookup_elem(map, k);
	if (c) {
		__sync_fetch_and_add(c, v);
		return 0;
	}
	int err = bpf_map_update_elem(map, k, &v, BPF_NOEXIST);
	if (err == -ERR_EXIST) { /* another CPU created it meanwhile */
		c = bpf_map_lookup_elem(map, k);
		if (c)
			__sync_fetch_and_add(c, v);
		return 0;
	}
	return err;
}

static __always_inline void count(struct flp_count_key *k, __u64 v)
{
	__u32 g = *(volatile __u32 *)&gen;
	int err = (g & 1) ? add_to(&counts1, k, v) : add_to(&counts0, k, v);
	if (err)
		stat(FLP_STAT_COUNTS_FULL);
}

/* Hashes the frames in the scratch slot, stores the stack once under its hash, returns the hash. */
static __always_inline __u64 store(struct flp_stack *s, __u32 frames, bool user)
{
	s->len = frames;
	__u64 h = 0xcbf29ce484222325ULL ^ ((__u64)frames << 1) ^ (user ? 1 : 0);
	for (__u32 i = 0; i < FLP_MAX_DEPTH; i++) {
		if (i >= frames)
			break;
		h = (h ^ s->ips[i]) * 0x9e3779b97f4a7c15ULL;
		h ^= h >> 29;
	}
	h ^= h >> 32;
	if (!h)
		h = 1;
	if (!bpf_map_lookup_elem(&stacks, &h) && bpf_map_update_elem(&stacks, &h, s, BPF_ANY))
		stat(FLP_STAT_STACKS_FAILED);
	return h;
}

/* The current task's kernel stack, stored; returns its hash (0: no frames). */
static __always_inline __u64 capture_kernel(void *ctx, __u32 slot, __u32 *sflags)
{
	struct flp_stack *s = bpf_map_lookup_elem(&scratch, &slot);
	if (!s)
		return 0;
	long n = bpf_get_stack(ctx, s->ips, sizeof(s->ips), 0);
	if (n < 0) {
		/* EFAULT: no kernel frames (a sample taken in user mode) */
		if (n != -ERR_FAULT) {
			*sflags |= FLP_STACK_KERNEL_ERR;
			stat(FLP_STAT_STACK_ERRORS);
		}
		return 0;
	}
	__u32 frames = (__u32)n / 8;
	if (frames == 0)
		return 0;
	if (frames > FLP_MAX_DEPTH)
		frames = FLP_MAX_DEPTH;
	return store(s, frames, false);
}

/* The kernel stack of a task that is not running (saved at its switch-out), stored. */
static __always_inline __u64 capture_task_kernel(struct task_struct *t, __u32 slot, __u32 *sflags)
{
	struct flp_stack *s = bpf_map_lookup_elem(&scratch, &slot);
	if (!s)
		return 0;
	long n = bpf_get_task_stack(t, s->ips, sizeof(s->ips), 0);
	if (n < 0) {
		*sflags |= FLP_STACK_KERNEL_ERR;
		stat(FLP_STAT_STACK_ERRORS);
		return 0;
	}
	__u32 frames = (__u32)n / 8;
	if (frames == 0)
		return 0;
	if (frames > FLP_MAX_DEPTH)
		frames = FLP_MAX_DEPTH;
	return store(s, frames, false);
}

/* The current task's user stack from its saved user registers: frame pointers, or the unwind rule
 * user space installed for an address. Stops at a zero or unreadable frame, or a frame pointer
 * that does not move up the stack. */
static __always_inline __u64 capture_user(__u32 pid, __u32 slot, __u32 *sflags)
{
	struct flp_stack *s = bpf_map_lookup_elem(&scratch, &slot);
	if (!s)
		return 0;
	struct task_struct *task = bpf_get_current_task_btf();
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);
	if (!regs)
		return 0;
	__u64 ip = regs->ip, sp = regs->sp, bp = regs->bp;
	bool rules = bpf_map_lookup_elem(&unwind_pids, &pid) != NULL;
	struct flp_unwind_key key = {.pid = pid};
	__u32 n = 0;
	for (__u32 i = 0; i < FLP_MAX_DEPTH; i++) {
		if (!ip)
			break;
		s->ips[i] = ip;
		n = i + 1;
		__u64 ra = 0;
		struct flp_unwind_rule *r = NULL;
		if (rules) {
			key.ip = ip;
			r = bpf_map_lookup_elem(&unwind_rules, &key);
		}
		if (r) {
			if (r->cfa_off == 0) /* the outermost frame (_start, clone): no caller */
				break;
			__u64 cfa = sp + (__s64)r->cfa_off;
			if (bpf_probe_read_user(&ra, sizeof(ra), (void *)(cfa - 8)))
				break;
			if (r->rbp_off && bpf_probe_read_user(&bp, sizeof(bp), (void *)(cfa + (__s64)r->rbp_off)))
				break;
			sp = cfa;
		} else {
			__u64 frame[2];
			if (!bp || bp < sp || bpf_probe_read_user(frame, sizeof(frame), (void *)bp))
				break;
			sp = bp + 16;
			bp = frame[0];
			ra = frame[1];
		}
		ip = ra;
	}
	if (n == 0)
		return 0;
	if (n == FLP_MAX_DEPTH && ip)
		*sflags |= FLP_STACK_USER_TRUNC;
	return store(s, n, true);
}

SEC("perf_event")
int flp_on_cpu(struct bpf_perf_event_data *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 pid = id >> 32, tid = (__u32)id;
	if (!tid || !wanted(pid)) /* tid 0: the idle task */
		return 0;
	struct flp_count_key k = {.pid = pid, .tid = tid, .kind = FLP_ON_CPU};
	struct task_struct *task = bpf_get_current_task_btf();
	k.kernel_stack = capture_kernel(ctx, 0, &k.stack_flags);
	if (!(task->flags & PF_KTHREAD))
		k.user_stack = capture_user(pid, 0, &k.stack_flags);
	count(&k, 1);
	stat(FLP_STAT_SAMPLES);
	return 0;
}

struct task_struct___pre514 {
	long state;
} __attribute__((preserve_access_index));

static __always_inline long task_state(struct task_struct *t)
{
	if (bpf_core_field_exists(t->__state))
		return BPF_CORE_READ(t, __state);
	return BPF_CORE_READ((struct task_struct___pre514 *)t, state);
}

/* true when this CPU may capture one more off-CPU stack in the current second */
static __always_inline bool take_budget(__u64 now)
{
	__u32 zero = 0;
	struct flp_budget *b = bpf_map_lookup_elem(&budget, &zero);
	if (!b)
		return false;
	if (now - b->window_start_ns >= 1000000000ULL) {
		b->window_start_ns = now;
		b->used = 0;
	}
	if (b->used >= offcpu_captures_per_sec)
		return false;
	b->used++;
	return true;
}

/* prev is the running task here, so its user registers and memory are the current ones. */
static __always_inline void on_block(void *ctx, struct task_struct *prev, __u64 now)
{
	if (prev->flags & PF_KTHREAD)
		return;
	__u32 pid = prev->tgid, tid = prev->pid;
	if (!tid || !wanted(pid))
		return;
	struct flp_blocked *b = bpf_task_storage_get(&blocked, prev, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!b)
		return;
	b->pid = pid;
	b->stack_flags = 0;
	b->user_stack = 0;
	if (take_budget(now)) {
		b->user_stack = capture_user(pid, 1, &b->stack_flags);
		stat(FLP_STAT_SWITCH_OUT);
	} else {
		b->stack_flags = FLP_STACK_RATE_LIMITED;
		stat(FLP_STAT_RATE_LIMITED);
	}
	b->ts_ns = now;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(flp_sched_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	__u64 now = bpf_ktime_get_ns();
	/* Blocked = switched out while not runnable. Preempted (still runnable) time is not counted. */
	if (!preempt) {
		long state = task_state(prev);
		if (state != 0 && !(state & TASK_DEAD_STATE))
			on_block(ctx, prev, now);
	}
	__u32 ntid = next->pid;
	if (!ntid)
		return 0;
	struct flp_blocked *bp = bpf_task_storage_get(&blocked, next, 0, 0);
	if (!bp || !bp->ts_ns)
		return 0;
	struct flp_blocked b = *bp;
	bp->ts_ns = 0;
	__u64 delta = now - b.ts_ns;
	if (delta < min_block_ns)
		return 0;
	struct flp_count_key k = {
		.pid = b.pid,
		.tid = ntid,
		.user_stack = b.user_stack,
		.kind = FLP_OFF_CPU,
		.stack_flags = b.stack_flags,
	};
	/* The kernel stack is read now, from the task's saved stack, and only for blocks that count:
	 * it is the expensive half of a capture. */
	if (!(b.stack_flags & FLP_STACK_RATE_LIMITED))
		k.kernel_stack = capture_task_kernel(next, 1, &k.stack_flags);
	count(&k, delta);
	stat(FLP_STAT_OFFCPU_EVENTS);
	return 0;
}
