/* udp_tracker.c - the UDP tracker protocol (BEP 15): the connect request
 * by its 64-bit magic, announce and scrape by the connection id the
 * tracker handed out earlier on the same flow. */
#include "sysincl.h"
#include "dpi/udp_tracker.h"
#include "dpi/dpi.h"
#include "packet.h"

static const uint8_t magic[8] = { 0x00, 0x00, 0x04, 0x17, 0x27, 0x10, 0x19, 0x80 };

enum { ACT_CONNECT = 0, ACT_ANNOUNCE = 1, ACT_SCRAPE = 2, ACT_ERROR = 3 };

static uint32_t be32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

int udp_tracker_is_connect(const uint8_t *data, size_t len)
{
	/* 16 bytes; some clients pad (BEP 41 options) */
	return len >= 16 && len <= 64 && memcmp(data, magic, 8) == 0 &&
		be32(data + 8) == ACT_CONNECT;
}

/* A request of the protected side: its transaction id is what an
 * answer must carry to be learned from. */
static void note_request(struct dpi_flow *st, const struct dpi_pkt *p)
{
	if (!p->from_protected)
		return;
	st->udptrk.tid = be32(p->data + 12);
	st->udptrk.req_dir = (uint8_t)(1 + p->dir);
}

enum dpi_id udp_tracker_check(struct dpi_flow *st, const struct dpi_pkt *p)
{
	const uint8_t *d = p->data;
	uint32_t len = p->len;

	if (udp_tracker_is_connect(d, len)) {
		note_request(st, p);
		return DPI_UDP_TRACKER;
	}
	if (len < 16)
		return DPI_NONE;
	/* A connect reply: action 0, transaction id, connection id. Alone it
	 * proves nothing; it arms the check of the next request. */
	if (len == 16 && be32(d) == ACT_CONNECT) {
		st->udptrk.conn_set = 1;
		st->udptrk.conn_dir = (uint8_t)(1 + p->dir);
		memcpy(st->udptrk.conn, d + 8, 8);
		return DPI_NONE;
	}
	if (st->udptrk.conn_set && st->udptrk.conn_dir != 1 + p->dir &&
	    memcmp(d, st->udptrk.conn, 8) == 0) {
		uint32_t action = be32(d + 8);

		if ((action == ACT_ANNOUNCE && len >= 98) ||
		    (action == ACT_SCRAPE && len >= 36 && (len - 16) % 20 == 0)) {
			note_request(st, p);
			return DPI_UDP_TRACKER;
		}
	}
	return DPI_NONE;
}

void udp_tracker_learn(struct dpi_flow *st, const struct dpi_pkt *p)
{
	const uint8_t *d = p->data;
	size_t psz = p->v->family == 6 ? 18 : 6;

	if (p->len >= 16 && (udp_tracker_is_connect(d, p->len) ||
			     (p->len >= 98 && be32(d + 8) == ACT_ANNOUNCE))) {
		note_request(st, p);
		return;
	}
	/* An answer, from the other side, to the protected side's last
	 * request: action, transaction id, then for an announce interval,
	 * leechers, seeders and compact peers of the flow's family. */
	if (st->udptrk.req_dir != 2 - p->dir || p->len < 16 || be32(d + 4) != st->udptrk.tid)
		return;
	if (be32(d) == ACT_CONNECT && p->len == 16) {
		st->proof |= (uint8_t)(1u << p->dir);
		return;
	}
	if (be32(d) != ACT_ANNOUNCE || p->len < 20 || (p->len - 20) % psz != 0)
		return;
	st->proof |= (uint8_t)(1u << p->dir);
	st->udptrk.req_dir = 0;		/* one answer per request */
	dpi_learn_compact(p, d + 20, p->len - 20, p->v->family);
}
