/* socks5.h - BitTorrent relayed through a SOCKS5 UDP associate (RFC 1928). */
#ifndef BTBLOCKD_DPI_SOCKS5_H
#define BTBLOCKD_DPI_SOCKS5_H

#include "dpi/detector.h"

/* Unwrap the SOCKS5 UDP request header: 1 and *inner and *ilen set to the
 * relayed datagram, or 0 when data is not such a header. */
int socks5_unwrap(const uint8_t *data, size_t len, const uint8_t **inner, size_t *ilen);

/* DPI_SOCKS5 when the relayed datagram is DHT, a UDP tracker connect or
 * uTP carrying a peer wire handshake; else DPI_NONE. */
enum dpi_id socks5_check(const struct dpi_pkt *p);

#endif
