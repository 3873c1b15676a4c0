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

/* lsd_check over the first len bytes of s, twice: from a heap copy of
 * exactly len bytes (a sanitizer build reports any read past them), and
 * from a buffer where s goes on past len (a read past the packet then sees
 * the rest of s, e.g. a digit after "Port:", and changes the answer). */
static enum dpi_id check_cut(const char *s, size_t len)
{
	uint8_t *exact = malloc(len);
	enum dpi_id r, r_more;

	assert_non_null(exact);
	memcpy(exact, s, len);
	r = lsd_check(exact, len);
	free(exact);
	r_more = lsd_check((const uint8_t *)s, len);
	assert_int_equal(r, r_more);
	return r;
}

#define HEAD "BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\n"
#define IH "0123456789abcdef0123456789abcdef01234567"

/* A header whose value would start at the very end of the packet. */
static void test_header_at_end(void **state)
{
	static const char *const port_cut[] = {
		HEAD "Infohash: " IH "\r\nPort:6881\r\n",
		HEAD "Infohash: " IH "\r\nPort:   6881\r\n",
		HEAD "Infohash: " IH "\r\nPort: 6881\r\n",
	};
	static const char *const ih_cut[] = {
		HEAD "Port: 6881\r\nInfohash:" IH "\r\n",
		HEAD "Port: 6881\r\nInfohash: " IH "\r\n",
		HEAD "Port: 6881\r\nInfohash:    " IH "\r\n",
	};
	size_t i;

	(void)state;
	/* cut right after "Port:" plus its spaces, the digits beyond */
	for (i = 0; i < sizeof(port_cut) / sizeof(port_cut[0]); i++) {
		const char *s = port_cut[i];
		size_t at = (size_t)(strstr(s, "6881") - s);

		assert_int_equal(check_cut(s, at), DPI_NONE);
		/* one digit in the packet is enough */
		assert_int_equal(check_cut(s, at + 1), DPI_LSD);
	}
	/* cut after "Infohash:" plus spaces, and one hex digit short */
	for (i = 0; i < sizeof(ih_cut) / sizeof(ih_cut[0]); i++) {
		const char *s = ih_cut[i];
		size_t at = (size_t)(strstr(s, IH) - s);

		assert_int_equal(check_cut(s, at), DPI_NONE);
		assert_int_equal(check_cut(s, at + 39), DPI_NONE);
		assert_int_equal(check_cut(s, at + 40), DPI_LSD);
	}
	/* the header names themselves cut short */
	assert_int_equal(check_cut(HEAD "Infohash: " IH "\r\nPort", strlen(HEAD "Infohash: " IH "\r\nPort")),
			 DPI_NONE);
	assert_int_equal(check_cut(HEAD "Port: 6881\r\nInfohash", strlen(HEAD "Port: 6881\r\nInfohash")),
			 DPI_NONE);
	/* a value belongs to its own line, not to the next one */
	assert_int_equal(check_cut(HEAD "Infohash: " IH "\r\nPort:\n6881\r\n",
				   strlen(HEAD "Infohash: " IH "\r\nPort:\n6881\r\n")), DPI_NONE);
	assert_int_equal(check_cut(HEAD "Port: 6881\r\nInfohash:\n" IH "\r\n",
				   strlen(HEAD "Port: 6881\r\nInfohash:\n" IH "\r\n")), DPI_NONE);
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
		cmocka_unit_test(test_header_at_end),
		cmocka_unit_test(test_negatives),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
