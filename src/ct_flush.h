/* ct_flush.h - delete the conntrack entries of blocked flows that name
 * an address (btblockctl unban), over ctnetlink. The message parsing is
 * exposed for the unit tests and the fuzzer. */
#ifndef BTBLOCKD_CT_FLUSH_H
#define BTBLOCKD_CT_FLUSH_H

#include <stddef.h>
#include <stdint.h>
#include "addrspec.h"

struct nlmsghdr;

#define CT_FLUSH_MAX	(1u << 20)	/* entries deleted at most per run */
#define CT_FLUSH_BUF	65536

/* One conntrack entry: what identifies it for the delete. */
struct ct_entry {
	uint8_t family;		/* 4 or 6 */
	uint8_t l4;		/* IP protocol number */
	uint8_t src[16], dst[16];	/* original direction */
	uint8_t rsrc[16], rdst[16];	/* reply direction (NAT) */
	uint16_t sport, dport;	/* original, network order; 0 when none */
	uint32_t mark;
	uint32_t id;		/* network order; 0 when absent */
	uint16_t zone;		/* network order; 0 when absent */
	int has_ports, has_reply;
};

/* What to look for: entries with an address in spec whose mark, within
 * mask, is one of the values. */
struct ct_filter {
	struct addrspec spec;
	uint32_t mask;
	uint32_t values[2];
	unsigned nvalues;
};

/* The request of a dump of the conntrack table of family (4 or 6). */
struct nlmsghdr *ct_dump_request(char *buf, int family, uint32_t seq);

/* One message of a dump into *e: 1 parsed, 0 not a conntrack entry (or
 * one without the needed attributes), -1 malformed. */
int ct_parse(const struct nlmsghdr *nlh, struct ct_entry *e);

/* 1 if the entry matches the filter. */
int ct_match(const struct ct_filter *f, const struct ct_entry *e);

/* The request deleting entry e (its original tuple, zone and id). */
struct nlmsghdr *ct_delete_request(char *buf, const struct ct_entry *e, uint32_t seq);

/* Delete every matching entry (kernel). The number deleted, or -errno;
 * entries that vanished meanwhile are not counted and are no error. */
long ct_flush(const struct ct_filter *f);

#endif
