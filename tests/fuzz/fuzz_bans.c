/* fuzz_bans.c - libFuzzer harness: what the kernel answers btblockctl
 * bans and unban. The input is one datagram, walked twice with the
 * sequence number and port id of its first message: as a dump of the
 * ban sets (into pairs, then the JSON of "bans --json", then a delete
 * batch of what was read) and as a conntrack dump (each entry matched
 * against a fixed filter and turned into its delete request). The walks
 * must end with 1, 0 or a negative errno; nothing may be read or
 * written outside the buffers. */
#include "sysincl.h"
#include <linux/netlink.h>
#include "bans_cmd.h"
#include "ct_flush.h"
#include "nlwalk.h"
#include "fuzz.h"

static char out[NFT_BANS_BUF];

static int ct_cb(const struct nlmsghdr *nlh, void *arg)
{
	const struct ct_filter *f = arg;
	struct ct_entry e;
	int r = ct_parse(nlh, &e);

	if (r == 1 && ct_match(f, &e)) {
		struct nlmsghdr *req = ct_delete_request(out, &e, 1);

		FUZZ_ASSERT(req->nlmsg_len <= 256);
	}
	return r < 0 ? r : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ban_list l = { 0 };
	struct ct_filter f = { .mask = 0x00ff0000, .values = { 0x00b10000, 0x00b20000 },
			       .nvalues = 2 };
	uint32_t seq = 0, portid = 0;
	/* exactly size bytes: a read past the datagram is an ASan report */
	uint8_t *buf = malloc(size ? size : 1);
	unsigned msgs;
	json_t *doc;
	int ret;

	FUZZ_ASSERT(buf != NULL);
	memcpy(buf, data, size);
	if (size >= sizeof(struct nlmsghdr)) {
		memcpy(&seq, buf + offsetof(struct nlmsghdr, nlmsg_seq), sizeof(seq));
		memcpy(&portid, buf + offsetof(struct nlmsghdr, nlmsg_pid), sizeof(portid));
	}
	ret = nlwalk(buf, size, seq, portid, nft_bans_parse, &l);
	FUZZ_ASSERT(ret <= 1 && ret > -4096);
	if (l.n)
		FUZZ_ASSERT(nft_bans_delete_batch(out, sizeof(out), l.v, l.n > 200 ? 200 : l.n,
						  1, &msgs) > 0);
	nft_bans_pairs(&l);
	for (size_t i = 1; i < l.n; i++)
		FUZZ_ASSERT(l.v[i - 1].family <= l.v[i].family);
	doc = bans_render_json(&l);
	FUZZ_ASSERT(doc != NULL && json_is_object(doc));
	json_decref(doc);
	nft_bans_free(&l);
	/* 10.0.0.0/8, and an IPv6 prefix when the input says so */
	f.spec.family = size > 20 && (data[20] & 1) ? 6 : 4;
	f.spec.prefix = 8;
	f.spec.addr[0] = f.spec.family == 4 ? 10 : 0x20;
	ret = nlwalk(buf, size, seq, portid, ct_cb, &f);
	FUZZ_ASSERT(ret <= 1 && ret > -4096);
	free(buf);
	return 0;
}
