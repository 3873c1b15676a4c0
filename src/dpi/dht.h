/* dht.h - the BitTorrent DHT: KRPC messages (BEP 5, BEP 32, BEP 44, BEP 51). */
#ifndef BTBLOCKD_DPI_DHT_H
#define BTBLOCKD_DPI_DHT_H

#include "dpi/detector.h"

struct dpi_flow;

/* What dht.c remembers about a UDP flow: the protected side's last query. */
struct dht_state {
	uint32_t tid;		/* hash of the query's "t" */
	uint8_t query_dir;	/* 1 + direction of that query, 0: none pending */
};

/* Check one UDP payload as a KRPC message: DPI_DHT or DPI_NONE. With a
 * flow state st and a packet p, a query from the protected side is
 * remembered by its transaction id, and the nodes and peers of a reply
 * are learned through p only when it answers that query (same id, the
 * other direction of the flow), which also marks the answering direction
 * in st->proof; a reply to nothing teaches nothing. */
enum dpi_id dht_check(struct dpi_flow *st, const uint8_t *data, size_t len,
		      const struct dpi_pkt *p);

#endif
