/* test_btblockctl.c - btblockctl: argument parsing, replies, table, top and Prometheus rendering
 * (prometheus.c). */
#define main btblockctl_main
int btblockctl_main(int argc, char **argv);
#include "../../src/btblockctl.c"
#undef main
#include "../../src/prometheus.c"

#include <stdarg.h>
#include <setjmp.h>
#include <cmocka.h>

/* A stats document as btblockd sends it, with two queues: queue 3 has no
 * kernel counters (not in procfs), and a hostile detector name and an
 * unknown future field ("bad-name") that must come out well-formed. */
static const char stats_doc[] =
	"{\"version\":\"0.1.0\",\"uptime_s\":93784,\"mode\":\"enforce\",\"fail_open\":false,"
	"\"totals\":{\"packets\":1500,\"bytes\":900000,\"accepted\":1500,"
	"\"marked_allow\":40,\"marked_block\":9,\"enobufs\":2,\"flows_active\":12,"
	"\"stalled_workers\":1},"
	"\"detectors\":{\"bt-handshake\":5,\"dht\":3,\"we\\\"ird\\\\\":1},"
	"\"queues\":["
	"{\"queue\":2,\"cpu\":0,\"numa_node\":0,\"packets\":1000,\"bytes\":600000,"
	"\"accepted\":1000,\"marked_allow\":30,\"marked_block\":6,"
	"\"enobufs\":2,\"bad-name\":4,\"bans_requested\":2,\"flow_only_blocks\":1,"
	"\"flows\":{\"active\":7,\"inserted\":70,\"stream_heads_exhausted\":1},"
	"\"inspected_packets\":800,\"endpoint_cache_size\":11,"
	"\"last_progress_ms\":2500,\"stalled\":true,\"future_flag\":false,"
	"\"kernel\":{\"queue_total\":3,\"queue_dropped\":17,\"user_dropped\":4,"
	"\"id_sequence\":1000}},"
	"{\"queue\":3,\"cpu\":1,\"numa_node\":0,\"packets\":500,\"bytes\":300000,"
	"\"accepted\":500,\"marked_allow\":10,\"marked_block\":3,"
	"\"enobufs\":0,\"flows\":{\"active\":5,\"inserted\":20,\"stream_heads_exhausted\":0},"
	"\"inspected_packets\":400,\"endpoint_cache_size\":2,\"last_progress_ms\":20,"
	"\"stalled\":false,\"kernel\":null}],"
	"\"detect_log\":{\"written\":8,\"suppressed\":1},"
	"\"ruleset\":{\"loaded\":true,\"age_ms\":700,\"bans\":40,\"bans_failed\":3,"
	"\"ban_sets\":{\"ban4\":{\"size\":65536,\"timeout_s\":3600},\"ban6\":null}},"
	"\"control\":{\"busy\":2,\"overlong\":1,\"timeouts\":0}}";

static json_t *load(const char *text)
{
	json_error_t e;
	json_t *doc = json_loads(text, 0, &e);

	assert_non_null(doc);
	return doc;
}

/* Run a renderer into a string; returns its status, *out malloc'ed. */
static int render(int (*fn)(const json_t *, FILE *), const json_t *doc, char **out)
{
	size_t len;
	FILE *f = open_memstream(out, &len);
	int r;

	assert_non_null(f);
	r = fn(doc, f);
	fclose(f);
	return r;
}

static int has_line(const char *text, const char *line)
{
	size_t l = strlen(line);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, line, l) == 0 && (p[l] == '\n' || p[l] == '\0'))
			return 1;
	return 0;
}

static int count_substr(const char *text, const char *needle)
{
	int n = 0;

	for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

static void test_prometheus_counters_and_gauges(void **state)
{
	json_t *doc = load(stats_doc);
	char *out = NULL;

	(void)state;
	assert_int_equal(render(prom_render, doc, &out), 0);
	assert_true(has_line(out, "# TYPE btblockd_packets_total counter"));
	assert_true(has_line(out, "btblockd_packets_total{queue=\"2\"} 1000"));
	assert_true(has_line(out, "btblockd_packets_total{queue=\"3\"} 500"));
	assert_true(has_line(out, "btblockd_bytes_total{queue=\"3\"} 300000"));
	assert_true(has_line(out, "btblockd_enobufs_total{queue=\"2\"} 2"));
	/* nested objects flattened, levels are gauges without _total */
	assert_true(has_line(out, "# TYPE btblockd_flows_active gauge"));
	assert_true(has_line(out, "btblockd_flows_active{queue=\"2\"} 7"));
	assert_true(has_line(out, "btblockd_flows_inserted_total{queue=\"3\"} 20"));
	assert_true(has_line(out, "# TYPE btblockd_endpoint_cache_size gauge"));
	assert_true(has_line(out, "btblockd_endpoint_cache_size{queue=\"2\"} 11"));
	/* kernel counters: present for queue 2, absent (null) for queue 3 */
	assert_true(has_line(out, "btblockd_kernel_queue_dropped_total{queue=\"2\"} 17"));
	assert_true(has_line(out, "btblockd_kernel_user_dropped_total{queue=\"2\"} 4"));
	assert_true(has_line(out, "# TYPE btblockd_kernel_queue_waiting gauge"));
	assert_true(has_line(out, "btblockd_kernel_queue_waiting{queue=\"2\"} 3"));
	assert_null(strstr(out, "btblockd_kernel_queue_dropped_total{queue=\"3\"}"));
	/* identity of a queue is a label, never a counter */
	assert_null(strstr(out, "btblockd_cpu"));
	assert_true(has_line(out, "btblockd_queue_info{queue=\"3\",cpu=\"1\",numa_node=\"0\"} 1"));
	/* top-level gauges and the per-detector counters */
	assert_true(has_line(out, "btblockd_uptime_seconds 93784"));
	assert_true(has_line(out, "btblockd_fail_open 0"));
	assert_true(has_line(out, "btblockd_info{version=\"0.1.0\",mode=\"enforce\"} 1"));
	assert_true(has_line(out, "# TYPE btblockd_detections_total counter"));
	assert_true(has_line(out, "btblockd_detections_total{detector=\"bt-handshake\"} 5"));
	assert_true(has_line(out, "btblockd_detections_total{detector=\"we\\\"ird\\\\\"} 1"));
	assert_true(has_line(out, "btblockd_detect_log_suppressed_total 1"));
	/* an unknown field still comes out, with a valid metric name */
	assert_true(has_line(out, "btblockd_bad_name_total{queue=\"2\"} 4"));
	/* bans requested and flow-only blocks, with their own help */
	assert_true(has_line(out, "btblockd_bans_requested_total{queue=\"2\"} 2"));
	assert_true(has_line(out, "btblockd_flow_only_blocks_total{queue=\"2\"} 1"));
	assert_non_null(strstr(out, "# HELP btblockd_flow_only_blocks_total Flows blocked without a ban"));
	/* the kernel ruleset as the daemon read it; a set without size is left out */
	assert_true(has_line(out, "btblockd_ruleset_loaded 1"));
	assert_true(has_line(out, "# TYPE btblockd_ruleset_bans_total counter"));
	assert_true(has_line(out, "btblockd_ruleset_bans_total 40"));
	assert_true(has_line(out, "btblockd_ruleset_bans_failed_total 3"));
	assert_true(has_line(out, "# TYPE btblockd_ban_set_size gauge"));
	assert_true(has_line(out, "btblockd_ban_set_size{set=\"ban4\"} 65536"));
	assert_null(strstr(out, "set=\"ban6\""));
	/* totals are not exported: they would double every sum() */
	assert_null(strstr(out, "1500"));
	free(out);
	json_decref(doc);
}

/* Each family: one HELP, one TYPE, and its samples right after them. */
static void test_prometheus_families_grouped(void **state)
{
	json_t *doc = load(stats_doc);
	char *out = NULL, *copy, *line, *save = NULL;
	char current[160] = "";
	int types = 0, samples = 0;

	(void)state;
	assert_int_equal(render(prom_render, doc, &out), 0);
	assert_int_equal(count_substr(out, "# TYPE btblockd_packets_total "), 1);
	assert_int_equal(count_substr(out, "# HELP btblockd_packets_total "), 1);
	copy = strdup(out);
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[160];

		if (strncmp(line, "# HELP ", 7) == 0)
			continue;
		if (sscanf(line, "# TYPE %159s", current) == 1) {
			types++;
			continue;
		}
		assert_int_equal(sscanf(line, "%159[a-zA-Z0-9_]", name), 1);
		assert_string_equal(name, current);	/* sample under its own TYPE */
		assert_non_null(strchr(line, ' '));
		samples++;
	}
	assert_int_equal(types, 37);
	assert_true(samples > types);
	free(copy);
	free(out);
	json_decref(doc);
}

/* The heartbeat and the stall as gauges in seconds, never counters; the
 * control socket's refusals; btblockd_up. */
static void test_prometheus_health(void **state)
{
	json_t *doc = load(stats_doc);
	char *out = NULL;

	(void)state;
	assert_int_equal(render(prom_render, doc, &out), 0);
	assert_true(has_line(out, "# TYPE btblockd_up gauge"));
	assert_true(has_line(out, "btblockd_up 1"));
	assert_true(has_line(out, "# TYPE btblockd_worker_last_progress_seconds gauge"));
	assert_true(has_line(out, "btblockd_worker_last_progress_seconds{queue=\"2\"} 2.500"));
	assert_true(has_line(out, "btblockd_worker_last_progress_seconds{queue=\"3\"} 0.020"));
	assert_true(has_line(out, "# TYPE btblockd_worker_stalled gauge"));
	assert_true(has_line(out, "btblockd_worker_stalled{queue=\"2\"} 1"));
	assert_true(has_line(out, "btblockd_worker_stalled{queue=\"3\"} 0"));
	assert_true(has_line(out, "# TYPE btblockd_stalled_workers gauge"));
	assert_true(has_line(out, "btblockd_stalled_workers 1"));
	assert_null(strstr(out, "last_progress_ms"));
	assert_null(strstr(out, "btblockd_stalled_total"));
	/* an unknown boolean is a state, not a counter */
	assert_true(has_line(out, "# TYPE btblockd_future_flag gauge"));
	assert_true(has_line(out, "btblockd_future_flag{queue=\"2\"} 0"));
	assert_true(has_line(out, "# TYPE btblockd_control_busy_total counter"));
	assert_true(has_line(out, "btblockd_control_busy_total 2"));
	assert_true(has_line(out, "btblockd_control_overlong_total 1"));
	assert_true(has_line(out, "btblockd_control_timeouts_total 0"));
	free(out);
	json_decref(doc);

	/* No answer: btblockd_up 0 alone, a valid scrape. */
	out = NULL;
	{
		size_t len;
		FILE *f = open_memstream(&out, &len);

		assert_non_null(f);
		prom_render_down(f);
		fclose(f);
	}
	assert_string_equal(out, "# HELP btblockd_up 1 when btblockd answered btblockctl, 0 when it did not.\n"
				 "# TYPE btblockd_up gauge\nbtblockd_up 0\n");
	free(out);
}

static void test_prometheus_rejects_document_without_queues(void **state)
{
	json_t *doc = load("{\"version\":\"0.1.0\",\"queues\":{}}");
	char *out = NULL;

	(void)state;
	assert_int_equal(render(prom_render, doc, &out), -1);
	free(out);
	json_decref(doc);
}

static void test_prometheus_name_and_label_escaping(void **state)
{
	char name[16];
	char *out = NULL;
	size_t len;
	FILE *f;

	(void)state;
	prom_name(name, sizeof(name), "a-b c", "d.e");
	assert_string_equal(name, "a_b_c_d_e");
	prom_name(name, sizeof(name), "very_long_metric_name", NULL);
	assert_string_equal(name, "very_long_metri");	/* truncated, terminated */
	f = open_memstream(&out, &len);
	prom_label_value(f, "x\"y\\z\nw");
	fclose(f);
	assert_string_equal(out, "x\\\"y\\\\z\\nw");
	free(out);
}

static void test_table(void **state)
{
	json_t *doc = load(stats_doc);
	char *out = NULL;

	(void)state;
	assert_int_equal(render(render_table, doc, &out), 0);
	assert_true(has_line(out, "btblockd 0.1.0  mode enforce  fail-closed  uptime 1d 02:03:04"));
	/* queue 2: packets bytes accepted allow block flows kdrop enobufs */
	assert_true(has_line(out, "2         0         1000       600000         1000"
			     "           30            6            7           21            2"));
	assert_true(has_line(out, "3         1          500       300000          500"
			     "           10            3            5            0            0"));
	/* total row: from totals, kernel drops summed over queues */
	assert_true(has_line(out, "total     -         1500       900000         1500"
			     "           40            9           12           21            2"));
	assert_non_null(strstr(out, "\nbt-handshake                        5\n"));
	assert_true(has_line(out, "ruleset: table inet btblockd loaded; bans 40, failed 3; "
			     "ban set size 65536 (ipv4), 0 (ipv6)"));
	assert_true(has_line(out, "note: 3 bans could not be added because a ban set was full "
			     "(btblockd-firewall --ban-set-size, --ban-time)"));
	json_decref(doc);
	free(out);
	/* A table that is not loaded: one line, no counters, no note. */
	doc = load("{\"totals\":{},\"queues\":[],"
		   "\"ruleset\":{\"loaded\":false,\"error\":\"Operation not permitted\"}}");
	assert_int_equal(render(render_table, doc, &out), 0);
	assert_true(has_line(out, "ruleset: table inet btblockd not loaded: Operation not permitted"));
	assert_null(strstr(out, "note:"));
	json_decref(doc);
	free(out);
	doc = load("{\"queues\":[],\"ruleset\":{\"loaded\":false}}");
	assert_int_equal(render(prom_render, doc, &out), 0);
	assert_true(has_line(out, "btblockd_ruleset_loaded 0"));
	assert_null(strstr(out, "btblockd_ruleset_bans"));
	json_decref(doc);
	free(out);
	doc = load("{\"queues\":[]}");
	assert_int_equal(render(render_table, doc, &out), -1);	/* no totals */
	json_decref(doc);
	free(out);
}

static void test_top_rates(void **state)
{
	json_t *cur = load(stats_doc);
	json_t *prev = load("{\"queues\":[{\"queue\":2,\"packets\":600,\"bytes\":350000,"
			    "\"accepted\":600,\"marked_allow\":10,\"marked_block\":2,"
			    "\"kernel\":{\"queue_dropped\":1,\"user_dropped\":0}},"
			    "{\"queue\":3,\"packets\":9000}]}");
	char *out = NULL;
	size_t len;
	FILE *f = open_memstream(&out, &len);

	(void)state;
	assert_int_equal(render_top(prev, cur, 2.0, f), 0);
	fclose(f);
	/* queue 2 over 2 s: 200 pkt/s, 1 Mbit/s, 200 accept/s, 10 allow/s,
	 * 2 block/s, 7 flows, (21-1)/2 = 10 kernel drops/s */
	assert_true(has_line(out, "2           200.0      1.00      200.0      10.0"
			     "       2.0         7     10.0"));
	/* queue 3's counter went down (daemon restarted): counted from 0 */
	assert_true(has_line(out, "3           250.0      1.20      250.0       5.0"
			     "       1.5         5      0.0"));
	assert_true(has_line(out, "total       450.0      2.20      450.0      15.0"
			     "       3.5        12     10.0"));
	assert_non_null(strstr(out, "rates over the last 2.0 s"));
	free(out);
	json_decref(prev);
	json_decref(cur);
}

static int parse(struct ctl_options *o, ...)
{
	char *argv[16] = { (char *)"btblockctl" };
	int argc = 1;
	va_list ap;

	va_start(ap, o);
	while (argc < 15 && (argv[argc] = va_arg(ap, char *)) != NULL)
		argc++;
	va_end(ap);
	return parse_args(argc, argv, o);
}

static void test_parse_args(void **state)
{
	struct ctl_options o;

	(void)state;
	assert_int_equal(parse(&o, "stats", NULL), 0);
	assert_int_equal(o.command, CMD_STATS);
	assert_string_equal(o.socket_path, CTL_DEFAULT_SOCKET);
	assert_string_equal(o.pidfile, CTL_DEFAULT_PIDFILE);
	assert_string_equal(o.socket_fallbacks[0], RUNSTATEDIR "/btblockd/btblockd.sock");
	assert_string_equal(o.pidfile_fallbacks[0], RUNSTATEDIR "/btblockd/btblockd.pid");
	assert_null(o.socket_fallbacks[1]);
	assert_null(o.pidfile_fallbacks[1]);
	assert_int_equal(o.timeout_ms, 5000);
	assert_int_equal(parse(&o, "-s", "/x.sock", "stats", "--table", NULL), 0);
	assert_string_equal(o.socket_path, "/x.sock");
	assert_null(o.socket_fallbacks);	/* a path given is the only one tried */
	assert_non_null(o.pidfile_fallbacks);
	assert_int_equal(o.table, 1);
	assert_int_equal(parse(&o, "top", "--count=3", "--socket=/y", "--timeout", "2", NULL), 0);
	assert_int_equal(o.count, 3);
	assert_string_equal(o.socket_path, "/y");
	assert_int_equal(o.timeout_ms, 2000);
	assert_int_equal(parse(&o, "-n7", "top", "-p", "/p.pid", NULL), 0);
	assert_int_equal(o.count, 7);
	assert_string_equal(o.pidfile, "/p.pid");
	assert_null(o.pidfile_fallbacks);
	assert_int_equal(parse(&o, "--help", NULL), 0);
	assert_int_equal(o.help, 1);
	assert_int_equal(parse(&o, "-V", NULL), 0);
	assert_int_equal(o.version, 1);
	/* usage errors: exit status 2 */
	assert_int_equal(parse(&o, NULL), CTL_USAGE);
	assert_int_equal(parse(&o, "frobnicate", NULL), CTL_USAGE);
	assert_int_equal(parse(&o, "stats", "version", NULL), CTL_USAGE);
	assert_int_equal(parse(&o, "top", "--table", NULL), CTL_USAGE);
	assert_int_equal(parse(&o, "stats", "-n", "2", NULL), CTL_USAGE);
	assert_int_equal(parse(&o, "top", "-n", "0", NULL), CTL_USAGE);
	assert_int_equal(parse(&o, "top", "-n", "2x", NULL), CTL_USAGE);
	assert_int_equal(parse(&o, "top", "-n", NULL), CTL_USAGE);
	assert_int_equal(parse(&o, "stats", "-s", NULL), CTL_USAGE);
	assert_int_equal(parse(&o, "stats", "--timeout=0", NULL), CTL_USAGE);
	assert_int_equal(parse(&o, "stats", "--timeout=301", NULL), CTL_USAGE);
	assert_int_equal(parse(&o, "stats", "--bogus", NULL), CTL_USAGE);
	assert_int_equal(parse(&o, "--", "-s", NULL), CTL_USAGE);
	/* Only the spellings btblockctl always took: the value attached
	 * ("-sPATH", "--opt=value") or next; no abbreviations, no clusters. */
	assert_int_equal(parse(&o, "stats", "-s/z.sock", "-p=/q", NULL), 0);
	assert_string_equal(o.socket_path, "/z.sock");
	assert_string_equal(o.pidfile, "=/q");
	assert_int_equal(parse(&o, "stats", "--socket", "--timeout", NULL), 0);
	assert_string_equal(o.socket_path, "--timeout");
	assert_int_equal(parse(&o, "stats", "--tab", NULL), CTL_USAGE);
	assert_int_equal(parse(&o, "stats", "--sock=/x", NULL), CTL_USAGE);
	assert_int_equal(parse(&o, "stats", "-th", NULL), CTL_USAGE);
	assert_int_equal(parse(&o, "top", "-tn5", NULL), CTL_USAGE);
	assert_int_equal(parse(&o, "stats", "--table=1", NULL), CTL_USAGE);
	assert_int_equal(parse(&o, "-", NULL), CTL_USAGE);	/* a word: no such command */
	/* A usage error in the middle of a cluster does not leak into the
	 * next parse. */
	assert_int_equal(parse(&o, "-tx", "stats", NULL), CTL_USAGE);
	assert_int_equal(parse(&o, "stats", "-t", NULL), 0);
	assert_int_equal(o.table, 1);
}

static void test_parse_bans_args(void **state)
{
	struct ctl_options o;

	(void)state;
	assert_int_equal(parse(&o, "bans", NULL), 0);
	assert_int_equal(o.command, CMD_BANS);
	assert_int_equal(o.json, 0);
	assert_int_equal(parse(&o, "--json", "bans", NULL), 0);
	assert_int_equal(o.json, 1);
	assert_int_equal(parse(&o, "unban", "10.0.0.2", NULL), 0);
	assert_int_equal(o.command, CMD_UNBAN);
	assert_int_equal(o.spec.family, 4);
	assert_int_equal(o.spec.prefix, 32);
	assert_int_equal(parse(&o, "unban", "--mark-mask=0xff00", "2001:db8::/48",
			       "--mark-block", "0x100", "--mark-reject", "512", NULL), 0);
	assert_int_equal(o.spec.family, 6);
	assert_int_equal(o.spec.prefix, 48);
	assert_int_equal(o.marks[0], 0xff00);
	assert_int_equal(o.marks[1], 0x100);
	assert_int_equal(o.marks[2], 512);
	/* marks above 2^31 - 1, where a long has 32 bits too */
	assert_int_equal(parse(&o, "unban", "10.0.0.1", "--mark-mask", "0xffffffff",
			       "--mark-block=0x80000000", "--mark-reject", "4294967295", NULL), 0);
	assert_int_equal(o.marks[0], 0xffffffffu);
	assert_int_equal(o.marks[1], 0x80000000u);
	assert_int_equal(o.marks[2], 0xffffffffu);
	/* an address that looks like an option still is one after -- */
	assert_int_equal(parse(&o, "unban", "--", "::1", NULL), 0);
	/* usage errors */
	assert_int_equal(parse(&o, "unban", NULL), CTL_USAGE);
	assert_int_equal(parse(&o, "unban", "10.0.0.256", NULL), CTL_USAGE);
	assert_int_equal(parse(&o, "unban", "10.0.0.0/33", NULL), CTL_USAGE);
	assert_int_equal(parse(&o, "unban", "10.0.0.1", "10.0.0.2", NULL), CTL_USAGE);
	assert_int_equal(parse(&o, "unban", "10.0.0.1", "--mark-mask", "0", NULL), CTL_USAGE);
	assert_int_equal(parse(&o, "unban", "10.0.0.1", "--mark-mask", "0x1ffffffff", NULL),
			 CTL_USAGE);
	assert_int_equal(parse(&o, "unban", "10.0.0.1", "--mark-mask", "18446744073709551616",
			       NULL), CTL_USAGE);
	assert_int_equal(parse(&o, "unban", "10.0.0.1", "--mark-mask", "-1", NULL), CTL_USAGE);
	assert_int_equal(parse(&o, "unban", "10.0.0.1", "--mark-block", NULL), CTL_USAGE);
	assert_int_equal(parse(&o, "unban", "10.0.0.1", "--json", NULL), CTL_USAGE);
	assert_int_equal(parse(&o, "bans", "10.0.0.1", NULL), CTL_USAGE);
	assert_int_equal(parse(&o, "bans", "--mark-mask", "1", NULL), CTL_USAGE);
	assert_int_equal(parse(&o, "stats", "--json", NULL), CTL_USAGE);
}

static void test_parse_detections_and_who(void **state)
{
	struct ctl_options o;

	(void)state;
	assert_int_equal(parse(&o, "detections", NULL), 0);
	assert_int_equal(o.command, CMD_DETECTIONS);
	assert_int_equal(o.json, 0);
	assert_int_equal(parse(&o, "--json", "detections", NULL), 0);
	assert_int_equal(o.json, 1);
	assert_int_equal(parse(&o, "who", "198.51.100.1:40000", "--at", "2026-12-03T10:15:00Z",
			       "--log=/var/log/d.log", "--window", "60", NULL), 0);
	assert_int_equal(o.command, CMD_WHO);
	assert_string_equal(o.who, "198.51.100.1:40000");
	assert_string_equal(o.at, "2026-12-03T10:15:00Z");
	assert_string_equal(o.log, "/var/log/d.log");
	assert_int_equal(o.window_s, 60);
	assert_int_equal(parse(&o, "who", "[2001:db8::5]:1", NULL), 0);
	assert_null(o.at);
	assert_int_equal(o.window_s, WHO_DEFAULT_WINDOW_S);
	/* usage errors */
	assert_int_equal(parse(&o, "who", NULL), CTL_USAGE);
	assert_int_equal(parse(&o, "who", "a:1", "b:2", NULL), CTL_USAGE);
	assert_int_equal(parse(&o, "who", "a:1", "--at", NULL), CTL_USAGE);
	assert_int_equal(parse(&o, "who", "a:1", "--window", "-1", NULL), CTL_USAGE);
	assert_int_equal(parse(&o, "stats", "--json", NULL), CTL_USAGE);
	assert_int_equal(parse(&o, "detections", "--at", "1", NULL), CTL_USAGE);
	assert_int_equal(parse(&o, "stats", "--log", "/x", NULL), CTL_USAGE);
	/* a bad address or time: exit status 2 before any file is read */
	assert_int_equal(parse(&o, "who", "198.51.100.1", "--log", "/nonexistent", NULL), 0);
	assert_int_equal(cmd_who(&o), CTL_USAGE);
	assert_int_equal(parse(&o, "who", "198.51.100.1:5", "--at", "noon", "--log", "/nonexistent",
			       NULL), 0);
	assert_int_equal(cmd_who(&o), CTL_USAGE);
	/* a good query on a log that cannot be read: 1 */
	assert_int_equal(parse(&o, "who", "198.51.100.1:5", "--log", "/nonexistent", NULL), 0);
	assert_int_equal(cmd_who(&o), CTL_FAIL);
}

static void test_parse_check(void **state)
{
	struct ctl_options o;

	(void)state;
	assert_int_equal(parse(&o, "check", NULL), 0);
	assert_int_equal(o.command, CMD_CHECK);
	assert_int_equal(o.hooks, 0);	/* the command makes it forward */
	assert_int_equal(o.json, 0);
	assert_int_equal(parse(&o, "--json", "check", "--hooks", "forward,input", NULL), 0);
	assert_int_equal(o.json, 1);
	assert_int_equal(o.hooks, SC_HOOK_FORWARD | SC_HOOK_INPUT);
	assert_int_equal(parse(&o, "check", "--hooks=output", "-s", "/x", NULL), 0);
	assert_int_equal(o.hooks, SC_HOOK_OUTPUT);
	assert_string_equal(o.socket_path, "/x");
	/* usage errors */
	assert_int_equal(parse(&o, "check", "--hooks", NULL), CTL_USAGE);
	assert_int_equal(parse(&o, "check", "--hooks", "prerouting", NULL), CTL_USAGE);
	assert_int_equal(parse(&o, "check", "--hooks=", NULL), CTL_USAGE);
	assert_int_equal(parse(&o, "stats", "--hooks", "forward", NULL), CTL_USAGE);
	assert_int_equal(parse(&o, "check", "--table", NULL), CTL_USAGE);
	assert_int_equal(parse(&o, "check", "extra", NULL), CTL_USAGE);
}

/* who on a log and its rotated part: both read, the answer's columns. */
static void test_who_search(void **state)
{
	char dir[] = "/tmp/test_btblockctl.XXXXXX", path[96], old[100];
	struct who_query q = { .window_s = 600 };
	char *out = NULL;
	size_t len;
	int header = 0;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/d.log", dir);
	snprintf(old, sizeof(old), "%s.1", path);
	f = fopen(old, "w");
	assert_non_null(f);
	fputs("{\"time\":\"2026-12-03T10:15:00.123Z\",\"lan\":\"192.168.1.10:51413\","
	      "\"mac\":\"02:00:5e:00:01:10\",\"host\":\"laptop\","
	      "\"nat\":{\"public\":\"198.51.100.1:40000\"},\"remote\":\"203.0.113.7:6881\","
	      "\"in\":\"br-lan\",\"out\":\"wan\",\"detector\":\"bt-handshake\","
	      "\"action\":\"block\"}\n{\"suppressed\":3,\"rate\":50}\n", f);
	fclose(f);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("{\"time\":\"2026-12-03T10:20:00.000Z\",\"lan\":\"192.168.1.11:1\","
	      "\"nat\":{\"public\":\"198.51.100.1:40000\"}}\n", f);
	fclose(f);
	assert_int_equal(who_parse_endpoint("198.51.100.1:40000", &q.ep), 0);
	f = open_memstream(&out, &len);
	assert_non_null(f);
	assert_int_equal(who_search(old, &q, &header, f), 1);
	assert_int_equal(who_search(path, &q, &header, f), 1);
	assert_int_equal(who_search("/nonexistent", &q, &header, f), -1);
	fclose(f);
	assert_int_equal(count_substr(out, "TIME"), 1);		/* one header */
	assert_non_null(strstr(out, "192.168.1.10:51413"));
	assert_non_null(strstr(out, "02:00:5e:00:01:10"));
	assert_non_null(strstr(out, "laptop"));
	assert_non_null(strstr(out, "br-lan>wan"));
	assert_non_null(strstr(out, "192.168.1.11:1"));
	free(out);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(unlink(old), 0);
	assert_int_equal(rmdir(dir), 0);
}

static void test_prometheus_detections(void **state)
{
	json_t *doc = load("{\"queues\":[],\"detect_log\":{\"written\":1,\"suppressed\":0,"
			   "\"path\":\"/x\"},\"detections\":{\"history\":2,\"nat_translated\":5,"
			   "\"lease_entries\":7,\"exec\":{\"runs\":3,\"failures\":1,"
			   "\"suppressed\":0}}}");
	char *out = NULL;

	(void)state;
	assert_int_equal(render(prom_render, doc, &out), 0);
	assert_true(has_line(out, "btblockd_detections_nat_translated_total 5"));
	assert_true(has_line(out, "# TYPE btblockd_detections_lease_entries gauge"));
	assert_true(has_line(out, "btblockd_detect_exec_runs_total 3"));
	assert_true(has_line(out, "btblockd_detect_exec_failures_total 1"));
	assert_int_equal(count_substr(out, "nat_no_entry"), 0);	/* absent: not invented */
	free(out);
	json_decref(doc);
}

static void test_parse_pid(void **state)
{
	pid_t pid;

	(void)state;
	assert_int_equal(parse_pid("1234\n", &pid), 0);
	assert_int_equal(pid, 1234);
	assert_int_equal(parse_pid("77", &pid), 0);
	assert_int_equal(pid, 77);
	assert_int_equal(parse_pid("", &pid), -1);
	assert_int_equal(parse_pid("-5\n", &pid), -1);
	assert_int_equal(parse_pid(" 5", &pid), -1);
	assert_int_equal(parse_pid("1\n", &pid), -1);	/* never init */
	assert_int_equal(parse_pid("12ab", &pid), -1);
	assert_int_equal(parse_pid("5\n6\n", &pid), -1);
	assert_int_equal(parse_pid("99999999999999999999", &pid), -1);
}

static void test_daemon_pid_refuses_other_processes(void **state)
{
	char path[] = "/tmp/test_btblockctl.XXXXXX";
	char err[CTL_ERR_MAX];
	int fd = mkstemp(path);
	pid_t pid;

	(void)state;
	assert_true(fd >= 0);
	/* our own pid: a live process that is not btblockd */
	dprintf(fd, "%ld\n", (long)getpid());
	close(fd);
	assert_int_equal(daemon_pid(path, &pid, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not btblockd"));
	unlink(path);
	assert_int_equal(daemon_pid(path, &pid, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "No such file or directory: is btblockd running?"));
}

static void test_connect_messages(void **state)
{
	char err[CTL_ERR_MAX], longpath[300];
	int e;

	(void)state;
	assert_int_equal(ctl_connect("/nonexistent/btblockd.sock", 1000, &e, err, sizeof(err)), -1);
	assert_int_equal(e, ENOENT);
	assert_string_equal(err, "cannot connect to /nonexistent/btblockd.sock: "
			    "No such file or directory: is btblockd running?");
	connect_error(RUNSTATEDIR "/btblockd.sock", EACCES, 5000, err, sizeof(err));
	assert_non_null(strstr(err, "cannot connect to " RUNSTATEDIR "/btblockd.sock: Permission denied: "));
	assert_non_null(strstr(err, "as root"));
	connect_error("/s", EAGAIN, 5000, err, sizeof(err));
	assert_non_null(strstr(err, "within 5 s"));
	/* Too long for a socket address: the length and a bounded part. */
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	assert_int_equal(ctl_connect(longpath, 1000, &e, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "control socket path too long (299 bytes, at most 107): /aaa"));
	assert_int_equal(strlen(err), strlen("control socket path too long (299 bytes, at most 107): ") + 200);
}

static void test_replies(void **state)
{
	char err[CTL_ERR_MAX];
	json_t *doc;

	(void)state;
	doc = ctl_parse_reply("{\"name\":\"btblockd\",\"version\":\"0.1.0\"}", "/s", err, sizeof(err));
	assert_non_null(doc);
	assert_string_equal(jstr(doc, "version", "?"), "0.1.0");
	json_decref(doc);
	assert_null(ctl_parse_reply("{\"error\":\"busy\"}", "/s", err, sizeof(err)));
	assert_non_null(strstr(err, "busy"));
	assert_null(ctl_parse_reply("{\"error\":\"unknown command\",\"command\":\"x\"}", "/s", err,
				    sizeof(err)));
	assert_string_equal(err, "btblockd on /s answered: unknown command");
	assert_null(ctl_parse_reply("[1,2]", "/s", err, sizeof(err)));
	assert_null(ctl_parse_reply("{\"a\":", "/s", err, sizeof(err)));
	assert_non_null(strstr(err, "not a JSON object"));
}

/* The exchange over a socketpair standing in for the daemon. */
static void test_exchange(void **state)
{
	char err[CTL_ERR_MAX], cmd[16];
	int sv[2];
	char *reply;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(write(sv[1], "{\"a\":1}\n", 8), 8);
	reply = ctl_exchange(sv[0], "/s", "stats", 1000, err, sizeof(err));
	assert_non_null(reply);
	assert_string_equal(reply, "{\"a\":1}");
	free(reply);
	assert_int_equal(read(sv[1], cmd, sizeof(cmd)), 6);
	assert_memory_equal(cmd, "stats\n", 6);
	/* no answer at all: bounded by the timeout */
	reply = ctl_exchange(sv[0], "/s", "stats", 1000, err, sizeof(err));
	assert_null(reply);
	assert_string_equal(err, "btblockd on /s did not answer within 1 s");
	/* hung up in the middle of a line */
	assert_int_equal(write(sv[1], "{\"a\"", 4), 4);
	assert_int_equal(shutdown(sv[1], SHUT_WR), 0);
	reply = ctl_exchange(sv[0], "/s", "stats", 1000, err, sizeof(err));
	assert_null(reply);
	assert_string_equal(err, "btblockd on /s closed the connection without an answer");
	close(sv[0]);
	close(sv[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prometheus_counters_and_gauges),
		cmocka_unit_test(test_prometheus_families_grouped),
		cmocka_unit_test(test_prometheus_health),
		cmocka_unit_test(test_prometheus_rejects_document_without_queues),
		cmocka_unit_test(test_prometheus_name_and_label_escaping),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_top_rates),
		cmocka_unit_test(test_parse_args),
		cmocka_unit_test(test_parse_check),
		cmocka_unit_test(test_parse_bans_args),
		cmocka_unit_test(test_parse_detections_and_who),
		cmocka_unit_test(test_who_search),
		cmocka_unit_test(test_prometheus_detections),
		cmocka_unit_test(test_parse_pid),
		cmocka_unit_test(test_daemon_pid_refuses_other_processes),
		cmocka_unit_test(test_connect_messages),
		cmocka_unit_test(test_replies),
		cmocka_unit_test(test_exchange),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
