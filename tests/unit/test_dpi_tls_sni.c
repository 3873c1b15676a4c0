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

/* A ClientHello of about 2 KB (Chrome's, with a post-quantum key share):
 * a 1500-byte extension before the server name. */
static size_t long_hello(uint8_t *b, const char *sni)
{
	size_t nl = strlen(sni), off = 0, ext_len = 4 + 1500 + 9 + nl, hs_len = 2 + 32 + 1 + 4 + 2 + 2 + ext_len;

	b[off++] = 0x16;
	b[off++] = 3;
	b[off++] = 1;
	b[off++] = (uint8_t)((hs_len + 4) >> 8);
	b[off++] = (uint8_t)(hs_len + 4);
	b[off++] = 1;
	b[off++] = 0;
	b[off++] = (uint8_t)(hs_len >> 8);
	b[off++] = (uint8_t)hs_len;
	b[off++] = 3;
	b[off++] = 3;
	memset(b + off, 0xa5, 32);		/* random */
	off += 32;
	b[off++] = 0;				/* session id */
	memcpy(b + off, "\x00\x02\x13\x01\x01\x00", 6);	/* one suite, null compression */
	off += 6;
	b[off++] = (uint8_t)(ext_len >> 8);
	b[off++] = (uint8_t)ext_len;
	memcpy(b + off, "\x00\x33\x05\xdc", 4);	/* key_share, 1500 bytes */
	off += 4;
	memset(b + off, 0x5a, 1500);
	off += 1500;
	b[off++] = 0;
	b[off++] = 0;
	b[off++] = (uint8_t)((nl + 5) >> 8);
	b[off++] = (uint8_t)(nl + 5);
	b[off++] = (uint8_t)((nl + 3) >> 8);
	b[off++] = (uint8_t)(nl + 3);
	b[off++] = 0;
	b[off++] = (uint8_t)(nl >> 8);
	b[off++] = (uint8_t)nl;
	memcpy(b + off, sni, nl);
	return off + nl;
}

/* The long hello as the engine hands it over: the first segment of seg
 * bytes (its first 1024 in the head), then the rest. */
static enum dpi_id long_check(const uint8_t *b, size_t len, size_t seg)
{
	struct pkt_view v;
	struct dpi_pkt p;
	enum dpi_id r;

	test_view(&v, IPPROTO_TCP, 40000, 443, b, seg);
	test_pkt(&p, &v, 0, NULL);
	p.stream = b;
	p.stream_len = 1024;
	p.stream_grew = 1;
	r = tls_sni_check(&p);
	if (r != DPI_NONE || seg == len)
		return r;
	test_view(&v, IPPROTO_TCP, 40000, 443, b + seg, len - seg);
	test_pkt(&p, &v, 0, NULL);
	p.dir_payload_pkts = 2;
	p.stream = b;
	p.stream_len = 1024;
	return tls_sni_check(&p);
}

static void test_long_client_hello(void **state)
{
	static uint8_t b[2100];
	size_t len;

	(void)state;
	len = long_hello(b, "tracker.openwebtorrent.com");
	assert_true(len > 1500);
	/* the head alone does not reach the name */
	assert_int_equal(check(b, 1024), DPI_NONE);
	/* one packet (GSO), longer than the head */
	assert_int_equal(long_check(b, len, len), DPI_WEBTORRENT);
	/* two segments, the name in the second */
	assert_int_equal(long_check(b, len, 1448), DPI_WEBTORRENT);
	assert_int_equal(long_check(b, len, 1200), DPI_WEBTORRENT);
	len = long_hello(b, "tracker.opentrackr.org");
	assert_int_equal(long_check(b, len, 1448), DPI_TLS_TRACKER);
	len = long_hello(b, "www.example.com");
	assert_int_equal(long_check(b, len, len), DPI_NONE);
	assert_int_equal(long_check(b, len, 1448), DPI_NONE);
	/* lengths that do not agree are no server name */
	len = long_hello(b, "tracker.openwebtorrent.com");
	b[len - 26 - 1]++;
	assert_int_equal(long_check(b, len, 1448), DPI_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sni_parse),
		cmocka_unit_test(test_trackers),
		cmocka_unit_test(test_negatives),
		cmocka_unit_test(test_long_client_hello),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
