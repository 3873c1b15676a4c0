/* utp.c - the Micro Transport Protocol (BEP 29). One header is too weak a
 * signature (a byte of type/version and little else), so a flow is only
 * called uTP once its two directions agree: the SYN's connection id and
 * sequence number answered by a STATE, or data flowing both ways with
 * connection ids one apart and acks tracking the other side's sequence. */
#include "sysincl.h"
#include "dpi/utp.h"
#include "dpi/dpi.h"
#include "dpi/peerwire.h"

/* How far (in packets) an ack may trail the other side's sequence. */
#define ACK_WINDOW 512

/* Resent SYNs with a matching clock before an unanswered SYN counts. */
#define UTP_SYN_RETRIES 1

/* The first byte and the length: what most datagrams of other protocols
 * fail, tested before anything else is set up. */
static inline int utp_plausible(const uint8_t *d, size_t len)
{
	return len >= 20 && (d[0] & 0x0f) == 1 && (d[0] >> 4) <= UTP_SYN;
}

int utp_parse(const uint8_t *d, size_t len, struct utp_hdr *h)
{
	size_t off = 20;
	uint8_t ext;
	int n = 0;

	if (!utp_plausible(d, len))
		return 0;
	ext = d[1];
	while (ext != 0) {
		uint8_t elen;

		/* 1: selective ack (a multiple of 4 bytes), 2: extension
		 * bits (8 bytes); others are tolerated but bounded. */
		if (ext > 4 || ++n > 4 || len - off < 2)
			return 0;
		elen = d[off + 1];
		if (ext == 1 && (elen == 0 || elen % 4 != 0))
			return 0;
		if (ext == 2 && elen != 8)
			return 0;
		if (len - off - 2 < elen)
			return 0;
		ext = d[off];
		off += 2u + elen;
	}
	h->type = d[0] >> 4;
	h->conn_id = (uint16_t)(d[2] << 8 | d[3]);
	h->seq = (uint16_t)(d[16] << 8 | d[17]);
	h->ack = (uint16_t)(d[18] << 8 | d[19]);
	h->ts = (uint32_t)d[4] << 24 | (uint32_t)d[5] << 16 | (uint32_t)d[6] << 8 | d[7];
	h->ts_diff = (uint32_t)d[8] << 24 | (uint32_t)d[9] << 16 | (uint32_t)d[10] << 8 | d[11];
	h->wnd = (uint32_t)d[12] << 24 | (uint32_t)d[13] << 16 | (uint32_t)d[14] << 8 | d[15];
	h->hdr_len = (uint32_t)off;
	/* Only data packets carry payload. */
	if (h->type != UTP_DATA && h->type != UTP_FIN && len != off)
		return 0;
	return 1;
}

/* Does ack (from one side) trail seq (the other side's last) closely? */
static int ack_tracks(uint16_t ack, uint16_t seq)
{
	return (uint16_t)(seq - ack) <= ACK_WINDOW || (uint16_t)(ack - seq) <= ACK_WINDOW;
}

enum dpi_id utp_check(struct dpi_flow *st, const struct dpi_pkt *p)
{
	struct utp_dir *me = &st->utp.dir[p->dir], *peer = &st->utp.dir[!p->dir];
	struct utp_hdr h;

	if (!utp_plausible(p->data, p->len) || !utp_parse(p->data, p->len, &h)) {
		if (me->bad < 255)
			me->bad++;
		return DPI_NONE;
	}
	if (h.type == UTP_DATA && p->len > h.hdr_len &&
	    peerwire_is_handshake(p->data + h.hdr_len, p->len - h.hdr_len, 0))
		return DPI_UTP;
	if (h.type == UTP_SYN && st->utp.syn_dir == 1 + p->dir &&
	    h.conn_id == st->utp.syn_conn && h.seq == st->utp.syn_seq) {
		/* A resent SYN: its microsecond clock must have advanced by
		 * the time that really passed (2 ms + 2% slack). */
		uint32_t real_us = (uint32_t)(p->now_ns / 1000) - st->utp.syn_us;
		uint32_t clock_us = h.ts - st->utp.syn_ts;

		if (h.ts_diff == 0 && h.wnd != 0 && real_us >= 100000 && real_us < (1u << 31) &&
		    (clock_us > real_us ? clock_us - real_us : real_us - clock_us) <=
		    2000 + real_us / 50) {
			if (++st->utp.syn_retries >= UTP_SYN_RETRIES)
				return DPI_UTP;
		}
		return DPI_NONE;
	}
	if (h.type == UTP_SYN) {
		st->utp.syn_retries = 0;
		st->utp.syn_ts = h.ts;
		st->utp.syn_us = (uint32_t)(p->now_ns / 1000);
		st->utp.syn_dir = (uint8_t)(1 + p->dir);
		st->utp.syn_conn = h.conn_id;
		st->utp.syn_seq = h.seq;
		me->valid = 1;
		me->conn_id = (uint16_t)(h.conn_id + 1);	/* what follows the SYN */
		me->seq = h.seq;
		return DPI_NONE;
	}
	if (st->utp.syn_dir == 2 - p->dir && h.type == UTP_STATE &&
	    h.conn_id == st->utp.syn_conn && h.ack == st->utp.syn_seq) {
		st->proof |= 3;		/* a SYN answered: both ends speak uTP */
		return DPI_UTP;
	}
	if (me->valid && h.conn_id != me->conn_id) {
		me->valid = 0;	/* ids of one direction never change */
		return DPI_NONE;
	}
	me->conn_id = h.conn_id;
	me->seq = h.seq;
	me->ack = h.ack;
	if (me->valid < 255)
		me->valid++;
	if (me->valid >= 2 && peer->valid >= 2 &&
	    (uint16_t)(me->conn_id - peer->conn_id + 1) <= 2 &&
	    me->conn_id != peer->conn_id &&
	    ack_tracks(me->ack, peer->seq) && ack_tracks(peer->ack, me->seq)) {
		st->proof |= 3;
		return DPI_UTP;
	}
	return DPI_NONE;
}
