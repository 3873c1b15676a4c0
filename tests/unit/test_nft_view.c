/* test_nft_view.c - nftables dump replies into btblockctl check's view of
 * the ruleset (src/nft_view.c): base chains, sets, map keys, the queue
 * statement of the nft backend, the mark lookups, offload rules with and
 * without the allowed-mark test, foreign tables, hostile messages; and
 * one whole nft-backend ruleset judged by sc_judge (src/selfcheck.c). */
#include "../../src/nft_view.c"

#include <stdarg.h>
#include <setjmp.h>
#include <cmocka.h>
#include "nft_msgs.h"
#include "selfcheck.h"

#define MASK	0x00ff0000u
#define ALLOW	0x00a10000u
#define BLOCK	0x00b10000u
#define REJECT	0x00b20000u
#define BFLOW	0x00b30000u
#define RFLOW	0x00b40000u
#define QMARK	0x00c10000u
#define REG1	1u

static char buf[NFT_VIEW_BUF];
static struct nft_view view;

static int parse_all(const struct nlmsghdr *nlh, void *arg)
{
	if (nft_view_parse_chain(nlh, arg) < 0 || nft_view_parse_set(nlh, arg) < 0 ||
	    nft_view_parse_setelem(nlh, arg) < 0 || nft_view_parse_rule(nlh, arg) < 0)
		return -1;
	return 0;
}

/* Parse one message built at buf. */
static int parse1(struct nlmsghdr *nlh)
{
	return nlwalk(buf, nlh->nlmsg_len, MSG_SEQ, MSG_PID, parse_all, &view);
}

static void test_base_chains(void **state)
{
	(void)state;
	memset(&view, 0, sizeof(view));
	assert_int_equal(parse1(put_chain(buf, NFPROTO_INET, "btblockd", "forward_decide",
					  NF_INET_FORWARD, -160)), 0);
	assert_int_equal(parse1(put_chain(buf, NFPROTO_INET, "btblockd", "forward_verdict",
					  NF_INET_FORWARD, -140)), 0);
	/* regular chains, other tables, other families: not kept */
	assert_int_equal(parse1(put_chain(buf, NFPROTO_INET, "btblockd", "decide", -1, 0)), 0);
	assert_int_equal(parse1(put_chain(buf, NFPROTO_INET, "fw4", "forward", NF_INET_FORWARD, 0)), 0);
	assert_int_equal(parse1(put_chain(buf, NFPROTO_IPV4, "btblockd", "x", NF_INET_FORWARD, 0)), 0);
	assert_int_equal(view.nchains, 2);
	assert_string_equal(view.chains[0].name, "forward_decide");
	assert_int_equal(view.chains[0].hook, NF_INET_FORWARD);
	assert_int_equal(view.chains[0].priority, -160);
	assert_int_equal(view.chains[1].priority, -140);
	/* bounded */
	for (int i = 0; i < NFT_VIEW_MAX_CHAINS + 3; i++)
		assert_int_equal(parse1(put_chain(buf, NFPROTO_INET, "btblockd", "c", NF_INET_LOCAL_IN,
						  i)), 0);
	assert_int_equal(view.nchains, NFT_VIEW_MAX_CHAINS);
	assert_true(view.chains_more);
}

static void test_sets_and_keys(void **state)
{
	const uint32_t verdict_keys[] = { QMARK, ALLOW, BLOCK, REJECT, BFLOW, RFLOW };
	const uint32_t pairs[3] = { 0 };
	const struct nft_view_set *s;

	(void)state;
	memset(&view, 0, sizeof(view));
	assert_int_equal(parse1(put_set(buf, "btblockd", "verdicts", NFT_SET_MAP | NFT_SET_CONSTANT,
					4, 0)), 0);
	assert_int_equal(parse1(put_set(buf, "btblockd", "ban4", NFT_SET_TIMEOUT, 8, 65536)), 0);
	assert_int_equal(parse1(put_set(buf, "fw4", "ban4", 0, 8, 1)), 0);
	assert_int_equal(view.nsets, 2);
	s = nft_view_set(&view, "verdicts");
	assert_non_null(s);
	assert_true(s->flags & NFT_SET_MAP);
	assert_int_equal(s->key_len, 4);
	assert_int_equal(nft_view_set(&view, "ban4")->size, 65536);
	assert_null(nft_view_set(&view, "decided"));

	assert_int_equal(parse1(put_elems(buf, "btblockd", "verdicts", verdict_keys, 6, 4)), 0);
	assert_int_equal(s->elems, 6);
	assert_int_equal(s->nkeys, 6);
	assert_int_equal(s->keys[1], ALLOW);
	/* 8-byte keys are counted, not kept; elements of sets not in the view,
	 * or of other tables, are not counted */
	assert_int_equal(parse1(put_elems(buf, "btblockd", "ban4", pairs, 3, 8)), 0);
	assert_int_equal(parse1(put_elems(buf, "btblockd", "ban4", pairs, 2, 8)), 0);
	assert_int_equal(nft_view_set(&view, "ban4")->elems, 5);
	assert_int_equal(nft_view_set(&view, "ban4")->nkeys, 0);
	assert_int_equal(parse1(put_elems(buf, "btblockd", "ban6", pairs, 3, 32)), 0);
	assert_int_equal(parse1(put_elems(buf, "fw4", "ban4", pairs, 3, 8)), 0);
	assert_int_equal(nft_view_set(&view, "ban4")->elems, 5);
}

/* chain budget: "meta mark set ... counter queue num 0-3 bypass" */
static void test_queue_statement(void **state)
{
	struct nlattr *list;
	struct nlmsghdr *nlh;

	(void)state;
	memset(&view, 0, sizeof(view));
	nlh = rule_start(buf, NFPROTO_INET, "btblockd", "budget", 12, &list);
	expr_load(nlh, "meta", NFT_META_MARK, REG1);
	expr_bitwise(nlh, REG1, REG1, ~MASK, QMARK);
	expr_other(nlh, "meta");
	expr_other(nlh, "objref");
	expr_queue(nlh, 0, 4, NFT_QUEUE_FLAG_BYPASS);
	rule_end(nlh, list);
	assert_int_equal(parse1(nlh), 0);
	assert_int_equal(view.nqueues, 1);
	assert_string_equal(view.queues[0].chain, "budget");
	assert_int_equal(view.queues[0].num, 0);
	assert_int_equal(view.queues[0].total, 4);
	assert_int_equal(view.queues[0].flags, NFT_QUEUE_FLAG_BYPASS);
	assert_false(view.queues[0].from_reg);
	assert_int_equal(view.rules, 1);

	/* "queue num 5" (no total: one queue), fail-closed */
	nlh = rule_start(buf, NFPROTO_INET, "btblockd", "budget", 13, &list);
	expr_queue(nlh, 5, 0, 0);
	rule_end(nlh, list);
	assert_int_equal(parse1(nlh), 0);
	assert_int_equal(view.queues[1].num, 5);
	assert_int_equal(view.queues[1].total, 1);
	assert_int_equal(view.queues[1].flags, 0);

	/* another table's queue is not ours */
	nlh = rule_start(buf, NFPROTO_INET, "other", "c", 1, &list);
	expr_queue(nlh, 9, 2, 0);
	rule_end(nlh, list);
	assert_int_equal(parse1(nlh), 0);
	assert_int_equal(view.nqueues, 2);
	assert_int_equal(view.rules, 3);
}

static void test_lookups_and_jumps(void **state)
{
	struct nlattr *list;
	struct nlmsghdr *nlh;

	(void)state;
	memset(&view, 0, sizeof(view));
	assert_int_equal(parse1(put_chain(buf, NFPROTO_INET, "btblockd", "forward_decide",
					  NF_INET_FORWARD, -160)), 0);
	assert_int_equal(parse1(put_chain(buf, NFPROTO_INET, "btblockd", "forward_verdict",
					  NF_INET_FORWARD, -140)), 0);
	/* meta l4proto { tcp, udp } counter name "forward" jump decide */
	nlh = rule_start(buf, NFPROTO_INET, "btblockd", "forward_decide", 2, &list);
	expr_load(nlh, "meta", NFT_META_L4PROTO, REG1);
	expr_lookup(nlh, "__set0", REG1, 0, 0);
	expr_other(nlh, "objref");
	expr_verdict(nlh, NFT_JUMP, "decide");
	rule_end(nlh, list);
	assert_int_equal(parse1(nlh), 0);
	/* meta mark & MASK vmap @verdicts */
	nlh = rule_start(buf, NFPROTO_INET, "btblockd", "forward_verdict", 3, &list);
	expr_load(nlh, "meta", NFT_META_MARK, REG1);
	expr_bitwise(nlh, REG1, REG1, MASK, 0);
	expr_lookup(nlh, "verdicts", REG1, 1, 0);
	rule_end(nlh, list);
	assert_int_equal(parse1(nlh), 0);
	/* chain decide: ct mark & MASK vmap @decided */
	nlh = rule_start(buf, NFPROTO_INET, "btblockd", "decide", 4, &list);
	expr_load(nlh, "ct", NFT_CT_MARK, REG1);
	expr_bitwise(nlh, REG1, REG1, MASK, 0);
	expr_lookup(nlh, "decided", REG1, 1, 0);
	rule_end(nlh, list);
	assert_int_equal(parse1(nlh), 0);

	assert_true(view.chains[0].jumps_decide);
	assert_false(view.chains[0].looks_up_verdicts);
	assert_false(view.chains[1].jumps_decide);
	assert_true(view.chains[1].looks_up_verdicts);
	/* the anonymous protocol set is no mark lookup */
	assert_int_equal(view.nlookups, 2);
	assert_string_equal(view.lookups[0].set, "verdicts");
	assert_int_equal(view.lookups[0].src, NFT_SRC_META_MARK);
	assert_int_equal(view.lookups[0].mask, MASK);
	assert_string_equal(view.lookups[1].set, "decided");
	assert_int_equal(view.lookups[1].src, NFT_SRC_CT_MARK);

	/* a goto counts as a jump; a jump elsewhere does not */
	memset(&view, 0, sizeof(view));
	assert_int_equal(parse1(put_chain(buf, NFPROTO_INET, "btblockd", "input_decide",
					  NF_INET_LOCAL_IN, -160)), 0);
	assert_int_equal(parse1(put_chain(buf, NFPROTO_INET, "btblockd", "output_decide",
					  NF_INET_LOCAL_OUT, -160)), 0);
	nlh = rule_start(buf, NFPROTO_INET, "btblockd", "input_decide", 2, &list);
	expr_verdict(nlh, NFT_GOTO, "decide");
	rule_end(nlh, list);
	assert_int_equal(parse1(nlh), 0);
	nlh = rule_start(buf, NFPROTO_INET, "btblockd", "output_decide", 3, &list);
	expr_verdict(nlh, NFT_JUMP, "decidex");
	expr_verdict(nlh, NF_ACCEPT, NULL);
	rule_end(nlh, list);
	assert_int_equal(parse1(nlh), 0);
	assert_true(view.chains[0].jumps_decide);
	assert_false(view.chains[1].jumps_decide);

	/* a mask that also sets bits (xor) is not a plain mask: not recorded */
	nlh = rule_start(buf, NFPROTO_INET, "btblockd", "decide", 4, &list);
	expr_load(nlh, "ct", NFT_CT_MARK, REG1);
	expr_bitwise(nlh, REG1, REG1, MASK, 0x1);
	expr_lookup(nlh, "decided", REG1, 1, 0);
	rule_end(nlh, list);
	assert_int_equal(parse1(nlh), 0);
	assert_int_equal(view.nlookups, 0);
}

/* One offload rule alone: the view's only offload. */
static const struct nft_view_offload *offload_of(struct nlmsghdr *nlh)
{
	memset(&view, 0, sizeof(view));
	assert_int_equal(parse1(nlh), 0);
	assert_int_equal(view.noffloads, 1);
	return &view.offloads[0];
}

static void test_offload_rules(void **state)
{
	const struct sc_marks m = { MASK, ALLOW, BLOCK, REJECT, BFLOW, RFLOW };
	const struct nft_view_offload *o;
	struct nlattr *list;
	struct nlmsghdr *nlh;

	(void)state;
	/* fw4: meta l4proto { tcp, udp } flow add @ft */
	nlh = rule_start(buf, NFPROTO_INET, "fw4", "forward", 77, &list);
	expr_load(nlh, "meta", NFT_META_L4PROTO, REG1);
	expr_lookup(nlh, "__set1", REG1, 0, 0);
	expr_offload(nlh, "ft");
	rule_end(nlh, list);
	o = offload_of(nlh);
	assert_string_equal(o->table, "fw4");
	assert_string_equal(o->chain, "forward");
	assert_string_equal(o->flowtable, "ft");
	assert_int_equal(o->family, NFPROTO_INET);
	assert_int_equal(o->handle, 77);
	assert_int_equal(o->ngates, 0);
	assert_false(sc_offload_allowed_only(o, &m));

	/* btblockd's own: ct mark & MASK == ALLOW flow add @ft */
	nlh = rule_start(buf, NFPROTO_INET, "btblockd", "offload", 8, &list);
	expr_load(nlh, "meta", NFT_META_L4PROTO, REG1);
	expr_lookup(nlh, "__set2", REG1, 0, 0);
	expr_load(nlh, "ct", NFT_CT_MARK, REG1);
	expr_bitwise(nlh, REG1, REG1, MASK, 0);
	expr_cmp(nlh, REG1, NFT_CMP_EQ, ALLOW);
	expr_offload(nlh, "ft");
	rule_end(nlh, list);
	o = offload_of(nlh);
	assert_int_equal(o->ngates, 1);
	assert_int_equal(o->gates[0].mask, MASK);
	assert_int_equal(o->gates[0].value, ALLOW);
	assert_true(sc_offload_allowed_only(o, &m));

	/* ct mark 0x00a10000 (the whole mark): allowed only too */
	nlh = rule_start(buf, NFPROTO_IPV4, "mine", "fwd", 9, &list);
	expr_load(nlh, "ct", NFT_CT_MARK, REG1);
	expr_cmp(nlh, REG1, NFT_CMP_EQ, ALLOW);
	expr_offload(nlh, "ft");
	rule_end(nlh, list);
	o = offload_of(nlh);
	assert_int_equal(o->family, NFPROTO_IPV4);
	assert_int_equal(o->gates[0].mask, 0xffffffffu);
	assert_true(sc_offload_allowed_only(o, &m));

	/* != ALLOW: no gate */
	nlh = rule_start(buf, NFPROTO_INET, "mine", "fwd", 10, &list);
	expr_load(nlh, "ct", NFT_CT_MARK, REG1);
	expr_bitwise(nlh, REG1, REG1, MASK, 0);
	expr_cmp(nlh, REG1, NFT_CMP_NEQ, ALLOW);
	expr_offload(nlh, "ft");
	rule_end(nlh, list);
	assert_false(sc_offload_allowed_only(offload_of(nlh), &m));

	/* the test after the offload does not gate it */
	nlh = rule_start(buf, NFPROTO_INET, "mine", "fwd", 11, &list);
	expr_offload(nlh, "ft");
	expr_load(nlh, "ct", NFT_CT_MARK, REG1);
	expr_cmp(nlh, REG1, NFT_CMP_EQ, ALLOW);
	rule_end(nlh, list);
	assert_false(sc_offload_allowed_only(offload_of(nlh), &m));

	/* the register was overwritten between load and compare */
	nlh = rule_start(buf, NFPROTO_INET, "mine", "fwd", 12, &list);
	expr_load(nlh, "ct", NFT_CT_MARK, REG1);
	expr_other(nlh, "payload");
	expr_cmp(nlh, REG1, NFT_CMP_EQ, ALLOW);
	expr_offload(nlh, "ft");
	rule_end(nlh, list);
	assert_false(sc_offload_allowed_only(offload_of(nlh), &m));

	/* the compare reads another register */
	nlh = rule_start(buf, NFPROTO_INET, "mine", "fwd", 13, &list);
	expr_load(nlh, "ct", NFT_CT_MARK, REG1);
	expr_cmp(nlh, 2, NFT_CMP_EQ, ALLOW);
	expr_offload(nlh, "ft");
	rule_end(nlh, list);
	assert_false(sc_offload_allowed_only(offload_of(nlh), &m));

	/* the packet mark is not the flow's decision */
	nlh = rule_start(buf, NFPROTO_INET, "mine", "fwd", 14, &list);
	expr_load(nlh, "meta", NFT_META_MARK, REG1);
	expr_bitwise(nlh, REG1, REG1, MASK, 0);
	expr_cmp(nlh, REG1, NFT_CMP_EQ, ALLOW);
	expr_offload(nlh, "ft");
	rule_end(nlh, list);
	assert_false(sc_offload_allowed_only(offload_of(nlh), &m));

	/* a mask narrower than btblockd's, or another value: no */
	nlh = rule_start(buf, NFPROTO_INET, "mine", "fwd", 15, &list);
	expr_load(nlh, "ct", NFT_CT_MARK, REG1);
	expr_bitwise(nlh, REG1, REG1, 0x00f00000, 0);
	expr_cmp(nlh, REG1, NFT_CMP_EQ, 0x00a00000);
	expr_offload(nlh, "ft");
	rule_end(nlh, list);
	assert_false(sc_offload_allowed_only(offload_of(nlh), &m));
	nlh = rule_start(buf, NFPROTO_INET, "mine", "fwd", 16, &list);
	expr_load(nlh, "ct", NFT_CT_MARK, REG1);
	expr_bitwise(nlh, REG1, REG1, MASK, 0);
	expr_cmp(nlh, REG1, NFT_CMP_EQ, BLOCK);
	expr_offload(nlh, "ft");
	rule_end(nlh, list);
	assert_false(sc_offload_allowed_only(offload_of(nlh), &m));

	/* a wider mask that still asks for the allow value: yes */
	nlh = rule_start(buf, NFPROTO_INET, "mine", "fwd", 17, &list);
	expr_load(nlh, "ct", NFT_CT_MARK, REG1);
	expr_bitwise(nlh, REG1, REG1, 0xffff0000, 0);
	expr_cmp(nlh, REG1, NFT_CMP_EQ, ALLOW);
	expr_offload(nlh, "ft");
	rule_end(nlh, list);
	assert_true(sc_offload_allowed_only(offload_of(nlh), &m));
}

static void test_hostile(void **state)
{
	struct nlattr *list, *el;
	struct nlmsghdr *nlh;
	uint8_t two[2] = { 1, 2 };

	(void)state;
	memset(&view, 0, sizeof(view));
	/* an expression without a name */
	nlh = rule_start(buf, NFPROTO_INET, "btblockd", "x", 1, &list);
	el = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
	mnl_attr_nest_end(nlh, el);
	rule_end(nlh, list);
	assert_int_equal(parse1(nlh), -EBADMSG);
	/* a mask of 2 bytes: not understood, nothing recorded, no error */
	nlh = rule_start(buf, NFPROTO_INET, "btblockd", "decide", 1, &list);
	expr_load(nlh, "ct", NFT_CT_MARK, REG1);
	el = expr_start(nlh, "bitwise");
	{
		struct nlattr *d = mnl_attr_nest_start(nlh, NFTA_EXPR_DATA);
		struct nlattr *mk = mnl_attr_nest_start(nlh, NFTA_BITWISE_MASK);

		mnl_attr_put_u32(nlh, NFTA_BITWISE_SREG, htonl(REG1));
		mnl_attr_put_u32(nlh, NFTA_BITWISE_DREG, htonl(REG1));
		mnl_attr_put_u32(nlh, NFTA_BITWISE_LEN, htonl(4));
		mnl_attr_put(nlh, NFTA_DATA_VALUE, sizeof(two), two);
		mnl_attr_nest_end(nlh, mk);
		mnl_attr_nest_end(nlh, d);
	}
	mnl_attr_nest_end(nlh, el);
	expr_lookup(nlh, "decided", REG1, 1, 0);
	rule_end(nlh, list);
	assert_int_equal(parse1(nlh), 0);
	assert_int_equal(view.nlookups, 0);
	/* a queue number of the wrong size fails the attribute validation */
	nlh = rule_start(buf, NFPROTO_INET, "btblockd", "budget", 1, &list);
	el = expr_start(nlh, "queue");
	{
		struct nlattr *d = mnl_attr_nest_start(nlh, NFTA_EXPR_DATA);

		mnl_attr_put(nlh, NFTA_QUEUE_NUM, 1, two);
		mnl_attr_nest_end(nlh, d);
	}
	mnl_attr_nest_end(nlh, el);
	rule_end(nlh, list);
	assert_int_equal(parse1(nlh), -EBADMSG);
	assert_int_equal(view.nqueues, 0);
	/* a message cut short of its length */
	nlh = put_chain(buf, NFPROTO_INET, "btblockd", "forward_decide", NF_INET_FORWARD, -160);
	assert_int_equal(nlwalk(buf, nlh->nlmsg_len - 4, MSG_SEQ, MSG_PID, parse_all, &view),
			 -EBADMSG);
	/* a set name too long to be ours is not kept */
	{
		char longname[300];

		memset(longname, 'a', sizeof(longname) - 1);
		longname[sizeof(longname) - 1] = '\0';
		assert_int_equal(parse1(put_set(buf, "btblockd", longname, 0, 4, 0)), 0);
		assert_int_equal(view.nsets, 0);
	}
	/* offload rules are bounded and counted past the bound */
	for (int i = 0; i < NFT_VIEW_MAX_OFFLOADS + 5; i++) {
		nlh = rule_start(buf, NFPROTO_INET, "t", "c", (uint64_t)i, &list);
		expr_offload(nlh, "ft");
		rule_end(nlh, list);
		assert_int_equal(parse1(nlh), 0);
	}
	assert_int_equal(view.noffloads, NFT_VIEW_MAX_OFFLOADS);
	assert_int_equal(view.offloads_more, 5);
}

static void test_requests(void **state)
{
	struct nlmsghdr *nlh;
	struct nfgenmsg *nfg;

	(void)state;
	nlh = nft_view_request(buf, NFT_MSG_GETSETELEM, NFPROTO_INET, "btblockd", "verdicts", 9);
	assert_int_equal(nlh->nlmsg_type, (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETSETELEM);
	assert_true(nlh->nlmsg_flags & NLM_F_DUMP);
	assert_int_equal(nlh->nlmsg_seq, 9);
	nfg = mnl_nlmsg_get_payload(nlh);
	assert_int_equal(nfg->nfgen_family, NFPROTO_INET);
	nlh = nft_view_request(buf, NFT_MSG_GETRULE, NFPROTO_UNSPEC, NULL, NULL, 10);
	nfg = mnl_nlmsg_get_payload(nlh);
	assert_int_equal(nfg->nfgen_family, NFPROTO_UNSPEC);
	/* no attributes: every table's rules */
	assert_int_equal(nlh->nlmsg_len, MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(struct nfgenmsg)));
}

/* Append a message at *off of the datagram. */
static void next_msg(size_t *off, struct nlmsghdr *nlh)
{
	*off += NLMSG_ALIGN(nlh->nlmsg_len);
}

/* The nft backend's whole table as the kernel dumps it (the queue range
 * 0-3 in chain budget), read and judged with the daemon serving 0-3. */
static void test_nft_backend_judged(void **state)
{
	const uint32_t verdict_keys[] = { QMARK, ALLOW, BLOCK, REJECT, BFLOW, RFLOW };
	const uint32_t decided_keys[] = { ALLOW, BLOCK, REJECT };
	struct sc_inputs *in = calloc(1, sizeof(*in));
	struct sc_report *rep = calloc(1, sizeof(*rep));
	struct nlattr *list;
	struct nlmsghdr *nlh;
	size_t off = 0;

	(void)state;
	assert_non_null(in);
	assert_non_null(rep);
	next_msg(&off, put_chain(buf + off, NFPROTO_INET, "btblockd", "forward_decide",
				 NF_INET_FORWARD, -160));
	next_msg(&off, put_chain(buf + off, NFPROTO_INET, "btblockd", "forward_verdict",
				 NF_INET_FORWARD, -140));
	next_msg(&off, put_set(buf + off, "btblockd", "decided", NFT_SET_MAP, 4, 0));
	next_msg(&off, put_set(buf + off, "btblockd", "verdicts", NFT_SET_MAP, 4, 0));
	next_msg(&off, put_set(buf + off, "btblockd", "ban4", NFT_SET_TIMEOUT, 8, 65536));
	next_msg(&off, put_set(buf + off, "btblockd", "ban6", NFT_SET_TIMEOUT, 32, 65536));
	next_msg(&off, put_elems(buf + off, "btblockd", "decided", decided_keys, 3, 4));
	next_msg(&off, put_elems(buf + off, "btblockd", "verdicts", verdict_keys, 6, 4));
	next_msg(&off, put_elems(buf + off, "btblockd", "ban4", decided_keys, 3, 8));
	next_msg(&off, put_elems(buf + off, "btblockd", "ban6", decided_keys, 0, 32));
	nlh = rule_start(buf + off, NFPROTO_INET, "btblockd", "forward_decide", 2, &list);
	expr_verdict(nlh, NFT_JUMP, "decide");
	rule_end(nlh, list);
	next_msg(&off, nlh);
	nlh = rule_start(buf + off, NFPROTO_INET, "btblockd", "forward_verdict", 3, &list);
	expr_load(nlh, "meta", NFT_META_MARK, REG1);
	expr_bitwise(nlh, REG1, REG1, MASK, 0);
	expr_lookup(nlh, "verdicts", REG1, 1, 0);
	rule_end(nlh, list);
	next_msg(&off, nlh);
	nlh = rule_start(buf + off, NFPROTO_INET, "btblockd", "decide", 4, &list);
	expr_load(nlh, "ct", NFT_CT_MARK, REG1);
	expr_bitwise(nlh, REG1, REG1, MASK, 0);
	expr_lookup(nlh, "decided", REG1, 1, 0);
	rule_end(nlh, list);
	next_msg(&off, nlh);
	nlh = rule_start(buf + off, NFPROTO_INET, "btblockd", "budget", 5, &list);
	expr_queue(nlh, 0, 4, NFT_QUEUE_FLAG_BYPASS);
	rule_end(nlh, list);
	next_msg(&off, nlh);
	nlh = msg_start(buf + off, NLMSG_DONE, 0);
	nlh->nlmsg_type = NLMSG_DONE;
	next_msg(&off, nlh);

	assert_int_equal(nlwalk(buf, off, MSG_SEQ, MSG_PID, parse_all, &in->nft), 1);
	in->nft.loaded = 1;
	in->nft.has_bans_failed = 1;
	assert_int_equal(in->nft.nqueues, 1);
	assert_int_equal(nft_view_set(&in->nft, "ban4")->elems, 3);
	assert_int_equal(nft_view_set(&in->nft, "verdicts")->nkeys, 6);
	for (unsigned i = 0; i < in->nft.nsets; i++)
		in->nft.sets[i].elems_read = 1;
	in->socket_path = RUNSTATEDIR "/btblockd.sock";
	in->hooks = SC_HOOK_FORWARD;
	in->daemon = (struct sc_daemon){ .reachable = 1, .version = "0.1.0", .mode = "enforce",
					 .nqueues = 4, .has_marks = 1,
					 .marks = { MASK, ALLOW, BLOCK, REJECT, BFLOW, RFLOW } };
	for (unsigned q = 0; q < 4; q++) {
		in->daemon.queues[q] = (struct sc_dqueue){ (uint16_t)q, 1, 100 + q, 0, 10 };
		in->nfq[q] = (struct sc_kqueue){ q, 100 + q };
	}
	in->nnfq = 4;
	in->acct = 1;
	in->br.call_ipt = in->br.call_ip6t = -1;
	snprintf(in->xt[0].error, sizeof(in->xt[0].error), "iptables not found");
	snprintf(in->xt[1].error, sizeof(in->xt[1].error), "ip6tables not found");
	sc_judge(in, rep);
	for (unsigned i = 0; i < rep->n; i++) {
		if (rep->lines[i].verdict != SC_PASS)
			fail_msg("%s: %s", rep->lines[i].check, rep->lines[i].text);
	}
	assert_int_equal(rep->n, 10);
	assert_non_null(strstr(rep->lines[3].text, "queues to 0-3 (nft queue statement, fail-open)"));
	assert_int_equal(sc_exit_status(rep), 0);

	/* the daemon serves 0-1 only: queues 2 and 3 are nobody's */
	in->daemon.nqueues = 2;
	in->nnfq = 2;
	sc_judge(in, rep);
	assert_int_equal(sc_exit_status(rep), 1);
	assert_int_equal(rep->lines[4].verdict, SC_FAIL);
	assert_string_equal(rep->lines[4].check, "binding");
	assert_non_null(strstr(rep->lines[4].text, "queues 2, 3 are bound by no program"));
	free(in);
	free(rep);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_base_chains),
		cmocka_unit_test(test_sets_and_keys),
		cmocka_unit_test(test_queue_statement),
		cmocka_unit_test(test_lookups_and_jumps),
		cmocka_unit_test(test_offload_rules),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_requests),
		cmocka_unit_test(test_nft_backend_judged),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
