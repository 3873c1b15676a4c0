/* nft_view.h - the structure of table inet btblockd (base chains, sets and
 * maps, the queue statements, the mark lookups) and the flow offload rules
 * of every table, read over nftables netlink for btblockctl check. The
 * message parsing is exposed for the unit tests and the fuzzer. */
#ifndef BTBLOCKD_NFT_VIEW_H
#define BTBLOCKD_NFT_VIEW_H

#include <stddef.h>
#include <stdint.h>

struct nlmsghdr;

#define NFT_VIEW_TABLE		"btblockd"	/* family inet */
#define NFT_VIEW_NAME		64	/* names kept (longer ones cut, for display) */
#define NFT_VIEW_MAX_CHAINS	32	/* base chains of our table kept */
#define NFT_VIEW_MAX_SETS	64
#define NFT_VIEW_MAX_KEYS	64	/* keys kept per map */
#define NFT_VIEW_MAX_QUEUES	16
#define NFT_VIEW_MAX_LOOKUPS	32
#define NFT_VIEW_MAX_OFFLOADS	32
#define NFT_VIEW_MAX_GATES	4	/* mark tests kept per offload rule */
#define NFT_VIEW_BUF		65536	/* one datagram */

/* Where the value a lookup or compare reads came from. */
enum nft_view_src { NFT_SRC_OTHER, NFT_SRC_CT_MARK, NFT_SRC_META_MARK };

/* A base chain of our table. */
struct nft_view_chain {
	char name[NFT_VIEW_NAME];
	uint32_t hook;			/* NF_INET_* */
	int32_t priority;
	int jumps_decide;		/* a rule jumps (or goes) to chain "decide" */
	int looks_up_verdicts;		/* a rule looks the mark up in map "verdicts" */
};

/* A set or map of our table, and its elements when they were read. */
struct nft_view_set {
	char name[NFT_VIEW_NAME];
	uint32_t flags;			/* NFT_SET_* */
	uint32_t key_len;
	uint32_t size;			/* most elements; 0: no limit given */
	int elems_read;			/* its elements were dumped */
	uint64_t elems;			/* elements listed */
	uint32_t keys[NFT_VIEW_MAX_KEYS];	/* the first 4-byte keys, host order */
	unsigned nkeys;
};

/* A queue statement of our table. */
struct nft_view_queue {
	char chain[NFT_VIEW_NAME];
	uint16_t num, total, flags;	/* queues num .. num + total - 1 */
	int from_reg;			/* the number comes from a register */
};

/* A lookup of (a masked) mark in a set of our table: "ct mark & M vmap @S". */
struct nft_view_lookup {
	char set[NFT_VIEW_NAME];
	enum nft_view_src src;
	uint32_t mask;			/* 0xffffffff when not masked */
};

/* "ct mark & mask == value" ahead of the offload in the same rule. */
struct nft_view_gate {
	uint32_t mask, value;
};

/* A rule of any table that offloads flows to a flowtable. */
struct nft_view_offload {
	uint8_t family;			/* NFPROTO_* */
	char table[NFT_VIEW_NAME], chain[NFT_VIEW_NAME], flowtable[NFT_VIEW_NAME];
	uint64_t handle;
	struct nft_view_gate gates[NFT_VIEW_MAX_GATES];
	unsigned ngates;
	int gates_more;			/* more tests than kept: judged on those kept */
};

struct nft_view {
	int loaded;			/* table inet btblockd exists */
	struct nft_view_chain chains[NFT_VIEW_MAX_CHAINS];
	unsigned nchains;
	int chains_more;
	struct nft_view_set sets[NFT_VIEW_MAX_SETS];
	unsigned nsets;
	int sets_more;
	struct nft_view_queue queues[NFT_VIEW_MAX_QUEUES];
	unsigned nqueues;
	int queues_more;
	struct nft_view_lookup lookups[NFT_VIEW_MAX_LOOKUPS];
	unsigned nlookups;
	struct nft_view_offload offloads[NFT_VIEW_MAX_OFFLOADS];
	unsigned noffloads;
	unsigned offloads_more;		/* offload rules past the array */
	uint64_t rules;			/* rules read, of every table */
	int has_bans_failed;
	uint64_t bans_failed;		/* the named counter */
};

/* The request of a dump of msg_type (NFT_MSG_GET*) in family; table, when
 * not NULL, filters it to that table, set to that set's elements. */
struct nlmsghdr *nft_view_request(char *buf, uint16_t msg_type, uint8_t family,
				  const char *table, const char *set, uint32_t seq);

/* One message of a dump into the view (arg: struct nft_view): chains of
 * our table (base chains kept), sets and maps of our table, elements of
 * a set already in the view, rules of every table. Other messages are
 * skipped. 0, or -1 when the message is malformed. */
int nft_view_parse_chain(const struct nlmsghdr *nlh, void *arg);
int nft_view_parse_set(const struct nlmsghdr *nlh, void *arg);
int nft_view_parse_setelem(const struct nlmsghdr *nlh, void *arg);
int nft_view_parse_rule(const struct nlmsghdr *nlh, void *arg);

/* The set of our table named name, or NULL. */
const struct nft_view_set *nft_view_set(const struct nft_view *v, const char *name);

/* Read the kernel's ruleset into v: 0 (v->loaded tells whether our table
 * exists), or -errno (-EPERM: not allowed to read it). */
int nft_view_read(struct nft_view *v);

#endif
