/* test_dpi_mse.c - unit tests of the MSE/PE heuristic (src/dpi/mse.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <setjmp.h>
#include <cmocka.h>

#include "../../src/dpi/mse.c"
#include "dpi_test.h"
#include "lookalikes.h"

/* The direction's nth payload packet; returns the detector's answer. */
static enum dpi_id feed_nth(struct dpi_flow *st, int dir, uint32_t nth, const uint8_t *d,
			    size_t len, int start_seen)
{
	struct pkt_view v;
	struct dpi_pkt p;

	test_view(&v, IPPROTO_TCP, 40000, 6881, d, len);
	test_pkt(&p, &v, dir, NULL);
	p.start_seen = start_seen;
	p.dir_payload_pkts = nth;
	return mse_check(st, &p);
}

/* A first payload: never blocks by itself. */
static void feed(struct dpi_flow *st, int dir, const uint8_t *d, size_t len, int start_seen)
{
	assert_int_equal(feed_nth(st, dir, 1, d, len, start_seen), DPI_NONE);
}

/* An MSE-shaped opening: initiator dir 0 (248 bytes), responder 252. */
static void open_exchange(struct dpi_flow *st)
{
	uint8_t a[248], b[252];

	la_fill(a, sizeof(a), 11);
	la_fill(b, sizeof(b), 12);
	memset(st, 0, sizeof(*st));
	feed(st, 0, a, sizeof(a), 1);
	feed(st, 1, b, sizeof(b), 1);
	assert_int_equal(st->mse.candidate, 1);
}

static void test_random_shape(void **state)
{
	uint8_t b[700];

	(void)state;
	la_fill(b, sizeof(b), 42);
	assert_int_equal(mse_looks_random(b, 96), 1);
	assert_int_equal(mse_looks_random(b, 96 + 512), 1);
	assert_int_equal(mse_looks_random(b, 95), 0);		/* shorter than a key */
	assert_int_equal(mse_looks_random(b, 96 + 513), 0);	/* more than max padding */
	memset(b, 'a', 200);
	assert_int_equal(mse_looks_random(b, 200), 0);		/* low diversity */
}

static void test_exchange(void **state)
{
	struct dpi_flow st;
	uint8_t a[200], b[150];

	(void)state;
	la_fill(a, sizeof(a), 1);
	la_fill(b, sizeof(b), 2);
	memset(&st, 0, sizeof(st));
	feed(&st, 0, a, sizeof(a), 1);
	assert_int_equal(st.mse.candidate, 0);
	feed(&st, 1, b, sizeof(b), 1);
	assert_int_equal(st.mse.candidate, 1);
	/* whoever speaks first is the MSE initiator (the capture may have
	 * begun at the SYN-ACK) */
	memset(&st, 0, sizeof(st));
	feed(&st, 1, b, sizeof(b), 1);
	feed(&st, 0, a, sizeof(a), 1);
	assert_int_equal(st.mse.candidate, 1);
	/* a server banner first is no MSE */
	memset(&st, 0, sizeof(st));
	memcpy(b, "SSH-2.0-x\r\n", 11);
	feed(&st, 1, b, sizeof(b), 1);
	feed(&st, 0, a, sizeof(a), 1);
	assert_int_equal(st.mse.candidate, 0);
	/* flows caught mid-stream are not judged */
	la_fill(b, sizeof(b), 2);
	memset(&st, 0, sizeof(st));
	feed(&st, 0, a, sizeof(a), 0);
	feed(&st, 1, b, sizeof(b), 0);
	assert_int_equal(st.mse.candidate, 0);
}

static void test_structured_lookalikes(void **state)
{
	struct dpi_flow st;
	int i;

	(void)state;
	lookalikes_init();
	for (i = 0; i < LA_COUNT; i++) {
		const struct lookalike *l = &lookalikes[i];

		if (l->l4 != 6)
			continue;
		memset(&st, 0, sizeof(st));
		feed(&st, 0, l->data, l->len, 1);
		feed(&st, 1, l->data, l->len, 1);
		/* only the encrypted SSH packet is random-shaped: it is the
		 * reason a candidate needs the endpoint cache to block */
		if (strcmp(l->name, "ssh-encrypted") == 0)
			assert_int_equal(st.mse.candidate, 1);
		else
			assert_int_equal(st.mse.candidate, 0);
	}
}

/* The lengths RC4 keeps after the key exchange confirm MSE (the segment
 * sizes of an aria2 -> transmission transfer with encryption required:
 * 248, 252, 66, 82, 68, ...). */
static void test_confirmed(void **state)
{
	struct dpi_flow st;
	uint8_t x[200];

	(void)state;
	la_fill(x, sizeof(x), 13);
	/* responder: VC, crypto_select, empty PadD, then its handshake */
	open_exchange(&st);
	assert_int_equal(feed_nth(&st, 0, 2, x, 66, 1), DPI_NONE);
	assert_int_equal(feed_nth(&st, 1, 2, x, 14 + 68, 1), DPI_MSE);
	/* initiator: hashes and fields, empty PadC, its handshake as IA */
	open_exchange(&st);
	assert_int_equal(feed_nth(&st, 0, 2, x, 56 + 68, 1), DPI_MSE);
	/* the handshake in a segment of its own, either side */
	open_exchange(&st);
	assert_int_equal(feed_nth(&st, 0, 2, x, 66, 1), DPI_NONE);
	assert_int_equal(feed_nth(&st, 1, 2, x, 14, 1), DPI_NONE);
	assert_int_equal(feed_nth(&st, 0, 3, x, 68, 1), DPI_MSE);
	open_exchange(&st);
	assert_int_equal(feed_nth(&st, 1, 3, x, 68, 1), DPI_MSE);
}

static void test_not_confirmed(void **state)
{
	struct dpi_flow st;
	uint8_t a[361], b[105], x[800];

	(void)state;
	la_fill(x, sizeof(x), 14);
	/* random opening, then lengths that carry no handshake (an
	 * obfuscated messenger: 361, 105, 370, 773, 249, 540) */
	la_fill(a, sizeof(a), 15);
	la_fill(b, sizeof(b), 16);
	memset(&st, 0, sizeof(st));
	feed(&st, 0, a, sizeof(a), 1);
	feed(&st, 1, b, sizeof(b), 1);
	assert_int_equal(feed_nth(&st, 0, 2, x, 370, 1), DPI_NONE);
	assert_int_equal(feed_nth(&st, 1, 2, x, 773, 1), DPI_NONE);
	assert_int_equal(feed_nth(&st, 0, 3, x, 249, 1), DPI_NONE);
	assert_int_equal(feed_nth(&st, 1, 3, x, 540, 1), DPI_NONE);
	/* a 68-byte segment after the confirmation window */
	assert_int_equal(feed_nth(&st, 0, 6, x, 68, 1), DPI_NONE);
	/* 82 from the initiator or 124 from the responder mean nothing */
	open_exchange(&st);
	assert_int_equal(feed_nth(&st, 0, 2, x, 82, 1), DPI_NONE);
	assert_int_equal(feed_nth(&st, 1, 2, x, 124, 1), DPI_NONE);
	/* handshake lengths without a key-exchange opening */
	memset(&st, 0, sizeof(st));
	memcpy(a, "GET / HTTP/1.1\r\n", 16);
	feed(&st, 0, a, sizeof(a), 1);
	feed(&st, 1, b, sizeof(b), 1);
	assert_int_equal(feed_nth(&st, 1, 2, x, 82, 1), DPI_NONE);
	assert_int_equal(feed_nth(&st, 0, 2, x, 68, 1), DPI_NONE);
	/* a binary header with zeroed small fields (a music service's hello:
	 * version 0x0004, 32-bit length) is no key */
	la_fill(a, sizeof(a), 17);
	memcpy(a, "\x00\x04\x00\x00\x01\x49", 6);
	memset(&st, 0, sizeof(st));
	feed(&st, 0, a, 329, 1);
	feed(&st, 1, b, sizeof(b), 1);
	assert_int_equal(st.mse.candidate, 0);
	assert_int_equal(feed_nth(&st, 0, 2, x, 68, 1), DPI_NONE);
}


/* A fake endpoint cache for p->known: knows one endpoint, counts the
 * questions and keeps the last one. */
struct known_cache {
	uint8_t addr[16];
	uint16_t port;
	int asked;
	uint8_t last_addr[16];
	uint16_t last_port;
};

static int fake_known(void *ctx, int family, const uint8_t *addr, uint16_t port)
{
	struct known_cache *c = ctx;

	assert_int_equal(family, 4);
	c->asked++;
	memcpy(c->last_addr, addr, 16);
	c->last_port = port;
	return memcmp(addr, c->addr, 16) == 0 && port == c->port;
}

/* A packet of the exchange open_exchange set up (10.0.0.1:40000 the
 * initiator, direction 0): dir 1 comes from 10.0.0.2:6881. */
static enum dpi_id ask_known(const struct dpi_flow *st, int dir, struct known_cache *c)
{
	static const uint8_t x[100];
	struct pkt_view v;
	struct dpi_pkt p;

	test_view(&v, IPPROTO_TCP, 40000, 6881, x, sizeof(x));
	if (dir) {
		uint8_t t[16];

		memcpy(t, v.saddr, 16);
		memcpy(v.saddr, v.daddr, 16);
		memcpy(v.daddr, t, 16);
		v.sport = 6881;
		v.dport = 40000;
	}
	test_pkt(&p, &v, dir, NULL);
	p.start_seen = 1;
	p.dir_payload_pkts = 2;
	p.known = c ? fake_known : NULL;
	p.learn_ctx = c;
	return mse_known_responder(st, &p);
}

static void test_known_responder(void **state)
{
	struct dpi_flow st;
	struct known_cache c;
	uint8_t a[200];

	(void)state;
	memset(&c, 0, sizeof(c));
	c.addr[0] = 10;
	c.addr[3] = 2;
	c.port = 6881;
	/* the responder, 10.0.0.2:6881, is known: asked about from either
	 * direction's packet */
	open_exchange(&st);
	assert_int_equal(ask_known(&st, 0, &c), DPI_MSE);
	assert_int_equal(c.last_port, 6881);
	assert_int_equal(ask_known(&st, 1, &c), DPI_MSE);
	assert_int_equal(c.last_port, 6881);
	assert_int_equal(c.last_addr[3], 2);
	/* no callback: nothing is known */
	assert_int_equal(ask_known(&st, 0, NULL), DPI_NONE);
	/* only the answering side counts: the initiator known is nothing */
	c.addr[3] = 1;
	c.port = 40000;
	assert_int_equal(ask_known(&st, 0, &c), DPI_NONE);
	assert_int_equal(ask_known(&st, 1, &c), DPI_NONE);
	/* the initiator spoke from direction 1: 10.0.0.1:40000 answered */
	la_fill(a, sizeof(a), 11);
	memset(&st, 0, sizeof(st));
	feed(&st, 1, a, sizeof(a), 1);
	la_fill(a, sizeof(a), 12);
	feed(&st, 0, a, sizeof(a), 1);
	assert_int_equal(st.mse.candidate, 1);
	assert_int_equal(ask_known(&st, 0, &c), DPI_MSE);
	assert_int_equal(ask_known(&st, 1, &c), DPI_MSE);
	/* no candidate: the cache is not even asked */
	c.asked = 0;
	memset(&st, 0, sizeof(st));
	assert_int_equal(ask_known(&st, 0, &c), DPI_NONE);
	assert_int_equal(c.asked, 0);
}


/* Mid-stream: one segment of len bytes (random content from seed) in
 * direction dir, the protected side being direction 0, between ports
 * cport (dir 0) and sport. */
static enum dpi_id mid(struct dpi_flow *st, int dir, size_t len, unsigned seed,
		       uint16_t cport, uint16_t sport)
{
	static uint8_t d[4096];
	struct pkt_view v;
	struct dpi_pkt p;

	la_fill(d, len, seed);
	test_view(&v, IPPROTO_TCP, dir ? sport : cport, dir ? cport : sport, d, len);
	test_pkt(&p, &v, dir, NULL);
	p.start_seen = 0;
	p.from_protected = dir == 0;
	p.to_protected = dir == 1;
	return mse_midstream_check(st, &p);
}

/* Mid-stream: a segment of the protected side (direction 0) with these
 * bytes, between ports 40141 and 51401. */
static enum dpi_id mid_bytes(struct dpi_flow *st, const uint8_t *b, size_t len)
{
	struct pkt_view v;
	struct dpi_pkt p;

	test_view(&v, IPPROTO_TCP, 40141, 51401, b, len);
	test_pkt(&p, &v, 0, NULL);
	p.start_seen = 0;
	p.from_protected = 1;
	p.to_protected = 0;
	return mse_midstream_check(st, &p);
}

/* A downloading client's encrypted requests (17 k bytes, 17 k + 9 with a
 * "have") while the peer sends bulk data: the fifth request segment
 * settles it. */
static void test_midstream_requests(void **state)
{
	static const size_t req[] = { 102, 136, 68, 17, 366, 34, 68 };
	struct dpi_flow st;
	unsigned i;

	(void)state;
	memset(&st, 0, sizeof(st));
	assert_int_equal(mid(&st, 1, 2896, 1, 40141, 51401), DPI_NONE);
	for (i = 0; i < 4; i++)
		assert_int_equal(mid(&st, 0, req[i], 10 + i, 40141, 51401), DPI_NONE);
	assert_int_equal(mid(&st, 0, req[4], 20, 40141, 51401), DPI_MSE);
	/* RC4 output that looks a little like text or a header still counts:
	 * 12 printable bytes of 16, two zero bytes of eight (segments of a
	 * real client's encrypted requests) */
	memset(&st, 0, sizeof(st));
	assert_int_equal(mid(&st, 1, 2896, 1, 40141, 51401), DPI_NONE);
	assert_int_equal(mid(&st, 0, 17, 50, 40141, 51401), DPI_NONE);
	assert_int_equal(mid_bytes(&st, (const uint8_t *)"\x55\x27\x5b\x3f\x0e\x46\xab\x2c"
				   "\x74\x5c\x39\x4c\x0f\x90\x60\x22\x05", 17), DPI_NONE);
	assert_int_equal(mid(&st, 0, 68, 51, 40141, 51401), DPI_NONE);
	assert_int_equal(mid_bytes(&st, (const uint8_t *)"\x00\x6a\x90\x00\x0c\xfc\xab\xf1"
				   "\x61\x4d\x3b\x6d\x54\x0a\xf1\x59\xbf", 17), DPI_NONE);
	assert_int_equal(mid(&st, 0, 17, 52, 40141, 51401), DPI_MSE);
	/* a download paced by its peer: one request (17 bytes) a segment */
	memset(&st, 0, sizeof(st));
	assert_int_equal(mid(&st, 1, 2896, 1, 40141, 51401), DPI_NONE);
	for (i = 0; i < 4; i++)
		assert_int_equal(mid(&st, 0, 17, 30 + i, 40141, 51401), DPI_NONE);
	assert_int_equal(mid(&st, 0, 17, 40, 40141, 51401), DPI_MSE);
}

static void test_midstream_not_requests(void **state)
{
	static const size_t ssh[] = { 36, 44, 52, 60, 36, 44, 52, 36, 76, 84 };
	struct dpi_flow st;
	unsigned i;
	uint8_t text[68];
	struct pkt_view v;
	struct dpi_pkt p;

	(void)state;
	/* no bulk data from the other side */
	memset(&st, 0, sizeof(st));
	for (i = 0; i < 10; i++)
		assert_int_equal(mid(&st, 0, 17 * (1 + i % 3), i, 40141, 51401), DPI_NONE);
	/* one length only (a fixed-size message, SSH keystrokes), other
	 * than a single request's */
	memset(&st, 0, sizeof(st));
	assert_int_equal(mid(&st, 1, 2896, 1, 40141, 51401), DPI_NONE);
	for (i = 0; i < 10; i++)
		assert_int_equal(mid(&st, 0, 68, i, 40141, 51401), DPI_NONE);
	memset(&st, 0, sizeof(st));
	assert_int_equal(mid(&st, 1, 2896, 1, 40141, 51401), DPI_NONE);
	for (i = 0; i < 10; i++)
		assert_int_equal(mid(&st, 0, 26, i, 40141, 51401), DPI_NONE);
	/* single requests with no bulk from the other side */
	memset(&st, 0, sizeof(st));
	assert_int_equal(mid(&st, 1, 900, 1, 40141, 51401), DPI_NONE);
	for (i = 0; i < 10; i++)
		assert_int_equal(mid(&st, 0, 17, i, 40141, 51401), DPI_NONE);
	/* SSH's lengths, 20 + 8 k */
	memset(&st, 0, sizeof(st));
	assert_int_equal(mid(&st, 1, 2896, 1, 40141, 2222), DPI_NONE);
	for (i = 0; i < 10; i++)
		assert_int_equal(mid(&st, 0, ssh[i], i, 40141, 2222), DPI_NONE);
	/* a run broken by one other length starts again */
	memset(&st, 0, sizeof(st));
	assert_int_equal(mid(&st, 1, 2896, 1, 40141, 51401), DPI_NONE);
	for (i = 0; i < 4; i++)
		assert_int_equal(mid(&st, 0, 17 * (1 + i), i, 40141, 51401), DPI_NONE);
	assert_int_equal(mid(&st, 0, 100, 9, 40141, 51401), DPI_NONE);
	for (i = 0; i < 4; i++)
		assert_int_equal(mid(&st, 0, 17 * (1 + i), i, 40141, 51401), DPI_NONE);
	assert_int_equal(mid(&st, 0, 85, 5, 40141, 51401), DPI_MSE);
	/* a privileged port on either end */
	memset(&st, 0, sizeof(st));
	assert_int_equal(mid(&st, 1, 2896, 1, 40141, 443), DPI_NONE);
	for (i = 0; i < 10; i++)
		assert_int_equal(mid(&st, 0, 17 * (1 + i % 3), i, 40141, 443), DPI_NONE);
	/* the requests from the other side are no evidence */
	memset(&st, 0, sizeof(st));
	assert_int_equal(mid(&st, 0, 2896, 1, 40141, 51401), DPI_NONE);
	for (i = 0; i < 10; i++)
		assert_int_equal(mid(&st, 1, 17 * (1 + i % 3), i, 40141, 51401), DPI_NONE);
	/* a 32-bit length in front (two leading zeros) is a plain header */
	memset(&st, 0, sizeof(st));
	assert_int_equal(mid(&st, 1, 2896, 1, 40141, 51401), DPI_NONE);
	for (i = 0; i < 10; i++) {
		uint8_t h[68];

		la_fill(h, sizeof(h), 70 + i);
		h[0] = 0;
		h[1] = 0;
		assert_int_equal(mid_bytes(&st, h, i & 1 ? 51 : 68), DPI_NONE);
	}
	/* text, and plain binary headers, are not RC4 output */
	memset(&st, 0, sizeof(st));
	assert_int_equal(mid(&st, 1, 2896, 1, 40141, 51401), DPI_NONE);
	memset(text, 'x', sizeof(text));
	for (i = 0; i < 10; i++) {
		test_view(&v, IPPROTO_TCP, 40141, 51401, text, i & 1 ? 51 : 68);
		test_pkt(&p, &v, 0, NULL);
		p.from_protected = 1;
		assert_int_equal(mse_midstream_check(&st, &p), DPI_NONE);
	}
	memset(text, 0, sizeof(text));
	text[3] = 13;
	text[4] = 6;
	for (i = 0; i < 10; i++) {
		test_view(&v, IPPROTO_TCP, 40141, 51401, text, i & 1 ? 51 : 68);
		test_pkt(&p, &v, 0, NULL);
		p.from_protected = 1;
		assert_int_equal(mse_midstream_check(&st, &p), DPI_NONE);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_shape),
		cmocka_unit_test(test_exchange),
		cmocka_unit_test(test_structured_lookalikes),
		cmocka_unit_test(test_confirmed),
		cmocka_unit_test(test_not_confirmed),
		cmocka_unit_test(test_known_responder),
		cmocka_unit_test(test_midstream_requests),
		cmocka_unit_test(test_midstream_not_requests),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
