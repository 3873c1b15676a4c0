/* extension.c - the extension protocol (BEP 10): its handshake, and the
 * peer lists of ut_pex messages (BEP 11) fed to the endpoint cache. */
#include "sysincl.h"
#include "dpi/extension.h"
#include "dpi/bencode.h"

int extension_message(const uint8_t *body, size_t len, const struct dpi_pkt *p)
{
	const uint8_t *d = body + 1, *m, *s;
	size_t dlen, mlen, slen;
	long vl;

	if (len < 1)
		return -1;
	dlen = len - 1;
	if (body[0] == 0) {
		/* The handshake: one dictionary, nothing after it, with the
		 * "m" dictionary of supported extensions. */
		vl = bencode_value_len(d, dlen);
		if (vl < 0 || (size_t)vl != dlen)
			return -1;
		if (bencode_dict_get(d, dlen, "m", &m, &mlen) != 1 || m[0] != 'd')
			return -1;
		return 1;
	}
	if (dlen == 0 || d[0] != 'd')
		return 0;	/* binary extensions (lt_donthave, holepunch) */
	/* ut_metadata appends raw data after its dictionary. */
	vl = bencode_value_len(d, dlen);
	if (vl < 0)
		return -1;
	if (!p)
		return 0;
	dlen = (size_t)vl;
	if (bencode_dict_str(d, dlen, "added", &s, &slen) && slen % 6 == 0)
		dpi_learn_compact(p, s, slen, 4);
	if (bencode_dict_str(d, dlen, "added6", &s, &slen) && slen % 18 == 0)
		dpi_learn_compact(p, s, slen, 6);
	return 0;
}
