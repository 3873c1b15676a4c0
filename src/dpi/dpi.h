/* dpi.h - the detector registry: per-flow detector state and the dispatch
 * over every detector of src/dpi/ (what the detectors share is in
 * dpi/detector.h). */
#ifndef BTBLOCKD_DPI_DPI_H
#define BTBLOCKD_DPI_DPI_H

#include <stdint.h>
#include <stddef.h>

#include "dpi/detector.h"
#include "dpi/peerwire.h"
#include "dpi/mse.h"
#include "dpi/utp.h"
#include "dpi/dht.h"
#include "dpi/udp_tracker.h"

/* Everything the detectors remember about a flow: plain data, zeroed when
 * the flow is created, in every flow entry. Each detector's part is
 * declared in its own header; a flow is TCP or UDP for life, so the two
 * transports' parts share their bytes. */
struct dpi_flow {
	union {
		struct {			/* TCP */
			struct peerwire_dir pw[2];
			struct mse_state mse;
		};
		struct {			/* UDP */
			struct utp_state utp;
			struct dht_state dht;
			struct udp_tracker_state udptrk;
		};
	};
	uint8_t proof;		/* bit d: direction d carried BitTorrent */
};

/* It sits in every flow entry, whose size flow.h asserts. */
_Static_assert(sizeof(struct dpi_flow) <= 80, "struct dpi_flow grew");

/* Run every detector that applies; returns the detector that fired or
 * DPI_NONE, with the bit of each direction whose bytes made the case in
 * st->proof. A verdict on evidence (an MSE candidate answered by a known
 * peer, asked through p->known) marks no direction. */
enum dpi_id dpi_inspect(struct dpi_flow *st, const struct dpi_pkt *p);

/* On a flow already blocked: learn what the remote side answered the
 * protected side's requests (DHT replies to its queries, tracker peer
 * lists, PEX once both directions spoke BitTorrent), and mark in
 * st->proof a remote side that answers in BitTorrent. */
void dpi_learn_blocked(struct dpi_flow *st, const struct dpi_pkt *p);

/* 1 if the flow is followed from its middle: TCP whose start was not
 * seen, or UDP whose datagrams so far were all uTP headers without its
 * SYN (both ways: on connection ids one apart). Such a
 * flow gets more packets before it is allowed (engine). */
int dpi_midstream(const struct dpi_flow *st, int l4proto, int start_seen);

/* What the registry knows of a detector besides its code: one row per
 * id in dpi.c. A field joins when something reads it. */
struct dpi_detector {
	const char *name;	/* stable short name, e.g. "bt-handshake": stats
				 * keys, log lines, offline verdicts */
};

/* The row of id (an id out of range gets DPI_NONE's, all empty). */
const struct dpi_detector *dpi_detector(enum dpi_id id);

/* dpi_detector(id)->name; "" for DPI_NONE and out of range. */
const char *dpi_name(enum dpi_id id);

#endif
