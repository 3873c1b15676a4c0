/* netinfo.c - interface names, neighbours and conntrack entries over
 * netlink (libmnl), one request and its answer at a time. */
#include "sysincl.h"
#include <arpa/inet.h>
#include <sys/socket.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/rtnetlink.h>
#include "log.h"
#include "netinfo.h"

static struct mnl_socket *open_one(int bus, uint32_t *portid, const char *what)
{
	struct timeval tv = { .tv_usec = NETINFO_RECV_TIMEOUT_MS * 1000 };
	struct mnl_socket *nl = mnl_socket_open2(bus, SOCK_CLOEXEC);

	if (!nl || setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		LOG(LOG_WARNING, "cannot open a netlink socket for %s: %s; detections will lack them",
		    what, strerror(errno));
		if (nl)
			mnl_socket_close(nl);
		return NULL;
	}
	*portid = mnl_socket_get_portid(nl);
	return nl;
}

void netinfo_open(struct netinfo *n)
{
	memset(n, 0, sizeof(*n));
	n->seq = (uint32_t)time(NULL);
	n->rt = open_one(NETLINK_ROUTE, &n->rt_portid, "interface names and MAC addresses");
	n->ct = open_one(NETLINK_NETFILTER, &n->ct_portid, "NAT mappings");
}

void netinfo_close(struct netinfo *n)
{
	if (n->rt)
		mnl_socket_close(n->rt);
	if (n->ct)
		mnl_socket_close(n->ct);
	n->rt = n->ct = NULL;
}

/*
 * Send nlh and wait for the answer with its sequence number: returns the
 * first message that is not an error (in n->buf, *len bytes from *out),
 * -errno for an error answer, -ETIMEDOUT when none came in time. Answers
 * to earlier requests that timed out are passed over.
 */
static int transact(struct netinfo *n, struct mnl_socket *nl, uint32_t portid,
		    struct nlmsghdr *nlh, const struct nlmsghdr **out)
{
	uint32_t seq = nlh->nlmsg_seq;

	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (int tries = 0; tries < 8; tries++) {
		ssize_t r = mnl_socket_recvfrom(nl, n->buf, sizeof(n->buf));
		const struct nlmsghdr *m;
		int left;

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
		}
		left = (int)r;
		for (m = (const struct nlmsghdr *)n->buf; mnl_nlmsg_ok(m, left);
		     m = mnl_nlmsg_next(m, &left)) {
			if (m->nlmsg_seq != seq || (m->nlmsg_pid && m->nlmsg_pid != portid))
				continue;
			if (m->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = mnl_nlmsg_get_payload(m);

				if (mnl_nlmsg_get_payload_len(m) < sizeof(*e) || e->error > 0 ||
				    e->error < -4095)
					return -EBADMSG;
				return e->error ? e->error : -ENOENT;
			}
			*out = m;
			return 0;
		}
	}
	return -ETIMEDOUT;
}

int netinfo_ifname(struct netinfo *n, uint32_t ifindex, int64_t now_s, char name[16])
{
	uint8_t req[256];
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifm;
	const struct nlmsghdr *ans;
	const struct nlattr *a;
	struct netinfo_ifname *slot = &n->ifcache[ifindex % NETINFO_IFCACHE];

	if (!ifindex)
		return -1;
	if (slot->index == ifindex && slot->expires_s > now_s) {
		memcpy(name, slot->name, 16);
		return 0;
	}
	if (!n->rt)
		return -1;
	nlh = mnl_nlmsg_put_header(req);
	nlh->nlmsg_type = RTM_GETLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nlh->nlmsg_seq = ++n->seq;
	ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	ifm->ifi_index = (int)ifindex;
	mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
	if (transact(n, n->rt, n->rt_portid, nlh, &ans) < 0 || ans->nlmsg_type != RTM_NEWLINK ||
	    mnl_nlmsg_get_payload_len(ans) < sizeof(struct ifinfomsg))
		return -1;
	mnl_attr_for_each(a, ans, sizeof(struct ifinfomsg)) {
		uint16_t len = mnl_attr_get_payload_len(a);
		const char *s = mnl_attr_get_payload(a);

		if (mnl_attr_get_type(a) != IFLA_IFNAME || len < 2 || len > 16 || s[len - 1] != '\0')
			continue;
		memcpy(name, s, len);
		slot->index = ifindex;
		slot->expires_s = now_s + NETINFO_IFCACHE_TTL_S;
		memcpy(slot->name, s, len);
		return 0;
	}
	return -1;
}

int netinfo_neigh(struct netinfo *n, int family, const uint8_t *addr, uint32_t ifindex,
		  uint8_t mac[6])
{
	uint8_t req[256];
	struct nlmsghdr *nlh;
	struct ndmsg *ndm;
	const struct nlmsghdr *ans;
	const struct nlattr *a;

	if (!n->rt || !ifindex)
		return -1;
	nlh = mnl_nlmsg_put_header(req);
	nlh->nlmsg_type = RTM_GETNEIGH;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nlh->nlmsg_seq = ++n->seq;
	ndm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ndm));
	ndm->ndm_family = family == 6 ? AF_INET6 : AF_INET;
	ndm->ndm_ifindex = (int)ifindex;
	mnl_attr_put(nlh, NDA_DST, family == 6 ? 16 : 4, addr);
	if (transact(n, n->rt, n->rt_portid, nlh, &ans) < 0 || ans->nlmsg_type != RTM_NEWNEIGH ||
	    mnl_nlmsg_get_payload_len(ans) < sizeof(struct ndmsg))
		return -1;
	ndm = mnl_nlmsg_get_payload(ans);
	/* An entry that never resolved (or failed) holds no usable address. */
	if (ndm->ndm_state & (NUD_INCOMPLETE | NUD_FAILED | NUD_NOARP))
		return -1;
	mnl_attr_for_each(a, ans, sizeof(struct ndmsg)) {
		if (mnl_attr_get_type(a) == NDA_LLADDR && mnl_attr_get_payload_len(a) == 6) {
			memcpy(mac, mnl_attr_get_payload(a), 6);
			return 0;
		}
	}
	return -1;
}

/* CTA_TUPLE_IP and CTA_TUPLE_PROTO of one tuple; -1 when one is missing. */
static int parse_tuple(const struct nlattr *nest, int family, struct netinfo_tuple *t)
{
	const struct nlattr *a, *b;
	unsigned have = 0;
	uint16_t alen = family == 6 ? 16 : 4;
	uint16_t want_src = family == 6 ? CTA_IP_V6_SRC : CTA_IP_V4_SRC;
	uint16_t want_dst = family == 6 ? CTA_IP_V6_DST : CTA_IP_V4_DST;

	memset(t, 0, sizeof(*t));
	mnl_attr_for_each_nested(a, nest) {
		if (mnl_attr_validate(a, MNL_TYPE_NESTED) < 0)
			continue;
		if (mnl_attr_get_type(a) == CTA_TUPLE_IP) {
			mnl_attr_for_each_nested(b, a) {
				uint16_t type = mnl_attr_get_type(b);

				if (mnl_attr_get_payload_len(b) != alen)
					continue;
				if (type == want_src) {
					memcpy(t->src, mnl_attr_get_payload(b), alen);
					have |= 1;
				} else if (type == want_dst) {
					memcpy(t->dst, mnl_attr_get_payload(b), alen);
					have |= 2;
				}
			}
		} else if (mnl_attr_get_type(a) == CTA_TUPLE_PROTO) {
			mnl_attr_for_each_nested(b, a) {
				uint16_t type = mnl_attr_get_type(b);

				if (mnl_attr_get_payload_len(b) != 2)
					continue;
				if (type == CTA_PROTO_SRC_PORT) {
					t->sport = ntohs(mnl_attr_get_u16(b));
					have |= 4;
				} else if (type == CTA_PROTO_DST_PORT) {
					t->dport = ntohs(mnl_attr_get_u16(b));
					have |= 8;
				}
			}
		}
	}
	return have == 15 ? 0 : -1;
}

int netinfo_parse_conntrack(const void *msg, size_t len, int family,
			    struct netinfo_tuple *orig, struct netinfo_tuple *reply)
{
	const struct nlmsghdr *nlh = msg;
	const struct nlattr *a;
	unsigned have = 0;

	/* The attribute walk reads up to the aligned end of the message. */
	if (len < sizeof(*nlh) || nlh->nlmsg_len < sizeof(*nlh) || MNL_ALIGN(nlh->nlmsg_len) > len ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof(struct nfgenmsg))
		return -1;
	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg)) {
		if (mnl_attr_validate(a, MNL_TYPE_NESTED) < 0)
			continue;
		if (mnl_attr_get_type(a) == CTA_TUPLE_ORIG && parse_tuple(a, family, orig) == 0)
			have |= 1;
		else if (mnl_attr_get_type(a) == CTA_TUPLE_REPLY && parse_tuple(a, family, reply) == 0)
			have |= 2;
	}
	return have == 3 ? 0 : -1;
}

int netinfo_conntrack(struct netinfo *n, int family, int l4, const uint8_t *src,
		      const uint8_t *dst, uint16_t sport, uint16_t dport,
		      struct netinfo_tuple *orig, struct netinfo_tuple *reply)
{
	uint8_t req[512];
	struct nlmsghdr *nlh;
	struct nfgenmsg *nfg;
	struct nlattr *tuple, *ip, *proto;
	const struct nlmsghdr *ans;
	uint16_t alen = family == 6 ? 16 : 4;
	int r;

	if (!n->ct)
		return -ENOTCONN;
	nlh = mnl_nlmsg_put_header(req);
	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nlh->nlmsg_seq = ++n->seq;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = family == 6 ? AF_INET6 : AF_INET;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = 0;
	/* The kernel finds the entry by either of its tuples. */
	tuple = mnl_attr_nest_start(nlh, CTA_TUPLE_ORIG);
	ip = mnl_attr_nest_start(nlh, CTA_TUPLE_IP);
	mnl_attr_put(nlh, family == 6 ? CTA_IP_V6_SRC : CTA_IP_V4_SRC, alen, src);
	mnl_attr_put(nlh, family == 6 ? CTA_IP_V6_DST : CTA_IP_V4_DST, alen, dst);
	mnl_attr_nest_end(nlh, ip);
	proto = mnl_attr_nest_start(nlh, CTA_TUPLE_PROTO);
	mnl_attr_put_u8(nlh, CTA_PROTO_NUM, (uint8_t)l4);
	mnl_attr_put_u16(nlh, CTA_PROTO_SRC_PORT, htons(sport));
	mnl_attr_put_u16(nlh, CTA_PROTO_DST_PORT, htons(dport));
	mnl_attr_nest_end(nlh, proto);
	mnl_attr_nest_end(nlh, tuple);
	r = transact(n, n->ct, n->ct_portid, nlh, &ans);
	if (r < 0)
		return r;
	if ((ans->nlmsg_type & 0xff) != IPCTNL_MSG_CT_NEW ||
	    netinfo_parse_conntrack(ans, ans->nlmsg_len, family, orig, reply) < 0)
		return -EBADMSG;
	return 0;
}
