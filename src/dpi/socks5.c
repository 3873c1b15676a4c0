/* socks5.c - BitTorrent relayed through a SOCKS5 UDP associate
 * (RFC 1928 section 7): RSV(2)=0, FRAG=0, ATYP, address, port, then the
 * datagram, which is checked with the stateless UDP detectors. */
#include "sysincl.h"
#include "dpi/socks5.h"
#include "dpi/dht.h"
#include "dpi/udp_tracker.h"
#include "dpi/utp.h"
#include "dpi/peerwire.h"

int socks5_unwrap(const uint8_t *d, size_t len, const uint8_t **inner, size_t *ilen)
{
	size_t hl;

	if (len < 10 || d[0] != 0 || d[1] != 0 || d[2] != 0)
		return 0;
	switch (d[3]) {
	case 1:
		hl = 4 + 4 + 2;
		break;
	case 4:
		hl = 4 + 16 + 2;
		break;
	case 3:
		if (d[4] == 0)
			return 0;
		hl = 4 + 1 + (size_t)d[4] + 2;
		break;
	default:
		return 0;
	}
	if (len <= hl)
		return 0;
	*inner = d + hl;
	*ilen = len - hl;
	return 1;
}

enum dpi_id socks5_check(const struct dpi_pkt *p)
{
	const uint8_t *in;
	size_t il;
	struct utp_hdr h;

	if (!socks5_unwrap(p->data, p->len, &in, &il))
		return DPI_NONE;
	/* nothing relayed is learned: the relay hides who asked whom */
	if (dht_check(NULL, in, il, NULL) == DPI_DHT || udp_tracker_is_connect(in, il))
		return DPI_SOCKS5;
	if (utp_parse(in, il, &h) && h.type == UTP_DATA && il > h.hdr_len &&
	    peerwire_is_handshake(in + h.hdr_len, il - h.hdr_len, 0))
		return DPI_SOCKS5;
	return DPI_NONE;
}
