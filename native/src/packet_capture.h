// SPDX-License-Identifier: Apache-2.0
/* Packet capture on interfaces (AF_PACKET, TPACKET_V3 ring, classic BPF filter): see packet_capture.c. */
#ifndef FLOWLENS_PACKET_CAPTURE_H
#define FLOWLENS_PACKET_CAPTURE_H
#include <node_api.h>
#include <stdint.h>

/* One captured packet in a drained batch: this header, then cap_len bytes starting at the IP
 * header, padded to 8 bytes. `len` is the whole record (header + data + padding). */
struct fl_pkt_rec {
	uint32_t len;
	uint32_t sock_id;  /* capture socket (pcapOpen's id): names the namespace and interface */
	uint32_t ts_sec;   /* kernel receive/transmit timestamp, CLOCK_REALTIME */
	uint32_t ts_nsec;
	uint32_t orig_len; /* packet length from the IP header on */
	uint16_t cap_len;  /* bytes that follow */
	uint8_t pkttype;   /* PACKET_HOST (0), ..., PACKET_OUTGOING (4) */
	uint8_t reserved;
};

/* Adds pcapInterfaces, pcapOpen, pcapDrain, pcapStats, pcapClose, pcapLayout to `exports`. */
int fl_packet_capture_register(napi_env env, napi_value exports);

#endif
