/* nlwalk.c - walking one datagram of a netlink dump reply, bounded.
 *
 * Every reply is hostile input. Messages of an earlier request are
 * skipped. The walk is bounded here rather than with mnl_nlmsg_ok(),
 * which takes a length of 2^31 or more for a negative one; and a message
 * is parsed only when its length rounded up to the attribute alignment
 * still lies inside the datagram, since libmnl walks attributes up to
 * that rounded end. */
#include "sysincl.h"
#include <sys/socket.h>
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

int nlwalk_dump(struct mnl_socket *nl, uint32_t portid, const struct nlmsghdr *req,
		void *buf, size_t buflen, long max_datagrams,
		int (*parse)(const struct nlmsghdr *, void *), void *arg)
{
	uint32_t seq = req->nlmsg_seq;

	if (mnl_socket_sendto(nl, req, req->nlmsg_len) < 0)
		return -errno;
	for (long i = 0; i < max_datagrams; i++) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, buflen);
		int r;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
		}
		r = nlwalk(buf, (size_t)n, seq, portid, parse, arg);
		if (r != 0)
			return r < 0 ? r : 0;
	}
	return -EMSGSIZE;
}

struct mnl_socket *nlwalk_socket(unsigned timeout_s, uint32_t *portid)
{
	struct timeval tv = { .tv_sec = timeout_s };
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);

	if (!nl)
		return NULL;
	if (setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		int e = errno;

		mnl_socket_close(nl);
		errno = e;
		return NULL;
	}
	*portid = mnl_socket_get_portid(nl);
	return nl;
}
