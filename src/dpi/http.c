/* http.c - BitTorrent in clear-text HTTP: tracker announce and scrape
 * (info_hash and peer_id query parameters, bencoded replies), web seeds
 * (BEP 17 piece requests, BEP 19 range requests from a client), magnet
 * links, Azureus-style peer-ids and client user agents. */
#include "sysincl.h"
#include "dpi/http.h"
#include "dpi/bencode.h"

/* User-Agent prefixes of programs that only do BitTorrent. */
static const struct dpi_lit agents[] = {
	DPI_LIT("uTorrent"), DPI_LIT("\xc2\xb5Torrent"), DPI_LIT("BitTorrent"),
	DPI_LIT("BTWebClient"), DPI_LIT("Transmission"), DPI_LIT("qBittorrent"),
	DPI_LIT("libtorrent"), DPI_LIT("rtorrent"), DPI_LIT("Deluge"), DPI_LIT("Azureus"),
	DPI_LIT("Vuze"), DPI_LIT("BitComet"), DPI_LIT("BiglyBT"), DPI_LIT("Tixati"),
	DPI_LIT("KTorrent"), DPI_LIT("BitLord"), DPI_LIT("Shareaza"), DPI_LIT("FrostWire"),
	DPI_LIT("WebTorrent"), DPI_LIT("Tribler"), DPI_LIT("BitSpirit"), DPI_LIT("Xunlei"),
};

/* A needle searched for with Horspool, so that a head filled with the
 * needle's first letter costs a skip per byte, not a compare. The skip
 * table is built once at start-up, not per search: most heads are short
 * and the table would cost more than the search. */
struct needle {
	const char *s;
	size_t len;
	uint8_t shift[256];
};

#define NEEDLE(str) { str, sizeof(str) - 1, { 0 } }

static struct needle n_head_end = NEEDLE("\r\n\r\n");
static struct needle n_info_hash = NEEDLE("info_hash=");
static struct needle n_piece = NEEDLE("piece=");
static struct needle n_peer_id = NEEDLE("peer_id=");
static struct needle n_announce = NEEDLE("/announce");
static struct needle n_scrape = NEEDLE("/scrape");
static struct needle n_magnet = NEEDLE("magnet:?xt=urn:btih:");

static void needle_prepare(struct needle *n)
{
	size_t i;

	memset(n->shift, (int)n->len, sizeof(n->shift));
	for (i = 0; i + 1 < n->len; i++)
		n->shift[(uint8_t)n->s[i]] = (uint8_t)(n->len - 1 - i);
}

/* Before main and any worker thread: the tables are read-only after. */
static void __attribute__((constructor)) needles_prepare(void)
{
	needle_prepare(&n_head_end);
	needle_prepare(&n_info_hash);
	needle_prepare(&n_piece);
	needle_prepare(&n_peer_id);
	needle_prepare(&n_announce);
	needle_prepare(&n_scrape);
	needle_prepare(&n_magnet);
}

/* Find needle n in h[0..hl). */
static const uint8_t *find(const uint8_t *h, size_t hl, const struct needle *n)
{
	size_t nl = n->len, i;
	uint8_t last = (uint8_t)n->s[nl - 1];

	if (nl > hl)
		return NULL;
	for (i = 0; i + nl <= hl; i += n->shift[h[i + nl - 1]])
		if (h[i + nl - 1] == last && memcmp(h + i, n->s, nl - 1) == 0)
			return h + i;
	return NULL;
}

/* The value of header name within the header block h[0..hl), up to the
 * end of line; NULL when absent. */
static const uint8_t *header(const uint8_t *h, size_t hl, const char *name, size_t *vl)
{
	size_t nl = strlen(name), off = 0;

	while (off < hl) {
		const uint8_t *eol = memchr(h + off, '\n', hl - off);
		size_t line = eol ? (size_t)(eol - (h + off)) : hl - off;

		if (line > nl && h[off + nl] == ':' &&
		    strncasecmp((const char *)h + off, name, nl) == 0) {
			size_t v = off + nl + 1;

			while (v < off + line && h[v] == ' ')
				v++;
			*vl = off + line - v;
			return h + v;
		}
		off += line + 1;
	}
	return NULL;
}

/* "-XX1234-": two letters and four version characters between dashes. */
static int azureus_peer_id(const uint8_t *s, size_t n)
{
	size_t i;

	if (n < 8 || s[0] != '-' || s[7] != '-')
		return 0;
	for (i = 1; i < 3; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z')))
			return 0;
	for (i = 3; i < 7; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= 'a' && s[i] <= 'z')))
			return 0;
	return 1;
}

static int known_agent(const uint8_t *v, size_t vl)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(agents); i++)
		if (vl >= agents[i].len && v[0] == (uint8_t)agents[i].s[0] &&
		    memcmp(v, agents[i].s, agents[i].len) == 0)
			return 1;
	return 0;
}

static int is_method(const uint8_t *d, size_t len)
{
	return (len >= 4 && (memcmp(d, "GET ", 4) == 0 || memcmp(d, "PUT ", 4) == 0)) ||
		(len >= 5 && (memcmp(d, "POST ", 5) == 0 || memcmp(d, "HEAD ", 5) == 0));
}

/* Bencoded tracker replies open with one of these keys (sorted dicts). */
static const struct dpi_lit reply_heads[] = {
	DPI_LIT("d8:completei"), DPI_LIT("d10:incompletei"), DPI_LIT("d8:intervali"),
	DPI_LIT("d5:peers"), DPI_LIT("d5:filesd"), DPI_LIT("d14:failure reason"),
	DPI_LIT("d10:downloadedi"), DPI_LIT("d15:warning message"),
	DPI_LIT("d12:min intervali"), DPI_LIT("d10:tracker id"),
};

static const uint8_t *body_of(const uint8_t *d, size_t len, size_t *bl)
{
	const uint8_t *e = find(d, len, &n_head_end);

	if (!e)
		return NULL;
	*bl = len - (size_t)(e + 4 - d);
	return e + 4;
}

static enum dpi_id request(const uint8_t *d, size_t len)
{
	const uint8_t *eol = memchr(d, '\n', len), *q, *v;
	size_t rl = eol ? (size_t)(eol - d) : len, vl;

	/* The request line: tracker and BEP 17 seeds by their parameters. */
	if (find(d, rl, &n_info_hash)) {
		if (find(d, rl, &n_piece))
			return DPI_WEBSEED;
		if (find(d, rl, &n_peer_id) || find(d, rl, &n_announce) ||
		    find(d, rl, &n_scrape))
			return DPI_HTTP_TRACKER;
	}
	q = find(d, rl, &n_peer_id);
	if (q && azureus_peer_id(q + 8, rl - (size_t)(q + 8 - d)))
		return DPI_PEER_ID;
	if (!eol)
		return DPI_NONE;
	v = header(eol + 1, len - rl - 1, "User-Agent", &vl);
	if (v && known_agent(v, vl))
		return header(eol + 1, len - rl - 1, "Range", &vl) ? DPI_WEBSEED :
			DPI_USER_AGENT;
	return DPI_NONE;
}

static enum dpi_id reply(const uint8_t *d, size_t len)
{
	const uint8_t *b;
	size_t bl, i;

	b = body_of(d, len, &bl);
	if (!b)
		return DPI_NONE;
	for (i = 0; i < ARRAY_SIZE(reply_heads); i++)
		if (bl >= reply_heads[i].len && memcmp(b, reply_heads[i].s, reply_heads[i].len) == 0)
			return DPI_HTTP_TRACKER;
	return DPI_NONE;
}

/* Clear text starts with printable characters; binary heads are not
 * searched for magnet links. */
static int looks_text(const uint8_t *d, size_t len)
{
	size_t i, n = len < 16 ? len : 16;

	for (i = 0; i < n; i++)
		if ((d[i] < 0x20 && d[i] != '\t' && d[i] != '\r' && d[i] != '\n') || d[i] > 0x7e)
			return 0;
	return 1;
}

enum dpi_id http_check(const struct dpi_pkt *p)
{
	const uint8_t *d = p->stream ? p->stream : p->data;
	size_t len = p->stream ? p->stream_len : p->len;
	enum dpi_id r = DPI_NONE;

	if (len < 8)
		return DPI_NONE;
	if (is_method(d, len))
		r = request(d, len);
	else if (memcmp(d, "HTTP/1.", 7) == 0)
		r = reply(d, len);
	if (r == DPI_NONE && looks_text(d, len) && find(d, len, &n_magnet))
		r = DPI_MAGNET;
	return r;
}

void http_learn(const struct dpi_pkt *p)
{
	const uint8_t *d = p->stream ? p->stream : p->data, *b, *s;
	size_t len = p->stream ? p->stream_len : p->len, bl, sl;
	long vl;

	if (len < 8 || memcmp(d, "HTTP/1.", 7) != 0)
		return;
	b = body_of(d, len, &bl);
	if (!b || bl < 2 || b[0] != 'd')
		return;
	vl = bencode_value_len(b, bl);
	if (vl < 0)
		return;
	if (bencode_dict_str(b, (size_t)vl, "peers", &s, &sl) && sl % 6 == 0)
		dpi_learn_compact(p, s, sl, 4);
	if (bencode_dict_str(b, (size_t)vl, "peers6", &s, &sl) && sl % 18 == 0)
		dpi_learn_compact(p, s, sl, 6);
}
