/* test_dpi_registry.c - unit tests of the detector registry (src/dpi/dpi.c):
 * names, dispatch by transport, and the endpoint-learning filter. */
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <setjmp.h>
#include <cmocka.h>

#include "../../src/dpi/dpi.c"
#include "dpi_test.h"
#include "lookalikes.h"

static void test_names(void **state)
{
	int i, j;

	(void)state;
	assert_string_equal(dpi_name(DPI_NONE), "");
	assert_string_equal(dpi_name(DPI_BT_HANDSHAKE), "bt-handshake");
	assert_string_equal(dpi_name(DPI_COUNT), "");
	assert_ptr_equal(dpi_detector(DPI_COUNT), dpi_detector(DPI_NONE));
	assert_ptr_equal(dpi_detector((enum dpi_id)-1), dpi_detector(DPI_NONE));
	for (i = 1; i < DPI_COUNT; i++) {
		assert_ptr_equal(dpi_name((enum dpi_id)i), dpi_detector((enum dpi_id)i)->name);
		assert_non_null(dpi_name((enum dpi_id)i));
		assert_true(strlen(dpi_name((enum dpi_id)i)) > 0);
		for (j = 1; j < i; j++)
			assert_string_not_equal(dpi_name((enum dpi_id)i), dpi_name((enum dpi_id)j));
	}
}

static void test_learn_filter(void **state)
{
	struct pkt_view v;
	struct dpi_pkt p;
	struct learned l;

	(void)state;
	test_view(&v, IPPROTO_UDP, 1, 2, "", 0);
	test_pkt(&p, &v, 0, &l);
	dpi_learn(&p, 4, (const uint8_t *)"\x01\x02\x03\x04", 6881);
	dpi_learn(&p, 4, (const uint8_t *)"\x01\x02\x03\x04", 53);	/* privileged */
	dpi_learn(&p, 4, (const uint8_t *)"\x01\x02\x03\x04", 1023);	/* privileged */
	dpi_learn(&p, 4, (const uint8_t *)"\x01\x02\x03\x04", 0);	/* a bare host */
	dpi_learn(&p, 4, (const uint8_t *)"\xef\x00\x00\x01", 6881);	/* multicast */
	dpi_learn(&p, 4, (const uint8_t *)"\x00\x00\x00\x00", 6881);	/* unspecified */
	dpi_learn(&p, 6, (const uint8_t *)"\xff\x02\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 6881);
	assert_int_equal(l.n, 1);
	dpi_learn_compact(&p, (const uint8_t *)"\x01\x01\x01\x01\x1a\xe1\x02\x02\x02\x02\x1a\xe2", 12, 4);
	assert_int_equal(l.n, 3);
	assert_int_equal(l.port[2], 6882);
	p.learn = NULL;
	dpi_learn(&p, 4, (const uint8_t *)"\x01\x02\x03\x04", 6881);
	assert_int_equal(l.n, 3);
}

static enum dpi_id inspect(struct dpi_flow *st, int l4, int dir, const void *d, size_t len,
			   int head)
{
	struct pkt_view v;
	struct dpi_pkt p;

	test_view(&v, l4, 40000, 6881, d, len);
	test_pkt(&p, &v, dir, NULL);
	p.start_seen = 1;
	if (head) {
		p.stream = d;
		p.stream_len = (uint32_t)len;
		p.stream_grew = 1;
	}
	return dpi_inspect(st, &p);
}

static void test_dispatch(void **state)
{
	struct dpi_flow st;
	const char *dht = "d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe";
	const char *lsd = "BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 6881\r\n"
		"Infohash: 0123456789abcdef0123456789abcdef01234567\r\n\r\n\r\n";

	(void)state;
	memset(&st, 0, sizeof(st));
	assert_int_equal(inspect(&st, IPPROTO_TCP, 0, "\x13" "BitTorrent protocol", 20, 1),
			 DPI_BT_HANDSHAKE);
	/* without a head, the first packet is the head */
	assert_int_equal(inspect(&st, IPPROTO_TCP, 0, "\x13" "BitTorrent protocol", 20, 0),
			 DPI_BT_HANDSHAKE);
	assert_int_equal(inspect(&st, IPPROTO_UDP, 0, dht, strlen(dht), 0), DPI_DHT);
	assert_int_equal(inspect(&st, IPPROTO_UDP, 0, lsd, strlen(lsd), 0), DPI_LSD);
	/* the same bytes on the other transport mean nothing */
	assert_int_equal(inspect(&st, IPPROTO_TCP, 0, dht, strlen(dht), 1), DPI_NONE);
	assert_int_equal(inspect(&st, IPPROTO_UDP, 0, "\x13" "BitTorrent protocol", 20, 0), DPI_NONE);
	assert_int_equal(inspect(&st, 1 /* ICMP */, 0, dht, strlen(dht), 0), DPI_NONE);
}

/* Without a stream head, the clear-text tests read DPI_TEXT_WINDOW bytes
 * of a packet: a magnet link inside is found, one past it is not looked
 * for (a 64 KiB GSO packet would otherwise be searched whole). */
static void test_text_window_without_head(void **state)
{
	static const char magnet[] = "magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a";
	static char text[4 * DPI_TEXT_WINDOW];
	struct dpi_flow st;
	size_t at;

	(void)state;
	for (at = DPI_TEXT_WINDOW - sizeof(magnet) + 1; at <= DPI_TEXT_WINDOW; at += sizeof(magnet) - 1) {
		memset(text, 'm', sizeof(text));
		memcpy(text, "PRIVMSG #c :", 12);
		memcpy(text + at, magnet, sizeof(magnet) - 1);
		memset(&st, 0, sizeof(st));
		assert_int_equal(inspect(&st, IPPROTO_TCP, 0, text, sizeof(text), 0),
				 at + sizeof(magnet) - 1 <= DPI_TEXT_WINDOW ? DPI_MAGNET : DPI_NONE);
		/* a head holds what the stream prefix allows: searched whole */
		memset(&st, 0, sizeof(st));
		assert_int_equal(inspect(&st, IPPROTO_TCP, 0, text, sizeof(text), 1), DPI_MAGNET);
	}
}

static void test_lookalike_flows(void **state)
{
	struct dpi_flow st;
	int i, k;

	(void)state;
	lookalikes_init();
	for (i = 0; i < LA_COUNT; i++) {
		const struct lookalike *l = &lookalikes[i];

		memset(&st, 0, sizeof(st));
		for (k = 0; k < 8; k++)
			assert_int_equal(inspect(&st, l->l4, k & 1, l->data, l->len, k < 2), DPI_NONE);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_learn_filter),
		cmocka_unit_test(test_dispatch),
		cmocka_unit_test(test_text_window_without_head),
		cmocka_unit_test(test_lookalike_flows),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
