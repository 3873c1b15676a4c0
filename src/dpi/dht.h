/* dht.h - the BitTorrent DHT: KRPC messages (BEP 5, BEP 32, BEP 44, BEP 51). */
#ifndef BTBLOCKD_DPI_DHT_H
#define BTBLOCKD_DPI_DHT_H

#include "dpi.h"

/* Check one UDP payload as a KRPC message; learns nodes and peers through
 * p when p is not NULL. DPI_DHT or DPI_NONE. */
enum dpi_id dht_check(const uint8_t *data, size_t len, const struct dpi_pkt *p);

#endif
