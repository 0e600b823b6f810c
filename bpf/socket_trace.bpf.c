// SPDX-License-Identifier: GPL-2.0
/* FlowLens socket tracer: the payload of every read/write-family syscall on an inet socket
 * (vectored ones gathered into one payload, batched ones one record per datagram), TLS plaintext
 * from OpenSSL uprobes, connect/accept, TCP close, and process exec/fork/exit, into one BPF ring
 * buffer.
 *
 * Cost decisions (measured with bench/run.sh):
 *  - one tp_btf/sys_exit hook reads the syscall's arguments from the saved user pt_regs, so no
 *    sys_enter hook and no enter->exit argument map are needed;
 *  - sockets are resolved with direct BTF loads (bpf_rdonly_cast), not a probe read per hop, and
 *    non-inet sockets are dropped before any ring space is reserved;
 *  - records go to the ring without a wakeup; user space drains on a short timer, and only a
 *    ring filling past `wakeup_bytes` forces a wakeup;
 *  - the payload is copied once into the reserved ring slot (vectored syscalls: through a per-CPU
 *    gather buffer), and only up to `capture_bytes`.
 * Closes come from inet_sock_set_state (TCP_CLOSE) rather than sys_enter_close.
 * Every syscall and scheduler hook is a raw BTF tracepoint (tp_btf): none needs tracefs mounted. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "socket_trace.h"

char LICENSE[] SEC("license") = "GPL";

/* Set by the loader before load (rodata). */
const volatile __u32 self_tgid = 0;       /* the agent itself: never traced */
const volatile __u32 capture_bytes = 1024; /* payload bytes kept per syscall */
const volatile __u64 wakeup_bytes = 4 << 20; /* force a consumer wakeup past this much queued data */
const volatile __u16 ignore_ports[FL_MAX_IGNORED_PORTS] = {}; /* e.g. the agent's own ClickHouse */
const volatile bool tls_enabled = false; /* OpenSSL uprobes attached: look for SSL calls in progress */

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20); /* resized by the loader */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FL_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

/* An SSL_read/SSL_write in progress on a thread: its plaintext buffer, and the socket learnt from
 * the read()/write() OpenSSL makes inside it. */
struct ssl_call {
	const void *buf;
	__u64 ssl;
	__u64 *ex_bytes; /* SSL_*_ex: where the byte count is written */
	struct sock *sk;
	__s32 fd;
	__u8 direction;
	__u8 active; /* between the SSL_* entry and its return; the storage itself stays with the thread */
};

/* Task-local storage, not a hash keyed by thread id: every traced syscall asks whether its thread
 * is inside an SSL call, and a thread that never called OpenSSL answers from its task_struct
 * without hashing or locking. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct ssl_call);
} ssl_calls SEC(".maps");

/* Per-CPU scratch where a vectored syscall's iovecs are gathered into one contiguous payload. Four
 * times the capture bound: the verifier sees offset < MAX and a masked length < 2*MAX. */
struct gather_buf {
	__u8 bytes[4 * FL_MAX_CAPTURE];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct gather_buf);
} gather SEC(".maps");

/* SSL* -> fd, for reads OpenSSL serves from its buffer without a syscall */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __s32);
} ssl_fds SEC(".maps");

#define AF_INET 2
#define AF_INET6 10
#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define TCP_CLOSE 7
#define EINPROGRESS 115

/* x86_64 syscall numbers. */
#define NR_read 0
#define NR_write 1
#define NR_readv 19
#define NR_writev 20
#define NR_connect 42
#define NR_accept 43
#define NR_sendto 44
#define NR_recvfrom 45
#define NR_sendmsg 46
#define NR_recvmsg 47
#define NR_accept4 288
#define NR_recvmmsg 299
#define NR_sendmmsg 307

static __always_inline void stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);
	if (v)
		(*v)++; /* per-CPU slot: no atomic needed */
}

/* Casts an untyped kernel pointer to a BTF type so its fields are read with plain loads. */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;

/* The struct sock behind fd in the current task, or NULL when fd is not a socket. Direct BTF
 * loads (exception-handled, no helper call) instead of a bpf_probe_read_kernel per hop: measured
 * ~50 ns against ~280 ns for the probe-read chain (bench/syscall-cost). */
static __always_inline struct sock *fd_to_sock(struct task_struct *task, int fd)
{
	struct fdtable *fdt = task->files->fdt;
	struct file *f = NULL;

	if (fd < 0 || (unsigned int)fd >= fdt->max_fds)
		return NULL;
	bpf_probe_read_kernel(&f, sizeof(f), &fdt->fd[fd]); /* an array of untyped pointers */
	if (!f)
		return NULL;
	f = bpf_rdonly_cast(f, bpf_core_type_id_kernel(struct file));
	if ((f->f_inode->i_mode & S_IFMT) != S_IFSOCK)
		return NULL;
	struct socket *sock = bpf_rdonly_cast(f->private_data, bpf_core_type_id_kernel(struct socket));
	return sock->sk;
}

static __always_inline bool port_ignored(__u16 sport, __u16 dport)
{
#pragma unroll
	for (int i = 0; i < FL_MAX_IGNORED_PORTS; i++) {
		__u16 p = ignore_ports[i];
		if (p && (p == sport || p == dport))
			return true;
	}
	return false;
}

/* Fills the 5-tuple of an inet TCP/UDP socket; false for anything else (unix, netlink, raw). */
static __always_inline bool fill_tuple(struct fl_event *e, struct sock *sk)
{
	__u16 family = sk->__sk_common.skc_family;
	if (family != AF_INET && family != AF_INET6)
		return false;
	__u8 proto = sk->sk_protocol;
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return false;
	e->family = family;
	e->l4_proto = proto;
	e->sport = sk->__sk_common.skc_num;
	e->dport = bpf_ntohs(sk->__sk_common.skc_dport);
	if (family == AF_INET) {
		*(__u32 *)e->saddr = sk->__sk_common.skc_rcv_saddr;
		*(__u32 *)e->daddr = sk->__sk_common.skc_daddr;
	} else {
		bpf_probe_read_kernel(e->saddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_probe_read_kernel(e->daddr, 16, &sk->__sk_common.skc_v6_daddr);
	}
	return true;
}

static __always_inline void submit(struct fl_event *e)
{
	__u64 flags = BPF_RB_NO_WAKEUP;
	/* the fill level is checked on about one record in eight (picked by the timestamp's bits):
	 * a safety net for bursts between drains needs no query per record (~25 ns each) */
	if (((e->ts_ns >> 8) & 7) == 0 && bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) > wakeup_bytes)
		flags = BPF_RB_FORCE_WAKEUP;
	bpf_ringbuf_submit(e, flags);
}

/* The peer of an unconnected (UDP) socket is not in the socket: it is the syscall's sockaddr. */
static __always_inline void fill_peer_from_sockaddr(struct fl_event *e, const void *uaddr)
{
	struct sockaddr_in6 sa = {};
	if (bpf_probe_read_user(&sa, sizeof(sa), uaddr))
		return;
	if (sa.sin6_family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&sa;
		e->dport = bpf_ntohs(in->sin_port);
		__builtin_memcpy(e->daddr, &in->sin_addr, 4);
	} else if (sa.sin6_family == AF_INET6) {
		e->dport = bpf_ntohs(sa.sin6_port);
		__builtin_memcpy(e->daddr, &sa.sin6_addr, 16);
	}
}

/* A zeroed payload-less record of `kind` for the current task, or NULL (counted) when the ring is full. */
static __always_inline struct fl_event *reserve_event(__u16 kind)
{
	struct fl_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		stat_inc(FL_STAT_RING_DROPS);
		return NULL;
	}
	__builtin_memset(e, 0, sizeof(*e));
	__u64 id = bpf_get_current_pid_tgid();
	e->ts_ns = bpf_ktime_get_ns();
	e->tgid = id >> 32;
	e->tid = (__u32)id;
	e->fd = -1;
	e->kind = kind;
	return e;
}

/* ---- syscall_trace_id (AutoTracing) ----
 * Each thread carries an id. A read that starts a new inbound message (the thread's first I/O,
 * after a write, or on another socket than its previous read) takes a new id; writes carry the
 * thread's current id. So a server that reads a request (id X) and then calls a dependency writes
 * that call with X: the call and the request that caused it share an id, and the dependency's reply
 * (read after the write) starts the next id, which the next call or the response carries. Threads
 * that interleave many requests (event loops) can mix ids: the trace assembly also checks times. */
struct thread_trace {
	__u64 id;
	__u64 sock; /* socket of the read that took the id */
	__u64 dir;  /* 64-bit: no padding in the value */
};

/* Task-local storage (freed with the thread): no LRU hash lookup and update on every syscall
 * (fl_sys_exit ~567 -> ~505 ns per run as bpf_stats measures it). */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct thread_trace);
} thread_traces SEC(".maps");

/* Set by the loader to the wall clock in µs: ids from different agent runs do not collide. */
__u64 next_trace_id = 1;

static __always_inline __u64 thread_trace_id(__u8 direction, __u64 sock)
{
	struct task_struct *task = bpf_get_current_task_btf();
	if (direction == FL_DIR_EGRESS) {
		struct thread_trace *t = bpf_task_storage_get(&thread_traces, task, 0, 0);
		if (!t)
			return 0;
		t->dir = FL_DIR_EGRESS;
		return t->id;
	}
	/* created zeroed on the thread's first read: id 0 and dir egress, so it takes a new id below */
	struct thread_trace *t = bpf_task_storage_get(&thread_traces, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!t)
		return 0;
	if (t->id && t->dir == FL_DIR_INGRESS && t->sock == sock)
		return t->id; /* more of the same inbound message */
	__u64 id = __sync_fetch_and_add(&next_trace_id, 1);
	t->id = id;
	t->sock = sock;
	t->dir = FL_DIR_INGRESS;
	return id;
}

struct data_args {
	struct sock *sk; /* NULL only for TLS plaintext whose socket is not known yet (see ssl_exit) */
	__u64 ssl;       /* the SSL* of TLS plaintext: names the stream until the agent binds it to a socket */
	const void *buf; /* user buffer holding the payload */
	const void *addr; /* user sockaddr of sendto/recvfrom/sendmsg/recvmsg (unconnected UDP peers) */
	__u32 len;       /* payload bytes available at buf */
	__u32 ret;       /* bytes of this chunk of the stream (one iovec / one message) */
	__u32 seq_back;  /* bytes from this chunk's first byte to the end of the syscall's data */
	bool gathered;   /* buf is the kernel gather buffer, not user memory */
	__s32 fd;
	__u8 syscall;
	__u8 direction;
};

/* Emits one data record into a ring slot of `slot` payload bytes. A subprogram, not inlined: the
 * verifier checks it per call site with `slot` a known constant, where inlined copies got merged
 * by the compiler and lost the per-slot bound. */
static __noinline int emit_data(struct data_args *a, __u32 slot)
{
	struct fl_event *e = bpf_ringbuf_reserve(&events, sizeof(*e) + slot, 0);
	if (!e) {
		stat_inc(FL_STAT_RING_DROPS);
		return 0;
	}
	__u64 id = bpf_get_current_pid_tgid();
	e->ts_ns = bpf_ktime_get_ns();
	e->sock_id = (__u64)a->sk;
	e->tgid = id >> 32;
	e->tid = (__u32)id;
	e->fd = a->fd;
	e->kind = FL_EV_DATA;
	e->direction = a->direction;
	e->syscall = a->syscall;
	e->ret_len = a->ret;
	e->tcp_state = 0;
	e->pad = 0;
	__builtin_memset(e->comm, 0, sizeof(e->comm));
	if (!a->sk) {
		/* TLS plaintext, socket unknown: family 0 and the SSL* in sock_id; user space binds it */
		e->sock_id = a->ssl;
		e->family = 0;
		e->l4_proto = IPPROTO_TCP;
		e->sport = 0;
		e->dport = 0;
		__builtin_memset(e->saddr, 0, sizeof(e->saddr));
		__builtin_memset(e->daddr, 0, sizeof(e->daddr));
	} else if (!fill_tuple(e, a->sk) || port_ignored(e->sport, e->dport)) {
		bpf_ringbuf_discard(e, BPF_RB_NO_WAKEUP);
		return 0;
	}
	if (e->dport == 0 && a->addr)
		fill_peer_from_sockaddr(e, a->addr);
	e->tcp_seq = 0;
	/* TLS plaintext has no place in the TCP sequence space: only the ciphertext does */
	bool plaintext = a->syscall == FL_SYS_SSL_WRITE || a->syscall == FL_SYS_SSL_READ;
	if (a->sk && !plaintext && e->l4_proto == IPPROTO_TCP) {
		struct tcp_sock *tp = bpf_rdonly_cast(a->sk, bpf_core_type_id_kernel(struct tcp_sock));
		__u32 seq = a->direction == FL_DIR_EGRESS ? tp->write_seq : tp->copied_seq;
		e->tcp_seq = seq - a->seq_back; /* the syscall already advanced the sequence past its data */
	}
	e->syscall_trace_id = thread_trace_id(a->direction, e->sock_id);
	__u32 n = a->len;
	if (n > slot)
		n = slot;
	e->cap_len = 0;
	long err = a->gathered ? bpf_probe_read_kernel((__u8 *)(e + 1), n, a->buf) : bpf_probe_read_user((__u8 *)(e + 1), n, a->buf);
	if (n > 0 && err == 0)
		e->cap_len = n;
	else if (n > 0)
		stat_inc(FL_STAT_READ_ERRORS);
	submit(e);
	return 0;
}

#define FL_MAX_CHUNKS 8 /* messages of one sendmmsg/recvmmsg captured, each its own datagram */

/* Emits one chunk in the smallest ring slot that holds its captured bytes. */
static __always_inline int emit_chunk(struct data_args *a)
{
	__u32 cap = capture_bytes;
	if (a->len > cap)
		stat_inc(FL_STAT_TRUNCATED);
	else
		cap = a->len;
	a->len = cap;
	if (cap <= FL_SMALL_CAPTURE)
		return emit_data(a, FL_SMALL_CAPTURE);
	if (cap <= 1024)
		return emit_data(a, 1024);
	return emit_data(a, FL_MAX_CAPTURE);
}

#define FL_MAX_IOVECS 64 /* iovecs gathered per syscall (gRPC writes dozens of small slices) */

struct gather_ctx {
	const struct iovec *iovs;
	__u64 iovcnt;
	__u32 want; /* bytes to gather: min(syscall bytes, capture size) */
	__u32 off;
	__u8 *dst;
};

static long gather_one(__u64 i, struct gather_ctx *g)
{
	if (i >= g->iovcnt || g->off >= g->want)
		return 1;
	struct iovec iov = {};
	if (bpf_probe_read_user(&iov, sizeof(iov), &g->iovs[i]))
		return 1;
	__u32 off = g->off;
	if (off >= FL_MAX_CAPTURE)
		return 1;
	__u32 n = iov.iov_len < g->want - off ? (__u32)iov.iov_len : g->want - off;
	if (n > FL_MAX_CAPTURE)
		n = FL_MAX_CAPTURE;
	/* a no-op on the value that the verifier can see: the compiler drops a plain clamp it has
	 * already proven, and then passes the helper an unbounded copy */
	asm volatile("%[n] &= %[mask]" : [n] "+r"(n) : [mask] "i"(2 * FL_MAX_CAPTURE - 1));
	if (n && bpf_probe_read_user(g->dst + off, n, iov.iov_base))
		return 1;
	g->off = off + n;
	return 0;
}

/* Gathers a vectored syscall's iovecs into one contiguous payload, as if the process had written
 * their concatenation: a length prefix and its message, HTTP headers and body, or gRPC's many
 * frame slices arrive as the one byte stream the parsers expect. */
static __always_inline void emit_iovecs(struct data_args *a, const struct iovec *iovs, __u64 iovcnt, __u32 total)
{
	__u32 zero = 0;
	struct gather_buf *buf = bpf_map_lookup_elem(&gather, &zero);
	if (!buf)
		return;
	struct gather_ctx g = {.iovs = iovs, .iovcnt = iovcnt, .want = total < capture_bytes ? total : capture_bytes, .dst = buf->bytes};
	bpf_loop(FL_MAX_IOVECS, gather_one, &g, 0);
	a->buf = buf->bytes;
	a->gathered = true;
	a->len = g.off;
	a->ret = total;
	a->seq_back = total;
	if (g.off < g.want)
		stat_inc(FL_STAT_TRUNCATED); /* more iovecs than gathered */
	emit_chunk(a);
}

static __always_inline int handle_data(struct pt_regs *regs, long ret, __u8 syscall, __u8 direction)
{
	if (ret <= 0)
		return 0;
	__u64 id = bpf_get_current_pid_tgid();
	if ((id >> 32) == self_tgid)
		return 0;

	struct data_args a = {};
	a.fd = (__s32)regs->di;
	struct sock *sk = fd_to_sock(bpf_get_current_task_btf(), a.fd);
	if (!sk)
		return 0;
	/* filter unix/netlink/raw sockets before reserving ring space: a reserve+discard costs more */
	__u16 family = sk->__sk_common.skc_family;
	if (family != AF_INET && family != AF_INET6)
		return 0;
	if (tls_enabled) {
		struct ssl_call *call = bpf_task_storage_get(&ssl_calls, bpf_get_current_task_btf(), 0, 0);
		if (call && call->active) {
			/* ciphertext inside SSL_read/SSL_write: note the socket, emit the plaintext at return */
			call->sk = sk;
			call->fd = a.fd;
			bpf_map_update_elem(&ssl_fds, &call->ssl, &a.fd, BPF_ANY);
			return 0;
		}
	}
	a.sk = sk;
	a.syscall = syscall;
	a.direction = direction;
	const void *arg1 = (const void *)regs->si;

	switch (syscall) {
	case FL_SYS_READV:
	case FL_SYS_WRITEV:
		emit_iovecs(&a, arg1, regs->dx, (__u32)ret);
		return 0;
	case FL_SYS_SENDMSG:
	case FL_SYS_RECVMSG: {
		struct user_msghdr msg = {};
		bpf_probe_read_user(&msg, sizeof(msg), arg1);
		a.addr = msg.msg_name;
		emit_iovecs(&a, msg.msg_iov, msg.msg_iovlen, (__u32)ret);
		return 0;
	}
	case FL_SYS_SENDMMSG:
	case FL_SYS_RECVMMSG: {
		/* ret is a count of messages; each is its own datagram (DNS resolvers send A and AAAA at once) */
		const struct mmsghdr *vec = arg1;
#pragma unroll
		for (int i = 0; i < FL_MAX_CHUNKS; i++) {
			if (i >= ret)
				break;
			struct mmsghdr mm = {};
			struct iovec iov = {};
			bpf_probe_read_user(&mm, sizeof(mm), &vec[i]);
			bpf_probe_read_user(&iov, sizeof(iov), mm.msg_hdr.msg_iov);
			a.addr = mm.msg_hdr.msg_name;
			a.buf = iov.iov_base;
			a.len = iov.iov_len < mm.msg_len ? (__u32)iov.iov_len : mm.msg_len;
			a.ret = mm.msg_len;
			a.seq_back = mm.msg_len;
			emit_chunk(&a);
		}
		return 0;
	}
	case FL_SYS_SENDTO:
	case FL_SYS_RECVFROM:
		a.addr = (const void *)regs->r8; /* 5th argument: dest_addr / src_addr */
		break;
	}
	a.buf = arg1;
	a.len = (__u32)ret;
	a.ret = (__u32)ret;
	a.seq_back = (__u32)ret;
	return emit_chunk(&a);
}

/* connect/accept: a record without payload naming the socket and its role. */
static __always_inline int handle_conn(int fd, __u16 kind, __u8 syscall)
{
	__u64 id = bpf_get_current_pid_tgid();
	if ((id >> 32) == self_tgid)
		return 0;
	struct sock *sk = fd_to_sock(bpf_get_current_task_btf(), fd);
	if (!sk)
		return 0;
	struct fl_event *e = reserve_event(kind);
	if (!e)
		return 0;
	if (!fill_tuple(e, sk) || port_ignored(e->sport, e->dport)) {
		bpf_ringbuf_discard(e, BPF_RB_NO_WAKEUP);
		return 0;
	}
	e->sock_id = (__u64)sk;
	e->fd = fd;
	e->syscall = syscall;
	submit(e);
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(fl_sys_exit, struct pt_regs *regs, long ret)
{
	long nr = regs->orig_ax;

	switch (nr) {
	case NR_read:
		return handle_data(regs, ret, FL_SYS_READ, FL_DIR_INGRESS);
	case NR_write:
		return handle_data(regs, ret, FL_SYS_WRITE, FL_DIR_EGRESS);
	case NR_readv:
		return handle_data(regs, ret, FL_SYS_READV, FL_DIR_INGRESS);
	case NR_writev:
		return handle_data(regs, ret, FL_SYS_WRITEV, FL_DIR_EGRESS);
	case NR_sendto:
		return handle_data(regs, ret, FL_SYS_SENDTO, FL_DIR_EGRESS);
	case NR_recvfrom:
		return handle_data(regs, ret, FL_SYS_RECVFROM, FL_DIR_INGRESS);
	case NR_sendmsg:
		return handle_data(regs, ret, FL_SYS_SENDMSG, FL_DIR_EGRESS);
	case NR_recvmsg:
		return handle_data(regs, ret, FL_SYS_RECVMSG, FL_DIR_INGRESS);
	case NR_sendmmsg:
		return handle_data(regs, ret, FL_SYS_SENDMMSG, FL_DIR_EGRESS);
	case NR_recvmmsg:
		return handle_data(regs, ret, FL_SYS_RECVMMSG, FL_DIR_INGRESS);
	case NR_connect:
		if (ret == 0 || ret == -EINPROGRESS)
			return handle_conn((int)regs->di, FL_EV_CONNECT, FL_SYS_CONNECT);
		return 0;
	case NR_accept:
	case NR_accept4:
		if (ret >= 0)
			return handle_conn((int)ret, FL_EV_ACCEPT, FL_SYS_ACCEPT);
		return 0;
	}
	return 0;
}

/* Raw BTF tracepoint: needs no tracefs mount, and hands us the struct sock itself. */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(fl_inet_sock_set_state, const struct sock *sk, int oldstate, int newstate)
{
	if (newstate != TCP_CLOSE)
		return 0;
	struct fl_event *e = reserve_event(FL_EV_CLOSE);
	if (!e)
		return 0;
	if (!fill_tuple(e, (struct sock *)sk) || e->l4_proto != IPPROTO_TCP || port_ignored(e->sport, e->dport)) {
		bpf_ringbuf_discard(e, BPF_RB_NO_WAKEUP);
		return 0;
	}
	e->sock_id = (__u64)sk;
	e->syscall = FL_SYS_CLOSE;
	e->tcp_state = (__u8)oldstate;
	submit(e);
	return 0;
}

static __always_inline int emit_process(__u16 kind)
{
	struct fl_event *e = reserve_event(kind);
	if (!e)
		return 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	submit(e);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(fl_sched_process_exec)
{
	return emit_process(FL_EV_EXEC);
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(fl_sched_process_exit)
{
	__u64 id = bpf_get_current_pid_tgid();
	if ((__u32)id != (id >> 32))
		return 0; /* a thread, not the process */
	return emit_process(FL_EV_EXIT);
}

/* A forked child (no exec) serving connections, like dnsmasq's TCP handler or a pre-fork worker,
 * is named by the comm it inherited: it may exit before user space could read /proc. */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(fl_sched_process_fork, struct task_struct *parent, struct task_struct *child)
{
	if (child->pid != child->tgid)
		return 0; /* a new thread, not a new process */
	struct fl_event *e = reserve_event(FL_EV_FORK);
	if (!e)
		return 0;
	e->tgid = child->tgid; /* the child, not the forking parent */
	e->tid = child->pid;
	bpf_probe_read_kernel(e->comm, sizeof(e->comm), child->comm);
	submit(e);
	return 0;
}

/* ---- OpenSSL (libssl.so and binaries that link it statically, like node) ----
 * BPF_KPROBE/BPF_KRETPROBE: libbpf 1.1 has no BPF_UPROBE macros; the argument access is the same. */

static __always_inline int ssl_enter(void *ssl, const void *buf, __u64 *ex_bytes, __u8 direction)
{
	__u64 id = bpf_get_current_pid_tgid();
	if ((id >> 32) == self_tgid)
		return 0;
	struct ssl_call *call = bpf_task_storage_get(&ssl_calls, bpf_get_current_task_btf(), 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!call)
		return 0;
	call->buf = buf;
	call->ssl = (__u64)ssl;
	call->ex_bytes = ex_bytes;
	call->sk = NULL;
	call->fd = -1;
	call->direction = direction;
	call->active = 1;
	return 0;
}

static __always_inline int ssl_exit(long ret)
{
	struct ssl_call *call = bpf_task_storage_get(&ssl_calls, bpf_get_current_task_btf(), 0, 0);
	if (!call || !call->active)
		return 0;
	call->active = 0;
	long n = ret;
	if (call->ex_bytes) { /* SSL_*_ex return 1 on success and write the count */
		__u64 done = 0;
		n = 0;
		if (ret == 1 && bpf_probe_read_user(&done, sizeof(done), call->ex_bytes) == 0)
			n = (long)done;
	}
	struct data_args a = {};
	a.fd = call->fd;
	/* a pointer stored in a map comes back untyped: cast it back to read its fields */
	a.sk = call->sk ? bpf_rdonly_cast(call->sk, bpf_core_type_id_kernel(struct sock)) : NULL;
	a.buf = call->buf;
	a.direction = call->direction;
	if (!a.sk) {
		/* no syscall inside this call (buffered data): find the socket from an earlier call */
		__s32 *fd = bpf_map_lookup_elem(&ssl_fds, &call->ssl);
		if (fd) {
			a.fd = *fd;
			a.sk = fd_to_sock(bpf_get_current_task_btf(), a.fd);
		}
	}
	a.ssl = call->ssl;
	/* no socket known (Node's TLS does its socket I/O outside SSL_read/SSL_write): emit anyway */
	if (n <= 0)
		return 0;
	a.syscall = a.direction == FL_DIR_EGRESS ? FL_SYS_SSL_WRITE : FL_SYS_SSL_READ;
	a.len = (__u32)n;
	a.ret = (__u32)n;
	a.seq_back = 0; /* TCP sequence numbers belong to the ciphertext, not this plaintext */
	return emit_chunk(&a);
}

SEC("uprobe")
int BPF_KPROBE(fl_ssl_write, void *ssl, const void *buf, int num)
{
	return ssl_enter(ssl, buf, NULL, FL_DIR_EGRESS);
}

SEC("uretprobe")
int BPF_KRETPROBE(fl_ssl_write_ret, int ret)
{
	return ssl_exit(ret);
}

SEC("uprobe")
int BPF_KPROBE(fl_ssl_read, void *ssl, void *buf, int num)
{
	return ssl_enter(ssl, buf, NULL, FL_DIR_INGRESS);
}

SEC("uretprobe")
int BPF_KRETPROBE(fl_ssl_read_ret, int ret)
{
	return ssl_exit(ret);
}

SEC("uprobe")
int BPF_KPROBE(fl_ssl_write_ex, void *ssl, const void *buf, __u64 num, __u64 *written)
{
	return ssl_enter(ssl, buf, written, FL_DIR_EGRESS);
}

SEC("uprobe")
int BPF_KPROBE(fl_ssl_read_ex, void *ssl, void *buf, __u64 num, __u64 *readbytes)
{
	return ssl_enter(ssl, buf, readbytes, FL_DIR_INGRESS);
}

/* ---- Go crypto/tls (Go 1.17+, amd64 register ABI) ----
 * No uretprobes on Go code (the runtime moves goroutine stacks): Write's plaintext is complete at
 * entry; Read's is read by uprobes on each RET instruction (offsets from cmd/flowlens-goprobe).
 * Arguments: RAX = *tls.Conn, RBX/RCX = the byte slice's pointer and length; at a RET, RAX = n.
 * R14 holds the current goroutine (g), which keys a Read across the threads it may move between. */

struct go_read_key {
	__u64 tgid; /* 64-bit: no padding bytes, which would make stack keys differ */
	__u64 g;
};

struct go_read {
	const void *buf;
	__u64 conn;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct go_read_key);
	__type(value, struct go_read);
} go_tls_reads SEC(".maps");

/* tls.Conn.conn (a net.Conn: itab, data) -> *net.TCPConn -> its *netFD -> pfd.Sysfd. These
 * offsets have held since Go 1.12 (poll.FD starts with a 16-byte fdMutex). */
static __always_inline int go_conn_fd(__u64 conn)
{
	__u64 tcp_conn = 0, netfd = 0;
	__s64 fd = -1;
	if (bpf_probe_read_user(&tcp_conn, sizeof(tcp_conn), (void *)(conn + 8)) || !tcp_conn)
		return -1;
	if (bpf_probe_read_user(&netfd, sizeof(netfd), (void *)tcp_conn) || !netfd)
		return -1;
	if (bpf_probe_read_user(&fd, sizeof(fd), (void *)(netfd + 16)))
		return -1;
	return (int)fd;
}

static __always_inline int go_tls_emit(__u64 conn, const void *buf, long n, __u8 direction)
{
	if (n <= 0)
		return 0;
	struct data_args a = {};
	a.fd = go_conn_fd(conn);
	a.sk = fd_to_sock(bpf_get_current_task_btf(), a.fd);
	if (!a.sk)
		return 0;
	a.buf = buf;
	a.len = (__u32)n;
	a.ret = (__u32)n;
	a.direction = direction;
	a.syscall = direction == FL_DIR_EGRESS ? FL_SYS_SSL_WRITE : FL_SYS_SSL_READ;
	return emit_chunk(&a);
}

SEC("uprobe")
int fl_go_tls_write(struct pt_regs *ctx)
{
	if ((bpf_get_current_pid_tgid() >> 32) == self_tgid)
		return 0;
	return go_tls_emit(ctx->ax, (const void *)ctx->bx, (long)ctx->cx, FL_DIR_EGRESS);
}

SEC("uprobe")
int fl_go_tls_read(struct pt_regs *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	if (tgid == self_tgid)
		return 0;
	struct go_read_key k = {.tgid = tgid, .g = ctx->r14};
	struct go_read v = {.buf = (const void *)ctx->bx, .conn = ctx->ax};
	bpf_map_update_elem(&go_tls_reads, &k, &v, BPF_ANY);
	return 0;
}

SEC("uprobe")
int fl_go_tls_read_ret(struct pt_regs *ctx)
{
	struct go_read_key k = {.tgid = bpf_get_current_pid_tgid() >> 32, .g = ctx->r14};
	struct go_read *v = bpf_map_lookup_elem(&go_tls_reads, &k);
	if (!v)
		return 0;
	__u64 conn = v->conn;
	const void *buf = v->buf;
	bpf_map_delete_elem(&go_tls_reads, &k);
	return go_tls_emit(conn, buf, (long)ctx->ax, FL_DIR_INGRESS);
}
