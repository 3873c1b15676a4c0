/* test_detection.c - a detection named: every field formatted, the NAT
 * mapping read from conntrack's tuples, the history, and the detect-exec
 * launcher end to end (a real program run with the line on its stdin). */
#include "../../src/detection.c"

#include <stdarg.h>
#include <setjmp.h>
#include <cmocka.h>
#include <jansson.h>
#include <libmnl/libmnl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>

static struct detect_event event(void)
{
	struct detect_event e = {
		.wall_ms = 1796292900123ull,	/* 2026-12-03T10:15:00.123Z */
		.saddr = { 192, 168, 1, 10 },
		.daddr = { 203, 0, 113, 7 },
		.sport = 51413,
		.dport = 6881,
		.queue = 2,
		.family = 4,
		.l4 = IPPROTO_TCP,
		.action = DETECT_BLOCK,
		.detector = "bt-handshake",
		.packet_index = 4,
		.indev = 3,
		.outdev = 2,
		.lan = DETECT_LAN_SRC,
		.hwaddr_len = 6,
		.hwaddr = { 2, 0, 0x5e, 0, 1, 0x10 },
	};

	return e;
}

static json_t *format_json(const struct detection *d)
{
	char buf[DETECTION_LINE_MAX];
	int n = detection_format(d, buf, sizeof(buf));
	json_t *doc;

	assert_true(n > 0 && (size_t)n < sizeof(buf) - 1);
	assert_int_equal(strlen(buf), (size_t)n);
	doc = json_loads(buf, JSON_REJECT_DUPLICATES, NULL);
	assert_non_null(doc);
	return doc;
}

static const char *s(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static void test_format_all_fields(void **state)
{
	struct detection d = { .ev = event() };
	json_t *doc;

	(void)state;
	snprintf(d.in, sizeof(d.in), "br-lan");
	snprintf(d.out, sizeof(d.out), "wan");
	d.mac_from = MAC_PACKET;
	memcpy(d.mac, d.ev.hwaddr, 6);
	snprintf(d.host, sizeof(d.host), "laptop");
	d.nat = NAT_TRANSLATED;
	memcpy(d.nat_addr, "\xc6\x33\x64\x01", 4);	/* 198.51.100.1 */
	d.nat_port = 40000;
	doc = format_json(&d);
	assert_string_equal(s(doc, "time"), "2026-12-03T10:15:00.123Z");
	assert_string_equal(s(doc, "lan"), "192.168.1.10:51413");
	assert_string_equal(s(doc, "remote"), "203.0.113.7:6881");
	assert_string_equal(s(doc, "src"), "192.168.1.10:51413");
	assert_string_equal(s(doc, "mac"), "02:00:5e:00:01:10");
	assert_string_equal(s(doc, "mac_from"), "packet");
	assert_string_equal(s(doc, "host"), "laptop");
	assert_string_equal(s(doc, "in"), "br-lan");
	assert_string_equal(s(doc, "out"), "wan");
	assert_string_equal(s(json_object_get(doc, "nat"), "public"), "198.51.100.1:40000");
	assert_string_equal(s(doc, "nat_status"), "translated");
	assert_string_equal(s(doc, "detector"), "bt-handshake");
	assert_string_equal(s(doc, "action"), "block");
	assert_int_equal(json_integer_value(json_object_get(doc, "queue")), 2);
	json_decref(doc);
}

static void test_format_unknowns_and_ipv6(void **state)
{
	struct detection d = { .ev = event() };
	json_t *doc;

	(void)state;
	/* LAN end is the destination, nothing looked up */
	d.ev.lan = DETECT_LAN_DST;
	doc = format_json(&d);
	assert_string_equal(s(doc, "lan"), "203.0.113.7:6881");
	assert_string_equal(s(doc, "remote"), "192.168.1.10:51413");
	assert_true(json_is_null(json_object_get(doc, "mac")));
	assert_true(json_is_null(json_object_get(doc, "mac_from")));
	assert_true(json_is_null(json_object_get(doc, "host")));
	assert_true(json_is_null(json_object_get(doc, "in")));
	assert_true(json_is_null(json_object_get(doc, "nat")));
	assert_string_equal(s(doc, "nat_status"), "not-looked-up");
	json_decref(doc);
	/* neither end protected: said so */
	d.ev.lan = 0;
	d.nat = NAT_NO_ENTRY;
	doc = format_json(&d);
	assert_true(json_is_null(json_object_get(doc, "lan")));
	assert_true(json_is_null(json_object_get(doc, "remote")));
	assert_string_equal(s(doc, "nat_status"), "no-conntrack-entry");
	json_decref(doc);
	/* IPv6, an interface name with a quote and a backslash (Linux allows both) */
	d.ev = event();
	d.ev.family = 6;
	memset(d.ev.saddr, 0, 16);
	d.ev.saddr[0] = 0xfd;
	d.ev.saddr[15] = 0x10;
	snprintf(d.in, sizeof(d.in), "a\"b\\c");
	d.mac_from = MAC_NEIGHBOUR;
	d.nat = NAT_UNTRANSLATED;
	doc = format_json(&d);
	assert_string_equal(s(doc, "lan"), "[fd00::10]:51413");
	assert_string_equal(s(doc, "in"), "a\"b\\c");
	assert_string_equal(s(doc, "mac_from"), "neighbour");
	assert_string_equal(s(doc, "nat_status"), "untranslated");
	json_decref(doc);
}

static void test_format_truncates(void **state)
{
	struct detection d = { .ev = event() };
	char buf[32];

	(void)state;
	assert_int_equal(detection_format(&d, buf, sizeof(buf)), 31);
	assert_int_equal(strlen(buf), 31);
}

/* The escaper shared with the offline mode (json_esc.h). */
static void test_json_escape(void **state)
{
	const char in[] = "a\"b\\c\n\x7f\xc3\xa9";
	char buf[100], name[64];

	(void)state;
	assert_int_equal(json_escape(buf, sizeof(buf), in, 1), 31);
	assert_string_equal(buf, "a\\\"b\\\\c\\u000a\\u007f\\u00c3\\u00a9");
	/* file names: bytes above ASCII copied (UTF-8 stays UTF-8) */
	assert_int_equal(json_escape(buf, sizeof(buf), in, 0), 16);
	assert_string_equal(buf, "a\\\"b\\\\c\\u000a\x7f\xc3\xa9");
	/* cut with room for whole escapes only */
	assert_int_equal(json_escape(buf, 10, "\x01\x02", 0), 6);
	assert_string_equal(buf, "\\u0001");
	assert_int_equal(json_escape(buf, 1, "abc", 0), 0);
	assert_string_equal(buf, "");
	/* a hostile host name longer than its field: cut, still a string */
	memset(name, 0xff, sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	json_str(buf, sizeof(buf), name);
	assert_int_equal(strlen(buf), 98);
	assert_int_equal(buf[0], '"');
	assert_int_equal(buf[97], '"');
	assert_memory_equal(buf + 91, "\\u00ff\"", 7);
	json_str(buf, sizeof(buf), "");
	assert_string_equal(buf, "null");
}

static void tuple(struct netinfo_tuple *t, const char *src, uint16_t sport, const char *dst,
		  uint16_t dport)
{
	memset(t, 0, sizeof(*t));
	assert_int_equal(inet_pton(AF_INET, src, t->src), 1);
	assert_int_equal(inet_pton(AF_INET, dst, t->dst), 1);
	t->sport = sport;
	t->dport = dport;
}

static void test_nat_from_tuples(void **state)
{
	struct detection d = { .ev = event() };
	struct netinfo_tuple o, r;
	const uint8_t *lan = d.ev.saddr;

	(void)state;
	/* masquerade: the reply comes back to the router's public address */
	tuple(&o, "192.168.1.10", 51413, "203.0.113.7", 6881);
	tuple(&r, "203.0.113.7", 6881, "198.51.100.1", 40000);
	nat_from_tuples(&d, lan, 51413, &o, &r);
	assert_int_equal(d.nat, NAT_TRANSLATED);
	assert_memory_equal(d.nat_addr, "\xc6\x33\x64\x01", 4);
	assert_int_equal(d.nat_port, 40000);
	/* no NAT: the reply goes to the LAN address itself */
	tuple(&r, "203.0.113.7", 6881, "192.168.1.10", 51413);
	nat_from_tuples(&d, lan, 51413, &o, &r);
	assert_int_equal(d.nat, NAT_UNTRANSLATED);
	/* a forwarded port: the world connected to the public address */
	tuple(&o, "203.0.113.7", 6881, "198.51.100.1", 51413);
	tuple(&r, "192.168.1.10", 51413, "203.0.113.7", 6881);
	nat_from_tuples(&d, lan, 51413, &o, &r);
	assert_int_equal(d.nat, NAT_TRANSLATED);
	assert_memory_equal(d.nat_addr, "\xc6\x33\x64\x01", 4);
	assert_int_equal(d.nat_port, 51413);
	/* tuples of another connection: no claim */
	tuple(&o, "192.168.1.99", 1, "203.0.113.7", 6881);
	tuple(&r, "203.0.113.7", 6881, "198.51.100.1", 2);
	nat_from_tuples(&d, lan, 51413, &o, &r);
	assert_int_equal(d.nat, NAT_UNTRANSLATED);
}

static void put_tuple(struct nlmsghdr *nlh, uint16_t type, const struct netinfo_tuple *t, int ports)
{
	struct nlattr *nest = mnl_attr_nest_start(nlh, type), *ip, *proto;

	ip = mnl_attr_nest_start(nlh, CTA_TUPLE_IP);
	mnl_attr_put(nlh, CTA_IP_V4_SRC, 4, t->src);
	mnl_attr_put(nlh, CTA_IP_V4_DST, 4, t->dst);
	mnl_attr_nest_end(nlh, ip);
	proto = mnl_attr_nest_start(nlh, CTA_TUPLE_PROTO);
	mnl_attr_put_u8(nlh, CTA_PROTO_NUM, IPPROTO_TCP);
	mnl_attr_put_u16(nlh, CTA_PROTO_SRC_PORT, htons(t->sport));
	if (ports)
		mnl_attr_put_u16(nlh, CTA_PROTO_DST_PORT, htons(t->dport));
	mnl_attr_nest_end(nlh, proto);
	mnl_attr_nest_end(nlh, nest);
}

static void test_parse_conntrack(void **state)
{
	uint8_t buf[1024];
	struct nlmsghdr *nlh;
	struct netinfo_tuple o, r, go, gr;

	(void)state;
	tuple(&o, "192.168.1.10", 51413, "203.0.113.7", 6881);
	tuple(&r, "203.0.113.7", 6881, "198.51.100.1", 40000);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW;
	mnl_nlmsg_put_extra_header(nlh, sizeof(struct nfgenmsg));
	mnl_attr_put_u32(nlh, CTA_MARK, htonl(0x00b10000));	/* passed over */
	put_tuple(nlh, CTA_TUPLE_ORIG, &o, 1);
	put_tuple(nlh, CTA_TUPLE_REPLY, &r, 1);
	assert_int_equal(netinfo_parse_conntrack(buf, nlh->nlmsg_len, 4, &go, &gr), 0);
	assert_memory_equal(&go, &o, sizeof(o));
	assert_memory_equal(&gr, &r, sizeof(r));
	/* cut anywhere (the reply tuple is last): refused, never read past the end */
	for (uint32_t len = 0; len < nlh->nlmsg_len; len++) {
		uint32_t full = nlh->nlmsg_len;

		nlh->nlmsg_len = len;
		assert_int_equal(netinfo_parse_conntrack(buf, len, 4, &go, &gr), -1);
		nlh->nlmsg_len = full;
	}
	/* the wrong family, a reply tuple without its destination port */
	assert_int_equal(netinfo_parse_conntrack(buf, nlh->nlmsg_len, 6, &go, &gr), -1);
	nlh = mnl_nlmsg_put_header(buf);
	mnl_nlmsg_put_extra_header(nlh, sizeof(struct nfgenmsg));
	put_tuple(nlh, CTA_TUPLE_ORIG, &o, 1);
	put_tuple(nlh, CTA_TUPLE_REPLY, &r, 0);
	assert_int_equal(netinfo_parse_conntrack(buf, nlh->nlmsg_len, 4, &go, &gr), -1);
}

static void test_build_without_lookups(void **state)
{
	struct detection_counters ctr = { .window_s = -1 };
	struct detect_event e = event();
	struct detection d;

	(void)state;
	detection_build(&d, &e, NULL, NULL, 100, &ctr);
	assert_memory_equal(&d.ev, &e, sizeof(e));
	assert_int_equal(d.nat, NAT_SKIPPED);
	assert_int_equal(d.mac_from, MAC_NONE);
	assert_int_equal(ctr.lookups_skipped, 0);
}

static void test_lan_sides(void **state)
{
	struct protect_set p;
	struct pkt_view v = { .family = 4, .saddr = { 192, 168, 1, 10 }, .daddr = { 203, 0, 113, 7 } };

	(void)state;
	protect_defaults(&p);
	assert_int_equal(detection_lan_sides(&p, &v), DETECT_LAN_SRC);
	v.flags = PKT_F_OUT_PROTECTED;
	assert_int_equal(detection_lan_sides(&p, &v), DETECT_LAN_SRC | DETECT_LAN_DST);
	assert_int_equal(protect_parse(&p, "none"), 0);
	v.flags = 0;
	assert_int_equal(detection_lan_sides(&p, &v), 0);
	v.flags = PKT_F_IN_PROTECTED;
	assert_int_equal(detection_lan_sides(&p, &v), DETECT_LAN_SRC);
}

static void test_history(void **state)
{
	static struct detection_history h;
	struct detection d = { .ev = event() };
	json_t *doc, *list;
	char *txt;

	(void)state;
	txt = detection_history_json(&h, DETECTION_REPLY_MAX);
	assert_string_equal(txt, "{\"omitted\":0,\"detections\":[]}");
	free(txt);
	for (uint32_t i = 0; i < DETECTION_HISTORY + 5; i++) {
		d.ev.packet_index = i;
		snprintf(d.host, sizeof(d.host), "host-%u-with-a-rather-long-name-to-fill-the-line", i);
		detection_history_add(&h, &d);
	}
	txt = detection_history_json(&h, DETECTION_REPLY_MAX);
	assert_true(strlen(txt) <= DETECTION_REPLY_MAX);
	doc = json_loads(txt, 0, NULL);
	free(txt);
	assert_non_null(doc);
	list = json_object_get(doc, "detections");
	assert_int_equal(json_array_size(list), DETECTION_HISTORY);
	assert_int_equal(json_integer_value(json_object_get(doc, "omitted")), 0);
	/* oldest first: the 5 oldest were pushed out */
	assert_int_equal(json_integer_value(json_object_get(json_array_get(list, 0), "packet")), 5);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(list, DETECTION_HISTORY - 1),
							    "packet")), DETECTION_HISTORY + 4);
	json_decref(doc);
	/* a smaller cap: the oldest give way, the newest stay, the count is said */
	txt = detection_history_json(&h, 4000);
	assert_true(strlen(txt) <= 4000);
	doc = json_loads(txt, 0, NULL);
	free(txt);
	assert_non_null(doc);
	list = json_object_get(doc, "detections");
	assert_true(json_array_size(list) > 0 && json_array_size(list) < DETECTION_HISTORY);
	assert_int_equal(json_integer_value(json_object_get(doc, "omitted")) +
			 (json_int_t)json_array_size(list), DETECTION_HISTORY);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(list,
						json_array_size(list) - 1), "packet")),
			 DETECTION_HISTORY + 4);
	json_decref(doc);
	txt = detection_history_json(&h, 10);	/* nothing fits */
	assert_string_equal(txt, "{\"omitted\":256,\"detections\":[]}");
	free(txt);
}

/* The capability lines of the program's /proc/self/status: none may
 * hold CAP_NET_ADMIN (bit 12), ambient included, whoever runs the test
 * (root, or a user with an ambient CAP_NET_ADMIN as procd and systemd
 * give the daemon). */
static void assert_no_net_admin(const char *path)
{
	char line[128];
	int seen = 0;
	FILE *f = fopen(path, "r");

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned long long caps;

		assert_int_equal(sscanf(strchr(line, ':') + 1, "%llx", &caps), 1);
		assert_int_equal(caps & (1ull << 12), 0);
		seen++;
	}
	fclose(f);
	assert_int_equal(seen, 4);	/* CapInh, CapPrm, CapEff, CapAmb */
}

/* The launcher forked, a real program run with the line on stdin, the
 * counters reported back; a second run in the same minute is over rate. */
static void test_detect_exec(void **state)
{
	char dir[] = "/tmp/test_detection.XXXXXX", prog[128], out[128], caps[136], err[256];
	char got[256];
	struct detect_exec x;
	FILE *f;
	int i;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(prog, sizeof(prog), "%s/hook", dir);
	snprintf(out, sizeof(out), "%s/out", dir);
	snprintf(caps, sizeof(caps), "%s.caps", out);
	f = fopen(prog, "w");
	assert_non_null(f);
	fprintf(f, "#!/bin/sh\ngrep -E '^Cap(Inh|Prm|Eff|Amb):' /proc/self/status >%s\n"
		"cat >%s.tmp && mv %s.tmp %s\n", caps, out, out, out);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(prog, 0755), 0);
	assert_int_equal(detect_exec_start(&x, "/nonexistent/hook", 1, 0, 0, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent/hook"));
	assert_int_equal(detect_exec_start(&x, prog, 1, 0, 0, err, sizeof(err)), 0);
	detect_exec_send(&x, "{\"detector\":\"bt-handshake\"}", 60);
	detect_exec_send(&x, "{\"detector\":\"second\"}", 61);	/* same minute: over the rate */
	assert_int_equal(x.suppressed, 1);
	/* bounded wait for the launcher's report and the program's output */
	for (i = 0; i < 1000 && (x.runs < 1 || access(out, F_OK) < 0); i++) {
		struct timespec nap = { .tv_nsec = 10 * 1000000 };

		detect_exec_poll(&x);
		nanosleep(&nap, NULL);
	}
	assert_int_equal(x.runs, 1);
	f = fopen(out, "r");
	assert_non_null(f);
	assert_non_null(fgets(got, sizeof(got), f));
	fclose(f);
	assert_string_equal(got, "{\"detector\":\"bt-handshake\"}\n");
	assert_int_equal(x.failures, 0);
	assert_no_net_admin(caps);
	detect_exec_stop(&x);
	assert_int_equal(waitpid(x.launcher, NULL, 0), x.launcher);	/* it leaves on EOF */
	assert_int_equal(unlink(out), 0);
	assert_int_equal(unlink(caps), 0);
	assert_int_equal(unlink(prog), 0);
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_all_fields),
		cmocka_unit_test(test_format_unknowns_and_ipv6),
		cmocka_unit_test(test_format_truncates),
		cmocka_unit_test(test_json_escape),
		cmocka_unit_test(test_nat_from_tuples),
		cmocka_unit_test(test_parse_conntrack),
		cmocka_unit_test(test_build_without_lookups),
		cmocka_unit_test(test_lan_sides),
		cmocka_unit_test(test_history),
		cmocka_unit_test(test_detect_exec),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
