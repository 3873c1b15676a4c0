/* fuzz_check.c - libFuzzer harness: what btblockctl check reads. The
 * first byte of the input says what the rest is:
 *   0  one netlink datagram of an nftables dump (chains, sets, elements,
 *      rules of any table), walked with the sequence number and port id
 *      of its first message into the view of the ruleset;
 *   1  /proc/net/netfilter/nfnetlink_queue;
 *   2  "iptables -S" of the mangle table (both families);
 *   3  /proc/net/route, 4  /proc/net/ipv6_route;
 *   5  the daemon's stats document (JSON);
 *   anything else: all of the text parsers on the same bytes.
 * The result is then judged (sc_judge) on top of a working router's
 * inputs, printed and turned into JSON: every line must be well-formed,
 * the exit status 0, 1 or 3, and nothing read or written outside the
 * buffers. */
#include "sysincl.h"
#include <linux/netlink.h>
#include <linux/netfilter.h>
#include "nlwalk.h"
#include "selfcheck.h"
#include "fuzz.h"

static int parse_all(const struct nlmsghdr *nlh, void *arg)
{
	if (nft_view_parse_chain(nlh, arg) < 0 || nft_view_parse_set(nlh, arg) < 0 ||
	    nft_view_parse_setelem(nlh, arg) < 0 || nft_view_parse_rule(nlh, arg) < 0)
		return -1;
	return 0;
}

/* A router where every check passes; the input then replaces one part. */
static void baseline(struct sc_inputs *in)
{
	memset(in, 0, sizeof(*in));
	in->socket_path = RUNSTATEDIR "/btblockd.sock";
	in->hooks = SC_HOOK_FORWARD;
	in->daemon = (struct sc_daemon){ .reachable = 1, .version = "0.1.0", .mode = "enforce",
					 .nqueues = 2, .has_marks = 1,
					 .marks = { 0x00ff0000, 0x00a10000, 0x00b10000, 0x00b20000,
						    0x00b30000, 0x00b40000 } };
	in->daemon.queues[0] = (struct sc_dqueue){ 0, 1, 10, 0, 5 };
	in->daemon.queues[1] = (struct sc_dqueue){ 1, 1, 11, 0, 5 };
	in->nft.loaded = 1;
	in->nfq[0] = (struct sc_kqueue){ 0, 10 };
	in->nfq[1] = (struct sc_kqueue){ 1, 11 };
	in->nnfq = 2;
	in->acct = 1;
	in->br.call_ipt = in->br.call_ip6t = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sc_inputs in;
	static struct sc_report rep;
	static char text[1 << 16];
	const uint8_t *body = size ? data + 1 : data;
	size_t blen = size ? size - 1 : 0, len = blen;
	int mode = size ? data[0] : -1;
	uint32_t seq = 0, portid = 0;
	uint8_t *buf;
	char devs[SC_MAX_ROUTES][SC_IFNAME];
	char *out = NULL;
	size_t outlen = 0;
	FILE *f;
	json_t *doc;
	int status;

	baseline(&in);
	/* exactly len bytes: a read past the datagram is an ASan report */
	buf = malloc(blen ? blen : 1);
	FUZZ_ASSERT(buf != NULL);
	memcpy(buf, body, blen);
	if (len > sizeof(text) - 1)
		len = sizeof(text) - 1;
	memcpy(text, body, len);
	text[len] = '\0';
	if (mode == 0) {
		if (blen >= sizeof(struct nlmsghdr)) {
			memcpy(&seq, buf + offsetof(struct nlmsghdr, nlmsg_seq), sizeof(seq));
			memcpy(&portid, buf + offsetof(struct nlmsghdr, nlmsg_pid), sizeof(portid));
		}
		status = nlwalk(buf, blen, seq, portid, parse_all, &in.nft);
		FUZZ_ASSERT(status <= 1 && status > -4096);
		FUZZ_ASSERT(in.nft.nchains <= NFT_VIEW_MAX_CHAINS && in.nft.nsets <= NFT_VIEW_MAX_SETS);
		FUZZ_ASSERT(in.nft.noffloads <= NFT_VIEW_MAX_OFFLOADS);
		for (unsigned i = 0; i < in.nft.nsets; i++) {
			FUZZ_ASSERT(in.nft.sets[i].nkeys <= NFT_VIEW_MAX_KEYS);
			in.nft.sets[i].elems_read = 1;
		}
	}
	if (mode == 1 || mode > 5) {
		in.nnfq = sc_parse_nfqueue(text, len, in.nfq, SC_MAX_QUEUES);
		FUZZ_ASSERT(in.nnfq <= SC_MAX_QUEUES);
	}
	if (mode == 2 || mode > 5) {
		for (int i = 0; i < 2; i++) {
			in.xt[i].ran = 1;
			sc_parse_xt(text, &in.xt[i]);
			FUZZ_ASSERT(in.xt[i].nrules <= SC_XT_MAX_RULES);
		}
	}
	if (mode == 3 || mode == 4 || mode > 5) {
		unsigned n = sc_parse_default_routes(mode == 4 ? 6 : 4, text, len, devs, SC_MAX_ROUTES);

		FUZZ_ASSERT(n <= SC_MAX_ROUTES);
		for (unsigned i = 0; i < n; i++)
			FUZZ_ASSERT(strlen(devs[i]) < SC_IFNAME);
	}
	if (mode == 5) {
		json_t *stats = json_loadb((const char *)body, blen, 0, NULL);

		sc_daemon_from_stats(stats, "no answer", &in.daemon);
		json_decref(stats);
		FUZZ_ASSERT(in.daemon.nqueues <= SC_MAX_QUEUES && in.daemon.nifaces <= SC_MAX_IFACES);
	}
	sc_judge(&in, &rep);
	FUZZ_ASSERT(rep.n > 0 && rep.n <= SC_MAX_LINES);
	status = sc_exit_status(&rep);
	FUZZ_ASSERT(status == 0 || status == 1 || status == 3);
	f = open_memstream(&out, &outlen);
	FUZZ_ASSERT(f != NULL);
	sc_print(&rep, f);
	fclose(f);
	FUZZ_ASSERT(outlen > 0 && out[outlen - 1] == '\n');
	free(out);
	doc = sc_json(&rep);
	FUZZ_ASSERT(doc != NULL && json_array_size(json_object_get(doc, "checks")) == rep.n);
	json_decref(doc);
	free(buf);
	return 0;
}
