/* peerwire.h - BitTorrent peer wire protocol (BEP 3, BEP 6, BEP 52). */
#ifndef BTBLOCKD_DPI_PEERWIRE_H
#define BTBLOCKD_DPI_PEERWIRE_H

#include "dpi/detector.h"

struct dpi_flow;

/* Per direction of a TCP flow: the mid-stream peer wire framer. */
struct peerwire_dir {
	uint32_t expect_seq;	/* TCP seq where the next unparsed byte sits */
	uint32_t skip;		/* bytes of an open message still to come */
	uint8_t sync;		/* framing follows this direction */
	uint8_t strong;		/* messages validated in this direction */
	uint8_t packets;	/* packets whose messages validated */
};

/* Length of the fixed handshake head: 19 "BitTorrent protocol". */
#define PEERWIRE_PSTR_LEN 20

/* The whole handshake: head, 8 reserved bytes, info hash, peer id. */
#define PEERWIRE_HANDSHAKE_LEN 68

/* 1 if p[0..len) starts with the handshake head (or a complete prefix of
 * it when partial_ok and len < 20), else 0. */
int peerwire_is_handshake(const uint8_t *p, size_t len, int partial_ok);

/* Handshake on the head of a TCP stream: DPI_BT_HANDSHAKE or DPI_NONE. */
enum dpi_id peerwire_handshake(const struct dpi_pkt *p);

/* Mid-stream framing of one TCP packet (flows whose start was not seen):
 * DPI_BT_FRAMING / DPI_BT_EXTENSION when validated, else DPI_NONE. */
enum dpi_id peerwire_framing(struct dpi_flow *st, const struct dpi_pkt *p);

/* On a blocked flow: a packet that opens with the handshake marks its
 * direction in st->proof; once both directions spoke BitTorrent, the PEX
 * peers of a packet whose messages all validate are learned through p. */
void peerwire_learn_blocked(struct dpi_flow *st, const struct dpi_pkt *p);

#endif
