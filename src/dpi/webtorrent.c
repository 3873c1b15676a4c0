/* webtorrent.c - WebTorrent signalling. A WebTorrent client finds its
 * peers through a WebSocket tracker (ws:// or wss://): JSON text frames
 * (RFC 6455) whose announce carries the torrent's info_hash and SDP
 * offers; the tracker relays offers and answers between the peers, which
 * then meet over a WebRTC data channel (STUN, DTLS and SCTP over UDP),
 * shaped exactly like a call's.
 *
 * What counts is the tracker's own vocabulary in a frame's JSON, never
 * WebSocket or WebRTC alone: "action" announce or scrape with a 20-byte
 * binary "info_hash", or "offer_id" and "to_peer_id" with an SDP that
 * opens a data channel. A chat's JSON, Socket.IO, a call's signalling
 * ("sdp", "candidate", audio and video m-lines) carry none of these.
 *
 * Clear-text WebSocket is read from the stream head: the Upgrade request
 * or its 101 answer, then the frames after it, unmasked with the client's
 * key; a frame split over segments is whole in the head as far as the
 * head reaches (--stream-prefix). A packet that starts with frames is
 * read on its own (no head, a flow caught mid-stream). Compressed frames
 * (permessage-deflate, RSV1) are not read. WebSocket over TLS is known
 * only by the tracker's server name: webtorrent_hosts, matched in
 * tls_sni.c. */
#include "sysincl.h"
#include "dpi/webtorrent.h"

#include <arpa/inet.h>
#include <netinet/in.h>

/* Public WebSocket trackers that serve nothing but WebTorrent and its
 * kin, from the defaults of the webtorrent project's create-torrent,
 * P2P Media Loader's defaults, older webtorrent releases and the public
 * WebSocket tracker lists. tracker.files.fm serves BitTorrent over HTTPS
 * as well and is in tls_sni.c's list. btblockd(8) says how to keep this
 * list current. */
const struct dpi_lit webtorrent_hosts[] = {
	DPI_LIT("tracker.openwebtorrent.com"), DPI_LIT("tracker.webtorrent.dev"),
	DPI_LIT("tracker.btorrent.xyz"), DPI_LIT("tracker.webtorrent.io"),
	DPI_LIT("tracker.fastcast.nz"), DPI_LIT("tracker.novage.com.ua"),
	DPI_LIT("tracker.sloppyta.co"), DPI_LIT("tracker.magnetoo.io"),
};
const size_t webtorrent_nhosts = ARRAY_SIZE(webtorrent_hosts);

#define WS_WINDOW 2048		/* payload bytes of a frame read */
#define WS_FRAMES 8		/* frames read per head or packet */
#define WS_CANDIDATES 16	/* ICE candidates learned per packet */
#define INFO_HASH_LEN 20

struct ws_frame {
	uint64_t len;		/* payload length */
	size_t hdr;		/* header length, masking key included */
	uint8_t key[4];
	uint8_t opcode;
	uint8_t masked;
};

static int blank(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static uint8_t lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + ('a' - 'A')) : c;
}

/* s[0..sl) (two bytes at least) in h[0..hl), or NULL. A plain loop, no
 * call per candidate: a haystack made of the needle's first letter costs
 * a compare per byte. */
static const uint8_t *find(const uint8_t *h, size_t hl, const char *s, size_t sl)
{
	size_t i;

	for (i = 0; i + sl <= hl; i++)
		if (h[i] == (uint8_t)s[0] && h[i + 1] == (uint8_t)s[1] &&
		    memcmp(h + i + 2, s + 2, sl - 2) == 0)
			return h + i;
	return NULL;
}

#define FIND(h, hl, lit) find(h, hl, lit, sizeof(lit) - 1)

/*
 * A frame header at d[0..n) (RFC 6455 5.2): 1 and *f filled, 0 when it
 * is cut short, -1 when it is not one: reserved bits (extensions; the
 * payload of permessage-deflate is compressed) or opcodes, a control
 * frame fragmented or longer than 125 bytes, a length not in its
 * shortest form.
 */
static int ws_header(const uint8_t *d, size_t n, struct ws_frame *f)
{
	uint8_t l7;
	size_t ext, i;

	if (n < 2)
		return 0;
	f->opcode = d[0] & 0x0f;
	f->masked = d[1] >> 7;
	l7 = d[1] & 0x7f;
	if ((d[0] & 0x70) || (f->opcode > 2 && f->opcode < 8) || f->opcode > 10)
		return -1;
	if (f->opcode >= 8 && (!(d[0] & 0x80) || l7 > 125))
		return -1;
	ext = l7 == 126 ? 2 : l7 == 127 ? 8 : 0;
	f->hdr = 2 + ext + (f->masked ? 4 : 0);
	if (n < f->hdr)
		return 0;
	f->len = l7;
	if (ext) {
		f->len = 0;
		for (i = 0; i < ext; i++)
			f->len = f->len << 8 | d[2 + i];
		if ((ext == 2 && f->len < 126) || (ext == 8 && (f->len >> 63 || f->len <= 0xffff)))
			return -1;
	}
	if (f->masked)
		memcpy(f->key, d + 2 + ext, 4);
	return 1;
}

/* Where the values of the keys that matter start in a JSON text, past
 * the colon and blanks (the first of each name), or NULL. */
struct json_keys {
	const uint8_t *action, *info_hash, *offer_id, *to_peer_id;
};

#define KEY_IS(p, kl, lit) ((kl) == sizeof(lit) - 1 && memcmp(p, lit, sizeof(lit) - 1) == 0)

/* One pass over j[0..n): every string skipped whole in a plain loop
 * (escapes included), and a string followed by a colon is a key. A
 * text of nothing but quotes costs a few compares per byte. */
static void json_keys(const uint8_t *j, size_t n, struct json_keys *k)
{
	const uint8_t *end = j + n, *p = j, *q, *v;
	size_t kl;

	memset(k, 0, sizeof(*k));
	for (;;) {
		while (p < end && *p != '"')
			p++;
		if (p == end)
			return;
		for (q = p + 1; q < end && *q != '"'; q++)
			if (*q == '\\' && ++q == end)
				break;
		if (q == end)
			return;
		for (v = q + 1; v < end && blank(*v); v++)
			;
		if (v < end && *v == ':') {
			for (v++; v < end && blank(*v); v++)
				;
			kl = (size_t)(q - p - 1);
			if (KEY_IS(p + 1, kl, "action") && !k->action)
				k->action = v;
			else if (KEY_IS(p + 1, kl, "info_hash") && !k->info_hash)
				k->info_hash = v;
			else if (KEY_IS(p + 1, kl, "offer_id") && !k->offer_id)
				k->offer_id = v;
			else if (KEY_IS(p + 1, kl, "to_peer_id") && !k->to_peer_id)
				k->to_peer_id = v;
		}
		p = q + 1;
	}
}

/* The characters of the JSON string at s[0..n) (past its opening quote)
 * up to its closing quote, when each is a byte value (U+0000 to U+00FF:
 * a binary string as JavaScript sends one) and there are at most max;
 * -1 for anything else, a string cut short included. */
static int json_bytes(const uint8_t *s, size_t n, int max)
{
	size_t i = 0;
	int chars = 0;

	while (i < n && chars <= max) {
		uint8_t c = s[i];

		if (c == '"')
			return chars;
		if (c == '\\') {
			if (i + 1 >= n)
				return -1;
			c = s[i + 1];
			if (c == 'u') {
				if (i + 6 > n || s[i + 2] != '0' || s[i + 3] != '0' ||
				    hex_value(s[i + 4]) < 0 || hex_value(s[i + 5]) < 0)
					return -1;
				i += 6;
			} else if (c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' ||
				   c == 'n' || c == 'r' || c == 't') {
				i += 2;
			} else {
				return -1;
			}
		} else if (c < 0x20) {
			return -1;
		} else if (c < 0x80) {
			i++;
		} else if ((c == 0xc2 || c == 0xc3) && i + 1 < n && (s[i + 1] & 0xc0) == 0x80) {
			i += 2;		/* U+0080 to U+00FF in UTF-8 */
		} else {
			return -1;
		}
		chars++;
	}
	return -1;
}

/* "info_hash": a 20-byte binary string, or a list whose first item is
 * one (a scrape of several torrents). */
static int info_hash_value(const uint8_t *v, const uint8_t *end)
{
	if (v < end && *v == '[')
		for (v++; v < end && blank(*v); v++)
			;
	if (v >= end || *v != '"')
		return 0;
	return json_bytes(v + 1, (size_t)(end - v - 1), INFO_HASH_LEN) == INFO_HASH_LEN;
}

static int action_value(const uint8_t *v, const uint8_t *end)
{
	size_t n = (size_t)(end - v);

	return (n >= 10 && memcmp(v, "\"announce\"", 10) == 0) ||
		(n >= 8 && memcmp(v, "\"scrape\"", 8) == 0);
}

/* An SDP media line that opens a data channel ("m=application 9
 * UDP/DTLS/SCTP webrtc-datachannel", or the older "DTLS/SCTP 5000"),
 * inside a JSON string: it starts the string or follows an escaped line
 * feed, and ends at the next escape or quote. */
static int sdp_data_channel(const uint8_t *j, size_t n)
{
	const uint8_t *end = j + n, *m = j, *eol;

	while ((m = FIND(m, (size_t)(end - m), "m=application ")) != NULL) {
		int line_start = (m - j >= 1 && m[-1] == '"') ||
			(m - j >= 2 && m[-2] == '\\' && m[-1] == 'n');

		for (eol = m; eol < end && *eol != '\\' && *eol != '"'; eol++)
			;
		if (line_start && (FIND(m, (size_t)(eol - m), " webrtc-datachannel") ||
				   FIND(m, (size_t)(eol - m), " DTLS/SCTP")))
			return 1;
		m = eol;
	}
	return 0;
}

/* The first n bytes of a text message: a WebTorrent tracker message? */
static int tracker_message(const uint8_t *j, size_t n)
{
	const uint8_t *end = j + n;
	struct json_keys k;

	while (j < end && blank(*j))
		j++;
	if (j >= end || *j != '{')
		return 0;
	json_keys(j, (size_t)(end - j), &k);
	if (k.action && action_value(k.action, end) && k.info_hash &&
	    info_hash_value(k.info_hash, end))
		return 1;
	return k.offer_id && k.to_peer_id && sdp_data_channel(j, (size_t)(end - j));
}

/* The payload of frame f at pl, as far as avail bytes go and at most
 * WS_WINDOW: unmasked into buf when masked. Returns its start, *w its
 * length. */
static const uint8_t *ws_payload(const struct ws_frame *f, const uint8_t *pl, size_t avail,
				 uint8_t *buf, size_t *w)
{
	size_t i, n = avail < WS_WINDOW ? avail : WS_WINDOW;

	if ((uint64_t)n > f->len)
		n = (size_t)f->len;
	*w = n;
	if (!f->masked)
		return pl;
	for (i = 0; i < n; i++)
		buf[i] = pl[i] ^ f->key[i & 3];
	return buf;
}

/* Frames from d[0..n) of one side: masked 1 for a client's, 0 for a
 * server's, -1 for whichever the first frame is. DPI_WEBTORRENT when a
 * text frame opens a tracker message. */
static enum dpi_id ws_scan(const uint8_t *d, size_t n, int masked)
{
	uint8_t buf[WS_WINDOW];
	struct ws_frame f;
	size_t off = 0, avail, w;
	const uint8_t *pl;
	int k;

	for (k = 0; k < WS_FRAMES && off < n; k++) {
		if (ws_header(d + off, n - off, &f) <= 0)
			break;
		if (masked < 0)
			masked = f.masked;
		else if (f.masked != masked)
			break;		/* not this side's frames */
		avail = n - off - f.hdr;
		if (f.opcode == 1 && avail) {
			pl = ws_payload(&f, d + off + f.hdr, avail, buf, &w);
			if (tracker_message(pl, w))
				return DPI_WEBTORRENT;
		}
		if (f.len >= avail)
			break;
		off += f.hdr + (size_t)f.len;
	}
	return DPI_NONE;
}

/* Is the header line h[0..n) the header name (lower case)? Then its
 * value, blanks trimmed, and *vl its length; else NULL. */
static const uint8_t *header_value(const uint8_t *h, size_t n, const char *name, size_t nl,
				   size_t *vl)
{
	size_t i;

	if (n <= nl || h[nl] != ':')
		return NULL;
	for (i = 0; i < nl; i++)
		if (lower(h[i]) != (uint8_t)name[i])
			return NULL;
	for (i = nl + 1; i < n && blank(h[i]); i++)
		;
	*vl = n - i;
	while (*vl && blank(h[i + *vl - 1]))
		(*vl)--;
	return h + i;
}

#define HEADER_VALUE(h, n, lit, vl) header_value(h, n, lit, sizeof(lit) - 1, vl)

/* d[0..n) opens a WebSocket: the client's Upgrade request (*client 1)
 * or the server's 101 answer (0). Returns the offset of the first frame
 * (past the blank line), or 0 when it does not, or not yet. One walk
 * over the header lines: every HTTP request head comes here. */
static size_t ws_handshake(const uint8_t *d, size_t n, int *client)
{
	static const char ws[] = "websocket";
	const uint8_t *eol, *v;
	size_t off, line, vl, i;
	int upgrade = 0, key = 0;

	if (n >= 4 && memcmp(d, "GET ", 4) == 0)
		*client = 1;
	else if (n >= 13 && memcmp(d, "HTTP/1.1 101 ", 13) == 0)
		*client = 0;
	else
		return 0;
	for (off = 0; off < n; off += line + 1) {
		eol = memchr(d + off, '\n', n - off);
		if (!eol)
			return 0;
		line = (size_t)(eol - (d + off));
		if (off == 0)
			continue;	/* the request or status line */
		if (line == 0 || (line == 1 && d[off] == '\r'))
			return (*client ? upgrade && key : key) ? off + line + 1 : 0;
		switch (lower(d[off])) {
		case 'u':
			v = HEADER_VALUE(d + off, line, "upgrade", &vl);
			if (v && vl == sizeof(ws) - 1) {
				for (i = 0; i < vl && lower(v[i]) == (uint8_t)ws[i]; i++)
					;
				upgrade = i == vl;
			}
			break;
		case 's':
			if (*client ? HEADER_VALUE(d + off, line, "sec-websocket-key", &vl) != NULL :
			    HEADER_VALUE(d + off, line, "sec-websocket-accept", &vl) != NULL)
				key = 1;
			break;
		}
	}
	return 0;
}

enum dpi_id webtorrent_check(const struct dpi_pkt *p)
{
	const uint8_t *d = p->stream ? p->stream : p->data;
	size_t n = p->stream ? p->stream_len : p->len, off;
	int client;

	off = ws_handshake(d, n, &client);
	if (!off || off >= n)
		return DPI_NONE;
	return ws_scan(d + off, n - off, client);
}

enum dpi_id webtorrent_frame_check(const struct dpi_pkt *p)
{
	/* a text frame, whole or the first of a message, reserved bits clear */
	if (p->len < 2 || (p->data[0] & 0x7f) != 0x01)
		return DPI_NONE;
	return ws_scan(p->data, p->len, -1);
}

static int digits(const uint8_t *s, size_t n, size_t max)
{
	size_t i;

	if (n == 0 || n > max)
		return 0;
	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

/* The ICE candidates of SDP text (RFC 8839 5.1) in j[0..n):
 * "candidate:<foundation> <component> <transport> <priority> <address>
 * <port> typ <type> ...": UDP ones with a literal address (an mDNS name
 * names no address), up to *budget of them. */
static void learn_candidates(const struct dpi_pkt *p, const uint8_t *j, size_t n, int *budget)
{
	const uint8_t *end = j + n, *c = j, *tok[7];
	size_t tl[7], i, k;

	while (*budget > 0 && (c = FIND(c, (size_t)(end - c), "candidate:")) != NULL) {
		const uint8_t *t = c + 10;
		char a[INET6_ADDRSTRLEN];
		uint8_t addr[16];
		unsigned long port = 0;
		int family;

		c = t;
		for (k = 0; k < 7; k++) {
			tok[k] = t;
			while (t < end && *t != ' ' && *t != '\\' && *t != '"')
				t++;
			tl[k] = (size_t)(t - tok[k]);
			if (tl[k] == 0 || (k < 6 && (t >= end || *t != ' ')))
				break;
			t++;
		}
		if (k < 7 || tl[6] != 3 || memcmp(tok[6], "typ", 3) != 0 || !digits(tok[1], tl[1], 3) ||
		    tl[2] != 3 || lower(tok[2][0]) != 'u' || lower(tok[2][1]) != 'd' ||
		    lower(tok[2][2]) != 'p' || !digits(tok[3], tl[3], 10) || !digits(tok[5], tl[5], 5) ||
		    tl[4] >= sizeof(a))
			continue;
		for (i = 0; i < tl[5]; i++)
			port = port * 10 + (unsigned long)(tok[5][i] - '0');
		memcpy(a, tok[4], tl[4]);
		a[tl[4]] = '\0';
		family = memchr(a, ':', tl[4]) ? 6 : 4;
		if (port > 65535 || inet_pton(family == 6 ? AF_INET6 : AF_INET, a, addr) != 1)
			continue;
		dpi_learn_webrtc(p, family, addr, (uint16_t)port);
		(*budget)--;
	}
}

void webtorrent_learn(const struct dpi_pkt *p)
{
	const uint8_t *d = p->data, *pl;
	size_t n = p->len, off = 0, avail, w;
	struct ws_frame f;
	int client, k, budget = WS_CANDIDATES;

	if (!p->learn_webrtc || n < 2)
		return;
	if (d[0] == 'H') {
		off = ws_handshake(d, n, &client);
		if (!off || client)
			return;
	}
	for (k = 0; k < WS_FRAMES && off < n; k++) {
		if (ws_header(d + off, n - off, &f) <= 0 || f.masked)
			return;		/* only the server's frames */
		avail = n - off - f.hdr;
		if (f.opcode == 1 && avail) {
			pl = ws_payload(&f, d + off + f.hdr, avail, NULL, &w);
			if (tracker_message(pl, w))
				learn_candidates(p, pl, w, &budget);
		}
		if (f.len >= avail)
			return;
		off += f.hdr + (size_t)f.len;
	}
}
