/* test_dpi_udp_tracker.c - unit tests of the UDP tracker detector
 * (src/dpi/udp_tracker.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <setjmp.h>
#include <cmocka.h>

#include "../../src/dpi/udp_tracker.c"
#include "dpi_test.h"
#include "lookalikes.h"

static void put32(uint8_t *b, uint32_t v)
{
	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
}

static enum dpi_id feed(struct dpi_flow *st, int dir, const uint8_t *d, size_t len,
			struct learned *l)
{
	struct pkt_view v;
	struct dpi_pkt p;

	test_view(&v, IPPROTO_UDP, 40000, 1337, d, len);
	test_pkt(&p, &v, dir, l);
	p.from_protected = dir == 0;	/* the client behind the router asks */
	return udp_tracker_check(st, &p);
}

/* On a blocked flow: one datagram of direction dir (0: the protected
 * client, 1: the tracker). */
static void learn_on(struct dpi_flow *st, int dir, const uint8_t *d, size_t len,
		     struct learned *l)
{
	struct pkt_view v;
	struct dpi_pkt p;

	test_view(&v, IPPROTO_UDP, dir ? 1337 : 40000, dir ? 40000 : 1337, d, len);
	test_pkt(&p, &v, dir, l);
	p.from_protected = dir == 0;
	udp_tracker_learn(st, &p);
}

static void test_connect(void **state)
{
	struct dpi_flow st;
	uint8_t b[16];

	(void)state;
	memset(&st, 0, sizeof(st));
	memcpy(b, magic, 8);
	put32(b + 8, 0);
	put32(b + 12, 0xdeadbeef);
	assert_int_equal(feed(&st, 0, b, 16, NULL), DPI_UDP_TRACKER);
	assert_int_equal(st.udptrk.tid, 0xdeadbeef);
	assert_int_equal(st.udptrk.req_dir, 1);
	/* a connect from outside fires but arms no answer */
	memset(&st, 0, sizeof(st));
	assert_int_equal(feed(&st, 1, b, 16, NULL), DPI_UDP_TRACKER);
	assert_int_equal(st.udptrk.req_dir, 0);
	/* action 1 with the magic is not a connect */
	put32(b + 8, 1);
	assert_int_equal(udp_tracker_is_connect(b, 16), 0);
	/* a wrong magic */
	memcpy(b, magic, 8);
	put32(b + 8, 0);
	b[7] ^= 1;
	assert_int_equal(udp_tracker_is_connect(b, 16), 0);
	/* too short */
	memcpy(b, magic, 8);
	assert_int_equal(udp_tracker_is_connect(b, 15), 0);
}

static void test_announce_after_connect_reply(void **state)
{
	struct dpi_flow st;
	uint8_t b[98];

	(void)state;
	memset(&st, 0, sizeof(st));
	/* the capture starts at the tracker's connect reply */
	put32(b, 0);
	put32(b + 4, 77);
	memcpy(b + 8, "CONNIDXX", 8);
	assert_int_equal(feed(&st, 1, b, 16, NULL), DPI_NONE);
	/* an announce with another connection id: nothing */
	memset(b, 0, sizeof(b));
	memcpy(b, "OTHERIDX", 8);
	put32(b + 8, 1);
	assert_int_equal(feed(&st, 0, b, 98, NULL), DPI_NONE);
	/* with the id handed out: the tracker protocol */
	memcpy(b, "CONNIDXX", 8);
	assert_int_equal(feed(&st, 0, b, 98, NULL), DPI_UDP_TRACKER);
	/* a scrape of two hashes with it too */
	put32(b + 8, 2);
	assert_int_equal(feed(&st, 0, b, 16 + 40, NULL), DPI_UDP_TRACKER);
	/* but not from the side that handed it out */
	put32(b + 8, 1);
	assert_int_equal(feed(&st, 1, b, 98, NULL), DPI_NONE);
}

/* An announce reply with transaction id tid naming 10.0.0.7:6881 and
 * 10.0.0.8:51413 (32 bytes). */
static void announce_reply(uint8_t *b, uint32_t tid)
{
	put32(b, 1);
	put32(b + 4, tid);
	put32(b + 8, 1800);
	put32(b + 12, 3);
	put32(b + 16, 9);
	memcpy(b + 20, "\x0a\x00\x00\x07\x1a\xe1", 6);
	memcpy(b + 26, "\x0a\x00\x00\x08\xc8\xd5", 6);
}

/* An announce request of the client with transaction id tid (98 bytes). */
static void announce_request(uint8_t *b, uint32_t tid)
{
	memset(b, 0, 98);
	memcpy(b, "CONNIDXX", 8);
	put32(b + 8, 1);
	put32(b + 12, tid);
}

static void test_announce_reply_learns(void **state)
{
	struct dpi_flow st;
	struct learned l;
	uint8_t req[98], b[32];

	(void)state;
	memset(&st, 0, sizeof(st));
	announce_request(req, 5);
	announce_reply(b, 5);
	learn_on(&st, 0, req, sizeof(req), &l);
	learn_on(&st, 1, b, 32, &l);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.port[0], 6881);
	assert_int_equal(l.port[1], 51413);
	assert_int_equal(st.proof, 2);
	/* one answer per request */
	learn_on(&st, 1, b, 32, &l);
	assert_int_equal(l.n, 0);
	/* a length that is no peer list */
	learn_on(&st, 0, req, sizeof(req), &l);
	learn_on(&st, 1, b, 31, &l);
	assert_int_equal(l.n, 0);
}

static void test_unsolicited_reply_teaches_nothing(void **state)
{
	struct dpi_flow st;
	struct learned l;
	uint8_t req[98], b[32];

	(void)state;
	/* an answer to no request */
	memset(&st, 0, sizeof(st));
	announce_reply(b, 5);
	learn_on(&st, 1, b, 32, &l);
	assert_int_equal(l.n, 0);
	assert_int_equal(st.proof, 0);
	/* an answer carrying another transaction id */
	announce_request(req, 6);
	learn_on(&st, 0, req, sizeof(req), &l);
	learn_on(&st, 1, b, 32, &l);
	assert_int_equal(l.n, 0);
	/* the "answer" sent by the side that asked */
	announce_request(req, 5);
	learn_on(&st, 0, req, sizeof(req), &l);
	learn_on(&st, 0, b, 32, &l);
	assert_int_equal(l.n, 0);
}

static void test_lookalikes(void **state)
{
	struct dpi_flow st;
	int i, k;

	(void)state;
	lookalikes_init();
	for (i = 0; i < LA_COUNT; i++) {
		memset(&st, 0, sizeof(st));
		for (k = 0; k < 6; k++)
			assert_int_equal(feed(&st, k & 1, lookalikes[i].data, lookalikes[i].len, NULL),
					 DPI_NONE);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connect),
		cmocka_unit_test(test_announce_after_connect_reply),
		cmocka_unit_test(test_announce_reply_learns),
		cmocka_unit_test(test_unsolicited_reply_teaches_nothing),
		cmocka_unit_test(test_lookalikes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
