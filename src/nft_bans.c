/* nft_bans.c - the ban sets of table inet btblockd over nftables netlink.
 *
 * ban4 holds ipv4_addr . ipv4_addr, ban6 ipv6_addr . ipv6_addr: a
 * concatenated key whose fields each take whole 4-byte registers, so 8
 * and 32 bytes. Each pair is in the set twice, once in each order. Every
 * reply is hostile input: attributes are validated before use, a key of
 * another length is refused, and a message that fails leaves the list as
 * it was. */
#include "sysincl.h"
#include <arpa/inet.h>
#include <endian.h>
#include <sys/socket.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>
#include "nft_bans.h"
#include "nftmsg.h"
#include "nlwalk.h"

#define NFT_BANS_MAX_DATAGRAMS	100000	/* per dump: a reading always ends */
#define NFT_BANS_RECV_TIMEOUT_MS 2000
#define NFT_BANS_PER_MSG	256	/* elements per DELSETELEM */

static const char *const set_names[2] = { "ban4", "ban6" };

static int set_index(const char *name)
{
	for (int i = 0; i < 2; i++)
		if (strcmp(name, set_names[i]) == 0)
			return i;
	return -1;
}

struct nlmsghdr *nft_bans_dump_request(char *buf, const char *set, uint32_t seq)
{
	struct nlmsghdr *nlh = nftmsg_dump_request(buf, set ? NFT_MSG_GETSETELEM : NFT_MSG_GETSET,
						   NFPROTO_INET, seq);

	if (set) {
		mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, NFT_BANS_TABLE);
		mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, set);
	} else {
		mnl_attr_put_strz(nlh, NFTA_SET_TABLE, NFT_BANS_TABLE);
	}
	return nlh;
}

static int list_grow(struct ban_list *l)
{
	struct ban_elem *v;
	size_t cap;

	if (l->n < l->cap)
		return 0;
	cap = l->cap ? l->cap * 2 : 64;
	v = realloc(l->v, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	l->v = v;
	l->cap = cap;
	return 0;
}

/* One NFTA_LIST_ELEM of set si into *e: 0, or -1. */
static int parse_elem(const struct nlattr *nest, int si, struct ban_elem *e)
{
	const struct nlattr *tb[NFTA_SET_ELEM_MAX + 1] = { NULL };
	size_t field = si == 0 ? 4 : 16;
	const uint8_t *k;
	const void *key;

	if (nftmsg_list_elem(nest, NFTA_SET_ELEM_MAX, nftmsg_setelem_types, tb) < 0 ||
	    nftmsg_data_value(tb[NFTA_SET_ELEM_KEY], 2 * field, &key) < 0)
		return -1;
	memset(e, 0, sizeof(*e));
	e->family = si == 0 ? 4 : 6;
	k = key;
	memcpy(e->a, k, field);
	memcpy(e->b, k + field, field);
	if (tb[NFTA_SET_ELEM_TIMEOUT]) {
		e->has_timeout = 1;
		e->timeout_ms = be64toh(mnl_attr_get_u64(tb[NFTA_SET_ELEM_TIMEOUT]));
	}
	if (tb[NFTA_SET_ELEM_EXPIRATION]) {
		e->has_expires = 1;
		e->expires_ms = be64toh(mnl_attr_get_u64(tb[NFTA_SET_ELEM_EXPIRATION]));
	}
	return 0;
}

static int parse_set(const struct nlmsghdr *nlh, const struct nfgenmsg *nfg, struct ban_list *l)
{
	const struct nlattr *tb[NFTA_SET_MAX + 1] = { NULL };
	int si;

	if (nftmsg_attrs(nlh, NFTA_SET_MAX, nftmsg_set_types, tb) < 0)
		return -1;
	if (!nftmsg_in_table(nfg, tb[NFTA_SET_TABLE], NFPROTO_INET, NFT_BANS_TABLE) ||
	    !tb[NFTA_SET_NAME] ||
	    (si = set_index(mnl_attr_get_str(tb[NFTA_SET_NAME]))) < 0)
		return 0;
	l->set_timeout_ms[si] = tb[NFTA_SET_TIMEOUT] ?
		be64toh(mnl_attr_get_u64(tb[NFTA_SET_TIMEOUT])) : 0;
	return 0;
}

int nft_bans_parse(const struct nlmsghdr *nlh, void *list)
{
	const struct nlattr *tb[NFTA_SET_ELEM_LIST_MAX + 1] = { NULL };
	struct ban_list *l = list;
	const struct nfgenmsg *nfg;
	const struct nlattr *a;
	size_t start = l->n;
	int si;

	nfg = nftmsg_get(nlh, NFT_MSG_NEWSET);
	if (nfg)
		return parse_set(nlh, nfg, l);
	nfg = nftmsg_get(nlh, NFT_MSG_NEWSETELEM);
	if (!nfg)
		return 0;
	if (nftmsg_attrs(nlh, NFTA_SET_ELEM_LIST_MAX, nftmsg_setelem_list_types, tb) < 0)
		return -1;
	if (!nftmsg_in_table(nfg, tb[NFTA_SET_ELEM_LIST_TABLE], NFPROTO_INET, NFT_BANS_TABLE) ||
	    !tb[NFTA_SET_ELEM_LIST_SET] ||
	    (si = set_index(mnl_attr_get_str(tb[NFTA_SET_ELEM_LIST_SET]))) < 0 ||
	    !tb[NFTA_SET_ELEM_LIST_ELEMENTS])
		return 0;
	mnl_attr_for_each_nested(a, tb[NFTA_SET_ELEM_LIST_ELEMENTS]) {
		if (l->n >= NFT_BANS_MAX) {
			l->truncated = 1;
			return 0;
		}
		if (list_grow(l) < 0) {
			l->n = start;
			return -ENOMEM;
		}
		if (parse_elem(a, si, &l->v[l->n]) < 0) {
			l->n = start;
			return -1;
		}
		l->n++;
	}
	return 0;
}

static int pair_cmp(const void *x, const void *y)
{
	const struct ban_elem *a = x, *b = y;
	int c;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	c = memcmp(a->a, b->a, 16);
	return c ? c : memcmp(a->b, b->b, 16);
}

static uint64_t elem_timeout(const struct ban_list *l, const struct ban_elem *e)
{
	return e->has_timeout ? e->timeout_ms : l->set_timeout_ms[e->family == 4 ? 0 : 1];
}

void nft_bans_pairs(struct ban_list *l)
{
	size_t out = 0;

	for (size_t i = 0; i < l->n; i++) {
		struct ban_elem *e = &l->v[i];

		if (memcmp(e->a, e->b, 16) > 0) {
			uint8_t t[16];

			memcpy(t, e->a, 16);
			memcpy(e->a, e->b, 16);
			memcpy(e->b, t, 16);
		}
		/* the set's timeout written out: the pairs stand alone */
		if (!e->has_timeout) {
			e->timeout_ms = elem_timeout(l, e);
			e->has_timeout = e->timeout_ms != 0;
		}
	}
	if (l->n > 1)
		qsort(l->v, l->n, sizeof(*l->v), pair_cmp);
	for (size_t i = 0; i < l->n; i++) {
		struct ban_elem *last = out ? &l->v[out - 1] : NULL;

		if (last && pair_cmp(last, &l->v[i]) == 0) {
			if (l->v[i].expires_ms > last->expires_ms) {
				last->expires_ms = l->v[i].expires_ms;
				last->has_expires |= l->v[i].has_expires;
			}
			continue;
		}
		l->v[out++] = l->v[i];
	}
	l->n = out;
}

void nft_bans_free(struct ban_list *l)
{
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

int nft_bans_select(const struct ban_list *l, const struct addrspec *spec, struct ban_list *out)
{
	memset(out, 0, sizeof(*out));
	memcpy(out->set_timeout_ms, l->set_timeout_ms, sizeof(out->set_timeout_ms));
	for (size_t i = 0; i < l->n; i++) {
		const struct ban_elem *e = &l->v[i];

		if (spec && !addrspec_match(spec, e->family, e->a) &&
		    !addrspec_match(spec, e->family, e->b))
			continue;
		if (list_grow(out) < 0) {
			nft_bans_free(out);
			return -ENOMEM;
		}
		out->v[out->n++] = *e;
	}
	return 0;
}

/* A DELSETELEM of set in table inet btblockd, to be acknowledged; without
 * an element list it flushes the set. */
static struct nlmsghdr *put_delsetelem(char *buf, const char *set, uint32_t seq)
{
	struct nlmsghdr *nlh = nftmsg_put(buf, (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_DELSETELEM,
					  NLM_F_REQUEST | NLM_F_ACK, NFPROTO_INET, 0, seq);

	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, NFT_BANS_TABLE);
	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, set);
	return nlh;
}

/* The most one more element (or the batch end) may take. */
#define ELEM_ROOM	128
#define MSG_ROOM	(256 + ELEM_ROOM)

size_t nft_bans_delete_batch(char *buf, size_t len, const struct ban_elem *e, size_t n,
			     uint32_t seq, unsigned *msgs)
{
	size_t off = 0;
	struct nlmsghdr *nlh;

	*msgs = 0;
	if (len < 2 * MSG_ROOM)
		return 0;
	off += nftmsg_batch_mark(buf, NFNL_MSG_BATCH_BEGIN, seq++);
	for (size_t i = 0; i < n;) {
		int si = e[i].family == 4 ? 0 : 1;
		size_t field = si == 0 ? 4 : 16;
		struct nlattr *elems;
		size_t first = i;
		unsigned k = 0;

		if (len - off < MSG_ROOM + ELEM_ROOM)
			return 0;
		nlh = put_delsetelem(buf + off, set_names[si], seq++);
		elems = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
		for (; i < n && e[i].family == e[first].family && k < NFT_BANS_PER_MSG &&
		       off + nlh->nlmsg_len + ELEM_ROOM + MSG_ROOM <= len; i++, k++) {
			struct nlattr *el = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
			struct nlattr *key = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_KEY);
			uint8_t v[32];

			memcpy(v, e[i].a, field);
			memcpy(v + field, e[i].b, field);
			mnl_attr_put(nlh, NFTA_DATA_VALUE, 2 * field, v);
			mnl_attr_nest_end(nlh, key);
			mnl_attr_nest_end(nlh, el);
		}
		mnl_attr_nest_end(nlh, elems);
		if (k == 0)
			return 0;
		off += NLMSG_ALIGN(nlh->nlmsg_len);
		++*msgs;
	}
	off += nftmsg_batch_mark(buf + off, NFNL_MSG_BATCH_END, seq);
	return off;
}

/* ---- the kernel ----------------------------------------------------- */

static int dump(struct mnl_socket *nl, uint32_t portid, uint32_t seq, const char *set,
		char *buf, struct ban_list *l)
{
	return nlwalk_dump(nl, portid, nft_bans_dump_request(buf, set, seq), buf, NFT_BANS_BUF,
			   NFT_BANS_MAX_DATAGRAMS, nft_bans_parse, l);
}

int nft_bans_read(struct ban_list *l)
{
	uint32_t portid, seq = (uint32_t)time(NULL);
	struct mnl_socket *nl;
	char *buf = malloc(NFT_BANS_BUF);
	int r = -ENOMEM;

	memset(l, 0, sizeof(*l));
	if (!buf)
		return r;
	nl = nlwalk_socket(NFT_BANS_RECV_TIMEOUT_MS / 1000, &portid);
	if (!nl) {
		r = -errno;
		free(buf);
		return r;
	}
	/* the sets first: their timeouts, and ENOENT when the table is absent */
	r = dump(nl, portid, seq, NULL, buf, l);
	for (int i = 0; i < 2 && r == 0; i++) {
		r = dump(nl, portid, seq + 1 + (uint32_t)i, set_names[i], buf, l);
		if (r == -ENOENT)
			r = 0;	/* a ruleset without that set: nothing banned in it */
	}
	mnl_socket_close(nl);
	free(buf);
	if (r < 0)
		nft_bans_free(l);
	return r;
}

/* Wait for the acknowledgements of messages first..first+msgs-1: 0, or
 * the first error. */
static int read_acks(struct mnl_socket *nl, uint32_t portid, uint32_t first, unsigned msgs,
		     char *buf)
{
	unsigned seen = 0;
	int err = 0;

	while (seen < msgs) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, NFT_BANS_BUF);
		const char *p = buf;
		size_t remain;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
		}
		remain = (size_t)n;
		while (remain >= sizeof(struct nlmsghdr)) {
			const struct nlmsghdr *nlh = (const struct nlmsghdr *)(const void *)p;
			const struct nlmsgerr *e;
			size_t step = NLMSG_ALIGN((size_t)nlh->nlmsg_len);

			if (nlh->nlmsg_len < sizeof(*nlh) || nlh->nlmsg_len > remain)
				return -EBADMSG;
			step = step < remain ? step : remain;
			p += step;
			remain -= step;
			if (nlh->nlmsg_type != NLMSG_ERROR || nlh->nlmsg_seq - first >= msgs ||
			    (nlh->nlmsg_pid && nlh->nlmsg_pid != portid))
				continue;
			e = mnl_nlmsg_get_payload(nlh);
			if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*e) || e->error > 0 ||
			    e->error < -4095)
				return -EBADMSG;
			if (e->error < 0 && !err)
				err = e->error;
			seen++;
		}
		/* an aborted batch acknowledges only up to its failure */
		if (err)
			return err;
	}
	return 0;
}

int nft_bans_delete(const struct ban_list *l)
{
	uint32_t portid, seq = (uint32_t)time(NULL) ^ 0x5a5a0000u;
	struct mnl_socket *nl;
	char *buf = malloc(NFT_BANS_BUF);
	int r = 0;

	if (!buf)
		return -ENOMEM;
	nl = nlwalk_socket(NFT_BANS_RECV_TIMEOUT_MS / 1000, &portid);
	if (!nl) {
		r = -errno;
		free(buf);
		return r;
	}
	for (size_t done = 0; done < l->n && r == 0;) {
		size_t chunk = l->n - done, len = 0;
		unsigned msgs = 0;

		/* as many as fit in one batch */
		if (chunk > 1000)
			chunk = 1000;
		while (chunk > 0 &&
		       (len = nft_bans_delete_batch(buf, NFT_BANS_BUF, l->v + done, chunk, seq,
						    &msgs)) == 0)
			chunk /= 2;
		if (!len) {
			r = -EMSGSIZE;
			break;
		}
		if (mnl_socket_sendto(nl, buf, len) < 0)
			r = -errno;
		else
			r = read_acks(nl, portid, seq + 1, msgs, buf);
		seq += msgs + 2;
		done += chunk;
	}
	mnl_socket_close(nl);
	free(buf);
	return r;
}

/* A set flush is a DELSETELEM without an element list. */
size_t nft_sets_flush_batch(char *buf, size_t len, const char *const *sets, size_t n,
			    uint32_t seq, unsigned *msgs)
{
	size_t off = 0;
	struct nlmsghdr *nlh;

	*msgs = 0;
	if (len < (n + 2) * MSG_ROOM)
		return 0;
	off += nftmsg_batch_mark(buf, NFNL_MSG_BATCH_BEGIN, seq++);
	for (size_t i = 0; i < n; i++) {
		if (strlen(sets[i]) >= 64)
			return 0;
		nlh = put_delsetelem(buf + off, sets[i], seq++);
		off += NLMSG_ALIGN(nlh->nlmsg_len);
		++*msgs;
	}
	off += nftmsg_batch_mark(buf + off, NFNL_MSG_BATCH_END, seq);
	return off;
}

struct mnl_socket *nft_sets_socket(uint32_t *portid)
{
	return nlwalk_socket(NFT_BANS_RECV_TIMEOUT_MS / 1000, portid);
}

int nft_sets_flush(struct mnl_socket *nl, uint32_t portid, const char *const *sets, size_t n)
{
	uint32_t seq = (uint32_t)time(NULL) ^ 0x3c3c0000u;
	char *buf = malloc(NFT_BANS_BUF);
	unsigned msgs;
	size_t len;
	int r;

	if (!buf)
		return -ENOMEM;
	len = nft_sets_flush_batch(buf, NFT_BANS_BUF, sets, n, seq, &msgs);
	if (!len)
		r = -EMSGSIZE;
	else if (mnl_socket_sendto(nl, buf, len) < 0)
		r = -errno;
	else
		r = read_acks(nl, portid, seq + 1, msgs, buf);
	free(buf);
	return r;
}
