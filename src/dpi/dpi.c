/* dpi.c - the detector registry: the table of what is known of each
 * detector, and the dispatch of a packet to the detectors of src/dpi/
 * that apply to it. The dispatch is code, not a walk over the table: the
 * detectors have guards of their own (first bytes, stream head or
 * packet, packets per direction) and the TCP text window, which a table
 * would turn into an indirect call per detector per packet. */
#include "sysincl.h"
#include "dpi/dpi.h"
#include "packet.h"
#include "dpi/peerwire.h"
#include "dpi/dht.h"
#include "dpi/udp_tracker.h"
#include "dpi/http.h"
#include "dpi/tls_sni.h"
#include "dpi/lsd.h"
#include "dpi/utp.h"
#include "dpi/mse.h"
#include "dpi/socks5.h"
#include "dpi/webtorrent.h"

#include <netinet/in.h>

/* One row per detector id, DPI_NONE's empty (test_dpi_registry checks
 * that every other id has a name of its own). */
static const struct dpi_detector detectors[DPI_COUNT] = {
	[DPI_NONE] = { .name = "" },
	[DPI_BT_HANDSHAKE] = { .name = "bt-handshake" },
	[DPI_BT_FRAMING] = { .name = "bt-framing" },
	[DPI_BT_EXTENSION] = { .name = "bt-extension" },
	[DPI_DHT] = { .name = "dht" },
	[DPI_UDP_TRACKER] = { .name = "udp-tracker" },
	[DPI_HTTP_TRACKER] = { .name = "http-tracker" },
	[DPI_WEBSEED] = { .name = "webseed" },
	[DPI_MAGNET] = { .name = "magnet" },
	[DPI_PEER_ID] = { .name = "peer-id" },
	[DPI_USER_AGENT] = { .name = "user-agent" },
	[DPI_TLS_TRACKER] = { .name = "tls-tracker" },
	[DPI_LSD] = { .name = "lsd" },
	[DPI_UTP] = { .name = "utp" },
	[DPI_MSE] = { .name = "mse" },
	[DPI_SOCKS5] = { .name = "socks5" },
	[DPI_WEBTORRENT] = { .name = "webtorrent" },
	[DPI_ENDPOINT] = { .name = "endpoint-cache" },
};

const struct dpi_detector *dpi_detector(enum dpi_id id)
{
	return &detectors[(unsigned)id < DPI_COUNT ? id : DPI_NONE];
}

const char *dpi_name(enum dpi_id id)
{
	return dpi_detector(id)->name;
}

/* Bytes of a packet the clear-text tests read when the flow has no
 * stream head (the pool ran dry): what a head holds with the default
 * stream prefix. Without this bound a 64 KiB GSO packet of HTTP-looking
 * text on each of many new flows would cost tens of microseconds apiece. */
#define DPI_TEXT_WINDOW 1024

/* TCP: the stream head decides the handshake, HTTP, WebSocket and TLS
 * tests; the framers cover flows caught after their start. */
static enum dpi_id inspect_tcp(struct dpi_flow *st, const struct dpi_pkt *p)
{
	enum dpi_id r;
	const uint8_t *h = p->stream ? p->stream : p->data;
	uint32_t hl = p->stream ? p->stream_len : p->len;

	if (p->stream_grew || !p->stream) {
		r = peerwire_handshake(p);
		if (r)
			return r;
		/* clear-text heads: HTTP (and magnet links in any text), TLS */
		if (p->dir_payload_pkts <= 4 && hl >= 8) {
			const struct dpi_pkt *tp = p;
			struct dpi_pkt text;

			if (!p->stream && p->len > DPI_TEXT_WINDOW) {
				text = *p;	/* copied only when cut */
				text.len = DPI_TEXT_WINDOW;
				tp = &text;
			}
			/* TLS jumps by lengths: the whole packet, not a window */
			r = h[0] == 0x16 ? tls_sni_check(p) : http_check(tp);
			if (r)
				return r;
			if (h[0] == 'G' || h[0] == 'H') {
				r = webtorrent_check(tp);
				if (r)
					return r;
			}
		}
	}
	/* the rest of a ClientHello longer than the head (Chrome's is about
	 * 2 KB): the server name may be in a segment past the head */
	else if (p->stream && p->stream[0] == 0x16 && p->dir_payload_pkts <= 4) {
		r = tls_sni_segment(p);
		if (r)
			return r;
	}
	/* a WebSocket text frame at the packet's start: one first byte tells */
	if (p->len >= 2 && (p->data[0] & 0x7f) == 0x01) {
		r = webtorrent_frame_check(p);
		if (r)
			return r;
	}
	if (!p->start_seen) {
		r = peerwire_framing(st, p);
		return r ? r : mse_midstream_check(st, p);
	}
	return mse_check(st, p);
}

static enum dpi_id inspect_udp(struct dpi_flow *st, const struct dpi_pkt *p)
{
	enum dpi_id r;
	const uint8_t *d = p->data;

	if (p->len == 0)
		return DPI_NONE;
	if (d[0] == 'd' && dht_check(st, d, p->len, p) == DPI_DHT)
		return DPI_DHT;
	if (d[0] == 'B' && lsd_check(d, p->len) == DPI_LSD)
		return DPI_LSD;
	r = udp_tracker_check(st, p);
	if (r)
		return r;
	r = utp_check(st, p);
	if (r)
		return r;
	if (d[0] == 0 && p->len >= 10 && d[1] == 0)
		return socks5_check(p);
	return DPI_NONE;
}

enum dpi_id dpi_inspect(struct dpi_flow *st, const struct dpi_pkt *p)
{
	enum dpi_id r = DPI_NONE;

	if (p->v->l4proto == IPPROTO_TCP) {
		r = inspect_tcp(st, p);
		/* evidence, not proof: returned before the marking below */
		if (r == DPI_NONE)
			return st->mse.candidate ? mse_known_responder(st, p) : DPI_NONE;
	} else if (p->v->l4proto == IPPROTO_UDP) {
		r = inspect_udp(st, p);
	}
	/* the packet that settled it; a detector judging both directions
	 * has marked the other one itself */
	if (r != DPI_NONE)
		st->proof |= (uint8_t)(1u << p->dir);
	return r;
}

void dpi_learn_blocked(struct dpi_flow *st, const struct dpi_pkt *p)
{
	if (p->len == 0)
		return;
	if (p->v->l4proto == IPPROTO_UDP) {
		if (p->data[0] == 'd')
			(void)dht_check(st, p->data, p->len, p);
		else
			udp_tracker_learn(st, p);
	} else if (p->v->l4proto == IPPROTO_TCP) {
		peerwire_learn_blocked(st, p);
		/* a tracker's answer on the flow whose request, from the
		 * protected side, got it blocked */
		if (p->to_protected && (st->proof & (1u << !p->dir))) {
			http_learn(p);
			webtorrent_learn(p);
		}
	}
}

int dpi_midstream(const struct dpi_flow *st, int l4proto, int start_seen)
{
	if (l4proto == IPPROTO_TCP)
		return !start_seen;
	return l4proto == IPPROTO_UDP && utp_midstream(&st->utp);
}
