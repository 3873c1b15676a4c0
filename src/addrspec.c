/* addrspec.c - an address or prefix named by an administrator. */
#include "sysincl.h"
#include <arpa/inet.h>
#include "addrspec.h"

int addrspec_parse(const char *s, struct addrspec *out)
{
	char host[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	size_t hl = slash ? (size_t)(slash - s) : strlen(s);
	unsigned long len;
	unsigned max;

	memset(out, 0, sizeof(*out));
	if (hl == 0 || hl >= sizeof(host))
		return -1;
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (inet_pton(AF_INET, host, out->addr) == 1)
		out->family = 4;
	else if (inet_pton(AF_INET6, host, out->addr) == 1)
		out->family = 6;
	else
		return -1;
	max = out->family == 4 ? 32 : 128;
	len = max;
	if (slash) {
		char *end;

		if (slash[1] < '0' || slash[1] > '9' || strlen(slash + 1) > 3)
			return -1;
		len = strtoul(slash + 1, &end, 10);
		if (*end || len > max)
			return -1;
	}
	out->prefix = (uint8_t)len;
	for (unsigned i = 0; i < 16; i++) {
		unsigned bit = i * 8;

		if (bit >= len)
			out->addr[i] = 0;
		else if (bit + 8 > len)
			out->addr[i] &= (uint8_t)(0xff << (8 - (len - bit)));
	}
	return 0;
}

int addrspec_match(const struct addrspec *a, int family, const uint8_t *addr)
{
	unsigned full = a->prefix / 8, rest = a->prefix % 8;

	if (family != a->family)
		return 0;
	if (memcmp(addr, a->addr, full) != 0)
		return 0;
	return rest == 0 || ((addr[full] ^ a->addr[full]) & (0xff << (8 - rest)) & 0xff) == 0;
}

void addrspec_format(const struct addrspec *a, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];

	if (!inet_ntop(a->family == 4 ? AF_INET : AF_INET6, a->addr, host, sizeof(host)))
		snprintf(host, sizeof(host), "?");
	if (a->prefix == (a->family == 4 ? 32 : 128))
		snprintf(buf, len, "%s", host);
	else
		snprintf(buf, len, "%s/%u", host, a->prefix);
}
