/* test_dpi_http.c - unit tests of the clear-text HTTP detector
 * (src/dpi/http.c): trackers, web seeds, magnet links, peer-ids, agents. */
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <setjmp.h>
#include <cmocka.h>

#include "../../src/dpi/http.c"
#include "dpi_test.h"
#include "lookalikes.h"

static enum dpi_id head(const char *s, size_t len, struct learned *l, int learn_only)
{
	struct pkt_view v;
	struct dpi_pkt p;

	test_view(&v, IPPROTO_TCP, 40000, 80, s, len);
	test_pkt(&p, &v, 0, l);
	p.stream = (const uint8_t *)s;
	p.stream_len = (uint32_t)len;
	p.stream_grew = 1;
	if (learn_only) {
		http_learn(&p);
		return DPI_NONE;
	}
	return http_check(&p);
}

static enum dpi_id check(const char *s)
{
	return head(s, strlen(s), NULL, 0);
}

static void test_tracker_requests(void **state)
{
	(void)state;
	assert_int_equal(check("GET /announce?info_hash=%aa7i%c4S%0d%de%06%24%18s%da%d4%3a%b5%cc%ec%2c%e6%22"
			       "&peer_id=-TR2940-chho92c56pul&port=51413&uploaded=0&downloaded=0&left=1"
			       "&compact=1&event=started HTTP/1.1\r\nHost: t.example\r\n\r\n"), DPI_HTTP_TRACKER);
	assert_int_equal(check("GET /scrape?info_hash=%aa7i%c4S%0d%de%06%24%18s%da%d4%3a%b5%cc%ec%2c%e6%22 "
			       "HTTP/1.0\r\n\r\n"), DPI_HTTP_TRACKER);
	/* a private tracker's passkey path */
	assert_int_equal(check("GET /a1b2c3/announce?info_hash=xxxxxxxxxxxxxxxxxxxx&port=1 HTTP/1.1\r\n\r\n"),
			 DPI_HTTP_TRACKER);
}

static void test_tracker_reply_and_learning(void **state)
{
	const char r[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n"
		"d8:completei5e10:incompletei2e8:intervali1800e5:peers12:"
		"\x0a\x00\x00\x01\x1a\xe1\x0a\x00\x00\x02\xc8\xd5" "e";
	struct learned l;

	(void)state;
	assert_int_equal(head(r, sizeof(r) - 1, NULL, 0), DPI_HTTP_TRACKER);
	head(r, sizeof(r) - 1, &l, 1);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.port[0], 6881);
	assert_int_equal(l.port[1], 51413);
	assert_int_equal(check("HTTP/1.0 200 OK\r\n\r\nd14:failure reason17:torrent not founde"),
			 DPI_HTTP_TRACKER);
}

static void test_webseed_agent_peer_id_magnet(void **state)
{
	(void)state;
	/* BEP 17: an HTTP seed request */
	assert_int_equal(check("GET /seed?info_hash=xxxxxxxxxxxxxxxxxxxx&piece=3&ranges=0-16383 HTTP/1.1\r\n\r\n"),
			 DPI_WEBSEED);
	/* BEP 19: a range request from a client */
	assert_int_equal(check("GET /files/ubuntu.iso HTTP/1.1\r\nHost: mirror\r\n"
			       "User-Agent: qBittorrent/4.6.5\r\nRange: bytes=0-16383\r\n\r\n"), DPI_WEBSEED);
	assert_int_equal(check("GET /update.xml HTTP/1.1\r\nUser-Agent: uTorrent/3.6\r\n\r\n"),
			 DPI_USER_AGENT);
	assert_int_equal(check("GET /x?peer_id=-UT360S-abcdefghijkl HTTP/1.1\r\n\r\n"), DPI_PEER_ID);
	assert_int_equal(check("GET /x?peer_id=hello-world-1234 HTTP/1.1\r\n\r\n"), DPI_NONE);
	assert_int_equal(check("POST /add HTTP/1.1\r\nHost: x\r\n\r\nurl=magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a"),
			 DPI_MAGNET);
	/* magnet links in any clear-text protocol (IRC here) */
	assert_int_equal(check("PRIVMSG #chan :magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a\r\n"),
			 DPI_MAGNET);
}

/* http_check over the first len bytes of s, twice: from a heap copy of
 * exactly len bytes (a sanitizer build reports any read past them), and
 * from s itself, which goes on past len (a read past the packet would see
 * the rest, e.g. an agent's name after "User-Agent:", and could change the
 * answer). */
static enum dpi_id check_cut(const char *s, size_t len)
{
	char *exact = malloc(len);
	enum dpi_id r;

	assert_non_null(exact);
	memcpy(exact, s, len);
	r = head(exact, len, NULL, 0);
	free(exact);
	assert_int_equal(r, head(s, len, NULL, 0));
	return r;
}

/* check_cut of s cut right before its first occurrence of at, plus n. */
static enum dpi_id cut_at(const char *s, const char *at, size_t n)
{
	const char *p = strstr(s, at);

	assert_non_null(p);
	return check_cut(s, (size_t)(p - s) + n);
}

/* A header, parameter or body that would start at the very end of the
 * head. */
static void test_field_at_end(void **state)
{
	const char *ua = "GET /update.xml HTTP/1.1\r\nUser-Agent:qBittorrent/4.6.5\r\n";
	const char *ua_sp = "GET /update.xml HTTP/1.1\r\nUser-Agent:   qBittorrent/4.6.5\r\n";
	const char *range = "GET /f.iso HTTP/1.1\r\nUser-Agent: qBittorrent/4.6.5\r\n"
		"Range: bytes=0-16383\r\n\r\n";
	const char *pid = "GET /x?peer_id=-UT360S-abcdefghijkl HTTP/1.1\r\n\r\n";
	const char *reply = "HTTP/1.1 200 OK\r\n\r\nd8:completei5e10:incompletei2ee";

	(void)state;
	/* "User-Agent:" and its spaces end the head; then part of a name */
	assert_int_equal(cut_at(ua, "qBittorrent", 0), DPI_NONE);
	assert_int_equal(cut_at(ua_sp, "qBittorrent", 0), DPI_NONE);
	assert_int_equal(cut_at(ua_sp, "qBittorrent", 10), DPI_NONE);
	assert_int_equal(cut_at(ua_sp, "qBittorrent", 11), DPI_USER_AGENT);
	/* "Range:" alone: the header is there, its value still to come */
	assert_int_equal(cut_at(range, "Range:", 5), DPI_USER_AGENT);
	assert_int_equal(cut_at(range, "Range:", 6), DPI_WEBSEED);
	/* "peer_id=" ends the head, then a peer-id one byte short of its form */
	assert_int_equal(cut_at(pid, "-UT360S-", 0), DPI_NONE);
	assert_int_equal(cut_at(pid, "-UT360S-", 7), DPI_NONE);
	assert_int_equal(cut_at(pid, "-UT360S-", 8), DPI_PEER_ID);
	/* a reply whose body would start at the end */
	assert_int_equal(cut_at(reply, "d8:", 0), DPI_NONE);
	assert_int_equal(cut_at(reply, "d8:", 11), DPI_NONE);
	assert_int_equal(cut_at(reply, "d8:", 12), DPI_HTTP_TRACKER);
}

static void test_negatives(void **state)
{
	uint8_t bin[120];
	int i;

	(void)state;
	/* a browser, a download manager with a Range, an API with "hash" */
	assert_int_equal(check("GET / HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: Mozilla/5.0 (X11; Linux "
			       "x86_64) Firefox/128.0\r\n\r\n"), DPI_NONE);
	assert_int_equal(check("GET /f.iso HTTP/1.1\r\nUser-Agent: Wget/1.21\r\nRange: bytes=100-\r\n\r\n"),
			 DPI_NONE);
	assert_int_equal(check("GET /api?hash=abc&info=1 HTTP/1.1\r\n\r\n"), DPI_NONE);
	/* info_hash without any tracker context */
	assert_int_equal(check("GET /search?info_hash=abc HTTP/1.1\r\n\r\n"), DPI_NONE);
	/* a JSON reply that starts like bencode */
	assert_int_equal(check("HTTP/1.1 200 OK\r\n\r\nd8:hello"), DPI_NONE);
	/* a binary head is not searched for magnet links */
	memset(bin, 0, sizeof(bin));
	memcpy(bin + 40, "magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a", 60);
	assert_int_equal(head((const char *)bin, sizeof(bin), NULL, 0), DPI_NONE);
	lookalikes_init();
	for (i = 0; i < LA_COUNT; i++)
		assert_int_equal(head((const char *)lookalikes[i].data, lookalikes[i].len, NULL, 0),
				 DPI_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tracker_requests),
		cmocka_unit_test(test_tracker_reply_and_learning),
		cmocka_unit_test(test_webseed_agent_peer_id_magnet),
		cmocka_unit_test(test_field_at_end),
		cmocka_unit_test(test_negatives),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
