/* protect.h - the protected side: the networks behind the router whose
 * hosts btblockd guards. Only their own traffic counts as proof of
 * BitTorrent, only what they asked for is learned, and only their part
 * in a flow can get an address pair banned. */
#ifndef BTBLOCKD_PROTECT_H
#define BTBLOCKD_PROTECT_H

#include <stddef.h>
#include <stdint.h>

#define PROTECT_MAX_PREFIXES 64

struct protect_prefix {
	uint8_t addr[16];	/* IPv4 in the first 4 bytes, masked to len */
	uint8_t family;		/* 4 or 6 */
	uint8_t len;		/* prefix length in bits */
};

/* A prefix as masks over the address's words (network byte order as
 * loaded), so that a match is an and and a compare per word. */
struct protect_match4 {
	uint32_t net, mask;
};
struct protect_match6 {
	uint64_t net[2], mask[2];
};

struct protect_set {
	uint32_t nprefixes;
	struct protect_prefix prefix[PROTECT_MAX_PREFIXES];
	uint32_t n4, n6;
	struct protect_match4 v4[PROTECT_MAX_PREFIXES];
	struct protect_match6 v6[PROTECT_MAX_PREFIXES];
};

/* The default protected side: the private and local address ranges
 * (10/8, 172.16/12, 192.168/16, 100.64/10, 169.254/16, fc00::/7,
 * fe80::/10). */
void protect_defaults(struct protect_set *s);

/* Replace s with the prefixes of a comma-separated list such as
 * "192.168.1.0/24,2001:db8:1::/48" (a bare address is a host prefix),
 * or with none for "none". 0, or -1 with s unchanged. */
int protect_parse(struct protect_set *s, const char *list);

/* Write the list in the form protect_parse reads; returns the length
 * snprintf would have written. */
int protect_format(const struct protect_set *s, char *buf, size_t size);

/* 1 if the address lies in one of the prefixes. */
int protect_match(const struct protect_set *s, int family, const uint8_t *addr);

#endif
