/* nlwalk.h - walking one datagram of a netlink dump reply, bounded. */
#ifndef BTBLOCKD_NLWALK_H
#define BTBLOCKD_NLWALK_H

#include <stddef.h>
#include <stdint.h>

struct mnl_socket;
struct nlmsghdr;

/* Call parse for each message of request seq (port portid) in buf. 1
 * when the dump is complete (or acknowledged), 0 when more is to come,
 * the negative errno of the kernel, -EBADMSG for a cut or inconsistent
 * message, or what parse returned when negative. */
int nlwalk(const void *buf, size_t len, uint32_t seq, uint32_t portid,
	   int (*parse)(const struct nlmsghdr *, void *), void *arg);

/* Send the dump request req and walk its reply, datagram by datagram
 * into buf (buflen bytes), at most max_datagrams of them so that a
 * reading always ends: 0 when the dump is complete, -ETIMEDOUT when no
 * datagram came within the socket's receive timeout, -EMSGSIZE when the
 * bound was reached, or a negative errno as nlwalk() returns it. */
int nlwalk_dump(struct mnl_socket *nl, uint32_t portid, const struct nlmsghdr *req,
		void *buf, size_t buflen, long max_datagrams,
		int (*parse)(const struct nlmsghdr *, void *), void *arg);

/* A NETLINK_NETFILTER socket, close-on-exec, bound, whose receives time
 * out after timeout_s seconds; NULL with errno set. */
struct mnl_socket *nlwalk_socket(unsigned timeout_s, uint32_t *portid);

#endif
