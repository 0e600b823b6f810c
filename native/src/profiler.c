// SPDX-License-Identifier: Apache-2.0
/* The profiler half of flowlens_native: loads bpf/profiler.bpf.c through its skeleton, opens one
 * software CPU-clock perf event per online CPU with the on-CPU program attached, attaches the
 * off-CPU program to sched_switch, and hands JavaScript the aggregated counts of each interval.
 *
 * JS API (one profiler per process), registered by profiler_register():
 *   profilerOpen({hz, offCpu, offCpuMinUs, offCpuCapturesPerSec, selfPid, maxStacks, maxCounts, pids, kernelStats})
 *       -> {cpus}                       throws with the reason (and libbpf's words) on failure
 *   profilerDrain() -> Buffer | null    the counts since the previous drain (layout below)
 *   profilerStats() -> {samples, offCpuEvents, ..., drains, stacksLost}  summed, since open; with
 *       kernelStats, also the programs' run time from the kernel's BPF statistics (progRunNs, ...)
 *   profilerAddUnwindRules(Buffer) -> rules stored; records of {u32 pid, u32 0, u64 ip, s32 cfaOff,
 *       s32 rbpOff} (24 bytes): how to step out of a frame without a frame pointer at that address
 *   profilerClose()
 *
 * Drain buffer (little endian):
 *   header  u32 version=1, u32 nCounts, u32 nStacks, u32 0
 *   counts  nCounts x {u32 pid, u32 tid, u32 kind, u32 flags, u32 userIdx, u32 kernelIdx, u64 value}
 *           (idx into the stack table, 0xffffffff = no stack; value: samples, or blocked ns)
 *   stacks  nStacks x {u32 nFrames, u32 lost, u64 hash, u64 ips[nFrames]} (leaf first)
 * `lost` = the stack was evicted from the kernel's LRU before it could be read (counted). */
#define NAPI_VERSION 8
#include <node_api.h>
#include "bpf_load.h"
#include "napi_util.h"
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include <linux/perf_event.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "profiler.h"
#include "profiler.skel.h"

#define MAX_CPUS 1024
#define NO_STACK 0xffffffffu

static struct profiler *pskel;
static struct bpf_link *cpu_links[MAX_CPUS];
static int n_cpu_links;
static struct bpf_link *switch_link;
static int run_stats_fd = -1; /* keeps the kernel's BPF run-time statistics on while open */
static struct flp_count_key *drain_keys;
static __u64 *drain_vals;
static uint32_t drain_cap;
static double n_drains, n_stacks_lost, n_counts_read;
static char plog[4096];
static size_t plog_len;

static int profiler_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	char line[2048];
	int n = vsnprintf(line, sizeof(line), fmt, args);
	if (n <= 0)
		return 0;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	if (plog_len + n >= sizeof(plog)) /* keep the newest: the verifier's verdict is last */
		plog_len = 0;
	memcpy(plog + plog_len, line, n);
	plog_len += n;
	plog[plog_len] = 0;
	return 0;
}

static napi_value fail(napi_env env, const char *what, int err)
{
	char msg[6000];
	const char *hint = "";
	if (err == EPERM || err == EACCES)
		hint = " (run the agent as root, or with CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN; "
		       "check /proc/sys/kernel/perf_event_paranoid)";
	else if (err == ENOENT || err == ENODEV)
		hint = " (the kernel lacks the software cpu-clock perf event or the sched_switch BTF tracepoint)";
	snprintf(msg, sizeof(msg), "%s: %s%s%s%s", what, strerror(err), hint, plog_len ? "; libbpf said: " : "",
		 plog_len ? plog : "");
	napi_throw_error(env, "EBPF_PROFILER", msg);
	return NULL;
}

static void teardown(void)
{
	for (int i = 0; i < n_cpu_links; i++)
		bpf_link__destroy(cpu_links[i]);
	n_cpu_links = 0;
	bpf_link__destroy(switch_link);
	switch_link = NULL;
	if (run_stats_fd >= 0)
		close(run_stats_fd);
	run_stats_fd = -1;
	profiler__destroy(pskel);
	pskel = NULL;
	free(drain_keys);
	free(drain_vals);
	drain_keys = NULL;
	drain_vals = NULL;
	drain_cap = 0;
}

static int opt_u32(napi_env env, napi_value obj, const char *name, uint32_t *out)
{
	bool has = false;
	napi_value v;
	napi_valuetype t;
	if (napi_has_named_property(env, obj, name, &has) != napi_ok || !has)
		return 0;
	if (napi_get_named_property(env, obj, name, &v) != napi_ok)
		return -1;
	napi_typeof(env, v, &t);
	if (t == napi_undefined)
		return 0;
	if (t == napi_boolean) {
		bool b = false;
		napi_get_value_bool(env, v, &b);
		*out = b;
		return 0;
	}
	return napi_get_value_uint32(env, v, out) == napi_ok ? 0 : -1;
}

/* Online CPUs from /sys/devices/system/cpu/online ("0-3,5"); falls back to 0..n-1. */
static int online_cpus(bool *online, int max)
{
	int n = 0;
	FILE *f = fopen("/sys/devices/system/cpu/online", "r");
	if (f) {
		int a, b;
		char sep;
		while (fscanf(f, "%d", &a) == 1) {
			b = a;
			sep = (char)fgetc(f);
			if (sep == '-') {
				if (fscanf(f, "%d", &b) != 1)
					break;
				sep = (char)fgetc(f);
			}
			for (int c = a; c <= b && c < max; c++) {
				online[c] = true;
				n++;
			}
			if (sep != ',')
				break;
		}
		fclose(f);
	}
	if (n == 0) {
		long c = sysconf(_SC_NPROCESSORS_ONLN);
		for (int i = 0; i < c && i < max; i++, n++)
			online[i] = true;
	}
	return n;
}

static napi_value js_profiler_open(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1], result;
	if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok)
		return NULL;
	if (pskel) {
		napi_throw_error(env, "EBPF_BUSY", "flowlens_native.profilerOpen: the profiler is already open");
		return NULL;
	}
	uint32_t hz = 99, off_cpu = 1, min_us = 1000, captures = 10000, self_pid = (uint32_t)getpid();
	uint32_t max_stacks = 8192, max_counts = 16384, kernel_stats = 0;
	if (argc >= 1 &&
	    (opt_u32(env, argv[0], "hz", &hz) || opt_u32(env, argv[0], "offCpu", &off_cpu) ||
	     opt_u32(env, argv[0], "offCpuMinUs", &min_us) || opt_u32(env, argv[0], "offCpuCapturesPerSec", &captures) ||
	     opt_u32(env, argv[0], "selfPid", &self_pid) || opt_u32(env, argv[0], "maxStacks", &max_stacks) ||
	     opt_u32(env, argv[0], "maxCounts", &max_counts) || opt_u32(env, argv[0], "kernelStats", &kernel_stats))) {
		napi_throw_type_error(env, "EINVAL", "flowlens_native.profilerOpen: options must be unsigned integers");
		return NULL;
	}
	if (hz < 1 || hz > 10000 || max_stacks < 256 || max_stacks > (1u << 20) || max_counts < 256 ||
	    max_counts > (1u << 22)) {
		napi_throw_range_error(env, "EINVAL",
				       "flowlens_native.profilerOpen: hz 1..10000, maxStacks 256..1048576, maxCounts 256..4194304");
		return NULL;
	}
	plog_len = 0;
	plog[0] = 0;
	libbpf_print_fn_t old_print = libbpf_set_print(profiler_print);
	pskel = profiler__open();
	if (!pskel) {
		int e = errno;
		libbpf_set_print(old_print);
		return fail(env, "flowlens_native: opening the profiler BPF object failed", e);
	}
	pskel->rodata->self_tgid = self_pid;
	pskel->rodata->min_block_ns = (__u64)min_us * 1000;
	pskel->rodata->offcpu_captures_per_sec = captures;

	uint32_t n_pids = 0;
	napi_value pids = NULL;
	bool has_pids = false, is_array = false;
	if (argc >= 1 && napi_has_named_property(env, argv[0], "pids", &has_pids) == napi_ok && has_pids &&
	    napi_get_named_property(env, argv[0], "pids", &pids) == napi_ok && napi_is_array(env, pids, &is_array) == napi_ok &&
	    is_array)
		napi_get_array_length(env, pids, &n_pids);
	if (n_pids > FLP_MAX_FILTER_PIDS)
		n_pids = FLP_MAX_FILTER_PIDS;
	pskel->rodata->filter_pids = n_pids > 0;

	int err = bpf_map__set_max_entries(pskel->maps.stacks, max_stacks);
	if (!err)
		err = bpf_map__set_max_entries(pskel->maps.counts0, max_counts);
	if (!err)
		err = bpf_map__set_max_entries(pskel->maps.counts1, max_counts);
	if (!err && !off_cpu)
		err = bpf_program__set_autoload(pskel->progs.flp_sched_switch, false);
	if (!err)
		FL_WITH_SIGNALS_BLOCKED(err = profiler__load(pskel));
	libbpf_set_print(old_print);
	if (err) {
		int e = errno ? errno : -err;
		teardown();
		return fail(env, "flowlens_native: loading the profiler BPF programs failed", e);
	}
	for (uint32_t i = 0; i < n_pids; i++) {
		napi_value v;
		uint32_t p = 0;
		__u8 one = 1;
		napi_get_element(env, pids, i, &v);
		if (napi_get_value_uint32(env, v, &p) == napi_ok && p)
			bpf_map__update_elem(pskel->maps.pid_filter, &p, sizeof(p), &one, sizeof(one), BPF_ANY);
	}
	if (off_cpu) {
		switch_link = bpf_program__attach(pskel->progs.flp_sched_switch);
		if (!switch_link) {
			int e = errno;
			teardown();
			return fail(env, "flowlens_native: attaching the off-CPU program to sched_switch failed", e);
		}
	}
	static bool online[MAX_CPUS];
	memset(online, 0, sizeof(online));
	online_cpus(online, MAX_CPUS);
	for (int cpu = 0; cpu < MAX_CPUS; cpu++) {
		if (!online[cpu])
			continue;
		struct perf_event_attr attr;
		memset(&attr, 0, sizeof(attr));
		attr.type = PERF_TYPE_SOFTWARE;
		attr.size = sizeof(attr);
		attr.config = PERF_COUNT_SW_CPU_CLOCK;
		attr.sample_period = 1000000000ull / hz; /* cpu-clock counts nanoseconds: a fixed period */
		int fd = (int)syscall(__NR_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
		if (fd < 0) {
			int e = errno;
			if (e == ENODEV) /* went offline meanwhile */
				continue;
			teardown();
			return fail(env, "flowlens_native: perf_event_open (software cpu-clock) failed", e);
		}
		struct bpf_link *l = bpf_program__attach_perf_event(pskel->progs.flp_on_cpu, fd);
		if (!l) {
			int e = errno;
			close(fd);
			teardown();
			return fail(env, "flowlens_native: attaching the on-CPU program to a perf event failed", e);
		}
		cpu_links[n_cpu_links++] = l; /* the link owns fd */
	}
	if (kernel_stats)
		run_stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME); /* best effort: -1 leaves the figures out */
	drain_keys = calloc(max_counts, sizeof(*drain_keys));
	drain_vals = calloc(max_counts, sizeof(*drain_vals));
	if (!drain_keys || !drain_vals) {
		teardown();
		napi_throw_error(env, "ENOMEM", "flowlens_native.profilerOpen: out of memory");
		return NULL;
	}
	drain_cap = max_counts;
	n_drains = n_stacks_lost = n_counts_read = 0;
	napi_create_object(env, &result);
	napi_value v;
	napi_create_uint32(env, (uint32_t)n_cpu_links, &v);
	napi_set_named_property(env, result, "cpus", v);
	return result;
}

/* Reads and deletes every entry of one count map into drain_keys/drain_vals. */
static uint32_t take_counts(int fd)
{
	uint32_t n = 0;
	__u64 token = 0;
	bool first = true;
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	while (n < drain_cap) {
		__u32 count = drain_cap - n;
		int err = bpf_map_lookup_and_delete_batch(fd, first ? NULL : &token, &token, drain_keys + n, drain_vals + n,
							  &count, &opts);
		n += count;
		first = false;
		if (err) {
			if (errno == ENOENT) /* the end */
				return n;
			break; /* batch ops unsupported (or ENOSPC): finish one key at a time */
		}
	}
	while (n < drain_cap) {
		struct flp_count_key k;
		if (bpf_map_get_next_key(fd, NULL, &k))
			break;
		if (bpf_map_lookup_and_delete_elem(fd, &k, &drain_vals[n]) == 0 ||
		    (bpf_map_lookup_elem(fd, &k, &drain_vals[n]) == 0 && bpf_map_delete_elem(fd, &k) == 0))
			drain_keys[n++] = k;
		else
			bpf_map_delete_elem(fd, &k);
	}
	return n;
}

struct stack_slot {
	__u64 hash;
	uint32_t idx;
};

static uint32_t slot_of(struct stack_slot *tab, uint32_t mask, __u64 h, uint32_t *n_unique)
{
	uint32_t i = (uint32_t)(h ^ (h >> 32)) & mask;
	while (tab[i].hash && tab[i].hash != h)
		i = (i + 1) & mask;
	if (!tab[i].hash) {
		tab[i].hash = h;
		tab[i].idx = (*n_unique)++;
	}
	return tab[i].idx;
}

static napi_value js_profiler_drain(napi_env env, napi_callback_info info)
{
	(void)info;
	napi_value result;
	if (!pskel) {
		napi_throw_error(env, "EBPF_CLOSED", "flowlens_native.profilerDrain: the profiler is not open");
		return NULL;
	}
	/* Programs move to the other map; those that read `gen` just before the flip finish within
	 * microseconds (they run with preemption off), so after a short pause the old map is idle. */
	__u32 old = pskel->bss->gen & 1;
	__atomic_store_n(&pskel->bss->gen, old ^ 1, __ATOMIC_SEQ_CST);
	struct timespec pause = {0, 500000};
	nanosleep(&pause, NULL);
	uint32_t n = take_counts(bpf_map__fd(old ? pskel->maps.counts1 : pskel->maps.counts0));
	n_drains++;
	n_counts_read += n;
	if (n == 0) {
		napi_get_null(env, &result);
		return result;
	}
	uint32_t cap = 4;
	while (cap < 4 * n)
		cap <<= 1;
	struct stack_slot *tab = calloc(cap, sizeof(*tab));
	uint32_t *uidx = malloc(sizeof(uint32_t) * n), *kidx = malloc(sizeof(uint32_t) * n);
	__u64 *order = malloc(sizeof(__u64) * 2 * n); /* unique hashes in index order */
	if (!tab || !uidx || !kidx || !order) {
		free(tab), free(uidx), free(kidx), free(order);
		napi_throw_error(env, "ENOMEM", "flowlens_native.profilerDrain: out of memory");
		return NULL;
	}
	uint32_t n_unique = 0;
	for (uint32_t i = 0; i < n; i++) {
		uidx[i] = kidx[i] = NO_STACK;
		if (drain_keys[i].user_stack) {
			uint32_t before = n_unique;
			uidx[i] = slot_of(tab, cap - 1, drain_keys[i].user_stack, &n_unique);
			if (n_unique != before)
				order[uidx[i]] = drain_keys[i].user_stack;
		}
		if (drain_keys[i].kernel_stack) {
			uint32_t before = n_unique;
			kidx[i] = slot_of(tab, cap - 1, drain_keys[i].kernel_stack, &n_unique);
			if (n_unique != before)
				order[kidx[i]] = drain_keys[i].kernel_stack;
		}
	}
	/* frames of every unique stack, packed as they will appear in the buffer */
	size_t frames_cap = 64 * 1024, frames_used = 0;
	unsigned char *frames = malloc(frames_cap);
	struct flp_stack s;
	for (uint32_t i = 0; frames && i < n_unique; i++) {
		uint32_t len = 0, lost = 0;
		if (bpf_map__lookup_elem(pskel->maps.stacks, &order[i], sizeof(__u64), &s, sizeof(s), 0) == 0)
			len = s.len > FLP_MAX_DEPTH ? FLP_MAX_DEPTH : s.len;
		else {
			lost = 1;
			n_stacks_lost++;
		}
		size_t need = 16 + 8 * (size_t)len;
		if (frames_used + need > frames_cap) {
			while (frames_used + need > frames_cap)
				frames_cap *= 2;
			unsigned char *nf = realloc(frames, frames_cap);
			if (!nf) {
				free(frames);
				frames = NULL;
				break;
			}
			frames = nf;
		}
		memcpy(frames + frames_used, &len, 4);
		memcpy(frames + frames_used + 4, &lost, 4);
		memcpy(frames + frames_used + 8, &order[i], 8);
		memcpy(frames + frames_used + 16, s.ips, 8 * (size_t)len);
		frames_used += need;
	}
	if (!frames) {
		free(tab), free(uidx), free(kidx), free(order);
		napi_throw_error(env, "ENOMEM", "flowlens_native.profilerDrain: out of memory");
		return NULL;
	}
	size_t total = 16 + 32 * (size_t)n + frames_used;
	void *data;
	if (napi_create_buffer(env, total, &data, &result) != napi_ok) {
		free(tab), free(uidx), free(kidx), free(order), free(frames);
		napi_throw_error(env, "ENOMEM", "flowlens_native.profilerDrain: cannot allocate the result buffer");
		return NULL;
	}
	unsigned char *p = data;
	uint32_t hdr[4] = {1, n, n_unique, 0};
	memcpy(p, hdr, 16);
	p += 16;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t rec[6] = {drain_keys[i].pid, drain_keys[i].tid, drain_keys[i].kind, drain_keys[i].stack_flags, uidx[i], kidx[i]};
		memcpy(p, rec, 24);
		memcpy(p + 24, &drain_vals[i], 8);
		p += 32;
	}
	memcpy(p, frames, frames_used);
	free(tab), free(uidx), free(kidx), free(order), free(frames);
	return result;
}

static napi_value js_profiler_add_unwind_rules(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1], result;
	void *data = NULL;
	size_t len = 0;
	bool is_buffer = false;
	if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok)
		return NULL;
	if (!pskel) {
		napi_throw_error(env, "EBPF_CLOSED", "flowlens_native.profilerAddUnwindRules: the profiler is not open");
		return NULL;
	}
	if (argc < 1 || napi_is_buffer(env, argv[0], &is_buffer) != napi_ok || !is_buffer ||
	    napi_get_buffer_info(env, argv[0], &data, &len) != napi_ok || len % 24) {
		napi_throw_type_error(env, "EINVAL", "flowlens_native.profilerAddUnwindRules: expected a Buffer of 24-byte records");
		return NULL;
	}
	uint32_t added = 0;
	const unsigned char *p = data;
	for (size_t o = 0; o < len; o += 24) {
		struct flp_unwind_key k;
		struct flp_unwind_rule r;
		memset(&k, 0, sizeof(k));
		memcpy(&k.pid, p + o, 4);
		memcpy(&k.ip, p + o + 8, 8);
		memcpy(&r.cfa_off, p + o + 16, 4);
		memcpy(&r.rbp_off, p + o + 20, 4);
		if (bpf_map__update_elem(pskel->maps.unwind_rules, &k, sizeof(k), &r, sizeof(r), BPF_ANY) == 0) {
			__u32 one = 1;
			bpf_map__update_elem(pskel->maps.unwind_pids, &k.pid, sizeof(k.pid), &one, sizeof(one), BPF_ANY);
			added++;
		}
	}
	napi_create_uint32(env, added, &result);
	return result;
}

static napi_value js_profiler_stats(napi_env env, napi_callback_info info)
{
	(void)info;
	napi_value obj;
	napi_create_object(env, &obj);
	if (!pskel)
		return obj;
	static const char *const names[FLP_STAT_MAX] = {"samples", "offCpuEvents", "offCpuCaptures", "stackErrors",
							"countsFull", "stacksFailed", "offCpuRateLimited"};
	set_percpu_sums(env, obj, pskel->maps.stats, names, FLP_STAT_MAX);
	set_num(env, obj, "drains", n_drains);
	set_num(env, obj, "countsRead", n_counts_read);
	set_num(env, obj, "stacksLost", n_stacks_lost);
	set_num(env, obj, "cpus", n_cpu_links);
	if (run_stats_fd >= 0) {
		struct {
			struct bpf_program *prog;
			const char *ns, *runs;
		} progs[] = {{pskel->progs.flp_on_cpu, "onCpuRunNs", "onCpuRuns"},
			     {pskel->progs.flp_sched_switch, "offCpuRunNs", "offCpuRuns"}};
		double total_ns = 0, total_runs = 0;
		for (int i = 0; i < 2; i++) {
			struct bpf_prog_info pi;
			__u32 len = sizeof(pi);
			memset(&pi, 0, sizeof(pi));
			int fd = bpf_program__fd(progs[i].prog);
			if (fd < 0 || bpf_obj_get_info_by_fd(fd, &pi, &len))
				continue;
			set_num(env, obj, progs[i].ns, (double)pi.run_time_ns);
			set_num(env, obj, progs[i].runs, (double)pi.run_cnt);
			total_ns += (double)pi.run_time_ns;
			total_runs += (double)pi.run_cnt;
		}
		set_num(env, obj, "progRunNs", total_ns);
		set_num(env, obj, "progRuns", total_runs);
	}
	return obj;
}

static napi_value js_profiler_close(napi_env env, napi_callback_info info)
{
	(void)env;
	(void)info;
	teardown();
	return NULL;
}

void profiler_register(napi_env env, napi_value exports)
{
	napi_property_descriptor desc[] = {
		{"profilerOpen", NULL, js_profiler_open, NULL, NULL, NULL, napi_default, NULL},
		{"profilerDrain", NULL, js_profiler_drain, NULL, NULL, NULL, napi_default, NULL},
		{"profilerStats", NULL, js_profiler_stats, NULL, NULL, NULL, napi_default, NULL},
		{"profilerAddUnwindRules", NULL, js_profiler_add_unwind_rules, NULL, NULL, NULL, napi_default, NULL},
		{"profilerClose", NULL, js_profiler_close, NULL, NULL, NULL, napi_default, NULL},
	};
	napi_define_properties(env, exports, sizeof(desc) / sizeof(desc[0]), desc);
}
