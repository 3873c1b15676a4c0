/* ct_flush.c - delete the conntrack entries of blocked flows naming an
 * address: dump the table of the address's family over ctnetlink, keep
 * the entries whose mark says blocked and that name the address in
 * either direction, then delete them one by one (by tuple, zone and id,
 * so that an entry that was replaced meanwhile is left alone). Every
 * reply is hostile input: attributes are validated before use. */
#include "sysincl.h"
#include <arpa/inet.h>
#include <sys/socket.h>
#include <libmnl/libmnl.h>
#include "nlattr.h"
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include "ct_flush.h"
#include "nlwalk.h"

#define CT_RECV_TIMEOUT_MS 2000
#define CT_MAX_DATAGRAMS 1000000

struct nlmsghdr *ct_dump_request(char *buf, int family, uint32_t seq)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *nfg;

	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = family == 6 ? AF_INET6 : AF_INET;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = 0;
	return nlh;
}

/* A CTA_TUPLE_* nest: addresses of family, protocol and ports. 1, 0 when
 * something needed is missing, -1 when malformed. */
static int parse_tuple(const struct nlattr *nest, int family, uint8_t *src, uint8_t *dst,
		       uint8_t *l4, uint16_t *sport, uint16_t *dport, int *has_ports)
{
	static const enum mnl_attr_data_type tuple_types[CTA_TUPLE_MAX + 1] = {
		[CTA_TUPLE_IP] = MNL_TYPE_NESTED,
		[CTA_TUPLE_PROTO] = MNL_TYPE_NESTED,
	};
	static const enum mnl_attr_data_type ip_types[CTA_IP_MAX + 1] = {
		[CTA_IP_V4_SRC] = MNL_TYPE_U32,
		[CTA_IP_V4_DST] = MNL_TYPE_U32,
		[CTA_IP_V6_SRC] = MNL_TYPE_BINARY,
		[CTA_IP_V6_DST] = MNL_TYPE_BINARY,
	};
	static const enum mnl_attr_data_type proto_types[CTA_PROTO_MAX + 1] = {
		[CTA_PROTO_NUM] = MNL_TYPE_U8,
		[CTA_PROTO_SRC_PORT] = MNL_TYPE_U16,
		[CTA_PROTO_DST_PORT] = MNL_TYPE_U16,
	};
	const struct nlattr *tb[CTA_TUPLE_MAX + 1] = { NULL };
	const struct nlattr *ip[CTA_IP_MAX + 1] = { NULL };
	const struct nlattr *pr[CTA_PROTO_MAX + 1] = { NULL };
	struct nlattr_table rule = { CTA_TUPLE_MAX, tuple_types, tb };
	struct nlattr_table ip_rule = { CTA_IP_MAX, ip_types, ip };
	struct nlattr_table pr_rule = { CTA_PROTO_MAX, proto_types, pr };
	int s = family == 4 ? CTA_IP_V4_SRC : CTA_IP_V6_SRC;
	int d = family == 4 ? CTA_IP_V4_DST : CTA_IP_V6_DST;
	size_t alen = family == 4 ? 4 : 16;

	if (mnl_attr_parse_nested(nest, nlattr_table_cb, &rule) < 0)
		return -1;
	if (!tb[CTA_TUPLE_IP] || !tb[CTA_TUPLE_PROTO])
		return 0;
	if (mnl_attr_parse_nested(tb[CTA_TUPLE_IP], nlattr_table_cb, &ip_rule) < 0 ||
	    mnl_attr_parse_nested(tb[CTA_TUPLE_PROTO], nlattr_table_cb, &pr_rule) < 0)
		return -1;
	if (!ip[s] || !ip[d] || !pr[CTA_PROTO_NUM])
		return 0;
	if (mnl_attr_get_payload_len(ip[s]) != alen || mnl_attr_get_payload_len(ip[d]) != alen)
		return -1;
	memset(src, 0, 16);
	memset(dst, 0, 16);
	memcpy(src, mnl_attr_get_payload(ip[s]), alen);
	memcpy(dst, mnl_attr_get_payload(ip[d]), alen);
	if (l4)
		*l4 = mnl_attr_get_u8(pr[CTA_PROTO_NUM]);
	if (sport) {
		*has_ports = pr[CTA_PROTO_SRC_PORT] && pr[CTA_PROTO_DST_PORT];
		*sport = *has_ports ? mnl_attr_get_u16(pr[CTA_PROTO_SRC_PORT]) : 0;
		*dport = *has_ports ? mnl_attr_get_u16(pr[CTA_PROTO_DST_PORT]) : 0;
	}
	return 1;
}

int ct_parse(const struct nlmsghdr *nlh, struct ct_entry *e)
{
	static const enum mnl_attr_data_type ct_types[CTA_MAX + 1] = {
		[CTA_TUPLE_ORIG] = MNL_TYPE_NESTED,
		[CTA_TUPLE_REPLY] = MNL_TYPE_NESTED,
		[CTA_MARK] = MNL_TYPE_U32,
		[CTA_ID] = MNL_TYPE_U32,
		[CTA_ZONE] = MNL_TYPE_U16,
	};
	const struct nlattr *tb[CTA_MAX + 1] = { NULL };
	struct nlattr_table rule = { CTA_MAX, ct_types, tb };
	const struct nfgenmsg *nfg;
	int r;

	if (nlh->nlmsg_type != ((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW) ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof(*nfg))
		return 0;
	nfg = mnl_nlmsg_get_payload(nlh);
	if (nfg->nfgen_family != AF_INET && nfg->nfgen_family != AF_INET6)
		return 0;
	if (mnl_attr_parse(nlh, sizeof(*nfg), nlattr_table_cb, &rule) < 0)
		return -1;
	memset(e, 0, sizeof(*e));
	e->family = nfg->nfgen_family == AF_INET ? 4 : 6;
	if (!tb[CTA_TUPLE_ORIG] || !tb[CTA_MARK])
		return 0;
	r = parse_tuple(tb[CTA_TUPLE_ORIG], e->family, e->src, e->dst, &e->l4, &e->sport,
			&e->dport, &e->has_ports);
	if (r <= 0)
		return r;
	if (tb[CTA_TUPLE_REPLY]) {
		r = parse_tuple(tb[CTA_TUPLE_REPLY], e->family, e->rsrc, e->rdst, NULL, NULL, NULL,
				NULL);
		if (r < 0)
			return -1;
		e->has_reply = r;
	}
	e->mark = ntohl(mnl_attr_get_u32(tb[CTA_MARK]));
	e->id = tb[CTA_ID] ? mnl_attr_get_u32(tb[CTA_ID]) : 0;
	e->zone = tb[CTA_ZONE] ? mnl_attr_get_u16(tb[CTA_ZONE]) : 0;
	return 1;
}

int ct_match(const struct ct_filter *f, const struct ct_entry *e)
{
	int blocked = 0;

	for (unsigned i = 0; i < f->nvalues && i < ARRAY_SIZE(f->values); i++)
		if ((e->mark & f->mask) == f->values[i])
			blocked = 1;
	if (!blocked)
		return 0;
	return addrspec_match(&f->spec, e->family, e->src) ||
	       addrspec_match(&f->spec, e->family, e->dst) ||
	       (e->has_reply && (addrspec_match(&f->spec, e->family, e->rsrc) ||
				 addrspec_match(&f->spec, e->family, e->rdst)));
}

struct nlmsghdr *ct_delete_request(char *buf, const struct ct_entry *e, uint32_t seq)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nlattr *tuple, *nest;
	struct nfgenmsg *nfg;
	size_t alen = e->family == 4 ? 4 : 16;

	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = seq;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = e->family == 4 ? AF_INET : AF_INET6;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = 0;
	tuple = mnl_attr_nest_start(nlh, CTA_TUPLE_ORIG);
	nest = mnl_attr_nest_start(nlh, CTA_TUPLE_IP);
	mnl_attr_put(nlh, e->family == 4 ? CTA_IP_V4_SRC : CTA_IP_V6_SRC, alen, e->src);
	mnl_attr_put(nlh, e->family == 4 ? CTA_IP_V4_DST : CTA_IP_V6_DST, alen, e->dst);
	mnl_attr_nest_end(nlh, nest);
	nest = mnl_attr_nest_start(nlh, CTA_TUPLE_PROTO);
	mnl_attr_put_u8(nlh, CTA_PROTO_NUM, e->l4);
	if (e->has_ports) {
		mnl_attr_put_u16(nlh, CTA_PROTO_SRC_PORT, e->sport);
		mnl_attr_put_u16(nlh, CTA_PROTO_DST_PORT, e->dport);
	}
	mnl_attr_nest_end(nlh, nest);
	mnl_attr_nest_end(nlh, tuple);
	if (e->zone)
		mnl_attr_put_u16(nlh, CTA_ZONE, e->zone);
	if (e->id)
		mnl_attr_put_u32(nlh, CTA_ID, e->id);
	return nlh;
}

struct collect {
	const struct ct_filter *f;
	struct ct_entry *v;
	size_t n, cap;
};

static int collect_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct collect *c = arg;
	struct ct_entry e;
	int r = ct_parse(nlh, &e);

	if (r <= 0)
		return r;
	if (!ct_match(c->f, &e) || c->n >= CT_FLUSH_MAX)
		return 0;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;
		struct ct_entry *v = realloc(c->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		c->v = v;
		c->cap = cap;
	}
	c->v[c->n++] = e;
	return 0;
}

static int exchange(struct mnl_socket *nl, uint32_t portid, struct nlmsghdr *req, char *buf,
		    struct collect *c)
{
	return nlwalk_dump(nl, portid, req, buf, CT_FLUSH_BUF, CT_MAX_DATAGRAMS, collect_cb, c);
}

long ct_flush(const struct ct_filter *f)
{
	struct collect c = { .f = f };
	uint32_t portid, seq = (uint32_t)time(NULL);
	struct mnl_socket *nl;
	char *buf = malloc(CT_FLUSH_BUF);
	long deleted = 0;
	int r;

	if (!buf)
		return -ENOMEM;
	nl = nlwalk_socket(CT_RECV_TIMEOUT_MS / 1000, &portid);
	if (!nl) {
		r = -errno;
		goto out;
	}
	/* the whole dump first: no request may interleave with it */
	r = exchange(nl, portid, ct_dump_request(buf, f->spec.family, seq++), buf, &c);
	for (size_t i = 0; r == 0 && i < c.n; i++) {
		r = exchange(nl, portid, ct_delete_request(buf, &c.v[i], seq++), buf, &c);
		if (r == 0)
			deleted++;
		else if (r == -ENOENT)
			r = 0;	/* gone meanwhile: timed out, or deleted by someone else */
	}
out:
	if (nl)
		mnl_socket_close(nl);
	free(c.v);
	free(buf);
	return r < 0 ? r : deleted;
}
