/* webtorrent.h - WebTorrent: the WebSocket tracker protocol that signals
 * BitTorrent swarms over WebRTC, the public WebSocket trackers by name,
 * and the peers that the tracker's relayed SDP offers and answers name. */
#ifndef BTBLOCKD_DPI_WEBTORRENT_H
#define BTBLOCKD_DPI_WEBTORRENT_H

#include "dpi/detector.h"

/* The public WebTorrent trackers, matched by tls_sni.c as whole names or
 * dot-separated suffixes (lower case). */
extern const struct dpi_lit webtorrent_hosts[];
extern const size_t webtorrent_nhosts;

/* The head of a TCP stream (p->stream, or the packet when there is no
 * head) that opens a WebSocket: an Upgrade request (frames masked) or
 * its 101 answer (frames not masked). DPI_WEBTORRENT when a text frame
 * after it carries a WebTorrent tracker message, else DPI_NONE. */
enum dpi_id webtorrent_check(const struct dpi_pkt *p);

/* A TCP packet that itself starts with WebSocket frames (a flow without
 * a head, caught mid-stream, or past its head): DPI_WEBTORRENT when one
 * carries a tracker message, else DPI_NONE. */
enum dpi_id webtorrent_frame_check(const struct dpi_pkt *p);

/* On a flow blocked for the protected side's own BitTorrent: the ICE
 * candidates of the SDP offers and answers that tracker frames from the
 * WebSocket server in this packet relay to it, through p->learn_webrtc.
 * Unmasked (server) frames carrying the tracker vocabulary only. */
void webtorrent_learn(const struct dpi_pkt *p);

#endif
