// SPDX-License-Identifier: Apache-2.0
/* Packet capture on network interfaces: one AF_PACKET socket per interface (SOCK_DGRAM, so the
 * data starts at the IP header whatever the link type), a TPACKET_V3 mmap ring of bounded size,
 * and a classic BPF filter that keeps only IPv4/IPv6 TCP and UDP and cuts each packet after its
 * headers plus the first `payloadBytes` of payload. Works on any kernel with AF_PACKET (no eBPF).
 * An interface in another network namespace is opened from inside it: the calling thread enters
 * the namespace with setns(2), creates and binds the socket there, and returns at once (a socket
 * stays in the namespace it was created in).
 *
 * JS API (added to the addon's exports):
 *   pcapInterfaces(netns) -> [{name, ifindex, loopback, up, addrs: [ip]}]   netns: '' = ours,
 *                            a name under /var/run/netns, or a path such as /proc/<pid>/ns/net
 *   pcapOpen(netns, ifname, {payloadBytes, blockBytes, blocks, retireMs}) -> id | throws
 *   pcapDrain(maxBytes) -> Buffer | null   records (struct fl_pkt_rec + data), every socket in turn
 *   pcapStats() -> [{id, packets, kernelDrops, freezeCount, userDrops, records}]   since open
 *   pcapClose(id), pcapCloseAll()
 *   pcapLayout() -> {size, ...offsets}   checked by the TypeScript decoder
 * Everything runs on the JS thread: draining is a bounded walk of the mmap'ed blocks, and a full
 * batch stops the walk (the rest stays in the ring, whose overflow the kernel counts as drops). */
#define NAPI_VERSION 8
#define _GNU_SOURCE
#include <node_api.h>
#include "napi_util.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include "packet_capture.h"

#define MAX_CAPS 256
#define MAX_PAYLOAD 4096
#define REC_HDR sizeof(struct fl_pkt_rec)

struct capture {
	int fd;
	uint32_t id;
	uint8_t *ring;
	size_t ring_len;
	uint32_t block_size, block_nr;
	uint32_t cur_block;    /* next block to read */
	uint32_t pkt_left;     /* packets left in the current block when a batch filled mid-block */
	uint32_t pkt_off;      /* offset of the next packet in the current block */
	uint64_t packets, kernel_drops, freeze_count, user_drops, records;
};

static struct capture *caps[MAX_CAPS];
static uint32_t next_id = 1;
static uint32_t drain_rr; /* first socket of the next drain, so one busy interface cannot starve others */
static uint8_t *batch;
static size_t batch_cap;

#define NAPI_CALL(env, call)                                                                     \
	do {                                                                                     \
		if ((call) != napi_ok) {                                                         \
			napi_throw_error((env), NULL, "flowlens_native: N-API call failed: " #call); \
			return NULL;                                                             \
		}                                                                                \
	} while (0)

static napi_value throw_msg(napi_env env, const char *code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static napi_value throw_msg(napi_env env, const char *code, const char *fmt, ...)
{
	char msg[1400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	napi_throw_error(env, code, msg);
	return NULL;
}

/* ---- namespaces -------------------------------------------------------------------------- */

/* Resolves a namespace argument to a path; returns 0 for "this namespace". */
static int netns_path(const char *netns, char *out, size_t outlen)
{
	if (!netns[0])
		return 0;
	if (netns[0] == '/')
		snprintf(out, outlen, "%s", netns);
	else
		snprintf(out, outlen, "/var/run/netns/%s", netns);
	return 1;
}

/* Enters `netns` on this thread; *saved gets a handle to go back with leave_netns. */
static int enter_netns(const char *netns, int *saved, char *err, size_t errlen)
{
	char path[288];
	*saved = -1;
	if (!netns_path(netns, path, sizeof(path)))
		return 0;
	if (strstr(netns, "..") || (netns[0] != '/' && strchr(netns, '/'))) {
		snprintf(err, errlen, "invalid network namespace name \"%s\"", netns);
		return -1;
	}
	int target = open(path, O_RDONLY | O_CLOEXEC);
	if (target < 0) {
		snprintf(err, errlen, "cannot open network namespace %s: %s", path, strerror(errno));
		return -1;
	}
	*saved = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (*saved < 0) {
		snprintf(err, errlen, "cannot open /proc/thread-self/ns/net: %s", strerror(errno));
		close(target);
		return -1;
	}
	if (setns(target, CLONE_NEWNET) != 0) {
		int e = errno;
		snprintf(err, errlen, "cannot enter network namespace %s: %s%s", path, strerror(e), e == EPERM ? " (needs CAP_SYS_ADMIN)" : "");
		close(target);
		close(*saved);
		*saved = -1;
		return -1;
	}
	close(target);
	return 0;
}

static void leave_netns(int saved)
{
	if (saved < 0)
		return;
	if (setns(saved, CLONE_NEWNET) != 0) {
		/* the JS thread would go on in the wrong namespace: nothing safe is left to do */
		fprintf(stderr, "flowlens_native: cannot return to the agent's network namespace: %s\n", strerror(errno));
		abort();
	}
	close(saved);
}

/* ---- the classic BPF filter ------------------------------------------------------------- */

/* Offsets are from the IP header (SOCK_DGRAM). The return value is the snap length: IP header +
 * TCP/UDP header + `payload` bytes. Non-first fragments and other protocols return 0 (dropped
 * in the kernel). IPv6 extension headers are not followed (such packets are not captured). */
static int build_filter(uint32_t payload, struct sock_filter *f, size_t max)
{
	const struct sock_filter prog[] = {
		/* 0 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 0),
		/* 1 */ BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0xf0), /* IP version << 4 */
		/* 2 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x40, 0, 15), /* else -> 18 */
		/* IPv4 */
		/* 3 */ BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 6),
		/* 4 */ BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x1fff, 23, 0), /* not a first fragment -> 28 */
		/* 5 */ BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 0), /* X = IP header length */
		/* 6 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 9),
		/* 7 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 6, 0, 6), /* TCP, else -> 14 */
		/* 8 */ BPF_STMT(BPF_LD | BPF_B | BPF_IND, 12), /* TCP data offset byte */
		/* 9 */ BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0xf0),
		/* 10 */ BPF_STMT(BPF_ALU | BPF_RSH | BPF_K, 2), /* TCP header length */
		/* 11 */ BPF_STMT(BPF_ALU | BPF_ADD | BPF_X, 0),
		/* 12 */ BPF_STMT(BPF_ALU | BPF_ADD | BPF_K, payload),
		/* 13 */ BPF_STMT(BPF_RET | BPF_A, 0),
		/* 14 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 17, 0, 13), /* UDP, else -> 28 */
		/* 15 */ BPF_STMT(BPF_MISC | BPF_TXA, 0),
		/* 16 */ BPF_STMT(BPF_ALU | BPF_ADD | BPF_K, 8 + payload),
		/* 17 */ BPF_STMT(BPF_RET | BPF_A, 0),
		/* IPv6 (A = version << 4) */
		/* 18 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x60, 0, 9), /* else -> 28 */
		/* 19 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 6), /* next header */
		/* 20 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 6, 0, 5), /* TCP, else -> 26 */
		/* 21 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 40 + 12),
		/* 22 */ BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0xf0),
		/* 23 */ BPF_STMT(BPF_ALU | BPF_RSH | BPF_K, 2),
		/* 24 */ BPF_STMT(BPF_ALU | BPF_ADD | BPF_K, 40 + payload),
		/* 25 */ BPF_STMT(BPF_RET | BPF_A, 0),
		/* 26 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 17, 0, 1), /* UDP, else -> 28 */
		/* 27 */ BPF_STMT(BPF_RET | BPF_K, 40 + 8 + payload),
		/* 28 */ BPF_STMT(BPF_RET | BPF_K, 0),
	};
	size_t n = sizeof(prog) / sizeof(prog[0]);
	if (n > max)
		return -1;
	memcpy(f, prog, sizeof(prog));
	return (int)n;
}

/* ---- sockets ----------------------------------------------------------------------------- */

static void free_capture(struct capture *c)
{
	if (!c)
		return;
	if (c->ring && c->ring != MAP_FAILED)
		munmap(c->ring, c->ring_len);
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

static void read_kernel_stats(struct capture *c)
{
	struct tpacket_stats_v3 st;
	socklen_t len = sizeof(st);
	memset(&st, 0, sizeof(st));
	/* reading resets the kernel's counters: accumulate */
	if (getsockopt(c->fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0) {
		c->packets += st.tp_packets;
		c->kernel_drops += st.tp_drops;
		c->freeze_count += st.tp_freeze_q_cnt;
	}
}

/* Opens, filters, rings and binds one socket inside the current namespace. */
static struct capture *open_capture(const char *ifname, uint32_t payload, uint32_t block_size, uint32_t block_nr, uint32_t retire_ms,
				    char *err, size_t errlen)
{
	struct capture *c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->fd = -1;
	unsigned ifindex = if_nametoindex(ifname);
	if (!ifindex) {
		snprintf(err, errlen, "no interface %s: %s", ifname, strerror(errno));
		goto fail;
	}
	/* protocol 0: no packet is queued before the filter and the ring are in place (bind sets it) */
	c->fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->fd < 0) {
		snprintf(err, errlen, "socket(AF_PACKET): %s%s", strerror(errno), errno == EPERM ? " (needs CAP_NET_RAW)" : "");
		goto fail;
	}
	struct sock_filter insns[40];
	int n = build_filter(payload, insns, 40);
	struct sock_fprog prog = {.len = (unsigned short)n, .filter = insns};
	if (n < 0 || setsockopt(c->fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) != 0) {
		snprintf(err, errlen, "SO_ATTACH_FILTER: %s", strerror(errno));
		goto fail;
	}
	int v = TPACKET_V3;
	if (setsockopt(c->fd, SOL_PACKET, PACKET_VERSION, &v, sizeof(v)) != 0) {
		snprintf(err, errlen, "PACKET_VERSION TPACKET_V3: %s", strerror(errno));
		goto fail;
	}
	struct tpacket_req3 req;
	memset(&req, 0, sizeof(req));
	req.tp_block_size = block_size;
	req.tp_block_nr = block_nr;
	req.tp_frame_size = 2048;
	req.tp_frame_nr = (block_size / 2048) * block_nr;
	req.tp_retire_blk_tov = retire_ms;
	if (setsockopt(c->fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)) != 0) {
		snprintf(err, errlen, "PACKET_RX_RING (%u blocks of %u bytes): %s", block_nr, block_size, strerror(errno));
		goto fail;
	}
	c->block_size = block_size;
	c->block_nr = block_nr;
	c->ring_len = (size_t)block_size * block_nr;
	c->ring = mmap(NULL, c->ring_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_LOCKED, c->fd, 0);
	if (c->ring == MAP_FAILED) /* MAP_LOCKED may exceed RLIMIT_MEMLOCK: the ring is pinned anyway */
		c->ring = mmap(NULL, c->ring_len, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd, 0);
	if (c->ring == MAP_FAILED) {
		snprintf(err, errlen, "mmap of the packet ring: %s", strerror(errno));
		goto fail;
	}
	struct sockaddr_ll sll;
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = (int)ifindex;
	if (bind(c->fd, (struct sockaddr *)&sll, sizeof(sll)) != 0) {
		snprintf(err, errlen, "bind to %s: %s", ifname, strerror(errno));
		goto fail;
	}
	return c;
fail:
	free_capture(c);
	return NULL;
}

static int get_string(napi_env env, napi_value v, char *buf, size_t len)
{
	size_t got = 0;
	if (napi_get_value_string_utf8(env, v, buf, len, &got) != napi_ok)
		return -1;
	return got + 1 >= len ? -1 : 0;
}

static int opt_u32(napi_env env, napi_value obj, const char *name, uint32_t *out)
{
	bool has = false;
	napi_value v;
	napi_valuetype t;
	if (napi_has_named_property(env, obj, name, &has) != napi_ok || !has)
		return 0;
	if (napi_get_named_property(env, obj, name, &v) != napi_ok || napi_typeof(env, v, &t) != napi_ok)
		return -1;
	if (t == napi_undefined)
		return 0;
	return napi_get_value_uint32(env, v, out) == napi_ok ? 0 : -1;
}

static napi_value js_open(napi_env env, napi_callback_info info)
{
	size_t argc = 3;
	napi_value argv[3], result;
	NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	char netns[256], ifname[IF_NAMESIZE + 1], err[1024];
	if (argc < 2 || get_string(env, argv[0], netns, sizeof(netns)) || get_string(env, argv[1], ifname, sizeof(ifname)) || !ifname[0])
		return throw_msg(env, "EINVAL", "pcapOpen(netns, ifname, options): netns and ifname must be strings (ifname 1-%d chars)", IF_NAMESIZE - 1);
	uint32_t payload = 256, block = 1u << 18, blocks = 8, retire = 20;
	if (argc >= 3 && (opt_u32(env, argv[2], "payloadBytes", &payload) || opt_u32(env, argv[2], "blockBytes", &block) ||
			  opt_u32(env, argv[2], "blocks", &blocks) || opt_u32(env, argv[2], "retireMs", &retire)))
		return throw_msg(env, "EINVAL", "pcapOpen: options must be unsigned integers");
	if (payload > MAX_PAYLOAD || block < 65536 || block > (16u << 20) || (block & (block - 1)) || blocks < 2 || blocks > 1024 || retire < 1 || retire > 1000)
		return throw_msg(env, "EINVAL",
				 "pcapOpen: payloadBytes 0-%d, blockBytes a power of two from 64 KiB to 16 MiB, blocks 2-1024, retireMs 1-1000", MAX_PAYLOAD);
	uint32_t slot = MAX_CAPS;
	for (uint32_t i = 0; i < MAX_CAPS; i++)
		if (!caps[i]) {
			slot = i;
			break;
		}
	if (slot == MAX_CAPS)
		return throw_msg(env, "EMFILE", "pcapOpen: at most %d capture sockets", MAX_CAPS);
	int saved;
	if (enter_netns(netns, &saved, err, sizeof(err)) != 0)
		return throw_msg(env, "ENETNS", "pcapOpen %s/%s: %s", netns[0] ? netns : "(own)", ifname, err);
	struct capture *c = open_capture(ifname, payload, block, blocks, retire, err, sizeof(err));
	leave_netns(saved);
	if (!c)
		return throw_msg(env, "EPCAP", "pcapOpen %s/%s: %s", netns[0] ? netns : "(own)", ifname, err);
	c->id = next_id++;
	caps[slot] = c;
	NAPI_CALL(env, napi_create_uint32(env, c->id, &result));
	return result;
}

static void set_str(napi_env env, napi_value obj, const char *name, const char *value)
{
	napi_value v;
	napi_create_string_utf8(env, value, NAPI_AUTO_LENGTH, &v);
	napi_set_named_property(env, obj, name, v);
}

static void set_bool(napi_env env, napi_value obj, const char *name, bool value)
{
	napi_value v;
	napi_get_boolean(env, value, &v);
	napi_set_named_property(env, obj, name, v);
}

/* pcapInterfaces(netns): the interfaces of a namespace with their flags and addresses */
static napi_value js_interfaces(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1], arr;
	NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	char netns[256] = "", err[1024];
	if (argc >= 1 && get_string(env, argv[0], netns, sizeof(netns)))
		return throw_msg(env, "EINVAL", "pcapInterfaces(netns): netns must be a string");
	int saved;
	if (enter_netns(netns, &saved, err, sizeof(err)) != 0)
		return throw_msg(env, "ENETNS", "pcapInterfaces %s: %s", netns, err);
	struct ifaddrs *ifa = NULL;
	int rc = getifaddrs(&ifa);
	int e = errno;
	/* if_nametoindex needs the namespace too: resolve every name before leaving */
	struct {
		char name[IF_NAMESIZE];
		unsigned index;
		unsigned flags;
	} seen[256];
	size_t nseen = 0;
	for (struct ifaddrs *p = rc == 0 ? ifa : NULL; p; p = p->ifa_next) {
		size_t k;
		for (k = 0; k < nseen; k++)
			if (!strcmp(seen[k].name, p->ifa_name))
				break;
		if (k == nseen && nseen < 256) {
			snprintf(seen[nseen].name, IF_NAMESIZE, "%s", p->ifa_name);
			seen[nseen].index = if_nametoindex(p->ifa_name);
			seen[nseen].flags = p->ifa_flags;
			nseen++;
		}
	}
	leave_netns(saved);
	if (rc != 0)
		return throw_msg(env, "EIFADDRS", "pcapInterfaces %s: getifaddrs: %s", netns, strerror(e));
	NAPI_CALL(env, napi_create_array(env, &arr));
	for (size_t k = 0; k < nseen; k++) {
		napi_value o, addrs;
		napi_create_object(env, &o);
		napi_create_array(env, &addrs);
		set_str(env, o, "name", seen[k].name);
		set_num(env, o, "ifindex", seen[k].index);
		set_bool(env, o, "loopback", (seen[k].flags & IFF_LOOPBACK) != 0);
		set_bool(env, o, "up", (seen[k].flags & IFF_UP) != 0);
		uint32_t na = 0;
		for (struct ifaddrs *p = ifa; p; p = p->ifa_next) {
			if (strcmp(p->ifa_name, seen[k].name) || !p->ifa_addr)
				continue;
			char txt[INET6_ADDRSTRLEN] = "";
			if (p->ifa_addr->sa_family == AF_INET)
				inet_ntop(AF_INET, &((struct sockaddr_in *)p->ifa_addr)->sin_addr, txt, sizeof(txt));
			else if (p->ifa_addr->sa_family == AF_INET6)
				inet_ntop(AF_INET6, &((struct sockaddr_in6 *)p->ifa_addr)->sin6_addr, txt, sizeof(txt));
			else
				continue;
			napi_value s;
			napi_create_string_utf8(env, txt, NAPI_AUTO_LENGTH, &s);
			napi_set_element(env, addrs, na++, s);
		}
		napi_set_named_property(env, o, "addrs", addrs);
		napi_set_element(env, arr, (uint32_t)k, o);
	}
	freeifaddrs(ifa);
	return arr;
}

/* Copies packets of one socket into the batch until the batch is full; returns 1 when full. */
static int drain_one(struct capture *c, size_t limit, size_t *used)
{
	for (uint32_t walked = 0; walked < c->block_nr; walked++) {
		struct tpacket_block_desc *bd = (struct tpacket_block_desc *)(c->ring + (size_t)c->cur_block * c->block_size);
		if (!(__atomic_load_n(&bd->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER))
			return 0;
		if (c->pkt_left == 0 && c->pkt_off == 0) { /* a block not started yet */
			c->pkt_left = bd->hdr.bh1.num_pkts;
			c->pkt_off = bd->hdr.bh1.offset_to_first_pkt;
		}
		while (c->pkt_left > 0) {
			if (c->pkt_off < sizeof(struct tpacket_block_desc) || c->pkt_off + sizeof(struct tpacket3_hdr) > c->block_size) {
				c->user_drops += c->pkt_left; /* a block we cannot walk: count what it held */
				c->pkt_left = 0;
				break;
			}
			struct tpacket3_hdr *h = (struct tpacket3_hdr *)((uint8_t *)bd + c->pkt_off);
			uint32_t snap = h->tp_snaplen;
			if (h->tp_net + (size_t)snap > c->block_size - c->pkt_off || snap > 65535) {
				c->user_drops += c->pkt_left;
				c->pkt_left = 0;
				break;
			}
			size_t need = (REC_HDR + snap + 7) & ~(size_t)7;
			if (*used + need > limit)
				return 1; /* resume here next time */
			const struct sockaddr_ll *sll = (const struct sockaddr_ll *)((uint8_t *)h + TPACKET_ALIGN(sizeof(struct tpacket3_hdr)));
			struct fl_pkt_rec r = {
				.len = (uint32_t)need,
				.sock_id = c->id,
				.ts_sec = h->tp_sec,
				.ts_nsec = h->tp_nsec,
				.orig_len = h->tp_len,
				.cap_len = (uint16_t)snap,
				.pkttype = sll->sll_pkttype,
			};
			memcpy(batch + *used, &r, REC_HDR);
			memcpy(batch + *used + REC_HDR, (uint8_t *)h + h->tp_net, snap);
			memset(batch + *used + REC_HDR + snap, 0, need - REC_HDR - snap);
			*used += need;
			c->records++;
			c->pkt_left--;
			if (c->pkt_left > 0) {
				if (!h->tp_next_offset) {
					c->user_drops += c->pkt_left;
					c->pkt_left = 0;
					break;
				}
				c->pkt_off += h->tp_next_offset;
			}
		}
		/* block done: hand it back to the kernel */
		c->pkt_left = 0;
		c->pkt_off = 0;
		__atomic_store_n(&bd->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
		c->cur_block = (c->cur_block + 1) % c->block_nr;
	}
	return 0;
}

static napi_value js_drain(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1], result;
	NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	uint32_t limit = 4u << 20;
	if (argc >= 1)
		napi_get_value_uint32(env, argv[0], &limit);
	if (limit < 131072)
		limit = 131072; /* at least one full record of any size */
	if (batch_cap < limit) {
		uint8_t *nb = realloc(batch, limit);
		if (!nb)
			return throw_msg(env, "ENOMEM", "pcapDrain: out of memory");
		batch = nb;
		batch_cap = limit;
	}
	size_t used = 0;
	for (uint32_t k = 0; k < MAX_CAPS; k++) {
		struct capture *c = caps[(drain_rr + k) % MAX_CAPS];
		if (c && drain_one(c, limit, &used)) {
			drain_rr = (drain_rr + k) % MAX_CAPS; /* start with the socket that filled the batch next time */
			break;
		}
	}
	if (used == 0) {
		NAPI_CALL(env, napi_get_null(env, &result));
		return result;
	}
	void *copy;
	NAPI_CALL(env, napi_create_buffer_copy(env, used, batch, &copy, &result));
	return result;
}

static napi_value js_stats(napi_env env, napi_callback_info info)
{
	(void)info;
	napi_value arr;
	NAPI_CALL(env, napi_create_array(env, &arr));
	uint32_t n = 0;
	for (uint32_t i = 0; i < MAX_CAPS; i++) {
		struct capture *c = caps[i];
		if (!c)
			continue;
		read_kernel_stats(c);
		napi_value o;
		napi_create_object(env, &o);
		set_num(env, o, "id", c->id);
		set_num(env, o, "packets", (double)c->packets);
		set_num(env, o, "kernelDrops", (double)c->kernel_drops);
		set_num(env, o, "freezeCount", (double)c->freeze_count);
		set_num(env, o, "userDrops", (double)c->user_drops);
		set_num(env, o, "records", (double)c->records);
		napi_set_element(env, arr, n++, o);
	}
	return arr;
}

static napi_value js_close(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1];
	NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	uint32_t id = 0;
	if (argc < 1 || napi_get_value_uint32(env, argv[0], &id) != napi_ok)
		return throw_msg(env, "EINVAL", "pcapClose(id): id must be a number");
	for (uint32_t i = 0; i < MAX_CAPS; i++)
		if (caps[i] && caps[i]->id == id) {
			free_capture(caps[i]);
			caps[i] = NULL;
		}
	return NULL;
}

static napi_value js_close_all(napi_env env, napi_callback_info info)
{
	(void)env;
	(void)info;
	for (uint32_t i = 0; i < MAX_CAPS; i++) {
		free_capture(caps[i]);
		caps[i] = NULL;
	}
	free(batch);
	batch = NULL;
	batch_cap = 0;
	return NULL;
}

static napi_value js_layout(napi_env env, napi_callback_info info)
{
	(void)info;
	napi_value obj;
	NAPI_CALL(env, napi_create_object(env, &obj));
#define OFF(f) set_num(env, obj, #f, offsetof(struct fl_pkt_rec, f))
	set_num(env, obj, "size", sizeof(struct fl_pkt_rec));
	OFF(len);
	OFF(sock_id);
	OFF(ts_sec);
	OFF(ts_nsec);
	OFF(orig_len);
	OFF(cap_len);
	OFF(pkttype);
#undef OFF
	set_num(env, obj, "maxPayload", MAX_PAYLOAD);
	return obj;
}

int fl_packet_capture_register(napi_env env, napi_value exports)
{
	napi_property_descriptor desc[] = {
		{"pcapInterfaces", NULL, js_interfaces, NULL, NULL, NULL, napi_default, NULL},
		{"pcapOpen", NULL, js_open, NULL, NULL, NULL, napi_default, NULL},
		{"pcapDrain", NULL, js_drain, NULL, NULL, NULL, napi_default, NULL},
		{"pcapStats", NULL, js_stats, NULL, NULL, NULL, napi_default, NULL},
		{"pcapClose", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
		{"pcapCloseAll", NULL, js_close_all, NULL, NULL, NULL, napi_default, NULL},
		{"pcapLayout", NULL, js_layout, NULL, NULL, NULL, napi_default, NULL},
	};
	return napi_define_properties(env, exports, sizeof(desc) / sizeof(desc[0]), desc) == napi_ok ? 0 : -1;
}
