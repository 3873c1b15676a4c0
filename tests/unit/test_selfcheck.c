/* test_selfcheck.c - btblockctl check without the kernel (src/selfcheck.c):
 * the lines of nfnetlink_queue, iptables -S and the route tables, hooks,
 * the stats document, the judgements of ban set fill, offload rules and
 * bridges, and every check of sc_judge on a working router's inputs
 * (the xt backend, as in the namespace lab) and on each way of breaking
 * it, with the report's text, JSON and exit status. */
#include "../../src/selfcheck.c"

#include <stdarg.h>
#include <setjmp.h>
#include <cmocka.h>

#define MASK	0x00ff0000u
#define ALLOW	0x00a10000u
#define BLOCK	0x00b10000u
#define REJECT	0x00b20000u
#define BFLOW	0x00b30000u
#define RFLOW	0x00b40000u
#define QMARK	0x00c10000u

/* What btblockd-firewall up --queues 0-1 leaves in iptables' mangle table. */
static const char xt_lab[] =
	"-P PREROUTING ACCEPT\n"
	"-P INPUT ACCEPT\n"
	"-P FORWARD ACCEPT\n"
	"-P OUTPUT ACCEPT\n"
	"-P POSTROUTING ACCEPT\n"
	"-N BTBLOCKD\n"
	"-A FORWARD -m mark --mark 0xc10000/0xff0000 -m comment --comment btblockd -j BTBLOCKD\n"
	"-A BTBLOCKD -p tcp -m comment --comment btblockd -m mark --mark 0xc10000/0xff0000 "
	"-j NFQUEUE --queue-balance 0:1 --queue-bypass\n"
	"-A BTBLOCKD -p udp -m comment --comment btblockd -m mark --mark 0xc10000/0xff0000 "
	"-j NFQUEUE --queue-balance 0:1 --queue-bypass\n";

static struct sc_inputs *in;
static struct sc_report *rep;

static struct nft_view_set *add_set(struct nft_view *v, const char *name, uint32_t flags,
				    uint32_t size, const uint32_t *keys, unsigned nkeys,
				    uint64_t elems)
{
	struct nft_view_set *s = &v->sets[v->nsets++];

	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->flags = flags;
	s->size = size;
	s->elems_read = 1;
	s->elems = elems;
	if (nkeys)	/* keys may be NULL then: no memcpy from NULL */
		memcpy(s->keys, keys, nkeys * sizeof(*keys));
	s->nkeys = nkeys;
	return s;
}

/* A working router, as the namespace lab has it: btblockd serving 0-1,
 * btblockd-firewall up --queues 0-1 with the xt backend. */
static void lab_inputs(struct sc_inputs *x)
{
	static const uint32_t verdict_keys[] = { BLOCK, RFLOW, ALLOW, REJECT, QMARK, BFLOW };
	static const uint32_t decided_keys[] = { REJECT, ALLOW, BLOCK };
	struct nft_view *v = &x->nft;

	memset(x, 0, sizeof(*x));
	x->socket_path = "/tmp/lab/btblockd.sock";
	x->hooks = SC_HOOK_FORWARD;
	x->daemon = (struct sc_daemon){ .reachable = 1, .version = "0.1.0", .mode = "enforce",
					.nqueues = 2, .has_marks = 1,
					.marks = { MASK, ALLOW, BLOCK, REJECT, BFLOW, RFLOW } };
	x->daemon.queues[0] = (struct sc_dqueue){ 0, 1, 4242, 0, 120 };
	x->daemon.queues[1] = (struct sc_dqueue){ 1, 1, 3000000001u, 0, 80 };
	v->loaded = 1;
	v->chains[v->nchains++] = (struct nft_view_chain){ "forward_decide", NF_INET_FORWARD, -160,
							   1, 0 };
	v->chains[v->nchains++] = (struct nft_view_chain){ "forward_verdict", NF_INET_FORWARD, -140,
							   0, 1 };
	add_set(v, "ban4", NFT_SET_TIMEOUT, 65536, NULL, 0, 4);
	add_set(v, "ban6", NFT_SET_TIMEOUT, 65536, NULL, 0, 0);
	add_set(v, "budget", NFT_SET_TIMEOUT | NFT_SET_EVAL, 65536, NULL, 0, 7);
	add_set(v, "decided", NFT_SET_MAP | NFT_SET_CONSTANT, 0, decided_keys, 3, 3);
	add_set(v, "verdicts", NFT_SET_MAP | NFT_SET_CONSTANT, 0, verdict_keys, 6, 6);
	v->lookups[v->nlookups++] = (struct nft_view_lookup){ "decided", NFT_SRC_CT_MARK, MASK };
	v->lookups[v->nlookups++] = (struct nft_view_lookup){ "verdicts", NFT_SRC_META_MARK, MASK };
	v->has_bans_failed = 1;
	for (int f = 0; f < 2; f++) {
		x->xt[f].ran = 1;
		sc_parse_xt(xt_lab, &x->xt[f]);
	}
	x->nfq[0] = (struct sc_kqueue){ 0, 4242 };
	x->nfq[1] = (struct sc_kqueue){ 1, 3000000001u };
	x->nnfq = 2;
	x->acct = 1;
	x->br.call_ipt = x->br.call_ip6t = 1;
}

static int setup(void **state)
{
	(void)state;
	in = calloc(1, sizeof(*in));
	rep = calloc(1, sizeof(*rep));
	return in && rep ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	free(in);
	free(rep);
	return 0;
}

/* The line of check name in the report; fails the test when absent. */
static const struct sc_line *line_of(const char *name)
{
	for (unsigned i = 0; i < rep->n; i++)
		if (strcmp(rep->lines[i].check, name) == 0)
			return &rep->lines[i];
	fail_msg("no line for check %s", name);
	return NULL;
}

/* Judge; the one check that is not PASS is name, with verdict v and text
 * holding want; all others pass. */
static void expect_only(const char *name, enum sc_verdict v, const char *want)
{
	sc_judge(in, rep);
	for (unsigned i = 0; i < rep->n; i++) {
		const struct sc_line *l = &rep->lines[i];

		if (strcmp(l->check, name) == 0) {
			if (l->verdict != v || !strstr(l->text, want))
				fail_msg("%s: %s %s (fix: %s), wanted %s with \"%s\"", name,
					 verdict_names[l->verdict], l->text, l->fix, verdict_names[v],
					 want);
			if (v != SC_PASS && !l->fix[0] && strncmp(l->text, "not checked", 11) != 0)
				fail_msg("%s: no fix given for: %s", name, l->text);
		} else if (l->verdict != SC_PASS) {
			fail_msg("%s should pass: %s %s", l->check, verdict_names[l->verdict], l->text);
		}
	}
	line_of(name);
}

static void test_nfqueue_lines(void **state)
{
	static const char text[] =
		"    0   4242     0 2  2048     0     0        6  1\n"
		"    1 3000000001    3 2  2048    17     4     1000  1\n"
		"    2   777 x 2  2048     0     0        0  1\n"	/* not a number */
		"    3   777     0 2  2048     0     0        0\n"	/* a field short */
		"70000   777     0 2  2048     0     0        0  1\n"	/* no such queue */
		"   -4   777     0 2  2048     0     0        0  1\n"	/* negative */
		"    5 99999999999     0 2  2048     0     0        0  1\n"	/* port > 32 bits */
		"\n"
		"   65535      9     0 2  2048     0     0        0  1";	/* no newline at the end */
	struct sc_kqueue q[8];
	unsigned n;

	(void)state;
	n = sc_parse_nfqueue(text, sizeof(text) - 1, q, 8);
	assert_int_equal(n, 3);
	assert_int_equal(q[0].queue, 0);
	assert_int_equal(q[0].portid, 4242);
	assert_int_equal(q[1].queue, 1);
	assert_int_equal(q[1].portid, 3000000001u);
	assert_int_equal(q[2].queue, 65535);
	/* the bound holds */
	assert_int_equal(sc_parse_nfqueue(text, sizeof(text) - 1, q, 1), 1);
	/* a NUL inside a line, and a line longer than any of the kernel's */
	{
		char odd[1200];

		memcpy(odd, "    7   1\0    0 2  2048     0     0        0  1\n", 48);
		assert_int_equal(sc_parse_nfqueue(odd, 48, q, 8), 0);
		memset(odd, ' ', sizeof(odd));
		memcpy(odd + sizeof(odd) - 40, "8 9 0 2 2048 0 0 0 1\n", 21);
		assert_int_equal(sc_parse_nfqueue(odd, sizeof(odd) - 19, q, 8), 0);
	}
	assert_int_equal(sc_parse_nfqueue("", 0, q, 8), 0);
}

static void test_xt_parse(void **state)
{
	struct sc_xt x;

	(void)state;
	sc_parse_xt(xt_lab, &x);
	assert_true(x.chain);
	assert_int_equal(x.nrules, 2);
	assert_int_equal(x.rules[0].proto, IPPROTO_TCP);
	assert_int_equal(x.rules[1].proto, IPPROTO_UDP);
	assert_true(x.rules[0].has_mark);
	assert_int_equal(x.rules[0].mark, QMARK);
	assert_int_equal(x.rules[0].mask, MASK);
	assert_int_equal(x.rules[0].first, 0);
	assert_int_equal(x.rules[0].last, 1);
	assert_true(x.rules[0].bypass);
	assert_false(x.rules[0].fanout);
	assert_int_equal(x.jumps[NF_INET_FORWARD].count, 1);
	assert_int_equal(x.jumps[NF_INET_FORWARD].mark, QMARK);
	assert_int_equal(x.jumps[NF_INET_LOCAL_IN].count, 0);

	/* one queue, fail-closed, fanout, a quoted comment, a negated match,
	 * a jump from INPUT; rules of other chains and bad numbers ignored */
	sc_parse_xt("-N BTBLOCKD\n"
		    "-A BTBLOCKD -p tcp -m comment --comment \"two words\" -j NFQUEUE --queue-num 3 "
		    "--queue-cpu-fanout\n"
		    "-A BTBLOCKD ! -p udp -j NFQUEUE --queue-num 3\n"
		    "-A BTBLOCKD -p udp -j NFQUEUE --queue-num 70000\n"
		    "-A BTBLOCKD -p udp -j NFQUEUE --queue-balance 4:2\n"
		    "-A OTHER -j NFQUEUE --queue-num 9\n"
		    "-A INPUT -m mark --mark 0x10 -j BTBLOCKD\n"
		    "-A INPUT -j ACCEPT\n"
		    "garbage \"unterminated\n", &x);
	assert_true(x.chain);
	assert_int_equal(x.nrules, 2);
	assert_int_equal(x.rules[0].first, 3);
	assert_int_equal(x.rules[0].last, 3);
	assert_false(x.rules[0].bypass);
	assert_true(x.rules[0].fanout);
	assert_false(x.rules[0].has_mark);
	assert_int_equal(x.rules[1].proto, -1);
	assert_int_equal(x.jumps[NF_INET_LOCAL_IN].count, 1);
	assert_int_equal(x.jumps[NF_INET_LOCAL_IN].mark, 0x10);
	assert_int_equal(x.jumps[NF_INET_LOCAL_IN].mask, 0xffffffffu);

	/* nothing of ours */
	sc_parse_xt("-P FORWARD ACCEPT\n-A FORWARD -j ACCEPT\n", &x);
	assert_false(x.chain);
	assert_int_equal(x.nrules, 0);
	assert_int_equal(x.jumps[NF_INET_FORWARD].count, 0);
}

static void test_routes(void **state)
{
	static const char route4[] =
		"Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
		"wan\t00000000\t0102A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
		"br-lan\t0001A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
		"down0\t00000000\t0102A8C0\t0002\t0\t0\t0\t00000000\t0\t0\t0\n"
		"wan\t00000000\t0202A8C0\t0003\t0\t0\t10\t00000000\t0\t0\t0\n";
	static const char route6[] =
		"fd000000000000000000000000000000 40 00000000000000000000000000000000 00 "
		"00000000000000000000000000000000 00000100 00000001 00000000 00000001 br-lan\n"
		"00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
		"fe800000000000000000000000000001 00000400 00000001 00000000 00000003  br-wan\n"
		"00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
		"00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo\n";
	char dev[4][SC_IFNAME];

	(void)state;
	assert_int_equal(sc_parse_default_routes(4, route4, sizeof(route4) - 1, dev, 4), 1);
	assert_string_equal(dev[0], "wan");
	assert_int_equal(sc_parse_default_routes(6, route6, sizeof(route6) - 1, dev, 4), 1);
	assert_string_equal(dev[0], "br-wan");
	assert_int_equal(sc_parse_default_routes(4, route6, sizeof(route6) - 1, dev, 4), 0);
	assert_int_equal(sc_parse_default_routes(6, "", 0, dev, 4), 0);
}

static void test_hooks(void **state)
{
	unsigned h;

	(void)state;
	assert_int_equal(sc_parse_hooks("forward", &h), 0);
	assert_int_equal(h, SC_HOOK_FORWARD);
	assert_int_equal(sc_parse_hooks("forward,input,output", &h), 0);
	assert_int_equal(h, SC_HOOK_FORWARD | SC_HOOK_INPUT | SC_HOOK_OUTPUT);
	assert_int_equal(sc_parse_hooks("input,", &h), 0);
	assert_int_equal(h, SC_HOOK_INPUT);
	assert_int_equal(sc_parse_hooks("", &h), -1);
	assert_int_equal(sc_parse_hooks(",", &h), -1);
	assert_int_equal(sc_parse_hooks("prerouting", &h), -1);
	assert_int_equal(sc_parse_hooks("forward,Forward", &h), -1);
	assert_int_equal(sc_parse_hooks(NULL, &h), -1);
}

static void test_fill(void **state)
{
	(void)state;
	assert_int_equal(sc_judge_fill(0, 65536), SC_PASS);
	assert_int_equal(sc_judge_fill(58982, 65536), SC_PASS);	/* 89.99 % */
	assert_int_equal(sc_judge_fill(58983, 65536), SC_WARN);	/* 90 % */
	assert_int_equal(sc_judge_fill(65535, 65536), SC_WARN);
	assert_int_equal(sc_judge_fill(65536, 65536), SC_FAIL);
	assert_int_equal(sc_judge_fill(70000, 65536), SC_FAIL);
	assert_int_equal(sc_judge_fill(9, 10), SC_WARN);
	assert_int_equal(sc_judge_fill(1, 2), SC_PASS);
	assert_int_equal(sc_judge_fill(2, 2), SC_FAIL);
	assert_int_equal(sc_judge_fill(1000000, 0), SC_PASS);	/* no limit */
}

static void test_offload_judge(void **state)
{
	const struct sc_marks m = { MASK, ALLOW, BLOCK, REJECT, BFLOW, RFLOW };
	struct nft_view_offload o = { .ngates = 1, .gates = { { MASK, ALLOW } } };

	(void)state;
	assert_true(sc_offload_allowed_only(&o, &m));
	o.gates[0] = (struct nft_view_gate){ 0xffffffffu, ALLOW | 0x5 };	/* other bits too */
	assert_true(sc_offload_allowed_only(&o, &m));
	o.gates[0] = (struct nft_view_gate){ MASK, ALLOW | 0x5 };	/* never matches */
	assert_false(sc_offload_allowed_only(&o, &m));
	o.gates[0] = (struct nft_view_gate){ 0x000f0000, 0x00010000 };	/* part of the mask */
	assert_false(sc_offload_allowed_only(&o, &m));
	o.gates[0] = (struct nft_view_gate){ MASK, BLOCK };
	assert_false(sc_offload_allowed_only(&o, &m));
	o.ngates = 2;	/* any one test that requires allow is enough */
	o.gates[1] = (struct nft_view_gate){ MASK, ALLOW };
	assert_true(sc_offload_allowed_only(&o, &m));
	o.ngates = 0;
	assert_false(sc_offload_allowed_only(&o, &m));
}

static void test_bridge_judge(void **state)
{
	struct sc_bridge routed = { "br-lan", 3, 1, 0, 1 };
	struct sc_bridge ap = { "br-lan", 3, 1, 1, 1 };	/* an access point: uplink on it */
	struct sc_bridge bare = { "br0", 2, 0, 0, 0 };
	struct sc_bridge bare_lan = { "br0", 2, 0, 0, 1 };
	char text[SC_TEXT], fix[SC_TEXT];

	(void)state;
	/* routed: br_netfilter does not matter */
	assert_int_equal(sc_judge_bridge(&routed, -1, -1, text, sizeof(text), fix, sizeof(fix)),
			 SC_PASS);
	assert_non_null(strstr(text, "routed"));
	assert_string_equal(fix, "");
	assert_int_equal(sc_judge_bridge(&routed, 0, 0, text, sizeof(text), fix, sizeof(fix)),
			 SC_PASS);
	/* bridged past the IP layer, with protected hosts */
	assert_int_equal(sc_judge_bridge(&ap, -1, -1, text, sizeof(text), fix, sizeof(fix)),
			 SC_FAIL);
	assert_non_null(strstr(text, "br_netfilter is not loaded"));
	assert_non_null(strstr(fix, "bridge-nf-call-iptables=1"));
	assert_int_equal(sc_judge_bridge(&ap, 1, 0, text, sizeof(text), fix, sizeof(fix)), SC_FAIL);
	assert_non_null(strstr(text, "bridge-nf-call-ip6tables 0"));
	assert_int_equal(sc_judge_bridge(&ap, 1, 1, text, sizeof(text), fix, sizeof(fix)), SC_PASS);
	assert_int_equal(sc_judge_bridge(&bare_lan, 0, 0, text, sizeof(text), fix, sizeof(fix)),
			 SC_FAIL);
	/* bridged, protected hosts or not: cannot be told */
	assert_int_equal(sc_judge_bridge(&bare, 0, 0, text, sizeof(text), fix, sizeof(fix)), SC_WARN);
	assert_non_null(strstr(text, "cannot be told"));
	assert_int_equal(sc_judge_bridge(&bare, 1, 1, text, sizeof(text), fix, sizeof(fix)), SC_PASS);
}

static void test_daemon_from_stats(void **state)
{
	struct sc_daemon d;
	json_t *doc;

	(void)state;
	doc = json_loads("{\"version\":\"0.1.0\",\"mode\":\"enforce\",\"queues\":["
			 "{\"queue\":0,\"portid\":4242,\"stalled\":false,\"last_progress_ms\":20},"
			 "{\"queue\":1,\"portid\":3000000001,\"stalled\":true,\"last_progress_ms\":9000},"
			 "{\"queue\":-1},{\"queue\":70000},{\"queue\":\"2\"},"
			 "{\"queue\":3,\"portid\":-5}],"
			 "\"marks\":{\"mask\":16711680,\"allow\":10551296,\"block\":11599872,"
			 "\"reject\":11665408,\"block_flow\":11730944,\"reject_flow\":11796480},"
			 "\"protected_interfaces\":[\"br-lan\",\"a-name-far-too-long\",7,\"\",\"wlan0\"]}",
			 0, NULL);
	assert_non_null(doc);
	sc_daemon_from_stats(doc, NULL, &d);
	assert_true(d.reachable);
	assert_string_equal(d.version, "0.1.0");
	assert_string_equal(d.mode, "enforce");
	assert_int_equal(d.nqueues, 3);
	assert_int_equal(d.queues[1].portid, 3000000001u);
	assert_true(d.queues[1].stalled);
	assert_int_equal(d.queues[1].last_progress_ms, 9000);
	assert_int_equal(d.queues[2].queue, 3);
	assert_false(d.queues[2].has_portid);
	assert_true(d.has_marks);
	assert_int_equal(d.marks.mask, MASK);
	assert_int_equal(d.marks.reject_flow, RFLOW);
	assert_int_equal(d.nifaces, 2);
	assert_string_equal(d.ifaces[1], "wlan0");
	json_decref(doc);

	/* a mark out of range, or missing: no marks */
	doc = json_loads("{\"queues\":[],\"marks\":{\"mask\":4294967296,\"allow\":1,\"block\":2,"
			 "\"reject\":3,\"block_flow\":4,\"reject_flow\":5}}", 0, NULL);
	sc_daemon_from_stats(doc, NULL, &d);
	assert_true(d.reachable);
	assert_false(d.has_marks);
	assert_string_equal(d.version, "?");
	json_decref(doc);
	/* no queues list: not a stats document */
	doc = json_loads("{\"version\":\"0.1.0\"}", 0, NULL);
	sc_daemon_from_stats(doc, NULL, &d);
	assert_false(d.reachable);
	assert_non_null(strstr(d.error, "without a queues list"));
	json_decref(doc);
	sc_daemon_from_stats(NULL, "cannot connect to /x: No such file", &d);
	assert_false(d.reachable);
	assert_string_equal(d.error, "cannot connect to /x: No such file");
}

static void test_lab_passes(void **state)
{
	json_t *doc;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	lab_inputs(in);
	sc_judge(in, rep);
	assert_int_equal(rep->n, 10);
	for (unsigned i = 0; i < rep->n; i++)
		if (rep->lines[i].verdict != SC_PASS)
			fail_msg("%s: %s", rep->lines[i].check, rep->lines[i].text);
	assert_int_equal(sc_exit_status(rep), 0);
	assert_non_null(strstr(line_of("queues")->text, "queues to 0-1 (iptables and ip6tables"));
	assert_non_null(strstr(line_of("queues")->text, "fail-open"));
	assert_non_null(strstr(line_of("binding")->text, "queues 0-1 are bound by btblockd"));
	assert_non_null(strstr(line_of("bansets")->text, "ban4 4 of 65536 elements"));

	f = open_memstream(&text, &len);
	assert_non_null(f);
	sc_print(rep, f);
	fclose(f);
	assert_non_null(strstr(text, "PASS  daemon     btblockd 0.1.0 answers on "
			       "/tmp/lab/btblockd.sock: enforce mode, queues 0-1\n"));
	assert_non_null(strstr(text, "PASS  conntrack  "));
	assert_non_null(strstr(text, "\n10 passed, 0 warnings, 0 failed\n"));
	free(text);

	doc = sc_json(rep);
	assert_string_equal(json_string_value(json_object_get(doc, "result")), "pass");
	assert_int_equal(json_array_size(json_object_get(doc, "checks")), 10);
	assert_null(json_object_get(json_array_get(json_object_get(doc, "checks"), 0), "fix"));
	json_decref(doc);

	/* several instances: btblockd serves 0-1 of 0-3, another binds 2-3 */
	for (int f2 = 0; f2 < 2; f2++)
		for (unsigned r = 0; r < in->xt[f2].nrules; r++)
			in->xt[f2].rules[r].last = 3;
	in->nfq[2] = (struct sc_kqueue){ 2, 99 };
	in->nfq[3] = (struct sc_kqueue){ 3, 98 };
	in->nnfq = 4;
	sc_judge(in, rep);
	assert_int_equal(sc_exit_status(rep), 0);
	assert_non_null(strstr(line_of("queues")->text, "serves 0-1 of them"));
	assert_non_null(strstr(line_of("binding")->text, "by btblockd, and 2, 3 by other programs"));
}

static void test_breaks(void **state)
{
	(void)state;
	/* the daemon stopped */
	lab_inputs(in);
	sc_daemon_from_stats(NULL, "cannot connect to /tmp/lab/btblockd.sock: Connection refused: "
			     "is btblockd running?", &in->daemon);
	in->daemon.connect_errno = ECONNREFUSED;
	in->nnfq = 0;
	sc_judge(in, rep);
	assert_int_equal(sc_exit_status(rep), 1);
	assert_int_equal(line_of("daemon")->verdict, SC_FAIL);
	assert_non_null(strstr(line_of("daemon")->fix, "start btblockd"));
	assert_int_equal(line_of("binding")->verdict, SC_FAIL);
	assert_non_null(strstr(line_of("binding")->text, "queues 0, 1 are bound by no program: their "
			       "packets pass uninspected"));
	assert_int_equal(line_of("marks")->verdict, SC_FAIL);
	assert_int_equal(line_of("queues")->verdict, SC_FAIL);
	assert_non_null(strstr(line_of("queues")->text, "not compared"));
	assert_int_equal(line_of("workers")->verdict, SC_FAIL);
	assert_int_equal(line_of("ruleset")->verdict, SC_PASS);
	assert_int_equal(line_of("offload")->verdict, SC_PASS);	/* no rule: no marks needed */
	/* not allowed to connect: the fix says so */
	in->daemon.connect_errno = EACCES;
	sc_judge(in, rep);
	assert_non_null(strstr(line_of("daemon")->fix, "as root"));

	/* the table deleted */
	lab_inputs(in);
	memset(&in->nft, 0, sizeof(in->nft));
	sc_judge(in, rep);
	assert_int_equal(line_of("ruleset")->verdict, SC_FAIL);
	assert_non_null(strstr(line_of("ruleset")->text, "table inet btblockd is not loaded"));
	assert_non_null(strstr(line_of("ruleset")->fix, "btblockd-firewall up"));
	assert_non_null(strstr(line_of("queues")->text, "nothing is marked for the queue"));
	assert_non_null(strstr(line_of("marks")->text, "not checked: table inet btblockd is not "
			       "loaded"));
	assert_int_equal(line_of("bansets")->verdict, SC_FAIL);

	/* the ruleset cannot be read: not root */
	lab_inputs(in);
	in->nft_error = -EPERM;
	sc_judge(in, rep);
	assert_non_null(strstr(line_of("ruleset")->text, "Operation not permitted"));
	assert_non_null(strstr(line_of("ruleset")->fix, "as root"));
	assert_int_equal(line_of("offload")->verdict, SC_FAIL);
	assert_int_equal(line_of("bansets")->verdict, SC_FAIL);

	/* the NFQUEUE rules deleted (both families) */
	lab_inputs(in);
	sc_parse_xt("-P FORWARD ACCEPT\n", &in->xt[0]);
	sc_parse_xt("-P FORWARD ACCEPT\n", &in->xt[1]);
	expect_only("queues", SC_FAIL, "nothing queues to btblockd");
	/* only IPv6's, or only the jump of IPv4 */
	lab_inputs(in);
	sc_parse_xt("-N BTBLOCKD\n", &in->xt[1]);
	expect_only("queues", SC_FAIL, "ip6tables's mangle table has no NFQUEUE rule in chain "
		    "BTBLOCKD, so IPv6 is not queued");
	lab_inputs(in);
	in->xt[0].jumps[NF_INET_FORWARD].count = 0;
	expect_only("queues", SC_FAIL, "iptables: no jump from FORWARD to BTBLOCKD");
	lab_inputs(in);
	in->xt[1].ran = 0;
	snprintf(in->xt[1].error, sizeof(in->xt[1].error), "ip6tables not found");
	in->xt[1].chain = 0;
	expect_only("queues", SC_FAIL, "ip6tables: ip6tables not found, so IPv6 is not queued");
	/* a jump that matches another mark than the ruleset's queue mark */
	lab_inputs(in);
	in->xt[0].jumps[NF_INET_FORWARD].mark = 0x00c20000;
	expect_only("queues", SC_FAIL, "matches mark 0x00c20000, not the queue mark 0x00c10000");
	/* the rules queue UDP only */
	lab_inputs(in);
	in->xt[0].rules[0] = in->xt[0].rules[1];
	expect_only("queues", SC_FAIL, "iptables queues no TCP");
	/* decide runs after the mangle table: nothing marked when iptables looks */
	lab_inputs(in);
	in->nft.chains[0].priority = -100;
	in->nft.chains[1].priority = -90;
	expect_only("queues", SC_FAIL, "do not run between forward_decide (-100)");

	/* another range in the rules */
	lab_inputs(in);
	for (int f = 0; f < 2; f++)
		for (unsigned r = 0; r < in->xt[f].nrules; r++)
			in->xt[f].rules[r].first = in->xt[f].rules[r].last = 4;
	in->nfq[0].queue = 4;
	sc_judge(in, rep);
	assert_int_equal(line_of("queues")->verdict, SC_FAIL);
	assert_non_null(strstr(line_of("queues")->text, "queues to 4 (iptables"));
	assert_non_null(strstr(line_of("queues")->text, "btblockd serves 0-1"));
	assert_non_null(strstr(line_of("queues")->fix, "--queues 0-1"));

	/* the daemon started with fewer queues than the rules use */
	lab_inputs(in);
	in->daemon.nqueues = 1;
	in->nnfq = 1;
	expect_only("binding", SC_FAIL, "queue 1 is bound by no program: its packets pass "
		    "uninspected");
	/* fail-closed: they are dropped */
	for (int f = 0; f < 2; f++)
		for (unsigned r = 0; r < in->xt[f].nrules; r++)
			in->xt[f].rules[r].bypass = 0;
	expect_only("binding", SC_FAIL, "its packets are dropped");
	/* a queue held by another program than the daemon */
	lab_inputs(in);
	in->nfq[1].portid = 77;
	expect_only("binding", SC_FAIL, "queue 1 is bound by netlink port 77, btblockd's socket is "
		    "port 3000000001");
	/* procfs not readable */
	lab_inputs(in);
	in->nfq_error = -EACCES;
	expect_only("binding", SC_FAIL, "cannot read /proc/net/netfilter/nfnetlink_queue: "
		    "Permission denied");

	/* the marks of the ruleset are not the daemon's */
	lab_inputs(in);
	in->daemon.marks.allow = 0x00a20000;
	expect_only("marks", SC_FAIL, "map verdicts has no element for btblockd's allow mark "
		    "0x00a20000");
	lab_inputs(in);
	in->daemon.marks.mask = 0x0000ff00;
	sc_judge(in, rep);
	assert_int_equal(line_of("marks")->verdict, SC_FAIL);
	assert_non_null(strstr(line_of("marks")->text, "a lookup in map decided masks the mark with "
			       "0x00ff0000, btblockd's mask is 0x0000ff00"));
	assert_non_null(strstr(line_of("marks")->text, "NFQUEUE rule of iptables matches the mark "
			       "under another mask"));
	lab_inputs(in);
	in->daemon.has_marks = 0;
	expect_only("marks", SC_FAIL, "not checked: btblockd does not tell its marks");

	/* the structure: hooks, maps, sets, counter */
	lab_inputs(in);
	in->hooks = SC_HOOK_FORWARD | SC_HOOK_INPUT;
	sc_judge(in, rep);
	assert_int_equal(line_of("ruleset")->verdict, SC_FAIL);
	assert_non_null(strstr(line_of("ruleset")->text, "no base chain on hook input jumps to "
			       "chain decide"));
	assert_non_null(strstr(line_of("ruleset")->fix, "--hooks forward,input"));
	assert_int_equal(line_of("queues")->verdict, SC_FAIL);
	assert_non_null(strstr(line_of("queues")->text, "iptables: no jump from INPUT to BTBLOCKD"));
	assert_int_equal(line_of("marks")->verdict, SC_PASS);
	assert_non_null(strstr(line_of("ruleset")->text, "no base chain on hook input looks the mark "
			       "up in map verdicts"));
	lab_inputs(in);
	in->nft.chains[1].priority = -170;
	sc_judge(in, rep);
	assert_int_equal(line_of("ruleset")->verdict, SC_FAIL);
	assert_non_null(strstr(line_of("ruleset")->text, "on hook forward the verdict chain "
			       "forward_verdict (priority -170) runs before the decide chain "
			       "forward_decide (-160)"));
	assert_int_equal(line_of("queues")->verdict, SC_FAIL);
	lab_inputs(in);
	in->nft.sets[3].flags = 0;
	expect_only("ruleset", SC_FAIL, "no map decided");
	lab_inputs(in);
	snprintf(in->nft.sets[1].name, sizeof(in->nft.sets[1].name), "ban6x");
	sc_judge(in, rep);
	assert_non_null(strstr(line_of("ruleset")->text, "no ban set ban6"));
	assert_int_equal(line_of("bansets")->verdict, SC_FAIL);
	assert_non_null(strstr(line_of("bansets")->text, "ban6 is missing"));
	lab_inputs(in);
	in->nft.lookups[0].src = NFT_SRC_META_MARK;
	expect_only("ruleset", SC_FAIL, "no rule looks the conntrack mark up in map decided");
	lab_inputs(in);
	in->nft.has_bans_failed = 0;
	expect_only("ruleset", SC_FAIL, "no counter bans_failed");
}

static void test_breaks_more(void **state)
{
	struct nft_view_offload *o;

	(void)state;
	/* fw4's flow offloading */
	lab_inputs(in);
	o = &in->nft.offloads[in->nft.noffloads++];
	*o = (struct nft_view_offload){ .family = NFPROTO_INET, .table = "fw4", .chain = "forward",
					.flowtable = "ft", .handle = 77 };
	expect_only("offload", SC_FAIL, "table inet fw4, chain forward (rule handle 77) offloads "
		    "flows to flowtable ft without requiring btblockd's allow mark");
	assert_non_null(strstr(line_of("offload")->fix, "flow_offloading=0"));
	/* someone else's table: the fix names the test to add */
	snprintf(o->table, sizeof(o->table), "offt");
	expect_only("offload", SC_FAIL, "table inet offt");
	assert_non_null(strstr(line_of("offload")->fix, "'ct mark & 0x00ff0000 == 0x00a10000'"));
	/* btblockd's own, allowed flows only */
	*o = (struct nft_view_offload){ .family = NFPROTO_INET, .table = "btblockd",
					.chain = "offload", .flowtable = "ft", .ngates = 1,
					.gates = { { MASK, ALLOW } } };
	expect_only("offload", SC_PASS, "only flows btblockd allowed are offloaded (inet btblockd "
		    "chain offload");
	/* rules past what the view keeps are not passed in silence */
	in->nft.offloads_more = 2;
	expect_only("offload", SC_FAIL, "2 more rules offload flows");
	/* offload rules and no daemon: cannot be judged */
	lab_inputs(in);
	in->nft.noffloads = 1;
	in->daemon.has_marks = 0;
	sc_judge(in, rep);
	assert_int_equal(line_of("offload")->verdict, SC_FAIL);
	assert_non_null(strstr(line_of("offload")->text, "not checked"));

	/* conntrack accounting */
	lab_inputs(in);
	in->acct = 0;
	expect_only("conntrack", SC_FAIL, "conntrack accounting is off");
	assert_non_null(strstr(line_of("conntrack")->fix, "nf_conntrack_acct=1"));
	in->acct = -1;
	in->acct_error = -ENOENT;
	expect_only("conntrack", SC_FAIL, "(conntrack is not loaded)");

	/* ban sets: nearly full warns, full fails, failed bans warn */
	lab_inputs(in);
	in->nft.sets[0].size = 10;
	in->nft.sets[0].elems = 9;
	expect_only("bansets", SC_WARN, "ban4 9 of 10 elements");
	assert_int_equal(sc_exit_status(rep), 3);
	in->nft.sets[0].elems = 10;
	expect_only("bansets", SC_FAIL, "ban4 is full: 10 of 10 elements");
	assert_non_null(strstr(line_of("bansets")->fix, "--ban-set-size"));
	assert_int_equal(sc_exit_status(rep), 1);
	lab_inputs(in);
	in->nft.bans_failed = 3;
	expect_only("bansets", SC_WARN, "3 bans failed since the table was loaded");
	lab_inputs(in);
	in->nft.sets[1].elems_read = 0;
	expect_only("bansets", SC_FAIL, "ban6 could not be read");

	/* a stalled worker */
	lab_inputs(in);
	in->daemon.queues[1].stalled = 1;
	in->daemon.queues[1].last_progress_ms = 6200;
	expect_only("workers", SC_FAIL, "stalled worker of queue 1 (no progress for 6200 ms)");

	/* monitor mode */
	lab_inputs(in);
	snprintf(in->daemon.mode, sizeof(in->daemon.mode), "monitor");
	expect_only("daemon", SC_WARN, "in monitor mode: it detects and logs, never blocks");

	/* bridges */
	lab_inputs(in);
	in->br.n = 1;
	in->br.b[0] = (struct sc_bridge){ "br0", 2, 0, 0, 0 };
	in->br.call_ipt = 0;
	expect_only("bridge", SC_WARN, "bridge br0: it has no address");
	in->br.ports[in->br.nports++] = (struct sc_bridge_port){ "eth1", "br0" };
	in->br.call_ipt = 1;
	in->br.b[0].protected = 1;
	sc_judge(in, rep);
	assert_int_equal(rep->lines[6].verdict, SC_WARN);
	assert_non_null(strstr(rep->lines[6].text, "protected interface eth1 is a port of bridge "
			       "br0"));
	assert_int_equal(rep->lines[7].verdict, SC_PASS);
	assert_string_equal(rep->lines[7].check, "bridge");
	assert_int_equal(rep->n, 11);
	assert_int_equal(sc_exit_status(rep), 3);
	in->br.call_ipt = 0;	/* the bridge of protected hosts bypasses */
	sc_judge(in, rep);
	assert_int_equal(rep->lines[7].verdict, SC_FAIL);
	assert_non_null(strstr(rep->lines[7].text, "carries protected hosts"));
	in->br_error = -ENOENT;
	expect_only("bridge", SC_FAIL, "not checked: cannot list the interfaces");
}

static void test_report_limits(void **state)
{
	json_t *doc;

	(void)state;
	rep->n = 0;
	for (int i = 0; i < SC_MAX_LINES + 3; i++)
		add(rep, SC_PASS, "x", NULL, "line %d", i);
	assert_int_equal(rep->n, SC_MAX_LINES);
	/* what did not fit is a failure, never a silent pass */
	assert_int_equal(rep->lines[SC_MAX_LINES - 1].verdict, SC_FAIL);
	assert_int_equal(sc_exit_status(rep), 1);
	doc = sc_json(rep);
	assert_string_equal(json_string_value(json_object_get(doc, "result")), "fail");
	json_decref(doc);
	/* a long text is cut, not overflowed */
	rep->n = 0;
	{
		char big[2000];

		memset(big, 'y', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		add(rep, SC_WARN, "x", big, "%s", big);
		assert_int_equal(strlen(rep->lines[0].text), SC_TEXT - 1);
		assert_int_equal(strlen(rep->lines[0].fix), SC_TEXT - 1);
	}
	assert_int_equal(sc_exit_status(rep), 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nfqueue_lines),
		cmocka_unit_test(test_xt_parse),
		cmocka_unit_test(test_routes),
		cmocka_unit_test(test_hooks),
		cmocka_unit_test(test_fill),
		cmocka_unit_test(test_offload_judge),
		cmocka_unit_test(test_bridge_judge),
		cmocka_unit_test(test_daemon_from_stats),
		cmocka_unit_test(test_lab_passes),
		cmocka_unit_test(test_breaks),
		cmocka_unit_test(test_breaks_more),
		cmocka_unit_test(test_report_limits),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
