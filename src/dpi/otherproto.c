/* otherproto.c - payloads of other well-known protocols. A learned
 * endpoint is evidence, not a verdict: the engine asks this module about
 * the first payload packets of a flow whose remote end is in the cache of
 * suspected BitTorrent peers, and when the payload is plainly another
 * protocol it drops the cache's hint and leaves the verdict to the
 * detectors.
 *
 * Only structure a protocol fixes counts: a version or magic that
 * BitTorrent never puts at that place, and lengths that add up. What one
 * packet cannot tell from random bytes is left alone, since random bytes
 * are what an MSE/PE key exchange sends: encrypted SSH, QUIC short headers
 * (header protection hides all but two bits), TURN channel data, RTP
 * without a header extension outside the telephony frame sizes. A uTP
 * header is taken for none of these; one uTP packet has another's layout
 * (see WireGuard).
 *
 * Text: the engine runs the BitTorrent detectors first, so the texts of
 * BitTorrent accepted here as another protocol are those they have
 * already judged: HTTP tracker announces and scrapes, web seed requests
 * and tracker replies (HTTP), magnet links and peer ids inside other
 * text (TEXT). Refused as BitTorrent's own: bencode (KRPC, tracker
 * bodies, metadata) and local service discovery ("BT-SEARCH", BEP 14),
 * so that a BitTorrent message the detectors missed still meets the
 * cache. */
#include "sysincl.h"
#include "dpi/otherproto.h"
#include "dpi/detector.h"

/* Records (TLS, DTLS) or packets (RTCP, OpenVPN) looked at per packet. */
#define MAX_RECORDS 16

static uint16_t be16(const uint8_t *b)
{
	return (uint16_t)(b[0] << 8 | b[1]);
}

static uint32_t be24(const uint8_t *b)
{
	return (uint32_t)b[0] << 16 | (uint32_t)b[1] << 8 | b[2];
}

static uint32_t be32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static int is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

/* TLS: records from the start of a direction's stream (RFC 5246 6.2,
 * RFC 8446 5.1): change_cipher_spec, alert, handshake or application
 * data, version 3.0 to 3.4, length 1 to the ciphertext maximum. The last
 * record may run past the segment; a header cut by the segment's end is
 * checked as far as it goes. */
#define TLS_RECORD_MAX (16384 + 2048)

static int is_tls(const uint8_t *d, size_t len)
{
	size_t off = 0;
	int n;

	if (len < 5)
		return 0;
	for (n = 0; n < MAX_RECORDS && off < len; n++) {
		const uint8_t *r = d + off;
		size_t left = len - off;
		uint16_t rlen;

		if (r[0] < 20 || r[0] > 23 || (left >= 2 && r[1] != 3) || (left >= 3 && r[2] > 4))
			return 0;
		if (left < 5)
			return 1;
		rlen = be16(r + 3);
		if (rlen == 0 || rlen > TLS_RECORD_MAX)
			return 0;
		/* change_cipher_spec is one byte, 1 */
		if (r[0] == 20 && (rlen != 1 || (left > 5 && r[5] != 1)))
			return 0;
		off += 5 + (size_t)rlen;
	}
	return 1;
}

/* SSH: the version banner, or a KEXINIT in clear (RFC 4253 4.2, 6,
 * 7.1): packet length, padding length >= 4, message 20, a 16-byte cookie,
 * then the first name-list (key exchange methods) in printable ASCII. A
 * peer wire message has the same length prefix but never the name-list. */
#define SSH_PACKET_MAX 35000
/* message, cookie, ten empty name-lists, first_kex_packet_follows, reserved */
#define KEXINIT_MIN (1 + 16 + 10 * 4 + 1 + 4)
#define KEXINIT_NAMES (4 + 1 + 1 + 16 + 4)	/* where the first name-list's bytes start */

static int is_ssh(const uint8_t *d, size_t len)
{
	uint32_t plen, nl;
	size_t i, n;

	if (len >= 5 && memcmp(d, "SSH-", 4) == 0)
		return d[4] == '1' || d[4] == '2';
	if (len < KEXINIT_NAMES + 4)
		return 0;
	plen = be32(d);
	if (plen > SSH_PACKET_MAX || d[4] < 4 || d[5] != 20 ||
	    plen < 1 + KEXINIT_MIN + (uint32_t)d[4])
		return 0;
	nl = be32(d + KEXINIT_NAMES - 4);
	if (nl < 4 || nl > plen - 1 - KEXINIT_MIN - d[4])
		return 0;
	n = len - KEXINIT_NAMES < nl ? len - KEXINIT_NAMES : nl;
	for (i = 0; i < n; i++)
		if (d[KEXINIT_NAMES + i] <= ' ' || d[KEXINIT_NAMES + i] >= 0x7f)
			return 0;
	return d[KEXINIT_NAMES] != ',';
}

/* DNS (RFC 1035 4.1), also mDNS, LLMNR and the NetBIOS name service: a
 * header with a known opcode and small counts, then the first question
 * (or, in a response without one, the first record) parsed in full. */
#define DNS_HEADER 12
#define DNS_MIN (DNS_HEADER + 1 + 4)

/* The message's first name: labels of 1..63 bytes without control
 * characters, 255 bytes at most, no compression (nothing precedes it to
 * point to). *off moves past it. */
static int dns_name(const uint8_t *d, size_t len, size_t *off)
{
	size_t o = *off, total = 1;

	while (o < len) {
		uint8_t l = d[o++];
		size_t i;

		if (l == 0) {
			*off = o;
			return 1;
		}
		if (l > 63 || len - o < l)
			return 0;
		total += 1 + (size_t)l;
		if (total > 255)
			return 0;
		for (i = 0; i < l; i++)
			if (d[o + i] < 0x20 || d[o + i] == 0x7f)
				return 0;
		o += l;
	}
	return 0;
}

static int dns_type_ok(uint16_t t)
{
	return (t >= 1 && t <= 260) || t == 32768 || t == 32769;
}

static int dns_class_ok(uint16_t c)
{
	c &= 0x7fff;		/* mDNS: unicast-response / cache-flush bit */
	return c == 1 || c == 3 || c == 4 || c == 254 || c == 255;
}

/* whole: the message ends at len (a datagram, or a TCP message that fits). */
static int dns_message(const uint8_t *d, size_t len, int whole)
{
	unsigned opcode, rcode, qd, an, ns, ar;
	uint16_t type;
	size_t off = DNS_HEADER;
	int qr;

	if (len < DNS_MIN)
		return 0;
	qr = d[2] >> 7;
	opcode = (d[2] >> 3) & 15;
	rcode = d[3] & 15;
	/* query, status, notify, update; Z clear; a query carries no error */
	if ((opcode != 0 && opcode != 2 && opcode != 4 && opcode != 5) || (d[3] & 0x40) ||
	    rcode > 10 || (!qr && rcode != 0))
		return 0;
	qd = be16(d + 4);
	an = be16(d + 6);
	ns = be16(d + 8);
	ar = be16(d + 10);
	if (qd > 64 || an > 256 || ns > 256 || ar > 256)
		return 0;
	if (qd == 0 && (!qr || an + ns + ar == 0))
		return 0;
	if (!dns_name(d, len, &off) || len - off < 4)
		return 0;
	type = be16(d + off);
	/* an OPT record's class is a payload size */
	if (!dns_type_ok(type) || (type != 41 && !dns_class_ok(be16(d + off + 2))))
		return 0;
	off += 4;
	if (qd == 0) {		/* a record: TTL, data length, data */
		if (len - off < 6)
			return 0;
		if (whole && be16(d + off + 4) > len - off - 6)
			return 0;
	} else if (whole && qd == 1 && an + ns + ar == 0 && off != len) {
		return 0;	/* a lone question is the whole message */
	}
	return 1;
}

/* DNS over TCP: a 2-byte length prefix (RFC 1035 4.2.2); a response may
 * run past the segment. */
static int dns_tcp(const uint8_t *d, size_t len)
{
	size_t mlen, avail;

	if (len < 2 + DNS_MIN)
		return 0;
	mlen = be16(d);
	avail = len - 2;
	if (mlen < DNS_MIN)
		return 0;
	return dns_message(d + 2, mlen < avail ? mlen : avail, mlen <= avail);
}

/* QUIC long headers (RFC 8999, RFC 9000 17.2, RFC 9369): a known version
 * with the fixed bit, connection ids of at most 20 bytes, the token and
 * length fields inside the datagram (more packets may follow it,
 * coalesced); or a version negotiation listing a known version. Short
 * headers are not recognised: one of them is random bytes but for its
 * first two bits. */
#define QUIC_V1 0x00000001u
#define QUIC_V2 0x6b3343cfu
#define QUIC_CID_MAX 20
/* packet number and payload: room for the header protection sample
 * (RFC 9001 5.4.2) */
#define QUIC_PAYLOAD_MIN 20

static int quic_version_known(uint32_t v)
{
	return v == QUIC_V1 || v == QUIC_V2 || (v >= 0xff000001u && v <= 0xff000022u);
}

/* A variable-length integer (RFC 9000 16) at *off, moved past it. */
static int quic_varint(const uint8_t *d, size_t len, size_t *off, uint64_t *v)
{
	size_t n, i;

	if (*off >= len)
		return 0;
	n = (size_t)1 << (d[*off] >> 6);
	if (len - *off < n)
		return 0;
	*v = d[*off] & 0x3f;
	for (i = 1; i < n; i++)
		*v = *v << 8 | d[*off + i];
	*off += n;
	return 1;
}

static int quic_version_negotiation(const uint8_t *d, size_t len)
{
	size_t off = 6 + (size_t)d[5];

	if (off >= len || len - off - 1 < d[off])
		return 0;
	off += 1 + (size_t)d[off];
	if (off == len || (len - off) % 4 != 0)
		return 0;
	for (; off < len; off += 4)
		if (quic_version_known(be32(d + off)))
			return 1;
	return 0;
}

static int is_quic(const uint8_t *d, size_t len)
{
	uint64_t tlen, plen;
	uint32_t ver;
	unsigned type;
	size_t off;

	if (len < 7 || !(d[0] & 0x80))
		return 0;
	ver = be32(d + 1);
	if (ver == 0)
		return quic_version_negotiation(d, len);
	if (!quic_version_known(ver) || !(d[0] & 0x40) || d[5] > QUIC_CID_MAX)
		return 0;
	off = 6 + (size_t)d[5];
	if (off >= len || d[off] > QUIC_CID_MAX || len - off - 1 < d[off])
		return 0;
	off += 1 + (size_t)d[off];
	type = (d[0] >> 4) & 3;
	if (ver == QUIC_V2)
		type = (type + 3) & 3;	/* v2 numbers Retry 0, Initial 1, ... */
	if (type == 3)		/* Retry: a token, then a 16-byte integrity tag */
		return len - off > 16;
	if (type == 0) {	/* Initial: a token */
		if (!quic_varint(d, len, &off, &tlen) || tlen > len - off)
			return 0;
		off += (size_t)tlen;
	}
	if (!quic_varint(d, len, &off, &plen))
		return 0;
	return plen >= QUIC_PAYLOAD_MIN && plen <= len - off;
}

/* STUN (RFC 8489 5, 14) and TURN: the top two bits clear, the magic
 * cookie, a length in 4-byte units that (in a datagram) ends the message
 * at len with attributes filling it. Classic STUN (RFC 3489) has no
 * cookie: there the message type, the exact length and the attributes
 * must all fit. */
#define STUN_HEADER 20
#define STUN_COOKIE 0x2112a442u
#define STUN_ATTRS_MAX 64

/* Attributes (type, length, value padded to 4) filling exactly n bytes. */
static int stun_attrs(const uint8_t *d, size_t n)
{
	size_t off = 0;
	int k;

	for (k = 0; off < n; k++) {
		size_t al;

		if (k == STUN_ATTRS_MAX || n - off < 4)
			return 0;
		al = ((size_t)be16(d + off + 2) + 3) & ~(size_t)3;
		if (al > n - off - 4)
			return 0;
		off += 4 + al;
	}
	return 1;
}

static int is_stun(const uint8_t *d, size_t len, int tcp)
{
	uint16_t type, mlen;

	if (len < STUN_HEADER || (d[0] & 0xc0))
		return 0;
	type = be16(d);
	mlen = be16(d + 2);
	if (mlen % 4 != 0)
		return 0;
	if (be32(d + 4) == STUN_COOKIE) {
		if ((size_t)mlen > len - STUN_HEADER)
			return tcp;	/* a TCP message may run past the segment */
		if (!tcp && (size_t)mlen != len - STUN_HEADER)
			return 0;
		return stun_attrs(d + STUN_HEADER, mlen);
	}
	/* binding and shared secret: request, response, error response */
	if (type != 0x0001 && type != 0x0101 && type != 0x0111 &&
	    type != 0x0002 && type != 0x0102 && type != 0x0112)
		return 0;
	return (size_t)mlen == len - STUN_HEADER && stun_attrs(d + STUN_HEADER, mlen);
}

/* DTLS (RFC 6347 4.1, RFC 9147 4): records of content type 20..26,
 * version 1.0, 1.2 or 1.3, a small epoch, a sequence number below 2^32,
 * lengths that tile the datagram (a record never spans two); a handshake
 * in clear has its fragment inside its message. DTLS 1.3 encrypted
 * records (unified header) may follow and run to the end. */
#define DTLS_HEADER 13
#define DTLS_HS_HEADER 12

static int dtls_handshake_ok(const uint8_t *h, size_t n)
{
	uint32_t mlen, foff, flen;

	if (n < DTLS_HS_HEADER)
		return 0;
	mlen = be24(h + 1);
	foff = be24(h + 6);
	flen = be24(h + 9);
	return foff <= mlen && flen <= mlen - foff && flen <= n - DTLS_HS_HEADER;
}

static int is_dtls(const uint8_t *d, size_t len)
{
	size_t off = 0;
	int n;

	for (n = 0; off < len && n < MAX_RECORDS; n++) {
		const uint8_t *r = d + off;
		size_t left = len - off;
		uint16_t rlen;

		if (n > 0 && (r[0] & 0xe0) == 0x20)
			return 1;
		if (left < DTLS_HEADER || r[0] < 20 || r[0] > 26 || r[1] != 0xfe ||
		    (r[2] != 0xff && r[2] != 0xfd && r[2] != 0xfc))
			return 0;
		/* epoch below 256, sequence number below 2^32 */
		if (r[3] != 0 || r[5] != 0 || r[6] != 0)
			return 0;
		rlen = be16(r + 11);
		if (rlen == 0 || rlen > TLS_RECORD_MAX || rlen > left - DTLS_HEADER)
			return 0;
		if (r[0] == 22 && r[4] == 0 && !dtls_handshake_ok(r + DTLS_HEADER, rlen))
			return 0;
		off += DTLS_HEADER + (size_t)rlen;
	}
	return n > 0;
}

/* WireGuard: message type 1..4 and three reserved zero bytes, then the
 * fixed sizes: initiation 148, response 92, cookie reply 64; transport
 * data is a 16-byte header and an AEAD-sealed payload padded to 16
 * (a keepalive: 32 bytes). An initiation is also a valid uTP data packet
 * on connection id 0, and nothing after its first four bytes tells them
 * apart: such a uTP packet, 148 bytes long, is named WireGuard. uTP
 * opens with a 20-byte SYN, and its detector runs first. */
static int is_wireguard(const uint8_t *d, size_t len)
{
	if (len < 32 || d[1] != 0 || d[2] != 0 || d[3] != 0)
		return 0;
	switch (d[0]) {
	case 1:
		return len == 148;
	case 2:
		return len == 92;
	case 3:
		return len == 64;
	case 4:
		return (len - 32) % 16 == 0;
	}
	return 0;
}

/* OpenVPN: the hard reset that opens each side of a session. Opcode
 * with key id 0, an 8-byte session id, then a layout by the packet's
 * protection. The control packets after it carry ids too weak to tell
 * from other bytes, and come after a reset anyway. */
enum {
	OVPN_CONTROL_V1 = 4,
	OVPN_ACK_V1 = 5,
	OVPN_RESET_CLIENT_V2 = 7,
	OVPN_RESET_SERVER_V2 = 8,
	OVPN_RESET_CLIENT_V3 = 10,
	OVPN_CONTROL_WKC_V1 = 11,
};
#define OVPN_SID 8
#define OVPN_MIN (1 + OVPN_SID + 1 + 4)
#define OVPN_TAG 32		/* tls-crypt's HMAC-SHA256 */
/* a reset is among a session's first packets: its replay id counts from 1 */
#define OVPN_PID_MAX 8
/* a replay timestamp of these decades (2012..2055) */
#define OVPN_TIME_MIN 0x50000000u
#define OVPN_TIME_MAX 0xa0000000u

static int openvpn_reset_op(uint8_t b)
{
	return b == OVPN_RESET_CLIENT_V2 << 3 || b == OVPN_RESET_SERVER_V2 << 3 ||
		b == OVPN_RESET_CLIENT_V3 << 3;
}

static int openvpn_control_op(uint8_t b)
{
	return openvpn_reset_op(b) || b >> 3 == OVPN_CONTROL_V1 || b >> 3 == OVPN_ACK_V1 ||
		b >> 3 == OVPN_CONTROL_WKC_V1;
}

/* Replay protection in clear: packet id and time. */
static int openvpn_replay(const uint8_t *p)
{
	uint32_t pid = be32(p), ts = be32(p + 4);

	return pid >= 1 && pid <= OVPN_PID_MAX && ts >= OVPN_TIME_MIN && ts < OVPN_TIME_MAX;
}

/* The acks and message id of reset d at off: a client's acks nothing,
 * the server's acks the client's message 0 (its session id follows);
 * each is message 0. */
static int openvpn_reset_body(const uint8_t *d, size_t len, size_t off)
{
	if (d[0] >> 3 == OVPN_RESET_SERVER_V2)
		return len - off >= 1 + 4 + OVPN_SID + 4 && d[off] == 1 && be32(d + off + 1) == 0 &&
			be32(d + off + 1 + 4 + OVPN_SID) == 0;
	return len - off >= 1 + 4 && d[off] == 0 && be32(d + off + 1) == 0;
}

/* A reset in clear; with tls-auth (an HMAC of 16, 20, 32 or 64 bytes
 * after the session id, then replay id and time, then the body); or with
 * tls-crypt (replay id and time, the tag, the rest encrypted). */
static int openvpn_reset(const uint8_t *d, size_t len)
{
	static const uint8_t hmac[] = { 16, 20, 32, 64 };
	size_t i, off;

	if (len < OVPN_MIN || !openvpn_reset_op(d[0]))
		return 0;
	if (openvpn_reset_body(d, len, 1 + OVPN_SID))
		return 1;
	if (len >= 1 + OVPN_SID + 8 + OVPN_TAG && openvpn_replay(d + 1 + OVPN_SID))
		return 1;
	for (i = 0; i < sizeof(hmac); i++) {
		off = 1 + OVPN_SID + hmac[i];
		if (len < off + 8)
			break;
		if (openvpn_replay(d + off) && openvpn_reset_body(d, len, off + 8))
			return 1;
	}
	return 0;
}

/* OpenVPN over TCP: each packet behind a 2-byte length. The prefix adds
 * the structure a datagram lacks: a reset and then control packets that
 * tile the segment, or a reset whose layout checks out. */
static int openvpn_tcp(const uint8_t *d, size_t len)
{
	size_t off = 0, plen;
	int n;

	if (len < 2 + OVPN_MIN)
		return 0;
	plen = be16(d);
	if (plen < OVPN_MIN)
		return 0;
	if (openvpn_reset(d + 2, plen < len - 2 ? plen : len - 2))
		return 1;
	for (n = 0; off < len && n < MAX_RECORDS; n++) {
		if (len - off < 2 + OVPN_MIN)
			return 0;
		plen = be16(d + off);
		if (plen < OVPN_MIN || plen > len - off - 2 ||
		    !(n == 0 ? openvpn_reset_op(d[off + 2]) : openvpn_control_op(d[off + 2])))
			return 0;
		off += 2 + plen;
	}
	return off == len;
}

/* RTCP (RFC 3550 6.4, RFC 3711 3.4): a compound packet opens with a
 * sender or receiver report long enough for its report count; its
 * packets tile the datagram, or (SRTCP, all encrypted after the first 8
 * bytes) it ends in the E flag, a 31-bit index and an 80- or 32-bit tag. */
#define RTCP_SR 200
#define RTCP_RR 201

static int is_rtcp(const uint8_t *d, size_t len)
{
	static const uint8_t tags[] = { 10, 4 };
	size_t words, off, plen, i;
	unsigned rc;
	int n;

	if (len < 8 || (d[0] & 0xc0) != 0x80 || (d[1] != RTCP_SR && d[1] != RTCP_RR))
		return 0;
	rc = d[0] & 0x1f;
	words = be16(d + 2);
	if (words < (d[1] == RTCP_SR ? 6 : 1) + 6 * (size_t)rc || (words + 1) * 4 > len)
		return 0;
	for (off = 0, n = 0; off < len && n < MAX_RECORDS; n++) {
		if (len - off < 4 || (d[off] & 0xc0) != 0x80 || d[off + 1] < 192 || d[off + 1] > 223)
			break;
		plen = ((size_t)be16(d + off + 2) + 1) * 4;
		if (plen > len - off)
			break;
		off += plen;
	}
	if (off == len)
		return 1;
	for (i = 0; i < sizeof(tags); i++)
		if (len >= (words + 1) * 4 + 4 + tags[i] && d[len - 4 - tags[i]] == 0x80 &&
		    d[len - 3 - tags[i]] == 0)
			return 1;
	return 0;
}

/* An RTP header extension (RFC 8285): one-byte (0xBEDE) or two-byte
 * (0x100x) elements, with zero padding, filling n bytes; at least one. */
static int rtp_elements(const uint8_t *d, size_t n, int two_byte)
{
	size_t off = 0, el;
	int elements = 0;

	while (off < n) {
		if (d[off] == 0) {
			off++;
			continue;
		}
		if (two_byte) {
			if (n - off < 2)
				return 0;
			el = d[off + 1];
			off += 2;
		} else {
			if (d[off] >> 4 == 15)	/* reserved id: the rest is not parsed */
				break;
			el = (size_t)(d[off] & 15) + 1;
			off++;
		}
		if (el > n - off)
			return 0;
		off += el;
		elements++;
	}
	return elements > 0;
}

/* RTP and SRTP (RFC 3550 5.1): version 2, a payload type outside RTCP's
 * range, the CSRC list and padding inside the packet, and either a header
 * extension (WebRTC puts one on nearly every packet) or the telephony
 * layout: G.711 or G.722 frames of 10 to 40 ms. Anything else is, for one
 * packet, too close to random bytes. */
static int is_rtp(const uint8_t *d, size_t len)
{
	unsigned pt;
	size_t off, el;
	uint16_t profile;

	if (len < 12 || (d[0] & 0xc0) != 0x80)
		return 0;
	pt = d[1] & 0x7f;
	if (pt >= 72 && pt <= 76)
		return 0;
	off = 12 + 4 * (size_t)(d[0] & 15);
	if (off > len)
		return 0;
	if (d[0] & 0x10) {
		if (len - off < 4)
			return 0;
		profile = be16(d + off);
		el = 4 * (size_t)be16(d + off + 2);
		off += 4;
		if (el == 0 || el > len - off)
			return 0;
		if (profile == 0xbede) {
			if (!rtp_elements(d + off, el, 0))
				return 0;
		} else if ((profile & 0xfff0) == 0x1000) {
			if (!rtp_elements(d + off, el, 1))
				return 0;
		} else {
			return 0;
		}
		off += el;
		/* padding: its count in the last byte, inside the payload */
		return !(d[0] & 0x20) || (d[len - 1] != 0 && d[len - 1] <= len - off);
	}
	return off == 12 && !(d[0] & 0x20) && (pt == 0 || pt == 8 || pt == 9) &&
		len - 12 >= 80 && len - 12 <= 320 && (len - 12) % 80 == 0;
}

/* Text protocols. */
#define METHOD_MAX 16
#define TEXT_MIN 6

/* "NAME/d.d" at the start of d: the protocol of a request or status line;
 * *used is its length. */
static enum otherproto line_proto(const uint8_t *d, size_t n, size_t *used)
{
	static const struct {
		struct dpi_lit name;
		enum otherproto p;
	} protos[] = {
		{ DPI_LIT("HTTP/"), OTHERPROTO_HTTP },
		{ DPI_LIT("RTSP/"), OTHERPROTO_RTSP },
		{ DPI_LIT("SIP/"), OTHERPROTO_SIP },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(protos); i++) {
		size_t l = protos[i].name.len;

		if (n >= l + 3 && memcmp(d, protos[i].name.s, l) == 0 && is_digit(d[l]) &&
		    d[l + 1] == '.' && is_digit(d[l + 2])) {
			*used = l + 3;
			return protos[i].p;
		}
	}
	return OTHERPROTO_NONE;
}

/* HTTP methods whose request line may be cut by the segment's end inside
 * a long target. */
static int http_method(const uint8_t *d, size_t n)
{
	static const struct dpi_lit methods[] = {
		DPI_LIT("GET"), DPI_LIT("POST"), DPI_LIT("HEAD"), DPI_LIT("PUT"),
		DPI_LIT("DELETE"), DPI_LIT("OPTIONS"), DPI_LIT("PATCH"),
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(methods); i++)
		if (n == methods[i].len && memcmp(d, methods[i].s, n) == 0)
			return 1;
	return 0;
}

/* "METHOD SP target SP PROTO/d.d" and the line's end (when in the packet):
 * HTTP (also the HTTP/2 preface, SSDP), RTSP, SIP. */
static enum otherproto request_line(const uint8_t *d, size_t len)
{
	enum otherproto p;
	size_t i = 0, m, t, used;

	while (i < len && i <= METHOD_MAX &&
	       ((d[i] >= 'A' && d[i] <= 'Z') || d[i] == '-' || d[i] == '_'))
		i++;
	if (i < 3 || i > METHOD_MAX || i >= len || d[i] != ' ')
		return OTHERPROTO_NONE;
	m = i;
	t = ++i;
	while (i < len && d[i] > ' ' && d[i] < 0x7f)
		i++;
	if (i == t)
		return OTHERPROTO_NONE;
	if (i == len)
		return http_method(d, m) && (d[t] == '/' || d[t] == 'h') ?
			OTHERPROTO_HTTP : OTHERPROTO_NONE;
	if (d[i] != ' ')
		return OTHERPROTO_NONE;
	i++;
	p = line_proto(d + i, len - i, &used);
	if (p == OTHERPROTO_NONE)
		return OTHERPROTO_NONE;
	i += used;
	return i == len || d[i] == '\r' || d[i] == '\n' ? p : OTHERPROTO_NONE;
}

/* "PROTO/d.d NNN" and a space or the line's end. */
static enum otherproto status_line(const uint8_t *d, size_t len)
{
	enum otherproto p;
	size_t used;

	p = line_proto(d, len, &used);
	if (p == OTHERPROTO_NONE || len - used < 4 || d[used] != ' ' || !is_digit(d[used + 1]) ||
	    !is_digit(d[used + 2]) || !is_digit(d[used + 3]))
		return OTHERPROTO_NONE;
	if (len - used > 4 && d[used + 4] != ' ' && d[used + 4] != '\r' && d[used + 4] != '\n')
		return OTHERPROTO_NONE;
	return p;
}

/* Printable ASCII, tab, CR, LF and well-formed UTF-8 sequences (one cut
 * by the packet's end allowed). */
static int is_text(const uint8_t *d, size_t len)
{
	size_t i = 0, k;

	while (i < len) {
		uint8_t c = d[i++];

		if ((c >= 0x20 && c < 0x7f) || c == '\t' || c == '\r' || c == '\n')
			continue;
		if (c >= 0xc2 && c <= 0xdf)
			k = 1;
		else if (c >= 0xe0 && c <= 0xef)
			k = 2;
		else if (c >= 0xf0 && c <= 0xf4)
			k = 3;
		else
			return 0;
		for (; k > 0 && i < len; k--, i++)
			if ((d[i] & 0xc0) != 0x80)
				return 0;
	}
	return 1;
}

/* BitTorrent's own texts: bencode opening with a string key or item
 * ("d1:ad2:id20:", "d8:interval", "l4:spam") and BEP 14's BT-SEARCH. */
static int bittorrent_text(const uint8_t *d, size_t len)
{
	size_t i = 1;

	if (len >= 9 && memcmp(d, "BT-SEARCH", 9) == 0)
		return 1;
	if (len < 3 || (d[0] != 'd' && d[0] != 'l'))
		return 0;
	while (i < len && i < 8 && is_digit(d[i]))
		i++;
	return i > 1 && i < len && d[i] == ':';
}

/* Does the first line of d hold word (lower case), in any case? */
static int first_line_has(const uint8_t *d, size_t len, const char *word, size_t wl)
{
	size_t i, j;

	for (i = 0; i + wl <= len && d[i] != '\n'; i++) {
		for (j = 0; j < wl; j++)
			if ((d[i + j] | 0x20) != word[j])
				break;
		if (j == wl)
			return 1;
	}
	return 0;
}

/* Greetings and first commands of the text protocols named; TEXT for
 * other text. d[0..len) is text. */
static enum otherproto greeting(const uint8_t *d, size_t len)
{
	static const struct {
		struct dpi_lit s;
		enum otherproto p;
	} heads[] = {
		{ DPI_LIT("+OK"), OTHERPROTO_POP3 },
		{ DPI_LIT("* OK"), OTHERPROTO_IMAP },
		{ DPI_LIT("* PREAUTH"), OTHERPROTO_IMAP },
		{ DPI_LIT("* BYE"), OTHERPROTO_IMAP },
		{ DPI_LIT("EHLO "), OTHERPROTO_SMTP },
		{ DPI_LIT("HELO "), OTHERPROTO_SMTP },
		{ DPI_LIT("NICK "), OTHERPROTO_IRC },
		{ DPI_LIT("CAP LS"), OTHERPROTO_IRC },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(heads); i++)
		if (len >= heads[i].s.len && memcmp(d, heads[i].s.s, heads[i].s.len) == 0)
			return heads[i].p;
	/* "220 " or "220-": the greeting of both SMTP and FTP */
	if (len >= 4 && memcmp(d, "220", 3) == 0 && (d[3] == ' ' || d[3] == '-')) {
		if (first_line_has(d, len, "ftp", 3))
			return OTHERPROTO_FTP;
		if (first_line_has(d, len, "smtp", 4))
			return OTHERPROTO_SMTP;
	}
	/* ":server NOTICE ..." or ":server 001 ..." */
	if (d[0] == ':') {
		for (i = 1; i < len && d[i] != ' ' && d[i] != '\n'; i++)
			;
		if (len - i > 7 && d[i] == ' ' &&
		    (memcmp(d + i + 1, "NOTICE ", 7) == 0 ||
		     (is_digit(d[i + 1]) && is_digit(d[i + 2]) && is_digit(d[i + 3]) && d[i + 4] == ' ')))
			return OTHERPROTO_IRC;
	}
	return len >= TEXT_MIN ? OTHERPROTO_TEXT : OTHERPROTO_NONE;
}

static enum otherproto text_protocol(const uint8_t *d, size_t len)
{
	enum otherproto p;

	if (bittorrent_text(d, len))
		return OTHERPROTO_NONE;
	p = request_line(d, len);
	if (p == OTHERPROTO_NONE)
		p = status_line(d, len);
	if (p == OTHERPROTO_NONE && len >= 3 && is_text(d, len))
		p = greeting(d, len);
	return p;
}

enum otherproto otherproto_identify(const uint8_t *d, size_t len, int tcp)
{
	if (d == NULL || len == 0)
		return OTHERPROTO_NONE;
	if (tcp) {
		if (is_tls(d, len))
			return OTHERPROTO_TLS;
		if (is_ssh(d, len))
			return OTHERPROTO_SSH;
		if (openvpn_tcp(d, len))
			return OTHERPROTO_OPENVPN;
		if (dns_tcp(d, len))
			return OTHERPROTO_DNS;
		if (is_stun(d, len, 1))
			return OTHERPROTO_STUN;
	} else {
		if (is_quic(d, len))
			return OTHERPROTO_QUIC;
		if (is_dtls(d, len))
			return OTHERPROTO_DTLS;
		if (is_stun(d, len, 0))
			return OTHERPROTO_STUN;
		if (is_wireguard(d, len))
			return OTHERPROTO_WIREGUARD;
		if (openvpn_reset(d, len))
			return OTHERPROTO_OPENVPN;
		if (dns_message(d, len, 1))
			return OTHERPROTO_DNS;
		if (is_rtcp(d, len) || is_rtp(d, len))
			return OTHERPROTO_RTP;
	}
	return text_protocol(d, len);
}

const char *otherproto_name(enum otherproto p)
{
	static const char *const names[OTHERPROTO_COUNT] = {
		[OTHERPROTO_NONE] = "none",
		[OTHERPROTO_TLS] = "tls",
		[OTHERPROTO_HTTP] = "http",
		[OTHERPROTO_SSH] = "ssh",
		[OTHERPROTO_DNS] = "dns",
		[OTHERPROTO_QUIC] = "quic",
		[OTHERPROTO_STUN] = "stun",
		[OTHERPROTO_DTLS] = "dtls",
		[OTHERPROTO_WIREGUARD] = "wireguard",
		[OTHERPROTO_OPENVPN] = "openvpn",
		[OTHERPROTO_RTP] = "rtp",
		[OTHERPROTO_TEXT] = "text",
		[OTHERPROTO_SMTP] = "smtp",
		[OTHERPROTO_POP3] = "pop3",
		[OTHERPROTO_IMAP] = "imap",
		[OTHERPROTO_FTP] = "ftp",
		[OTHERPROTO_IRC] = "irc",
		[OTHERPROTO_SIP] = "sip",
		[OTHERPROTO_RTSP] = "rtsp",
	};

	return (unsigned)p < OTHERPROTO_COUNT ? names[p] : "";
}
