/* test_dpi_utp.c - unit tests of the uTP detector (src/dpi/utp.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <setjmp.h>
#include <cmocka.h>

#include "../../src/dpi/utp.c"
#include "dpi_test.h"
#include "lookalikes.h"

static size_t utp(uint8_t *b, int type, uint16_t conn, uint32_t ts, uint32_t ts_diff,
		  uint16_t seq, uint16_t ack)
{
	b[0] = (uint8_t)(type << 4 | 1);
	b[1] = 0;
	b[2] = (uint8_t)(conn >> 8);
	b[3] = (uint8_t)conn;
	b[4] = (uint8_t)(ts >> 24);
	b[5] = (uint8_t)(ts >> 16);
	b[6] = (uint8_t)(ts >> 8);
	b[7] = (uint8_t)ts;
	b[8] = (uint8_t)(ts_diff >> 24);
	b[9] = (uint8_t)(ts_diff >> 16);
	b[10] = (uint8_t)(ts_diff >> 8);
	b[11] = (uint8_t)ts_diff;
	b[12] = 0;			/* window 1 MiB */
	b[13] = 0x10;
	b[14] = 0;
	b[15] = 0;
	b[16] = (uint8_t)(seq >> 8);
	b[17] = (uint8_t)seq;
	b[18] = (uint8_t)(ack >> 8);
	b[19] = (uint8_t)ack;
	return 20;
}

static enum dpi_id feed(struct dpi_flow *st, int dir, const uint8_t *d, size_t len, uint64_t now)
{
	struct pkt_view v;
	struct dpi_pkt p;

	test_view(&v, IPPROTO_UDP, 40000, 6881, d, len);
	test_pkt(&p, &v, dir, NULL);
	p.now_ns = now;
	return utp_check(st, &p);
}

static void test_parse(void **state)
{
	uint8_t b[64];
	struct utp_hdr h;

	(void)state;
	utp(b, UTP_SYN, 0x1234, 1, 0, 77, 0);
	assert_int_equal(utp_parse(b, 20, &h), 1);
	assert_int_equal(h.type, UTP_SYN);
	assert_int_equal(h.conn_id, 0x1234);
	assert_int_equal(h.seq, 77);
	/* a selective ack extension of 4 bytes */
	utp(b, UTP_STATE, 1, 1, 1, 1, 1);
	b[1] = 1;
	b[20] = 0;
	b[21] = 4;
	assert_int_equal(utp_parse(b, 26, &h), 1);
	assert_int_equal(h.hdr_len, 26);
	/* extension longer than the packet */
	b[21] = 8;
	assert_int_equal(utp_parse(b, 26, &h), 0);
	/* version 2, type 5, short */
	utp(b, UTP_SYN, 1, 1, 0, 1, 0);
	b[0] = 0x42;
	assert_int_equal(utp_parse(b, 20, &h), 0);
	b[0] = 0x51;
	assert_int_equal(utp_parse(b, 20, &h), 0);
	b[0] = 0x41;
	assert_int_equal(utp_parse(b, 19, &h), 0);
	/* a SYN never carries payload */
	assert_int_equal(utp_parse(b, 30, &h), 0);
}

static void test_syn_state(void **state)
{
	struct dpi_flow st;
	uint8_t b[20];

	(void)state;
	memset(&st, 0, sizeof(st));
	utp(b, UTP_SYN, 0x5000, 1000, 0, 0x0100, 0);
	assert_int_equal(feed(&st, 0, b, 20, 1), DPI_NONE);
	/* a STATE answering another connection: nothing */
	utp(b, UTP_STATE, 0x5001, 2000, 1000, 0x9000, 0x0100);
	assert_int_equal(feed(&st, 1, b, 20, 2), DPI_NONE);
	/* the STATE carrying the SYN's id and acking its sequence */
	utp(b, UTP_STATE, 0x5000, 2000, 1000, 0x9000, 0x0100);
	assert_int_equal(feed(&st, 1, b, 20, 3), DPI_UTP);
}

static void test_midstream_data(void **state)
{
	struct dpi_flow st;
	uint8_t b[200];
	enum dpi_id r = DPI_NONE;
	int i, fed = 0;

	(void)state;
	memset(&st, 0, sizeof(st));
	/* data one way (ids 0x7001), acks the other (0x7000) */
	for (i = 0; i < 3 && r == DPI_NONE; i++) {
		utp(b, UTP_DATA, 0x7001, 100 + (uint32_t)i, 5, (uint16_t)(10 + i), 500);
		la_fill(b + 20, 150, (uint32_t)i);
		r = feed(&st, 0, b, 170, (uint64_t)i);
		fed++;
		if (r != DPI_NONE)
			break;
		utp(b, UTP_STATE, 0x7000, 200 + (uint32_t)i, 5, 500, (uint16_t)(10 + i));
		r = feed(&st, 1, b, 20, (uint64_t)i);
		fed++;
	}
	assert_int_equal(r, DPI_UTP);
	assert_int_equal(fed, 4);	/* two packets per side */
}

static void test_midstream_wrong_ids(void **state)
{
	struct dpi_flow st;
	uint8_t b[20];
	int i;

	(void)state;
	memset(&st, 0, sizeof(st));
	/* ids five apart: two unrelated streams, never uTP */
	for (i = 0; i < 6; i++) {
		utp(b, UTP_STATE, 0x7005, 1, 1, (uint16_t)i, 300);
		assert_int_equal(feed(&st, 0, b, 20, 0), DPI_NONE);
		utp(b, UTP_STATE, 0x7000, 1, 1, 300, (uint16_t)i);
		assert_int_equal(feed(&st, 1, b, 20, 0), DPI_NONE);
	}
	/* acks far from the other side's sequence */
	memset(&st, 0, sizeof(st));
	for (i = 0; i < 6; i++) {
		utp(b, UTP_STATE, 0x7001, 1, 1, (uint16_t)i, 30000);
		assert_int_equal(feed(&st, 0, b, 20, 0), DPI_NONE);
		utp(b, UTP_STATE, 0x7000, 1, 1, 300, 20000);
		assert_int_equal(feed(&st, 1, b, 20, 0), DPI_NONE);
	}
}

static void test_syn_retransmit_clock(void **state)
{
	struct dpi_flow st;
	uint8_t b[20];
	const uint64_t s = 1000000000ULL;

	(void)state;
	/* an unanswered SYN resent after 3 s whose clock advanced 3 s */
	memset(&st, 0, sizeof(st));
	utp(b, UTP_SYN, 0xca6b, 0x2123a540, 0, 0x496e, 0);
	assert_int_equal(feed(&st, 0, b, 20, 100 * s), DPI_NONE);
	utp(b, UTP_SYN, 0xca6b, 0x2123a540 + 3108813, 0, 0x496e, 0);
	assert_int_equal(feed(&st, 0, b, 20, 100 * s + 3108810000ULL), DPI_UTP);
	/* the same bytes resent with a clock that did not follow real time */
	memset(&st, 0, sizeof(st));
	utp(b, UTP_SYN, 0xca6b, 5000, 0, 0x496e, 0);
	assert_int_equal(feed(&st, 0, b, 20, 100 * s), DPI_NONE);
	utp(b, UTP_SYN, 0xca6b, 5000, 0, 0x496e, 0);
	assert_int_equal(feed(&st, 0, b, 20, 103 * s), DPI_NONE);
	utp(b, UTP_SYN, 0xca6b, 5000 + 900000, 0, 0x496e, 0);
	assert_int_equal(feed(&st, 0, b, 20, 106 * s), DPI_NONE);
}

static void test_handshake_inside_data(void **state)
{
	struct dpi_flow st;
	uint8_t b[100];

	(void)state;
	memset(&st, 0, sizeof(st));
	utp(b, UTP_DATA, 0x42, 1, 1, 1, 1);
	memcpy(b + 20, "\x13" "BitTorrent protocol", 20);
	memset(b + 40, 0, 48);
	assert_int_equal(feed(&st, 0, b, 88, 0), DPI_UTP);
}

static void test_lookalikes(void **state)
{
	struct dpi_flow st;
	int i, k;

	(void)state;
	lookalikes_init();
	/* each look-alike exchanged ten times both ways */
	for (i = 0; i < LA_COUNT; i++) {
		memset(&st, 0, sizeof(st));
		for (k = 0; k < 10; k++)
			assert_int_equal(feed(&st, k & 1, lookalikes[i].data, lookalikes[i].len,
					      (uint64_t)k * 1000000000ULL), DPI_NONE);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_syn_state),
		cmocka_unit_test(test_midstream_data),
		cmocka_unit_test(test_midstream_wrong_ids),
		cmocka_unit_test(test_syn_retransmit_clock),
		cmocka_unit_test(test_handshake_inside_data),
		cmocka_unit_test(test_lookalikes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
