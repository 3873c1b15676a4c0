/* protect.c - the protected side's address prefixes: parsed once at
 * start-up, matched once per new flow (a short linear list: a router's
 * LANs are a handful of prefixes). */
#include "sysincl.h"
#include "protect.h"

#include <arpa/inet.h>

static const char *const default_prefixes =
	"10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,100.64.0.0/10,169.254.0.0/16,"
	"fc00::/7,fe80::/10";

static void mask_to(uint8_t *addr, unsigned len)
{
	unsigned i;

	for (i = 0; i < 16; i++) {
		if (len >= 8) {
			len -= 8;
			continue;
		}
		addr[i] &= (uint8_t)(0xff00u >> len);
		len = 0;
	}
}

/* One "ADDR[/LEN]" of n bytes. */
static int parse_one(struct protect_prefix *p, const char *s, size_t n)
{
	char buf[INET6_ADDRSTRLEN + 8];
	char *slash, *end;
	unsigned long len;
	int family;

	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	slash = strchr(buf, '/');
	if (slash)
		*slash++ = '\0';
	memset(p, 0, sizeof(*p));
	if (inet_pton(AF_INET, buf, p->addr) == 1)
		family = 4;
	else if (inet_pton(AF_INET6, buf, p->addr) == 1)
		family = 6;
	else
		return -1;
	len = family == 4 ? 32 : 128;
	if (slash) {
		if (*slash < '0' || *slash > '9')
			return -1;
		len = strtoul(slash, &end, 10);
		if (*end != '\0' || len > (family == 4 ? 32u : 128u))
			return -1;
	}
	p->family = (uint8_t)family;
	p->len = (uint8_t)len;
	mask_to(p->addr, (unsigned)len);
	return 0;
}

/* The word masks of each prefix, for protect_match. */
static void compile(struct protect_set *s)
{
	uint32_t i;

	s->n4 = s->n6 = 0;
	for (i = 0; i < s->nprefixes; i++) {
		const struct protect_prefix *p = &s->prefix[i];
		uint8_t m[16];
		unsigned k;

		memset(m, 0xff, sizeof(m));
		mask_to(m, p->len);
		if (p->family == 4) {
			struct protect_match4 *x = &s->v4[s->n4++];

			memcpy(&x->net, p->addr, 4);
			memcpy(&x->mask, m, 4);
			continue;
		}
		for (k = 0; k < 2; k++) {
			memcpy(&s->v6[s->n6].net[k], p->addr + 8 * k, 8);
			memcpy(&s->v6[s->n6].mask[k], m + 8 * k, 8);
		}
		s->n6++;
	}
}

int protect_parse(struct protect_set *s, const char *list)
{
	struct protect_set out;
	const char *p = list;

	memset(&out, 0, sizeof(out));
	if (strcmp(list, "none") == 0) {
		*s = out;
		return 0;
	}
	for (;;) {
		size_t n = strcspn(p, ",");

		while (n > 0 && *p == ' ') {
			p++;
			n--;
		}
		while (n > 0 && p[n - 1] == ' ')
			n--;
		if (out.nprefixes == PROTECT_MAX_PREFIXES ||
		    parse_one(&out.prefix[out.nprefixes], p, n) < 0)
			return -1;
		out.nprefixes++;
		p += strcspn(p, ",");
		if (*p == '\0')
			break;
		p++;
	}
	compile(&out);
	*s = out;
	return 0;
}

void protect_defaults(struct protect_set *s)
{
	/* the built-in list is well formed */
	if (protect_parse(s, default_prefixes) < 0)
		abort();
}

int protect_format(const struct protect_set *s, char *buf, size_t size)
{
	size_t off = 0;
	int total = 0;
	uint32_t i;

	if (size)
		buf[0] = '\0';
	for (i = 0; i < s->nprefixes; i++) {
		char a[INET6_ADDRSTRLEN];
		int n;

		inet_ntop(s->prefix[i].family == 4 ? AF_INET : AF_INET6, s->prefix[i].addr,
			  a, sizeof(a));
		n = snprintf(buf + off, off < size ? size - off : 0, "%s%s/%u", i ? "," : "", a,
			     s->prefix[i].len);
		if (n < 0)
			return n;
		total += n;
		off = (size_t)total;
	}
	return total;
}

int protect_match(const struct protect_set *s, int family, const uint8_t *addr)
{
	uint32_t i;

	if (family == 4) {
		uint32_t a;

		memcpy(&a, addr, 4);
		for (i = 0; i < s->n4; i++)
			if ((a & s->v4[i].mask) == s->v4[i].net)
				return 1;
		return 0;
	}
	if (s->n6) {
		uint64_t a0, a1;

		memcpy(&a0, addr, 8);
		memcpy(&a1, addr + 8, 8);
		for (i = 0; i < s->n6; i++)
			if ((a0 & s->v6[i].mask[0]) == s->v6[i].net[0] &&
			    (a1 & s->v6[i].mask[1]) == s->v6[i].net[1])
				return 1;
	}
	return 0;
}
