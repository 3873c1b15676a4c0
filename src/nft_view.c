/* nft_view.c - the structure of table inet btblockd and every table's flow
 * offload rules over nftables netlink, for btblockctl check.
 *
 * What is read is structure, not rule text: base chains by hook and
 * priority, which base chain jumps to "decide" and which looks the mark
 * up in "verdicts", the sets and maps with their keys, the queue
 * statements, the masks of the mark lookups, and for every table the
 * rules holding a flow_offload expression with the mark tests ahead of
 * it. A rule's expressions are read in order; a mark test is only
 * recognised in the shape nft gives "ct mark & M == V" and "meta mark &
 * M vmap @S" (a load, an optional mask, the compare or lookup reading
 * the register just written), anything else in between forgets it, so a
 * test is never credited to the wrong register.
 *
 * Every reply is hostile input: attributes are validated before use
 * (nlattr_table_cb), values of other lengths than expected are not
 * understood, arrays are bounded and say when they overflowed. */
#include "sysincl.h"
#include <arpa/inet.h>
#include <endian.h>
#include <sys/socket.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>
#include "nftmsg.h"
#include "nlwalk.h"
#include "nft_view.h"
#include "ruleset.h"

#define NFT_VIEW_MAX_DATAGRAMS	100000	/* per dump: a reading always ends */
#define NFT_VIEW_RECV_TIMEOUT_MS 2000

/* NFT_BITWISE_MASK_XOR (NFT_BITWISE_BOOL in older headers): the only
 * operation of kernels before 5.6, which send no NFTA_BITWISE_OP. */
#define BITWISE_MASK_XOR	0

struct nlmsghdr *nft_view_request(char *buf, uint16_t msg_type, uint8_t family,
				  const char *table, const char *set, uint32_t seq)
{
	struct nlmsghdr *nlh = nftmsg_dump_request(buf, msg_type, family, seq);

	/* The table is attribute 1 of chain, set, element and rule requests. */
	if (table)
		mnl_attr_put_strz(nlh, msg_type == NFT_MSG_GETSETELEM ? NFTA_SET_ELEM_LIST_TABLE :
				  NFTA_SET_TABLE, table);
	if (set)
		mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, set);
	return nlh;
}

static int is_our_table(const struct nfgenmsg *nfg, const struct nlattr *table)
{
	return nftmsg_in_table(nfg, table, NFPROTO_INET, NFT_VIEW_TABLE);
}

static void copy_name(char *dst, const struct nlattr *a)
{
	snprintf(dst, NFT_VIEW_NAME, "%s", a ? mnl_attr_get_str(a) : "");
}

static uint32_t get_be32(const struct nlattr *a)
{
	return ntohl(mnl_attr_get_u32(a));
}

int nft_view_parse_chain(const struct nlmsghdr *nlh, void *arg)
{
	static const enum mnl_attr_data_type hook_types[NFTA_HOOK_MAX + 1] = {
		[NFTA_HOOK_HOOKNUM] = MNL_TYPE_U32,
		[NFTA_HOOK_PRIORITY] = MNL_TYPE_U32,
	};
	const struct nlattr *tb[NFTA_CHAIN_MAX + 1] = { NULL };
	const struct nlattr *hook[NFTA_HOOK_MAX + 1] = { NULL };
	const struct nfgenmsg *nfg = nftmsg_get(nlh, NFT_MSG_NEWCHAIN);
	struct nft_view *v = arg;
	struct nft_view_chain *c;

	if (!nfg)
		return 0;
	if (nftmsg_attrs(nlh, NFTA_CHAIN_MAX, nftmsg_chain_types, tb) < 0)
		return -1;
	if (!is_our_table(nfg, tb[NFTA_CHAIN_TABLE]) || !tb[NFTA_CHAIN_NAME] ||
	    !tb[NFTA_CHAIN_HOOK])
		return 0;	/* a regular chain: only reached by jumps */
	if (nftmsg_nested(tb[NFTA_CHAIN_HOOK], NFTA_HOOK_MAX, hook_types, hook) < 0)
		return -1;
	if (!hook[NFTA_HOOK_HOOKNUM] || !hook[NFTA_HOOK_PRIORITY])
		return 0;
	if (v->nchains >= NFT_VIEW_MAX_CHAINS) {
		v->chains_more = 1;
		return 0;
	}
	c = &v->chains[v->nchains++];
	memset(c, 0, sizeof(*c));
	copy_name(c->name, tb[NFTA_CHAIN_NAME]);
	c->hook = get_be32(hook[NFTA_HOOK_HOOKNUM]);
	c->priority = (int32_t)get_be32(hook[NFTA_HOOK_PRIORITY]);
	return 0;
}

static struct nft_view_set *find_set(struct nft_view *v, const char *name)
{
	for (unsigned i = 0; i < v->nsets; i++)
		if (strcmp(v->sets[i].name, name) == 0)
			return &v->sets[i];
	return NULL;
}

const struct nft_view_set *nft_view_set(const struct nft_view *v, const char *name)
{
	return find_set((struct nft_view *)v, name);
}

int nft_view_parse_set(const struct nlmsghdr *nlh, void *arg)
{
	const struct nlattr *tb[NFTA_SET_MAX + 1] = { NULL };
	const struct nfgenmsg *nfg = nftmsg_get(nlh, NFT_MSG_NEWSET);
	struct nft_view *v = arg;
	struct nft_view_set *s;
	uint32_t size;

	if (!nfg)
		return 0;
	if (nftmsg_attrs(nlh, NFTA_SET_MAX, nftmsg_set_types, tb) < 0)
		return -1;
	if (!is_our_table(nfg, tb[NFTA_SET_TABLE]) || !tb[NFTA_SET_NAME])
		return 0;
	if (nftmsg_set_size(tb[NFTA_SET_DESC], &size) < 0)
		return -1;
	if (strlen(mnl_attr_get_str(tb[NFTA_SET_NAME])) >= NFT_VIEW_NAME)
		return 0;	/* not one of ours, and could not be found again */
	s = find_set(v, mnl_attr_get_str(tb[NFTA_SET_NAME]));
	if (!s) {
		if (v->nsets >= NFT_VIEW_MAX_SETS) {
			v->sets_more = 1;
			return 0;
		}
		s = &v->sets[v->nsets++];
	}
	memset(s, 0, sizeof(*s));
	copy_name(s->name, tb[NFTA_SET_NAME]);
	s->flags = tb[NFTA_SET_FLAGS] ? get_be32(tb[NFTA_SET_FLAGS]) : 0;
	s->key_len = tb[NFTA_SET_KEY_LEN] ? get_be32(tb[NFTA_SET_KEY_LEN]) : 0;
	s->size = size;
	return 0;
}

/* A 4-byte NFTA_DATA_VALUE inside nest (host order, as marks are kept):
 * 0, or -1 when there is none or it has another length. */
static int data_u32(const struct nlattr *nest, uint32_t *out)
{
	const void *value;

	if (nftmsg_data_value(nest, 4, &value) < 0)
		return -1;
	memcpy(out, value, 4);
	return 0;
}

int nft_view_parse_setelem(const struct nlmsghdr *nlh, void *arg)
{
	const struct nlattr *tb[NFTA_SET_ELEM_LIST_MAX + 1] = { NULL };
	const struct nfgenmsg *nfg = nftmsg_get(nlh, NFT_MSG_NEWSETELEM);
	struct nft_view *v = arg;
	struct nft_view_set *s;
	const struct nlattr *a;

	if (!nfg)
		return 0;
	if (nftmsg_attrs(nlh, NFTA_SET_ELEM_LIST_MAX, nftmsg_setelem_list_types, tb) < 0)
		return -1;
	if (!is_our_table(nfg, tb[NFTA_SET_ELEM_LIST_TABLE]) || !tb[NFTA_SET_ELEM_LIST_SET] ||
	    !tb[NFTA_SET_ELEM_LIST_ELEMENTS])
		return 0;
	s = find_set(v, mnl_attr_get_str(tb[NFTA_SET_ELEM_LIST_SET]));
	if (!s)
		return 0;
	mnl_attr_for_each_nested(a, tb[NFTA_SET_ELEM_LIST_ELEMENTS]) {
		const struct nlattr *el[NFTA_SET_ELEM_MAX + 1] = { NULL };
		uint32_t key;

		if (nftmsg_list_elem(a, NFTA_SET_ELEM_MAX, nftmsg_setelem_types, el) < 0)
			return -1;
		s->elems++;
		if (s->nkeys < NFT_VIEW_MAX_KEYS && data_u32(el[NFTA_SET_ELEM_KEY], &key) == 0)
			s->keys[s->nkeys++] = key;
	}
	return 0;
}

/* ---- rules ---------------------------------------------------------- */

/* What the expressions of one rule did so far. */
struct rule_scan {
	struct nft_view *v;
	int ours;			/* a rule of table inet btblockd */
	struct nft_view_chain *base;	/* its base chain, when it is in one */
	const char *chain;
	/* The value just loaded: where from, into which register, masked how. */
	enum nft_view_src src;
	int have_load;
	uint32_t reg;
	uint32_t mask;
	/* Mark tests seen so far in the rule. */
	struct nft_view_gate gates[NFT_VIEW_MAX_GATES];
	unsigned ngates;
	int gates_more;
};

static int scan_load(struct rule_scan *r, const char *name, const struct nlattr *data)
{
	static const enum mnl_attr_data_type ct_types[NFTA_CT_MAX + 1] = {
		[NFTA_CT_DREG] = MNL_TYPE_U32,
		[NFTA_CT_KEY] = MNL_TYPE_U32,
		[NFTA_CT_SREG] = MNL_TYPE_U32,
	};
	static const enum mnl_attr_data_type meta_types[NFTA_META_MAX + 1] = {
		[NFTA_META_DREG] = MNL_TYPE_U32,
		[NFTA_META_KEY] = MNL_TYPE_U32,
		[NFTA_META_SREG] = MNL_TYPE_U32,
	};
	const struct nlattr *tb[(NFTA_CT_MAX > NFTA_META_MAX ? NFTA_CT_MAX : NFTA_META_MAX) + 1] = { NULL };
	int ct = strcmp(name, "ct") == 0;
	const struct nlattr *dreg, *key;

	if (nftmsg_nested(data, ct ? NFTA_CT_MAX : NFTA_META_MAX, ct ? ct_types : meta_types,
			  tb) < 0)
		return -1;
	dreg = tb[ct ? NFTA_CT_DREG : NFTA_META_DREG];
	key = tb[ct ? NFTA_CT_KEY : NFTA_META_KEY];
	r->have_load = 0;
	if (!dreg || !key)
		return 0;	/* a "set" statement writes no register */
	r->have_load = 1;
	r->reg = get_be32(dreg);
	r->mask = 0xffffffffu;
	if (get_be32(key) == (ct ? (uint32_t)NFT_CT_MARK : (uint32_t)NFT_META_MARK))
		r->src = ct ? NFT_SRC_CT_MARK : NFT_SRC_META_MARK;
	else
		r->src = NFT_SRC_OTHER;
	return 0;
}

static int scan_bitwise(struct rule_scan *r, const struct nlattr *data)
{
	static const enum mnl_attr_data_type types[NFTA_BITWISE_MAX + 1] = {
		[NFTA_BITWISE_SREG] = MNL_TYPE_U32,
		[NFTA_BITWISE_DREG] = MNL_TYPE_U32,
		[NFTA_BITWISE_LEN] = MNL_TYPE_U32,
		[NFTA_BITWISE_MASK] = MNL_TYPE_NESTED,
		[NFTA_BITWISE_XOR] = MNL_TYPE_NESTED,
		[NFTA_BITWISE_OP] = MNL_TYPE_U32,
	};
	const struct nlattr *tb[NFTA_BITWISE_MAX + 1] = { NULL };
	uint32_t mask, xor;

	if (nftmsg_nested(data, NFTA_BITWISE_MAX, types, tb) < 0)
		return -1;
	if (!r->have_load || !tb[NFTA_BITWISE_SREG] || !tb[NFTA_BITWISE_DREG] ||
	    get_be32(tb[NFTA_BITWISE_SREG]) != r->reg ||
	    (tb[NFTA_BITWISE_OP] && get_be32(tb[NFTA_BITWISE_OP]) != BITWISE_MASK_XOR) ||
	    !tb[NFTA_BITWISE_LEN] || get_be32(tb[NFTA_BITWISE_LEN]) != 4 ||
	    data_u32(tb[NFTA_BITWISE_MASK], &mask) < 0 || data_u32(tb[NFTA_BITWISE_XOR], &xor) < 0 ||
	    xor != 0) {
		r->have_load = 0;	/* not a plain mask: the value is not the mark */
		return 0;
	}
	r->reg = get_be32(tb[NFTA_BITWISE_DREG]);
	r->mask &= mask;
	return 0;
}

static int scan_cmp(struct rule_scan *r, const struct nlattr *data)
{
	static const enum mnl_attr_data_type types[NFTA_CMP_MAX + 1] = {
		[NFTA_CMP_SREG] = MNL_TYPE_U32,
		[NFTA_CMP_OP] = MNL_TYPE_U32,
		[NFTA_CMP_DATA] = MNL_TYPE_NESTED,
	};
	const struct nlattr *tb[NFTA_CMP_MAX + 1] = { NULL };
	uint32_t value;

	if (nftmsg_nested(data, NFTA_CMP_MAX, types, tb) < 0)
		return -1;
	if (r->have_load && r->src == NFT_SRC_CT_MARK && tb[NFTA_CMP_SREG] && tb[NFTA_CMP_OP] &&
	    get_be32(tb[NFTA_CMP_SREG]) == r->reg && get_be32(tb[NFTA_CMP_OP]) == NFT_CMP_EQ &&
	    data_u32(tb[NFTA_CMP_DATA], &value) == 0) {
		if (r->ngates < NFT_VIEW_MAX_GATES)
			r->gates[r->ngates++] = (struct nft_view_gate){ r->mask, value };
		else
			r->gates_more = 1;
	}
	r->have_load = 0;
	return 0;
}

static int scan_lookup(struct rule_scan *r, const struct nlattr *data)
{
	static const enum mnl_attr_data_type types[NFTA_LOOKUP_MAX + 1] = {
		[NFTA_LOOKUP_SET] = MNL_TYPE_NUL_STRING,
		[NFTA_LOOKUP_SREG] = MNL_TYPE_U32,
		[NFTA_LOOKUP_FLAGS] = MNL_TYPE_U32,
	};
	const struct nlattr *tb[NFTA_LOOKUP_MAX + 1] = { NULL };
	struct nft_view *v = r->v;
	const char *set;

	if (nftmsg_nested(data, NFTA_LOOKUP_MAX, types, tb) < 0)
		return -1;
	if (!r->ours || !tb[NFTA_LOOKUP_SET] || !tb[NFTA_LOOKUP_SREG])
		goto out;
	set = mnl_attr_get_str(tb[NFTA_LOOKUP_SET]);
	if (strcmp(set, "verdicts") == 0 && r->base)
		r->base->looks_up_verdicts = 1;
	/* Only the lookups of a mark matter here; anonymous sets are many. */
	if (!r->have_load || get_be32(tb[NFTA_LOOKUP_SREG]) != r->reg ||
	    r->src == NFT_SRC_OTHER || (tb[NFTA_LOOKUP_FLAGS] && get_be32(tb[NFTA_LOOKUP_FLAGS])))
		goto out;
	if (v->nlookups < NFT_VIEW_MAX_LOOKUPS) {
		struct nft_view_lookup *l = &v->lookups[v->nlookups++];

		copy_name(l->set, tb[NFTA_LOOKUP_SET]);
		l->src = r->src;
		l->mask = r->mask;
	}
out:
	r->have_load = 0;
	return 0;
}

static int scan_immediate(struct rule_scan *r, const struct nlattr *data)
{
	const struct nlattr *tb[NFTA_IMMEDIATE_MAX + 1] = { NULL };
	const char *target;

	r->have_load = 0;
	/* Its data is read whatever register it writes: malformed is refused. */
	if (nftmsg_immediate(data, tb) < 0 ||
	    nftmsg_jump_target(tb[NFTA_IMMEDIATE_DATA], &target) < 0)
		return -1;
	if (r->base && target && strcmp(target, "decide") == 0)
		r->base->jumps_decide = 1;
	return 0;
}

static int scan_queue(struct rule_scan *r, const struct nlattr *data)
{
	static const enum mnl_attr_data_type types[NFTA_QUEUE_MAX + 1] = {
		[NFTA_QUEUE_NUM] = MNL_TYPE_U16,
		[NFTA_QUEUE_TOTAL] = MNL_TYPE_U16,
		[NFTA_QUEUE_FLAGS] = MNL_TYPE_U16,
		[NFTA_QUEUE_SREG_QNUM] = MNL_TYPE_U32,
	};
	const struct nlattr *tb[NFTA_QUEUE_MAX + 1] = { NULL };
	struct nft_view *v = r->v;
	struct nft_view_queue *q;

	r->have_load = 0;
	if (nftmsg_nested(data, NFTA_QUEUE_MAX, types, tb) < 0)
		return -1;
	if (!r->ours)
		return 0;
	if (v->nqueues >= NFT_VIEW_MAX_QUEUES) {
		v->queues_more = 1;
		return 0;
	}
	q = &v->queues[v->nqueues++];
	memset(q, 0, sizeof(*q));
	snprintf(q->chain, sizeof(q->chain), "%s", r->chain);
	q->num = tb[NFTA_QUEUE_NUM] ? ntohs(mnl_attr_get_u16(tb[NFTA_QUEUE_NUM])) : 0;
	/* The kernel takes a missing total as 1. */
	q->total = tb[NFTA_QUEUE_TOTAL] ? ntohs(mnl_attr_get_u16(tb[NFTA_QUEUE_TOTAL])) : 1;
	q->flags = tb[NFTA_QUEUE_FLAGS] ? ntohs(mnl_attr_get_u16(tb[NFTA_QUEUE_FLAGS])) : 0;
	q->from_reg = tb[NFTA_QUEUE_SREG_QNUM] != NULL;
	return 0;
}

static int scan_offload(struct rule_scan *r, const struct nlattr *data, uint8_t family,
			const char *table, uint64_t handle)
{
	static const enum mnl_attr_data_type types[NFTA_FLOW_MAX + 1] = {
		[NFTA_FLOW_TABLE_NAME] = MNL_TYPE_NUL_STRING,
	};
	const struct nlattr *tb[NFTA_FLOW_MAX + 1] = { NULL };
	struct nft_view *v = r->v;
	struct nft_view_offload *o;

	r->have_load = 0;
	if (nftmsg_nested(data, NFTA_FLOW_MAX, types, tb) < 0)
		return -1;
	if (v->noffloads >= NFT_VIEW_MAX_OFFLOADS) {
		v->offloads_more++;
		return 0;
	}
	o = &v->offloads[v->noffloads++];
	memset(o, 0, sizeof(*o));
	o->family = family;
	snprintf(o->table, sizeof(o->table), "%s", table);
	snprintf(o->chain, sizeof(o->chain), "%s", r->chain);
	copy_name(o->flowtable, tb[NFTA_FLOW_TABLE_NAME]);
	o->handle = handle;
	memcpy(o->gates, r->gates, sizeof(o->gates));
	o->ngates = r->ngates;
	o->gates_more = r->gates_more;
	return 0;
}

int nft_view_parse_rule(const struct nlmsghdr *nlh, void *arg)
{
	static const enum mnl_attr_data_type rule_types[NFTA_RULE_MAX + 1] = {
		[NFTA_RULE_TABLE] = MNL_TYPE_NUL_STRING,
		[NFTA_RULE_CHAIN] = MNL_TYPE_NUL_STRING,
		[NFTA_RULE_HANDLE] = MNL_TYPE_U64,
		[NFTA_RULE_EXPRESSIONS] = MNL_TYPE_NESTED,
	};
	const struct nlattr *tb[NFTA_RULE_MAX + 1] = { NULL };
	const struct nfgenmsg *nfg = nftmsg_get(nlh, NFT_MSG_NEWRULE);
	struct nft_view *v = arg;
	struct rule_scan r = { .v = v };
	const char *table;
	uint64_t handle;
	const struct nlattr *a;

	if (!nfg)
		return 0;
	if (nftmsg_attrs(nlh, NFTA_RULE_MAX, rule_types, tb) < 0)
		return -1;
	if (!tb[NFTA_RULE_TABLE] || !tb[NFTA_RULE_CHAIN] || !tb[NFTA_RULE_EXPRESSIONS])
		return 0;
	v->rules++;
	table = mnl_attr_get_str(tb[NFTA_RULE_TABLE]);
	r.chain = mnl_attr_get_str(tb[NFTA_RULE_CHAIN]);
	handle = tb[NFTA_RULE_HANDLE] ? be64toh(mnl_attr_get_u64(tb[NFTA_RULE_HANDLE])) : 0;
	r.ours = is_our_table(nfg, tb[NFTA_RULE_TABLE]);
	for (unsigned i = 0; r.ours && i < v->nchains; i++)
		if (strcmp(v->chains[i].name, r.chain) == 0)
			r.base = &v->chains[i];
	mnl_attr_for_each_nested(a, tb[NFTA_RULE_EXPRESSIONS]) {
		const struct nlattr *data;
		const char *name;
		int ret = 0;

		/* A nameless expression is refused here: nothing to read it by. */
		if (nftmsg_expr(a, &name, &data) < 0 || !name)
			return -1;
		if (strcmp(name, "ct") == 0 || strcmp(name, "meta") == 0)
			ret = scan_load(&r, name, data);
		else if (strcmp(name, "bitwise") == 0)
			ret = scan_bitwise(&r, data);
		else if (strcmp(name, "cmp") == 0)
			ret = scan_cmp(&r, data);
		else if (strcmp(name, "lookup") == 0)
			ret = scan_lookup(&r, data);
		else if (strcmp(name, "immediate") == 0)
			ret = scan_immediate(&r, data);
		else if (strcmp(name, "queue") == 0)
			ret = scan_queue(&r, data);
		else if (strcmp(name, "flow_offload") == 0)
			ret = scan_offload(&r, data, nfg->nfgen_family, table, handle);
		else
			r.have_load = 0;	/* counter, payload, ...: the register may change */
		if (ret < 0)
			return -1;
	}
	return 0;
}

/* ---- the kernel ----------------------------------------------------- */

static int dump(struct mnl_socket *nl, uint32_t portid, struct nlmsghdr *req, char *buf,
		int (*parse)(const struct nlmsghdr *, void *), void *arg)
{
	return nlwalk_dump(nl, portid, req, buf, NFT_VIEW_BUF, NFT_VIEW_MAX_DATAGRAMS, parse, arg);
}

static int parse_counter(const struct nlmsghdr *nlh, void *arg)
{
	return ruleset_parse_obj(nlh, arg);
}

/* The sets first: ENOENT says the table is absent. */
static int read_table(struct mnl_socket *nl, uint32_t portid, uint32_t *seq, char *buf,
		      struct nft_view *v)
{
	static const char *const counted[] = { "decided", "verdicts", "ban4", "ban6" };
	struct ruleset_view rv = { 0 };
	int r;

	r = dump(nl, portid, nft_view_request(buf, NFT_MSG_GETSET, NFPROTO_INET, NFT_VIEW_TABLE,
					      NULL, ++*seq), buf, nft_view_parse_set, v);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	v->loaded = 1;
	r = dump(nl, portid, nft_view_request(buf, NFT_MSG_GETCHAIN, NFPROTO_INET, NFT_VIEW_TABLE,
					      NULL, ++*seq), buf, nft_view_parse_chain, v);
	for (size_t i = 0; i < ARRAY_SIZE(counted) && r == 0; i++) {
		struct nft_view_set *s = find_set(v, counted[i]);

		if (!s)
			continue;
		r = dump(nl, portid, nft_view_request(buf, NFT_MSG_GETSETELEM, NFPROTO_INET,
						      NFT_VIEW_TABLE, counted[i], ++*seq),
			 buf, nft_view_parse_setelem, v);
		s->elems_read = r == 0;
	}
	if (r < 0)
		return r;
	r = dump(nl, portid, ruleset_dump_request(buf, NFT_MSG_GETOBJ, ++*seq), buf,
		 parse_counter, &rv);
	if (r < 0 && r != -ENOENT)
		return r;
	v->has_bans_failed = rv.has_bans_failed;
	v->bans_failed = rv.bans_failed;
	return 0;
}

int nft_view_read(struct nft_view *v)
{
	uint32_t portid, seq = (uint32_t)time(NULL) ^ 0x00c4ec00u;
	struct mnl_socket *nl;
	char *buf = malloc(NFT_VIEW_BUF);
	int r = -ENOMEM;

	memset(v, 0, sizeof(*v));
	if (!buf)
		return r;
	nl = nlwalk_socket(NFT_VIEW_RECV_TIMEOUT_MS / 1000, &portid);
	if (!nl) {
		r = -errno;
		free(buf);
		return r;
	}
	r = read_table(nl, portid, &seq, buf, v);
	/* Every table's rules, of every family: offloading is anyone's. */
	if (r == 0)
		r = dump(nl, portid, nft_view_request(buf, NFT_MSG_GETRULE, NFPROTO_UNSPEC, NULL,
						      NULL, ++seq), buf, nft_view_parse_rule, v);
	mnl_socket_close(nl);
	free(buf);
	return r;
}
