/* addrspec.h - an address or prefix named by an administrator ("unban",
 * "forget"): parsed once, then matched against addresses. */
#ifndef BTBLOCKD_ADDRSPEC_H
#define BTBLOCKD_ADDRSPEC_H

#include <stddef.h>
#include <stdint.h>

/* The text form: an address and an optional prefix, e.g. "2001:db8::/64". */
#define ADDRSPEC_STRLEN 64

struct addrspec {
	uint8_t family;		/* 4 or 6 */
	uint8_t prefix;		/* bits that must match: 32 or 128 for one address */
	uint8_t addr[16];	/* IPv4 in the first 4 bytes, bits past the prefix 0 */
};

/* "ADDR" or "ADDR/LEN", IPv4 or IPv6, nothing else: 0, or -1. Bits of
 * ADDR past LEN are cleared. */
int addrspec_parse(const char *s, struct addrspec *out);

/* 1 if addr (family 4 or 6; IPv4 in its first 4 bytes) lies in the spec. */
int addrspec_match(const struct addrspec *a, int family, const uint8_t *addr);

/* The text form, "ADDR" for a single address, else "ADDR/LEN". */
void addrspec_format(const struct addrspec *a, char *buf, size_t len);

#endif
