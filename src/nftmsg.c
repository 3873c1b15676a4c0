/* nftmsg.c - nftables netlink messages: requests, and the attributes of
 * replies that more than one reader parses (ruleset, nft_view, nft_bans).
 *
 * Every reply is hostile input: each attribute is validated against its
 * type before use (nlattr_table_cb), lists hold only nested
 * NFTA_LIST_ELEM entries, and a value is taken only at the length asked.
 * What a reader does with a missing attribute stays the reader's. */
#include "sysincl.h"
#include <arpa/inet.h>
#include "nlattr.h"
#include "nftmsg.h"

struct nlmsghdr *nftmsg_put(char *buf, uint16_t type, uint16_t flags, uint8_t family,
			    uint16_t res_id, uint32_t seq)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *nfg;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = flags;
	nlh->nlmsg_seq = seq;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = family;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = htons(res_id);
	return nlh;
}

size_t nftmsg_batch_mark(char *buf, uint16_t type, uint32_t seq)
{
	struct nlmsghdr *nlh = nftmsg_put(buf, type, NLM_F_REQUEST, AF_UNSPEC,
					  NFNL_SUBSYS_NFTABLES, seq);

	return NLMSG_ALIGN(nlh->nlmsg_len);
}

struct nlmsghdr *nftmsg_dump_request(char *buf, uint16_t msg_type, uint8_t family,
				     uint32_t seq)
{
	return nftmsg_put(buf, (uint16_t)((NFNL_SUBSYS_NFTABLES << 8) | msg_type),
			  NLM_F_REQUEST | NLM_F_DUMP, family, 0, seq);
}

const struct nfgenmsg *nftmsg_get(const struct nlmsghdr *nlh, uint16_t msg_type)
{
	if (nlh->nlmsg_type != ((NFNL_SUBSYS_NFTABLES << 8) | msg_type) ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof(struct nfgenmsg))
		return NULL;
	return mnl_nlmsg_get_payload(nlh);
}

int nftmsg_attrs(const struct nlmsghdr *nlh, uint16_t max,
		 const enum mnl_attr_data_type *types, const struct nlattr **tb)
{
	struct nlattr_table t = { max, types, tb };

	return mnl_attr_parse(nlh, sizeof(struct nfgenmsg), nlattr_table_cb, &t) < 0 ? -1 : 0;
}

int nftmsg_nested(const struct nlattr *nest, uint16_t max,
		  const enum mnl_attr_data_type *types, const struct nlattr **tb)
{
	struct nlattr_table t = { max, types, tb };

	if (!nest)
		return 0;
	return mnl_attr_parse_nested(nest, nlattr_table_cb, &t) < 0 ? -1 : 0;
}

int nftmsg_list_elem(const struct nlattr *a, uint16_t max,
		     const enum mnl_attr_data_type *types, const struct nlattr **tb)
{
	if (mnl_attr_get_type(a) != NFTA_LIST_ELEM || mnl_attr_validate(a, MNL_TYPE_NESTED) < 0)
		return -1;
	return nftmsg_nested(a, max, types, tb);
}

const enum mnl_attr_data_type nftmsg_chain_types[NFTA_CHAIN_MAX + 1] = {
	[NFTA_CHAIN_TABLE] = MNL_TYPE_NUL_STRING,
	[NFTA_CHAIN_NAME] = MNL_TYPE_NUL_STRING,
	[NFTA_CHAIN_HOOK] = MNL_TYPE_NESTED,
};

int nftmsg_in_table(const struct nfgenmsg *nfg, const struct nlattr *attr, uint8_t family,
		    const char *table)
{
	return nfg->nfgen_family == family && attr && strcmp(mnl_attr_get_str(attr), table) == 0;
}

const enum mnl_attr_data_type nftmsg_set_types[NFTA_SET_MAX + 1] = {
	[NFTA_SET_TABLE] = MNL_TYPE_NUL_STRING,
	[NFTA_SET_NAME] = MNL_TYPE_NUL_STRING,
	/* what btblockctl check compares */
	[NFTA_SET_FLAGS] = MNL_TYPE_U32,
	[NFTA_SET_KEY_LEN] = MNL_TYPE_U32,
	[NFTA_SET_DESC] = MNL_TYPE_NESTED,	/* the size */
	/* the timeout of an element that gives none */
	[NFTA_SET_TIMEOUT] = MNL_TYPE_U64,
};

int nftmsg_set_size(const struct nlattr *desc, uint32_t *size)
{
	static const enum mnl_attr_data_type types[NFTA_SET_DESC_MAX + 1] = {
		[NFTA_SET_DESC_SIZE] = MNL_TYPE_U32,
	};
	const struct nlattr *tb[NFTA_SET_DESC_MAX + 1] = { NULL };

	*size = 0;
	if (nftmsg_nested(desc, NFTA_SET_DESC_MAX, types, tb) < 0)
		return -1;
	if (tb[NFTA_SET_DESC_SIZE])
		*size = ntohl(mnl_attr_get_u32(tb[NFTA_SET_DESC_SIZE]));
	return 0;
}

const enum mnl_attr_data_type nftmsg_setelem_list_types[NFTA_SET_ELEM_LIST_MAX + 1] = {
	[NFTA_SET_ELEM_LIST_TABLE] = MNL_TYPE_NUL_STRING,
	[NFTA_SET_ELEM_LIST_SET] = MNL_TYPE_NUL_STRING,
	[NFTA_SET_ELEM_LIST_ELEMENTS] = MNL_TYPE_NESTED,
};

const enum mnl_attr_data_type nftmsg_setelem_types[NFTA_SET_ELEM_MAX + 1] = {
	[NFTA_SET_ELEM_KEY] = MNL_TYPE_NESTED,
	[NFTA_SET_ELEM_TIMEOUT] = MNL_TYPE_U64,
	[NFTA_SET_ELEM_EXPIRATION] = MNL_TYPE_U64,
};

int nftmsg_expr(const struct nlattr *elem, const char **name, const struct nlattr **data)
{
	static const enum mnl_attr_data_type types[NFTA_EXPR_MAX + 1] = {
		[NFTA_EXPR_NAME] = MNL_TYPE_NUL_STRING,
		[NFTA_EXPR_DATA] = MNL_TYPE_NESTED,
	};
	const struct nlattr *tb[NFTA_EXPR_MAX + 1] = { NULL };

	*name = NULL;
	*data = NULL;
	if (nftmsg_list_elem(elem, NFTA_EXPR_MAX, types, tb) < 0)
		return -1;
	*name = tb[NFTA_EXPR_NAME] ? mnl_attr_get_str(tb[NFTA_EXPR_NAME]) : NULL;
	*data = tb[NFTA_EXPR_DATA];
	return 0;
}

int nftmsg_immediate(const struct nlattr *data, const struct nlattr **tb)
{
	static const enum mnl_attr_data_type types[NFTA_IMMEDIATE_MAX + 1] = {
		[NFTA_IMMEDIATE_DREG] = MNL_TYPE_U32,
		[NFTA_IMMEDIATE_DATA] = MNL_TYPE_NESTED,
	};

	return nftmsg_nested(data, NFTA_IMMEDIATE_MAX, types, tb);
}

int nftmsg_jump_target(const struct nlattr *imm_data, const char **chain)
{
	static const enum mnl_attr_data_type data_types[NFTA_DATA_MAX + 1] = {
		[NFTA_DATA_VERDICT] = MNL_TYPE_NESTED,
	};
	static const enum mnl_attr_data_type verdict_types[NFTA_VERDICT_MAX + 1] = {
		[NFTA_VERDICT_CODE] = MNL_TYPE_U32,
		[NFTA_VERDICT_CHAIN] = MNL_TYPE_NUL_STRING,
	};
	const struct nlattr *d[NFTA_DATA_MAX + 1] = { NULL };
	const struct nlattr *vd[NFTA_VERDICT_MAX + 1] = { NULL };
	uint32_t code;

	*chain = NULL;
	if (nftmsg_nested(imm_data, NFTA_DATA_MAX, data_types, d) < 0 ||
	    nftmsg_nested(d[NFTA_DATA_VERDICT], NFTA_VERDICT_MAX, verdict_types, vd) < 0)
		return -1;
	if (!vd[NFTA_VERDICT_CODE] || !vd[NFTA_VERDICT_CHAIN])
		return 0;
	code = ntohl(mnl_attr_get_u32(vd[NFTA_VERDICT_CODE]));
	if (code == (uint32_t)NFT_JUMP || code == (uint32_t)NFT_GOTO)
		*chain = mnl_attr_get_str(vd[NFTA_VERDICT_CHAIN]);
	return 0;
}

int nftmsg_data_value(const struct nlattr *nest, size_t len, const void **value)
{
	static const enum mnl_attr_data_type types[NFTA_DATA_MAX + 1] = {
		[NFTA_DATA_VALUE] = MNL_TYPE_BINARY,
	};
	const struct nlattr *tb[NFTA_DATA_MAX + 1] = { NULL };

	if (!nest || nftmsg_nested(nest, NFTA_DATA_MAX, types, tb) < 0 || !tb[NFTA_DATA_VALUE] ||
	    mnl_attr_get_payload_len(tb[NFTA_DATA_VALUE]) != len)
		return -1;
	*value = mnl_attr_get_payload(tb[NFTA_DATA_VALUE]);
	return 0;
}
