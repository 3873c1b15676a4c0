/* dpi.h - the detector registry: per-flow detector state, the packet as
 * detectors see it, and the dispatch over every detector of src/dpi/. */
#ifndef BTBLOCKD_DPI_H
#define BTBLOCKD_DPI_H

#include <stdint.h>
#include <stddef.h>

struct pkt_view;

/* Detector ids; also the index of per-detector counters and names. */
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
#define DPI_NLITS(list) (sizeof(list) / sizeof((list)[0]))

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

/* Callback through which detectors report endpoints learned from what a
 * remote party answered the protected side: peers (DHT values, tracker
 * and PEX peer lists) and DHT nodes; through learn_webrtc, WebTorrent
 * peers (the ICE candidates of SDP offers and answers a WebSocket tracker
 * relayed), whose WebRTC data channels speak STUN and DTLS. */
typedef void (*dpi_learn_fn)(void *ctx, int family, const uint8_t *addr, uint16_t port);

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
	void *learn_ctx;
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
