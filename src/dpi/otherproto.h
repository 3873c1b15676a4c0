/* otherproto.h - payloads of other well-known protocols, so that a flow
 * to an endpoint learned as BitTorrent is not blocked on that alone when
 * its payload is plainly something else. */
#ifndef BTBLOCKD_DPI_OTHERPROTO_H
#define BTBLOCKD_DPI_OTHERPROTO_H

#include <stddef.h>
#include <stdint.h>

enum otherproto {
	OTHERPROTO_NONE = 0,
	OTHERPROTO_TLS,
	OTHERPROTO_HTTP,	/* HTTP/1.x, the HTTP/2 preface, SSDP */
	OTHERPROTO_SSH,
	OTHERPROTO_DNS,		/* DNS, mDNS, LLMNR, NetBIOS name service */
	OTHERPROTO_QUIC,
	OTHERPROTO_STUN,	/* STUN, TURN, classic STUN */
	OTHERPROTO_DTLS,
	OTHERPROTO_WIREGUARD,
	OTHERPROTO_OPENVPN,
	OTHERPROTO_RTP,		/* RTP, SRTP, RTCP, SRTCP */
	OTHERPROTO_TEXT,	/* printable text of no protocol named here */
	OTHERPROTO_SMTP,
	OTHERPROTO_POP3,
	OTHERPROTO_IMAP,
	OTHERPROTO_FTP,
	OTHERPROTO_IRC,
	OTHERPROTO_SIP,
	OTHERPROTO_RTSP,
	OTHERPROTO_COUNT
};

/* What other protocol a flow's payload is, from one packet: tcp 1 for a
 * TCP segment (the start of a direction's stream), 0 for a UDP datagram
 * (whole: lengths inside it must add up to len). OTHERPROTO_NONE when
 * none, and always for random-looking bytes, uTP, the peer wire
 * handshake, KRPC, bencode, UDP tracker and SOCKS5 UDP headers. */
enum otherproto otherproto_identify(const uint8_t *d, size_t len, int tcp);

/* A short lower-case name ("tls", "dns", ...); "" out of range. */
const char *otherproto_name(enum otherproto p);

#endif
