/* fuzz_ruleset.c - libFuzzer harness: what the kernel answers about
 * table inet btblockd (an nftables netlink dump) into the daemon's view.
 * The input is one datagram, walked as a dump of each kind the daemon
 * reads (sets, counters, tables, chains, rules of its table, rules of the
 * xtables backend)
 * with the sequence number and port id of its first message (so that its
 * messages are not all skipped as replies to another request). The walk
 * must end with 1, 0 or a negative errno, and the view must turn into a
 * JSON object. */
#include "sysincl.h"
#include <linux/netlink.h>
#include "ruleset.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int (*const parsers[])(const struct nlmsghdr *, struct ruleset_view *) = {
		ruleset_parse_set, ruleset_parse_obj, ruleset_parse_table, ruleset_parse_chain,
		ruleset_parse_rule, ruleset_parse_xt_rule,
	};
	uint32_t seq = 0, portid = 0;
	/* exactly size bytes, aligned as a receive buffer: a read past the
	 * datagram is an ASan report */
	uint8_t *buf = malloc(size ? size : 1);

	FUZZ_ASSERT(buf != NULL);
	memcpy(buf, data, size);
	if (size >= sizeof(struct nlmsghdr)) {
		memcpy(&seq, buf + offsetof(struct nlmsghdr, nlmsg_seq), sizeof(seq));
		memcpy(&portid, buf + offsetof(struct nlmsghdr, nlmsg_pid), sizeof(portid));
	}
	for (size_t i = 0; i < ARRAY_SIZE(parsers); i++) {
		static struct ruleset_view v;	/* large: not on the stack */
		char missing[RULESET_MISSING_MAX];
		int ret;
		json_t *o;

		memset(&v, 0, sizeof(v));
		v.read_ms = 1;
		ret = ruleset_walk(buf, size, seq, portid, parsers[i], &v);

		FUZZ_ASSERT(ret <= 1 && ret > -4096);
		v.loaded = ret >= 0;
		/* what the watch would call missing: within its buffer */
		ruleset_missing(NULL, &v, missing, sizeof(missing));
		FUZZ_ASSERT(strlen(missing) < sizeof(missing));
		o = ruleset_json(&v, NULL, 2);
		FUZZ_ASSERT(o != NULL && json_is_object(o));
		json_decref(o);
	}
	free(buf);
	return 0;
}
