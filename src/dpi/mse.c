/* mse.c - Message Stream Encryption / Protocol Encryption heuristic. The
 * MSE handshake opens with a 768-bit Diffie-Hellman public key and 0..512
 * bytes of random padding from each side, the initiator first. Random
 * bytes are no signature: TLS, SSH, HTTP and peer wire heads are excluded
 * by structure, and a candidate only blocks when the answering end is
 * already known to run BitTorrent (engine + endpoint cache). */
#include "dpi/mse.h"
#include "dpi/peerwire.h"

#include <string.h>

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

enum dpi_id mse_check(struct dpi_flow *st, const struct dpi_pkt *p)
{
	if (!p->start_seen || p->dir_payload_pkts != 1)
		return DPI_NONE;
	/* the initiator speaks first: the reply counts only after it */
	if (!st->mse_first)
		st->mse_first = (uint8_t)(1 + p->dir);
	else if (!st->mse_random[st->mse_first - 1])
		return DPI_NONE;
	st->mse_random[p->dir] = (uint8_t)mse_looks_random(p->data, p->len);
	if (st->mse_random[0] && st->mse_random[1])
		st->mse_candidate = 1;
	return DPI_NONE;
}
