/* test_dpi_tls_sni.c - unit tests of the TLS server-name detector
 * (src/dpi/tls_sni.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <setjmp.h>
#include <cmocka.h>

#include "../../src/dpi/tls_sni.c"
#include "dpi_test.h"
#include "lookalikes.h"

static enum dpi_id check(const uint8_t *d, size_t len)
{
	struct pkt_view v;
	struct dpi_pkt p;

	test_view(&v, IPPROTO_TCP, 40000, 443, d, len);
	test_pkt(&p, &v, 1, NULL);
	p.stream = d;
	p.stream_len = (uint32_t)len;
	return tls_sni_check(&p);
}

static void test_sni_parse(void **state)
{
	uint8_t b[300];
	const uint8_t *n;
	size_t len, nl;

	(void)state;
	len = la_client_hello(b, "web.utorrent.com", 3);
	assert_int_equal(tls_sni_get(b, len, &n, &nl), 1);
	assert_int_equal(nl, 16);
	assert_memory_equal(n, "web.utorrent.com", 16);
	/* truncated before the extension */
	assert_int_equal(tls_sni_get(b, 50, &n, &nl), 0);
	/* not a handshake record */
	b[0] = 0x17;
	assert_int_equal(tls_sni_get(b, len, &n, &nl), 0);
}

static void test_trackers(void **state)
{
	uint8_t b[300];
	size_t len;

	(void)state;
	len = la_client_hello(b, "web.utorrent.com", 3);
	assert_int_equal(check(b, len), DPI_TLS_TRACKER);
	len = la_client_hello(b, "tracker.opentrackr.org", 3);
	assert_int_equal(check(b, len), DPI_TLS_TRACKER);
	len = la_client_hello(b, "TRACKER.OPENTRACKR.ORG", 3);
	assert_int_equal(check(b, len), DPI_TLS_TRACKER);
	/* case folded in the last four letters too, and the whole name */
	len = la_client_hello(b, "Tracker.Files.FM", 3);
	assert_int_equal(check(b, len), DPI_TLS_TRACKER);
	len = la_client_hello(b, "bt.t-ru.org", 3);
	assert_int_equal(check(b, len), DPI_TLS_TRACKER);
}

static void test_negatives(void **state)
{
	uint8_t b[300];
	size_t len;
	int i;

	(void)state;
	len = la_client_hello(b, "www.example.com", 3);
	assert_int_equal(check(b, len), DPI_NONE);
	/* a suffix match must start at a label */
	len = la_client_hello(b, "notutorrent.com", 3);
	assert_int_equal(check(b, len), DPI_NONE);
	len = la_client_hello(b, "utorrent.com.evil.example", 3);
	assert_int_equal(check(b, len), DPI_NONE);
	/* the same last four letters, a difference further in */
	len = la_client_hello(b, "tracker.opentrackx.org", 3);
	assert_int_equal(check(b, len), DPI_NONE);
	/* only ASCII letters fold: 0x0e is not '.' */
	len = la_client_hello(b, "bittorrent\x0e" "com", 3);
	assert_int_equal(check(b, len), DPI_NONE);
	/* names shorter than any host */
	len = la_client_hello(b, "a.b", 3);
	assert_int_equal(check(b, len), DPI_NONE);
	len = la_client_hello(b, "m", 3);
	assert_int_equal(check(b, len), DPI_NONE);
	lookalikes_init();
	for (i = 0; i < LA_COUNT; i++)
		assert_int_equal(check(lookalikes[i].data, lookalikes[i].len), DPI_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sni_parse),
		cmocka_unit_test(test_trackers),
		cmocka_unit_test(test_negatives),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
