/* tls_sni.c - trackers and BitTorrent services reached over TLS, by the
 * server name of the ClientHello. The lists hold only hosts that serve
 * nothing but BitTorrent, so a match cannot be ordinary web traffic:
 * this file's, and the WebSocket trackers of WebTorrent (webtorrent.c). */
#include "sysincl.h"
#include "dpi/tls_sni.h"
#include "dpi/webtorrent.h"

/* Matched as the whole name or as a suffix after a dot; lower case, at
 * least four letters each. */
static const struct dpi_lit hosts[] = {
	DPI_LIT("utorrent.com"), DPI_LIT("bittorrent.com"),
	DPI_LIT("tracker.opentrackr.org"), DPI_LIT("open.stealth.si"),
	DPI_LIT("tracker.torrent.eu.org"), DPI_LIT("tracker.openbittorrent.com"),
	DPI_LIT("tracker.publicbt.com"), DPI_LIT("tracker.coppersurfer.tk"),
	DPI_LIT("tracker.leechers-paradise.org"), DPI_LIT("tracker.internetwarriors.net"),
	DPI_LIT("exodus.desync.com"), DPI_LIT("tracker.cyberia.is"),
	DPI_LIT("tracker.tiny-vps.com"), DPI_LIT("tracker.moeking.me"),
	DPI_LIT("tracker.dler.org"), DPI_LIT("opentracker.i2p.rocks"),
	DPI_LIT("tracker.trackerfix.com"), DPI_LIT("bt.t-ru.org"),
	DPI_LIT("tracker.gbitt.info"), DPI_LIT("tracker.files.fm"),
	DPI_LIT("tracker.bt4g.com"),
};

static uint16_t be16(const uint8_t *b)
{
	return (uint16_t)(b[0] << 8 | b[1]);
}

int tls_sni_get(const uint8_t *d, size_t len, const uint8_t **name, size_t *nlen)
{
	size_t off, end, l;

	/* record header, handshake header, version, random */
	if (len < 5 + 4 + 2 + 32 + 1 || d[0] != 0x16 || d[1] != 3 || d[5] != 1)
		return 0;
	end = 5 + (size_t)be16(d + 3);
	if (end > len)
		end = len;	/* the head may hold only part of the record */
	off = 5 + 4 + 2 + 32;
	l = d[off];			/* session id */
	off += 1 + l;
	if (off + 2 > end)
		return 0;
	off += 2 + (size_t)be16(d + off);	/* cipher suites */
	if (off + 1 > end)
		return 0;
	off += 1 + (size_t)d[off];		/* compression methods */
	if (off + 2 > end)
		return 0;
	off += 2;				/* extensions length */
	while (off + 4 <= end) {
		uint16_t type = be16(d + off);
		size_t el = be16(d + off + 2);

		off += 4;
		if (off + el > end)
			return 0;
		if (type == 0 && el >= 5) {	/* server_name: list, type, len */
			size_t hl = be16(d + off + 3);

			if (d[off + 2] != 0 || hl == 0 || 5 + hl > el)
				return 0;
			*name = d + off + 5;
			*nlen = hl;
			return 1;
		}
		off += el;
	}
	return 0;
}

static uint8_t lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + ('a' - 'A')) : c;
}

static uint32_t load32(const void *p)
{
	uint32_t w;

	memcpy(&w, p, 4);
	return w;
}

/* Does the name end with the lower-case host h (ASCII case folded)? */
static int ends_with_host(const uint8_t *n, size_t nl, const char *h, size_t hl)
{
	size_t i;

	if (nl < hl)
		return 0;
	n += nl - hl;
	for (i = 0; i < hl; i++)
		if (lower(n[i]) != (uint8_t)h[i])
			return 0;
	return 1;
}

/* A name in the server_name extension's syntax: host name letters. */
static int host_chars(const uint8_t *n, size_t nl)
{
	size_t i;

	for (i = 0; i < nl; i++)
		if (!((n[i] >= 'a' && n[i] <= 'z') || (n[i] >= 'A' && n[i] <= 'Z') ||
		      (n[i] >= '0' && n[i] <= '9') || n[i] == '.' || n[i] == '-' || n[i] == '_'))
			return 0;
	return 1;
}

/*
 * The server_name extension inside d[0..len), a later segment of a
 * ClientHello: type 0, then three lengths that must agree (extension,
 * list, name; RFC 6066 3) and a host name of 4 to 253 letters, whole in
 * the segment. Chrome's ClientHello, with a post-quantum key share, is
 * about 2 KB, longer than the stream head, and it shuffles its
 * extensions: the name may come in any segment.
 */
static int sni_search(const uint8_t *d, size_t len, const uint8_t **name, size_t *nlen)
{
	size_t i, el;

	for (i = 0; i + 9 + 4 <= len; i++) {
		if (d[i] != 0 || d[i + 1] != 0 || d[i + 6] != 0)
			continue;
		el = be16(d + i + 2);
		if (el < 9 || el > 258 || be16(d + i + 4) != el - 2 || be16(d + i + 7) != el - 5 ||
		    i + 4 + el > len || !host_chars(d + i + 9, el - 5))
			continue;
		*name = d + i + 9;
		*nlen = el - 5;
		return 1;
	}
	return 0;
}

/* The index in list of the host the name n[0..nl) is, or ends with
 * after a dot; -1 when none. tail: the name's last four letters, folded,
 * as one word, against each host's last four: most names leave the list
 * at this test. */
static int match(const uint8_t *n, size_t nl, uint32_t tail, const struct dpi_lit *list,
		 size_t count)
{
	size_t i;

	for (i = 0; i < count; i++) {
		size_t hl = list[i].len;

		if (nl < hl || load32(list[i].s + hl - 4) != tail ||
		    !ends_with_host(n, nl, list[i].s, hl))
			continue;
		if (nl == hl || n[nl - hl - 1] == '.')
			return (int)i;
	}
	return -1;
}

static enum dpi_id name_check(const uint8_t *n, size_t nl)
{
	uint8_t tail[4];
	uint32_t t;
	size_t i;

	if (nl < 4)
		return DPI_NONE;
	for (i = 0; i < 4; i++)
		tail[i] = lower(n[nl - 4 + i]);
	t = load32(tail);
	if (match(n, nl, t, hosts, ARRAY_SIZE(hosts)) >= 0)
		return DPI_TLS_TRACKER;
	if (match(n, nl, t, webtorrent_hosts, webtorrent_nhosts) >= 0)
		return DPI_WEBTORRENT;
	return DPI_NONE;
}

enum dpi_id tls_sni_segment(const struct dpi_pkt *p)
{
	const uint8_t *d = p->stream ? p->stream : p->data, *n;
	size_t len = p->stream ? p->stream_len : p->len, nl;

	/* a later segment goes on inside an extension, not with a record */
	if (p->dir_payload_pkts > 1 && len >= 6 && d[0] == 0x16 && d[1] == 3 && d[5] == 1 &&
	    5 + (size_t)be16(d + 3) > len && p->len >= 2 &&
	    !(p->data[0] >= 20 && p->data[0] <= 23 && p->data[1] == 3) &&
	    sni_search(p->data, p->len, &n, &nl))
		return name_check(n, nl);
	return DPI_NONE;
}

enum dpi_id tls_sni_check(const struct dpi_pkt *p)
{
	const uint8_t *d = p->stream ? p->stream : p->data, *n;
	size_t len = p->stream ? p->stream_len : p->len, nl;

	/* the direction's first packet may hold more than the head (GSO) */
	if (p->stream && p->dir_payload_pkts == 1 && p->len > len) {
		d = p->data;
		len = p->len;
	}
	if (tls_sni_get(d, len, &n, &nl))
		return name_check(n, nl);
	return tls_sni_segment(p);
}
