/* utp.h - the Micro Transport Protocol (BEP 29). */
#ifndef BTBLOCKD_DPI_UTP_H
#define BTBLOCKD_DPI_UTP_H

#include "dpi/detector.h"

struct dpi_flow;

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

#endif
