// SPDX-License-Identifier: Apache-2.0
/* flowlens_native: loads the socket tracer (bpf/socket_trace.bpf.c) through its libbpf skeleton,
 * attaches it, and hands the ring buffer's records to JavaScript in batches.
 *
 * JS API (one tracer per process):
 *   open({captureBytes, selfPid, ringBytes, wakeupBytes, ignorePorts, tls}) -> undefined | throws
 *   attachTls(path) -> [symbols attached]  OpenSSL uprobes on one binary or shared library
 *   attachGoTls(path, writeOff, readOff, retOffs) -> probes attached  Go crypto/tls by file offset
 *   drainInto(buffer) -> bytes         records written into the caller's buffer (the agent reuses
 *                                      one) as [u32 len][u32 0][len bytes, padded to 8]; len is the
 *                                      header plus the captured payload, not the whole ring slot
 *   stats()  -> {ringDrops, truncated, readErrors}  (summed over CPUs, since open)
 *   layout() -> {size, offsets...}     struct fl_event layout, checked by the TS decoder
 *   clocks() -> [monotonicNs, realtimeNs, spreadNs] as BigInts: the realtime read bracketed by two
 *             monotonic reads (monotonicNs their midpoint), the tightest of CLOCK_SAMPLES tries
 *   close()
 * The batch copy happens on the JS thread: it is a memcpy per record, and keeping it there
 * avoids a second queue between a C thread and JS (the kernel ring is the one bounded queue). */
#define NAPI_VERSION 8
#include <node_api.h>
#include "bpf_load.h"
#include "napi_util.h"
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "socket_trace.h"
#include "socket_trace.skel.h"

void profiler_register(napi_env env, napi_value exports);
int fl_tcp_health_register(napi_env env, napi_value exports); /* native/src/tcp_health.c */
#include "packet_capture.h"

static struct socket_trace *skel;
static struct ring_buffer *rb;
#define MAX_UPROBE_LINKS 256
static struct bpf_link *uprobe_links[MAX_UPROBE_LINKS];
static int n_uprobe_links;
static char libbpf_log[8192]; /* last libbpf messages, quoted in errors */
static size_t libbpf_log_len;

/* the caller's buffer being filled by the ring callback during drainInto() */
static unsigned char *drain_dst;
static size_t drain_dst_cap, batch_used, batch_limit;

#define NAPI_CALL(env, call)                                                                   \
	do {                                                                                   \
		if ((call) != napi_ok) {                                                       \
			napi_throw_error((env), NULL, "flowlens_native: N-API call failed: " #call); \
			return NULL;                                                           \
		}                                                                              \
	} while (0)

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	static char line[32768];
	if (level == LIBBPF_DEBUG)
		return 0;
	int n = vsnprintf(line, sizeof(line), fmt, args);
	if (n <= 0)
		return 0;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	const char *src = line;
	if ((size_t)n >= sizeof(libbpf_log)) { /* keep the message's tail: the verifier's verdict is last */
		src = line + n - (sizeof(libbpf_log) - 1);
		n = sizeof(libbpf_log) - 1;
		libbpf_log_len = 0;
	} else if (libbpf_log_len + n >= sizeof(libbpf_log)) { /* drop the oldest messages */
		size_t drop = libbpf_log_len + n - sizeof(libbpf_log) + 1;
		memmove(libbpf_log, libbpf_log + drop, libbpf_log_len - drop);
		libbpf_log_len -= drop;
	}
	memcpy(libbpf_log + libbpf_log_len, src, n);
	libbpf_log_len += n;
	libbpf_log[libbpf_log_len] = 0;
	return 0;
}

static napi_value throw_errno(napi_env env, const char *what, int err)
{
	static char msg[9000];
	const char *hint = "";
	if (err == EPERM || err == EACCES)
		hint = " (run the agent as root, or with CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN)";
	else if (err == ENOENT || err == ESRCH)
		hint = " (the kernel lacks a tracepoint or BTF this program needs: is /sys/kernel/btf/vmlinux present?)";
	snprintf(msg, sizeof(msg), "%s: %s%s%s%s", what, strerror(err), hint,
		 libbpf_log_len ? "; libbpf said: " : "", libbpf_log_len ? libbpf_log : "");
	napi_throw_error(env, "EBPF_LOAD", msg);
	return NULL;
}

static int get_u32_prop(napi_env env, napi_value obj, const char *name, uint32_t *out)
{
	bool has = false;
	napi_value v;
	if (napi_has_named_property(env, obj, name, &has) != napi_ok || !has)
		return 0;
	if (napi_get_named_property(env, obj, name, &v) != napi_ok)
		return -1;
	napi_valuetype t;
	napi_typeof(env, v, &t);
	if (t == napi_undefined)
		return 0;
	return napi_get_value_uint32(env, v, out) == napi_ok ? 0 : -1;
}

static void teardown(void)
{
	for (int i = 0; i < n_uprobe_links; i++)
		bpf_link__destroy(uprobe_links[i]);
	n_uprobe_links = 0;
	ring_buffer__free(rb);
	rb = NULL;
	socket_trace__destroy(skel);
	skel = NULL;
}

static int on_record(void *ctx, void *data, size_t size)
{
	(void)ctx;
	/* a data record's ring slot is sized by class (256, 1024, 4096 payload bytes): copy only the
	 * header and the bytes captured */
	if (size >= sizeof(struct fl_event)) {
		size_t used = sizeof(struct fl_event) + ((const struct fl_event *)data)->cap_len;
		if (used < size)
			size = used;
	}
	size_t need = 8 + ((size + 7) & ~(size_t)7);
	/* unreachable: the buffer has room for one largest record past the limit, and consumption
	 * stops at the limit (libbpf has already consumed a record handed to us: it must be copied) */
	if (batch_used + need > drain_dst_cap)
		return -ENOSPC;
	uint32_t hdr[2] = {(uint32_t)size, 0};
	memcpy(drain_dst + batch_used, hdr, 8);
	memcpy(drain_dst + batch_used + 8, data, size);
	batch_used += need;
	return batch_used >= batch_limit ? -EAGAIN : 0;
}

static napi_value js_open(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1];
	NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (skel) {
		napi_throw_error(env, "EBPF_BUSY", "flowlens_native: tracer already open in this process");
		return NULL;
	}
	uint32_t capture = 1024, self_pid = (uint32_t)getpid(), ring_bytes = 32u << 20, wakeup = 0, tls = 0;
	if (argc >= 1) {
		if (get_u32_prop(env, argv[0], "captureBytes", &capture) || get_u32_prop(env, argv[0], "selfPid", &self_pid) ||
		    get_u32_prop(env, argv[0], "ringBytes", &ring_bytes) || get_u32_prop(env, argv[0], "wakeupBytes", &wakeup) ||
		    get_u32_prop(env, argv[0], "tls", &tls)) {
			napi_throw_type_error(env, "EINVAL", "flowlens_native.open: options must be unsigned integers");
			return NULL;
		}
	}
	if (capture > FL_MAX_CAPTURE)
		capture = FL_MAX_CAPTURE;
	/* ring size must be a power of two multiple of the page size */
	uint32_t rs = 1u << 16;
	while (rs < ring_bytes && rs < (1u << 30))
		rs <<= 1;
	if (!wakeup)
		wakeup = rs / 2;

	libbpf_log_len = 0;
	libbpf_log[0] = 0;
	libbpf_set_print(libbpf_print);
	skel = socket_trace__open();
	if (!skel)
		return throw_errno(env, "flowlens_native: opening the BPF object failed", errno);
	skel->rodata->self_tgid = self_pid;
	skel->rodata->capture_bytes = capture;
	skel->rodata->wakeup_bytes = wakeup;
	skel->rodata->tls_enabled = tls != 0;
	{
		/* syscall_trace_id starts at the wall clock in µs: unique across agent restarts */
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		skel->data->next_trace_id = (uint64_t)now.tv_sec * 1000000u + (uint64_t)now.tv_nsec / 1000u;
	}

	if (argc >= 1) {
		napi_value ports;
		bool has = false, is_array = false;
		napi_has_named_property(env, argv[0], "ignorePorts", &has);
		if (has && napi_get_named_property(env, argv[0], "ignorePorts", &ports) == napi_ok &&
		    napi_is_array(env, ports, &is_array) == napi_ok && is_array) {
			uint32_t n = 0;
			napi_get_array_length(env, ports, &n);
			for (uint32_t i = 0; i < n && i < FL_MAX_IGNORED_PORTS; i++) {
				napi_value v;
				uint32_t p = 0;
				napi_get_element(env, ports, i, &v);
				napi_get_value_uint32(env, v, &p);
				skel->rodata->ignore_ports[i] = (uint16_t)p;
			}
		}
	}
	int err = bpf_map__set_max_entries(skel->maps.events, rs);
	if (!err)
		FL_WITH_SIGNALS_BLOCKED(err = socket_trace__load(skel));
	if (err) {
		int e = errno ? errno : -err;
		teardown();
		return throw_errno(env, "flowlens_native: loading the BPF programs failed", e);
	}
	err = socket_trace__attach(skel);
	if (err) {
		int e = errno ? errno : -err;
		teardown();
		return throw_errno(env, "flowlens_native: attaching the BPF programs failed", e);
	}
	rb = ring_buffer__new(bpf_map__fd(skel->maps.events), on_record, NULL, NULL);
	if (!rb) {
		int e = errno;
		teardown();
		return throw_errno(env, "flowlens_native: mapping the ring buffer failed", e);
	}
	return NULL;
}

/* attachTls(path) -> [symbols attached]: OpenSSL's SSL_read/SSL_write (and _ex) in one binary or
 * shared library, for every process that maps it. Symbols the binary lacks are skipped. */
static napi_value js_attach_tls(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1], result;
	char path[4096];
	size_t len = 0;
	NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (!skel) {
		napi_throw_error(env, "EBPF_CLOSED", "flowlens_native.attachTls: tracer is not open");
		return NULL;
	}
	if (argc < 1 || napi_get_value_string_utf8(env, argv[0], path, sizeof(path), &len) != napi_ok) {
		napi_throw_type_error(env, "EINVAL", "flowlens_native.attachTls: expected a path");
		return NULL;
	}
	struct {
		const char *sym;
		struct bpf_program *enter, *ret;
	} probes[] = {
		{"SSL_write", skel->progs.fl_ssl_write, skel->progs.fl_ssl_write_ret},
		{"SSL_read", skel->progs.fl_ssl_read, skel->progs.fl_ssl_read_ret},
		{"SSL_write_ex", skel->progs.fl_ssl_write_ex, skel->progs.fl_ssl_write_ret},
		{"SSL_read_ex", skel->progs.fl_ssl_read_ex, skel->progs.fl_ssl_read_ret},
	};
	NAPI_CALL(env, napi_create_array(env, &result));
	uint32_t attached = 0;
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		if (n_uprobe_links + 2 > MAX_UPROBE_LINKS)
			break;
		LIBBPF_OPTS(bpf_uprobe_opts, enter_opts, .func_name = probes[i].sym, .retprobe = false);
		LIBBPF_OPTS(bpf_uprobe_opts, ret_opts, .func_name = probes[i].sym, .retprobe = true);
		struct bpf_link *e = bpf_program__attach_uprobe_opts(probes[i].enter, -1, path, 0, &enter_opts);
		if (!e)
			continue; /* not in this binary */
		struct bpf_link *r = bpf_program__attach_uprobe_opts(probes[i].ret, -1, path, 0, &ret_opts);
		if (!r) {
			bpf_link__destroy(e);
			continue;
		}
		uprobe_links[n_uprobe_links++] = e;
		uprobe_links[n_uprobe_links++] = r;
		napi_value name;
		napi_create_string_utf8(env, probes[i].sym, NAPI_AUTO_LENGTH, &name);
		napi_set_element(env, result, attached++, name);
	}
	return result;
}

/* attachGoTls(path, writeOffset, readOffset, [readRetOffsets]) -> number of probes attached:
 * Go crypto/tls, by file offset (Go code gets no uretprobes; see cmd/flowlens-goprobe). */
static napi_value js_attach_go_tls(napi_env env, napi_callback_info info)
{
	size_t argc = 4;
	napi_value argv[4], result;
	char path[4096];
	size_t len = 0;
	int64_t write_off = 0, read_off = 0;
	uint32_t n_rets = 0;
	NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (!skel) {
		napi_throw_error(env, "EBPF_CLOSED", "flowlens_native.attachGoTls: tracer is not open");
		return NULL;
	}
	if (argc < 4 || napi_get_value_string_utf8(env, argv[0], path, sizeof(path), &len) != napi_ok ||
	    napi_get_value_int64(env, argv[1], &write_off) != napi_ok || napi_get_value_int64(env, argv[2], &read_off) != napi_ok ||
	    napi_get_array_length(env, argv[3], &n_rets) != napi_ok) {
		napi_throw_type_error(env, "EINVAL", "flowlens_native.attachGoTls: expected (path, writeOffset, readOffset, retOffsets[])");
		return NULL;
	}
	uint32_t attached = 0;
	struct {
		struct bpf_program *prog;
		int64_t off;
	} entries[] = {{skel->progs.fl_go_tls_write, write_off}, {skel->progs.fl_go_tls_read, read_off}};
	for (size_t i = 0; i < 2 && n_uprobe_links < MAX_UPROBE_LINKS; i++) {
		if (entries[i].off <= 0)
			continue;
		struct bpf_link *l = bpf_program__attach_uprobe_opts(entries[i].prog, -1, path, (size_t)entries[i].off, NULL);
		if (l) {
			uprobe_links[n_uprobe_links++] = l;
			attached++;
		}
	}
	for (uint32_t i = 0; i < n_rets && n_uprobe_links < MAX_UPROBE_LINKS; i++) {
		napi_value v;
		int64_t off = 0;
		napi_get_element(env, argv[3], i, &v);
		if (napi_get_value_int64(env, v, &off) != napi_ok || off <= 0)
			continue;
		struct bpf_link *l = bpf_program__attach_uprobe_opts(skel->progs.fl_go_tls_read_ret, -1, path, (size_t)off, NULL);
		if (l) {
			uprobe_links[n_uprobe_links++] = l;
			attached++;
		}
	}
	NAPI_CALL(env, napi_create_uint32(env, attached, &result));
	return result;
}

/* One record at most: header + the largest payload + framing. */
#define MAX_RECORD_BYTES (8 + sizeof(struct fl_event) + FL_MAX_CAPTURE + 8)

static napi_value js_drain_into(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1], result;
	NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (!rb) {
		napi_throw_error(env, "EBPF_CLOSED", "flowlens_native.drainInto: tracer is not open");
		return NULL;
	}
	void *data = NULL;
	size_t len = 0;
	bool is_buffer = false;
	if (argc < 1 || napi_is_buffer(env, argv[0], &is_buffer) != napi_ok || !is_buffer ||
	    napi_get_buffer_info(env, argv[0], &data, &len) != napi_ok || len < 65536 + MAX_RECORD_BYTES) {
		napi_throw_type_error(env, "EINVAL", "flowlens_native.drainInto: expected a Buffer of at least 64 KiB plus one record");
		return NULL;
	}
	drain_dst = data;
	drain_dst_cap = len;
	batch_used = 0;
	batch_limit = len - MAX_RECORD_BYTES;
	int n = ring_buffer__consume(rb);
	drain_dst = NULL;
	if (n < 0 && n != -EAGAIN && batch_used == 0) {
		char msg[128];
		snprintf(msg, sizeof(msg), "flowlens_native.drainInto: ring buffer read failed: %s", strerror(-n));
		napi_throw_error(env, "EBPF_RING", msg);
		return NULL;
	}
	NAPI_CALL(env, napi_create_uint32(env, (uint32_t)batch_used, &result));
	return result;
}

static napi_value js_stats(napi_env env, napi_callback_info info)
{
	(void)info;
	napi_value obj;
	NAPI_CALL(env, napi_create_object(env, &obj));
	if (!skel)
		return obj;
	static const char *const names[FL_STAT_MAX] = {"events", "ringDrops", "truncated", "readErrors"};
	set_percpu_sums(env, obj, skel->maps.stats, names, FL_STAT_MAX);
	return obj;
}

static napi_value js_layout(napi_env env, napi_callback_info info)
{
	(void)info;
	napi_value obj;
	NAPI_CALL(env, napi_create_object(env, &obj));
#define OFF(f) set_num(env, obj, #f, offsetof(struct fl_event, f))
	set_num(env, obj, "size", sizeof(struct fl_event));
	OFF(ts_ns);
	OFF(sock_id);
	OFF(tgid);
	OFF(tid);
	OFF(fd);
	OFF(kind);
	OFF(direction);
	OFF(syscall);
	OFF(ret_len);
	OFF(cap_len);
	OFF(saddr);
	OFF(daddr);
	OFF(sport);
	OFF(dport);
	OFF(family);
	OFF(syscall_trace_id);
	OFF(l4_proto);
	OFF(tcp_state);
	OFF(tcp_seq);
	OFF(comm);
#undef OFF
	set_num(env, obj, "maxCapture", FL_MAX_CAPTURE);
	return obj;
}

static uint64_t ts_ns(const struct timespec *t)
{
	return (uint64_t)t->tv_sec * 1000000000ull + (uint64_t)t->tv_nsec;
}

/* A thread preempted between its monotonic and realtime reads (a loaded 2-CPU host: milliseconds)
 * would offset every timestamp of the agent by that long against the packet capture's realtime
 * stamps; the tightest bracket of a few tries is within a microsecond or two. */
#define CLOCK_SAMPLES 7

static napi_value js_clocks(napi_env env, napi_callback_info info)
{
	(void)info;
	uint64_t best_mid = 0, best_real = 0, best_spread = UINT64_MAX;
	for (int i = 0; i < CLOCK_SAMPLES; i++) {
		struct timespec m1, real, m2;
		clock_gettime(CLOCK_MONOTONIC, &m1);
		clock_gettime(CLOCK_REALTIME, &real);
		clock_gettime(CLOCK_MONOTONIC, &m2);
		uint64_t a = ts_ns(&m1), b = ts_ns(&m2);
		if (b - a < best_spread) {
			best_spread = b - a;
			best_mid = a + (b - a) / 2;
			best_real = ts_ns(&real);
		}
	}
	napi_value arr, v;
	NAPI_CALL(env, napi_create_array_with_length(env, 3, &arr));
	napi_create_bigint_uint64(env, best_mid, &v);
	napi_set_element(env, arr, 0, v);
	napi_create_bigint_uint64(env, best_real, &v);
	napi_set_element(env, arr, 1, v);
	napi_create_bigint_uint64(env, best_spread, &v);
	napi_set_element(env, arr, 2, v);
	return arr;
}

static napi_value js_close(napi_env env, napi_callback_info info)
{
	(void)env;
	(void)info;
	teardown();
	return NULL;
}

static napi_value init(napi_env env, napi_value exports)
{
	napi_property_descriptor desc[] = {
		{"open", NULL, js_open, NULL, NULL, NULL, napi_default, NULL},
		{"drainInto", NULL, js_drain_into, NULL, NULL, NULL, napi_default, NULL},
		{"attachTls", NULL, js_attach_tls, NULL, NULL, NULL, napi_default, NULL},
		{"attachGoTls", NULL, js_attach_go_tls, NULL, NULL, NULL, napi_default, NULL},
		{"stats", NULL, js_stats, NULL, NULL, NULL, napi_default, NULL},
		{"layout", NULL, js_layout, NULL, NULL, NULL, napi_default, NULL},
		{"clocks", NULL, js_clocks, NULL, NULL, NULL, napi_default, NULL},
		{"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
	};
	if (napi_define_properties(env, exports, sizeof(desc) / sizeof(desc[0]), desc) != napi_ok)
		return NULL;
	profiler_register(env, exports); /* profilerOpen/Drain/Stats/Close: native/src/profiler.c */
	if (fl_packet_capture_register(env, exports)) /* pcap*: AF_PACKET capture, native/src/packet_capture.c */
		return NULL;
	if (fl_tcp_health_register(env, exports)) /* tcpFlows*: TCP health per connection, native/src/tcp_health.c */
		return NULL;
	return exports;
}

NAPI_MODULE(flowlens_native, init)
