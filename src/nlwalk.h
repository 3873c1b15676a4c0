/* nlwalk.h - walking one datagram of a netlink dump reply, bounded. */
#ifndef BTBLOCKD_NLWALK_H
#define BTBLOCKD_NLWALK_H

#include <stddef.h>
#include <stdint.h>

struct nlmsghdr;

/* Call parse for each message of request seq (port portid) in buf. 1
 * when the dump is complete (or acknowledged), 0 when more is to come,
 * the negative errno of the kernel, -EBADMSG for a cut or inconsistent
 * message, or what parse returned when negative. */
int nlwalk(const void *buf, size_t len, uint32_t seq, uint32_t portid,
	   int (*parse)(const struct nlmsghdr *, void *), void *arg);

#endif
