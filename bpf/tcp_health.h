/* SPDX-License-Identifier: Apache-2.0 */
/* Per-connection TCP health kept in the kernel by tcp_health.bpf.c and read (not streamed) by the
 * agent every interval: no per-packet event crosses to user space. A flow's final report (at
 * TCP_CLOSE) moves to a ring buffer and leaves the table. The TypeScript reader
 * (src/agent/network/tcpFlowReader.ts) checks these offsets against the addon's `tcpFlowLayout`. */
#ifndef FLOWLENS_TCP_HEALTH_H
#define FLOWLENS_TCP_HEALTH_H

#define FL_MAX_TCP_FLOWS 65536

enum fl_flow_role {
	FL_ROLE_UNKNOWN = 0,
	FL_ROLE_CLIENT = 1, /* this socket connect()ed */
	FL_ROLE_SERVER = 2, /* this socket was accepted from a listener */
};

/* Bits of fl_tcp_flow.flags */
enum fl_flow_flags {
	FL_FLOW_ESTABLISHED = 1 << 0, /* reached ESTABLISHED at least once */
	FL_FLOW_CLOSED = 1 << 1,      /* reached TCP_CLOSE: the last report of this flow */
	FL_FLOW_RST_RECEIVED = 1 << 2,
	FL_FLOW_RST_SENT = 1 << 3,
	FL_FLOW_FIN = 1 << 4,          /* went through FIN_WAIT/CLOSE_WAIT/LAST_ACK: an orderly close */
	FL_FLOW_ZERO_WINDOW = 1 << 5,  /* the peer's window was zero at the last snapshot (counts episodes) */
	FL_FLOW_PREEXISTING = 1 << 6,  /* first seen established: opened before the agent started */
};

struct fl_tcp_flow {
	__u64 sock_id;        /* kernel socket address, as in struct fl_event */
	__u64 start_ns;       /* SYN sent (client) or the child socket created (server) */
	__u64 established_ns; /* 0 until established */
	__u64 closed_ns;      /* 0 until closed */
	__u64 bytes_acked;    /* bytes we sent that the peer acknowledged (tcp_sock.bytes_acked) */
	__u64 bytes_received; /* bytes we received (tcp_sock.bytes_received) */
	__u32 segs_out;
	__u32 segs_in;
	__u32 srtt_us;        /* smoothed RTT at the last update */
	__u32 syn_latency_us; /* client: SYN sent → established; server: the SYN-ACK's RTT sample */
	__u32 retrans;        /* tcp_retransmit_skb calls */
	__u32 zero_window;    /* times the peer's receive window went to zero */
	__u32 rst_received;
	__u32 rst_sent;
	__u32 tgid;           /* the process that connect()ed (0 for accepted sockets: softirq context) */
	__u32 netns;          /* network namespace inode */
	__u32 sk_err;         /* sk_err at close (ETIMEDOUT, ECONNREFUSED, ECONNRESET, ...) */
	__u32 flags;          /* enum fl_flow_flags */
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport;
	__u16 dport;
	__u16 family;
	__u8 role; /* enum fl_flow_role */
	__u8 state; /* the TCP state at the last update */
};

enum fl_flow_stat {
	FL_FLOW_STAT_TABLE_FULL = 0,   /* flows not tracked because the table was full */
	FL_FLOW_STAT_CLOSED_DROPS = 1, /* final reports of closed flows lost: the closed ring was full */
	FL_FLOW_STAT_MAX = 2,
};

#endif
