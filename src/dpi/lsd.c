/* lsd.c - local service discovery (BEP 14): "BT-SEARCH * HTTP/1.1" with
 * Host, Port and Infohash headers, sent to 239.192.152.143:6771 or
 * [ff15::efc0:988f]:6771. The message is matched, not the address, so a
 * unicast or relayed announce is caught as well. */
#include "sysincl.h"
#include "dpi/lsd.h"

static const char head[] = "BT-SEARCH * HTTP/1.1\r\n";

/* Find a header line "name: value" (case-insensitive name) in d[0..len);
 * returns the value's offset or -1, and in *vlen the bytes from there to
 * the end of its line. The offset may be len (a packet that ends with
 * "Port:"), so a caller reads only *vlen bytes from it. */
static long find_header(const uint8_t *d, size_t len, const char *name, size_t *vlen)
{
	size_t nl = strlen(name), off = 0;

	while (off < len) {
		const uint8_t *eol = memchr(d + off, '\n', len - off);
		size_t line = eol ? (size_t)(eol - (d + off)) : len - off;

		if (line > nl && strncasecmp((const char *)d + off, name, nl) == 0 &&
		    d[off + nl] == ':') {
			size_t v = off + nl + 1;

			while (v < off + line && d[v] == ' ')
				v++;
			*vlen = off + line - v;
			return (long)v;
		}
		off += line + 1;
	}
	return -1;
}

static int is_hex(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

enum dpi_id lsd_check(const uint8_t *d, size_t len)
{
	long ih, port;
	size_t ihl, portl, i;

	if (len < sizeof(head) - 1 || memcmp(d, head, sizeof(head) - 1) != 0)
		return DPI_NONE;
	ih = find_header(d, len, "Infohash", &ihl);
	port = find_header(d, len, "Port", &portl);
	if (ih < 0 || port < 0 || ihl < 40 || portl < 1)
		return DPI_NONE;
	for (i = 0; i < 40; i++)
		if (!is_hex(d[ih + (long)i]))
			return DPI_NONE;
	if (d[port] < '0' || d[port] > '9')
		return DPI_NONE;
	return DPI_LSD;
}
