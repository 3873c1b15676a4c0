/* mse.c - Message Stream Encryption / Protocol Encryption heuristic. The
 * MSE handshake opens with a 768-bit Diffie-Hellman public key and 0..512
 * bytes of random padding from each side, the initiator first. Random
 * bytes are no signature: TLS, SSH, HTTP and peer wire heads are excluded
 * by structure, and such a candidate alone only blocks when the answering
 * end is already known to run BitTorrent (mse_known_responder, through
 * the engine's endpoint cache).
 *
 * What follows the key exchange gives MSE away: RC4 keeps lengths, so the
 * BitTorrent handshake inside is still 68 bytes long, and the crypto
 * fields around it have fixed sizes. The responder answers with VC (8),
 * crypto_select (4), len(PadD) (2) and PadD, which clients leave empty,
 * then its handshake: 14 + 68 bytes. An initiator that leaves PadC empty
 * and carries its handshake as IA sends 2 x 20 hash bytes, VC, crypto_provide,
 * len(PadC), len(IA) and IA: 56 + 68 bytes. Or the 68-byte handshake
 * travels in a segment of its own. One of these, after a key-exchange
 * shaped opening, confirms MSE. */
#include "sysincl.h"
#include "dpi/mse.h"
#include "dpi/dpi.h"
#include "dpi/peerwire.h"
#include "packet.h"

#define MSE_MIN 96
#define MSE_MAX (96 + 512)
/* Distinct byte values expected among the first 96 random bytes: about
 * 80 (sd ~3.5); text and structured binary stay far below. */
#define MIN_DISTINCT 60

static int structured(const uint8_t *b, size_t len)
{
	if (b[0] == 0x16 || b[0] == 0x17 || b[0] == 0x14 || b[0] == 0x15)
		return b[1] == 3;		/* TLS records */
	if (len >= 4 && (memcmp(b, "SSH-", 4) == 0 || memcmp(b, "GET ", 4) == 0 ||
			 memcmp(b, "POST", 4) == 0 || memcmp(b, "HTTP", 4) == 0))
		return 1;
	if (peerwire_is_handshake(b, len, 0))
		return 1;
	/* a 2- or 4-byte length prefix matching the payload (OpenVPN over
	 * TCP, DNS over TCP, many RPC framings) */
	if ((size_t)(b[0] << 8 | b[1]) + 2 == len)
		return 1;
	/* zero bytes in a header's small fields (versions, lengths, types):
	 * a random key has two zeros among its first 8 bytes once in ~2300 */
	if ((b[0] == 0) + (b[1] == 0) + (b[2] == 0) + (b[3] == 0) + (b[4] == 0) +
	    (b[5] == 0) + (b[6] == 0) + (b[7] == 0) >= 2)
		return 1;
	if (b[0] == 0 && b[1] == 0 && (size_t)(b[2] << 8 | b[3]) + 4 == len)
		return 1;
	return 0;
}

int mse_looks_random(const uint8_t *b, size_t len)
{
	uint8_t seen[256];
	size_t i, distinct = 0, printable = 0;

	if (len < MSE_MIN || len > MSE_MAX || structured(b, len))
		return 0;
	memset(seen, 0, sizeof(seen));
	for (i = 0; i < MSE_MIN; i++) {
		distinct += !seen[b[i]];
		seen[b[i]] = 1;
		printable += b[i] >= 0x20 && b[i] < 0x7f;
	}
	return distinct >= MIN_DISTINCT && printable < MSE_MIN * 3 / 4;
}

#define MSE_RESPONDER_FIELDS 14	/* VC, crypto_select, len(PadD) */
#define MSE_INITIATOR_FIELDS 56	/* two hashes, VC, crypto_provide, len(PadC), len(IA) */
/* payload packets per direction in which the confirmation may show */
#define MSE_CONFIRM_PKTS 4

/* Does this segment, the direction's n-th payload packet after the key
 * exchange, have one of the lengths MSE gives a BitTorrent handshake? */
static int confirms(const struct dpi_flow *st, const struct dpi_pkt *p)
{
	int initiator = p->dir == st->mse.first - 1;

	if (p->len == PEERWIRE_HANDSHAKE_LEN)
		return 1;
	if (p->dir_payload_pkts != 2)
		return 0;
	return p->len == (initiator ? MSE_INITIATOR_FIELDS : MSE_RESPONDER_FIELDS) +
			 PEERWIRE_HANDSHAKE_LEN;
}

enum dpi_id mse_check(struct dpi_flow *st, const struct dpi_pkt *p)
{
	if (!p->start_seen)
		return DPI_NONE;
	if (p->dir_payload_pkts != 1) {
		if (st->mse.candidate && p->dir_payload_pkts <= 1 + MSE_CONFIRM_PKTS &&
		    confirms(st, p)) {
			st->proof |= 3;	/* both sides ran the key exchange */
			return DPI_MSE;
		}
		return DPI_NONE;
	}
	/* the initiator speaks first: the reply counts only after it */
	if (!st->mse.first)
		st->mse.first = (uint8_t)(1 + p->dir);
	else if (!st->mse.random[st->mse.first - 1])
		return DPI_NONE;
	st->mse.random[p->dir] = (uint8_t)mse_looks_random(p->data, p->len);
	if (st->mse.random[0] && st->mse.random[1])
		st->mse.candidate = 1;
	return DPI_NONE;
}

/* Only the answering side counts: a BitTorrent user's other encrypted
 * connections (messengers, VPNs) go to servers that are never learned as
 * peers. The initiator sent the flow's first payload (st->mse.first). */
enum dpi_id mse_known_responder(const struct dpi_flow *st, const struct dpi_pkt *p)
{
	const struct pkt_view *v = p->v;
	int known;

	if (!st->mse.candidate || !p->known)
		return DPI_NONE;
	if (p->dir == st->mse.first - 1)	/* the initiator's packet */
		known = p->known(p->learn_ctx, v->family, v->daddr, v->dport);
	else
		known = p->known(p->learn_ctx, v->family, v->saddr, v->sport);
	return known ? DPI_MSE : DPI_NONE;
}

/* Encrypted peer wire seen from its middle: a transfer that was running
 * before btblockd (or its ruleset) started, whose key exchange nobody
 * saw. RC4 keeps lengths, and a downloading client's segments are
 * requests, 17 bytes each and pipelined (17 k bytes), often behind a
 * "have" (9 bytes): 17 k + 9. A run of MSE_MID_RUN such segments from
 * the protected side, of more than one length, none of them text or a
 * structured header, while the other side sends bulk data, on a flow
 * between two unprivileged ports, is that shape. Random lengths make such
 * a run once in (17/2)^5, about 44000 runs; SSH's lengths (20 + 8 k)
 * match only at every 17th k and its keystrokes and window updates are
 * of one length. A run of one length counts only when that length is 17,
 * one request a segment: the steady state of a client whose download is
 * paced by its peer (each block that arrives is answered by the next
 * request); no TLS record or SSH packet is that short.
 * One direction of statistics is evidence, not proof:
 * the flow is blocked, never banned (no proof of the other side); its
 * client reconnects through the inspecting path and shows the rest. */
#define MSE_MID_RUN		5
#define MSE_MID_MAX_LEN		(17 * 256 + 9)
#define MSE_MID_ONE_REQUEST	17	/* the one length a run may keep */
#define MSE_MID_BULK		1024	/* a segment of data, not a request */
#define MSE_MID_DISTINCT	0x01	/* the run has more than one length */
#define MSE_MID_BULK_SEEN	0x02	/* this direction sent bulk data */

static int request_shaped(const uint8_t *b, uint32_t len)
{
	size_t i, printable = 0, n = len < 16 ? len : 16;

	if (len < 17 || len > MSE_MID_MAX_LEN || (len % 17 != 0 && len % 17 != 9))
		return 0;
	/* RC4 output, not a plain header (a 32-bit length below 65536
	 * starts with two zero bytes) nor text. A segment that fails ends
	 * the run, so the bounds sit where random bytes fail about once in
	 * 20000 segments: two leading zeros, three zeros of eight, 14
	 * printable of 16 (two zeros of eight, 1 in 2400, and 12 printable,
	 * 1 in 430, broke a real client's run). */
	if ((b[0] == 0 && b[1] == 0) ||
	    (b[0] == 0) + (b[1] == 0) + (b[2] == 0) + (b[3] == 0) + (b[4] == 0) +
	    (b[5] == 0) + (b[6] == 0) + (b[7] == 0) >= 3)
		return 0;
	for (i = 0; i < n; i++)
		printable += b[i] >= 0x20 && b[i] < 0x7f;
	return printable < n * 7 / 8;
}

enum dpi_id mse_midstream_check(struct dpi_flow *st, const struct dpi_pkt *p)
{
	struct mse_mid *m = &st->mse.mid[p->dir];

	if (p->len >= MSE_MID_BULK)
		m->flags |= MSE_MID_BULK_SEEN;
	/* only the protected side's own segments are evidence */
	if (!p->from_protected)
		return DPI_NONE;
	if (!request_shaped(p->data, p->len)) {
		m->run = 0;
		m->flags &= (uint8_t)~MSE_MID_DISTINCT;
		return DPI_NONE;
	}
	if (m->run == 0)
		m->first_len = (uint16_t)p->len;
	else if (p->len != m->first_len)
		m->flags |= MSE_MID_DISTINCT;
	if (m->run < 255)
		m->run++;
	if (m->run < MSE_MID_RUN ||
	    (!(m->flags & MSE_MID_DISTINCT) && m->first_len != MSE_MID_ONE_REQUEST) ||
	    !(st->mse.mid[!p->dir].flags & MSE_MID_BULK_SEEN) ||
	    p->v->sport < 1024 || p->v->dport < 1024)
		return DPI_NONE;
	return DPI_MSE;
}
