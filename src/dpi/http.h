/* http.h - BitTorrent in clear-text HTTP: trackers, web seeds, magnet
 * links, client peer-ids and user agents. */
#ifndef BTBLOCKD_DPI_HTTP_H
#define BTBLOCKD_DPI_HTTP_H

#include "dpi/detector.h"

/* Inspect the head of a TCP stream (p->stream, or the packet when there
 * is no head): a detector id or DPI_NONE. */
enum dpi_id http_check(const struct dpi_pkt *p);

/* Feed the compact peers of a tracker reply in the head to p->learn. */
void http_learn(const struct dpi_pkt *p);

#endif
