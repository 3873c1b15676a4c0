/* test_dpi_lsd.c - unit tests of the local service discovery detector
 * (src/dpi/lsd.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <setjmp.h>
#include <cmocka.h>

#include "../../src/dpi/lsd.c"
#include "dpi_test.h"
#include "lookalikes.h"

static enum dpi_id check(const char *s)
{
	return lsd_check((const uint8_t *)s, strlen(s));
}

static void test_announce(void **state)
{
	(void)state;
	assert_int_equal(check("BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 6881\r\n"
			       "Infohash: 0123456789abcdef0123456789ABCDEF01234567\r\n\r\n\r\n"), DPI_LSD);
	/* IPv6 group, cookie, two info hashes, header case */
	assert_int_equal(check("BT-SEARCH * HTTP/1.1\r\nHost: [ff15::efc0:988f]:6771\r\nport: 51413\r\n"
			       "infohash: 0123456789abcdef0123456789abcdef01234567\r\n"
			       "Infohash: 1123456789abcdef0123456789abcdef01234567\r\n"
			       "cookie: abc\r\n\r\n\r\n"), DPI_LSD);
}

static void test_negatives(void **state)
{
	int i;

	(void)state;
	/* SSDP, the other multicast HTTP-over-UDP */
	assert_int_equal(check("M-SEARCH * HTTP/1.1\r\nHost: 239.255.255.250:1900\r\n"
			       "Man: \"ssdp:discover\"\r\nMX: 3\r\nST: ssdp:all\r\n\r\n"), DPI_NONE);
	/* no Infohash, short Infohash, non-hex, no Port */
	assert_int_equal(check("BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 6881\r\n\r\n"),
			 DPI_NONE);
	assert_int_equal(check("BT-SEARCH * HTTP/1.1\r\nPort: 6881\r\nInfohash: 0123\r\n\r\n"), DPI_NONE);
	assert_int_equal(check("BT-SEARCH * HTTP/1.1\r\nPort: 6881\r\n"
			       "Infohash: 0123456789abcdef0123456789abcdef0123456z\r\n\r\n"), DPI_NONE);
	assert_int_equal(check("BT-SEARCH * HTTP/1.1\r\n"
			       "Infohash: 0123456789abcdef0123456789abcdef01234567\r\n\r\n"), DPI_NONE);
	assert_int_equal(check("BT-SEARCH"), DPI_NONE);
	lookalikes_init();
	for (i = 0; i < LA_COUNT; i++)
		assert_int_equal(lsd_check(lookalikes[i].data, lookalikes[i].len), DPI_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_announce),
		cmocka_unit_test(test_negatives),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
