/* mse.h - Message Stream Encryption / Protocol Encryption heuristic. */
#ifndef BTBLOCKD_DPI_MSE_H
#define BTBLOCKD_DPI_MSE_H

#include "dpi/detector.h"

struct dpi_flow;

/* Per direction of a TCP flow seen from its middle: the run of segments
 * whose lengths are those of encrypted requests. */
struct mse_mid {
	uint16_t first_len;	/* length of the run's first segment */
	uint8_t run;		/* segments in the run */
	uint8_t flags;		/* MSE_MID_* */
};

/* What mse.c remembers about a TCP flow. */
struct mse_state {
	struct mse_mid mid[2];	/* start not seen */
	uint8_t candidate;	/* looks like an MSE key exchange */
	uint8_t first;		/* 1 + direction of the first payload */
	uint8_t random[2];	/* first payload of the direction looked random */
};

/* 1 if b[0..len) looks like a Diffie-Hellman key plus random padding:
 * 96..608 bytes, no known protocol header, high byte diversity. */
int mse_looks_random(const uint8_t *b, size_t len);

/* Watch the first payload of each direction of a TCP flow whose start was
 * seen; sets st->mse.candidate when both are key-exchange shaped (the
 * initiator first). Returns DPI_MSE when a candidate's next segments have
 * the lengths of an encrypted BitTorrent handshake; otherwise DPI_NONE
 * (mse_known_responder may still confirm the candidate). */
enum dpi_id mse_check(struct dpi_flow *st, const struct dpi_pkt *p);

/* DPI_MSE when the flow is a candidate (mse_check) and its answering
 * side, at the port it answered on, is a known peer (p->known); else
 * DPI_NONE. Evidence, not proof: the registry marks no direction in
 * st->proof for it, so the flow is blocked, never banned. */
enum dpi_id mse_known_responder(const struct dpi_flow *st, const struct dpi_pkt *p);

/* A TCP flow whose start was not seen: DPI_MSE once the protected side's
 * segments have had the lengths of encrypted requests for a while, the
 * other side sending bulk data; otherwise DPI_NONE. */
enum dpi_id mse_midstream_check(struct dpi_flow *st, const struct dpi_pkt *p);

#endif
