/* SPDX-License-Identifier: Apache-2.0 */
/* Events shared by socket_trace.bpf.c (producer) and native/ (consumer). The TypeScript decoder
 * (src/agent/capture/eventDecoder.ts) checks these offsets at start against the addon's
 * `layout` export, so a change here that is not mirrored there fails loudly. */
#ifndef FLOWLENS_SOCKET_TRACE_H
#define FLOWLENS_SOCKET_TRACE_H

#define FL_MAX_CAPTURE 4096 /* hard upper bound of captured payload bytes per syscall */
#define FL_SMALL_CAPTURE 256 /* records up to this payload take the small ring slot */
#define FL_MAX_IGNORED_PORTS 4

enum fl_event_kind {
	FL_EV_DATA = 1,    /* payload of a read/write-family syscall on an inet socket */
	FL_EV_CONNECT = 2, /* connect() returned 0 or EINPROGRESS */
	FL_EV_ACCEPT = 3,  /* accept()/accept4() returned a new socket */
	FL_EV_CLOSE = 4,   /* TCP socket moved to TCP_CLOSE */
	FL_EV_EXEC = 5,    /* a process exec'd (pid + comm) */
	FL_EV_EXIT = 6,    /* a process exited */
	FL_EV_FORK = 7,    /* a process forked a child (pid + inherited comm) */
};

enum fl_direction {
	FL_DIR_EGRESS = 0,  /* the process sent these bytes */
	FL_DIR_INGRESS = 1, /* the process received these bytes */
};

enum fl_syscall {
	FL_SYS_READ = 1,
	FL_SYS_WRITE,
	FL_SYS_READV,
	FL_SYS_WRITEV,
	FL_SYS_SENDTO,
	FL_SYS_RECVFROM,
	FL_SYS_SENDMSG,
	FL_SYS_RECVMSG,
	FL_SYS_CONNECT,
	FL_SYS_ACCEPT,
	FL_SYS_CLOSE,
	FL_SYS_SENDMMSG,
	FL_SYS_RECVMMSG,
	FL_SYS_SSL_WRITE, /* plaintext from an OpenSSL uprobe, on the socket of the nested syscall */
	FL_SYS_SSL_READ,
};

/* One fixed-size header per event, followed by cap_len payload bytes for FL_EV_DATA.
 * Addresses are in network byte order as the kernel keeps them; IPv4 uses the first 4 bytes. */
struct fl_event {
	__u64 ts_ns;   /* CLOCK_MONOTONIC (bpf_ktime_get_ns) at the event */
	__u64 sock_id; /* kernel socket address: stable for the socket's life, keys connections */
	__u32 tgid;
	__u32 tid;
	__s32 fd;
	__u16 kind;     /* enum fl_event_kind */
	__u8 direction; /* enum fl_direction */
	__u8 syscall;   /* enum fl_syscall */
	__u32 ret_len;  /* bytes the syscall moved (data) */
	__u32 cap_len;  /* payload bytes that follow this header */
	__u8 saddr[16]; /* local address */
	__u8 daddr[16]; /* peer address */
	__u16 sport;    /* local port, host order */
	__u16 dport;    /* peer port, host order */
	__u16 family;   /* AF_INET / AF_INET6 */
	__u8 l4_proto;  /* IPPROTO_TCP / IPPROTO_UDP */
	__u8 tcp_state; /* for FL_EV_CLOSE: the old state */
	__u32 tcp_seq;  /* TCP sequence number of the first payload byte (0 for UDP) */
	__u32 pad;
	char comm[16]; /* FL_EV_EXEC only; zero otherwise */
	__u64 syscall_trace_id; /* FL_EV_DATA: the thread's trace id at this syscall (see thread_trace_id) */
};

/* Counters in the `stats` per-CPU array, by index. */
enum fl_stat {
	FL_STAT_EVENTS = 0,       /* records written to the ring */
	FL_STAT_RING_DROPS = 1,   /* records lost because the ring was full */
	FL_STAT_TRUNCATED = 2,    /* payloads cut to the capture size */
	FL_STAT_READ_ERRORS = 3,  /* payload bytes the kernel could not read */
	FL_STAT_MAX = 4,
};

#endif
