/* test_dpi_socks5.c - unit tests of the SOCKS5 UDP unwrapping
 * (src/dpi/socks5.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <setjmp.h>
#include <cmocka.h>

#include "../../src/dpi/socks5.c"
#include "dpi_test.h"
#include "lookalikes.h"

static size_t wrap(uint8_t *b, int atyp, const void *inner, size_t il)
{
	size_t off = 0;

	b[off++] = 0;
	b[off++] = 0;
	b[off++] = 0;
	b[off++] = (uint8_t)atyp;
	if (atyp == 1) {
		memcpy(b + off, "\x01\x02\x03\x04", 4);
		off += 4;
	} else if (atyp == 4) {
		memset(b + off, 0x20, 16);
		off += 16;
	} else {
		b[off++] = 11;
		memcpy(b + off, "example.org", 11);
		off += 11;
	}
	b[off++] = 0x1a;
	b[off++] = 0xe1;
	memcpy(b + off, inner, il);
	return off + il;
}

static enum dpi_id check(const uint8_t *d, size_t len)
{
	struct pkt_view v;
	struct dpi_pkt p;

	test_view(&v, IPPROTO_UDP, 40000, 1080, d, len);
	test_pkt(&p, &v, 0, NULL);
	return socks5_check(&p);
}

static void test_unwrap(void **state)
{
	uint8_t b[100];
	const uint8_t *in;
	size_t len, il;

	(void)state;
	len = wrap(b, 1, "hello", 5);
	assert_int_equal(socks5_unwrap(b, len, &in, &il), 1);
	assert_int_equal(il, 5);
	assert_memory_equal(in, "hello", 5);
	len = wrap(b, 4, "hello", 5);
	assert_int_equal(socks5_unwrap(b, len, &in, &il), 1);
	assert_int_equal(il, 5);
	len = wrap(b, 3, "hello", 5);
	assert_int_equal(socks5_unwrap(b, len, &in, &il), 1);
	assert_int_equal(il, 5);
	/* fragment number set, bad address type, nothing inside */
	len = wrap(b, 1, "hello", 5);
	b[2] = 1;
	assert_int_equal(socks5_unwrap(b, len, &in, &il), 0);
	b[2] = 0;
	b[3] = 2;
	assert_int_equal(socks5_unwrap(b, len, &in, &il), 0);
	len = wrap(b, 1, "", 0);
	assert_int_equal(socks5_unwrap(b, len, &in, &il), 0);
}

static void test_inner_bittorrent(void **state)
{
	const char *dht = "d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe";
	static const uint8_t connect[16] = { 0, 0, 4, 0x17, 0x27, 0x10, 0x19, 0x80, 0, 0, 0, 0, 1, 2, 3, 4 };
	uint8_t b[200];
	size_t len;

	(void)state;
	len = wrap(b, 1, dht, strlen(dht));
	assert_int_equal(check(b, len), DPI_SOCKS5);
	len = wrap(b, 3, connect, sizeof(connect));
	assert_int_equal(check(b, len), DPI_SOCKS5);
	/* the DHT message without its SOCKS header is not this detector's */
	assert_int_equal(check((const uint8_t *)dht, strlen(dht)), DPI_NONE);
}

static void test_inner_lookalikes(void **state)
{
	uint8_t b[400];
	size_t len;
	int i;

	(void)state;
	lookalikes_init();
	for (i = 0; i < LA_COUNT; i++) {
		len = wrap(b, 1, lookalikes[i].data, lookalikes[i].len);
		assert_int_equal(check(b, len), DPI_NONE);
		assert_int_equal(check(lookalikes[i].data, lookalikes[i].len), DPI_NONE);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unwrap),
		cmocka_unit_test(test_inner_bittorrent),
		cmocka_unit_test(test_inner_lookalikes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
