/* test_detect_log.c - detection rings, JSON lines, rate limit and reopen. */
#include "../../src/detect_log.c"

#include <stdarg.h>
#include <setjmp.h>
#include <cmocka.h>
#include <sys/stat.h>

static struct detect_event event(uint32_t index)
{
	struct detect_event e = {
		.wall_ms = 1795740721137ull,	/* 2026-11-27T00:52:01.137Z */
		.saddr = { 10, 0, 0, 5 },
		.daddr = { 203, 0, 113, 7 },
		.sport = 51413,
		.dport = 6881,
		.queue = 1,
		.family = 4,
		.l4 = IPPROTO_TCP,
		.action = DETECT_BLOCK,
		.detector = "bt-handshake",
		.packet_index = index,
	};

	return e;
}

static void test_ring_order_and_overflow(void **state)
{
	static struct detect_ring r;
	struct detect_event e;

	(void)state;
	assert_int_equal(detect_ring_pop(&r, &e), 0);
	for (uint32_t i = 0; i < DETECT_RING_SIZE + 10; i++) {
		struct detect_event in = event(i);

		detect_ring_push(&r, &in);
	}
	assert_int_equal(r.overflow, 10);
	for (uint32_t i = 0; i < DETECT_RING_SIZE; i++) {
		assert_int_equal(detect_ring_pop(&r, &e), 1);
		assert_int_equal(e.packet_index, i);	/* oldest first, none lost inside */
	}
	assert_int_equal(detect_ring_pop(&r, &e), 0);
	/* Room again after draining; indices wrap around the ring. */
	for (uint32_t i = 0; i < 3 * DETECT_RING_SIZE; i++) {
		struct detect_event in = event(1000 + i);

		detect_ring_push(&r, &in);
		assert_int_equal(detect_ring_pop(&r, &e), 1);
		assert_int_equal(e.packet_index, 1000 + i);
	}
	assert_int_equal(r.overflow, 10);
}

static void test_format_ipv4_and_ipv6(void **state)
{
	struct detect_event e = event(4);
	char buf[512];

	(void)state;
	detect_log_format(&e, buf, sizeof(buf));
	assert_string_equal(buf, "{\"time\":\"2026-11-27T00:52:01.137Z\",\"queue\":1,\"l4\":\"tcp\","
			    "\"src\":\"10.0.0.5:51413\",\"dst\":\"203.0.113.7:6881\","
			    "\"detector\":\"bt-handshake\",\"packet\":4,\"action\":\"block\"}");
	e.family = 6;
	e.l4 = IPPROTO_UDP;
	e.action = DETECT_MONITOR;
	memset(e.saddr, 0, 16);
	memset(e.daddr, 0, 16);
	e.saddr[0] = 0x20; e.saddr[1] = 0x01; e.saddr[2] = 0x0d; e.saddr[3] = 0xb8; e.saddr[15] = 1;
	e.daddr[0] = 0xff; e.daddr[1] = 0x15; e.daddr[12] = 0xef; e.daddr[13] = 0xc0;
	e.daddr[14] = 0x98; e.daddr[15] = 0x8f;
	detect_log_format(&e, buf, sizeof(buf));
	assert_non_null(strstr(buf, "\"src\":\"[2001:db8::1]:51413\""));
	assert_non_null(strstr(buf, "\"dst\":\"[ff15::efc0:988f]:6881\""));
	assert_non_null(strstr(buf, "\"l4\":\"udp\""));
	assert_non_null(strstr(buf, "\"action\":\"monitor\""));
	/* A buffer too small is cut, never overrun. */
	assert_int_equal(detect_log_format(&e, buf, 16), 15);
	assert_int_equal(strlen(buf), 15);
}

static int count_lines(const char *path, const char *needle)
{
	char line[1024];
	FILE *f = fopen(path, "r");
	int n = 0;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, needle))
			n++;
	fclose(f);
	return n;
}

static void test_rate_limit_and_reopen(void **state)
{
	char dir[] = "/tmp/btblockd-detect-XXXXXX";
	char path[128], rotated[128];
	struct detect_log l;
	struct detect_event e = event(1);

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/detect.log", dir);
	snprintf(rotated, sizeof(rotated), "%s/detect.log.1", dir);
	assert_int_equal(detect_log_open(&l, path, 0, 3), 0);
	for (int i = 0; i < 10; i++)
		detect_log_write(&l, &e, 100);		/* one second: 3 written, 7 held back */
	detect_log_write(&l, &e, 101);			/* next second: the count, then the line */
	assert_int_equal(l.written, 4);
	assert_int_equal(l.suppressed_total, 7);
	assert_int_equal(count_lines(path, "\"detector\":\"bt-handshake\""), 4);
	assert_int_equal(count_lines(path, "{\"suppressed\":7,\"rate\":3}"), 1);

	/* logrotate: move the file away, reopen, new lines go to a new file. */
	assert_int_equal(rename(path, rotated), 0);
	assert_int_equal(detect_log_reopen(&l), 0);
	detect_log_write(&l, &e, 102);
	detect_log_close(&l);
	assert_int_equal(count_lines(rotated, "bt-handshake"), 4);
	assert_int_equal(count_lines(path, "bt-handshake"), 1);
	unlink(path);
	unlink(rotated);
	rmdir(dir);

	/* An unwritable path is an error at open, not a crash later. */
	assert_int_equal(detect_log_open(&l, "/nonexistent-dir/detect.log", 0, 3), -1);
	detect_log_write(&l, &e, 1);
	assert_int_equal(l.written, 0);
	detect_log_close(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ring_order_and_overflow),
		cmocka_unit_test(test_format_ipv4_and_ipv6),
		cmocka_unit_test(test_rate_limit_and_reopen),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
