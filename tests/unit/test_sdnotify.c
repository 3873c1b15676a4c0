/* test_sdnotify.c - the notify socket: the datagram systemd receives, the
 * watchdog interval taken from $WATCHDOG_USEC and $WATCHDOG_PID, and the
 * decision to send WATCHDOG=1 only while no worker is stalled. */
#include "../../src/sdnotify.c"

#include <stdarg.h>
#include <setjmp.h>
#include <cmocka.h>
#include <sys/stat.h>

static void test_interval_from_environment(void **state)
{
	(void)state;
	/* Half of the period, in ms. */
	assert_int_equal(sdnotify_watchdog_interval_ms("30000000", NULL, 42), 15000);
	assert_int_equal(sdnotify_watchdog_interval_ms("1000000", "", 42), 500);
	assert_int_equal(sdnotify_watchdog_interval_ms("1000000", "42", 42), 500);
	/* Below 2 ms: still a positive interval. */
	assert_int_equal(sdnotify_watchdog_interval_ms("1", NULL, 42), 1);
	/* Huge but valid: clamped, no overflow. */
	assert_true(sdnotify_watchdog_interval_ms("18446744073709551615", NULL, 42) > 0);
}

static void test_no_watchdog(void **state)
{
	(void)state;
	assert_int_equal(sdnotify_watchdog_interval_ms(NULL, NULL, 42), 0);
	assert_int_equal(sdnotify_watchdog_interval_ms("", NULL, 42), 0);
	assert_int_equal(sdnotify_watchdog_interval_ms("0", NULL, 42), 0);
	assert_int_equal(sdnotify_watchdog_interval_ms("-5", NULL, 42), 0);
	assert_int_equal(sdnotify_watchdog_interval_ms("10s", NULL, 42), 0);
	assert_int_equal(sdnotify_watchdog_interval_ms(" 100", NULL, 42), 0);
	assert_int_equal(sdnotify_watchdog_interval_ms("18446744073709551616", NULL, 42), 0);
	/* Meant for another process (the variables are inherited). */
	assert_int_equal(sdnotify_watchdog_interval_ms("1000000", "43", 42), 0);
	assert_int_equal(sdnotify_watchdog_interval_ms("1000000", "x42", 42), 0);
}

static void test_watchdog_decision(void **state)
{
	(void)state;
	/* The first one at once, then every interval. */
	assert_true(sdnotify_watchdog_due(1000, -1, 500, 0));
	assert_false(sdnotify_watchdog_due(1499, 1000, 500, 0));
	assert_true(sdnotify_watchdog_due(1500, 1000, 500, 0));
	assert_true(sdnotify_watchdog_due(9000, 1000, 500, 0));
	/* A stalled worker withholds it, however long ago the last one was. */
	assert_false(sdnotify_watchdog_due(1000, -1, 500, 1));
	assert_false(sdnotify_watchdog_due(9000, 1000, 500, 1));
	assert_false(sdnotify_watchdog_due(9000, 1000, 500, 64));
	/* No watchdog asked for. */
	assert_false(sdnotify_watchdog_due(9000, -1, 0, 0));
	assert_false(sdnotify_watchdog_due(9000, -1, -1, 0));
}

/* A datagram socket in a temporary directory stands for systemd's. */
static void test_send_reaches_the_socket(void **state)
{
	char dir[] = "/tmp/test_sdnotify.XXXXXX";
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 2 };
	char buf[64];
	ssize_t n;
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/notify", dir);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);

	assert_int_equal(setenv("NOTIFY_SOCKET", sa.sun_path, 1), 0);
	assert_int_equal(sdnotify_send("WATCHDOG=1"), 0);
	n = recv(fd, buf, sizeof(buf) - 1, 0);
	assert_int_equal(n, 10);
	buf[n] = '\0';
	assert_string_equal(buf, "WATCHDOG=1");

	/* Unset: nothing to do, not an error. */
	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(sdnotify_send("READY=1"), 0);
	/* Malformed: refused, nothing sent. */
	setenv("NOTIFY_SOCKET", "relative/path", 1);
	assert_int_equal(sdnotify_send("READY=1"), -1);
	setenv("NOTIFY_SOCKET", "@", 1);
	assert_int_equal(sdnotify_send("READY=1"), -1);
	/* Nobody listening: an error, reported. */
	setenv("NOTIFY_SOCKET", "/nonexistent/notify", 1);
	assert_int_equal(sdnotify_send("READY=1"), -1);
	unsetenv("NOTIFY_SOCKET");

	close(fd);
	unlink(sa.sun_path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_interval_from_environment),
		cmocka_unit_test(test_no_watchdog),
		cmocka_unit_test(test_watchdog_decision),
		cmocka_unit_test(test_send_reaches_the_socket),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
