/* test_nft_bans.c - the ban sets over nftables netlink (src/nft_bans.c,
 * src/nlwalk.c): element dumps into pairs, hostile messages (cut,
 * keys of the wrong length, bogus nesting, foreign tables), the dump
 * walk, the requests and the delete batch. */
#include "../../src/nft_bans.c"

#include <stdarg.h>
#include <setjmp.h>
#include <cmocka.h>

#define SEQ 77
#define PID 9

static char buf[NFT_BANS_BUF];

static struct nlmsghdr *put_dump_msg(char *b, uint16_t msg_type, uint8_t family)
{
	struct nlmsghdr *nlh = nftmsg_put(b, (uint16_t)((NFNL_SUBSYS_NFTABLES << 8) | msg_type),
					  NLM_F_MULTI, family, 0, SEQ);

	nlh->nlmsg_pid = PID;
	return nlh;
}

/* A NEWSETELEM of set in table, elements opened: add with put_elem. */
static struct nlmsghdr *elems_start(char *b, const char *table, const char *set,
				    struct nlattr **nest)
{
	struct nlmsghdr *nlh = put_dump_msg(b, NFT_MSG_NEWSETELEM, NFPROTO_INET);

	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, table);
	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, set);
	*nest = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
	return nlh;
}

/* One element with a key of keylen bytes (0: no key), and a timeout and
 * expiration when not 0. */
static void put_elem(struct nlmsghdr *nlh, const void *key, size_t keylen, uint64_t timeout_ms,
		     uint64_t expires_ms)
{
	struct nlattr *el = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);

	if (keylen) {
		struct nlattr *k = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_KEY);

		mnl_attr_put(nlh, NFTA_DATA_VALUE, keylen, key);
		mnl_attr_nest_end(nlh, k);
	}
	if (timeout_ms)
		mnl_attr_put_u64(nlh, NFTA_SET_ELEM_TIMEOUT, htobe64(timeout_ms));
	if (expires_ms)
		mnl_attr_put_u64(nlh, NFTA_SET_ELEM_EXPIRATION, htobe64(expires_ms));
	mnl_attr_nest_end(nlh, el);
}

static const uint8_t k4ab[8] = { 10, 0, 0, 2, 192, 0, 2, 9 };
static const uint8_t k4ba[8] = { 192, 0, 2, 9, 10, 0, 0, 2 };
static const uint8_t k4cd[8] = { 10, 0, 0, 3, 198, 51, 100, 1 };
static uint8_t k6[32];

static void test_parse_pairs(void **state)
{
	struct ban_list l = { 0 };
	struct nlattr *nest;
	struct nlmsghdr *nlh;

	(void)state;
	k6[0] = 0x20, k6[1] = 0x01, k6[15] = 1, k6[16] = 0x20, k6[17] = 0x01, k6[31] = 2;
	/* the sets' timeouts: ban4 1 h */
	nlh = put_dump_msg(buf, NFT_MSG_NEWSET, NFPROTO_INET);
	mnl_attr_put_strz(nlh, NFTA_SET_TABLE, "btblockd");
	mnl_attr_put_strz(nlh, NFTA_SET_NAME, "ban4");
	mnl_attr_put_u64(nlh, NFTA_SET_TIMEOUT, htobe64(3600000));
	assert_int_equal(nft_bans_parse(nlh, &l), 0);
	assert_int_equal(l.set_timeout_ms[0], 3600000);

	nlh = elems_start(buf, "btblockd", "ban4", &nest);
	put_elem(nlh, k4ab, 8, 0, 3500000);		/* the set's timeout */
	put_elem(nlh, k4ba, 8, 0, 3500500);
	put_elem(nlh, k4cd, 8, 30000, 29000);	/* one order only */
	mnl_attr_nest_end(nlh, nest);
	assert_int_equal(nft_bans_parse(nlh, &l), 0);
	assert_int_equal(l.n, 3);
	assert_memory_equal(l.v[1].a, k4ba, 4);
	assert_memory_equal(l.v[1].b, k4ba + 4, 4);
	assert_int_equal(l.v[1].b[4], 0);

	nlh = elems_start(buf, "btblockd", "ban6", &nest);
	put_elem(nlh, k6, 32, 60000, 1000);
	mnl_attr_nest_end(nlh, nest);
	assert_int_equal(nft_bans_parse(nlh, &l), 0);
	assert_int_equal(l.n, 4);

	nft_bans_pairs(&l);
	assert_int_equal(l.n, 3);
	/* sorted by family, then lower address */
	assert_int_equal(l.v[0].family, 4);
	assert_memory_equal(l.v[0].a, k4ab, 4);
	assert_memory_equal(l.v[0].b, k4ab + 4, 4);
	assert_int_equal(l.v[0].timeout_ms, 3600000);	/* from the set */
	assert_int_equal(l.v[0].expires_ms, 3500500);	/* the longer of the two */
	assert_memory_equal(l.v[1].a, k4cd, 4);
	assert_int_equal(l.v[1].timeout_ms, 30000);
	assert_int_equal(l.v[2].family, 6);
	assert_int_equal(l.v[2].a[15], 1);
	assert_int_equal(l.v[2].b[15], 2);
	assert_true(l.v[2].has_timeout);
	nft_bans_free(&l);
}

/* Each message is refused (-1) and leaves the list as it was. */
static void test_hostile_elements(void **state)
{
	uint8_t key[40] = { 1, 2, 3 };
	struct ban_list l = { 0 };
	struct nlattr *nest, *el;
	struct nlmsghdr *nlh;

	(void)state;
	/* one good element first: a bad one later takes it back out */
	for (size_t len = 0; len <= 40; len++) {
		if (len == 8)
			continue;
		nlh = elems_start(buf, "btblockd", "ban4", &nest);
		put_elem(nlh, k4ab, 8, 0, 1);
		put_elem(nlh, key, len, 0, 1);
		mnl_attr_nest_end(nlh, nest);
		assert_int_equal(nft_bans_parse(nlh, &l), -1);
		assert_int_equal(l.n, 0);
	}
	/* an IPv4 pair's key in ban6 */
	nlh = elems_start(buf, "btblockd", "ban6", &nest);
	put_elem(nlh, k4ab, 8, 0, 0);
	mnl_attr_nest_end(nlh, nest);
	assert_int_equal(nft_bans_parse(nlh, &l), -1);
	/* the list element is not NFTA_LIST_ELEM */
	nlh = elems_start(buf, "btblockd", "ban4", &nest);
	el = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM + 1);
	mnl_attr_put(nlh, NFTA_SET_ELEM_KEY, 8, k4ab);
	mnl_attr_nest_end(nlh, el);
	mnl_attr_nest_end(nlh, nest);
	assert_int_equal(nft_bans_parse(nlh, &l), -1);
	/* the key is not nested: its bytes taken as attributes are garbage */
	nlh = elems_start(buf, "btblockd", "ban4", &nest);
	el = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
	mnl_attr_put(nlh, NFTA_SET_ELEM_KEY, 8, k4ab);
	mnl_attr_nest_end(nlh, el);
	mnl_attr_nest_end(nlh, nest);
	assert_int_equal(nft_bans_parse(nlh, &l), -1);
	/* a timeout of 4 bytes */
	nlh = elems_start(buf, "btblockd", "ban4", &nest);
	el = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
	mnl_attr_put_u32(nlh, NFTA_SET_ELEM_TIMEOUT, 1);
	mnl_attr_nest_end(nlh, el);
	mnl_attr_nest_end(nlh, nest);
	assert_int_equal(nft_bans_parse(nlh, &l), -1);
	/* no key at all */
	nlh = elems_start(buf, "btblockd", "ban4", &nest);
	put_elem(nlh, NULL, 0, 1000, 1000);
	mnl_attr_nest_end(nlh, nest);
	assert_int_equal(nft_bans_parse(nlh, &l), -1);
	/* the table name without its NUL */
	nlh = put_dump_msg(buf, NFT_MSG_NEWSETELEM, NFPROTO_INET);
	mnl_attr_put(nlh, NFTA_SET_ELEM_LIST_TABLE, 8, "btblockd");
	assert_int_equal(nft_bans_parse(nlh, &l), -1);
	/* a set timeout of 2 bytes */
	nlh = put_dump_msg(buf, NFT_MSG_NEWSET, NFPROTO_INET);
	mnl_attr_put_strz(nlh, NFTA_SET_TABLE, "btblockd");
	mnl_attr_put_strz(nlh, NFTA_SET_NAME, "ban4");
	mnl_attr_put_u16(nlh, NFTA_SET_TIMEOUT, 1);
	assert_int_equal(nft_bans_parse(nlh, &l), -1);
	assert_int_equal(l.n, 0);
	nft_bans_free(&l);
}

/* Other tables, sets, families and messages are not ours: skipped. */
static void test_foreign(void **state)
{
	struct ban_list l = { 0 };
	struct nlattr *nest;
	struct nlmsghdr *nlh;

	(void)state;
	nlh = elems_start(buf, "fw4", "ban4", &nest);
	put_elem(nlh, k4ab, 8, 0, 1);
	mnl_attr_nest_end(nlh, nest);
	assert_int_equal(nft_bans_parse(nlh, &l), 0);
	nlh = elems_start(buf, "btblockd", "budget", &nest);
	put_elem(nlh, k4ab, 8, 0, 1);
	mnl_attr_nest_end(nlh, nest);
	assert_int_equal(nft_bans_parse(nlh, &l), 0);
	nlh = elems_start(buf, "btblockd", "ban4", &nest);
	put_elem(nlh, k4ab, 8, 0, 1);
	mnl_attr_nest_end(nlh, nest);
	((struct nfgenmsg *)mnl_nlmsg_get_payload(nlh))->nfgen_family = NFPROTO_IPV4;
	assert_int_equal(nft_bans_parse(nlh, &l), 0);
	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | NFT_MSG_NEWSETELEM;
	assert_int_equal(nft_bans_parse(nlh, &l), 0);
	/* a header without its nfgenmsg */
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWSETELEM;
	assert_int_equal(nft_bans_parse(nlh, &l), 0);
	assert_int_equal(l.n, 0);
	nft_bans_free(&l);
}

static size_t put_done(char *b, uint16_t type, int error)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(b);

	nlh->nlmsg_type = type;
	nlh->nlmsg_seq = SEQ;
	nlh->nlmsg_pid = PID;
	if (type == NLMSG_ERROR) {
		struct nlmsgerr *e = mnl_nlmsg_put_extra_header(nlh, sizeof(*e));

		e->error = error;
	} else {
		mnl_nlmsg_put_extra_header(nlh, 4);
	}
	return nlh->nlmsg_len;
}

static void test_walk(void **state)
{
	struct ban_list l = { 0 };
	struct nlattr *nest;
	struct nlmsghdr *nlh;
	size_t len;

	(void)state;
	nlh = elems_start(buf, "btblockd", "ban4", &nest);
	put_elem(nlh, k4ab, 8, 0, 1);
	mnl_attr_nest_end(nlh, nest);
	len = NLMSG_ALIGN(nlh->nlmsg_len);
	assert_int_equal(nlwalk(buf, len, SEQ, PID, nft_bans_parse, &l), 0);
	assert_int_equal(l.n, 1);
	/* another request's messages are skipped */
	assert_int_equal(nlwalk(buf, len, SEQ + 1, PID, nft_bans_parse, &l), 0);
	assert_int_equal(l.n, 1);
	len += put_done(buf + len, NLMSG_DONE, 0);
	assert_int_equal(nlwalk(buf, len, SEQ, PID, nft_bans_parse, &l), 1);
	assert_int_equal(l.n, 2);
	/* cut: the last message claims more than arrived (what came before
	 * it was taken: the caller drops the list on an error) */
	assert_int_equal(nlwalk(buf, len - 1, SEQ, PID, nft_bans_parse, &l), -EBADMSG);
	assert_int_equal(l.n, 3);
	/* a length below the header */
	nlh = (struct nlmsghdr *)(void *)buf;
	nlh->nlmsg_len = 8;
	assert_int_equal(nlwalk(buf, len, SEQ, PID, nft_bans_parse, &l), -EBADMSG);
	/* the kernel's refusal, and errors out of range */
	len = put_done(buf, NLMSG_ERROR, -ENOENT);
	assert_int_equal(nlwalk(buf, len, SEQ, PID, nft_bans_parse, &l), -ENOENT);
	put_done(buf, NLMSG_ERROR, 5);
	assert_int_equal(nlwalk(buf, len, SEQ, PID, nft_bans_parse, &l), -EBADMSG);
	put_done(buf, NLMSG_ERROR, -5000);
	assert_int_equal(nlwalk(buf, len, SEQ, PID, nft_bans_parse, &l), -EBADMSG);
	put_done(buf, NLMSG_ERROR, 0);
	assert_int_equal(nlwalk(buf, len, SEQ, PID, nft_bans_parse, &l), 1);
	/* an error message too short for its nlmsgerr */
	nlh->nlmsg_len = sizeof(*nlh) + 2;
	assert_int_equal(nlwalk(buf, NLMSG_ALIGN(nlh->nlmsg_len), SEQ, PID, nft_bans_parse, &l),
			 -EBADMSG);
	/* a malformed element ends the walk */
	nlh = elems_start(buf, "btblockd", "ban4", &nest);
	put_elem(nlh, k4ab, 7, 0, 1);
	mnl_attr_nest_end(nlh, nest);
	assert_int_equal(nlwalk(buf, nlh->nlmsg_len, SEQ, PID, nft_bans_parse, &l), -EBADMSG);
	assert_int_equal(l.n, 3);
	nft_bans_free(&l);
}

static void test_requests(void **state)
{
	struct nlmsghdr *nlh;
	const struct nlattr *a;
	int seen = 0;

	(void)state;
	nlh = nft_bans_dump_request(buf, "ban6", 5);
	assert_int_equal(nlh->nlmsg_type, (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETSETELEM);
	assert_int_equal(nlh->nlmsg_flags, NLM_F_REQUEST | NLM_F_DUMP);
	assert_int_equal(nlh->nlmsg_seq, 5);
	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg)) {
		if (mnl_attr_get_type(a) == NFTA_SET_ELEM_LIST_TABLE)
			assert_string_equal(mnl_attr_get_str(a), "btblockd"), seen |= 1;
		if (mnl_attr_get_type(a) == NFTA_SET_ELEM_LIST_SET)
			assert_string_equal(mnl_attr_get_str(a), "ban6"), seen |= 2;
	}
	assert_int_equal(seen, 3);
	nlh = nft_bans_dump_request(buf, NULL, 6);
	assert_int_equal(nlh->nlmsg_type, (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETSET);
}

/* The batch read back: BEGIN, DELSETELEMs, END; their elements parse as a
 * dump's would. */
static void test_delete_batch(void **state)
{
	struct ban_elem e[300];
	struct ban_list back = { 0 };
	unsigned msgs, dels = 0, begin = 0, end = 0;
	size_t len, off = 0;

	(void)state;
	memset(e, 0, sizeof(e));
	for (int i = 0; i < 299; i++) {
		e[i].family = 4;
		e[i].a[0] = 10, e[i].a[2] = (uint8_t)(i >> 8), e[i].a[3] = (uint8_t)i;
		e[i].b[0] = 192, e[i].b[3] = 9;
	}
	e[299].family = 6;
	memcpy(e[299].a, k6, 16);
	memcpy(e[299].b, k6 + 16, 16);
	len = nft_bans_delete_batch(buf, sizeof(buf), e, 300, 100, &msgs);
	assert_true(len > 0);
	assert_int_equal(msgs, 3);	/* 256 + 43 IPv4, 1 IPv6 */
	while (off < len) {
		struct nlmsghdr *nlh = (struct nlmsghdr *)(void *)(buf + off);

		if (nlh->nlmsg_type == NFNL_MSG_BATCH_BEGIN) {
			begin++;
			assert_int_equal(nlh->nlmsg_seq, 100);
		} else if (nlh->nlmsg_type == NFNL_MSG_BATCH_END) {
			end++;
			assert_int_equal(nlh->nlmsg_seq, 104);
		} else {
			assert_int_equal(nlh->nlmsg_type,
					 (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_DELSETELEM);
			assert_true(nlh->nlmsg_flags & NLM_F_ACK);
			assert_int_equal(nlh->nlmsg_seq, 101 + dels);
			nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWSETELEM;
			assert_int_equal(nft_bans_parse(nlh, &back), 0);
			dels++;
		}
		off += NLMSG_ALIGN(nlh->nlmsg_len);
	}
	assert_int_equal(off, len);
	assert_int_equal(begin, 1);
	assert_int_equal(end, 1);
	assert_int_equal(back.n, 300);
	for (int i = 0; i < 300; i++) {
		assert_int_equal(back.v[i].family, e[i].family);
		assert_memory_equal(back.v[i].a, e[i].a, 16);
		assert_memory_equal(back.v[i].b, e[i].b, 16);
	}
	nft_bans_free(&back);
	/* no room: 0, never a write past the buffer */
	assert_int_equal(nft_bans_delete_batch(buf, 600, e, 300, 1, &msgs), 0);
	assert_int_equal(nft_bans_delete_batch(buf, 100, e, 1, 1, &msgs), 0);
}


/* The flush of the budget sets: one DELSETELEM per set, no element list. */
static void test_flush_batch(void **state)
{
	static const char *const sets[] = { "budget", "backstop" };
	static const char *const long_name[] = {
		"a_set_name_longer_than_the_kernel_allows_for_any_set_at_all_xxxxx" };
	size_t len, off = 0;
	unsigned msgs, dels = 0;

	(void)state;
	len = nft_sets_flush_batch(buf, sizeof(buf), sets, 2, 40, &msgs);
	assert_true(len > 0);
	assert_int_equal(msgs, 2);
	while (off < len) {
		struct nlmsghdr *nlh = (struct nlmsghdr *)(void *)(buf + off);

		if (nlh->nlmsg_type != NFNL_MSG_BATCH_BEGIN && nlh->nlmsg_type != NFNL_MSG_BATCH_END) {
			const struct nlattr *a;
			int table = 0, set = 0, elements = 0;

			assert_int_equal(nlh->nlmsg_type,
					 (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_DELSETELEM);
			assert_int_equal(nlh->nlmsg_seq, 41 + dels);
			mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg)) {
				if (mnl_attr_get_type(a) == NFTA_SET_ELEM_LIST_TABLE)
					table = strcmp(mnl_attr_get_str(a), "btblockd") == 0;
				else if (mnl_attr_get_type(a) == NFTA_SET_ELEM_LIST_SET)
					set = strcmp(mnl_attr_get_str(a), sets[dels]) == 0;
				else if (mnl_attr_get_type(a) == NFTA_SET_ELEM_LIST_ELEMENTS)
					elements = 1;
			}
			assert_true(table && set && !elements);
			dels++;
		}
		off += NLMSG_ALIGN(nlh->nlmsg_len);
	}
	assert_int_equal(off, len);
	assert_int_equal(dels, 2);
	assert_int_equal(nft_sets_flush_batch(buf, 200, sets, 2, 1, &msgs), 0);
	assert_int_equal(nft_sets_flush_batch(buf, sizeof(buf), long_name, 1, 1, &msgs), 0);
}

static void test_select(void **state)
{
	struct ban_list l = { 0 }, sel;
	struct addrspec s;
	struct nlattr *nest;
	struct nlmsghdr *nlh;

	(void)state;
	nlh = elems_start(buf, "btblockd", "ban4", &nest);
	put_elem(nlh, k4ab, 8, 0, 1);
	put_elem(nlh, k4ba, 8, 0, 1);
	put_elem(nlh, k4cd, 8, 0, 1);
	mnl_attr_nest_end(nlh, nest);
	assert_int_equal(nft_bans_parse(nlh, &l), 0);
	assert_int_equal(addrspec_parse("192.0.2.9", &s), 0);
	assert_int_equal(nft_bans_select(&l, &s, &sel), 0);
	assert_int_equal(sel.n, 2);	/* both orders */
	nft_bans_free(&sel);
	assert_int_equal(addrspec_parse("10.0.0.0/30", &s), 0);
	assert_int_equal(nft_bans_select(&l, &s, &sel), 0);
	assert_int_equal(sel.n, 3);
	nft_bans_free(&sel);
	assert_int_equal(addrspec_parse("10.0.0.2", &s), 0);
	s.family = 6;
	assert_int_equal(nft_bans_select(&l, &s, &sel), 0);
	assert_int_equal(sel.n, 0);
	nft_bans_free(&sel);
	nft_bans_free(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_pairs),
		cmocka_unit_test(test_hostile_elements),
		cmocka_unit_test(test_foreign),
		cmocka_unit_test(test_walk),
		cmocka_unit_test(test_requests),
		cmocka_unit_test(test_delete_batch),
		cmocka_unit_test(test_flush_batch),
		cmocka_unit_test(test_select),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
