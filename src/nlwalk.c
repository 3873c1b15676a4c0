/* nlwalk.c - walking one datagram of a netlink dump reply, bounded.
 *
 * Every reply is hostile input. Messages of an earlier request are
 * skipped. The walk is bounded here rather than with mnl_nlmsg_ok(),
 * which takes a length of 2^31 or more for a negative one; and a message
 * is parsed only when its length rounded up to the attribute alignment
 * still lies inside the datagram, since libmnl walks attributes up to
 * that rounded end. */
#include "sysincl.h"
#include <libmnl/libmnl.h>
#include "nlwalk.h"

int nlwalk(const void *buf, size_t len, uint32_t seq, uint32_t portid,
	   int (*parse)(const struct nlmsghdr *, void *), void *arg)
{
	const char *p = buf;
	size_t remain = len;

	while (remain >= sizeof(struct nlmsghdr)) {
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)(const void *)p;
		size_t step = NLMSG_ALIGN((size_t)nlh->nlmsg_len);
		int fits = step <= remain;
		int r;

		if (nlh->nlmsg_len < sizeof(*nlh) || nlh->nlmsg_len > remain)
			return -EBADMSG;
		p += fits ? step : remain;
		remain -= fits ? step : remain;
		if (nlh->nlmsg_seq != seq || (nlh->nlmsg_pid && nlh->nlmsg_pid != portid))
			continue;
		if (nlh->nlmsg_type == NLMSG_DONE)
			return 1;
		if (nlh->nlmsg_type == NLMSG_ERROR) {
			const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

			if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*e) || e->error > 0 ||
			    e->error < -4095)
				return -EBADMSG;
			return e->error < 0 ? e->error : 1;
		}
		if (!fits)
			return -EBADMSG;
		r = parse(nlh, arg);
		if (r < 0)
			return r == -1 ? -EBADMSG : r;
	}
	return 0;
}
