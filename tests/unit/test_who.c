/* test_who.c - btblockctl who: notice times, addresses and ports, and
 * detection log lines matched against them. */
#include "../../src/who.c"

#include <stdarg.h>
#include <setjmp.h>
#include <cmocka.h>

static int64_t t(const char *s)
{
	int64_t v = -12345;

	assert_int_equal(who_parse_time(s, &v), 0);
	return v;
}

static void test_times(void **state)
{
	int64_t v;

	(void)state;
	assert_int_equal(t("2026-12-03T10:15:00Z"), 1796292900);
	assert_int_equal(t("2026-12-03T10:15Z"), 1796292900);
	assert_int_equal(t("2026-12-03T10:15:00.999Z"), 1796292900);
	assert_int_equal(t("2026-12-03T11:15:00+01:00"), 1796292900);
	assert_int_equal(t("2026-12-03T05:15:00-0500"), 1796292900);
	assert_int_equal(t("1970-01-01T00:00:00Z"), 0);
	assert_int_equal(t("2024-02-29T00:00:00Z"), 1709164800);	/* a leap day */
	assert_int_equal(t("1796292900"), 1796292900);
	/* local time: the machine's zone (fixed here by TZ, no tzdata needed) */
	setenv("TZ", "UTC0", 1);
	tzset();
	assert_int_equal(t("2026-12-03 10:15:00"), 1796292900);
	assert_int_equal(t("2026-12-03 10:15"), 1796292900);
	setenv("TZ", "CET-1", 1);
	tzset();
	assert_int_equal(t("2026-12-03 11:15"), 1796292900);
	assert_int_equal(t("2026-12-03T11:15:00"), 1796292900);
	/* not times */
	assert_int_equal(who_parse_time("", &v), -1);
	assert_int_equal(who_parse_time("yesterday", &v), -1);
	assert_int_equal(who_parse_time("2026-13-03T10:15:00Z", &v), -1);
	assert_int_equal(who_parse_time("2026-12-03T24:15:00Z", &v), -1);
	assert_int_equal(who_parse_time("2026-12-03T10:15:00ZZ", &v), -1);
	assert_int_equal(who_parse_time("2026-12-03T10:15:00+1", &v), -1);
	assert_int_equal(who_parse_time("2026-12-03 10:15:00+01:00", &v), -1);
	assert_int_equal(who_parse_time("2026-12-03T10:15:00.Z", &v), -1);
	assert_int_equal(who_parse_time("2026-12-3T10:15:00Z", &v), -1);
	assert_int_equal(who_parse_time("1969-12-31T23:59:59Z", &v), -1);
	assert_int_equal(who_parse_time("12345678901234", &v), -1);	/* digits, too many */
	assert_int_equal(who_parse_time("-5", &v), -1);
}

static void test_endpoints(void **state)
{
	struct who_endpoint ep;

	(void)state;
	assert_int_equal(who_parse_endpoint("198.51.100.1:40000", &ep), 0);
	assert_int_equal(ep.family, 4);
	assert_int_equal(ep.port, 40000);
	assert_memory_equal(ep.addr, "\xc6\x33\x64\x01", 4);
	assert_int_equal(who_parse_endpoint("[2001:db8::5]:6881", &ep), 0);
	assert_int_equal(ep.family, 6);
	assert_int_equal(ep.addr[0], 0x20);
	assert_int_equal(ep.addr[15], 5);
	assert_int_equal(ep.port, 6881);
	assert_int_equal(who_parse_endpoint("198.51.100.1", &ep), -1);
	assert_int_equal(who_parse_endpoint("198.51.100.1:", &ep), -1);
	assert_int_equal(who_parse_endpoint("198.51.100.1:0", &ep), -1);
	assert_int_equal(who_parse_endpoint("198.51.100.1:65536", &ep), -1);
	assert_int_equal(who_parse_endpoint("198.51.100.1:+5", &ep), -1);
	assert_int_equal(who_parse_endpoint("198.51.100.1:5x", &ep), -1);
	assert_int_equal(who_parse_endpoint("198.51.100:5", &ep), -1);
	assert_int_equal(who_parse_endpoint("2001:db8::5:6881", &ep), -1);	/* IPv6 needs brackets */
	assert_int_equal(who_parse_endpoint("[2001:db8::5]6881", &ep), -1);
	assert_int_equal(who_parse_endpoint("[198.51.100.1]:5", &ep), -1);
	assert_int_equal(who_parse_endpoint("[]:5", &ep), -1);
	assert_int_equal(who_parse_endpoint(":5", &ep), -1);
}

static const char natline[] =
	"{\"time\":\"2026-12-03T10:15:00.123Z\",\"lan\":\"192.168.1.10:51413\","
	"\"remote\":\"203.0.113.7:6881\",\"mac\":\"02:00:5e:00:01:10\",\"host\":\"laptop\","
	"\"nat\":{\"public\":\"198.51.100.1:40000\"},\"nat_status\":\"translated\","
	"\"detector\":\"bt-handshake\",\"action\":\"block\"}";
static const char plainline[] =
	"{\"time\":\"2026-12-03T10:15:00.123Z\",\"lan\":\"[2001:db8:1::10]:51413\","
	"\"remote\":\"[2001:db8:2::7]:6881\",\"nat\":null,\"nat_status\":\"untranslated\"}";

static struct who_query query(const char *ep, const char *at, int64_t window)
{
	struct who_query q = { .window_s = window };

	assert_int_equal(who_parse_endpoint(ep, &q.ep), 0);
	if (at) {
		assert_int_equal(who_parse_time(at, &q.at_s), 0);
		q.have_time = 1;
	}
	return q;
}

static void test_match(void **state)
{
	struct who_query q;
	int64_t ms = 0;

	(void)state;
	q = query("198.51.100.1:40000", NULL, WHO_DEFAULT_WINDOW_S);
	assert_int_equal(who_match_line(natline, &q, &ms), 1);
	assert_int_equal(ms, 1796292900123);
	/* the notice's time: inside the window on both sides, outside it */
	q = query("198.51.100.1:40000", "2026-12-03T10:25:00Z", 600);
	assert_int_equal(who_match_line(natline, &q, &ms), 1);
	q = query("198.51.100.1:40000", "2026-12-03T10:05:00Z", 600);
	assert_int_equal(who_match_line(natline, &q, &ms), 1);
	q = query("198.51.100.1:40000", "2026-12-03T10:25:01Z", 600);
	assert_int_equal(who_match_line(natline, &q, &ms), 0);
	q = query("198.51.100.1:40000", "2026-12-03T10:15:00Z", 0);
	assert_int_equal(who_match_line(natline, &q, &ms), 1);
	/* another port, the LAN end of a translated flow: no */
	q = query("198.51.100.1:40001", NULL, 600);
	assert_int_equal(who_match_line(natline, &q, &ms), 0);
	q = query("192.168.1.10:51413", NULL, 600);
	assert_int_equal(who_match_line(natline, &q, &ms), 0);
	/* no NAT (IPv6): the LAN end, written differently */
	q = query("[2001:db8:1:0::10]:51413", NULL, 600);
	assert_int_equal(who_match_line(plainline, &q, &ms), 1);
	/* not detection lines */
	assert_int_equal(who_match_line("{\"suppressed\":3,\"rate\":50}", &q, &ms), -1);
	assert_int_equal(who_match_line("not json", &q, &ms), -1);
	assert_int_equal(who_match_line("", &q, &ms), -1);
	assert_int_equal(who_match_line("{\"time\":\"yesterday\",\"lan\":\"[2001:db8:1::10]:51413\"}",
					&q, &ms), -1);
	assert_int_equal(who_match_line("{\"time\":5}", &q, &ms), -1);
	assert_int_equal(who_match_line("[1,2]", &q, &ms), -1);
	/* fields of the wrong type */
	assert_int_equal(who_match_line("{\"time\":\"2026-12-03T10:15:00.123Z\",\"lan\":5,\"nat\":[]}",
					&q, &ms), 0);
	assert_int_equal(who_match_line("{\"time\":\"2026-12-03T10:15:00.123Z\",\"nat\":{\"public\":7}}",
					&q, &ms), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_times),
		cmocka_unit_test(test_endpoints),
		cmocka_unit_test(test_match),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
