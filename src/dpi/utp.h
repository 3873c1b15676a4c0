/* utp.h - the Micro Transport Protocol (BEP 29). */
#ifndef BTBLOCKD_DPI_UTP_H
#define BTBLOCKD_DPI_UTP_H

#include "dpi/detector.h"

struct dpi_flow;

/* uTP state per direction. */
struct utp_dir {
	uint16_t conn_id;
	uint16_t seq;
	uint16_t ack;
	uint8_t valid;		/* valid headers seen (saturating) */
	uint8_t bad;		/* packets that are not uTP */
};

/* What utp.c remembers about a UDP flow. */
struct utp_state {
	struct utp_dir dir[2];
	uint16_t syn_conn;
	uint16_t syn_seq;
	uint32_t syn_ts;	/* timestamp_microseconds of the first SYN */
	uint32_t syn_us;	/* when that SYN was seen (µs, wrapping) */
	uint8_t syn_dir;	/* 1 + direction of the SYN, 0: none */
	uint8_t syn_retries;	/* retransmissions whose clock matched */
};

enum { UTP_DATA = 0, UTP_FIN = 1, UTP_STATE = 2, UTP_RESET = 3, UTP_SYN = 4 };

/* A parsed uTP header. */
struct utp_hdr {
	uint8_t type;
	uint16_t conn_id;
	uint16_t seq;
	uint16_t ack;
	uint32_t ts;		/* timestamp_microseconds */
	uint32_t ts_diff;	/* timestamp_difference_microseconds */
	uint32_t wnd;
	uint32_t hdr_len;	/* header and extensions */
};

/* Parse and validate one header: 1 and *h filled, or 0. */
int utp_parse(const uint8_t *data, size_t len, struct utp_hdr *h);

/* Follow the uTP exchange of a UDP flow; DPI_UTP once the headers of
 * both directions agree (SYN answered by STATE, or connection ids one
 * apart with acks tracking sequence numbers, or an unanswered SYN resent
 * with its clock advancing as real time does), or at once when a data
 * packet carries a peer wire handshake. */
enum dpi_id utp_check(struct dpi_flow *st, const struct dpi_pkt *p);

/* 1 if a UDP flow looks like uTP caught after its SYN: every datagram so
 * far a uTP header (a download shows a burst of data before the first
 * acknowledgement), and where both directions spoke, connection ids one
 * apart. Inline: asked on every inspected packet (dpi_midstream). */
static inline int utp_midstream(const struct utp_state *u)
{
	if (u->syn_dir || u->dir[0].bad || u->dir[1].bad || !(u->dir[0].valid || u->dir[1].valid))
		return 0;
	return !u->dir[0].valid || !u->dir[1].valid ||
	       ((uint16_t)(u->dir[0].conn_id - u->dir[1].conn_id + 1) <= 2 &&
		u->dir[0].conn_id != u->dir[1].conn_id);
}

#endif
