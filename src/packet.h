/* packet.h - the packet view: IPv4/IPv6, TCP/UDP headers parsed in place.
 *
 * The view points into the caller's buffer; nothing is copied. Every
 * field is bounds-checked against the captured length. */
#ifndef BTBLOCKD_PACKET_H
#define BTBLOCKD_PACKET_H

#include <stdint.h>
#include <stddef.h>

enum pkt_status {
	PKT_OK = 0,		/* TCP or UDP, headers complete */
	PKT_OTHER_L4,		/* valid IP, transport is neither TCP nor UDP */
	PKT_FRAGMENT,		/* non-first IP fragment: no L4 header */
	PKT_MALFORMED,		/* truncated or inconsistent headers */
};

#define PKT_F_FIRST_FRAGMENT	0x01	/* first fragment of a fragmented datagram */
#define PKT_F_PAYLOAD_CUT	0x02	/* capture shorter than the IP total length */
/* Set by the caller, never by pkt_parse: the packet came in on (leaves
 * through) an interface of the protected side. */
#define PKT_F_IN_PROTECTED	0x04
#define PKT_F_OUT_PROTECTED	0x08

struct pkt_view {
	uint8_t family;		/* 4 or 6 */
	uint8_t l4proto;	/* IPPROTO_TCP, IPPROTO_UDP or other */
	uint8_t flags;		/* PKT_F_* */
	uint8_t tcp_flags;	/* TCP only: FIN 0x01 SYN 0x02 RST 0x04 PSH 0x08 ACK 0x10 */
	uint8_t saddr[16];	/* IPv4 in the first 4 bytes, rest zero */
	uint8_t daddr[16];
	uint16_t sport;		/* host byte order; 0 when not TCP/UDP */
	uint16_t dport;
	uint32_t tcp_seq;	/* host byte order */
	uint32_t tcp_ack;
	const uint8_t *payload;	/* L4 payload inside the captured bytes */
	uint32_t payload_len;	/* captured payload bytes available */
	uint32_t payload_wire_len; /* payload length on the wire (IP total length based) */
};

/* Parse an IP packet (IPv4 or IPv6, chosen by the version nibble) of
 * cap_len captured bytes whose original length is wire_len (>= cap_len;
 * pass cap_len when the packet is complete). Fills *v and returns a
 * pkt_status. Never reads outside data[0..cap_len). */
enum pkt_status pkt_parse(struct pkt_view *v, const uint8_t *data,
			  size_t cap_len, size_t wire_len);

/* A short name for a status, for logs and stats. */
const char *pkt_status_name(enum pkt_status s);

#endif
