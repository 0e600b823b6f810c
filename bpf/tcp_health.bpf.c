// SPDX-License-Identifier: GPL-2.0 OR Apache-2.0
/* TCP health per connection, from TCP tracepoints (all tp_btf: no tracefs, no kprobes):
 *   inet_sock_set_state  connect start/SYN latency, established, orderly close, failed connects
 *   fl_flow_snapshot     a syscall program the agent runs before each read: bytes, segments, RTT
 *                        and whether the peer's window is zero, copied from each tracked socket's
 *                        tcp_sock (also at ESTABLISHED and at close). Nothing runs per segment.
 *   tcp_probe            attached only for a discovery window after start (the agent detaches it):
 *                        finds flows opened before the agent started that carry traffic. Attached
 *                        for good it cost ~200 ns per received segment even as an empty program
 *                        (bench: syscall cost), which is why nothing else uses it.
 *   tcp_retransmit_skb   retransmissions
 *   tcp_receive_reset / tcp_send_reset   RSTs and which side sent them
 * Counters live in one hash map keyed by the socket; the agent reads it every interval and deletes
 * closed flows once reported. Nothing is streamed per packet. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "tcp_health.h"

char LICENSE[] SEC("license") = "GPL";

#define AF_INET 2
#define AF_INET6 10

/* Casts a kernel pointer to a BTF type so its fields are read with plain loads. */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;

const volatile __u16 ignore_ports[4] = {}; /* e.g. the agent's own ClickHouse */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FL_MAX_TCP_FLOWS);
	__type(key, __u64);
	__type(value, struct fl_tcp_flow);
} tcp_flows SEC(".maps");

/* Closed flows leave the table at once (their socket's address is soon reused) and wait here for
 * the agent's next read. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 2 << 20); /* ~14,000 closes per read (a read every flush, 1 s by default) */
} closed_flows SEC(".maps");

/* Per socket, next to the socket itself (no hash lookup in the discovery hook): its presence says
 * the discovery hook has nothing to do for this socket (its flow is in tcp_flows, or it is not ours
 * to track). The value itself is never read. */
struct flow_mark {
	__u8 unused;
};

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct flow_mark);
} flow_marks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FL_FLOW_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} flow_stats SEC(".maps");

static __always_inline void flow_stat_inc(__u32 i)
{
	__u64 *v = bpf_map_lookup_elem(&flow_stats, &i);
	if (v)
		(*v)++;
}

static __always_inline bool ignored(const struct sock *sk)
{
	__u16 sport = sk->__sk_common.skc_num, dport = bpf_ntohs(sk->__sk_common.skc_dport);
#pragma unroll
	for (int i = 0; i < 4; i++) {
		if (ignore_ports[i] && (ignore_ports[i] == sport || ignore_ports[i] == dport))
			return true;
	}
	return false;
}

static __always_inline bool inet(const struct sock *sk)
{
	__u16 family = sk->__sk_common.skc_family;
	return (family == AF_INET || family == AF_INET6) && sk->sk_protocol == IPPROTO_TCP;
}

/* The 5-tuple is refreshed at each state change: connect() picks the local port after SYN_SENT. */
static __always_inline void fill_flow_tuple(struct fl_tcp_flow *f, const struct sock *sk)
{
	if (f->sport && !sk->__sk_common.skc_num)
		return; /* the port was released on the way to TCP_CLOSE: keep what we knew */
	f->family = sk->__sk_common.skc_family;
	f->sport = sk->__sk_common.skc_num;
	f->dport = bpf_ntohs(sk->__sk_common.skc_dport);
	if (f->family == AF_INET) {
		*(__u32 *)f->saddr = sk->__sk_common.skc_rcv_saddr;
		*(__u32 *)f->daddr = sk->__sk_common.skc_daddr;
	} else {
		bpf_probe_read_kernel(f->saddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_probe_read_kernel(f->daddr, 16, &sk->__sk_common.skc_v6_daddr);
	}
	f->netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
}

/* Counters the kernel keeps in tcp_sock, copied as they stand now; with `window`, the peer's
 * window too (not at establishment or close: a connect that failed never had one, and reads 0). */
static __always_inline void snapshot(struct fl_tcp_flow *f, const struct sock *sk, bool window)
{
	const struct tcp_sock *tp = bpf_rdonly_cast(sk, bpf_core_type_id_kernel(struct tcp_sock));
	f->bytes_acked = tp->bytes_acked;
	f->bytes_received = tp->bytes_received;
	f->segs_out = tp->segs_out;
	f->segs_in = tp->segs_in;
	f->srtt_us = tp->srtt_us >> 3;
	f->state = sk->__sk_common.skc_state;
	if (!window)
		return;
	/* the peer's receive window, as this snapshot finds it: a zero window counts once per episode
	 * (one that opens and closes again between two snapshots is not seen) */
	if (tp->snd_wnd == 0) {
		if (!(f->flags & FL_FLOW_ZERO_WINDOW)) {
			f->zero_window++;
			f->flags |= FL_FLOW_ZERO_WINDOW;
		}
	} else {
		f->flags &= ~FL_FLOW_ZERO_WINDOW;
	}
}

/* A new flow entry for sk. A socket address reused before the agent read the old flow's final
 * report overwrites it (the agent reads every second; the loss is counted there as a gap). */
static __always_inline struct fl_tcp_flow *flow_new(const struct sock *sk, __u32 flags)
{
	__u64 key = (__u64)sk;
	struct fl_tcp_flow n = {};
	n.sock_id = key;
	n.start_ns = bpf_ktime_get_ns();
	n.flags = flags;
	fill_flow_tuple(&n, sk);
	if (bpf_map_update_elem(&tcp_flows, &key, &n, BPF_ANY)) {
		flow_stat_inc(FL_FLOW_STAT_TABLE_FULL);
		return NULL;
	}
	bpf_sk_storage_get(&flow_marks, (struct sock *)sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	return bpf_map_lookup_elem(&tcp_flows, &key);
}

static __always_inline struct fl_tcp_flow *flow_get(const struct sock *sk, bool create, __u32 flags)
{
	__u64 key = (__u64)sk;
	struct fl_tcp_flow *f = bpf_map_lookup_elem(&tcp_flows, &key);
	if (f || !create)
		return f;
	return flow_new(sk, flags);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(fl_flow_state, const struct sock *sk, int oldstate, int newstate)
{
	if (!inet(sk) || ignored(sk))
		return 0;
	struct fl_tcp_flow *f;
	__u64 now = bpf_ktime_get_ns();
	if (newstate == TCP_SYN_SENT) {
		/* connect(): process context, so the pid is the caller's */
		f = flow_new(sk, 0);
		if (!f)
			return 0;
		f->role = FL_ROLE_CLIENT;
		f->start_ns = now;
		f->tgid = bpf_get_current_pid_tgid() >> 32;
		f->state = newstate;
		return 0;
	}
	if (newstate == TCP_SYN_RECV) {
		/* a child socket cloned from a listener (softirq: no pid) */
		f = flow_new(sk, 0);
		if (f) {
			f->role = FL_ROLE_SERVER;
			f->start_ns = now;
			f->state = newstate;
		}
		return 0;
	}
	/* a flow opened before the agent started and silent during discovery is still reported when it
	 * closes (its counters are the socket's totals) */
	bool closing_unknown = oldstate == TCP_ESTABLISHED && (newstate == TCP_FIN_WAIT1 || newstate == TCP_CLOSE_WAIT || newstate == TCP_CLOSE);
	f = flow_get(sk, newstate == TCP_ESTABLISHED || closing_unknown, closing_unknown ? FL_FLOW_PREEXISTING | FL_FLOW_ESTABLISHED : 0);
	if (!f)
		return 0;
	fill_flow_tuple(f, sk);
	if (newstate == TCP_ESTABLISHED) {
		f->established_ns = now;
		f->flags |= FL_FLOW_ESTABLISHED;
		snapshot(f, sk, false);
		if (f->role == FL_ROLE_CLIENT && f->start_ns)
			f->syn_latency_us = (now - f->start_ns) / 1000;
		else
			f->syn_latency_us = f->srtt_us; /* the SYN-ACK → ACK round trip sampled by the kernel */
		return 0;
	}
	if (newstate == TCP_FIN_WAIT1 || newstate == TCP_CLOSE_WAIT)
		f->flags |= FL_FLOW_FIN;
	if (newstate == TCP_CLOSE) {
		snapshot(f, sk, false);
		f->closed_ns = now;
		f->flags |= FL_FLOW_CLOSED;
		f->sk_err = sk->sk_err ? sk->sk_err : sk->sk_err_soft;
		f->state = newstate;
		struct fl_tcp_flow *out = bpf_ringbuf_reserve(&closed_flows, sizeof(*out), 0);
		if (out) {
			__builtin_memcpy(out, f, sizeof(*out));
			bpf_ringbuf_submit(out, BPF_RB_NO_WAKEUP);
		} else {
			flow_stat_inc(FL_FLOW_STAT_CLOSED_DROPS);
		}
		__u64 key = (__u64)sk;
		bpf_map_delete_elem(&tcp_flows, &key);
		return 0;
	}
	f->state = newstate;
	return 0;
}

SEC("tp_btf/tcp_probe")
int BPF_PROG(fl_flow_probe, struct sock *sk, const struct sk_buff *skb)
{
	if (bpf_sk_storage_get(&flow_marks, sk, 0, 0))
		return 0; /* tracked already, or not ours */
	if (!inet(sk) || ignored(sk)) {
		bpf_sk_storage_get(&flow_marks, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
		return 0;
	}
	/* a flow opened before the agent started, seen on its first segment */
	struct fl_tcp_flow *f = flow_get(sk, true, FL_FLOW_PREEXISTING | FL_FLOW_ESTABLISHED);
	if (f)
		snapshot(f, sk, true);
	return 0;
}

static long snapshot_one(struct bpf_map *map, __u64 *key, struct fl_tcp_flow *f, void *ctx)
{
	if (!(f->flags & FL_FLOW_ESTABLISHED) || (f->flags & FL_FLOW_CLOSED))
		return 0;
	snapshot(f, bpf_rdonly_cast((void *)*key, bpf_core_type_id_kernel(struct sock)), true);
	return 0;
}

/* Run by the agent (BPF_PROG_TEST_RUN, native/src/tcp_health.c) before it reads the table: copies
 * each tracked socket's counters, so the per-segment hook above does not have to. An entry leaves
 * the table at TCP_CLOSE, before its socket can be freed. (A map-element iterator would do, but
 * some kernels refuse to load those.) */
SEC("syscall")
int fl_flow_snapshot(void *ctx)
{
	bpf_for_each_map_elem(&tcp_flows, snapshot_one, NULL, 0);
	return 0;
}

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(fl_flow_retransmit, const struct sock *sk, const struct sk_buff *skb, int err)
{
	/* err != 0: the retransmission failed (the device or qdisc refused it) and is tried again: not
	 * counted (TcpRetransSegs counts the attempt, TCPRetransFail the failure). A packet capture on the
	 * sending device may still have seen it: its tap runs before the driver refuses. */
	if (err || !sk || !inet(sk) || ignored(sk))
		return 0;
	/* SYN retransmissions count too: a connect that times out retransmits its SYN */
	struct fl_tcp_flow *f = flow_get(sk, true, 0);
	if (!f)
		return 0;
	__sync_fetch_and_add(&f->retrans, 1);
	fill_flow_tuple(f, sk);
	return 0;
}

SEC("tp_btf/tcp_receive_reset")
int BPF_PROG(fl_flow_rst_in, struct sock *sk)
{
	if (!inet(sk) || ignored(sk))
		return 0;
	struct fl_tcp_flow *f = flow_get(sk, true, 0);
	if (f) {
		f->rst_received++;
		f->flags |= FL_FLOW_RST_RECEIVED;
		fill_flow_tuple(f, sk); /* before tcp_done releases the local port */
	}
	return 0;
}

SEC("tp_btf/tcp_send_reset")
int BPF_PROG(fl_flow_rst_out, const struct sock *sk, const struct sk_buff *skb)
{
	/* sk is NULL for a reset to a port with no socket: no flow of ours to charge */
	if (!sk || !inet(sk) || ignored(sk))
		return 0;
	struct fl_tcp_flow *f = flow_get(sk, false, 0);
	if (f) {
		f->rst_sent++;
		f->flags |= FL_FLOW_RST_SENT;
	}
	return 0;
}
