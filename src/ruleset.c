/* ruleset.c - the daemon's view of its kernel ruleset: the ban counters
 * and ban sets of table inet btblockd, read over nftables netlink.
 *
 * A full ban set makes the ruleset's "add" fail; the ruleset counts that
 * in the named counter bans_failed, and this module reads it (and bans,
 * and the size of ban4 and ban6) every RULESET_POLL_MS, so that the stats
 * show it and the log says it once, instead of bans going missing in
 * silence. Two dumps per reading (sets, then counters of the table), on
 * one netlink socket opened at start-up; the control thread reads, never
 * a worker. Every reply is hostile input: attributes are validated before
 * use and the messages are walked within the bytes received. */
#include "sysincl.h"
#include <arpa/inet.h>
#include <endian.h>
#include <sys/socket.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>
#include "log.h"
#include "nlattr.h"
#include "ruleset.h"

/* Datagrams of one dump at most: a dump of one table's sets or counters
 * fits in one; the bound keeps a reading finite whatever arrives. */
#define RULESET_MAX_DATAGRAMS 64

struct nlmsghdr *ruleset_dump_request(char *buf, uint16_t msg_type, uint32_t seq)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *nfg;

	nlh->nlmsg_type = (uint16_t)((NFNL_SUBSYS_NFTABLES << 8) | msg_type);
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = NFPROTO_INET;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = 0;
	/* NFTA_SET_TABLE and NFTA_OBJ_TABLE are both attribute 1: the dump
	 * is filtered to our table (a set dump fails with ENOENT without it). */
	mnl_attr_put_strz(nlh, msg_type == NFT_MSG_GETOBJ ? NFTA_OBJ_TABLE : NFTA_SET_TABLE,
			  RULESET_TABLE);
	if (msg_type == NFT_MSG_GETOBJ)
		mnl_attr_put_u32(nlh, NFTA_OBJ_TYPE, htonl(NFT_OBJECT_COUNTER));
	return nlh;
}

/* The nfgenmsg of a message of ours, or NULL. */
static const struct nfgenmsg *our_message(const struct nlmsghdr *nlh, uint16_t msg_type)
{
	if (nlh->nlmsg_type != ((NFNL_SUBSYS_NFTABLES << 8) | msg_type) ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof(struct nfgenmsg))
		return NULL;
	return mnl_nlmsg_get_payload(nlh);
}

static int is_our_table(const struct nfgenmsg *nfg, const struct nlattr *table)
{
	return nfg->nfgen_family == NFPROTO_INET && table &&
	       strcmp(mnl_attr_get_str(table), RULESET_TABLE) == 0;
}

int ruleset_parse_set(const struct nlmsghdr *nlh, struct ruleset_view *v)
{
	static const enum mnl_attr_data_type set_types[NFTA_SET_MAX + 1] = {
		[NFTA_SET_TABLE] = MNL_TYPE_NUL_STRING,
		[NFTA_SET_NAME] = MNL_TYPE_NUL_STRING,
		[NFTA_SET_DESC] = MNL_TYPE_NESTED,
		[NFTA_SET_TIMEOUT] = MNL_TYPE_U64,
	};
	static const enum mnl_attr_data_type desc_types[NFTA_SET_DESC_MAX + 1] = {
		[NFTA_SET_DESC_SIZE] = MNL_TYPE_U32,
	};
	const struct nlattr *tb[NFTA_SET_MAX + 1] = { NULL };
	const struct nlattr *desc[NFTA_SET_DESC_MAX + 1] = { NULL };
	struct nlattr_table rule = { NFTA_SET_MAX, set_types, tb };
	struct nlattr_table desc_rule = { NFTA_SET_DESC_MAX, desc_types, desc };
	const struct nfgenmsg *nfg = our_message(nlh, NFT_MSG_NEWSET);
	struct ruleset_set *set;
	const char *name;

	if (!nfg)
		return 0;
	if (mnl_attr_parse(nlh, sizeof(*nfg), nlattr_table_cb, &rule) < 0)
		return -1;
	if (!is_our_table(nfg, tb[NFTA_SET_TABLE]) || !tb[NFTA_SET_NAME])
		return 0;
	name = mnl_attr_get_str(tb[NFTA_SET_NAME]);
	if (strcmp(name, "ban4") == 0)
		set = &v->ban4;
	else if (strcmp(name, "ban6") == 0)
		set = &v->ban6;
	else
		return 0;
	if (tb[NFTA_SET_DESC] && mnl_attr_parse_nested(tb[NFTA_SET_DESC], nlattr_table_cb, &desc_rule) < 0)
		return -1;
	set->present = 1;
	set->size = desc[NFTA_SET_DESC_SIZE] ? ntohl(mnl_attr_get_u32(desc[NFTA_SET_DESC_SIZE])) : 0;
	set->timeout_ms = tb[NFTA_SET_TIMEOUT] ? be64toh(mnl_attr_get_u64(tb[NFTA_SET_TIMEOUT])) : 0;
	return 0;
}

int ruleset_parse_obj(const struct nlmsghdr *nlh, struct ruleset_view *v)
{
	static const enum mnl_attr_data_type obj_types[NFTA_OBJ_MAX + 1] = {
		[NFTA_OBJ_TABLE] = MNL_TYPE_NUL_STRING,
		[NFTA_OBJ_NAME] = MNL_TYPE_NUL_STRING,
		[NFTA_OBJ_TYPE] = MNL_TYPE_U32,
		[NFTA_OBJ_DATA] = MNL_TYPE_NESTED,
	};
	static const enum mnl_attr_data_type counter_types[NFTA_COUNTER_MAX + 1] = {
		[NFTA_COUNTER_PACKETS] = MNL_TYPE_U64,
	};
	const struct nlattr *tb[NFTA_OBJ_MAX + 1] = { NULL };
	const struct nlattr *ctr[NFTA_COUNTER_MAX + 1] = { NULL };
	struct nlattr_table rule = { NFTA_OBJ_MAX, obj_types, tb };
	struct nlattr_table ctr_rule = { NFTA_COUNTER_MAX, counter_types, ctr };
	const struct nfgenmsg *nfg = our_message(nlh, NFT_MSG_NEWOBJ);
	const char *name;
	uint64_t packets;

	if (!nfg)
		return 0;
	if (mnl_attr_parse(nlh, sizeof(*nfg), nlattr_table_cb, &rule) < 0)
		return -1;
	if (!is_our_table(nfg, tb[NFTA_OBJ_TABLE]) || !tb[NFTA_OBJ_NAME] || !tb[NFTA_OBJ_TYPE] ||
	    ntohl(mnl_attr_get_u32(tb[NFTA_OBJ_TYPE])) != NFT_OBJECT_COUNTER || !tb[NFTA_OBJ_DATA])
		return 0;
	if (mnl_attr_parse_nested(tb[NFTA_OBJ_DATA], nlattr_table_cb, &ctr_rule) < 0)
		return -1;
	if (!ctr[NFTA_COUNTER_PACKETS])
		return 0;
	packets = be64toh(mnl_attr_get_u64(ctr[NFTA_COUNTER_PACKETS]));
	name = mnl_attr_get_str(tb[NFTA_OBJ_NAME]);
	if (strcmp(name, "bans") == 0) {
		v->has_bans = 1;
		v->bans = packets;
	} else if (strcmp(name, "bans_failed") == 0) {
		v->has_bans_failed = 1;
		v->bans_failed = packets;
	}
	return 0;
}

/* Messages of an earlier request (a reply that came after its timeout)
 * are skipped. The walk is bounded here rather than with mnl_nlmsg_ok(),
 * which takes a length of 2^31 or more for a negative one and lets the
 * walk jump out of the datagram; and a message is parsed only when its
 * length rounded up to the attribute alignment still lies inside the
 * datagram, since libmnl walks attributes up to that rounded end. */
int ruleset_walk(const void *buf, size_t len, uint32_t seq, uint32_t portid,
		 int (*parse)(const struct nlmsghdr *, struct ruleset_view *),
		 struct ruleset_view *v)
{
	const char *p = buf;
	size_t remain = len;

	while (remain >= sizeof(struct nlmsghdr)) {
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)(const void *)p;
		size_t step = NLMSG_ALIGN((size_t)nlh->nlmsg_len);
		int fits = step <= remain;	/* with its padding */

		if (nlh->nlmsg_len < sizeof(*nlh) || nlh->nlmsg_len > remain)
			return -EBADMSG;	/* cut or inconsistent: the rest is lost */
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
		if (!fits || parse(nlh, v) < 0)
			return -EBADMSG;
	}
	return 0;
}

static int read_dump(struct ruleset *r, uint16_t msg_type,
		     int (*parse)(const struct nlmsghdr *, struct ruleset_view *),
		     struct ruleset_view *v)
{
	struct nlmsghdr *nlh = ruleset_dump_request(r->buf, msg_type, ++r->seq);
	uint32_t seq = nlh->nlmsg_seq;

	if (mnl_socket_sendto(r->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (int i = 0; i < RULESET_MAX_DATAGRAMS; i++) {
		ssize_t n = mnl_socket_recvfrom(r->nl, r->buf, sizeof(r->buf));
		int ret;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
		}
		ret = ruleset_walk(r->buf, (size_t)n, seq, r->portid, parse, v);
		if (ret != 0)
			return ret < 0 ? ret : 0;
	}
	return -EMSGSIZE;
}

int ruleset_open(struct ruleset *r, char *err, size_t errlen)
{
	struct timeval tv = { .tv_usec = RULESET_RECV_TIMEOUT_MS * 1000 };

	memset(r, 0, sizeof(*r));
	r->logged_error = -2;	/* nothing logged yet */
	r->seq = (uint32_t)time(NULL);
	r->nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!r->nl)
		goto fail;
	if (fcntl(mnl_socket_get_fd(r->nl), F_SETFD, FD_CLOEXEC) < 0 ||
	    setsockopt(mnl_socket_get_fd(r->nl), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    mnl_socket_bind(r->nl, 0, MNL_SOCKET_AUTOPID) < 0)
		goto fail;
	r->portid = mnl_socket_get_portid(r->nl);
	return 0;
fail:
	r->view.error = errno ? errno : EIO;
	snprintf(err, errlen, "cannot open a netlink socket to read table inet %s: %s",
		 RULESET_TABLE, strerror(r->view.error));
	if (r->nl)
		mnl_socket_close(r->nl);
	r->nl = NULL;
	return -1;
}

void ruleset_close(struct ruleset *r)
{
	if (r->nl)
		mnl_socket_close(r->nl);
	r->nl = NULL;
}

void ruleset_note(struct ruleset *r, const struct ruleset_view *v, int64_t now_ms)
{
	if (!v->loaded || !v->has_bans_failed) {
		/* Gone or unreadable: the next table starts a new baseline. */
		r->have_baseline = 0;
		return;
	}
	if (!r->have_baseline) {
		/* Failures before this reading were not seen growing. */
		r->have_baseline = 1;
		r->failed_seen = v->bans_failed;
		return;
	}
	if (v->bans_failed < r->failed_seen)
		r->failed_seen = 0;	/* the table was loaded again: counters from 0 */
	r->failed_unreported += v->bans_failed - r->failed_seen;
	r->failed_seen = v->bans_failed;
	if (r->failed_unreported == 0 ||
	    (r->last_warn_ms != 0 && now_ms - r->last_warn_ms < RULESET_WARN_MS))
		return;
	LOG(LOG_WARNING, "ban set full: %" PRIu64 " bans could not be added (%" PRIu64
	    " since table inet %s was loaded); their flows were blocked without a ban: "
	    "raise btblockd-firewall --ban-set-size or shorten --ban-time",
	    r->failed_unreported, v->bans_failed, RULESET_TABLE);
	r->failed_unreported = 0;
	r->last_warn_ms = now_ms;
}

/* Say what changed about the table, once per change: its absence is
 * normal (the firewall helper not run yet), so it is only "info". */
static void log_state(struct ruleset *r, const struct ruleset_view *v)
{
	int state = v->error ? v->error : v->loaded ? 0 : -1;

	if (state != r->logged_error) {
		if (v->error)
			LOG(LOG_WARNING, "cannot read table inet %s: %s; the stats will lack it",
			    RULESET_TABLE, strerror(v->error));
		else if (!v->loaded)
			LOG(LOG_INFO, "table inet %s is not loaded (btblockd-firewall up loads it)",
			    RULESET_TABLE);
		else
			LOG(LOG_INFO, "table inet %s is loaded", RULESET_TABLE);
		if (v->loaded && !v->has_bans_failed)
			LOG(LOG_WARNING, "table inet %s has no counter bans_failed: a full ban set "
			    "would go unnoticed; load the current ruleset", RULESET_TABLE);
		r->logged_error = state;
	}
}

void ruleset_read(struct ruleset *r, int64_t now_ms)
{
	struct ruleset_view v = { .read_ms = now_ms > 0 ? now_ms : 1 };
	int e;

	if (!r->nl) {
		v.error = r->view.error ? r->view.error : EBADF;
		r->view = v;
		return;
	}
	e = read_dump(r, NFT_MSG_GETSET, ruleset_parse_set, &v);
	if (e == 0) {
		v.loaded = 1;
		e = read_dump(r, NFT_MSG_GETOBJ, ruleset_parse_obj, &v);
	}
	if (e < 0) {
		/* No such table: not loaded, which is no error. */
		v = (struct ruleset_view){ .read_ms = v.read_ms, .error = e == -ENOENT ? 0 : -e };
	}
	log_state(r, &v);
	ruleset_note(r, &v, now_ms);
	r->view = v;
}

void ruleset_poll(struct ruleset *r, int64_t now_ms)
{
	if (now_ms < r->next_read_ms)
		return;
	r->next_read_ms = now_ms + RULESET_POLL_MS;
	ruleset_read(r, now_ms);
}

static json_t *set_json(const struct ruleset_set *s)
{
	if (!s->present)
		return json_null();
	return json_pack("{s:I,s:I}", "size", (json_int_t)s->size,
			 "timeout_s", (json_int_t)(s->timeout_ms / 1000));
}

static json_t *counter_json(int has, uint64_t value)
{
	return has ? json_integer((json_int_t)value) : json_null();
}

json_t *ruleset_json(const struct ruleset_view *v, int64_t now_ms)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	json_object_set_new(o, "loaded", json_boolean(v->loaded));
	json_object_set_new(o, "age_ms", v->read_ms ?
			    json_integer((json_int_t)(now_ms > v->read_ms ? now_ms - v->read_ms : 0)) :
			    json_null());
	if (v->error)
		json_object_set_new(o, "error", json_string(strerror(v->error)));
	if (!v->loaded)
		return o;
	json_object_set_new(o, "bans", counter_json(v->has_bans, v->bans));
	json_object_set_new(o, "bans_failed", counter_json(v->has_bans_failed, v->bans_failed));
	json_object_set_new(o, "ban_sets", json_pack("{s:o,s:o}", "ban4", set_json(&v->ban4),
						      "ban6", set_json(&v->ban6)));
	return o;
}
