/* test_ruleset.c - kernel replies about table inet btblockd into the
 * daemon's view: sets, counters, tables, chains, rules (queue statements,
 * jumps of the xtables backend), malformed and foreign messages, the dump
 * walk, the requests, the "ban set full" warning, the watch that notices
 * a lost table, and the JSON. */
#include "../../src/ruleset.c"
#include "../../src/nlattr.h"

#include <stdarg.h>
#include <setjmp.h>
#include <cmocka.h>

#define FAMILY_INET NFPROTO_INET

/* A NEWSET or NEWOBJ message as the kernel sends it in a dump. */
static struct nlmsghdr *put_msg(char *buf, uint16_t msg_type, uint8_t family, uint32_t seq)
{
	struct nlmsghdr *nlh = nftmsg_put(buf, (uint16_t)((NFNL_SUBSYS_NFTABLES << 8) | msg_type),
					  NLM_F_MULTI, family, 0, seq);

	nlh->nlmsg_pid = 7;
	return nlh;
}

static struct nlmsghdr *put_set(char *buf, const char *table, const char *name,
				uint32_t size, uint64_t timeout_ms, uint32_t seq)
{
	struct nlmsghdr *nlh = put_msg(buf, NFT_MSG_NEWSET, FAMILY_INET, seq);
	struct nlattr *nest;

	mnl_attr_put_strz(nlh, NFTA_SET_TABLE, table);
	mnl_attr_put_strz(nlh, NFTA_SET_NAME, name);
	mnl_attr_put_u32(nlh, NFTA_SET_FLAGS, htonl(NFT_SET_TIMEOUT));
	if (size) {
		nest = mnl_attr_nest_start(nlh, NFTA_SET_DESC);
		mnl_attr_put_u32(nlh, NFTA_SET_DESC_SIZE, htonl(size));
		mnl_attr_nest_end(nlh, nest);
	}
	if (timeout_ms)
		mnl_attr_put_u64(nlh, NFTA_SET_TIMEOUT, htobe64(timeout_ms));
	return nlh;
}

static struct nlmsghdr *put_counter(char *buf, const char *table, const char *name,
				    uint32_t type, uint64_t packets, uint32_t seq)
{
	struct nlmsghdr *nlh = put_msg(buf, NFT_MSG_NEWOBJ, FAMILY_INET, seq);
	struct nlattr *nest;

	mnl_attr_put_strz(nlh, NFTA_OBJ_TABLE, table);
	mnl_attr_put_strz(nlh, NFTA_OBJ_NAME, name);
	mnl_attr_put_u32(nlh, NFTA_OBJ_TYPE, htonl(type));
	nest = mnl_attr_nest_start(nlh, NFTA_OBJ_DATA);
	mnl_attr_put_u64(nlh, NFTA_COUNTER_BYTES, htobe64(packets * 60));
	mnl_attr_put_u64(nlh, NFTA_COUNTER_PACKETS, htobe64(packets));
	mnl_attr_nest_end(nlh, nest);
	mnl_attr_put_u32(nlh, NFTA_OBJ_USE, htonl(2));
	return nlh;
}

static void test_sets(void **state)
{
	char buf[1024];
	struct ruleset_view v = { 0 };

	(void)state;
	assert_int_equal(ruleset_parse_set(put_set(buf, "btblockd", "ban4", 65536, 3600000, 1), &v), 0);
	assert_int_equal(ruleset_parse_set(put_set(buf, "btblockd", "ban6", 3, 5400000, 1), &v), 0);
	assert_true(v.ban4.present);
	assert_int_equal(v.ban4.size, 65536);
	assert_int_equal(v.ban4.timeout_ms, 3600000);
	assert_true(v.ban6.present);
	assert_int_equal(v.ban6.size, 3);
	assert_int_equal(v.ban6.timeout_ms, 5400000);

	/* A set of ours without size or timeout: present, zeros. */
	memset(&v, 0, sizeof(v));
	assert_int_equal(ruleset_parse_set(put_set(buf, "btblockd", "ban4", 0, 0, 1), &v), 0);
	assert_true(v.ban4.present);
	assert_int_equal(v.ban4.size, 0);
	assert_int_equal(v.ban4.timeout_ms, 0);
}

static void test_foreign_sets_and_objects_ignored(void **state)
{
	char buf[1024];
	struct ruleset_view v = { 0 };
	struct nlmsghdr *nlh;

	(void)state;
	/* Another table, another set of ours, another family, another type. */
	assert_int_equal(ruleset_parse_set(put_set(buf, "fw4", "ban4", 10, 0, 1), &v), 0);
	assert_int_equal(ruleset_parse_set(put_set(buf, "btblockd", "budget", 10, 0, 1), &v), 0);
	nlh = put_msg(buf, NFT_MSG_NEWSET, NFPROTO_IPV4, 1);
	mnl_attr_put_strz(nlh, NFTA_SET_TABLE, "btblockd");
	mnl_attr_put_strz(nlh, NFTA_SET_NAME, "ban4");
	assert_int_equal(ruleset_parse_set(nlh, &v), 0);
	assert_int_equal(ruleset_parse_set(put_counter(buf, "btblockd", "bans", 1, 5, 1), &v), 0);
	assert_int_equal(ruleset_parse_obj(put_set(buf, "btblockd", "ban4", 10, 0, 1), &v), 0);
	assert_int_equal(ruleset_parse_obj(put_counter(buf, "fw4", "bans", NFT_OBJECT_COUNTER, 5, 1), &v), 0);
	/* A quota object named like our counter is not our counter. */
	assert_int_equal(ruleset_parse_obj(put_counter(buf, "btblockd", "bans", NFT_OBJECT_QUOTA, 5, 1), &v), 0);
	assert_false(v.ban4.present);
	assert_false(v.has_bans);
}

static void test_counters(void **state)
{
	char buf[1024];
	struct ruleset_view v = { 0 };

	(void)state;
	assert_int_equal(ruleset_parse_obj(put_counter(buf, "btblockd", "queued", NFT_OBJECT_COUNTER, 99, 1), &v), 0);
	assert_false(v.has_bans);
	assert_false(v.has_bans_failed);
	assert_int_equal(ruleset_parse_obj(put_counter(buf, "btblockd", "bans", NFT_OBJECT_COUNTER, 12, 1), &v), 0);
	assert_int_equal(ruleset_parse_obj(put_counter(buf, "btblockd", "bans_failed", NFT_OBJECT_COUNTER,
						       0x123456789ull, 1), &v), 0);
	assert_true(v.has_bans);
	assert_int_equal(v.bans, 12);
	assert_true(v.has_bans_failed);
	assert_int_equal(v.bans_failed, 0x123456789ull);
}

/* Malformed attributes are refused, never read past. */
static void test_malformed(void **state)
{
	char buf[1024];
	struct ruleset_view v = { 0 };
	struct nlmsghdr *nlh;
	struct nlattr *a;

	(void)state;
	/* A name without its NUL. */
	nlh = put_msg(buf, NFT_MSG_NEWSET, FAMILY_INET, 1);
	mnl_attr_put_strz(nlh, NFTA_SET_TABLE, "btblockd");
	mnl_attr_put(nlh, NFTA_SET_NAME, 4, "ban4");
	assert_int_equal(ruleset_parse_set(nlh, &v), -1);
	assert_false(v.ban4.present);

	/* A size of two bytes instead of four. */
	nlh = put_msg(buf, NFT_MSG_NEWSET, FAMILY_INET, 1);
	mnl_attr_put_strz(nlh, NFTA_SET_TABLE, "btblockd");
	mnl_attr_put_strz(nlh, NFTA_SET_NAME, "ban4");
	a = mnl_attr_nest_start(nlh, NFTA_SET_DESC);
	mnl_attr_put_u16(nlh, NFTA_SET_DESC_SIZE, 3);
	mnl_attr_nest_end(nlh, a);
	assert_int_equal(ruleset_parse_set(nlh, &v), -1);
	assert_false(v.ban4.present);

	/* A counter whose packets are four bytes. */
	nlh = put_msg(buf, NFT_MSG_NEWOBJ, FAMILY_INET, 1);
	mnl_attr_put_strz(nlh, NFTA_OBJ_TABLE, "btblockd");
	mnl_attr_put_strz(nlh, NFTA_OBJ_NAME, "bans_failed");
	mnl_attr_put_u32(nlh, NFTA_OBJ_TYPE, htonl(NFT_OBJECT_COUNTER));
	a = mnl_attr_nest_start(nlh, NFTA_OBJ_DATA);
	mnl_attr_put_u32(nlh, NFTA_COUNTER_PACKETS, 5);
	mnl_attr_nest_end(nlh, a);
	assert_int_equal(ruleset_parse_obj(nlh, &v), -1);
	assert_false(v.has_bans_failed);

	/* An attribute whose length runs past the message: the walk stops. */
	nlh = put_set(buf, "btblockd", "ban4", 10, 0, 1);
	a = (struct nlattr *)((char *)mnl_nlmsg_get_payload(nlh) + sizeof(struct nfgenmsg));
	a->nla_len = 200;	/* the table name claims bytes beyond the message */
	memset(&v, 0, sizeof(v));
	assert_int_equal(ruleset_parse_set(nlh, &v), 0);
	assert_false(v.ban4.present);

	/* A message too short for its nfgenmsg. */
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWOBJ;
	assert_int_equal(ruleset_parse_obj(nlh, &v), 0);
	assert_false(v.has_bans);
}

/* Several messages in one datagram, then DONE or an error. */
static void test_walk(void **state)
{
	char buf[4096];
	size_t len = 0;
	struct ruleset_view v = { 0 };
	struct nlmsghdr *nlh;
	struct nlmsgerr *e;

	(void)state;
	/* A reply to an earlier request (seq 4) comes first: skipped. */
	nlh = put_counter(buf + len, "btblockd", "bans", NFT_OBJECT_COUNTER, 1000, 4);
	len += nlh->nlmsg_len;
	nlh = put_counter(buf + len, "btblockd", "bans", NFT_OBJECT_COUNTER, 3, 5);
	len += nlh->nlmsg_len;
	nlh = put_counter(buf + len, "btblockd", "bans_failed", NFT_OBJECT_COUNTER, 2, 5);
	len += nlh->nlmsg_len;
	assert_int_equal(ruleset_walk(buf, len, 5, 7, ruleset_parse_obj, &v), 0);	/* more to come */
	assert_int_equal(v.bans, 3);
	assert_int_equal(v.bans_failed, 2);

	nlh = mnl_nlmsg_put_header(buf + len);
	nlh->nlmsg_type = NLMSG_DONE;
	nlh->nlmsg_seq = 5;
	mnl_nlmsg_put_extra_header(nlh, sizeof(int));
	assert_int_equal(ruleset_walk(buf, len + nlh->nlmsg_len, 5, 7, ruleset_parse_obj, &v), 1);

	/* The table does not exist. */
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = NLMSG_ERROR;
	nlh->nlmsg_seq = 6;
	e = mnl_nlmsg_put_extra_header(nlh, sizeof(*e));
	e->error = -ENOENT;
	assert_int_equal(ruleset_walk(buf, nlh->nlmsg_len, 6, 7, ruleset_parse_set, &v), -ENOENT);
	/* A truncated error message. */
	nlh->nlmsg_len = NLMSG_HDRLEN + 2;
	assert_int_equal(ruleset_walk(buf, nlh->nlmsg_len, 6, 7, ruleset_parse_set, &v), -EBADMSG);
	/* A datagram shorter than its header: nothing read. */
	assert_int_equal(ruleset_walk(buf, 8, 6, 7, ruleset_parse_set, &v), 0);
	/* A hostile error code. */
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = NLMSG_ERROR;
	nlh->nlmsg_seq = 6;
	e = mnl_nlmsg_put_extra_header(nlh, sizeof(*e));
	e->error = INT_MIN;
	assert_int_equal(ruleset_walk(buf, nlh->nlmsg_len, 6, 7, ruleset_parse_set, &v), -EBADMSG);
	e->error = 5;
	assert_int_equal(ruleset_walk(buf, nlh->nlmsg_len, 6, 7, ruleset_parse_set, &v), -EBADMSG);
	/* A second message claiming 2^31 bytes or more (libmnl's
	 * mnl_nlmsg_ok takes that for a negative length and lets the walk
	 * jump out of the datagram): refused, nothing read past. */
	len = put_counter(buf, "btblockd", "bans", NFT_OBJECT_COUNTER, 3, 9)->nlmsg_len;
	nlh = put_counter(buf + len, "btblockd", "bans", NFT_OBJECT_COUNTER, 4, 9);
	nlh->nlmsg_len = 0x9c9c9c9c;
	memset(&v, 0, sizeof(v));
	assert_int_equal(ruleset_walk(buf, len + 96, 9, 7, ruleset_parse_obj, &v), -EBADMSG);
	assert_int_equal(v.bans, 3);
	/* A last message whose length, rounded up for its attributes, runs
	 * past the datagram: not parsed. */
	nlh = put_counter(buf, "btblockd", "bans", NFT_OBJECT_COUNTER, 5, 9);
	nlh->nlmsg_len -= 3;
	memset(&v, 0, sizeof(v));
	assert_int_equal(ruleset_walk(buf, nlh->nlmsg_len, 9, 7, ruleset_parse_obj, &v), -EBADMSG);
	assert_false(v.has_bans);
	/* A malformed message ends the dump. */
	nlh = put_msg(buf, NFT_MSG_NEWSET, FAMILY_INET, 8);
	mnl_attr_put_strz(nlh, NFTA_SET_TABLE, "btblockd");
	mnl_attr_put(nlh, NFTA_SET_NAME, 4, "ban4");
	assert_int_equal(ruleset_walk(buf, nlh->nlmsg_len, 8, 7, ruleset_parse_set, &v), -EBADMSG);
}

static void test_requests(void **state)
{
	char buf[1024];
	const struct nlattr *tb[NFTA_OBJ_MAX + 1] = { NULL };
	static const enum mnl_attr_data_type types[NFTA_OBJ_MAX + 1] = {
		[NFTA_OBJ_TABLE] = MNL_TYPE_NUL_STRING, [NFTA_OBJ_TYPE] = MNL_TYPE_U32,
	};
	struct nlattr_table rule = { NFTA_OBJ_MAX, types, tb };
	struct nlmsghdr *nlh;
	const struct nfgenmsg *nfg;

	(void)state;
	nlh = ruleset_dump_request(buf, NFT_MSG_GETOBJ, 42);
	assert_int_equal(nlh->nlmsg_type, (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETOBJ);
	assert_int_equal(nlh->nlmsg_flags, NLM_F_REQUEST | NLM_F_DUMP);
	assert_int_equal(nlh->nlmsg_seq, 42);
	nfg = mnl_nlmsg_get_payload(nlh);
	assert_int_equal(nfg->nfgen_family, NFPROTO_INET);
	assert_int_equal(mnl_attr_parse(nlh, sizeof(*nfg), nlattr_table_cb, &rule), MNL_CB_OK);
	assert_non_null(tb[NFTA_OBJ_TABLE]);
	assert_string_equal(mnl_attr_get_str(tb[NFTA_OBJ_TABLE]), "btblockd");
	assert_non_null(tb[NFTA_OBJ_TYPE]);
	assert_int_equal(ntohl(mnl_attr_get_u32(tb[NFTA_OBJ_TYPE])), NFT_OBJECT_COUNTER);

	memset(tb, 0, sizeof(tb));
	nlh = ruleset_dump_request(buf, NFT_MSG_GETSET, 43);
	assert_int_equal(nlh->nlmsg_type, (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETSET);
	assert_int_equal(mnl_attr_parse(nlh, sizeof(*nfg), nlattr_table_cb, &rule), MNL_CB_OK);
	assert_non_null(tb[NFTA_SET_TABLE]);
	assert_string_equal(mnl_attr_get_str(tb[NFTA_SET_TABLE]), "btblockd");
	assert_null(tb[NFTA_OBJ_TYPE]);
}

static struct ruleset_view reading(uint64_t failed)
{
	return (struct ruleset_view){ .loaded = 1, .has_bans = 1, .has_bans_failed = 1,
				      .bans_failed = failed, .read_ms = 1 };
}

/* The warning: growth after a baseline, at most once a minute, the rest
 * carried over; a table loaded again counts from zero. */
static void test_ban_set_full_warning(void **state)
{
	static struct ruleset r;
	struct ruleset_view v;

	(void)state;
	v = reading(4);
	ruleset_note(&r, &v, 1000);		/* baseline: not seen growing */
	assert_int_equal(r.last_warn_ms, 0);
	assert_int_equal(r.failed_unreported, 0);
	v = reading(4);
	ruleset_note(&r, &v, 3000);		/* no growth */
	assert_int_equal(r.last_warn_ms, 0);
	v = reading(9);
	ruleset_note(&r, &v, 5000);		/* grew by 5: warned */
	assert_int_equal(r.last_warn_ms, 5000);
	assert_int_equal(r.failed_unreported, 0);
	v = reading(12);
	ruleset_note(&r, &v, 7000);		/* within the minute: carried */
	assert_int_equal(r.last_warn_ms, 5000);
	assert_int_equal(r.failed_unreported, 3);
	v = reading(13);
	ruleset_note(&r, &v, 5000 + RULESET_WARN_MS);	/* a minute later: 4 told */
	assert_int_equal(r.last_warn_ms, 5000 + RULESET_WARN_MS);
	assert_int_equal(r.failed_unreported, 0);
	v = reading(2);
	ruleset_note(&r, &v, 70000);		/* loaded again: 2 new, carried */
	assert_int_equal(r.failed_unreported, 2);
	assert_int_equal(r.failed_seen, 2);
	v = (struct ruleset_view){ .loaded = 0 };
	ruleset_note(&r, &v, 72000);		/* gone: the next table is a new baseline */
	assert_false(r.have_baseline);
	v = reading(50);
	ruleset_note(&r, &v, 74000);
	assert_int_equal(r.failed_seen, 50);
	assert_int_equal(r.failed_unreported, 2);
}

static struct nlmsghdr *put_table(char *buf, uint8_t family, const char *name, uint64_t handle)
{
	struct nlmsghdr *nlh = put_msg(buf, NFT_MSG_NEWTABLE, family, 1);

	mnl_attr_put_strz(nlh, NFTA_TABLE_NAME, name);
	mnl_attr_put_u32(nlh, NFTA_TABLE_FLAGS, 0);
	if (handle)
		mnl_attr_put_u64(nlh, NFTA_TABLE_HANDLE, htobe64(handle));
	return nlh;
}

static struct nlmsghdr *put_chain(char *buf, const char *table, const char *name, int hook)
{
	struct nlmsghdr *nlh = put_msg(buf, NFT_MSG_NEWCHAIN, FAMILY_INET, 1);
	struct nlattr *nest;

	mnl_attr_put_strz(nlh, NFTA_CHAIN_TABLE, table);
	mnl_attr_put_strz(nlh, NFTA_CHAIN_NAME, name);
	if (hook) {
		nest = mnl_attr_nest_start(nlh, NFTA_CHAIN_HOOK);
		mnl_attr_put_u32(nlh, NFTA_HOOK_HOOKNUM, htonl(2));
		mnl_attr_put_u32(nlh, NFTA_HOOK_PRIORITY, htonl((uint32_t)-160));
		mnl_attr_nest_end(nlh, nest);
	}
	return nlh;
}

/* A rule of family/table/chain with one expression: "queue", a jump
 * (immediate verdict) to target, or "counter". */
static struct nlmsghdr *put_rule(char *buf, uint8_t family, const char *table, const char *chain,
				 const char *expr, const char *target)
{
	struct nlmsghdr *nlh = put_msg(buf, NFT_MSG_NEWRULE, family, 1);
	struct nlattr *list, *elem, *data, *imm, *verdict;

	mnl_attr_put_strz(nlh, NFTA_RULE_TABLE, table);
	mnl_attr_put_strz(nlh, NFTA_RULE_CHAIN, chain);
	list = mnl_attr_nest_start(nlh, NFTA_RULE_EXPRESSIONS);
	elem = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
	mnl_attr_put_strz(nlh, NFTA_EXPR_NAME, expr);
	data = mnl_attr_nest_start(nlh, NFTA_EXPR_DATA);
	if (target) {
		mnl_attr_put_u32(nlh, NFTA_IMMEDIATE_DREG, htonl(NFT_REG_VERDICT));
		imm = mnl_attr_nest_start(nlh, NFTA_IMMEDIATE_DATA);
		verdict = mnl_attr_nest_start(nlh, NFTA_DATA_VERDICT);
		mnl_attr_put_u32(nlh, NFTA_VERDICT_CODE, htonl((uint32_t)NFT_JUMP));
		mnl_attr_put_strz(nlh, NFTA_VERDICT_CHAIN, target);
		mnl_attr_nest_end(nlh, verdict);
		mnl_attr_nest_end(nlh, imm);
	} else {
		mnl_attr_put_u16(nlh, NFTA_QUEUE_NUM, htons(0));
	}
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, elem);
	mnl_attr_nest_end(nlh, list);
	return nlh;
}

/* Tables, chains and rules: only ours counted; queue statements, the
 * xtables chain and the jumps to it found. */
static void test_structure(void **state)
{
	char buf[2048];
	struct ruleset_view v = { 0 };
	struct nlmsghdr *nlh;

	(void)state;
	assert_int_equal(ruleset_parse_table(put_table(buf, FAMILY_INET, "fw4", 3), &v), 0);
	assert_false(v.loaded);
	assert_int_equal(ruleset_parse_table(put_table(buf, NFPROTO_IPV4, "btblockd", 3), &v), 0);
	assert_false(v.loaded);
	assert_int_equal(ruleset_parse_table(put_table(buf, FAMILY_INET, "btblockd", 77), &v), 0);
	assert_true(v.loaded);
	assert_true(v.has_handle);
	assert_int_equal(v.handle, 77);

	assert_int_equal(ruleset_parse_chain(put_chain(buf, "btblockd", "forward_decide", 1), &v), 0);
	assert_int_equal(ruleset_parse_chain(put_chain(buf, "btblockd", "decide", 0), &v), 0);
	assert_int_equal(ruleset_parse_chain(put_chain(buf, "fw4", "forward", 1), &v), 0);
	assert_int_equal(ruleset_parse_chain(put_chain(buf, "btblockd", "decide", 0), &v), 0);
	assert_int_equal(v.nchains, 2);
	assert_true(v.chains[0].base);
	assert_false(v.chains[1].base);
	/* A name longer than remembered: skipped, not cut. */
	assert_int_equal(ruleset_parse_chain(put_chain(buf, "btblockd",
						       "a_chain_name_of_thirty_two_bytes", 1), &v), 0);
	assert_int_equal(v.nchains, 2);

	assert_int_equal(ruleset_parse_rule(put_rule(buf, FAMILY_INET, "btblockd", "decide",
						     "counter", NULL), &v), 0);
	assert_int_equal(ruleset_parse_rule(put_rule(buf, FAMILY_INET, "btblockd", "forward_decide",
						     "immediate", "decide"), &v), 0);
	assert_int_equal(ruleset_parse_rule(put_rule(buf, FAMILY_INET, "fw4", "forward",
						     "queue", NULL), &v), 0);
	assert_int_equal(v.chains[0].rules, 1);
	assert_int_equal(v.chains[1].rules, 1);
	assert_false(v.queue_expr);		/* fw4's queue is not ours */
	assert_int_equal(ruleset_parse_rule(put_rule(buf, FAMILY_INET, "btblockd", "budget",
						     "queue", NULL), &v), 0);
	assert_true(v.queue_expr);

	/* xtables (iptables-nft): rules of BTBLOCKD, jumps to it, per family. */
	assert_int_equal(ruleset_parse_xt_rule(put_rule(buf, NFPROTO_IPV4, "mangle", "BTBLOCKD",
							"target", NULL), &v), 0);
	assert_int_equal(ruleset_parse_xt_rule(put_rule(buf, NFPROTO_IPV4, "mangle", "FORWARD",
							"immediate", "BTBLOCKD"), &v), 0);
	assert_int_equal(ruleset_parse_xt_rule(put_rule(buf, NFPROTO_IPV6, "mangle", "FORWARD",
							"immediate", "OTHER"), &v), 0);
	assert_int_equal(ruleset_parse_xt_rule(put_rule(buf, NFPROTO_IPV6, "filter", "FORWARD",
							"immediate", "BTBLOCKD"), &v), 0);
	assert_int_equal(ruleset_parse_xt_rule(put_rule(buf, FAMILY_INET, "mangle", "FORWARD",
							"immediate", "BTBLOCKD"), &v), 0);
	assert_int_equal(v.xt_rules[0], 1);
	assert_int_equal(v.xt_jumps[0], 1);
	assert_int_equal(v.xt_rules[1], 0);
	assert_int_equal(v.xt_jumps[1], 0);

	/* Malformed: an expression list element that is not nested, a
	 * verdict chain without its NUL. */
	nlh = put_msg(buf, NFT_MSG_NEWRULE, FAMILY_INET, 1);
	mnl_attr_put_strz(nlh, NFTA_RULE_TABLE, "btblockd");
	mnl_attr_put_strz(nlh, NFTA_RULE_CHAIN, "decide");
	{
		struct nlattr *list = mnl_attr_nest_start(nlh, NFTA_RULE_EXPRESSIONS);

		mnl_attr_put(nlh, NFTA_LIST_ELEM, 2, "ab");
		mnl_attr_nest_end(nlh, list);
	}
	assert_int_equal(ruleset_parse_rule(nlh, &v), -1);
	nlh = put_rule(buf, NFPROTO_IPV4, "mangle", "FORWARD", "immediate", "BTBLOCKD");
	/* the last byte of the message is the chain name's NUL (then padding) */
	{
		char *name = memmem(buf, nlh->nlmsg_len, "BTBLOCKD", 9);

		assert_non_null(name);
		name[8] = 'X';
	}
	assert_int_equal(ruleset_parse_xt_rule(nlh, &v), -1);

	/* The requests: a rule dump of ip mangle, a table dump unfiltered. */
	{
		const struct nfgenmsg *nfg;

		nlh = ruleset_dump_request_xt(buf, NFPROTO_IPV6, 5);
		nfg = mnl_nlmsg_get_payload(nlh);
		assert_int_equal(nlh->nlmsg_type, (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETRULE);
		assert_int_equal(nfg->nfgen_family, NFPROTO_IPV6);
		assert_non_null(memmem(buf, nlh->nlmsg_len, "mangle", 7));
		nlh = ruleset_dump_request(buf, NFT_MSG_GETTABLE, 6);
		assert_int_equal(nlh->nlmsg_len, NLMSG_HDRLEN + sizeof(struct nfgenmsg));
	}
}

/* A complete table as btblockd-firewall loads it: hook forward, xt or nft. */
static struct ruleset_view complete_view(uint64_t handle, int nft)
{
	struct ruleset_view v = { .loaded = 1, .has_handle = 1, .handle = handle, .read_ms = 1,
				  .has_decided = 1, .has_verdicts = 1, .queue_expr = nft,
				  .has_bans = 1, .has_bans_failed = 1,
				  .xt_read = { 1, 1 }, .xt_rules = { 2, 2 }, .xt_jumps = { 1, 1 } };
	static const struct ruleset_chain chains[] = {
		{ "decide", 0, 7 }, { "budget", 0, 2 },
		{ "forward_decide", 1, 1 }, { "forward_verdict", 1, 1 },
	};

	v.ban4.present = v.ban6.present = 1;
	memcpy(v.chains, chains, sizeof(chains));
	v.nchains = ARRAY_SIZE(chains);
	return v;
}

static void drop_chain(struct ruleset_view *v, const char *name)
{
	for (unsigned i = 0; i < v->nchains; i++)
		if (strcmp(v->chains[i].name, name) == 0) {
			v->chains[i] = v->chains[--v->nchains];
			return;
		}
}

/* What is missing, named. */
static void test_missing(void **state)
{
	static struct ruleset r;
	struct ruleset_view v = complete_view(5, 1);
	char buf[RULESET_MISSING_MAX];

	(void)state;
	assert_int_equal(ruleset_missing(&r, &v, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	v.ban6.present = 0;
	v.has_verdicts = 0;
	assert_int_equal(ruleset_missing(&r, &v, buf, sizeof(buf)), 2);
	assert_string_equal(buf, "set ban6, map verdicts");
	v = complete_view(5, 1);
	drop_chain(&v, "forward_verdict");
	assert_int_equal(ruleset_missing(&r, &v, buf, sizeof(buf)), 1);
	assert_string_equal(buf, "base chain forward_verdict");
	v = complete_view(5, 1);
	v.chains[0].rules = 0;
	v.chains[2].rules = 0;
	assert_int_equal(ruleset_missing(&r, &v, buf, sizeof(buf)), 2);
	assert_string_equal(buf, "the rules of chain decide, the rules of base chain forward_decide");
	v = complete_view(5, 1);
	drop_chain(&v, "forward_verdict");
	drop_chain(&v, "forward_decide");
	drop_chain(&v, "decide");
	assert_int_equal(ruleset_missing(&r, &v, buf, sizeof(buf)), 2);
	assert_string_equal(buf, "chain decide, every base chain");
	v = (struct ruleset_view){ .read_ms = 1 };
	assert_int_equal(ruleset_missing(&r, &v, buf, sizeof(buf)), 1);
	assert_string_equal(buf, "table inet btblockd");
	/* A small buffer: cut, never overrun. */
	v = complete_view(5, 1);
	v.ban4.present = v.ban6.present = v.has_decided = v.has_verdicts = 0;
	assert_int_equal(ruleset_missing(&r, &v, buf, 12), 4);
	assert_int_equal(strlen(buf), 11);
}

/* The watch: armed by a complete table, a loss logged and counted once,
 * the exit requested after the grace unless the table is back; a table
 * loaded again (new handle) with fewer hooks is complete; the xtables
 * jumps watched once seen. */
static void test_watch(void **state)
{
	static struct ruleset r;
	struct ruleset_view v;
	json_t *o;

	(void)state;
	r.exit_on_loss = 1;
	r.next_read_ms = 1000 + RULESET_POLL_MS;
	v = (struct ruleset_view){ .read_ms = 1 };
	ruleset_check(&r, &v, 1000);		/* not there at start: waited for */
	assert_int_equal(r.state, RULESET_ABSENT);
	assert_false(r.armed);
	v = complete_view(5, 0);
	drop_chain(&v, "forward_verdict");
	ruleset_check(&r, &v, 2000);		/* incomplete at start: not armed */
	assert_int_equal(r.state, RULESET_DAMAGED);
	assert_false(r.armed);
	assert_int_equal(r.lost, 0);
	assert_int_equal(r.lost_since_ms, 0);

	v = complete_view(5, 0);
	ruleset_check(&r, &v, 3000);
	assert_int_equal(r.state, RULESET_OK);
	assert_true(r.armed);
	assert_true(r.xt_seen[0] && r.xt_seen[1]);

	/* The xtables jump of ip6 removed. */
	v.xt_jumps[1] = 0;
	r.next_read_ms = 4000 + 10 * RULESET_GRACE_MS;
	ruleset_check(&r, &v, 4000);
	assert_int_equal(r.state, RULESET_DAMAGED);
	assert_string_equal(r.missing, "ip6 mangle jump to BTBLOCKD");
	assert_int_equal(r.lost, 1);
	assert_int_equal(r.lost_since_ms, 4000);
	/* the next reading when the grace ends, not later */
	assert_int_equal(r.next_read_ms, 4000 + RULESET_GRACE_MS);
	o = ruleset_json(&v, &r, 5000);
	assert_string_equal(json_string_value(json_object_get(o, "state")), "damaged");
	assert_int_equal(json_array_size(json_object_get(o, "missing")), 1);
	assert_int_equal(json_integer_value(json_object_get(o, "lost")), 1);
	assert_int_equal(json_integer_value(json_object_get(o, "lost_ms")), 1000);
	assert_int_equal(json_integer_value(json_object_get(o, "exit_in_ms")), RULESET_GRACE_MS - 1000);
	assert_string_equal(json_string_value(json_object_get(o, "on_loss")), "exit");
	assert_string_equal(json_string_value(json_object_get(o, "backend")), "xt");
	json_decref(o);
	/* Still lost, another part too: counted once. */
	v.ban4.present = 0;
	ruleset_check(&r, &v, 6000);
	assert_int_equal(r.lost, 1);
	assert_false(ruleset_exit_requested(&r));
	/* Back in time: no exit, armed on. */
	v = complete_view(5, 0);
	ruleset_check(&r, &v, 7000);
	assert_int_equal(r.state, RULESET_OK);
	assert_int_equal(r.lost_since_ms, 0);
	assert_false(ruleset_exit_requested(&r));

	/* Loaded again with the same hooks, then gone for good. */
	v = complete_view(6, 0);
	ruleset_check(&r, &v, 8000);
	assert_int_equal(r.state, RULESET_OK);
	v = (struct ruleset_view){ .read_ms = 1 };
	ruleset_check(&r, &v, 9000);
	assert_int_equal(r.state, RULESET_MISSING);
	assert_int_equal(r.lost, 2);
	ruleset_check(&r, &v, 9000 + RULESET_GRACE_MS - 1);
	assert_false(ruleset_exit_requested(&r));
	ruleset_check(&r, &v, 9000 + RULESET_GRACE_MS);
	assert_true(ruleset_exit_requested(&r));
}

/* --firewall-lost log: no exit; a table loaded again with other hooks is
 * complete; a base chain of the same table deleted is not; the nft
 * backend forgets the xtables rules. */
static void test_watch_log(void **state)
{
	static struct ruleset r;
	struct ruleset_view v;
	static const struct ruleset_chain input[] = { { "input_decide", 1, 1 }, { "input_verdict", 1, 1 } };

	(void)state;
	r.exit_on_loss = 0;
	v = complete_view(5, 0);
	memcpy(&v.chains[v.nchains], input, sizeof(input));
	v.nchains += 2;
	ruleset_check(&r, &v, 1000);
	assert_int_equal(r.nbase, 4);
	/* both input chains deleted from the same table */
	v.nchains -= 2;
	ruleset_check(&r, &v, 2000);
	assert_int_equal(r.state, RULESET_DAMAGED);
	assert_string_equal(r.missing, "base chain input_decide, base chain input_verdict");
	ruleset_check(&r, &v, 2000 + 10 * RULESET_GRACE_MS);
	assert_false(ruleset_exit_requested(&r));
	/* the same hooks in a table loaded again (another handle): complete */
	v.handle = 6;
	ruleset_check(&r, &v, 3000);
	assert_int_equal(r.state, RULESET_OK);
	assert_int_equal(r.nbase, 2);
	/* the nft backend: no xtables rules needed any more */
	v = complete_view(7, 1);
	v.xt_rules[0] = v.xt_jumps[0] = 0;
	ruleset_check(&r, &v, 4000);
	assert_int_equal(r.state, RULESET_OK);
	assert_false(r.xt_seen[0]);
	/* a failed reading changes nothing */
	v = (struct ruleset_view){ .error = EPERM, .read_ms = 1 };
	ruleset_check(&r, &v, 5000);
	assert_int_equal(r.state, RULESET_OK);
}

static void test_json(void **state)
{
	struct ruleset_view v = reading(3);
	json_t *o;

	(void)state;
	v.bans = 40;
	v.read_ms = 1000;
	v.ban4 = (struct ruleset_set){ .present = 1, .size = 65536, .timeout_ms = 3600000 };
	o = ruleset_json(&v, NULL, 1500);
	assert_true(json_is_true(json_object_get(o, "loaded")));
	assert_int_equal(json_integer_value(json_object_get(o, "age_ms")), 500);
	assert_int_equal(json_integer_value(json_object_get(o, "bans")), 40);
	assert_int_equal(json_integer_value(json_object_get(o, "bans_failed")), 3);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(json_object_get(o, "ban_sets"),
									    "ban4"), "size")), 65536);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(json_object_get(o, "ban_sets"),
									    "ban4"), "timeout_s")), 3600);
	assert_true(json_is_null(json_object_get(json_object_get(o, "ban_sets"), "ban6")));
	assert_null(json_object_get(o, "error"));
	json_decref(o);

	/* An older ruleset without the counter: null, not 0. */
	v.has_bans_failed = 0;
	o = ruleset_json(&v, NULL, 1500);
	assert_true(json_is_null(json_object_get(o, "bans_failed")));
	json_decref(o);

	/* Not loaded: no counters; a failed reading says why. */
	v = (struct ruleset_view){ .error = EPERM, .read_ms = 1000 };
	o = ruleset_json(&v, NULL, 1000);
	assert_true(json_is_false(json_object_get(o, "loaded")));
	assert_null(json_object_get(o, "bans"));
	assert_string_equal(json_string_value(json_object_get(o, "error")), strerror(EPERM));
	json_decref(o);

	/* Never read. */
	v = (struct ruleset_view){ 0 };
	o = ruleset_json(&v, NULL, 1000);
	assert_true(json_is_null(json_object_get(o, "age_ms")));
	json_decref(o);
}

/* Without a socket (it could not be opened) a reading says so. */
static void test_no_socket(void **state)
{
	static struct ruleset r;

	(void)state;
	r.view.error = EPERM;
	ruleset_poll(&r, 1000);
	assert_false(r.view.loaded);
	assert_int_equal(r.view.error, EPERM);
	assert_int_equal(r.next_read_ms, 1000 + RULESET_POLL_MS);
	r.view.read_ms = 0;
	ruleset_poll(&r, 1500);			/* not due: nothing read */
	assert_int_equal(r.view.read_ms, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sets),
		cmocka_unit_test(test_foreign_sets_and_objects_ignored),
		cmocka_unit_test(test_counters),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_walk),
		cmocka_unit_test(test_requests),
		cmocka_unit_test(test_ban_set_full_warning),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_no_socket),
		cmocka_unit_test(test_structure),
		cmocka_unit_test(test_missing),
		cmocka_unit_test(test_watch),
		cmocka_unit_test(test_watch_log),
	};

	log_init("test_ruleset", 1, LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
