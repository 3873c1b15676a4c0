/* nft_bans.h - the sets of table inet btblockd over nftables netlink:
 * list the ban sets' (ban4, ban6) elements, delete some (btblockctl);
 * flush the queue budget sets (the daemon, at start). The message parsing
 * is exposed for the unit tests and the fuzzer. */
#ifndef BTBLOCKD_NFT_BANS_H
#define BTBLOCKD_NFT_BANS_H

#include <stddef.h>
#include <stdint.h>
#include "addrspec.h"

struct nlmsghdr;
struct mnl_socket;

#define NFT_BANS_TABLE		"btblockd"	/* family inet */
#define NFT_BANS_MAX		(1u << 22)	/* elements read at most */
#define NFT_BANS_BUF		65536		/* one datagram or batch */

/* One element: the address pair in the set's order. */
struct ban_elem {
	uint8_t family;		/* 4 or 6 */
	uint8_t a[16], b[16];	/* IPv4 in the first 4 bytes */
	int has_timeout, has_expires;
	uint64_t timeout_ms;	/* the element's timeout; else the set's */
	uint64_t expires_ms;	/* time left */
};

struct ban_list {
	struct ban_elem *v;
	size_t n, cap;
	int truncated;		/* more than NFT_BANS_MAX: the rest was left out */
	uint64_t set_timeout_ms[2];	/* ban4, ban6: the sets' own timeouts (0: none) */
};

/* The request of a dump of set name's elements, or (set NULL) of table
 * inet btblockd's sets. */
struct nlmsghdr *nft_bans_dump_request(char *buf, const char *set, uint32_t seq);

/* One message of a dump: a NEWSETELEM of ban4 or ban6 adds its elements
 * to l, a NEWSET of them records its timeout; other messages are
 * skipped. 0, or -1 when the message is malformed (nothing added then).
 * -ENOMEM when l cannot grow. */
int nft_bans_parse(const struct nlmsghdr *nlh, void *list);

/* Sort l by pair, each pair once in the order (lower, higher); of the
 * two orders the one that lasts longer is kept. */
void nft_bans_pairs(struct ban_list *l);

/* Free the elements. */
void nft_bans_free(struct ban_list *l);

/* The elements of set (NULL: every set) naming an address in spec
 * (NULL: all), into out; for the delete. -ENOMEM or 0. */
int nft_bans_select(const struct ban_list *l, const struct addrspec *spec, struct ban_list *out);

/* Write into buf (len bytes) one batch deleting elements e[0..n) from
 * their sets, one DELSETELEM per set and up to 256 elements, each asking
 * for an acknowledgement; *msgs gets their number. The bytes written, or
 * 0 when they would not fit. */
size_t nft_bans_delete_batch(char *buf, size_t len, const struct ban_elem *e, size_t n,
			     uint32_t seq, unsigned *msgs);

/* Read both sets (kernel): 0, or -errno (-ENOENT: table not loaded). */
int nft_bans_read(struct ban_list *l);

/* Delete the elements (kernel), in batches; 0 or -errno. */
int nft_bans_delete(const struct ban_list *l);

/* Write into buf one batch flushing sets[0..n) of table inet btblockd,
 * each asking for an acknowledgement; as nft_bans_delete_batch. */
size_t nft_sets_flush_batch(char *buf, size_t len, const char *const *sets, size_t n,
			    uint32_t seq, unsigned *msgs);

/* A bound netfilter netlink socket for nft_sets_flush (opened while the
 * daemon may still create sockets), or NULL with errno. */
struct mnl_socket *nft_sets_socket(uint32_t *portid);

/* Flush the sets (kernel) in one transaction over nl: 0 or -errno
 * (-ENOENT: the table or a set is not there; then none is flushed). */
int nft_sets_flush(struct mnl_socket *nl, uint32_t portid, const char *const *sets, size_t n);

#endif
