/* peerwire.c - BitTorrent peer wire protocol (BEP 3, BEP 6, BEP 52):
 * the handshake, and message framing followed across segments when the
 * capture or the daemon started after the handshake. */
#include "sysincl.h"
#include "dpi/peerwire.h"
#include "dpi/dpi.h"
#include "dpi/extension.h"
#include "packet.h"

static const uint8_t pstr[PEERWIRE_PSTR_LEN] = "\x13" "BitTorrent protocol";

/* Largest block a client requests or sends: 16 KiB is the norm, a few
 * accept up to 128 KiB. */
#define MAX_BLOCK (128u * 1024u)

/* Framed messages validated (over at least two packets) before a flow
 * is blocked. */
#define FRAMING_MIN_MSGS 3

/* Strong messages that, all in one packet and framed to its end, are
 * enough on their own (eight haves or requests in a row: hundreds of bits
 * of structure). */
#define FRAMING_ONE_PACKET_MSGS 8

/* Bytes of an unaligned packet searched for a message header to resync
 * on: bounded so that a 64 KiB segment costs no more than a small one. */
#define RESYNC_SCAN 2048

/* Messages walked per packet at most: a 64 KiB segment of keep-alives
 * must not cost 16384 steps. Past it the packet gives no opinion. */
#define WALK_MAX_MSGS 256

int peerwire_is_handshake(const uint8_t *p, size_t len, int partial_ok)
{
	if (len >= PEERWIRE_PSTR_LEN)
		return memcmp(p, pstr, PEERWIRE_PSTR_LEN) == 0;
	return partial_ok && len > 0 && memcmp(p, pstr, len) == 0;
}

enum dpi_id peerwire_handshake(const struct dpi_pkt *p)
{
	/* The handshake is the first thing on a plain peer connection, so
	 * only the head of the stream is looked at. */
	if (p->stream && p->stream_len >= PEERWIRE_PSTR_LEN)
		return peerwire_is_handshake(p->stream, p->stream_len, 0) ?
			DPI_BT_HANDSHAKE : DPI_NONE;
	if (!p->stream && p->dir_payload_pkts == 1)
		return peerwire_is_handshake(p->data, p->len, 0) ?
			DPI_BT_HANDSHAKE : DPI_NONE;
	return DPI_NONE;
}

static uint32_t be32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* Is a message of length mlen (id included) and id plausible? body points
 * at what follows the id, blen bytes of it are in the packet. Returns 2 for
 * a message that cannot be anything else, 1 plausible, 0 impossible.
 * learn: where PEX peers go, NULL while the packet is still being judged. */
static int msg_valid(uint32_t mlen, uint8_t id, const uint8_t *body, size_t blen,
		     int *ext_fired, const struct dpi_pkt *learn)
{
	switch (id) {
	case 0: case 1: case 2: case 3:		/* choke .. not interested */
	case 14: case 15:			/* have all / have none (BEP 6) */
		return mlen == 1;
	case 4: case 13: case 17:		/* have, suggest, allowed fast */
		if (mlen != 5)
			return 0;
		/* Piece indexes stay far below 2^22 for any real torrent. */
		return blen >= 4 && be32(body) < (1u << 22) ? 2 : 1;
	case 5:					/* bitfield */
		return mlen >= 2 && mlen <= 1 + (1u << 20) ? 1 : 0;
	case 6: case 8: case 16:		/* request, cancel, reject */
		if (mlen != 13)
			return 0;
		if (blen >= 12) {
			uint32_t begin = be32(body + 4), bl = be32(body + 8);

			if (bl == 0 || bl > MAX_BLOCK || (begin & 0x3fff) != 0)
				return 0;
		}
		return 2;
	case 7:					/* piece */
		if (mlen < 9 || mlen > 9 + MAX_BLOCK)
			return 0;
		if (blen >= 8 && (be32(body + 4) & 0x3fff) != 0)
			return 0;
		return 2;
	case 9:					/* DHT port */
		if (mlen != 3)
			return 0;
		/* a listening port: privileged ports are not used */
		return blen >= 2 && (body[0] << 8 | body[1]) >= 1024 ? 2 : 1;
	case 20:				/* extended (BEP 10) */
		if (mlen < 2 || mlen > (1u << 20))
			return 0;
		if (blen >= mlen - 1) {
			int r = extension_message(body, mlen - 1, learn);

			if (r < 0)
				return 0;
			if (r > 0)
				*ext_fired = 1;
			return 2;
		}
		return 1;
	case 21: case 23:			/* hash request / reject (BEP 52) */
		return mlen == 49 ? 2 : 0;
	case 22:				/* hashes */
		return mlen >= 49 + 32 && (mlen - 49) % 32 == 0 ? 2 : 0;
	default:
		return 0;
	}
}

/* Walk the messages of data[off..len). Returns -1 if one is impossible,
 * -2 past WALK_MAX_MSGS, else the number of messages; *skip gets the bytes
 * of the last message still to come, *strong counts the unambiguous ones. */
static int walk(const uint8_t *data, size_t len, size_t off, uint32_t *skip,
		int *strong, int *ext_fired, const struct dpi_pkt *learn)
{
	int n = 0;

	*skip = 0;
	while (off < len) {
		uint32_t mlen;
		int v;

		if (n >= WALK_MAX_MSGS)
			return -2;
		if (len - off < 5) {
			/* A header split over segments: only the keep-alive
			 * prefix can be checked; the rest resynchronises. */
			if (len - off == 4 && be32(data + off) == 0) {
				n++;
				off += 4;
				continue;
			}
			return n > 0 ? n : -1;
		}
		mlen = be32(data + off);
		if (mlen == 0) {	/* keep-alive */
			n++;
			off += 4;
			continue;
		}
		v = msg_valid(mlen, data[off + 4], data + off + 5,
			      len - off - 5, ext_fired, learn);
		if (v == 0)
			return -1;
		if (v == 2)
			(*strong)++;
		n++;
		if (mlen + 4 > len - off) {
			*skip = (uint32_t)(mlen + 4 - (len - off));
			return n;
		}
		off += mlen + 4;
	}
	return n;
}

/* An out-of-sync packet that does not start on a message: look in its
 * first RESYNC_SCAN bytes for an unambiguous message header (a piece
 * header inside a segment of block data, say) from which the walk runs to
 * the end of the packet. Returns the walk's result, or -1; *at gets the
 * offset. */
static int resync(const uint8_t *data, size_t len, size_t *at, uint32_t *skip,
		  int *strong, int *ext)
{
	size_t i, end = len < RESYNC_SCAN ? len : RESYNC_SCAN;

	for (i = 1; i + 5 <= end; i++) {
		uint32_t mlen;
		int n, s = 0, x = 0;

		/* a header starts with a zero byte; inside a run of zeros
		 * (padding, sparse blocks) the next one is simply i */
		if (data[i] != 0) {
			const uint8_t *z = memchr(data + i, 0, end - i);

			if (!z)
				break;
			i = (size_t)(z - data);
		}
		if (i + 5 > end || data[i + 1] != 0)
			continue;
		mlen = be32(data + i);
		if (mlen < 3 || msg_valid(mlen, data[i + 4], data + i + 5,
					  len - i - 5, &x, NULL) != 2)
			continue;
		/* from inside a packet, one short message at its very end
		 * could be chance: two unambiguous messages, or a piece
		 * header whose block runs on past the packet, are not */
		n = walk(data, len, i, skip, &s, &x, NULL);
		if (n > 0 && (s >= 2 || (n == 1 && *skip > 0 && data[i + 4] == 7))) {
			*at = i;
			*strong = s;
			*ext = x;
			return n;
		}
	}
	return -1;
}

/* PEX is learned only from a packet whose messages all validated, on a
 * flow where both directions spoke the peer wire protocol: a list that a
 * stranger slipped into anything else teaches nothing. */
static void harvest_pex(const uint8_t *data, size_t len, size_t off, const struct dpi_pkt *p)
{
	uint32_t skip;
	int strong = 0, ext = 0;

	(void)walk(data, len, off, &skip, &strong, &ext, p);
}

enum dpi_id peerwire_framing(struct dpi_flow *st, const struct dpi_pkt *p)
{
	struct peerwire_dir *d = &st->pw[p->dir];
	uint32_t seq = p->v->tcp_seq, skip, wire, hidden;
	int n, strong = 0, ext = 0, was_sync;
	size_t off = 0;

	if (p->len == 0)
		return DPI_NONE;
	/* A packet longer than the queue's copy range (a GSO super-packet of
	 * bulk data) arrives cut: the sequence space is the whole payload,
	 * the walk sees the first p->len bytes of it. */
	wire = p->v->payload_wire_len > p->len ? p->v->payload_wire_len : p->len;
	hidden = wire - p->len;
	if (d->sync) {
		int32_t delta = (int32_t)(seq - d->expect_seq);

		if (delta < 0 && (int64_t)delta + wire <= 0)
			return DPI_NONE;		/* retransmission */
		if (delta != 0) {
			d->sync = 0;			/* gap or overlap */
		} else if (d->skip >= wire) {
			d->skip -= wire;
			d->expect_seq = seq + wire;
			return DPI_NONE;
		} else if (d->skip >= p->len) {
			d->sync = 0;	/* the next header is in the cut part */
			return DPI_NONE;
		} else {
			off = d->skip;
		}
	}
	was_sync = d->sync;
	/* Out of sync, a message is assumed to start the packet (senders
	 * write whole messages, so control messages head a segment), else
	 * one is searched for inside it. */
	n = walk(p->data, p->len, off, &skip, &strong, &ext, NULL);
	if (n == -2) {
		d->sync = 0;	/* no opinion on this packet, evidence kept */
		return DPI_NONE;
	}
	if (!was_sync && (n <= 0 || (strong == 0 && n < 2))) {
		strong = ext = 0;
		n = resync(p->data, p->len, &off, &skip, &strong, &ext);
		if (n <= 0) {
			d->sync = 0;	/* no opinion: unaligned data */
			return DPI_NONE;
		}
	}
	if (n <= 0) {
		/* the framing we followed broke: what it showed was chance */
		d->sync = 0;
		d->strong = 0;
		d->packets = 0;
		return DPI_NONE;
	}
	if (strong > 0 && st->pw[!p->dir].strong > 0) {
		harvest_pex(p->data, p->len, off, p);
		st->proof |= 3;		/* both directions validated messages */
	}
	if (ext)
		return DPI_BT_EXTENSION;
	d->sync = 1;
	d->skip = skip;
	d->expect_seq = seq + wire;
	if (hidden) {
		/* the open message runs on past the cut part, or the next
		 * header lies in it, out of sight */
		if (skip > hidden)
			d->skip = skip - hidden;
		else
			d->sync = 0;
	}
	d->strong = (uint8_t)(d->strong + strong > 200 ? 200 : d->strong + strong);
	if (d->packets < 200)
		d->packets++;
	if (strong >= FRAMING_ONE_PACKET_MSGS)
		return DPI_BT_FRAMING;
	/* Both directions add up: a request answered by a piece is as good
	 * as two requests. */
	if (d->strong + st->pw[!p->dir].strong >= FRAMING_MIN_MSGS &&
	    d->packets + st->pw[!p->dir].packets >= 2)
		return DPI_BT_FRAMING;
	return DPI_NONE;
}

void peerwire_learn_blocked(struct dpi_flow *st, const struct dpi_pkt *p)
{
	size_t off = 0;
	uint32_t skip;
	int strong = 0, ext = 0;

	/* a side whose bytes open with the handshake speaks BitTorrent */
	if (peerwire_is_handshake(p->data, p->len, 0)) {
		st->proof |= (uint8_t)(1u << p->dir);
		off = p->len >= PEERWIRE_HANDSHAKE_LEN ? PEERWIRE_HANDSHAKE_LEN : p->len;
	}
	if (st->proof != 3 || off >= p->len)
		return;
	if (walk(p->data, p->len, off, &skip, &strong, &ext, NULL) > 0)
		harvest_pex(p->data, p->len, off, p);
}
