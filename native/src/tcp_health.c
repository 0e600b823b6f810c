// SPDX-License-Identifier: Apache-2.0
/* TCP health per connection (bpf/tcp_health.bpf.c): loads and attaches the program, and reads the
 * flow table in batches. JavaScript API, registered on the addon's exports:
 *   tcpFlowsOpen({ignorePorts: number[]})  load + attach; throws with libbpf's reason
 *   tcpFlowsRead() -> Buffer               every open flow, then the final report of each flow
 *                                          closed since the last read, as struct fl_tcp_flow back
 *                                          to back (closed ones have FL_FLOW_CLOSED set)
 *   tcpFlowsEndDiscovery()                 detaches tcp_probe (finds flows older than the agent;
 *                                          it costs every received segment while attached)
 *   tcpFlowsStats() -> {flows, tableFull, closedDrops, readErrors}
 *   tcpFlowLayout() -> {size, offsets...}  checked by src/agent/network/tcpFlowReader.ts
 *   tcpFlowsClose()
 */
#include <node_api.h>
#include "bpf_load.h"
#include "napi_util.h"
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "tcp_health.skel.h"
#include "tcp_health.h"

static struct tcp_health *flows_skel;
static struct ring_buffer *closed_ring;
static uint32_t closed_count;
static uint64_t read_errors;
static uint32_t last_flow_count;

/* room for the whole table: one read never misses flows that exist */
static uint64_t keys[FL_MAX_TCP_FLOWS];
static struct fl_tcp_flow values[FL_MAX_TCP_FLOWS];
static struct fl_tcp_flow closed_values[FL_MAX_TCP_FLOWS];

static int on_closed(void *ctx, void *data, size_t size)
{
	(void)ctx;
	if (size < sizeof(struct fl_tcp_flow))
		return 0;
	if (closed_count >= FL_MAX_TCP_FLOWS)
		return 1; /* stop: the rest waits for the next read */
	memcpy(&closed_values[closed_count++], data, sizeof(struct fl_tcp_flow));
	return 0;
}

static napi_value throw_err(napi_env env, const char *msg, int err)
{
	char buf[256];
	snprintf(buf, sizeof(buf), "%s: %s", msg, strerror(err < 0 ? -err : err));
	napi_throw_error(env, "EBPF", buf);
	return NULL;
}

static napi_value js_flows_open(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1];
	napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
	if (flows_skel) {
		napi_throw_error(env, "EBPF_BUSY", "flowlens_native: TCP flow table already open");
		return NULL;
	}
	struct tcp_health *skel = tcp_health__open();
	if (!skel)
		return throw_err(env, "flowlens_native: opening the TCP health BPF object failed", errno);
	if (argc >= 1) {
		napi_value ports;
		bool has = false, is_array = false;
		napi_has_named_property(env, argv[0], "ignorePorts", &has);
		if (has && napi_get_named_property(env, argv[0], "ignorePorts", &ports) == napi_ok &&
		    napi_is_array(env, ports, &is_array) == napi_ok && is_array) {
			uint32_t n = 0;
			napi_get_array_length(env, ports, &n);
			for (uint32_t i = 0; i < n && i < 4; i++) {
				napi_value v;
				uint32_t p = 0;
				napi_get_element(env, ports, i, &v);
				napi_get_value_uint32(env, v, &p);
				skel->rodata->ignore_ports[i] = (uint16_t)p;
			}
		}
	}
	int err;
	FL_WITH_SIGNALS_BLOCKED(err = tcp_health__load(skel));
	if (!err)
		err = tcp_health__attach(skel);
	if (!err) {
		closed_ring = ring_buffer__new(bpf_map__fd(skel->maps.closed_flows), on_closed, NULL, NULL);
		if (!closed_ring)
			err = -errno;
	}
	if (err) {
		tcp_health__destroy(skel);
		return throw_err(env, "flowlens_native: loading or attaching the TCP health program failed", err);
	}
	flows_skel = skel;
	read_errors = 0;
	napi_value undef;
	napi_get_undefined(env, &undef);
	return undef;
}

/* Runs fl_flow_snapshot (a syscall program, once, in this thread): every tracked socket's counters
 * as they stand now. */
static void snapshot_all(void)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts);
	if (bpf_prog_test_run_opts(bpf_program__fd(flows_skel->progs.fl_flow_snapshot), &opts))
		read_errors++;
}

/* Batched lookup (one syscall per few thousand flows); falls back to key-by-key iteration on kernels
 * without batch ops. Returns the number of flows copied into keys/values. */
static uint32_t read_all(int fd)
{
	uint32_t total = 0;
	uint64_t in_batch = 0, out_batch = 0;
	bool first = true;
	for (;;) {
		uint32_t count = FL_MAX_TCP_FLOWS - total;
		if (!count)
			break;
		LIBBPF_OPTS(bpf_map_batch_opts, opts);
		int err = bpf_map_lookup_batch(fd, first ? NULL : &in_batch, &out_batch, keys + total, values + total, &count, &opts);
		first = false;
		if (err && errno != ENOENT) {
			if (total == 0 && (errno == EINVAL || errno == ENOTSUP || errno == EOPNOTSUPP))
				goto iterate;
			read_errors++;
			break;
		}
		total += count;
		if (err) /* ENOENT: the last batch */
			break;
		in_batch = out_batch;
	}
	return total;
iterate:
	total = 0;
	uint64_t key, next;
	int rc = bpf_map_get_next_key(fd, NULL, &next);
	while (rc == 0 && total < FL_MAX_TCP_FLOWS) {
		key = next;
		if (bpf_map_lookup_elem(fd, &key, &values[total]) == 0)
			keys[total++] = key;
		rc = bpf_map_get_next_key(fd, &key, &next);
	}
	return total;
}

static napi_value js_flows_read(napi_env env, napi_callback_info info)
{
	(void)info;
	if (!flows_skel) {
		napi_throw_error(env, "EBPF_CLOSED", "flowlens_native: TCP flow table not open");
		return NULL;
	}
	int fd = bpf_map__fd(flows_skel->maps.tcp_flows);
	snapshot_all();
	uint32_t n = read_all(fd);
	last_flow_count = n;
	closed_count = 0;
	ring_buffer__consume(closed_ring);
	napi_value buf;
	void *data;
	size_t open_bytes = (size_t)n * sizeof(struct fl_tcp_flow), closed_bytes = (size_t)closed_count * sizeof(struct fl_tcp_flow);
	if (napi_create_buffer(env, open_bytes + closed_bytes, &data, &buf) != napi_ok)
		return NULL;
	memcpy(data, values, open_bytes);
	memcpy((char *)data + open_bytes, closed_values, closed_bytes);
	return buf;
}

static napi_value js_flows_end_discovery(napi_env env, napi_callback_info info)
{
	(void)info;
	if (flows_skel && flows_skel->links.fl_flow_probe) {
		bpf_link__destroy(flows_skel->links.fl_flow_probe);
		flows_skel->links.fl_flow_probe = NULL;
	}
	napi_value undef;
	napi_get_undefined(env, &undef);
	return undef;
}

static napi_value js_flows_stats(napi_env env, napi_callback_info info)
{
	(void)info;
	napi_value obj;
	napi_create_object(env, &obj);
	if (flows_skel) {
		static const char *const names[FL_FLOW_STAT_MAX] = {"tableFull", "closedDrops"};
		set_percpu_sums(env, obj, flows_skel->maps.flow_stats, names, FL_FLOW_STAT_MAX);
	}
	set_num(env, obj, "flows", last_flow_count);
	set_num(env, obj, "readErrors", (double)read_errors);
	return obj;
}

static napi_value js_flow_layout(napi_env env, napi_callback_info info)
{
	(void)info;
	napi_value obj;
	napi_create_object(env, &obj);
#define OFF(f) set_num(env, obj, #f, offsetof(struct fl_tcp_flow, f))
	set_num(env, obj, "size", sizeof(struct fl_tcp_flow));
	OFF(sock_id);
	OFF(start_ns);
	OFF(established_ns);
	OFF(closed_ns);
	OFF(bytes_acked);
	OFF(bytes_received);
	OFF(segs_out);
	OFF(segs_in);
	OFF(srtt_us);
	OFF(syn_latency_us);
	OFF(retrans);
	OFF(zero_window);
	OFF(rst_received);
	OFF(rst_sent);
	OFF(tgid);
	OFF(netns);
	OFF(sk_err);
	OFF(flags);
	OFF(saddr);
	OFF(daddr);
	OFF(sport);
	OFF(dport);
	OFF(family);
	OFF(role);
	OFF(state);
#undef OFF
	return obj;
}

static napi_value js_flows_close(napi_env env, napi_callback_info info)
{
	(void)info;
	if (closed_ring) {
		ring_buffer__free(closed_ring);
		closed_ring = NULL;
	}
	if (flows_skel) {
		tcp_health__destroy(flows_skel);
		flows_skel = NULL;
	}
	napi_value undef;
	napi_get_undefined(env, &undef);
	return undef;
}

int fl_tcp_health_register(napi_env env, napi_value exports)
{
	napi_property_descriptor desc[] = {
		{"tcpFlowsOpen", NULL, js_flows_open, NULL, NULL, NULL, napi_default, NULL},
		{"tcpFlowsRead", NULL, js_flows_read, NULL, NULL, NULL, napi_default, NULL},
		{"tcpFlowsStats", NULL, js_flows_stats, NULL, NULL, NULL, napi_default, NULL},
		{"tcpFlowsEndDiscovery", NULL, js_flows_end_discovery, NULL, NULL, NULL, napi_default, NULL},
		{"tcpFlowLayout", NULL, js_flow_layout, NULL, NULL, NULL, napi_default, NULL},
		{"tcpFlowsClose", NULL, js_flows_close, NULL, NULL, NULL, napi_default, NULL},
	};
	return napi_define_properties(env, exports, sizeof(desc) / sizeof(desc[0]), desc) != napi_ok;
}
