/* test_ct_flush.c - conntrack entries of blocked flows (src/ct_flush.c):
 * dump messages into entries, hostile ones refused, the filter by mark
 * and address (NAT's reply tuple included), the delete request. */
#include "../../src/ct_flush.c"

#include <stdarg.h>
#include <setjmp.h>
#include <cmocka.h>

static char buf[CT_FLUSH_BUF];

static void put_tuple(struct nlmsghdr *nlh, int type, int family, const void *src,
		      const void *dst, size_t alen, uint16_t sport, uint16_t dport)
{
	struct nlattr *t = mnl_attr_nest_start(nlh, (uint16_t)type), *n;

	n = mnl_attr_nest_start(nlh, CTA_TUPLE_IP);
	mnl_attr_put(nlh, family == 4 ? CTA_IP_V4_SRC : CTA_IP_V6_SRC, alen, src);
	mnl_attr_put(nlh, family == 4 ? CTA_IP_V4_DST : CTA_IP_V6_DST, alen, dst);
	mnl_attr_nest_end(nlh, n);
	n = mnl_attr_nest_start(nlh, CTA_TUPLE_PROTO);
	mnl_attr_put_u8(nlh, CTA_PROTO_NUM, IPPROTO_TCP);
	mnl_attr_put_u16(nlh, CTA_PROTO_SRC_PORT, htons(sport));
	mnl_attr_put_u16(nlh, CTA_PROTO_DST_PORT, htons(dport));
	mnl_attr_nest_end(nlh, n);
	mnl_attr_nest_end(nlh, t);
}

static struct nlmsghdr *put_ct(int family, uint32_t mark)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *nfg;

	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = family == 4 ? AF_INET : AF_INET6;
	if (mark != UINT32_MAX)
		mnl_attr_put_u32(nlh, CTA_MARK, htonl(mark));
	return nlh;
}

static const uint8_t lan[4] = { 192, 168, 1, 20 }, peer[4] = { 198, 51, 100, 7 },
	wan[4] = { 203, 0, 113, 1 };

/* A NATed TCP flow: 192.168.1.20:40000 -> 198.51.100.7:6881, replies to
 * the router's 203.0.113.1:61000. */
static struct nlmsghdr *nat_flow(uint32_t mark)
{
	struct nlmsghdr *nlh = put_ct(4, mark);

	put_tuple(nlh, CTA_TUPLE_ORIG, 4, lan, peer, 4, 40000, 6881);
	put_tuple(nlh, CTA_TUPLE_REPLY, 4, peer, wan, 4, 6881, 61000);
	mnl_attr_put_u32(nlh, CTA_ID, htonl(4242));
	mnl_attr_put_u16(nlh, CTA_ZONE, htons(3));
	return nlh;
}

static void filter(struct ct_filter *f, const char *spec)
{
	memset(f, 0, sizeof(*f));
	assert_int_equal(addrspec_parse(spec, &f->spec), 0);
	f->mask = 0x00ff0000;
	f->values[0] = 0x00b10000;
	f->values[1] = 0x00b20000;
	f->nvalues = 2;
}

static void test_parse_and_match(void **state)
{
	struct ct_filter f;
	struct ct_entry e;

	(void)state;
	assert_int_equal(ct_parse(nat_flow(0x12b10034), &e), 1);
	assert_int_equal(e.family, 4);
	assert_int_equal(e.l4, IPPROTO_TCP);
	assert_memory_equal(e.src, lan, 4);
	assert_memory_equal(e.dst, peer, 4);
	assert_memory_equal(e.rdst, wan, 4);
	assert_int_equal(ntohs(e.sport), 40000);
	assert_int_equal(ntohs(e.dport), 6881);
	assert_int_equal(ntohl(e.id), 4242);
	assert_int_equal(ntohs(e.zone), 3);
	assert_int_equal(e.mark, 0x12b10034);
	/* blocked (other bits of the mark are not ours), either end */
	filter(&f, "192.168.1.20");
	assert_true(ct_match(&f, &e));
	filter(&f, "198.51.100.0/24");
	assert_true(ct_match(&f, &e));
	filter(&f, "203.0.113.1");	/* the NAT address, in the reply */
	assert_true(ct_match(&f, &e));
	filter(&f, "192.168.1.21");
	assert_false(ct_match(&f, &e));
	filter(&f, "::1");
	assert_false(ct_match(&f, &e));
	/* allowed or flow-only-reject values are not blocked values here */
	filter(&f, "192.168.1.20");
	e.mark = 0x00a10000;
	assert_false(ct_match(&f, &e));
	e.mark = 0x00b20000;
	assert_true(ct_match(&f, &e));
	e.mark = 0x00000000;
	assert_false(ct_match(&f, &e));
	f.nvalues = 5;		/* never read past the values */
	assert_false(ct_match(&f, &e));
}

static void test_ipv6(void **state)
{
	uint8_t a[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 }, b[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 };
	struct nlmsghdr *nlh = put_ct(6, 0x00b10000);
	struct ct_filter f;
	struct ct_entry e;

	(void)state;
	put_tuple(nlh, CTA_TUPLE_ORIG, 6, a, b, 16, 1, 2);
	assert_int_equal(ct_parse(nlh, &e), 1);
	assert_int_equal(e.family, 6);
	assert_false(e.has_reply);
	filter(&f, "2001:db8::2");
	assert_true(ct_match(&f, &e));
	filter(&f, "2001:db8::3");
	assert_false(ct_match(&f, &e));
}

static void test_hostile(void **state)
{
	uint8_t a[16] = { 1 };
	struct nlmsghdr *nlh;
	struct nlattr *t, *n;
	struct ct_entry e;

	(void)state;
	/* an IPv6 address of 4 bytes */
	nlh = put_ct(6, 0x00b10000);
	put_tuple(nlh, CTA_TUPLE_ORIG, 6, a, a, 4, 1, 2);
	assert_int_equal(ct_parse(nlh, &e), -1);
	/* an IPv4 address of 16 bytes */
	nlh = put_ct(4, 0x00b10000);
	put_tuple(nlh, CTA_TUPLE_ORIG, 4, a, a, 16, 1, 2);
	assert_int_equal(ct_parse(nlh, &e), -1);
	/* an IPv6 message with IPv4 addresses: not what is needed */
	nlh = put_ct(6, 0x00b10000);
	put_tuple(nlh, CTA_TUPLE_ORIG, 4, a, a, 4, 1, 2);
	assert_int_equal(ct_parse(nlh, &e), 0);
	/* a mark of 2 bytes */
	nlh = put_ct(4, UINT32_MAX);
	mnl_attr_put_u16(nlh, CTA_MARK, 1);
	assert_int_equal(ct_parse(nlh, &e), -1);
	/* no mark: not a candidate */
	nlh = put_ct(4, UINT32_MAX);
	put_tuple(nlh, CTA_TUPLE_ORIG, 4, lan, peer, 4, 1, 2);
	assert_int_equal(ct_parse(nlh, &e), 0);
	/* an IPv4 address of 2 bytes */
	nlh = put_ct(4, 0x00b10000);
	t = mnl_attr_nest_start(nlh, CTA_TUPLE_ORIG);
	n = mnl_attr_nest_start(nlh, CTA_TUPLE_IP);
	mnl_attr_put(nlh, CTA_IP_V4_SRC, 2, a);
	mnl_attr_nest_end(nlh, n);
	n = mnl_attr_nest_start(nlh, CTA_TUPLE_PROTO);
	mnl_attr_put_u8(nlh, CTA_PROTO_NUM, 6);
	mnl_attr_nest_end(nlh, n);
	mnl_attr_nest_end(nlh, t);
	assert_int_equal(ct_parse(nlh, &e), -1);
	/* a tuple that is not nested: its bytes as attributes are garbage */
	nlh = put_ct(4, 0x00b10000);
	mnl_attr_put(nlh, CTA_TUPLE_ORIG, 3, a);
	assert_int_equal(ct_parse(nlh, &e), -1);
	/* a protocol number of 4 bytes */
	nlh = put_ct(4, 0x00b10000);
	t = mnl_attr_nest_start(nlh, CTA_TUPLE_ORIG);
	n = mnl_attr_nest_start(nlh, CTA_TUPLE_IP);
	mnl_attr_put(nlh, CTA_IP_V4_SRC, 4, lan);
	mnl_attr_put(nlh, CTA_IP_V4_DST, 4, peer);
	mnl_attr_nest_end(nlh, n);
	n = mnl_attr_nest_start(nlh, CTA_TUPLE_PROTO);
	mnl_attr_put_u32(nlh, CTA_PROTO_NUM, 6);
	mnl_attr_nest_end(nlh, n);
	mnl_attr_nest_end(nlh, t);
	assert_int_equal(ct_parse(nlh, &e), -1);
	/* a second reply tuple, broken (the last of an attribute counts) */
	nlh = nat_flow(0x00b10000);
	t = mnl_attr_nest_start(nlh, CTA_TUPLE_REPLY);
	mnl_attr_put_u16(nlh, CTA_TUPLE_IP, 1);
	mnl_attr_nest_end(nlh, t);
	assert_int_equal(ct_parse(nlh, &e), -1);
	/* other messages and families */
	nlh = nat_flow(0x00b10000);
	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE;
	assert_int_equal(ct_parse(nlh, &e), 0);
	nlh = nat_flow(0x00b10000);
	((struct nfgenmsg *)mnl_nlmsg_get_payload(nlh))->nfgen_family = AF_BRIDGE;
	assert_int_equal(ct_parse(nlh, &e), 0);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW;
	assert_int_equal(ct_parse(nlh, &e), 0);
}

/* The delete request carries the entry's tuple, zone and id: read back
 * as a dump message, it is the same entry. */
static void test_delete_request(void **state)
{
	struct ct_entry e, back;
	struct nlmsghdr *nlh;

	(void)state;
	assert_int_equal(ct_parse(nat_flow(0x00b10000), &e), 1);
	nlh = ct_delete_request(buf, &e, 31);
	assert_int_equal(nlh->nlmsg_type, (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE);
	assert_int_equal(nlh->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK);
	assert_int_equal(nlh->nlmsg_seq, 31);
	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW;
	mnl_attr_put_u32(nlh, CTA_MARK, htonl(e.mark));
	assert_int_equal(ct_parse(nlh, &back), 1);
	assert_memory_equal(back.src, e.src, 16);
	assert_memory_equal(back.dst, e.dst, 16);
	assert_int_equal(back.sport, e.sport);
	assert_int_equal(back.dport, e.dport);
	assert_int_equal(back.l4, e.l4);
	assert_int_equal(back.id, e.id);
	assert_int_equal(back.zone, e.zone);
	assert_false(back.has_reply);
	nlh = ct_dump_request(buf, 6, 8);
	assert_int_equal(nlh->nlmsg_flags, NLM_F_REQUEST | NLM_F_DUMP);
	assert_int_equal(((struct nfgenmsg *)mnl_nlmsg_get_payload(nlh))->nfgen_family, AF_INET6);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_and_match),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_delete_request),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
