/* udp_tracker.h - the UDP tracker protocol (BEP 15). */
#ifndef BTBLOCKD_DPI_UDP_TRACKER_H
#define BTBLOCKD_DPI_UDP_TRACKER_H

#include "dpi/detector.h"

struct dpi_flow;

/* What udp_tracker.c remembers about a UDP flow. */
struct udp_tracker_state {
	uint32_t tid;		/* transaction id of the protected side's last request */
	uint8_t req_dir;	/* 1 + direction of that request, 0: none */
	uint8_t conn_dir;	/* 1 + direction of a connect response */
	uint8_t conn_set;
	uint8_t conn[8];	/* connection id handed out on this flow */
};

/* 1 if data is a connect request (protocol magic, action 0), else 0. */
int udp_tracker_is_connect(const uint8_t *data, size_t len);

/* Follow the exchange on a UDP flow: a connect request fires; announce
 * and scrape fire when they carry the connection id the flow handed out.
 * The protected side's requests are remembered by transaction id. */
enum dpi_id udp_tracker_check(struct dpi_flow *st, const struct dpi_pkt *p);

/* On a blocked flow: remember the protected side's requests, and feed
 * the peers of the announce reply that answers one (same transaction
 * id, the other direction) to p->learn. */
void udp_tracker_learn(struct dpi_flow *st, const struct dpi_pkt *p);

#endif
