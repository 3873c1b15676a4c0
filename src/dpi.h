/* dpi.h - the detector registry: per-flow detector state and the dispatch
 * over every detector of src/dpi/ (what the detectors share is in
 * dpi/detector.h). */
#ifndef BTBLOCKD_DPI_H
#define BTBLOCKD_DPI_H

#include <stdint.h>
#include <stddef.h>

#include "dpi/detector.h"

/* Per-direction state of the mid-stream peer wire framer. */
struct dpi_pw_dir {
	uint32_t expect_seq;	/* TCP seq where the next unparsed byte sits */
	uint32_t skip;		/* bytes of an open message still to come */
	uint8_t sync;		/* framing follows this direction */
	uint8_t strong;		/* messages validated in this direction */
	uint8_t packets;	/* packets whose messages validated */
};

/* uTP state per direction. */
struct dpi_utp_dir {
	uint16_t conn_id;
	uint16_t seq;
	uint16_t ack;
	uint8_t valid;		/* valid headers seen (saturating) */
	uint8_t bad;		/* packets that are not uTP */
};

/* Per direction of a TCP flow seen from its middle: the run of segments
 * whose lengths are those of encrypted requests (mse.c). */
struct dpi_mse_mid {
	uint16_t first_len;	/* length of the run's first segment */
	uint8_t run;		/* segments in the run */
	uint8_t flags;		/* MSE_MID_* */
};

/* Everything the detectors remember about a flow: plain data, zeroed when
 * the flow is created. Ordered so that no padding is wasted: it sits in
 * every flow entry (80 bytes). */
struct dpi_flow {
	struct dpi_pw_dir pw[2];
	union {				/* by transport: never both */
		struct dpi_utp_dir utp[2];		/* UDP */
		struct dpi_mse_mid mse_mid[2];		/* TCP, start not seen */
	};
	uint16_t utp_syn_conn;
	uint16_t utp_syn_seq;
	uint32_t utp_syn_ts;	/* timestamp_microseconds of the first SYN */
	uint32_t utp_syn_us;	/* when that SYN was seen (µs, wrapping) */
	uint32_t dht_tid;	/* hash of the "t" of the protected side's last query */
	uint8_t utp_syn_dir;	/* 1 + direction of the SYN, 0: none */
	uint8_t utp_syn_retries;	/* retransmissions whose clock matched */
	uint8_t udptrk_conn_dir;	/* 1 + direction of a connect response */
	uint8_t udptrk_req_dir;	/* 1 + direction of the protected side's last request */
	uint32_t udptrk_tid;	/* transaction id of that request */
	uint8_t mse_candidate;	/* looks like an MSE key exchange */
	uint8_t mse_first;	/* 1 + direction of the first payload */
	uint8_t mse_random[2];	/* first payload of the direction looked random */
	uint8_t udptrk_conn_set;
	uint8_t udptrk_conn[8];	/* connection id handed out on this flow */
	uint8_t dht_query_dir;	/* 1 + direction of that query, 0: none pending */
	uint8_t proof;		/* bit d: direction d carried BitTorrent */
};

/* Run every detector that applies; returns the detector that fired or
 * DPI_NONE, with the bit of each direction whose bytes made the case in
 * st->proof. May set st->mse_candidate (the engine confirms it). */
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

/* The stable short name of a detector, e.g. "bt-handshake". */
const char *dpi_name(enum dpi_id id);

#endif
