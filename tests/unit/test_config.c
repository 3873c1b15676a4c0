/* test_config.c - options and config file: values, precedence, clear errors. */
#include "../../src/config.c"

#include <stdarg.h>
#include <setjmp.h>
#include <cmocka.h>

static char err[512];

static enum config_status load(struct btb_config *c, const char *const *argv)
{
	int argc = 0;

	while (argv[argc])
		argc++;
	err[0] = '\0';
	return config_load(c, argc, (char *const *)(uintptr_t)argv, err, sizeof(err));
}

/* Write a config file and return its path (static buffer). */
static const char *write_file(const char *text)
{
	static char path[] = "/tmp/btblockd-test-config-XXXXXX";
	int fd;

	strcpy(path, "/tmp/btblockd-test-config-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void test_defaults(void **state)
{
	const char *argv[] = { "btblockd", "--config", "/nonexistent-but-default", NULL };
	struct btb_config c;
	long online = sysconf(_SC_NPROCESSORS_ONLN);

	(void)state;
	config_defaults(&c);
	assert_int_equal(c.queue_first, 0);
	assert_int_equal(config_nqueues(&c), online < CONFIG_MAX_QUEUES ? online : CONFIG_MAX_QUEUES);
	assert_int_equal(c.copy_range, 4096);
	assert_int_equal(c.queue_maxlen, 4096);
	assert_true(c.fail_open);
	assert_false(c.foreground);
	assert_string_equal(c.control_path, RUNSTATEDIR "/btblockd.sock");
	assert_string_equal(c.config_path, "/etc/btblockd.conf");
	assert_int_equal(c.log_level, LOG_NOTICE);
	/* An explicit --config must exist. */
	assert_int_equal(load(&c, argv), CONFIG_ERROR);
	assert_non_null(strstr(err, "/nonexistent-but-default"));
}

static void test_command_line_values(void **state)
{
	const char *argv[] = { "btblockd", "-c", "/dev/null", "--queues", "4-7", "--cpus", "0,1-1,0",
			 "-s", "/tmp/x.sock", "--copy-range", "512", "--queue-maxlen", "8192",
			 "--fail-closed", "-f", "--pidfile", "/tmp/x.pid", "--log-level", "debug",
			 "--rcvbuf", "1048576", NULL };
	struct btb_config c;

	(void)state;
	assert_int_equal(load(&c, argv), CONFIG_OK);
	assert_int_equal(c.queue_first, 4);
	assert_int_equal(c.queue_last, 7);
	assert_int_equal(config_nqueues(&c), 4);
	assert_int_equal(c.ncpus, 3);
	assert_int_equal(c.cpus[0], 0);
	assert_int_equal(c.cpus[1], 1);
	assert_int_equal(config_worker_cpu(&c, 2), 0);
	assert_int_equal(config_worker_cpu(&c, 4), 1);
	assert_string_equal(c.control_path, "/tmp/x.sock");
	assert_int_equal(c.copy_range, 512);
	assert_int_equal(c.queue_maxlen, 8192);
	assert_int_equal(c.rcvbuf, 1048576);
	assert_false(c.fail_open);
	assert_true(c.foreground);
	assert_true(c.pidfile_explicit);
	assert_string_equal(c.pidfile, "/tmp/x.pid");
	assert_int_equal(c.log_level, LOG_DEBUG);
}

/* Each bad value: refused, and the message names the option. */
static void test_bad_values_name_the_option(void **state)
{
	static const char *const cases[][2] = {
		{ "--queues", "5-3" }, { "--queues", "0-64" }, { "--queues", "70000" },
		{ "--queues", "-1" }, { "--queues", "a" }, { "--queues", "" },
		{ "--cpus", "0,,1" }, { "--cpus", "1-" }, { "--cpus", "x" }, { "--cpus", "0," },
		{ "--copy-range", "63" }, { "--copy-range", "65532" }, { "--copy-range", "12k" },
		{ "--queue-maxlen", "0" }, { "--queue-maxlen", "99999999999" },
		{ "--rcvbuf", "1" }, { "--log-level", "loud" }, { "--control", "" },
		{ "--flow-capacity", "8" }, { "--tcp-timeout", "0" }, { "--stream-prefix", "65536" },
		{ "--allow-after", "0" }, { "--endpoint-ttl", "0" }, { "--detect-log-rate", "0" },
		{ "--mark-allow", "0x" }, { "--mark-reject", "-1" },
		{ "--mark-block-flow", "0" }, { "--mark-reject-flow", "0x100000000" },
		{ "--mark-block-flow", "0x00b3zz00" },
		{ "--detect-log-max-size", "4294967296" }, { "--detect-log-max-size", "10M" },
		{ "--detect-log-max-size", "-1" },
	};
	struct btb_config c;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const char *argv[] = { "btblockd", "-c", "/dev/null", (char *)cases[i][0],
				 (char *)cases[i][1], NULL };

		assert_int_equal(load(&c, argv), CONFIG_ERROR);
		assert_non_null(strstr(err, cases[i][0]));
	}
}

static void test_unknown_and_missing(void **state)
{
	const char *unknown[] = { "btblockd", "--frobnicate", NULL };
	const char *unknown_short[] = { "btblockd", "-Z", NULL };
	const char *missing[] = { "btblockd", "--queues", NULL };
	const char *flag_value[] = { "btblockd", "--fail-open=yes", NULL };
	const char *stray[] = { "btblockd", "-c", "/dev/null", "extra", NULL };
	const char *pcap_empty[] = { "btblockd", "--read-pcap", NULL };
	const char *pcap[] = { "btblockd", "--read-pcap", "a.pcap", "b.pcapng", NULL };
	struct btb_config c;

	(void)state;
	assert_int_equal(load(&c, unknown), CONFIG_ERROR);
	assert_non_null(strstr(err, "--frobnicate"));
	assert_int_equal(load(&c, unknown_short), CONFIG_ERROR);
	assert_non_null(strstr(err, "-Z"));
	assert_int_equal(load(&c, missing), CONFIG_ERROR);
	assert_non_null(strstr(err, "--queues needs a value"));
	assert_int_equal(load(&c, flag_value), CONFIG_ERROR);
	assert_non_null(strstr(err, "--fail-open takes no value"));
	assert_int_equal(load(&c, stray), CONFIG_ERROR);
	assert_non_null(strstr(err, "extra"));
	assert_int_equal(load(&c, pcap_empty), CONFIG_ERROR);
	assert_non_null(strstr(err, "--read-pcap"));
	assert_int_equal(load(&c, pcap), CONFIG_OK);
	assert_true(c.read_pcap);
	assert_int_equal(c.npcap_files, 2);
	assert_string_equal(c.pcap_files[1], "b.pcapng");
}

static void test_file_and_precedence(void **state)
{
	const char *path = write_file(
		"# btblockd test\n"
		"\n"
		"queues = 2-3   # trailing comment\n"
		"copy-range 1024\n"
		"fail-closed\n"
		"foreground yes\n"
		"log-level=info\n"
		"control /tmp/from-file.sock\n");
	const char *argv[] = { "btblockd", "--config", (char *)path, "--copy-range", "300", NULL };
	struct btb_config c;

	(void)state;
	assert_int_equal(load(&c, argv), CONFIG_OK);
	assert_int_equal(c.queue_first, 2);
	assert_int_equal(c.queue_last, 3);
	assert_int_equal(c.copy_range, 300);	/* the command line wins */
	assert_false(c.fail_open);
	assert_true(c.foreground);
	assert_int_equal(c.log_level, LOG_INFO);
	assert_string_equal(c.control_path, "/tmp/from-file.sock");
	unlink(path);
}

static void test_file_errors_name_file_line_and_key(void **state)
{
	static const struct {
		const char *text;
		const char *expect;
	} cases[] = {
		{ "queues 0-1\nbogus-key 3\n", ":2: unknown option 'bogus-key'" },
		{ "copy-range\n", ":1: option 'copy-range' needs a value" },
		{ "copy-range 10\n", ":1: invalid value '10' for 'copy-range'" },
		{ "fail-open maybe\n", ":1: invalid value 'maybe' for 'fail-open'" },
		{ "config /etc/other.conf\n", ":1: unknown option 'config'" },
		{ "help\n", ":1: unknown option 'help'" },
	};
	struct btb_config c;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const char *path = write_file(cases[i].text);
		const char *argv[] = { "btblockd", "-c", (char *)path, NULL };

		assert_int_equal(load(&c, argv), CONFIG_ERROR);
		assert_non_null(strstr(err, path));
		assert_non_null(strstr(err, cases[i].expect));
		unlink(path);
	}
}

static void test_file_long_line_and_unreadable(void **state)
{
	char text[2048];
	const char *path;
	struct btb_config c;

	(void)state;
	memset(text, 'a', sizeof(text) - 2);
	text[sizeof(text) - 2] = '\n';
	text[sizeof(text) - 1] = '\0';
	path = write_file(text);
	{
		const char *argv[] = { "btblockd", "-c", (char *)path, NULL };

		assert_int_equal(load(&c, argv), CONFIG_ERROR);
		assert_non_null(strstr(err, "longer than"));
	}
	unlink(path);
	{
		const char *argv[] = { "btblockd", "-c", "/", NULL };	/* a directory */

		assert_int_equal(load(&c, argv), CONFIG_ERROR);
		assert_non_null(strstr(err, "cannot read config file /"));
	}
}

static void test_engine_and_mark_options(void **state)
{
	const char *argv[] = { "btblockd", "-c", "/dev/null", "--flow-capacity", "1024",
			       "--tcp-timeout", "120", "--udp-timeout", "30", "--stream-prefix", "512",
			       "--allow-after", "4", "--endpoint-capacity", "0", "--endpoint-ttl", "60",
			       "--monitor", "--reject", "--mark-mask", "0xff000000",
			       "--mark-allow", "0x01000000", "--mark-block", "0x02000000",
			       "--mark-reject", "50331648", "--mark-block-flow", "0x04000000",
			       "--mark-reject-flow", "0x05000000", "--detect-log", "/tmp/d.log",
			       "--detect-syslog", "--detect-log-rate", "10",
			       "--detect-log-max-size", "65536", NULL };
	const char *no_cap[] = { "btblockd", "-c", "/dev/null", "--detect-log-max-size", "0", NULL };
	const char *outside[] = { "btblockd", "-c", "/dev/null", "--mark-block", "0x00000100", NULL };
	const char *same[] = { "btblockd", "-c", "/dev/null", "--mark-allow", "0x00b10000", NULL };
	/* A mask of one's own needs flow-only values of one's own too. */
	const char *flow_outside[] = { "btblockd", "-c", "/dev/null", "--mark-mask", "0xff000000",
				       "--mark-allow", "0x01000000", "--mark-block", "0x02000000",
				       "--mark-reject", "0x03000000", NULL };
	const char *flow_same[] = { "btblockd", "-c", "/dev/null", "--mark-reject-flow",
				    "0x00b20000", NULL };
	const char *flow_pair[] = { "btblockd", "-c", "/dev/null", "--mark-block-flow",
				    "0x00b40000", NULL };
	const char *zero[] = { "btblockd", "-c", "/dev/null", "--mark-mask", "0", NULL };
	const char *big[] = { "btblockd", "-c", "/dev/null", "--mark-mask", "0x1ffffffff", NULL };
	struct btb_config c;

	(void)state;
	config_defaults(&c);
	assert_int_equal(c.engine.flow_capacity, ENGINE_DEF_FLOW_CAPACITY);
	assert_int_equal(c.mark_mask, 0x00ff0000);
	assert_int_equal(c.mark_block & ~c.mark_mask, 0);
	assert_int_equal(c.mark_block_flow, 0x00b30000);
	assert_int_equal(c.mark_reject_flow, 0x00b40000);
	assert_false(c.monitor);
	assert_int_equal(c.detect_log_max_size, 10485760);
	assert_int_equal(load(&c, argv), CONFIG_OK);
	assert_int_equal(c.engine.flow_capacity, 1024);
	assert_int_equal(c.engine.tcp_timeout_s, 120);
	assert_int_equal(c.engine.udp_timeout_s, 30);
	assert_int_equal(c.engine.stream_prefix, 512);
	assert_int_equal(c.engine.allow_after, 4);
	assert_int_equal(c.engine.endpoint_capacity, 0);
	assert_int_equal(c.engine.endpoint_ttl_s, 60);
	assert_true(c.monitor);
	assert_true(c.reject);
	assert_int_equal(c.mark_mask, 0xff000000);
	assert_int_equal(c.mark_allow, 0x01000000);
	assert_int_equal(c.mark_block, 0x02000000);
	assert_int_equal(c.mark_reject, 0x03000000);
	assert_int_equal(c.mark_block_flow, 0x04000000);
	assert_int_equal(c.mark_reject_flow, 0x05000000);
	assert_string_equal(c.detect_log, "/tmp/d.log");
	assert_true(c.detect_syslog);
	assert_int_equal(c.detect_log_rate, 10);
	assert_int_equal(c.detect_log_max_size, 65536);
	assert_int_equal(load(&c, no_cap), CONFIG_OK);
	assert_int_equal(c.detect_log_max_size, 0);

	assert_int_equal(load(&c, outside), CONFIG_ERROR);
	assert_non_null(strstr(err, "--mark-block"));
	assert_non_null(strstr(err, "inside --mark-mask"));
	assert_int_equal(load(&c, same), CONFIG_ERROR);
	assert_non_null(strstr(err, "--mark-block: it equals --mark-allow"));
	assert_int_equal(load(&c, flow_outside), CONFIG_ERROR);
	assert_non_null(strstr(err, "0x00b30000 for --mark-block-flow: it must lie inside --mark-mask"));
	assert_int_equal(load(&c, flow_same), CONFIG_ERROR);
	assert_non_null(strstr(err, "--mark-reject-flow: it equals --mark-reject"));
	assert_int_equal(load(&c, flow_pair), CONFIG_ERROR);
	assert_non_null(strstr(err, "--mark-reject-flow: it equals --mark-block-flow"));
	assert_int_equal(load(&c, zero), CONFIG_ERROR);
	assert_non_null(strstr(err, "--mark-mask"));
	assert_int_equal(load(&c, big), CONFIG_ERROR);
	assert_non_null(strstr(err, "--mark-mask"));
}

/* Hardening options: control socket access, user, seccomp, stall timeout. */
static void test_hardening_options(void **state)
{
	const char *none[] = { "btblockd", "-c", "/dev/null", NULL };
	const char *all[] = { "btblockd", "-c", "/dev/null", "--control-group", "btb-ctl",
			      "--control-mode", "0600", "-u", "_btblockd", "--seccomp",
			      "--stall-timeout", "30", NULL };
	static const char *const bad[][2] = {
		{ "--control-group", "" }, { "--control-group", "-root" },
		{ "--control-group", "a b" }, { "--control-group", "g/../x" },
		{ "--control-group", "abcdefghijklmnopqrstuvwxyz0123456" },
		{ "--control-mode", "0666" }, { "--control-mode", "660" },
		{ "--control-mode", "0700" }, { "--control-mode", "0660x" }, { "--control-mode", "" },
		{ "--control-mode", "00000660" },
		{ "--user", "" }, { "--user", "root;id" }, { "--user", "-u" }, { "--user", "\xff" },
		{ "--stall-timeout", "0" }, { "--stall-timeout", "3601" }, { "--stall-timeout", "5s" },
	};
	const char *flag_value[] = { "btblockd", "--seccomp=yes", NULL };
	char path[64], bad_file[64];
	const char *file_argv[] = { "btblockd", "--config", path, "--seccomp", NULL };
	const char *bad_file_argv[] = { "btblockd", "--config", bad_file, NULL };
	struct btb_config c;

	(void)state;
	/* write_file returns a static buffer: keep copies. */
	snprintf(path, sizeof(path), "%s", write_file("control-group adm\ncontrol-mode 0600\n"
						      "user nobody\nseccomp no\nstall-timeout 7\n"));
	snprintf(bad_file, sizeof(bad_file), "%s", write_file("user\n"));
	assert_int_equal(load(&c, none), CONFIG_OK);
	assert_string_equal(c.control_group, "");
	assert_int_equal(c.control_mode, 0660);
	assert_string_equal(c.user, "");
	assert_false(c.seccomp);
	assert_int_equal(c.stall_timeout_s, 5);

	assert_int_equal(load(&c, all), CONFIG_OK);
	assert_string_equal(c.control_group, "btb-ctl");
	assert_int_equal(c.control_mode, 0600);
	assert_string_equal(c.user, "_btblockd");
	assert_true(c.seccomp);
	assert_int_equal(c.stall_timeout_s, 30);

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		const char *argv[] = { "btblockd", "-c", "/dev/null", (char *)bad[i][0],
				 (char *)bad[i][1], NULL };

		assert_int_equal(load(&c, argv), CONFIG_ERROR);
		assert_non_null(strstr(err, bad[i][0]));
	}
	assert_int_equal(load(&c, flag_value), CONFIG_ERROR);
	assert_non_null(strstr(err, "--seccomp takes no value"));

	/* From the file; the command line's --seccomp wins over "seccomp no". */
	assert_int_equal(load(&c, file_argv), CONFIG_OK);
	assert_string_equal(c.control_group, "adm");
	assert_int_equal(c.control_mode, 0600);
	assert_string_equal(c.user, "nobody");
	assert_true(c.seccomp);
	assert_int_equal(c.stall_timeout_s, 7);
	assert_int_equal(load(&c, bad_file_argv), CONFIG_ERROR);
	assert_non_null(strstr(err, "'user' needs a value"));
	unlink(path);
	unlink(bad_file);
}

static void test_state_file_options(void **state)
{
	const char *none[] = { "btblockd", "-c", "/dev/null", NULL };
	const char *set[] = { "btblockd", "-c", "/dev/null", "--state-file", "/var/lib/btblockd/state",
			      "--state-interval", "300", NULL };
	const char *off[] = { "btblockd", "-c", "/dev/null", "--state-file", "/tmp/x",
			      "--state-file", "none", NULL };
	static const char *const bad[][2] = {
		{ "--state-file", "" }, { "--state-file", "state" }, { "--state-file", "./state" },
		{ "--state-file", "/var/lib/btblockd/" }, { "--state-file", "/" },
		{ "--state-file", "/var/lib/btblockd/." }, { "--state-file", "/var/lib/.." },
		{ "--state-file", "None" },
		{ "--state-interval", "0" }, { "--state-interval", "86401" },
		{ "--state-interval", "1m" }, { "--state-interval", "" },
	};
	char name[300], path[64], bad_file[64];
	const char *file_argv[] = { "btblockd", "--config", path, NULL };
	const char *bad_file_argv[] = { "btblockd", "--config", bad_file, NULL };
	struct btb_config c;

	(void)state;
	assert_int_equal(load(&c, none), CONFIG_OK);
	assert_string_equal(c.state_file, "none");
	assert_int_equal(c.state_interval_s, 60);
	assert_int_equal(load(&c, set), CONFIG_OK);
	assert_string_equal(c.state_file, "/var/lib/btblockd/state");
	assert_int_equal(c.state_interval_s, 300);
	/* the last one wins: "none" turns it off again */
	assert_int_equal(load(&c, off), CONFIG_OK);
	assert_string_equal(c.state_file, "none");
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		const char *argv[] = { "btblockd", "-c", "/dev/null", (char *)bad[i][0],
				 (char *)bad[i][1], NULL };

		if (load(&c, argv) != CONFIG_ERROR)
			fail_msg("accepted %s '%s'", bad[i][0], bad[i][1]);
		assert_non_null(strstr(err, bad[i][0]));
		assert_non_null(strstr(err, bad[i][1]));
	}
	/* the file's name leaves room for NAME.tmp */
	memset(name, 'a', sizeof(name));
	name[0] = '/';
	name[CONFIG_STATE_NAME_MAX + 1] = '\0';
	{
		const char *argv[] = { "btblockd", "-c", "/dev/null", "--state-file", name, NULL };

		assert_int_equal(load(&c, argv), CONFIG_OK);
		name[CONFIG_STATE_NAME_MAX + 1] = 'a';
		name[CONFIG_STATE_NAME_MAX + 2] = '\0';
		assert_int_equal(load(&c, argv), CONFIG_ERROR);
	}
	snprintf(path, sizeof(path), "%s", write_file("state-file /srv/btb/state\nstate-interval 5\n"));
	snprintf(bad_file, sizeof(bad_file), "%s", write_file("state-file relative\n"));
	assert_int_equal(load(&c, file_argv), CONFIG_OK);
	assert_string_equal(c.state_file, "/srv/btb/state");
	assert_int_equal(c.state_interval_s, 5);
	assert_int_equal(load(&c, bad_file_argv), CONFIG_ERROR);
	assert_non_null(strstr(err, ":1: invalid value 'relative' for 'state-file'"));
	unlink(path);
	unlink(bad_file);
}

static void test_protected_side(void **state)
{
	struct btb_config c;
	const char *empty = write_file("# nothing\n");
	const char *none[] = { "btblockd", "--config", empty, NULL };
	const char *prefixes[] = { "btblockd", "--config", empty, "--protected-prefix",
				   "192.168.7.0/24, 2001:db8:7::/48,198.51.100.9", NULL };
	const char *ifaces[] = { "btblockd", "--config", empty, "--protected-interface",
				 "br-lan,wlan0", NULL };
	const char *both[] = { "btblockd", "--config", empty, "--protected-interface",
			       "br-lan", "--protected-prefix", "none", NULL };
	const char *offline[] = { "btblockd", "--protected-prefix", "10.9.0.0/16", "-r", "x.pcap",
				  NULL };
	const char *bad[][5] = {
		{ "btblockd", "--protected-prefix", "192.168.1.0/33", NULL },
		{ "btblockd", "--protected-prefix", "192.168.1.0/", NULL },
		{ "btblockd", "--protected-prefix", "lan", NULL },
		{ "btblockd", "--protected-prefix", "10.0.0.0/8,,10.1.0.0/16", NULL },
		{ "btblockd", "--protected-prefix", "", NULL },
		{ "btblockd", "--protected-interface", "br/lan", NULL },
		{ "btblockd", "--protected-interface", "a-name-too-long-x", NULL },
		{ "btblockd", "--protected-interface", "eth0,", NULL },
	};
	const uint8_t lan[4] = { 192, 168, 7, 9 }, priv[4] = { 10, 1, 2, 3 };
	const uint8_t host[4] = { 198, 51, 100, 9 }, next[4] = { 198, 51, 100, 10 };
	uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 7, 0xff };
	char text[256];

	(void)state;
	/* default: the private ranges */
	assert_int_equal(load(&c, none), CONFIG_OK);
	assert_true(protect_match(&c.engine.protect, 4, priv));
	assert_false(protect_match(&c.engine.protect, 4, host));
	assert_int_equal(c.nprotect_ifaces, 0);
	/* prefixes replace the default */
	assert_int_equal(load(&c, prefixes), CONFIG_OK);
	assert_true(protect_match(&c.engine.protect, 4, lan));
	assert_true(protect_match(&c.engine.protect, 4, host));
	assert_false(protect_match(&c.engine.protect, 4, next));
	assert_false(protect_match(&c.engine.protect, 4, priv));
	assert_true(protect_match(&c.engine.protect, 6, v6));
	v6[5] = 8;
	assert_false(protect_match(&c.engine.protect, 6, v6));
	protect_format(&c.engine.protect, text, sizeof(text));
	assert_string_equal(text, "192.168.7.0/24,2001:db8:7::/48,198.51.100.9/32");
	/* interfaces alone: no prefixes at all */
	assert_int_equal(load(&c, ifaces), CONFIG_OK);
	assert_int_equal(c.nprotect_ifaces, 2);
	assert_string_equal(c.protect_ifaces[1], "wlan0");
	assert_int_equal(c.engine.protect.nprefixes, 0);
	assert_false(protect_match(&c.engine.protect, 4, priv));
	assert_int_equal(load(&c, both), CONFIG_OK);
	assert_int_equal(c.engine.protect.nprefixes, 0);
	/* the offline mode takes them from the command line */
	assert_int_equal(load(&c, offline), CONFIG_OK);
	assert_true(protect_match(&c.engine.protect, 4, (const uint8_t *)"\x0a\x09\x01\x01"));
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_int_equal(load(&c, bad[i]), CONFIG_ERROR);
		assert_non_null(strstr(err, bad[i][1] + 2));
	}
}

/* action: the daemon's marks; the firewall's keys: accepted in the file
 * only, whatever their value (btblockd-firewall checks them). */
static void test_action_and_firewall_keys(void **state)
{
	static const struct {
		const char *value;
		int ok, reject, monitor, throttle;
	} cases[] = {
		{ "block", 1, 0, 0, 0 }, { "reject", 1, 1, 0, 0 }, { "monitor", 1, 0, 1, 0 },
		{ "throttle 2mbit", 1, 0, 0, 1 }, { "throttle  500kbytes", 1, 0, 0, 1 },
		{ "throttle 8bit", 1, 0, 0, 1 }, { "throttle 1bytes", 1, 0, 0, 1 },
		{ "throttle", 0, 0, 0, 0 }, { "throttle 0mbit", 0, 0, 0, 0 }, { "throttle 7bit", 0, 0, 0, 0 },
		{ "throttle 2", 0, 0, 0, 0 }, { "throttle mbit", 0, 0, 0, 0 }, { "throttle 2mbits", 0, 0, 0, 0 },
		{ "throttle 1234567890kbit", 0, 0, 0, 0 }, { "throttle2mbit", 0, 0, 0, 0 }, { "drop", 0, 0, 0, 0 },
		{ "Block", 0, 0, 0, 0 }, { "", 0, 0, 0, 0 },
	};
	const char *path = write_file("reject yes\n"
				      "exempt 192.168.1.10, aa:bb:cc:dd:ee:ff\n"
				      "exempt iface:wlan1\n"
				      "exempt-remote 203.0.113.0/24\n"
				      "schedule Mon-Fri 08:00-17:30\n"
				      "action throttle 4mbit\n");
	const char *file_argv[] = { "btblockd", "-c", (char *)path, NULL };
	const char *cli_exempt[] = { "btblockd", "-c", "/dev/null", "--exempt", "1.2.3.4", NULL };
	struct btb_config c;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const char *argv[] = { "btblockd", "-c", "/dev/null", "--action", cases[i].value, NULL };

		assert_int_equal(load(&c, argv), cases[i].ok ? CONFIG_OK : CONFIG_ERROR);
		if (!cases[i].ok) {
			assert_non_null(strstr(err, "--action"));
			continue;
		}
		assert_int_equal(c.reject, cases[i].reject);
		assert_int_equal(c.monitor, cases[i].monitor);
		assert_int_equal(c.throttle, cases[i].throttle);
	}
	assert_int_equal(load(&c, file_argv), CONFIG_OK);
	assert_true(c.throttle);
	assert_false(c.reject);		/* action after reject: action wins */
	unlink(path);
	assert_int_equal(load(&c, cli_exempt), CONFIG_ERROR);
	assert_non_null(strstr(err, "unknown option '--exempt'"));
}

static void test_help_text_lists_every_option(void **state)
{
	char buf[8192] = { 0 };
	FILE *f = fmemopen(buf, sizeof(buf) - 1, "w");

	(void)state;
	assert_non_null(f);
	config_usage(f, "btblockd");
	fclose(f);
	for (size_t i = 0; i < ARRAY_SIZE(opt_table); i++) {
		char name[64];

		snprintf(name, sizeof(name), "--%s", opt_table[i].name);
		if (opt_table[i].in_file == FIREWALL_KEY)
			assert_null(strstr(buf, name));
		else
			assert_non_null(strstr(buf, name));
	}
}

/* Every row says what a reload does with it; only firewall keys set nothing. */
static void test_every_option_has_a_reload_class(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(opt_table); i++) {
		const struct opt_def *o = &opt_table[i];

		assert_true(o->reload == CONFIG_RELOAD_LIVE || o->reload == CONFIG_RELOAD_RESTART ||
			    o->reload == CONFIG_RELOAD_NONE);
		if (o->type == OT_IGNORE)
			assert_int_equal(o->reload, CONFIG_RELOAD_NONE);
		else
			assert_true(o->size > 0 && o->field + o->size <= sizeof(struct btb_config));
	}
}

/* The changes config_diff reports, as "name:class " words. */
struct diff_words {
	char buf[512];
};

static void diff_word(void *arg, const char *name, enum config_reload reload)
{
	struct diff_words *w = arg;
	size_t len = strlen(w->buf);

	snprintf(w->buf + len, sizeof(w->buf) - len, "%s:%s ", name,
		 reload == CONFIG_RELOAD_LIVE ? "live" :
		 reload == CONFIG_RELOAD_RESTART ? "restart" : "none");
}

/* The running configuration against the one a reload would read from file. */
static unsigned diff_file(const char *before, const char *after, struct diff_words *w)
{
	const char *argv[] = { "btblockd", "-c", NULL, NULL };
	struct btb_config a, b;

	argv[2] = write_file(before);
	assert_int_equal(load(&a, argv), CONFIG_OK);
	unlink(argv[2]);
	argv[2] = write_file(after);
	assert_int_equal(load(&b, argv), CONFIG_OK);
	unlink(argv[2]);
	/* a reload reads the same file: only its content differs here */
	memcpy(b.config_path, a.config_path, sizeof(b.config_path));
	w->buf[0] = '\0';
	return config_diff(&a, &b, diff_word, w);
}

static void test_reload_classes(void **state)
{
	struct diff_words w;

	(void)state;
	/* unchanged: nothing, whatever the file holds */
	assert_int_equal(diff_file("cpus 0-1\ndetect-log /tmp/x.log\n",
				   "cpus 0-1\ndetect-log /tmp/x.log\n", &w), 0);
	/* the three a reload used to skip silently need a restart */
	assert_int_equal(diff_file("", "cpus 0\n", &w), 1);
	assert_string_equal(w.buf, "cpus:restart ");
	assert_int_equal(diff_file("cpus 0,1\n", "cpus 0,2\n", &w), 1);
	assert_string_equal(w.buf, "cpus:restart ");
	assert_int_equal(diff_file("", "detect-syslog\n", &w), 1);
	assert_string_equal(w.buf, "detect-syslog:restart ");
	assert_int_equal(diff_file("", "detect-log-rate 7\n", &w), 1);
	assert_string_equal(w.buf, "detect-log-rate:restart ");
	/* applied at once */
	assert_int_equal(diff_file("", "log-level debug\nstall-timeout 9\nfirewall-lost log\n", &w), 3);
	assert_string_equal(w.buf, "log-level:live stall-timeout:live firewall-lost:live ");
	/* a mix, in table order; a firewall key is not the daemon's */
	assert_int_equal(diff_file("exempt 10.0.0.1\n",
				   "exempt 10.0.0.2\nlog-level info\nflow-capacity 1024\n"
				   "state-interval 5\n", &w), 3);
	assert_string_equal(w.buf, "flow-capacity:restart log-level:live state-interval:restart ");
}

/* A value overwritten by a shorter one (file, then command line) equals
 * the shorter one given alone: no change a reload would report. */
static void test_diff_ignores_stale_bytes(void **state)
{
	const char *path = write_file("detect-log /tmp/a-rather-long-name.log\ncpus 0-3\n"
				      "protected-interface br-lan,wlan0,wlan1\n");
	const char *argv_a[] = { "btblockd", "-c", path, "--detect-log", "/tmp/b.log", "--cpus", "1",
			   "--protected-interface", "eth1", NULL };
	const char *argv_b[] = { "btblockd", "-c", "/dev/null", "--detect-log", "/tmp/b.log", "--cpus",
			   "1", "--protected-interface", "eth1", NULL };
	struct btb_config a, b;

	(void)state;
	assert_int_equal(load(&a, argv_a), CONFIG_OK);
	assert_int_equal(load(&b, argv_b), CONFIG_OK);
	unlink(path);
	memcpy(b.config_path, a.config_path, sizeof(b.config_path));
	assert_int_equal(config_diff(&a, &b, NULL, NULL), 0);
}

static void test_take_live(void **state)
{
	const char *argv[] = { "btblockd", "-c", "/dev/null", NULL };
	struct btb_config run, next;

	(void)state;
	assert_int_equal(load(&run, argv), CONFIG_OK);
	assert_int_equal(load(&next, argv), CONFIG_OK);
	next.log_level = LOG_DEBUG;
	next.stall_timeout_s = 42;
	next.firewall_lost_exit = 0;
	next.detect_syslog = 1;
	next.detect_log_rate = 7;
	next.ncpus = 1;
	config_take_live(&run, &next);
	assert_int_equal(run.log_level, LOG_DEBUG);
	assert_int_equal(run.stall_timeout_s, 42);
	assert_int_equal(run.firewall_lost_exit, 0);
	assert_int_equal(run.detect_syslog, 0);
	assert_int_equal(run.detect_log_rate, 50);
	assert_int_equal(run.ncpus, 0);
	assert_int_equal(config_diff(&run, &next, NULL, NULL), 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_protected_side),
		cmocka_unit_test(test_command_line_values),
		cmocka_unit_test(test_bad_values_name_the_option),
		cmocka_unit_test(test_unknown_and_missing),
		cmocka_unit_test(test_file_and_precedence),
		cmocka_unit_test(test_file_errors_name_file_line_and_key),
		cmocka_unit_test(test_file_long_line_and_unreadable),
		cmocka_unit_test(test_engine_and_mark_options),
		cmocka_unit_test(test_hardening_options),
		cmocka_unit_test(test_state_file_options),
		cmocka_unit_test(test_action_and_firewall_keys),
		cmocka_unit_test(test_help_text_lists_every_option),
		cmocka_unit_test(test_every_option_has_a_reload_class),
		cmocka_unit_test(test_reload_classes),
		cmocka_unit_test(test_diff_ignores_stale_bytes),
		cmocka_unit_test(test_take_live),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
