/* netinfo.h - what the kernel knows about a detection's ends: interface
 * names, the LAN device's MAC (neighbour table) and the NAT mapping of
 * its connection (conntrack). Asked by the control thread only, on
 * sockets opened at start-up (before privileges are dropped and the
 * seccomp filter is installed), with a short receive timeout. */
#ifndef BTBLOCKD_NETINFO_H
#define BTBLOCKD_NETINFO_H

#include <stdint.h>
#include <stddef.h>

struct mnl_socket;

#define NETINFO_RECV_TIMEOUT_MS	50
#define NETINFO_IFCACHE		32
#define NETINFO_IFCACHE_TTL_S	60

struct netinfo_ifname {
	uint32_t index;
	int64_t expires_s;
	char name[16];
};

struct netinfo {
	struct mnl_socket *rt;		/* NETLINK_ROUTE: links, neighbours */
	struct mnl_socket *ct;		/* NETLINK_NETFILTER: conntrack */
	uint32_t rt_portid, ct_portid;
	uint32_t seq;
	struct netinfo_ifname ifcache[NETINFO_IFCACHE];
	uint8_t buf[8192];
};

/* One end of a connection as conntrack keeps it. */
struct netinfo_tuple {
	uint8_t src[16], dst[16];
	uint16_t sport, dport;		/* host byte order */
};

/* Open both sockets; either may fail (logged, its answers then missing). */
void netinfo_open(struct netinfo *n);
void netinfo_close(struct netinfo *n);

/* The name of interface ifindex into name (16 bytes); 0, or -1. */
int netinfo_ifname(struct netinfo *n, uint32_t ifindex, int64_t now_s, char name[16]);

/* The hardware address the neighbour table holds for addr on ifindex;
 * 0, or -1 (no entry, no link-layer address, no answer). */
int netinfo_neigh(struct netinfo *n, int family, const uint8_t *addr, uint32_t ifindex,
		  uint8_t mac[6]);

/* The conntrack entry one of whose tuples is src:sport -> dst:dport (l4
 * IPPROTO_*), original or reply: 0 with both tuples, -ENOENT when there
 * is none, another -errno when the lookup failed. */
int netinfo_conntrack(struct netinfo *n, int family, int l4, const uint8_t *src,
		      const uint8_t *dst, uint16_t sport, uint16_t dport,
		      struct netinfo_tuple *orig, struct netinfo_tuple *reply);

/* Parse a conntrack message (IPCTNL_MSG_CT_NEW) into its two tuples;
 * 0, or -1 when either is missing or malformed. Exposed for the tests. */
int netinfo_parse_conntrack(const void *msg, size_t len, int family,
			    struct netinfo_tuple *orig, struct netinfo_tuple *reply);

#endif
