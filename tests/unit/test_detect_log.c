/* test_detect_log.c - detection rings, JSON lines, rate limit, reopen and the size cap. */
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
	struct detect_event e = { 0 };

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
	assert_int_equal(detect_log_open(&l, path, 0, 3, 0), 0);
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
	assert_int_equal(detect_log_open(&l, "/nonexistent-dir/detect.log", 0, 3, 0), -1);
	detect_log_write(&l, &e, 1);
	assert_int_equal(l.written, 0);
	detect_log_close(&l);
}

static long file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* The cap: a line that would pass it moves the file to PATH.1 (one old
 * file kept) and writing goes on in a new PATH; a reopen counts what the
 * file already holds. */
static void test_size_cap_rotates(void **state)
{
	char dir[] = "/tmp/btblockd-detect-XXXXXX";
	char path[128], old[128], older[128], line[512];
	struct detect_log l;
	struct detect_event e = event(1);
	long len, cap;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/detect.log", dir);
	snprintf(old, sizeof(old), "%s/detect.log.1", dir);
	snprintf(older, sizeof(older), "%s/detect.log.2", dir);
	len = detect_log_format(&e, line, sizeof(line)) + 1;	/* with its newline */
	cap = 3 * len + len / 2;			/* room for 3 lines, not 4 */
	assert_int_equal(detect_log_open(&l, path, 0, 1000, (uint64_t)cap), 0);

	for (uint64_t s = 0; s < 3; s++)
		detect_log_write(&l, &e, s);
	assert_int_equal(file_size(path), 3 * len);
	assert_int_equal(file_size(old), -1);
	assert_int_equal(l.rotations, 0);

	/* The 4th line would pass the cap: rotated first. */
	detect_log_write(&l, &e, 10);
	assert_int_equal(l.rotations, 1);
	assert_int_equal(file_size(old), 3 * len);
	assert_int_equal(file_size(path), len);
	assert_true(file_size(path) <= cap);

	/* Again: the new PATH.1 replaces the old one, no third file. */
	for (uint64_t s = 11; s < 14; s++)
		detect_log_write(&l, &e, s);
	assert_int_equal(l.rotations, 2);
	assert_int_equal(file_size(old), 3 * len);
	assert_int_equal(file_size(path), len);
	assert_int_equal(file_size(older), -1);
	assert_int_equal(l.written, 7);
	assert_int_equal(count_lines(old, "bt-handshake") + count_lines(path, "bt-handshake"), 4);
	detect_log_close(&l);

	/* Reopened with two lines' room: the line already there counts. */
	assert_int_equal(detect_log_open(&l, path, 0, 1000, (uint64_t)(2 * len)), 0);
	assert_int_equal(l.size, (uint64_t)len);
	detect_log_write(&l, &e, 20);
	assert_int_equal(l.rotations, 0);
	detect_log_write(&l, &e, 21);
	assert_int_equal(l.rotations, 1);
	assert_int_equal(file_size(old), 2 * len);
	assert_int_equal(file_size(path), len);
	detect_log_close(&l);

	/* A cap smaller than one line: each line gets a file of its own. */
	assert_int_equal(detect_log_open(&l, path, 0, 1000, 10), 0);
	detect_log_write(&l, &e, 30);
	detect_log_write(&l, &e, 31);
	assert_int_equal(file_size(path), len);
	assert_int_equal(file_size(old), len);
	detect_log_close(&l);

	/* 0: no cap. */
	assert_int_equal(detect_log_open(&l, path, 0, 1000, 0), 0);
	for (uint64_t s = 40; s < 50; s++)
		detect_log_write(&l, &e, s);
	assert_int_equal(l.rotations, 0);
	assert_int_equal(file_size(path), 11 * len);
	detect_log_close(&l);

	/* The rename fails (PATH.1 is a non-empty directory): the file is
	 * closed instead of growing past the cap, and a reopen resumes. */
	assert_int_equal(unlink(old), 0);
	assert_int_equal(mkdir(old, 0700), 0);
	snprintf(line, sizeof(line), "%s/keep", old);
	f = fopen(line, "w");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(detect_log_open(&l, path, 0, 1000, (uint64_t)(12 * len)), 0);
	detect_log_write(&l, &e, 60);
	assert_int_equal(file_size(path), 12 * len);
	detect_log_write(&l, &e, 61);
	assert_null(l.file);
	assert_int_equal(file_size(path), 12 * len);
	assert_int_equal(l.written, 2);		/* counted: syslog may still take them */
	assert_int_equal(unlink(line), 0);
	assert_int_equal(rmdir(old), 0);
	assert_int_equal(detect_log_reopen(&l), 0);
	detect_log_write(&l, &e, 62);
	assert_int_equal(l.rotations, 1);
	assert_int_equal(file_size(old), 12 * len);
	assert_int_equal(file_size(path), len);
	detect_log_close(&l);

	unlink(path);
	unlink(old);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ring_order_and_overflow),
		cmocka_unit_test(test_format_ipv4_and_ipv6),
		cmocka_unit_test(test_rate_limit_and_reopen),
		cmocka_unit_test(test_size_cap_rotates),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
