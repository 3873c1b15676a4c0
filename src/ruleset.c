/* ruleset.c - the daemon's view of its kernel ruleset: the ban counters
 * and ban sets of table inet btblockd, read over nftables netlink, and the
 * watch that notices when the table or a part of it disappears.
 *
 * A full ban set makes the ruleset's "add" fail; the ruleset counts that
 * in the named counter bans_failed, and this module reads it (and bans,
 * and the size of ban4 and ban6) every RULESET_POLL_MS, so that the stats
 * show it and the log says it once, instead of bans going missing in
 * silence. The same reading checks the table's structure: the ban sets,
 * the verdict maps, chain decide and the base chains (the hooks), with
 * their rules, and with the xtables backend (no queue expression in the
 * table) iptables-nft's chain BTBLOCKD and the jumps to it in table
 * mangle. Without them nothing is queued or nothing blocked, and the
 * daemon, which sees only undecided flows, would go on in silence: "nft
 * flush ruleset", a restart of nftables.service, a deleted chain. A second
 * socket, subscribed to the kernel's ruleset notifications
 * (NFNLGRP_NFTABLES), makes a reading due as soon as anything changes, so
 * a loss is seen within a fraction of a second, and the periodic reading
 * covers a lost notification. A loss is logged once and shown in the
 * stats; with --firewall-lost exit (the default) the daemon exits with
 * status 3 after RULESET_GRACE_MS unless the table is back, so that its
 * service manager restarts it and loads the rules again. A table never
 * seen complete (the daemon started first, the offline mode) is only
 * waited for. The control thread reads, never a worker. Every reply is
 * hostile input: attributes are validated before use and the messages are
 * walked within the bytes received. */
#include "sysincl.h"
#include <arpa/inet.h>
#include <endian.h>
#include <sys/socket.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>
#include "log.h"
#include "nftmsg.h"
#include "nlwalk.h"
#include "ruleset.h"

/* Datagrams of one dump at most: a dump of one table's sets or counters
 * fits in one; the bound keeps a reading finite whatever arrives. */
#define RULESET_MAX_DATAGRAMS 64

static struct nlmsghdr *dump_request(char *buf, uint16_t msg_type, uint8_t family,
				     const char *table, uint32_t seq)
{
	struct nlmsghdr *nlh = nftmsg_dump_request(buf, msg_type, family, seq);

	/* NFTA_SET_TABLE, NFTA_OBJ_TABLE, NFTA_CHAIN_TABLE and NFTA_RULE_TABLE
	 * are all attribute 1: set, counter and rule dumps are filtered to
	 * the table (a set dump fails with ENOENT without it); chain dumps
	 * are not (every table of the family, told apart when parsed). A
	 * table dump lists every table of the family. */
	if (msg_type != NFT_MSG_GETTABLE)
		mnl_attr_put_strz(nlh, NFTA_SET_TABLE, table);
	if (msg_type == NFT_MSG_GETOBJ)
		mnl_attr_put_u32(nlh, NFTA_OBJ_TYPE, htonl(NFT_OBJECT_COUNTER));
	return nlh;
}

struct nlmsghdr *ruleset_dump_request(char *buf, uint16_t msg_type, uint32_t seq)
{
	return dump_request(buf, msg_type, NFPROTO_INET, RULESET_TABLE, seq);
}

struct nlmsghdr *ruleset_dump_request_xt(char *buf, uint8_t family, uint32_t seq)
{
	return dump_request(buf, NFT_MSG_GETRULE, family, "mangle", seq);
}

static int is_our_table(const struct nfgenmsg *nfg, const struct nlattr *table)
{
	return nftmsg_in_table(nfg, table, NFPROTO_INET, RULESET_TABLE);
}

int ruleset_parse_set(const struct nlmsghdr *nlh, struct ruleset_view *v)
{
	const struct nlattr *tb[NFTA_SET_MAX + 1] = { NULL };
	const struct nfgenmsg *nfg = nftmsg_get(nlh, NFT_MSG_NEWSET);
	struct ruleset_set *set;
	const char *name;
	uint32_t size;

	if (!nfg)
		return 0;
	if (nftmsg_attrs(nlh, NFTA_SET_MAX, nftmsg_set_types, tb) < 0)
		return -1;
	if (!is_our_table(nfg, tb[NFTA_SET_TABLE]) || !tb[NFTA_SET_NAME])
		return 0;
	name = mnl_attr_get_str(tb[NFTA_SET_NAME]);
	if (strcmp(name, "decided") == 0)
		v->has_decided = 1;
	else if (strcmp(name, "verdicts") == 0)
		v->has_verdicts = 1;
	if (strcmp(name, "ban4") == 0)
		set = &v->ban4;
	else if (strcmp(name, "ban6") == 0)
		set = &v->ban6;
	else
		return 0;
	if (nftmsg_set_size(tb[NFTA_SET_DESC], &size) < 0)
		return -1;
	set->present = 1;
	set->size = size;
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
	const struct nfgenmsg *nfg = nftmsg_get(nlh, NFT_MSG_NEWOBJ);
	const char *name;
	uint64_t packets;

	if (!nfg)
		return 0;
	if (nftmsg_attrs(nlh, NFTA_OBJ_MAX, obj_types, tb) < 0)
		return -1;
	if (!is_our_table(nfg, tb[NFTA_OBJ_TABLE]) || !tb[NFTA_OBJ_NAME] || !tb[NFTA_OBJ_TYPE] ||
	    ntohl(mnl_attr_get_u32(tb[NFTA_OBJ_TYPE])) != NFT_OBJECT_COUNTER || !tb[NFTA_OBJ_DATA])
		return 0;
	if (nftmsg_nested(tb[NFTA_OBJ_DATA], NFTA_COUNTER_MAX, counter_types, ctr) < 0)
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

int ruleset_parse_table(const struct nlmsghdr *nlh, struct ruleset_view *v)
{
	static const enum mnl_attr_data_type table_types[NFTA_TABLE_MAX + 1] = {
		[NFTA_TABLE_NAME] = MNL_TYPE_NUL_STRING,
		[NFTA_TABLE_HANDLE] = MNL_TYPE_U64,
	};
	const struct nlattr *tb[NFTA_TABLE_MAX + 1] = { NULL };
	const struct nfgenmsg *nfg = nftmsg_get(nlh, NFT_MSG_NEWTABLE);

	if (!nfg)
		return 0;
	if (nftmsg_attrs(nlh, NFTA_TABLE_MAX, table_types, tb) < 0)
		return -1;
	if (!is_our_table(nfg, tb[NFTA_TABLE_NAME]))
		return 0;
	v->loaded = 1;
	if (tb[NFTA_TABLE_HANDLE]) {
		v->has_handle = 1;
		v->handle = be64toh(mnl_attr_get_u64(tb[NFTA_TABLE_HANDLE]));
	}
	return 0;
}

static struct ruleset_chain *find_chain(struct ruleset_view *v, const char *name)
{
	for (unsigned i = 0; i < v->nchains; i++)
		if (strcmp(v->chains[i].name, name) == 0)
			return &v->chains[i];
	return NULL;
}

int ruleset_parse_chain(const struct nlmsghdr *nlh, struct ruleset_view *v)
{
	const struct nlattr *tb[NFTA_CHAIN_MAX + 1] = { NULL };
	const struct nfgenmsg *nfg = nftmsg_get(nlh, NFT_MSG_NEWCHAIN);
	struct ruleset_chain *c;
	const char *name;

	if (!nfg)
		return 0;
	if (nftmsg_attrs(nlh, NFTA_CHAIN_MAX, nftmsg_chain_types, tb) < 0)
		return -1;
	if (!is_our_table(nfg, tb[NFTA_CHAIN_TABLE]) || !tb[NFTA_CHAIN_NAME])
		return 0;
	name = mnl_attr_get_str(tb[NFTA_CHAIN_NAME]);
	if (strlen(name) >= RULESET_NAME_MAX || find_chain(v, name))
		return 0;
	if (v->nchains == RULESET_MAX_CHAINS) {
		v->chains_overflow = 1;
		return 0;
	}
	c = &v->chains[v->nchains++];
	memcpy(c->name, name, strlen(name) + 1);
	c->base = tb[NFTA_CHAIN_HOOK] != NULL;
	c->rules = 0;
	return 0;
}

/* One expression of a rule: its name, and for "immediate" the chain a
 * jump or goto leads to (NULL for anything else). Only an immediate that
 * writes the verdict register has its data read. */
static int parse_expr(const struct nlattr *elem, const char **name, const char **target)
{
	const struct nlattr *it[NFTA_IMMEDIATE_MAX + 1] = { NULL };
	const struct nlattr *data;

	*target = NULL;
	if (nftmsg_expr(elem, name, &data) < 0)
		return -1;
	if (!*name || strcmp(*name, "immediate") != 0 || !data)
		return 0;
	if (nftmsg_immediate(data, it) < 0)
		return -1;
	if (!it[NFTA_IMMEDIATE_DREG] || ntohl(mnl_attr_get_u32(it[NFTA_IMMEDIATE_DREG])) != NFT_REG_VERDICT ||
	    !it[NFTA_IMMEDIATE_DATA])
		return 0;
	return nftmsg_jump_target(it[NFTA_IMMEDIATE_DATA], target);
}

/* The rule's table, chain and expressions, validated; 0 with *chain NULL
 * when it is not a rule of table (family) or lacks them. */
static int parse_rule_head(const struct nlmsghdr *nlh, uint8_t family, const char *table,
			   const char **chain, const struct nlattr **exprs)
{
	static const enum mnl_attr_data_type rule_types[NFTA_RULE_MAX + 1] = {
		[NFTA_RULE_TABLE] = MNL_TYPE_NUL_STRING,
		[NFTA_RULE_CHAIN] = MNL_TYPE_NUL_STRING,
		[NFTA_RULE_EXPRESSIONS] = MNL_TYPE_NESTED,
	};
	const struct nlattr *tb[NFTA_RULE_MAX + 1] = { NULL };
	const struct nfgenmsg *nfg = nftmsg_get(nlh, NFT_MSG_NEWRULE);

	*chain = NULL;
	*exprs = NULL;
	if (!nfg)
		return 0;
	if (nftmsg_attrs(nlh, NFTA_RULE_MAX, rule_types, tb) < 0)
		return -1;
	if (!nftmsg_in_table(nfg, tb[NFTA_RULE_TABLE], family, table) || !tb[NFTA_RULE_CHAIN])
		return 0;
	*chain = mnl_attr_get_str(tb[NFTA_RULE_CHAIN]);
	*exprs = tb[NFTA_RULE_EXPRESSIONS];
	return 0;
}

int ruleset_parse_rule(const struct nlmsghdr *nlh, struct ruleset_view *v)
{
	const struct nlattr *exprs, *e;
	struct ruleset_chain *c;
	const char *chain;

	if (parse_rule_head(nlh, NFPROTO_INET, RULESET_TABLE, &chain, &exprs) < 0)
		return -1;
	if (!chain)
		return 0;
	c = find_chain(v, chain);
	if (c)
		c->rules++;
	if (!exprs)
		return 0;
	mnl_attr_for_each_nested(e, exprs) {
		const char *name, *target;

		if (parse_expr(e, &name, &target) < 0)
			return -1;
		if (name && strcmp(name, "queue") == 0)
			v->queue_expr = 1;
	}
	return 0;
}

int ruleset_parse_xt_rule(const struct nlmsghdr *nlh, struct ruleset_view *v)
{
	const struct nfgenmsg *nfg = nftmsg_get(nlh, NFT_MSG_NEWRULE);
	const struct nlattr *exprs, *e;
	const char *chain;
	int f;

	if (!nfg || (nfg->nfgen_family != NFPROTO_IPV4 && nfg->nfgen_family != NFPROTO_IPV6))
		return 0;
	f = nfg->nfgen_family == NFPROTO_IPV6;
	if (parse_rule_head(nlh, nfg->nfgen_family, "mangle", &chain, &exprs) < 0)
		return -1;
	if (!chain)
		return 0;
	if (strcmp(chain, RULESET_XT_CHAIN) == 0) {
		v->xt_rules[f]++;
		return 0;
	}
	if (!exprs)
		return 0;
	mnl_attr_for_each_nested(e, exprs) {
		const char *name, *target;

		if (parse_expr(e, &name, &target) < 0)
			return -1;
		if (target && strcmp(target, RULESET_XT_CHAIN) == 0) {
			v->xt_jumps[f]++;
			break;
		}
	}
	return 0;
}

/* A parser of this module, as nlwalk() calls it. */
struct walk_parser {
	int (*parse)(const struct nlmsghdr *, struct ruleset_view *);
	struct ruleset_view *v;
};

static int walk_parse(const struct nlmsghdr *nlh, void *arg)
{
	const struct walk_parser *w = arg;

	return w->parse(nlh, w->v) < 0 ? -1 : 0;	/* any failure: -EBADMSG */
}

int ruleset_walk(const void *buf, size_t len, uint32_t seq, uint32_t portid,
		 int (*parse)(const struct nlmsghdr *, struct ruleset_view *),
		 struct ruleset_view *v)
{
	struct walk_parser w = { parse, v };

	return nlwalk(buf, len, seq, portid, walk_parse, &w);
}

/* Send the dump request in r->buf and walk its reply. */
static int read_reply(struct ruleset *r, const struct nlmsghdr *nlh,
		      int (*parse)(const struct nlmsghdr *, struct ruleset_view *),
		      struct ruleset_view *v)
{
	struct walk_parser w = { parse, v };

	return nlwalk_dump(r->nl, r->portid, nlh, r->buf, sizeof(r->buf), RULESET_MAX_DATAGRAMS,
			   walk_parse, &w);
}

static int read_dump(struct ruleset *r, uint16_t msg_type,
		     int (*parse)(const struct nlmsghdr *, struct ruleset_view *),
		     struct ruleset_view *v)
{
	return read_reply(r, ruleset_dump_request(r->buf, msg_type, ++r->seq), parse, v);
}

static int open_socket(struct mnl_socket **nl, unsigned groups, int nonblock)
{
	struct timeval tv = { .tv_usec = RULESET_RECV_TIMEOUT_MS * 1000 };
	int fd;

	*nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!*nl)
		return -1;
	fd = mnl_socket_get_fd(*nl);
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 ||
	    (nonblock ? fcntl(fd, F_SETFL, O_NONBLOCK) : setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO,
								     &tv, sizeof(tv))) < 0 ||
	    mnl_socket_bind(*nl, groups, MNL_SOCKET_AUTOPID) < 0) {
		int e = errno;

		mnl_socket_close(*nl);
		*nl = NULL;
		errno = e;
		return -1;
	}
	return 0;
}

int ruleset_open(struct ruleset *r, int exit_on_loss, char *err, size_t errlen)
{
	memset(r, 0, sizeof(*r));
	r->logged_error = -2;	/* nothing logged yet */
	r->seq = (uint32_t)time(NULL);
	r->state = RULESET_ABSENT;
	r->exit_on_loss = exit_on_loss;
	if (open_socket(&r->nl, 0, 0) < 0) {
		r->view.error = errno ? errno : EIO;
		snprintf(err, errlen, "cannot open a netlink socket to read table inet %s: %s",
			 RULESET_TABLE, strerror(r->view.error));
		r->state = RULESET_UNKNOWN;
		return -1;
	}
	r->portid = mnl_socket_get_portid(r->nl);
	/* Joining a netfilter group takes CAP_NET_ADMIN: done now. */
	if (open_socket(&r->ev, 1u << (NFNLGRP_NFTABLES - 1), 1) < 0) {
		snprintf(err, errlen, "cannot subscribe to ruleset notifications: %s; table inet %s "
			 "is checked every %d ms only", strerror(errno), RULESET_TABLE, RULESET_POLL_MS);
		return 1;
	}
	return 0;
}

int ruleset_event_fd(const struct ruleset *r)
{
	return r->ev ? mnl_socket_get_fd(r->ev) : -1;
}

/* What a notification says is not parsed: any change of the ruleset makes
 * a reading due, which tells more. An overrun (ENOBUFS) does too. */
void ruleset_events(struct ruleset *r)
{
	if (!r->ev)
		return;
	for (int i = 0; i < RULESET_EVENT_BURST; i++) {
		ssize_t n = recv(mnl_socket_get_fd(r->ev), r->buf, sizeof(r->buf), MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			r->dirty = 1;	/* ENOBUFS: notifications lost */
			if (errno != ENOBUFS) {
				LOG(LOG_WARNING, "ruleset notifications: %s; table inet %s is checked "
				    "every %d ms only", strerror(errno), RULESET_TABLE, RULESET_POLL_MS);
				mnl_socket_close(r->ev);
				r->ev = NULL;
				return;
			}
			continue;
		}
		r->notifications++;
		r->dirty = 1;
	}
}

void ruleset_close(struct ruleset *r)
{
	if (r->nl)
		mnl_socket_close(r->nl);
	if (r->ev)
		mnl_socket_close(r->ev);
	r->nl = NULL;
	r->ev = NULL;
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

/* Say when a reading fails, once per errno, and that a table is loaded or
 * not yet. A table not there at start-up is waited for (a warning: the
 * firewall helper not run yet, an admin loading the rules by hand);
 * once seen complete, its loss is ruleset_check's. */
static void log_state(struct ruleset *r, const struct ruleset_view *v)
{
	int state = v->error ? v->error : v->loaded ? 0 : -1;

	if (state != r->logged_error) {
		if (v->error)
			LOG(LOG_WARNING, "cannot read table inet %s: %s; the stats will lack it",
			    RULESET_TABLE, strerror(v->error));
		else if (!v->loaded && !r->armed)
			LOG(LOG_WARNING, "table inet %s is not loaded: nothing is queued to btblockd "
			    "until btblockd-firewall up loads it; watching for it", RULESET_TABLE);
		else if (v->loaded)
			LOG(LOG_INFO, "table inet %s is loaded", RULESET_TABLE);
		if (v->loaded && !v->has_bans_failed)
			LOG(LOG_WARNING, "table inet %s has no counter bans_failed: a full ban set "
			    "would go unnoticed; load the current ruleset", RULESET_TABLE);
		r->logged_error = state;
	}
}

/* Append ", item" (or "item" first) to buf, within len; an item already
 * listed is not repeated. */
static unsigned add_missing(char *buf, size_t len, unsigned n, const char *what, const char *name)
{
	char item[RULESET_NAME_MAX + 64];
	size_t used = strlen(buf), il;

	snprintf(item, sizeof(item), "%s%s", what, name);
	il = strlen(item);
	for (const char *p = buf; (p = strstr(p, item)) != NULL; p += il)
		if ((p == buf || p[-1] == ' ') && (p[il] == ',' || p[il] == '\0'))
			return n;
	if (used + 1 < len)
		snprintf(buf + used, len - used, "%s%s", n ? ", " : "", item);
	return n + 1;
}

static const struct ruleset_chain *chain_of(const struct ruleset_view *v, const char *name)
{
	for (unsigned i = 0; i < v->nchains; i++)
		if (strcmp(v->chains[i].name, name) == 0)
			return &v->chains[i];
	return NULL;
}

/* A base chain X_decide needs its X_verdict and the other way round: the
 * name of the twin (in twin) when it is not a base chain of the table. */
static int lacks_twin(const struct ruleset_view *v, const char *name, char *twin, size_t len)
{
	static const char *const pairs[][2] = { { "_decide", "_verdict" }, { "_verdict", "_decide" } };
	const struct ruleset_chain *c;
	size_t nl = strlen(name);

	for (size_t i = 0; i < ARRAY_SIZE(pairs); i++) {
		size_t sl = strlen(pairs[i][0]);

		if (nl <= sl || strcmp(name + nl - sl, pairs[i][0]) != 0)
			continue;
		snprintf(twin, len, "%.*s%s", (int)(nl - sl), name, pairs[i][1]);
		c = chain_of(v, twin);
		return !c || !c->base;
	}
	return 0;	/* not one of a pair */
}

unsigned ruleset_missing(const struct ruleset *r, const struct ruleset_view *v,
			 char *buf, size_t len)
{
	static const char *const families[2] = { "ip", "ip6" };
	const struct ruleset_chain *c;
	char twin[RULESET_NAME_MAX + 16];
	unsigned n = 0, bases = 0;

	buf[0] = '\0';
	if (!v->loaded)
		return add_missing(buf, len, n, "table inet ", RULESET_TABLE);
	if (!v->ban4.present)
		n = add_missing(buf, len, n, "set ", "ban4");
	if (!v->ban6.present)
		n = add_missing(buf, len, n, "set ", "ban6");
	if (!v->has_decided)
		n = add_missing(buf, len, n, "map ", "decided");
	if (!v->has_verdicts)
		n = add_missing(buf, len, n, "map ", "verdicts");
	c = chain_of(v, "decide");
	if (!c)
		n = add_missing(buf, len, n, "chain ", "decide");
	else if (c->rules == 0)
		n = add_missing(buf, len, n, "the rules of chain ", "decide");
	for (unsigned i = 0; i < v->nchains; i++) {
		c = &v->chains[i];
		if (!c->base)
			continue;
		bases++;
		if (c->rules == 0)
			n = add_missing(buf, len, n, "the rules of base chain ", c->name);
		if (lacks_twin(v, c->name, twin, sizeof(twin)))
			n = add_missing(buf, len, n, "base chain ", twin);
	}
	if (bases == 0)
		n = add_missing(buf, len, n, "every base chain", "");
	/* Base chains the same table had when it was last complete. */
	if (r && r->armed && v->has_handle && v->handle == r->base_handle)
		for (unsigned i = 0; i < r->nbase; i++) {
			c = chain_of(v, r->base[i]);
			if ((!c || !c->base) && !v->chains_overflow)
				n = add_missing(buf, len, n, "base chain ", r->base[i]);
		}
	/* The xtables backend, where it was seen (iptables-nft). */
	if (!v->queue_expr)
		for (int f = 0; f < 2; f++) {
			if (!r || !r->xt_seen[f] || !v->xt_read[f])
				continue;
			if (v->xt_rules[f] == 0)
				n = add_missing(buf, len, n, families[f], " mangle chain " RULESET_XT_CHAIN);
			else if (v->xt_jumps[f] == 0)
				n = add_missing(buf, len, n, families[f], " mangle jump to " RULESET_XT_CHAIN);
		}
	return n;
}

static const char *on_loss_name(int exiting)
{
	return exiting ? "exit" : "log";
}

static const char *state_name(enum ruleset_state s)
{
	switch (s) {
	case RULESET_ABSENT: return "absent";
	case RULESET_OK: return "ok";
	case RULESET_MISSING: return "missing";
	case RULESET_DAMAGED: return "damaged";
	case RULESET_UNKNOWN: break;
	}
	return "unknown";
}

/* A complete table: what must stay from now on. */
static void set_baseline(struct ruleset *r, const struct ruleset_view *v)
{
	r->nbase = 0;
	for (unsigned i = 0; i < v->nchains; i++)
		if (v->chains[i].base)
			memcpy(r->base[r->nbase++], v->chains[i].name, RULESET_NAME_MAX);
	r->base_handle = v->handle;
	for (int f = 0; f < 2; f++) {
		if (v->queue_expr)
			r->xt_seen[f] = 0;	/* the nft backend now */
		else if (v->xt_read[f] && v->xt_rules[f] && v->xt_jumps[f])
			r->xt_seen[f] = 1;
	}
}

void ruleset_check(struct ruleset *r, const struct ruleset_view *v, int64_t now_ms)
{
	char missing[RULESET_MISSING_MAX];
	enum ruleset_state state;
	int exiting = __atomic_load_n(&r->exit_on_loss, __ATOMIC_RELAXED);

	if (v->error)
		return;		/* unreadable: nothing known (log_state said why) */
	if (ruleset_missing(r, v, missing, sizeof(missing)) == 0)
		state = RULESET_OK;
	else if (!v->loaded)
		state = r->armed ? RULESET_MISSING : RULESET_ABSENT;
	else
		state = RULESET_DAMAGED;

	if (state == RULESET_OK) {
		if (r->lost_since_ms)
			LOG(LOG_NOTICE, "table inet %s is complete again after %lld ms; watching it",
			    RULESET_TABLE, (long long)(now_ms - r->lost_since_ms));
		else if (r->state != RULESET_OK)
			LOG(LOG_INFO, "table inet %s is complete; watching it (--firewall-lost %s)",
			    RULESET_TABLE, on_loss_name(exiting));
		set_baseline(r, v);
		r->armed = 1;
		r->lost_since_ms = 0;
	} else if (r->armed && !r->lost_since_ms) {
		/* A loss: once, at error level, with what is gone. */
		r->lost++;
		r->lost_since_ms = now_ms > 0 ? now_ms : 1;
		LOG(LOG_ERR, "firewall lost: table inet %s %s%s; nothing may be queued to btblockd "
		    "and decided flows and bans may no longer be enforced; %s",
		    RULESET_TABLE, state == RULESET_MISSING ? "is gone" : "is damaged, missing: ",
		    state == RULESET_MISSING ? "" : missing,
		    exiting ? "exiting in 5 s unless it comes back, so that the service manager "
			      "restarts btblockd and loads the rules again (--firewall-lost exit)"
			    : "btblockd-firewall up loads it again (--firewall-lost log)");
	} else if (!r->armed && state == RULESET_DAMAGED &&
		   (r->state != RULESET_DAMAGED || strcmp(missing, r->missing) != 0)) {
		/* Never complete since start-up: said, not acted on. */
		LOG(LOG_WARNING, "table inet %s is incomplete (%s); btblockd-firewall up loads it "
		    "whole; watching for it", RULESET_TABLE, missing);
	}
	r->state = state;
	memcpy(r->missing, missing, sizeof(missing));
	if (!r->lost_since_ms || !exiting)
		return;
	if (now_ms - r->lost_since_ms >= RULESET_GRACE_MS) {
		if (!__atomic_load_n(&r->exit_requested, __ATOMIC_RELAXED))
			LOG(LOG_ERR, "firewall lost for %lld ms (%s): exiting with status 3 so that "
			    "the service manager restarts btblockd and loads the rules again",
			    (long long)(now_ms - r->lost_since_ms), missing);
		__atomic_store_n(&r->exit_requested, 1, __ATOMIC_RELEASE);
	} else if (r->next_read_ms > r->lost_since_ms + RULESET_GRACE_MS) {
		/* Read again when the grace ends. */
		r->next_read_ms = r->lost_since_ms + RULESET_GRACE_MS;
	}
}

void ruleset_set_exit_on_loss(struct ruleset *r, int exit_on_loss)
{
	__atomic_store_n(&r->exit_on_loss, exit_on_loss, __ATOMIC_RELAXED);
}

int ruleset_exit_requested(struct ruleset *r)
{
	return __atomic_load_n(&r->exit_requested, __ATOMIC_ACQUIRE);
}

/* The xtables backend's rules, per family; a table mangle that is not
 * there (ENOENT) holds none. */
static void read_xt(struct ruleset *r, struct ruleset_view *v)
{
	static const uint8_t families[2] = { NFPROTO_IPV4, NFPROTO_IPV6 };

	for (int f = 0; f < 2; f++) {
		int e = read_reply(r, ruleset_dump_request_xt(r->buf, families[f], ++r->seq),
				   ruleset_parse_xt_rule, v);

		v->xt_read[f] = e == 0 || e == -ENOENT;
		if (e < 0) {
			v->xt_rules[f] = 0;
			v->xt_jumps[f] = 0;
		}
	}
}

void ruleset_read(struct ruleset *r, int64_t now_ms)
{
	struct ruleset_view *v = &r->scratch;	/* large: not on the stack */
	int64_t read_ms = now_ms > 0 ? now_ms : 1;
	int e;

	memset(v, 0, sizeof(*v));
	v->read_ms = read_ms;
	r->last_read_ms = now_ms;
	if (!r->nl) {
		v->error = r->view.error ? r->view.error : EBADF;
		r->view = *v;
		return;
	}
	/* The table first: not there, nothing else to read. */
	e = read_dump(r, NFT_MSG_GETTABLE, ruleset_parse_table, v);
	if (e == 0 && v->loaded)
		e = read_dump(r, NFT_MSG_GETSET, ruleset_parse_set, v);
	if (e == 0 && v->loaded)
		e = read_dump(r, NFT_MSG_GETOBJ, ruleset_parse_obj, v);
	if (e == 0 && v->loaded)
		e = read_dump(r, NFT_MSG_GETCHAIN, ruleset_parse_chain, v);
	if (e == 0 && v->loaded)
		e = read_dump(r, NFT_MSG_GETRULE, ruleset_parse_rule, v);
	if (e == 0 && v->loaded && !v->queue_expr)
		read_xt(r, v);
	if (e < 0 || !v->loaded) {
		/* No such table (ENOENT: gone between two dumps): not loaded,
		 * which is no error. */
		memset(v, 0, sizeof(*v));
		v->read_ms = read_ms;
		v->error = e == -ENOENT || e == 0 ? 0 : -e;
	}
	log_state(r, v);
	ruleset_note(r, v, now_ms);
	ruleset_check(r, v, now_ms);
	r->view = *v;
}

void ruleset_poll(struct ruleset *r, int64_t now_ms)
{
	if (now_ms < r->next_read_ms &&
	    !(r->dirty && now_ms - r->last_read_ms >= RULESET_EVENT_MIN_MS))
		return;
	r->dirty = 0;
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

/* Which backend queues: the table's queue statement, or xtables (seen in
 * nftables, or not: iptables-legacy keeps its rules elsewhere). */
static const char *backend_name(const struct ruleset_view *v, const struct ruleset *r)
{
	if (v->queue_expr)
		return "nft";
	return r->xt_seen[0] || r->xt_seen[1] ? "xt" : "xt-unverified";
}

/* The watch's part of the "ruleset" object. */
static void watch_json(json_t *o, const struct ruleset_view *v, const struct ruleset *r,
		       int64_t now_ms)
{
	int exiting = __atomic_load_n(&r->exit_on_loss, __ATOMIC_RELAXED);
	json_t *missing = json_array();
	const char *p = r->missing;

	/* The text split back into its items: ", " never occurs inside one. */
	while (missing && *p) {
		const char *end = strstr(p, ", ");
		size_t n = end ? (size_t)(end - p) : strlen(p);

		json_array_append_new(missing, json_stringn(p, n));
		p += n + (end ? 2 : 0);
	}
	json_object_set_new(o, "state", json_string(state_name(r->state)));
	json_object_set_new(o, "missing", missing ? missing : json_array());
	json_object_set_new(o, "lost", json_integer((json_int_t)r->lost));
	json_object_set_new(o, "lost_ms", r->lost_since_ms ?
			    json_integer((json_int_t)(now_ms - r->lost_since_ms)) : json_null());
	json_object_set_new(o, "on_loss", json_string(on_loss_name(exiting)));
	json_object_set_new(o, "exit_in_ms", r->lost_since_ms && exiting ?
			    json_integer((json_int_t)(r->lost_since_ms + RULESET_GRACE_MS > now_ms ?
						      r->lost_since_ms + RULESET_GRACE_MS - now_ms : 0)) :
			    json_null());
	json_object_set_new(o, "backend", v->loaded ? json_string(backend_name(v, r)) : json_null());
	json_object_set_new(o, "notifications", r->ev || r->notifications ?
			    json_integer((json_int_t)r->notifications) : json_null());
}

json_t *ruleset_json(const struct ruleset_view *v, const struct ruleset *r, int64_t now_ms)
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
	if (r)
		watch_json(o, v, r, now_ms);
	if (!v->loaded)
		return o;
	json_object_set_new(o, "bans", counter_json(v->has_bans, v->bans));
	json_object_set_new(o, "bans_failed", counter_json(v->has_bans_failed, v->bans_failed));
	json_object_set_new(o, "ban_sets", json_pack("{s:o,s:o}", "ban4", set_json(&v->ban4),
						      "ban6", set_json(&v->ban6)));
	return o;
}
