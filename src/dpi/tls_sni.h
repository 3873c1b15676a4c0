/* tls_sni.h - trackers and BitTorrent services reached over TLS, by SNI. */
#ifndef BTBLOCKD_DPI_TLS_SNI_H
#define BTBLOCKD_DPI_TLS_SNI_H

#include "dpi/detector.h"

/* Extract the server name of a TLS ClientHello at d[0..len): 1 and
 * *name and *nlen set, or 0 (not a ClientHello, truncated, no SNI). */
int tls_sni_get(const uint8_t *d, size_t len, const uint8_t **name, size_t *nlen);

/* DPI_TLS_TRACKER when the head of the stream (or the direction's first
 * packet, when longer) is a ClientHello naming a well-known BitTorrent
 * tracker or service, DPI_WEBTORRENT when it names a WebTorrent tracker,
 * else DPI_NONE. */
enum dpi_id tls_sni_check(const struct dpi_pkt *p);

/* The same for a later segment of a ClientHello that the head holds
 * only part of (Chrome's is about 2 KB): its server name, found by the
 * extension's three lengths, which must agree. */
enum dpi_id tls_sni_segment(const struct dpi_pkt *p);

#endif
