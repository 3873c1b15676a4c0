/* test_packet.c - the packet view on well-formed, truncated and hostile input. */
#include "../../src/packet.c"

#include <stdarg.h>
#include <setjmp.h>
#include <cmocka.h>

/* A buffer we build packets in, with helpers to write headers. */
struct builder {
	uint8_t b[256];
	size_t len;
};

static void put(struct builder *p, const void *data, size_t n)
{
	memcpy(p->b + p->len, data, n);
	p->len += n;
}

static void ipv4_header(struct builder *p, uint8_t proto, size_t l4len, size_t optlen, uint16_t frag)
{
	size_t ihl = 20 + optlen;
	size_t total = ihl + l4len;
	uint8_t h[20] = { (uint8_t)(0x40 | (ihl / 4)), 0, (uint8_t)(total >> 8), (uint8_t)total,
			  0, 1, (uint8_t)(frag >> 8), (uint8_t)frag, 64, proto, 0, 0,
			  192, 0, 2, 1, 198, 51, 100, 7 };

	put(p, h, sizeof(h));
	for (size_t i = 0; i < optlen; i++)
		p->b[p->len++] = 1;	/* NOP options */
}

static void tcp_header(struct builder *p, uint16_t sport, uint16_t dport, uint8_t doff_words)
{
	uint8_t h[20] = { (uint8_t)(sport >> 8), (uint8_t)sport, (uint8_t)(dport >> 8), (uint8_t)dport,
			  0, 0, 0, 42, 0, 0, 0, 7, (uint8_t)(doff_words << 4), 0x18, 0xff, 0xff };

	put(p, h, sizeof(h));
	for (size_t i = 20; i < (size_t)doff_words * 4; i++)
		p->b[p->len++] = 1;
}

static void udp_header(struct builder *p, uint16_t sport, uint16_t dport, size_t payload)
{
	uint16_t len = (uint16_t)(8 + payload);
	uint8_t h[8] = { (uint8_t)(sport >> 8), (uint8_t)sport, (uint8_t)(dport >> 8), (uint8_t)dport,
			 (uint8_t)(len >> 8), (uint8_t)len, 0, 0 };

	put(p, h, sizeof(h));
}

static void ipv6_header(struct builder *p, uint8_t next, size_t plen)
{
	uint8_t h[40] = { 0x60, 0, 0, 0, (uint8_t)(plen >> 8), (uint8_t)plen, next, 64 };

	h[8] = 0x20; h[9] = 0x01; h[10] = 0x0d; h[11] = 0xb8; h[23] = 1;
	h[24] = 0x20; h[25] = 0x01; h[26] = 0x0d; h[27] = 0xb8; h[39] = 2;
	put(p, h, sizeof(h));
}

static void test_ipv4_tcp(void **state)
{
	struct builder p = { .len = 0 };
	struct pkt_view v;

	(void)state;
	ipv4_header(&p, IPPROTO_TCP, 24 + 5, 4, 0);
	tcp_header(&p, 51413, 6881, 6);
	put(&p, "hello", 5);
	assert_int_equal(pkt_parse(&v, p.b, p.len, p.len), PKT_OK);
	assert_int_equal(v.family, 4);
	assert_int_equal(v.l4proto, IPPROTO_TCP);
	assert_int_equal(v.sport, 51413);
	assert_int_equal(v.dport, 6881);
	assert_int_equal(v.tcp_seq, 42);
	assert_int_equal(v.tcp_ack, 7);
	assert_int_equal(v.tcp_flags, 0x18);
	assert_int_equal(v.payload_len, 5);
	assert_int_equal(v.payload_wire_len, 5);
	assert_memory_equal(v.payload, "hello", 5);
	assert_int_equal(v.saddr[0], 192);
	assert_int_equal(v.daddr[3], 7);
}

static void test_ipv4_udp_cut_capture(void **state)
{
	struct builder p = { .len = 0 };
	struct pkt_view v;

	(void)state;
	ipv4_header(&p, IPPROTO_UDP, 8 + 100, 0, 0);
	udp_header(&p, 6881, 6881, 100);
	put(&p, "d1:ad2:id20:", 12);	/* only 12 of the 100 payload bytes captured */
	assert_int_equal(pkt_parse(&v, p.b, p.len, 20 + 8 + 100), PKT_OK);
	assert_int_equal(v.payload_len, 12);
	assert_int_equal(v.payload_wire_len, 100);
	assert_true(v.flags & PKT_F_PAYLOAD_CUT);
}

static void test_ipv4_fragments(void **state)
{
	struct builder p = { .len = 0 };
	struct pkt_view v;

	(void)state;
	ipv4_header(&p, IPPROTO_UDP, 16, 0, 0x0002);	/* offset 16 bytes: non-first */
	put(&p, "0123456789abcdef", 16);
	assert_int_equal(pkt_parse(&v, p.b, p.len, p.len), PKT_FRAGMENT);

	p.len = 0;
	ipv4_header(&p, IPPROTO_UDP, 8 + 8, 0, 0x2000);	/* more fragments, offset 0 */
	udp_header(&p, 1, 2, 8);
	put(&p, "abcdefgh", 8);
	assert_int_equal(pkt_parse(&v, p.b, p.len, p.len), PKT_OK);
	assert_true(v.flags & PKT_F_FIRST_FRAGMENT);
}

static void test_ipv4_other_and_malformed(void **state)
{
	struct builder p = { .len = 0 };
	struct pkt_view v;

	(void)state;
	ipv4_header(&p, IPPROTO_ICMP, 8, 0, 0);
	put(&p, "\x08\0\0\0\0\0\0\0", 8);
	assert_int_equal(pkt_parse(&v, p.b, p.len, p.len), PKT_OTHER_L4);

	p.b[0] = 0x44;		/* IHL 16 bytes: below the minimum */
	assert_int_equal(pkt_parse(&v, p.b, p.len, p.len), PKT_MALFORMED);
	p.b[0] = 0x4f;		/* IHL 60 bytes: beyond the packet */
	assert_int_equal(pkt_parse(&v, p.b, p.len, p.len), PKT_MALFORMED);
	p.b[0] = 0x55;		/* version 5 */
	assert_int_equal(pkt_parse(&v, p.b, p.len, p.len), PKT_MALFORMED);

	p.len = 0;
	ipv4_header(&p, IPPROTO_TCP, 20, 0, 0);
	tcp_header(&p, 1, 2, 5);
	p.b[20 + 12] = 0x40;	/* TCP data offset 16 bytes */
	assert_int_equal(pkt_parse(&v, p.b, p.len, p.len), PKT_MALFORMED);
	p.b[20 + 12] = 0xf0;	/* 60 bytes: beyond the packet */
	assert_int_equal(pkt_parse(&v, p.b, p.len, p.len), PKT_MALFORMED);

	p.b[20 + 12] = 0x50;
	p.b[3] = 200;		/* total length beyond the wire length */
	assert_int_equal(pkt_parse(&v, p.b, p.len, p.len), PKT_MALFORMED);
}

static void test_ipv6_extension_chain(void **state)
{
	struct builder p = { .len = 0 };
	uint8_t hop[8] = { 60, 0, 1, 4, 0, 0, 0, 0 };	/* hop-by-hop -> dest opts */
	uint8_t dst[16] = { 43, 1 };			/* dest opts (16 bytes) -> routing */
	uint8_t rt[8] = { 44, 0 };			/* routing -> fragment */
	uint8_t frag[8] = { IPPROTO_UDP, 0, 0, 1 };	/* first fragment, more follow */
	struct pkt_view v;

	(void)state;
	ipv6_header(&p, 0, 8 + 16 + 8 + 8 + 8 + 4);
	put(&p, hop, 8);
	put(&p, dst, 16);
	put(&p, rt, 8);
	put(&p, frag, 8);
	udp_header(&p, 6771, 6771, 4);
	put(&p, "BT-S", 4);
	assert_int_equal(pkt_parse(&v, p.b, p.len, p.len), PKT_OK);
	assert_int_equal(v.family, 6);
	assert_int_equal(v.l4proto, IPPROTO_UDP);
	assert_int_equal(v.sport, 6771);
	assert_true(v.flags & PKT_F_FIRST_FRAGMENT);
	assert_int_equal(v.payload_len, 4);
	assert_int_equal(v.saddr[15], 1);
	assert_int_equal(v.daddr[15], 2);

	frag[2] = 0x01;		/* offset 32: a non-first fragment */
	memcpy(p.b + 40 + 32, frag, 8);
	assert_int_equal(pkt_parse(&v, p.b, p.len, p.len), PKT_FRAGMENT);
}

static void test_ipv6_tcp_and_other(void **state)
{
	struct builder p = { .len = 0 };
	struct pkt_view v;

	(void)state;
	ipv6_header(&p, IPPROTO_TCP, 20 + 3);
	tcp_header(&p, 443, 40000, 5);
	put(&p, "abc", 3);
	assert_int_equal(pkt_parse(&v, p.b, p.len, p.len), PKT_OK);
	assert_int_equal(v.sport, 443);
	assert_int_equal(v.payload_len, 3);

	p.b[6] = 58;		/* ICMPv6 */
	assert_int_equal(pkt_parse(&v, p.b, p.len, p.len), PKT_OTHER_L4);

	p.b[6] = 0;		/* hop-by-hop whose length runs past the packet */
	p.b[40] = IPPROTO_TCP;
	p.b[41] = 200;
	assert_int_equal(pkt_parse(&v, p.b, p.len, p.len), PKT_MALFORMED);
}

/* Every prefix of a valid packet must parse without reading past it. */
static void test_truncation_never_overreads(void **state)
{
	struct builder p4 = { .len = 0 }, p6 = { .len = 0 };
	uint8_t hop[8] = { IPPROTO_TCP, 0 };
	struct pkt_view v;

	(void)state;
	ipv4_header(&p4, IPPROTO_TCP, 32 + 4, 8, 0);
	tcp_header(&p4, 1, 2, 8);
	put(&p4, "data", 4);
	ipv6_header(&p6, 0, 8 + 20 + 4);
	put(&p6, hop, 8);
	tcp_header(&p6, 1, 2, 5);
	put(&p6, "data", 4);

	for (size_t n = 0; n <= p4.len; n++) {
		/* A copy of exactly n bytes on the heap: ASan catches overreads. */
		uint8_t *c = malloc(n ? n : 1);
		enum pkt_status s;

		memcpy(c, p4.b, n);
		s = pkt_parse(&v, c, n, p4.len);
		if (n < 20 + 8 + 32)
			assert_int_equal(s, PKT_MALFORMED);
		else
			assert_int_equal(s, PKT_OK);
		if (s == PKT_OK)
			assert_true(v.payload + v.payload_len <= c + n);
		free(c);
	}
	for (size_t n = 0; n <= p6.len; n++) {
		uint8_t *c = malloc(n ? n : 1);
		enum pkt_status s;

		memcpy(c, p6.b, n);
		s = pkt_parse(&v, c, n, p6.len);
		assert_int_equal(s, n < 40 + 8 + 20 ? PKT_MALFORMED : PKT_OK);
		free(c);
	}
}

/* Random bytes with valid version nibbles: no crash, status always sane. */
/* The straight-line IPv4 path must give exactly what the general path
 * gives, for every total length, capture length, wire length, transport
 * and TCP header length around the boundaries (the view has no padding:
 * compared whole). */
static void test_plain_ipv4_path_matches_general(void **state)
{
	static const uint8_t doffs[] = { 0, 4, 5, 6, 15 };
	uint8_t pkt[128];
	size_t total, cap, w, d;
	int proto;

	(void)state;
	for (size_t i = 0; i < sizeof(pkt); i++)
		pkt[i] = (uint8_t)(i * 37 + 11);
	for (proto = 0; proto < 2; proto++)
		for (d = 0; d < sizeof(doffs); d++)
			for (total = 0; total <= 90; total++)
				for (cap = 1; cap <= 90; cap++)
					for (w = 0; w < 2; w++) {
						struct pkt_view a, b;
						enum pkt_status sa, sb;
						size_t wire = w ? cap + 1000 : cap;

						pkt[0] = 0x45;
						pkt[2] = (uint8_t)(total >> 8);
						pkt[3] = (uint8_t)total;
						pkt[6] = 0x40;	/* DF only */
						pkt[7] = 0;
						pkt[9] = proto ? IPPROTO_UDP : IPPROTO_TCP;
						pkt[32] = (uint8_t)(doffs[d] << 4);
						memset(&a, 0xa5, sizeof(a));
						sa = pkt_parse(&a, pkt, cap, wire);
						sb = parse_general(&b, pkt, cap, wire);
						assert_int_equal(sa, sb);
						if (sa == PKT_OK) {
							assert_memory_equal(&a, &b, sizeof(a));
							assert_true(a.payload_len <= a.payload_wire_len);
							assert_true(a.payload + a.payload_len <= pkt + cap);
						}
					}
}

static void test_random_input(void **state)
{
	uint8_t buf[128];
	uint32_t x = 2463534242u;
	struct pkt_view v;

	(void)state;
	for (int round = 0; round < 200000; round++) {
		size_t n = (size_t)(x % sizeof(buf));

		for (size_t i = 0; i < sizeof(buf); i++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			buf[i] = (uint8_t)x;
		}
		buf[0] = (uint8_t)((round & 1 ? 0x40 : 0x60) | (buf[0] & 0x0f));
		switch (pkt_parse(&v, buf, n, n + (x & 0xff))) {
		case PKT_OK:
			assert_true(v.payload >= buf && v.payload + v.payload_len <= buf + n);
			assert_true(v.payload_wire_len >= v.payload_len);
			break;
		case PKT_OTHER_L4:
		case PKT_FRAGMENT:
		case PKT_MALFORMED:
			break;
		default:
			fail_msg("unexpected status");
		}
	}
	assert_string_equal(pkt_status_name(PKT_MALFORMED), "malformed");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv4_tcp),
		cmocka_unit_test(test_ipv4_udp_cut_capture),
		cmocka_unit_test(test_ipv4_fragments),
		cmocka_unit_test(test_ipv4_other_and_malformed),
		cmocka_unit_test(test_ipv6_extension_chain),
		cmocka_unit_test(test_ipv6_tcp_and_other),
		cmocka_unit_test(test_truncation_never_overreads),
		cmocka_unit_test(test_plain_ipv4_path_matches_general),
		cmocka_unit_test(test_random_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
