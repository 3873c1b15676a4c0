/* nft_msgs.h - nftables dump messages built as the kernel sends them
 * (chains, sets, elements, rules and their expressions), for the tests
 * of btblockctl check. Each put_* appends to the message it is given;
 * the byte orders are the kernel's: numbers of attributes big-endian,
 * register values (marks) in host order. */
#ifndef BTBLOCKD_TEST_NFT_MSGS_H
#define BTBLOCKD_TEST_NFT_MSGS_H

#include <arpa/inet.h>
#include <endian.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>
#include "../../src/nftmsg.h"

#define MSG_SEQ 41
#define MSG_PID 5

static inline struct nlmsghdr *msg_start(char *buf, uint16_t msg_type, uint8_t family)
{
	struct nlmsghdr *nlh = nftmsg_put(buf, (uint16_t)((NFNL_SUBSYS_NFTABLES << 8) | msg_type),
					  NLM_F_MULTI, family, 0, MSG_SEQ);

	nlh->nlmsg_pid = MSG_PID;
	return nlh;
}

/* A chain; hook < 0: a regular chain. */
static inline struct nlmsghdr *put_chain(char *buf, uint8_t family, const char *table,
					 const char *name, int hook, int32_t priority)
{
	struct nlmsghdr *nlh = msg_start(buf, NFT_MSG_NEWCHAIN, family);

	mnl_attr_put_strz(nlh, NFTA_CHAIN_TABLE, table);
	mnl_attr_put_strz(nlh, NFTA_CHAIN_NAME, name);
	if (hook >= 0) {
		struct nlattr *h = mnl_attr_nest_start(nlh, NFTA_CHAIN_HOOK);

		mnl_attr_put_u32(nlh, NFTA_HOOK_HOOKNUM, htonl((uint32_t)hook));
		mnl_attr_put_u32(nlh, NFTA_HOOK_PRIORITY, htonl((uint32_t)priority));
		mnl_attr_nest_end(nlh, h);
		mnl_attr_put_u32(nlh, NFTA_CHAIN_POLICY, htonl(NF_ACCEPT));
		mnl_attr_put_strz(nlh, NFTA_CHAIN_TYPE, "filter");
	}
	mnl_attr_put_u32(nlh, NFTA_CHAIN_USE, htonl(1));
	return nlh;
}

static inline struct nlmsghdr *put_set(char *buf, const char *table, const char *name,
				       uint32_t flags, uint32_t key_len, uint32_t size)
{
	struct nlmsghdr *nlh = msg_start(buf, NFT_MSG_NEWSET, NFPROTO_INET);

	mnl_attr_put_strz(nlh, NFTA_SET_TABLE, table);
	mnl_attr_put_strz(nlh, NFTA_SET_NAME, name);
	mnl_attr_put_u32(nlh, NFTA_SET_FLAGS, htonl(flags));
	mnl_attr_put_u32(nlh, NFTA_SET_KEY_TYPE, htonl(19));
	mnl_attr_put_u32(nlh, NFTA_SET_KEY_LEN, htonl(key_len));
	if (size) {
		struct nlattr *d = mnl_attr_nest_start(nlh, NFTA_SET_DESC);

		mnl_attr_put_u32(nlh, NFTA_SET_DESC_SIZE, htonl(size));
		mnl_attr_nest_end(nlh, d);
	}
	return nlh;
}

/* A NEWSETELEM with n elements of keys of klen bytes each (keys[i] is
 * written in host order when klen is 4, else zeros). */
static inline struct nlmsghdr *put_elems(char *buf, const char *table, const char *set,
					 const uint32_t *keys, unsigned n, size_t klen)
{
	struct nlmsghdr *nlh = msg_start(buf, NFT_MSG_NEWSETELEM, NFPROTO_INET);
	struct nlattr *list;

	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, table);
	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, set);
	list = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
	for (unsigned i = 0; i < n; i++) {
		struct nlattr *el = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
		struct nlattr *k = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_KEY);
		uint8_t v[32] = { 0 };

		if (klen == 4)
			memcpy(v, &keys[i], 4);
		mnl_attr_put(nlh, NFTA_DATA_VALUE, klen, v);
		mnl_attr_nest_end(nlh, k);
		mnl_attr_nest_end(nlh, el);
	}
	mnl_attr_nest_end(nlh, list);
	return nlh;
}

/* A rule: open its expression list with rule_start, add expressions,
 * close with rule_end. */
static inline struct nlmsghdr *rule_start(char *buf, uint8_t family, const char *table,
					  const char *chain, uint64_t handle, struct nlattr **list)
{
	struct nlmsghdr *nlh = msg_start(buf, NFT_MSG_NEWRULE, family);

	mnl_attr_put_strz(nlh, NFTA_RULE_TABLE, table);
	mnl_attr_put_strz(nlh, NFTA_RULE_CHAIN, chain);
	mnl_attr_put_u64(nlh, NFTA_RULE_HANDLE, htobe64(handle));
	*list = mnl_attr_nest_start(nlh, NFTA_RULE_EXPRESSIONS);
	return nlh;
}

static inline void rule_end(struct nlmsghdr *nlh, struct nlattr *list)
{
	mnl_attr_nest_end(nlh, list);
}

static inline struct nlattr *expr_start(struct nlmsghdr *nlh, const char *name)
{
	struct nlattr *el = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);

	mnl_attr_put_strz(nlh, NFTA_EXPR_NAME, name);
	return el;
}

static inline void put_data_u32(struct nlmsghdr *nlh, uint16_t type, uint32_t v)
{
	struct nlattr *d = mnl_attr_nest_start(nlh, type);

	mnl_attr_put(nlh, NFTA_DATA_VALUE, 4, &v);
	mnl_attr_nest_end(nlh, d);
}

/* "ct load KEY => reg" (ct) or "meta load KEY => reg" (meta). */
static inline void expr_load(struct nlmsghdr *nlh, const char *name, uint32_t key, uint32_t dreg)
{
	struct nlattr *el = expr_start(nlh, name);
	struct nlattr *d = mnl_attr_nest_start(nlh, NFTA_EXPR_DATA);

	/* NFTA_CT_DREG, NFTA_CT_KEY and NFTA_META_DREG, NFTA_META_KEY are 1, 2 */
	mnl_attr_put_u32(nlh, 1, htonl(dreg));
	mnl_attr_put_u32(nlh, 2, htonl(key));
	mnl_attr_nest_end(nlh, d);
	mnl_attr_nest_end(nlh, el);
}

static inline void expr_bitwise(struct nlmsghdr *nlh, uint32_t sreg, uint32_t dreg, uint32_t mask,
				uint32_t xor)
{
	struct nlattr *el = expr_start(nlh, "bitwise");
	struct nlattr *d = mnl_attr_nest_start(nlh, NFTA_EXPR_DATA);

	mnl_attr_put_u32(nlh, NFTA_BITWISE_SREG, htonl(sreg));
	mnl_attr_put_u32(nlh, NFTA_BITWISE_DREG, htonl(dreg));
	mnl_attr_put_u32(nlh, NFTA_BITWISE_LEN, htonl(4));
	mnl_attr_put_u32(nlh, NFTA_BITWISE_OP, htonl(0));
	put_data_u32(nlh, NFTA_BITWISE_MASK, mask);
	put_data_u32(nlh, NFTA_BITWISE_XOR, xor);
	mnl_attr_nest_end(nlh, d);
	mnl_attr_nest_end(nlh, el);
}

static inline void expr_cmp(struct nlmsghdr *nlh, uint32_t sreg, uint32_t op, uint32_t value)
{
	struct nlattr *el = expr_start(nlh, "cmp");
	struct nlattr *d = mnl_attr_nest_start(nlh, NFTA_EXPR_DATA);

	mnl_attr_put_u32(nlh, NFTA_CMP_SREG, htonl(sreg));
	mnl_attr_put_u32(nlh, NFTA_CMP_OP, htonl(op));
	put_data_u32(nlh, NFTA_CMP_DATA, value);
	mnl_attr_nest_end(nlh, d);
	mnl_attr_nest_end(nlh, el);
}

/* A lookup; dreg 0 with vmap: a verdict map. */
static inline void expr_lookup(struct nlmsghdr *nlh, const char *set, uint32_t sreg, int vmap,
			       uint32_t flags)
{
	struct nlattr *el = expr_start(nlh, "lookup");
	struct nlattr *d = mnl_attr_nest_start(nlh, NFTA_EXPR_DATA);

	mnl_attr_put_strz(nlh, NFTA_LOOKUP_SET, set);
	mnl_attr_put_u32(nlh, NFTA_LOOKUP_SREG, htonl(sreg));
	if (vmap)
		mnl_attr_put_u32(nlh, NFTA_LOOKUP_DREG, htonl(NFT_REG_VERDICT));
	mnl_attr_put_u32(nlh, NFTA_LOOKUP_FLAGS, htonl(flags));
	mnl_attr_nest_end(nlh, d);
	mnl_attr_nest_end(nlh, el);
}

static inline void expr_verdict(struct nlmsghdr *nlh, int32_t code, const char *chain)
{
	struct nlattr *el = expr_start(nlh, "immediate");
	struct nlattr *d = mnl_attr_nest_start(nlh, NFTA_EXPR_DATA);
	struct nlattr *data, *v;

	mnl_attr_put_u32(nlh, NFTA_IMMEDIATE_DREG, htonl(NFT_REG_VERDICT));
	data = mnl_attr_nest_start(nlh, NFTA_IMMEDIATE_DATA);
	v = mnl_attr_nest_start(nlh, NFTA_DATA_VERDICT);
	mnl_attr_put_u32(nlh, NFTA_VERDICT_CODE, htonl((uint32_t)code));
	if (chain)
		mnl_attr_put_strz(nlh, NFTA_VERDICT_CHAIN, chain);
	mnl_attr_nest_end(nlh, v);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, d);
	mnl_attr_nest_end(nlh, el);
}

/* "queue num NUM-(NUM+TOTAL-1) [bypass]": total 0 leaves the attribute out. */
static inline void expr_queue(struct nlmsghdr *nlh, uint16_t num, uint16_t total, uint16_t flags)
{
	struct nlattr *el = expr_start(nlh, "queue");
	struct nlattr *d = mnl_attr_nest_start(nlh, NFTA_EXPR_DATA);

	mnl_attr_put_u16(nlh, NFTA_QUEUE_NUM, htons(num));
	if (total)
		mnl_attr_put_u16(nlh, NFTA_QUEUE_TOTAL, htons(total));
	mnl_attr_put_u16(nlh, NFTA_QUEUE_FLAGS, htons(flags));
	mnl_attr_nest_end(nlh, d);
	mnl_attr_nest_end(nlh, el);
}

static inline void expr_offload(struct nlmsghdr *nlh, const char *flowtable)
{
	struct nlattr *el = expr_start(nlh, "flow_offload");
	struct nlattr *d = mnl_attr_nest_start(nlh, NFTA_EXPR_DATA);

	mnl_attr_put_strz(nlh, NFTA_FLOW_TABLE_NAME, flowtable);
	mnl_attr_nest_end(nlh, d);
	mnl_attr_nest_end(nlh, el);
}

/* An expression with no data that matters here. */
static inline void expr_other(struct nlmsghdr *nlh, const char *name)
{
	struct nlattr *el = expr_start(nlh, name);

	mnl_attr_nest_end(nlh, el);
}

#endif
