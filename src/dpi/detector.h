/* detector.h - what every detector of src/dpi/ shares: the detector ids,
 * the packet as detectors see it, and the helpers (learn.c) through which
 * they report the endpoints they learn. A leaf: it includes no detector
 * and no registry, so that detectors and the registry (dpi/dpi.h) never
 * include each other. */
#ifndef BTBLOCKD_DPI_DETECTOR_H
#define BTBLOCKD_DPI_DETECTOR_H

#include <stddef.h>
#include <stdint.h>

struct pkt_view;

/* Detector ids; also the index of per-detector counters and of the
 * registry's table (dpi.c). */
enum dpi_id {
	DPI_NONE = 0,
	DPI_BT_HANDSHAKE,	/* peer wire handshake (BEP 3, v2 bits of BEP 52) */
	DPI_BT_FRAMING,		/* peer wire messages seen mid-stream */
	DPI_BT_EXTENSION,	/* extension protocol handshake (BEP 10) */
	DPI_DHT,		/* KRPC (BEP 5) */
	DPI_UDP_TRACKER,	/* BEP 15 */
	DPI_HTTP_TRACKER,	/* announce / scrape over HTTP */
	DPI_WEBSEED,		/* BEP 17/19 requests from a BitTorrent client */
	DPI_MAGNET,		/* magnet URI in clear text */
	DPI_PEER_ID,		/* known client peer-id in clear text */
	DPI_USER_AGENT,		/* HTTP request from a BitTorrent client */
	DPI_TLS_TRACKER,	/* TLS SNI naming a well-known tracker */
	DPI_LSD,		/* local service discovery (BEP 14) */
	DPI_UTP,		/* uTP (BEP 29) validated over the flow */
	DPI_MSE,		/* encrypted handshake from a known BitTorrent host */
	DPI_SOCKS5,		/* BitTorrent inside a SOCKS5 UDP datagram */
	DPI_WEBTORRENT,		/* WebSocket tracker (clear text, or TLS by name) */
	DPI_ENDPOINT,		/* flow to an endpoint learned as BitTorrent */
	DPI_COUNT
};

/* A string constant with its length, for the lists detectors compare
 * against per packet (no strlen on the packet path). */
struct dpi_lit {
	const char *s;
	size_t len;
};
#define DPI_LIT(str) { str, sizeof(str) - 1 }

/* Callback through which detectors report endpoints learned from what a
 * remote party answered the protected side: peers (DHT values, tracker
 * and PEX peer lists) and DHT nodes; through learn_webrtc, WebTorrent
 * peers (the ICE candidates of SDP offers and answers a WebSocket tracker
 * relayed), whose WebRTC data channels speak STUN and DTLS. */
typedef void (*dpi_learn_fn)(void *ctx, int family, const uint8_t *addr, uint16_t port);

/* Callback through which a detector asks whether an endpoint was learned
 * as a BitTorrent peer (the engine's endpoint cache): 1 or 0. */
typedef int (*dpi_known_fn)(void *ctx, int family, const uint8_t *addr, uint16_t port);

/* One packet as the detectors see it. */
struct dpi_pkt {
	const struct pkt_view *v;
	int dir;			/* 0: from the flow's initiator, 1: reply */
	int from_protected;		/* the sender is on the protected side */
	int to_protected;		/* the receiver is on the protected side */
	int start_seen;			/* TCP: the SYN or SYN-ACK was seen */
	uint64_t now_ns;		/* arrival time */
	uint32_t dir_payload_pkts;	/* payload packets so far in this direction (incl. this) */
	const uint8_t *data;		/* this packet's payload */
	uint32_t len;
	const uint8_t *stream;		/* TCP: in-order head of this direction, or NULL */
	uint32_t stream_len;
	int stream_grew;		/* this packet added bytes to the head */
	dpi_learn_fn learn;		/* may be NULL */
	dpi_learn_fn learn_webrtc;	/* may be NULL */
	dpi_known_fn known;		/* may be NULL: nothing is known */
	void *learn_ctx;		/* for learn, learn_webrtc and known */
};

/* 1 if an endpoint may be learned at all: not a port below 1024 (port 0,
 * a bare host, included), not an unspecified or multicast address. */
int dpi_learnable(int family, const uint8_t *addr, uint16_t port);

/* Report an endpoint through p->learn, ignoring those dpi_learnable
 * refuses. */
void dpi_learn(const struct dpi_pkt *p, int family, const uint8_t *addr, uint16_t port);

/* The same for a WebTorrent peer, through p->learn_webrtc. */
void dpi_learn_webrtc(const struct dpi_pkt *p, int family, const uint8_t *addr, uint16_t port);

/* Report each 6-byte (IPv4) or 18-byte (IPv6) compact peer of a list
 * (as peers). */
void dpi_learn_compact(const struct dpi_pkt *p, const uint8_t *list, size_t len, int family);

#endif
