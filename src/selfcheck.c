/* selfcheck.c - btblockctl check: does this router really block?
 *
 * Ten checks, each one line (PASS, WARN or FAIL), each failure with what
 * to do. The inputs are gathered first (sc_gather: the ruleset over
 * nftables netlink, iptables -S, /proc and /sys; the daemon's stats by
 * the caller), then judged without touching the system (sc_judge), so
 * that the judgements are unit-tested with inputs of every shape. A check
 * that cannot be made (not root, daemon not reachable) fails and says
 * why; nothing is skipped in silence.
 *
 * Everything read is untrusted: the stats document (types and ranges
 * checked), the kernel's replies (nft_view.c), the text of procfs and of
 * iptables (bounded lines, strict numbers). */
#include "sysincl.h"
#include <dirent.h>
#include <ifaddrs.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include "clock.h"
#include "selfcheck.h"

#define SC_LINE_MAX	512	/* a line of procfs or of iptables -S */
#define SC_XT_OUT_MAX	(1u << 20)	/* iptables -S output read at most */
#define SC_ERR_LINE	200

static const char *const verdict_names[] = { "PASS", "WARN", "FAIL" };

/* ---- the report ------------------------------------------------------ */

/* Names come from the kernel and the daemon and may hold any byte: keep
 * the lines printable ASCII (a terminal's escape sequences, JSON's UTF-8). */
static void printable(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			*s = '?';
}

__attribute__((format(printf, 5, 6)))
static void add(struct sc_report *rep, enum sc_verdict v, const char *check, const char *fix,
		const char *fmt, ...)
{
	struct sc_line *l;
	va_list ap;

	if (rep->n >= SC_MAX_LINES) {
		/* Never a pass in silence: the last line turns into a failure. */
		l = &rep->lines[SC_MAX_LINES - 1];
		l->verdict = SC_FAIL;
		snprintf(l->text, sizeof(l->text), "more findings than btblockctl can show");
		l->fix[0] = '\0';
		return;
	}
	l = &rep->lines[rep->n++];
	l->verdict = v;
	snprintf(l->check, sizeof(l->check), "%s", check);
	va_start(ap, fmt);
	vsnprintf(l->text, sizeof(l->text), fmt, ap);
	va_end(ap);
	snprintf(l->fix, sizeof(l->fix), "%s", fix ? fix : "");
	printable(l->text);
	printable(l->fix);
}

/* Append to a bounded string. */
__attribute__((format(printf, 3, 4)))
static void cat(char *buf, size_t len, const char *fmt, ...)
{
	size_t used = strnlen(buf, len);
	va_list ap;

	if (used + 1 >= len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + used, len - used, fmt, ap);
	va_end(ap);
}

int sc_exit_status(const struct sc_report *rep)
{
	int worst = SC_PASS;

	for (unsigned i = 0; i < rep->n; i++)
		if ((int)rep->lines[i].verdict > worst)
			worst = rep->lines[i].verdict;
	return worst == SC_FAIL ? 1 : worst == SC_WARN ? 3 : 0;
}

void sc_print(const struct sc_report *rep, FILE *out)
{
	unsigned count[3] = { 0, 0, 0 };

	for (unsigned i = 0; i < rep->n; i++) {
		const struct sc_line *l = &rep->lines[i];

		count[l->verdict]++;
		fprintf(out, "%-4s  %-9s  %s%s%s\n", verdict_names[l->verdict], l->check, l->text,
			l->fix[0] ? " -- fix: " : "", l->fix);
	}
	fprintf(out, "%u passed, %u warnings, %u failed\n", count[SC_PASS], count[SC_WARN],
		count[SC_FAIL]);
}

json_t *sc_json(const struct sc_report *rep)
{
	static const char *const lower[] = { "pass", "warn", "fail" };
	int status = sc_exit_status(rep);
	json_t *checks = json_array();
	json_t *doc;

	for (unsigned i = 0; i < rep->n; i++) {
		const struct sc_line *l = &rep->lines[i];
		json_t *o = json_pack("{s:s,s:s,s:s}", "check", l->check, "result",
				      lower[l->verdict], "text", l->text);

		if (o && l->fix[0])
			json_object_set_new(o, "fix", json_string(l->fix));
		json_array_append_new(checks, o);
	}
	doc = json_pack("{s:s,s:o}", "result", status == 1 ? "fail" : status == 3 ? "warn" : "pass",
			"checks", checks);
	return doc;
}

/* ---- parsing --------------------------------------------------------- */

/* The next line of text (len bytes from *pos) into line (NUL-ended, at
 * most SC_LINE_MAX - 1 bytes): 1, or 0 at the end. A longer line comes
 * back empty, so that no part of it is taken for a line of its own. */
static int next_line(const char *text, size_t len, size_t *pos, char line[SC_LINE_MAX])
{
	size_t start = *pos, end;

	if (start >= len)
		return 0;
	for (end = start; end < len && text[end] != '\n'; end++)
		;
	*pos = end < len ? end + 1 : end;
	if (end - start >= SC_LINE_MAX || memchr(text + start, '\0', end - start)) {
		line[0] = '\0';
		return 1;
	}
	memcpy(line, text + start, end - start);
	line[end - start] = '\0';
	return 1;
}

/* Split line on blanks into at most max words (in place); iptables quotes
 * words with blanks in double quotes. The number of words, or -1 when
 * there are more than max. */
static int split_words(char *line, char **w, int max)
{
	int n = 0;
	char *p = line;

	for (;;) {
		char *out;

		while (*p == ' ' || *p == '\t' || *p == '\r')
			p++;
		if (!*p)
			return n;
		if (n == max)
			return -1;
		w[n++] = out = p;
		if (*p == '"') {
			/* a quoted word: \" and \\ stand for themselves */
			for (p++; *p && *p != '"'; p++) {
				if (*p == '\\' && p[1])
					p++;
				*out++ = *p;
			}
			if (*p)
				p++;
		} else {
			while (*p && *p != ' ' && *p != '\t' && *p != '\r')
				*out++ = *p++;
		}
		if (*p)
			p++;
		*out = '\0';
	}
}

/* A decimal (or, with base 0, 0x-hex) number in [0, max], all of s. */
static int parse_u64(const char *s, int base, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return -1;
	errno = 0;
	v = strtoull(s, &end, base);
	if (errno || *end || v > max)
		return -1;
	*out = v;
	return 0;
}

/* "VALUE[/MASK]" of a mark: 0, or -1. */
static int parse_mark(const char *s, uint32_t *mark, uint32_t *mask)
{
	char buf[32];
	char *slash;
	uint64_t v, m = 0xffffffffu;

	if (strlen(s) >= sizeof(buf))
		return -1;
	snprintf(buf, sizeof(buf), "%s", s);
	slash = strchr(buf, '/');
	if (slash)
		*slash++ = '\0';
	if (parse_u64(buf, 0, UINT32_MAX, &v) < 0 || (slash && parse_u64(slash, 0, UINT32_MAX, &m) < 0))
		return -1;
	*mark = (uint32_t)v;
	*mask = (uint32_t)m;
	return 0;
}

unsigned sc_parse_nfqueue(const char *text, size_t len, struct sc_kqueue *out, unsigned max)
{
	char line[SC_LINE_MAX];
	size_t pos = 0;
	unsigned n = 0;

	/* queue portid waiting copy_mode copy_range queue_dropped user_dropped id_seq 1 */
	while (n < max && next_line(text, len, &pos, line)) {
		char *w[10];
		uint64_t q, portid, v;
		int nw = split_words(line, w, 10), ok = nw == 9;

		for (int i = 2; ok && i < 8; i++)
			ok = parse_u64(w[i], 10, UINT64_MAX, &v) == 0;
		if (!ok || parse_u64(w[0], 10, 65535, &q) < 0 ||
		    parse_u64(w[1], 10, UINT32_MAX, &portid) < 0)
			continue;
		out[n++] = (struct sc_kqueue){ (uint32_t)q, (uint32_t)portid };
	}
	return n;
}

static int hook_of_chain(const char *name)
{
	if (strcmp(name, "INPUT") == 0)
		return NF_INET_LOCAL_IN;
	if (strcmp(name, "FORWARD") == 0)
		return NF_INET_FORWARD;
	if (strcmp(name, "OUTPUT") == 0)
		return NF_INET_LOCAL_OUT;
	return -1;
}

/* One "-A BTBLOCKD ... -j NFQUEUE ..." rule. */
static void parse_xt_queue_rule(char **w, int nw, struct sc_xt *x)
{
	struct sc_xt_rule r = { .proto = 0 };
	uint64_t a, b;

	for (int i = 2; i < nw; i++) {
		const char *next = i + 1 < nw ? w[i + 1] : NULL;

		if (strcmp(w[i], "!") == 0) {
			r.proto = -1;	/* a negated match: not a rule of ours */
		} else if (strcmp(w[i], "-p") == 0 && next) {
			if (r.proto == 0 && (strcmp(next, "tcp") == 0 || strcmp(next, "6") == 0))
				r.proto = IPPROTO_TCP;
			else if (r.proto == 0 && (strcmp(next, "udp") == 0 || strcmp(next, "17") == 0))
				r.proto = IPPROTO_UDP;
			else
				r.proto = -1;
			i++;
		} else if (strcmp(w[i], "--mark") == 0 && next) {
			r.has_mark = parse_mark(next, &r.mark, &r.mask) == 0;
			i++;
		} else if (strcmp(w[i], "--queue-num") == 0 && next) {
			if (parse_u64(next, 10, 65535, &a) < 0)
				return;
			r.first = r.last = (uint32_t)a;
			i++;
		} else if (strcmp(w[i], "--queue-balance") == 0 && next) {
			char buf[16], *colon;

			if (strlen(next) >= sizeof(buf))
				return;
			snprintf(buf, sizeof(buf), "%s", next);
			colon = strchr(buf, ':');
			if (!colon)
				return;
			*colon = '\0';
			if (parse_u64(buf, 10, 65535, &a) < 0 || parse_u64(colon + 1, 10, 65535, &b) < 0 ||
			    a > b)
				return;
			r.first = (uint32_t)a;
			r.last = (uint32_t)b;
			i++;
		} else if (strcmp(w[i], "--queue-bypass") == 0) {
			r.bypass = 1;
		} else if (strcmp(w[i], "--queue-cpu-fanout") == 0) {
			r.fanout = 1;
		}
	}
	if (x->nrules >= SC_XT_MAX_RULES) {
		x->rules_more = 1;
		return;
	}
	x->rules[x->nrules++] = r;
}

void sc_parse_xt(const char *text, struct sc_xt *x)
{
	size_t len = strlen(text), pos = 0;
	char line[SC_LINE_MAX];

	x->chain = 0;
	x->nrules = 0;
	x->rules_more = 0;
	memset(x->jumps, 0, sizeof(x->jumps));
	while (next_line(text, len, &pos, line)) {
		char *w[64];
		int nw = split_words(line, w, 64);
		const char *target = NULL;
		int hook;

		if (nw == 2 && strcmp(w[0], "-N") == 0 && strcmp(w[1], "BTBLOCKD") == 0) {
			x->chain = 1;
			continue;
		}
		if (nw < 2 || strcmp(w[0], "-A") != 0)
			continue;
		for (int i = 2; i + 1 < nw; i++)
			if (strcmp(w[i], "-j") == 0 || strcmp(w[i], "-g") == 0)
				target = w[i + 1];
		if (!target)
			continue;
		if (strcmp(w[1], "BTBLOCKD") == 0) {
			if (strcmp(target, "NFQUEUE") == 0)
				parse_xt_queue_rule(w, nw, x);
			continue;
		}
		hook = hook_of_chain(w[1]);
		if (hook < 0 || strcmp(target, "BTBLOCKD") != 0)
			continue;
		x->jumps[hook].count++;
		for (int i = 2; i + 1 < nw; i++)
			if (strcmp(w[i], "--mark") == 0)
				x->jumps[hook].has_mark = parse_mark(w[i + 1], &x->jumps[hook].mark,
								     &x->jumps[hook].mask) == 0;
	}
}

unsigned sc_parse_default_routes(int family, const char *text, size_t len,
				 char out[][SC_IFNAME], unsigned max)
{
	static const char zero6[] = "00000000000000000000000000000000";
	char line[SC_LINE_MAX];
	size_t pos = 0;
	unsigned n = 0;

	while (next_line(text, len, &pos, line)) {
		char *w[16];
		int nw = split_words(line, w, 16);
		const char *dev;
		uint64_t flags;
		unsigned i;

		if (family == 4) {
			/* Iface Destination Gateway Flags RefCnt Use Metric Mask ... */
			if (nw < 8 || strcmp(w[1], "00000000") != 0 || strcmp(w[7], "00000000") != 0 ||
			    parse_u64(w[3], 16, UINT32_MAX, &flags) < 0 || !(flags & 0x1))
				continue;
			dev = w[0];
		} else {
			/* dest plen src srcplen nexthop metric refcnt use flags dev */
			if (nw != 10 || strcmp(w[0], zero6) != 0 || strcmp(w[1], "00") != 0 ||
			    parse_u64(w[8], 16, UINT32_MAX, &flags) < 0 || !(flags & 0x1) ||
			    (flags & 0x200) || strcmp(w[9], "lo") == 0)
				continue;	/* not up, or "unreachable" */
			dev = w[9];
		}
		if (strlen(dev) >= SC_IFNAME)
			continue;
		for (i = 0; i < n && strcmp(out[i], dev) != 0; i++)
			;
		if (i == n && n < max)
			snprintf(out[n++], SC_IFNAME, "%s", dev);
	}
	return n;
}

int sc_parse_hooks(const char *list, unsigned *hooks)
{
	char buf[64], *save = NULL, *tok;

	*hooks = 0;
	if (!list || !*list || strlen(list) >= sizeof(buf))
		return -1;
	snprintf(buf, sizeof(buf), "%s", list);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (strcmp(tok, "forward") == 0)
			*hooks |= SC_HOOK_FORWARD;
		else if (strcmp(tok, "input") == 0)
			*hooks |= SC_HOOK_INPUT;
		else if (strcmp(tok, "output") == 0)
			*hooks |= SC_HOOK_OUTPUT;
		else
			return -1;
	}
	return *hooks ? 0 : -1;
}

/* ---- the daemon's stats -------------------------------------------- */

static int json_u32(const json_t *o, const char *key, uint32_t *out)
{
	const json_t *v = json_object_get(o, key);

	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > (json_int_t)UINT32_MAX)
		return -1;
	*out = (uint32_t)json_integer_value(v);
	return 0;
}

static void json_str(const json_t *o, const char *key, char *out, size_t len)
{
	const json_t *v = json_object_get(o, key);

	snprintf(out, len, "%s", json_is_string(v) ? json_string_value(v) : "?");
}

void sc_daemon_from_stats(const json_t *doc, const char *err, struct sc_daemon *d)
{
	const json_t *queues = json_object_get(doc, "queues");
	const json_t *marks = json_object_get(doc, "marks");
	const json_t *ifs = json_object_get(doc, "protected_interfaces");
	const json_t *q;
	size_t i;

	memset(d, 0, sizeof(*d));
	if (!doc || !json_is_array(queues)) {
		snprintf(d->error, sizeof(d->error), "%s",
			 doc ? "btblockd sent a stats document without a queues list" :
			 err ? err : "btblockd did not answer");
		return;
	}
	d->reachable = 1;
	json_str(doc, "version", d->version, sizeof(d->version));
	json_str(doc, "mode", d->mode, sizeof(d->mode));
	json_array_foreach(queues, i, q) {
		struct sc_dqueue *dq;
		const json_t *age = json_object_get(q, "last_progress_ms");
		uint32_t num;

		if (d->nqueues >= SC_MAX_QUEUES || json_u32(q, "queue", &num) < 0 || num > 65535)
			continue;
		dq = &d->queues[d->nqueues++];
		dq->queue = (uint16_t)num;
		dq->has_portid = json_u32(q, "portid", &dq->portid) == 0;
		dq->stalled = json_is_true(json_object_get(q, "stalled"));
		dq->last_progress_ms = json_is_integer(age) ? json_integer_value(age) : -1;
	}
	d->has_marks = json_is_object(marks) && json_u32(marks, "mask", &d->marks.mask) == 0 &&
		       json_u32(marks, "allow", &d->marks.allow) == 0 &&
		       json_u32(marks, "block", &d->marks.block) == 0 &&
		       json_u32(marks, "reject", &d->marks.reject) == 0 &&
		       json_u32(marks, "block_flow", &d->marks.block_flow) == 0 &&
		       json_u32(marks, "reject_flow", &d->marks.reject_flow) == 0;
	json_array_foreach(ifs, i, q) {
		if (d->nifaces < SC_MAX_IFACES && json_is_string(q) &&
		    strlen(json_string_value(q)) < SC_IFNAME && json_string_value(q)[0])
			snprintf(d->ifaces[d->nifaces++], SC_IFNAME, "%s", json_string_value(q));
	}
}

/* ---- judgements -------------------------------------------------------- */

enum sc_verdict sc_judge_fill(uint64_t elems, uint32_t size)
{
	if (size == 0)
		return SC_PASS;
	if (elems >= size)
		return SC_FAIL;
	return elems * 100 >= (uint64_t)size * SC_FILL_WARN_PCT ? SC_WARN : SC_PASS;
}

int sc_offload_allowed_only(const struct nft_view_offload *o, const struct sc_marks *m)
{
	for (unsigned i = 0; i < o->ngates; i++) {
		const struct nft_view_gate *g = &o->gates[i];

		/* The test must look at all of the daemon's bits and want the
		 * allow value there; a value outside its own mask never
		 * matches, which offloads nothing. */
		if ((g->mask & m->mask) == m->mask && (g->value & m->mask) == m->allow &&
		    (g->value & ~g->mask) == 0)
			return 1;
	}
	return 0;
}

enum sc_verdict sc_judge_bridge(const struct sc_bridge *b, int call_ipt, int call_ip6t,
				char *text, size_t textlen, char *fix, size_t fixlen)
{
	const char *why;
	char state[96];

	fix[0] = '\0';
	/* A bridge with an address, no default route through it: its hosts use
	 * this router as their gateway, so their traffic to other networks is
	 * routed and crosses the forward hook; only traffic between two hosts
	 * of the same bridge is switched past it, which is not what the
	 * ruleset is for. */
	if (b->has_addr && !b->uplink) {
		snprintf(text, textlen, "bridge %s is routed (it has an address and no default route "
			 "leaves through it): its hosts' traffic to other networks crosses the "
			 "forward hook", b->name);
		return SC_PASS;
	}
	why = b->uplink ? "a default route leaves through it, so hosts on its ports reach "
			  "the gateway bridged, past the IP hooks" :
			  "it has no address, so what crosses it is bridged, not routed";
	if (call_ipt == 1 && call_ip6t == 1) {
		snprintf(text, textlen, "bridge %s: %s; br_netfilter hands bridged IPv4 and IPv6 "
			 "to the IP hooks (bridge-nf-call-iptables and -ip6tables are 1)",
			 b->name, why);
		return SC_PASS;
	}
	if (call_ipt < 0 || call_ip6t < 0)
		snprintf(state, sizeof(state), "br_netfilter is not loaded");
	else
		snprintf(state, sizeof(state), "bridge-nf-call-iptables is %d and "
			 "bridge-nf-call-ip6tables %d", call_ipt, call_ip6t);
	snprintf(fix, fixlen, "modprobe br_netfilter; sysctl -w net.bridge.bridge-nf-call-iptables=1 "
		 "net.bridge.bridge-nf-call-ip6tables=1 (and the same in /etc/sysctl.d/)");
	if (b->protected) {
		snprintf(text, textlen, "bridge %s carries protected hosts (--protected-interface) "
			 "and %s, and %s: their traffic bypasses btblockd", b->name, why, state);
		return SC_FAIL;
	}
	snprintf(text, textlen, "bridge %s: %s, and %s: if protected hosts sit on its ports, "
		 "their traffic bypasses btblockd (whether they do cannot be told from here)",
		 b->name, why, state);
	return SC_WARN;
}

/* A queue range: "A" or "A-B". */
struct range {
	int known;
	uint32_t first, last;
};

static const char *range_str(const struct range *r, char *buf, size_t len)
{
	if (!r->known)
		snprintf(buf, len, "?");
	else if (r->first == r->last)
		snprintf(buf, len, "%" PRIu32, r->first);
	else
		snprintf(buf, len, "%" PRIu32 "-%" PRIu32, r->first, r->last);
	return buf;
}

static int in_range(const struct range *r, uint32_t q)
{
	return r->known && q >= r->first && q <= r->last;
}

static struct range daemon_range(const struct sc_daemon *d)
{
	struct range r = { 0, 0, 0 };

	for (unsigned i = 0; d->reachable && i < d->nqueues; i++) {
		uint32_t q = d->queues[i].queue;

		if (!r.known || q < r.first)
			r.first = q;
		if (!r.known || q > r.last)
			r.last = q;
		r.known = 1;
	}
	return r;
}

static const char *hook_name(uint32_t hook)
{
	switch (hook) {
	case NF_INET_PRE_ROUTING: return "prerouting";
	case NF_INET_LOCAL_IN: return "input";
	case NF_INET_FORWARD: return "forward";
	case NF_INET_LOCAL_OUT: return "output";
	case NF_INET_POST_ROUTING: return "postrouting";
	default: return "another hook";
	}
}

/* In btblockd-firewall's order: forward, input, output. */
static const char *hooks_str(unsigned hooks, char *buf, size_t len)
{
	static const uint32_t order[] = { NF_INET_FORWARD, NF_INET_LOCAL_IN, NF_INET_LOCAL_OUT };

	buf[0] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(order); i++)
		if (hooks & (1u << order[i]))
			cat(buf, len, "%s%s", buf[0] ? "," : "", hook_name(order[i]));
	return buf;
}

/* The base chains of a hook: the first that jumps to "decide" and the
 * first that looks the mark up in "verdicts". */
static void hook_chains(const struct nft_view *v, uint32_t hook, const struct nft_view_chain **decide,
			const struct nft_view_chain **verdict)
{
	*decide = *verdict = NULL;
	for (unsigned i = 0; i < v->nchains; i++) {
		const struct nft_view_chain *c = &v->chains[i];

		if (c->hook != hook)
			continue;
		if (c->jumps_decide && !*decide)
			*decide = c;
		if (c->looks_up_verdicts && !*verdict)
			*verdict = c;
	}
}

/* What the judgements share. */
struct judge {
	const struct sc_inputs *in;
	struct sc_report *rep;
	struct range daemon;		/* the daemon's queues */
	struct range rules;		/* the queues the kernel rules use */
	int backend;			/* 0 none, 1 nft, 2 xt */
	int bypass;			/* the rules let packets pass when no one listens */
	char fw_up[160];		/* "btblockd-firewall up --hooks ..." */
};

/* Why a check that needs the ruleset cannot be made; NULL when it can. */
static const char *nft_unusable(const struct sc_inputs *in, char *buf, size_t len)
{
	if (in->nft_error) {
		snprintf(buf, len, "the ruleset could not be read: %s", strerror(-in->nft_error));
		return buf;
	}
	if (!in->nft.loaded)
		return "table inet btblockd is not loaded";
	return NULL;
}

static const char *perm_fix(int err)
{
	return err == -EPERM || err == -EACCES ? "run btblockctl check as root (it reads the "
						 "kernel's ruleset and queues)" : NULL;
}

static void judge_daemon(struct judge *j)
{
	const struct sc_daemon *d = &j->in->daemon;
	char r[32];

	if (!d->reachable) {
		int e = d->connect_errno;

		add(j->rep, SC_FAIL, "daemon", e == EACCES || e == EPERM ? "run btblockctl check as "
		    "root" : e == ENOENT || e == ECONNREFUSED ? "start btblockd (systemctl start "
		    "btblockd; OpenWrt: service btblockd start), or give its socket with -s" : NULL,
		    "btblockd does not answer: %s", d->error);
		return;
	}
	range_str(&j->daemon, r, sizeof(r));
	if (strcmp(d->mode, "enforce") != 0) {
		add(j->rep, SC_WARN, "daemon", "drop --monitor (or action monitor) from btblockd's "
		    "options or btblockd.conf, then restart it",
		    "btblockd %s answers on %s, queues %s, but in %s mode: it detects and logs, "
		    "never blocks", d->version, j->in->socket_path, r, d->mode);
		return;
	}
	add(j->rep, SC_PASS, "daemon", NULL, "btblockd %s answers on %s: enforce mode, queues %s",
	    d->version, j->in->socket_path, r);
}

static void judge_ruleset(struct judge *j)
{
	const struct nft_view *v = &j->in->nft;
	static const char *const maps[] = { "decided", "verdicts" };
	static const char *const sets[] = { "ban4", "ban6" };
	char problems[SC_TEXT] = "", found[SC_TEXT] = "", buf[128];
	int decided_lookup = 0;

	if (j->in->nft_error) {
		add(j->rep, SC_FAIL, "ruleset", perm_fix(j->in->nft_error),
		    "cannot read the ruleset: %s", strerror(-j->in->nft_error));
		return;
	}
	if (!v->loaded) {
		add(j->rep, SC_FAIL, "ruleset", j->fw_up, "table inet btblockd is not loaded: "
		    "nothing is queued to btblockd and none of its verdicts is enforced");
		return;
	}
	for (uint32_t h = NF_INET_LOCAL_IN; h <= NF_INET_LOCAL_OUT; h++) {
		const struct nft_view_chain *decide, *verdict;

		hook_chains(v, h, &decide, &verdict);
		if (decide && verdict && decide->priority < verdict->priority)
			cat(found, sizeof(found), "%s%s (%s %d, %s %d)", found[0] ? ", " : "",
			    hook_name(h), decide->name, decide->priority, verdict->name,
			    verdict->priority);
		if (!(j->in->hooks & (1u << h)))
			continue;
		if (!decide)
			cat(problems, sizeof(problems), "; no base chain on hook %s jumps to chain "
			    "decide", hook_name(h));
		if (!verdict)
			cat(problems, sizeof(problems), "; no base chain on hook %s looks the mark "
			    "up in map verdicts", hook_name(h));
		if (decide && verdict && decide->priority >= verdict->priority)
			cat(problems, sizeof(problems), "; on hook %s the verdict chain %s (priority "
			    "%d) runs before the decide chain %s (%d)", hook_name(h), verdict->name,
			    verdict->priority, decide->name, decide->priority);
	}
	for (size_t i = 0; i < ARRAY_SIZE(maps); i++) {
		const struct nft_view_set *s = nft_view_set(v, maps[i]);

		if (!s || !(s->flags & NFT_SET_MAP))
			cat(problems, sizeof(problems), "; no map %s", maps[i]);
	}
	for (unsigned i = 0; i < v->nlookups; i++)
		if (strcmp(v->lookups[i].set, "decided") == 0 &&
		    v->lookups[i].src == NFT_SRC_CT_MARK)
			decided_lookup = 1;
	if (!decided_lookup)
		cat(problems, sizeof(problems), "; no rule looks the conntrack mark up in map "
		    "decided, so decided flows are queued again");
	for (size_t i = 0; i < ARRAY_SIZE(sets); i++)
		if (!nft_view_set(v, sets[i]))
			cat(problems, sizeof(problems), "; no ban set %s", sets[i]);
	if (!v->has_bans_failed)
		cat(problems, sizeof(problems), "; no counter bans_failed, so a full ban set "
		    "would go unnoticed");
	if (problems[0]) {
		add(j->rep, SC_FAIL, "ruleset", j->fw_up, "table inet btblockd is not complete%s",
		    problems);
		return;
	}
	add(j->rep, SC_PASS, "ruleset", NULL, "table inet btblockd: hooks %s; maps decided and "
	    "verdicts, ban sets ban4 and ban6 (required hooks: %s)", found,
	    hooks_str(j->in->hooks, buf, sizeof(buf)));
}

/* 1 when the map has key, 0 when it has not, -1 when it has more
 * elements than were kept and the key is not among those. */
static int has_key(const struct nft_view_set *s, uint32_t key)
{
	for (unsigned i = 0; i < s->nkeys; i++)
		if (s->keys[i] == key)
			return 1;
	return s->elems > s->nkeys ? -1 : 0;
}

static void judge_marks(struct judge *j)
{
	const struct nft_view *v = &j->in->nft;
	const struct sc_marks *m = &j->in->daemon.marks;
	const struct nft_view_set *decided = nft_view_set(v, "decided");
	const struct nft_view_set *verdicts = nft_view_set(v, "verdicts");
	const struct {
		const char *name;
		uint32_t value;
		int in_decided;
	} want[] = {
		{ "allow", m->allow, 1 }, { "block", m->block, 1 }, { "reject", m->reject, 1 },
		{ "block-flow", m->block_flow, 0 }, { "reject-flow", m->reject_flow, 0 },
	};
	char problems[SC_TEXT] = "", buf[160];
	const char *fix = "give btblockd and btblockd-firewall the same marks (the mark-* keys of "
			  "/etc/btblockd.conf are read by both), then btblockd-firewall up and "
			  "restart btblockd";
	const char *why = nft_unusable(j->in, buf, sizeof(buf));

	if (why) {
		add(j->rep, SC_FAIL, "marks", perm_fix(j->in->nft_error), "not checked: %s", why);
		return;
	}
	if (!j->in->daemon.has_marks) {
		add(j->rep, SC_FAIL, "marks", NULL, "not checked: %s",
		    j->in->daemon.reachable ? "btblockd does not tell its marks (an older version?)" :
		    "btblockd does not answer");
		return;
	}
	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		if (verdicts && verdicts->elems_read && has_key(verdicts, want[i].value) == 0)
			cat(problems, sizeof(problems), "; map verdicts has no element for btblockd's "
			    "%s mark 0x%08" PRIx32, want[i].name, want[i].value);
		if (want[i].in_decided && decided && decided->elems_read &&
		    has_key(decided, want[i].value) == 0)
			cat(problems, sizeof(problems), "; map decided has no element for btblockd's "
			    "%s mark 0x%08" PRIx32, want[i].name, want[i].value);
	}
	for (unsigned i = 0; i < v->nlookups; i++) {
		const struct nft_view_lookup *l = &v->lookups[i];

		if ((strcmp(l->set, "decided") == 0 || strcmp(l->set, "verdicts") == 0) &&
		    l->mask != m->mask)
			cat(problems, sizeof(problems), "; a lookup in map %s masks the mark with "
			    "0x%08" PRIx32 ", btblockd's mask is 0x%08" PRIx32, l->set, l->mask, m->mask);
	}
	for (int f = 0; f < 2 && j->backend == 2; f++) {
		const struct sc_xt *x = &j->in->xt[f];

		for (unsigned i = 0; x->ran && i < x->nrules; i++)
			if (!x->rules[i].has_mark || x->rules[i].mask != m->mask)
				cat(problems, sizeof(problems), "; an NFQUEUE rule of %s matches %s",
				    f ? "ip6tables" : "iptables", x->rules[i].has_mark ?
				    "the mark under another mask than btblockd's" : "no mark");
	}
	if (problems[0]) {
		add(j->rep, SC_FAIL, "marks", fix, "the ruleset and btblockd disagree on the marks%s",
		    problems);
		return;
	}
	add(j->rep, SC_PASS, "marks", NULL, "the ruleset uses btblockd's marks: mask 0x%08" PRIx32
	    ", allow 0x%08" PRIx32 ", block 0x%08" PRIx32 ", reject 0x%08" PRIx32
	    ", block-flow 0x%08" PRIx32 ", reject-flow 0x%08" PRIx32, m->mask, m->allow, m->block,
	    m->reject, m->block_flow, m->reject_flow);
}

/* The queue mark: the one key of map verdicts that is none of the
 * daemon's values; 0 when that is not one key. */
static uint32_t queue_mark(const struct sc_inputs *in)
{
	const struct nft_view_set *s = nft_view_set(&in->nft, "verdicts");
	const struct sc_marks *m = &in->daemon.marks;
	uint32_t found = 0;
	unsigned n = 0;

	if (!s || !in->daemon.has_marks || !s->elems_read || s->elems > s->nkeys)
		return 0;
	for (unsigned i = 0; i < s->nkeys; i++) {
		uint32_t k = s->keys[i];

		if (k != m->allow && k != m->block && k != m->reject && k != m->block_flow &&
		    k != m->reject_flow) {
			found = k;
			n++;
		}
	}
	return n == 1 ? found : 0;
}

/* The xt backend, one family: problems into buf; the range into *r. */
static void xt_family(struct judge *j, int f, struct range *r, char *buf, size_t len)
{
	const struct sc_xt *x = &j->in->xt[f];
	const char *tool = f ? "ip6tables" : "iptables";
	const char *fam = f ? "IPv6" : "IPv4";
	uint32_t qmark = queue_mark(j->in);
	int tcp = 0, udp = 0;

	if (!x->ran) {
		cat(buf, len, "; %s: %s, so %s is not queued", tool, x->error, fam);
		return;
	}
	if (!x->chain || x->nrules == 0) {
		cat(buf, len, "; %s's mangle table has no %s, so %s is not queued", tool,
		    x->chain ? "NFQUEUE rule in chain BTBLOCKD" : "chain BTBLOCKD", fam);
		return;
	}
	for (unsigned i = 0; i < x->nrules; i++) {
		const struct sc_xt_rule *q = &x->rules[i];

		tcp |= q->proto == 0 || q->proto == IPPROTO_TCP;
		udp |= q->proto == 0 || q->proto == IPPROTO_UDP;
		if (q->fanout)
			cat(buf, len, "; an NFQUEUE rule of %s has --queue-cpu-fanout, which sends "
			    "the two directions of a flow to different workers", tool);
		if (qmark && q->has_mark && q->mark != qmark)
			cat(buf, len, "; an NFQUEUE rule of %s matches mark 0x%08" PRIx32 ", the "
			    "ruleset marks packets for the queue with 0x%08" PRIx32, tool, q->mark,
			    qmark);
		if (!r->known) {
			*r = (struct range){ 1, q->first, q->last };
			j->bypass = q->bypass;
		} else if (r->first != q->first || r->last != q->last) {
			cat(buf, len, "; the NFQUEUE rules disagree on the queues");
		}
		j->bypass &= q->bypass;
	}
	if (!tcp || !udp)
		cat(buf, len, "; %s queues no %s", tool, tcp ? "UDP" : "TCP");
	for (uint32_t h = NF_INET_LOCAL_IN; h <= NF_INET_LOCAL_OUT; h++) {
		const struct sc_xt_jump *jp = &x->jumps[h];

		if (!(j->in->hooks & (1u << h)))
			continue;
		if (jp->count == 0)
			cat(buf, len, "; %s: no jump from %s to BTBLOCKD", tool,
			    h == NF_INET_FORWARD ? "FORWARD" : h == NF_INET_LOCAL_IN ? "INPUT" : "OUTPUT");
		else if (qmark && jp->has_mark && jp->mark != qmark)
			cat(buf, len, "; %s: the jump to BTBLOCKD matches mark 0x%08" PRIx32 ", not "
			    "the queue mark 0x%08" PRIx32, tool, jp->mark, qmark);
	}
}

static void judge_queues(struct judge *j)
{
	const struct nft_view *v = &j->in->nft;
	const char *fix = j->fw_up;
	char problems[SC_TEXT] = "", how[200] = "", rs[32], ds[32];

	if (j->in->nft_error) {
		add(j->rep, SC_FAIL, "queues", perm_fix(j->in->nft_error), "not checked: the ruleset "
		    "could not be read: %s", strerror(-j->in->nft_error));
		return;
	}
	if (j->backend == 1) {
		for (unsigned i = 0; i < v->nqueues; i++) {
			const struct nft_view_queue *q = &v->queues[i];
			struct range r = { 1, q->num, (uint32_t)q->num + (q->total ? q->total : 1) - 1 };

			if (q->from_reg) {
				cat(problems, sizeof(problems), "; chain %s takes the queue number "
				    "from a register", q->chain);
				continue;
			}
			if (q->flags & NFT_QUEUE_FLAG_CPU_FANOUT)
				cat(problems, sizeof(problems), "; chain %s queues with fanout, which "
				    "sends the two directions of a flow to different workers", q->chain);
			if (!j->rules.known) {
				j->rules = r;
				j->bypass = (q->flags & NFT_QUEUE_FLAG_BYPASS) != 0;
			} else if (r.first != j->rules.first || r.last != j->rules.last) {
				cat(problems, sizeof(problems), "; the queue statements disagree (%s "
				    "and %s)", range_str(&j->rules, rs, sizeof(rs)),
				    range_str(&r, ds, sizeof(ds)));
			}
			j->bypass &= (q->flags & NFT_QUEUE_FLAG_BYPASS) != 0;
		}
		snprintf(how, sizeof(how), "nft queue statement");
		if (j->in->xt[0].chain || j->in->xt[1].chain)
			cat(problems, sizeof(problems), "; iptables chain BTBLOCKD queues too (left "
			    "from the xt backend)");
	} else if (j->backend == 2) {
		struct range r4 = { 0, 0, 0 }, r6 = { 0, 0, 0 };

		j->bypass = 1;
		xt_family(j, 0, &r4, problems, sizeof(problems));
		xt_family(j, 1, &r6, problems, sizeof(problems));
		j->rules = r4.known ? r4 : r6;
		if (r4.known && r6.known && (r4.first != r6.first || r4.last != r6.last))
			cat(problems, sizeof(problems), "; iptables queues to %s, ip6tables to %s",
			    range_str(&r4, rs, sizeof(rs)), range_str(&r6, ds, sizeof(ds)));
		if (!v->loaded)
			cat(problems, sizeof(problems), "; table inet btblockd is not loaded, so "
			    "nothing is marked for the queue");
		for (uint32_t h = NF_INET_LOCAL_IN; v->loaded && h <= NF_INET_LOCAL_OUT; h++) {
			const struct nft_view_chain *decide, *verdict;

			hook_chains(v, h, &decide, &verdict);
			if (!(j->in->hooks & (1u << h)) || !decide || !verdict)
				continue;
			/* The NFQUEUE rules sit in the mangle table, between the two. */
			if (decide->priority >= SC_MANGLE_PRIORITY ||
			    verdict->priority <= SC_MANGLE_PRIORITY)
				cat(problems, sizeof(problems), "; on hook %s the NFQUEUE rules "
				    "(priority %d) do not run between %s (%d) and %s (%d)", hook_name(h),
				    SC_MANGLE_PRIORITY, decide->name, decide->priority, verdict->name,
				    verdict->priority);
		}
		snprintf(how, sizeof(how), "iptables and ip6tables NFQUEUE rules (chain BTBLOCKD)");
	} else {
		add(j->rep, SC_FAIL, "queues", fix, "nothing queues to btblockd: %s, and there are "
		    "no iptables NFQUEUE rules (%s)", v->loaded ? "table inet btblockd has no queue "
		    "statement" : "table inet btblockd is not loaded",
		    j->in->xt[0].ran ? "no chain BTBLOCKD" : j->in->xt[0].error);
		return;
	}
	range_str(&j->rules, rs, sizeof(rs));
	range_str(&j->daemon, ds, sizeof(ds));
	if (problems[0]) {
		add(j->rep, SC_FAIL, "queues", fix, "the rules that queue are not complete%s",
		    problems);
		return;
	}
	if (!j->daemon.known) {
		add(j->rep, SC_FAIL, "queues", NULL, "the ruleset queues to %s (%s); not compared: "
		    "btblockd does not answer", rs, how);
		return;
	}
	if (j->rules.first == j->daemon.first && j->rules.last == j->daemon.last) {
		add(j->rep, SC_PASS, "queues", NULL, "the ruleset queues to %s (%s, %s), which "
		    "btblockd serves", rs, how, j->bypass ? "fail-open" : "fail-closed");
		return;
	}
	if (in_range(&j->rules, j->daemon.first) && in_range(&j->rules, j->daemon.last)) {
		add(j->rep, SC_PASS, "queues", NULL, "the ruleset queues to %s (%s, %s); btblockd "
		    "serves %s of them, the rest is left to other instances (see binding)", rs, how,
		    j->bypass ? "fail-open" : "fail-closed", ds);
		return;
	}
	snprintf(problems, sizeof(problems), "btblockd-firewall up --queues %s (or the queues key "
		 "of /etc/btblockd.conf, read by both; then restart btblockd)", ds);
	add(j->rep, SC_FAIL, "queues", problems, "the ruleset queues to %s (%s), but btblockd "
	    "serves %s", rs, how, ds);
}

static void judge_binding(struct judge *j)
{
	const struct sc_inputs *in = j->in;
	const struct sc_daemon *d = &in->daemon;
	struct range all = j->rules.known ? j->rules : j->daemon;
	char unbound[SC_TEXT] = "", foreign[SC_TEXT] = "", others[SC_TEXT] = "", rs[32], fix[200];
	int nunbound = 0;

	if (in->nfq_error && in->nfq_error != -ENOENT) {
		add(j->rep, SC_FAIL, "binding", perm_fix(in->nfq_error), "cannot read %s: %s",
		    SC_NFQUEUE_PATH, strerror(-in->nfq_error));
		return;
	}
	if (!all.known) {
		add(j->rep, SC_FAIL, "binding", NULL, "not checked: neither the ruleset's queues nor "
		    "btblockd's are known");
		return;
	}
	if (j->daemon.known) {
		if (j->daemon.first < all.first)
			all.first = j->daemon.first;
		if (j->daemon.last > all.last)
			all.last = j->daemon.last;
	}
	if (all.last - all.first >= SC_MAX_QUEUES) {
		/* No daemon serves that many (64 at most): not a range of ours. */
		add(j->rep, SC_FAIL, "binding", j->fw_up, "queues %s: more than %d queues, which no "
		    "btblockd serves", range_str(&all, rs, sizeof(rs)), SC_MAX_QUEUES);
		return;
	}
	for (uint32_t q = all.first; q <= all.last; q++) {
		const struct sc_kqueue *k = NULL;
		const struct sc_dqueue *dq = NULL;

		for (unsigned i = 0; i < in->nnfq; i++)
			if (in->nfq[i].queue == q)
				k = &in->nfq[i];
		for (unsigned i = 0; d->reachable && i < d->nqueues; i++)
			if (d->queues[i].queue == q)
				dq = &d->queues[i];
		if (!k) {
			cat(unbound, sizeof(unbound), "%s%" PRIu32, unbound[0] ? ", " : "", q);
			nunbound++;
		} else if (dq && dq->has_portid && dq->portid != k->portid) {
			cat(foreign, sizeof(foreign), "; queue %" PRIu32 " is bound by netlink port %"
			    PRIu32 ", btblockd's socket is port %" PRIu32, q, k->portid, dq->portid);
		} else if (!dq) {
			cat(others, sizeof(others), "%s%" PRIu32, others[0] ? ", " : "", q);
		}
	}
	if (nunbound || foreign[0]) {
		if (!d->reachable)
			snprintf(fix, sizeof(fix), "start btblockd (systemctl start btblockd; OpenWrt: "
				 "service btblockd start)");
		else
			snprintf(fix, sizeof(fix), "serve every queue of the ruleset: btblockd "
				 "--queues %s, or another instance for the rest",
				 range_str(&all, rs, sizeof(rs)));
		if (nunbound)
			add(j->rep, SC_FAIL, "binding", fix, "%s %s %s bound by no program: %s "
			    "packets %s", nunbound > 1 ? "queues" : "queue", unbound,
			    nunbound > 1 ? "are" : "is", nunbound > 1 ? "their" : "its",
			    j->backend && !j->bypass ? "are dropped" : "pass uninspected");
		if (foreign[0])
			add(j->rep, SC_FAIL, "binding", fix, "%s", foreign + 2);
		return;
	}
	if (!d->reachable) {
		add(j->rep, SC_FAIL, "binding", NULL, "queues %s are bound, but btblockd does not "
		    "answer, so whether it is the listener cannot be told",
		    range_str(&all, rs, sizeof(rs)));
		return;
	}
	add(j->rep, SC_PASS, "binding", NULL, "queues %s are bound%s%s%s",
	    range_str(&all, rs, sizeof(rs)), others[0] ? " (by btblockd, and " : " by btblockd",
	    others[0] ? others : "", others[0] ? " by other programs)" : "");
}

static void judge_offload(struct judge *j)
{
	const struct nft_view *v = &j->in->nft;
	const struct sc_marks *m = &j->in->daemon.marks;
	char allowed[SC_TEXT] = "", fix[SC_TEXT];
	unsigned bad = 0;

	if (j->in->nft_error) {
		add(j->rep, SC_FAIL, "offload", perm_fix(j->in->nft_error), "not checked: the "
		    "ruleset could not be read: %s", strerror(-j->in->nft_error));
		return;
	}
	if (v->noffloads == 0 && v->offloads_more == 0) {
		add(j->rep, SC_PASS, "offload", NULL, "no rule offloads flows to a flowtable");
		return;
	}
	if (!j->in->daemon.has_marks) {
		add(j->rep, SC_FAIL, "offload", NULL, "not checked: %u rules offload flows, and "
		    "btblockd's marks, which they must require, are not known (btblockd does not "
		    "answer)", v->noffloads + v->offloads_more);
		return;
	}
	for (unsigned i = 0; i < v->noffloads; i++) {
		const struct nft_view_offload *o = &v->offloads[i];
		const char *fam = o->family == NFPROTO_INET ? "inet" : o->family == NFPROTO_IPV4 ?
				  "ip" : o->family == NFPROTO_IPV6 ? "ip6" : "netdev";

		if (sc_offload_allowed_only(o, m)) {
			cat(allowed, sizeof(allowed), "%s%s %s chain %s", allowed[0] ? ", " : "", fam,
			    o->table, o->chain);
			continue;
		}
		bad++;
		if (strcmp(o->table, "fw4") == 0)
			snprintf(fix, sizeof(fix), "uci set firewall.@defaults[0].flow_offloading=0; "
				 "uci set firewall.@defaults[0].flow_offloading_hw=0; uci commit "
				 "firewall; service firewall reload (btblockd's option offload "
				 "'allowed' offloads the flows it allowed)");
		else
			snprintf(fix, sizeof(fix), "remove that rule, or make it require "
				 "'ct mark & 0x%08" PRIx32 " == 0x%08" PRIx32 "' ahead of the flow "
				 "statement", m->mask, m->allow);
		add(j->rep, SC_FAIL, "offload", fix, "table %s %s, chain %s (rule handle %" PRIu64
		    ") offloads flows to flowtable %s without requiring btblockd's allow mark: they "
		    "skip btblockd's hooks before it has seen their payload", fam, o->table,
		    o->chain, o->handle, o->flowtable);
	}
	if (v->offloads_more) {
		snprintf(fix, sizeof(fix), "list them (nft -a list ruleset | grep -e 'flow add' -e "
			 "'flow offload'): each must require 'ct mark & 0x%08" PRIx32 " == 0x%08" PRIx32
			 "'", m->mask, m->allow);
		add(j->rep, SC_FAIL, "offload", fix, "%u more rules offload flows than btblockctl "
		    "examines", v->offloads_more);
	}
	else if (!bad)
		add(j->rep, SC_PASS, "offload", NULL, "only flows btblockd allowed are offloaded "
		    "(%s: ct mark & 0x%08" PRIx32 " == 0x%08" PRIx32 ")", allowed, m->mask, m->allow);
}

static void judge_bridge(struct judge *j)
{
	const struct sc_bridges *br = &j->in->br;
	char text[SC_TEXT], fix[SC_TEXT];

	if (j->in->br_error) {
		add(j->rep, SC_FAIL, "bridge", NULL, "not checked: cannot list the interfaces "
		    "(/sys/class/net): %s", strerror(-j->in->br_error));
		return;
	}
	for (unsigned i = 0; i < br->nports; i++)
		add(j->rep, SC_WARN, "bridge", "name the bridge in --protected-interface instead of "
		    "its port", "protected interface %s is a port of bridge %s: at the IP hooks "
		    "packets come from and go to %s, so %s never matches", br->ports[i].port,
		    br->ports[i].bridge, br->ports[i].bridge, br->ports[i].port);
	if (br->n == 0) {
		add(j->rep, SC_PASS, "bridge", NULL, "no bridge: traffic between interfaces is "
		    "routed through the forward hook");
		return;
	}
	for (unsigned i = 0; i < br->n; i++) {
		enum sc_verdict v = sc_judge_bridge(&br->b[i], br->call_ipt, br->call_ip6t, text,
						    sizeof(text), fix, sizeof(fix));

		add(j->rep, v, "bridge", fix[0] ? fix : NULL, "%s", text);
	}
	if (br->more)
		add(j->rep, SC_WARN, "bridge", NULL, "more than %d bridges: the others were not "
		    "examined", SC_MAX_BRIDGES);
}

static void judge_conntrack(struct judge *j)
{
	const char *fix = "sysctl -w net.netfilter.nf_conntrack_acct=1 (btblockd-firewall up "
			  "sets it; keep it in /etc/sysctl.d/)";

	if (j->in->acct_error) {
		add(j->rep, SC_FAIL, "conntrack", j->in->acct_error == -ENOENT ? fix :
		    perm_fix(j->in->acct_error), "cannot read %s: %s%s", SC_ACCT_PATH,
		    strerror(-j->in->acct_error), j->in->acct_error == -ENOENT ?
		    " (conntrack is not loaded)" : "");
		return;
	}
	if (j->in->acct != 1) {
		add(j->rep, SC_FAIL, "conntrack", fix, "conntrack accounting is off "
		    "(net.netfilter.nf_conntrack_acct = %d): conntrack's packet counters, which "
		    "the ruleset's queue budget reads, stay 0", j->in->acct);
		return;
	}
	add(j->rep, SC_PASS, "conntrack", NULL, "conntrack accounting is on "
	    "(net.netfilter.nf_conntrack_acct = 1)");
}

static void judge_bansets(struct judge *j)
{
	const struct nft_view *v = &j->in->nft;
	static const char *const names[] = { "ban4", "ban6" };
	const char *fix = "btblockd-firewall up --ban-set-size N with a larger N (or a shorter "
			  "--ban-time)";
	enum sc_verdict worst = SC_PASS;
	char text[SC_TEXT] = "", buf[160];
	const char *why = nft_unusable(j->in, buf, sizeof(buf));

	if (why) {
		add(j->rep, SC_FAIL, "bansets", perm_fix(j->in->nft_error), "not checked: %s", why);
		return;
	}
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		const struct nft_view_set *s = nft_view_set(v, names[i]);
		enum sc_verdict f;

		if (!s || !s->elems_read) {
			cat(text, sizeof(text), "%s%s %s", text[0] ? "; " : "", names[i],
			    s ? "could not be read" : "is missing");
			worst = SC_FAIL;
			continue;
		}
		f = sc_judge_fill(s->elems, s->size);
		if (s->size)
			cat(text, sizeof(text), "%s%s %s%" PRIu64 " of %" PRIu32 " elements",
			    text[0] ? ", " : "", names[i], f == SC_FAIL ? "is full: " : "",
			    s->elems, s->size);
		else
			cat(text, sizeof(text), "%s%s %" PRIu64 " elements (no size limit)",
			    text[0] ? ", " : "", names[i], s->elems);
		if (f > worst)
			worst = f;
	}
	if (v->has_bans_failed && v->bans_failed > 0) {
		cat(text, sizeof(text), "; %" PRIu64 " bans failed since the table was loaded (a ban "
		    "set was full; those flows were blocked without a ban)", v->bans_failed);
		if (worst == SC_PASS)
			worst = SC_WARN;
	} else if (v->has_bans_failed) {
		cat(text, sizeof(text), "; no ban failed");
	}
	if (worst == SC_FAIL && strstr(text, "full"))
		cat(text, sizeof(text), "; new bans fail, so blocked hosts can reconnect on "
		    "other ports");
	add(j->rep, worst, "bansets", worst == SC_PASS ? NULL : fix, "%s", text);
}

static void judge_workers(struct judge *j)
{
	const struct sc_daemon *d = &j->in->daemon;
	char stalled[SC_TEXT] = "";
	int64_t slowest = 0;

	if (!d->reachable) {
		add(j->rep, SC_FAIL, "workers", NULL, "not checked: btblockd does not answer");
		return;
	}
	for (unsigned i = 0; i < d->nqueues; i++) {
		const struct sc_dqueue *q = &d->queues[i];

		if (q->stalled)
			cat(stalled, sizeof(stalled), "%s%u (no progress for %" PRId64 " ms)",
			    stalled[0] ? ", " : "", q->queue, q->last_progress_ms);
		else if (q->last_progress_ms > slowest)
			slowest = q->last_progress_ms;
	}
	if (stalled[0]) {
		add(j->rep, SC_FAIL, "workers", "read btblockd's log (journalctl -u btblockd; "
		    "OpenWrt: logread -e btblockd), then restart it", "stalled worker of queue %s: "
		    "its packets wait, and pass or drop when the queue fills", stalled);
		return;
	}
	add(j->rep, SC_PASS, "workers", NULL, "%u workers, none stalled (the slowest went round "
	    "its loop %" PRId64 " ms ago)", d->nqueues, slowest);
}

void sc_judge(const struct sc_inputs *in, struct sc_report *rep)
{
	struct judge j = { .in = in, .rep = rep };
	char hooks[64];

	rep->n = 0;
	j.daemon = daemon_range(&in->daemon);
	if (!in->nft_error && in->nft.nqueues > 0)
		j.backend = 1;
	else if (in->xt[0].chain || in->xt[1].chain)
		j.backend = 2;
	snprintf(j.fw_up, sizeof(j.fw_up), "btblockd-firewall up%s%s (the service does it: "
		 "systemctl restart btblockd; OpenWrt: service btblockd restart)",
		 in->hooks == SC_HOOK_FORWARD ? "" : " --hooks ",
		 in->hooks == SC_HOOK_FORWARD ? "" : hooks_str(in->hooks, hooks, sizeof(hooks)));
	judge_daemon(&j);
	judge_ruleset(&j);
	judge_marks(&j);
	judge_queues(&j);
	judge_binding(&j);
	judge_offload(&j);
	judge_bridge(&j);
	judge_conntrack(&j);
	judge_bansets(&j);
	judge_workers(&j);
}

/* ---- gathering ------------------------------------------------------- */

/* A whole small file (procfs, sysfs) into buf: its length, or -errno. */
static ssize_t read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t got = 0;

	if (fd < 0)
		return -errno;
	while (got + 1 < len) {
		ssize_t r = read(fd, buf + got, len - got - 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;

			close(fd);
			return -e;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	buf[got] = '\0';
	return (ssize_t)got;
}

/* A sysctl of 0 or 1 (or another small number): its value, or -1. */
static int read_sysctl(const char *path, int *err)
{
	char buf[32];
	ssize_t n = read_file(path, buf, sizeof(buf));
	uint64_t v;

	*err = n < 0 ? (int)n : 0;
	if (n < 0)
		return -1;
	buf[strcspn(buf, "\n")] = '\0';
	if (parse_u64(buf, 10, 1000, &v) < 0) {
		*err = -EINVAL;
		return -1;
	}
	return (int)v;
}

/* Run tool with args, its stdout into out (NUL-ended, cut at outlen - 1)
 * and the first line of its stderr into err, within timeout_ms; the
 * child is killed past it. Returns its exit status, 127 when it could
 * not be run, -1 when it did not end in time or was killed. */
static int run_capture(const char *const argv[], char *out, size_t outlen, char *err,
		       size_t errlen, int timeout_ms)
{
	int po[2], pe[2], status = 0;
	size_t olen = 0, elen = 0;
	int64_t deadline = mono_ms() + timeout_ms;
	int open_fds = 2, timed_out = 0;
	pid_t pid;

	out[0] = err[0] = '\0';
	if (pipe2(po, O_CLOEXEC) < 0)
		return 127;
	if (pipe2(pe, O_CLOEXEC) < 0) {
		close(po[0]);
		close(po[1]);
		return 127;
	}
	pid = fork();
	if (pid < 0) {
		close(po[0]); close(po[1]); close(pe[0]); close(pe[1]);
		return 127;
	}
	if (pid == 0) {
		static const char *const dirs[] = { "/usr/sbin/", "/sbin/", "/usr/bin/", "/bin/" };
		int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
		char path[64];

		if (null < 0 || dup2(null, 0) < 0 || dup2(po[1], 1) < 0 || dup2(pe[1], 2) < 0)
			_exit(127);
		execvp(argv[0], (char *const *)argv);
		/* Not in PATH (a service's or a user's PATH without sbin). */
		for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
			snprintf(path, sizeof(path), "%s%s", dirs[i], argv[0]);
			execv(path, (char *const *)argv);
		}
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	while (open_fds > 0) {
		struct pollfd pfd[2] = { { .fd = po[0], .events = POLLIN },
					 { .fd = pe[0], .events = POLLIN } };
		int64_t left = deadline - mono_ms();
		char chunk[4096];

		if (left <= 0 || poll(pfd, 2, (int)left) == 0) {
			timed_out = 1;
			break;
		}
		for (int i = 0; i < 2; i++) {
			ssize_t r;

			if (pfd[i].fd < 0 || !pfd[i].revents)
				continue;
			r = read(pfd[i].fd, chunk, sizeof(chunk));
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				close(i ? pe[0] : po[0]);
				*(i ? &pe[0] : &po[0]) = -1;
				open_fds--;
				continue;
			}
			if (i == 0) {
				size_t take = (size_t)r < outlen - 1 - olen ? (size_t)r : outlen - 1 - olen;

				memcpy(out + olen, chunk, take);
				olen += take;
				out[olen] = '\0';
			} else {
				size_t take = (size_t)r < errlen - 1 - elen ? (size_t)r : errlen - 1 - elen;

				memcpy(err + elen, chunk, take);
				elen += take;
				err[elen] = '\0';
			}
		}
	}
	if (po[0] >= 0)
		close(po[0]);
	if (pe[0] >= 0)
		close(pe[0]);
	if (timed_out)
		kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	err[strcspn(err, "\n")] = '\0';
	if (timed_out || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static void gather_xt(struct sc_xt *x, const char *tool, int timeout_ms)
{
	char secs[16];
	const char *argv[] = { tool, "-w", secs, "-t", "mangle", "-S", NULL };
	char *out = malloc(SC_XT_OUT_MAX);
	char err[SC_ERR_LINE];
	int st;

	memset(x, 0, sizeof(*x));
	if (!out) {
		snprintf(x->error, sizeof(x->error), "out of memory");
		return;
	}
	snprintf(secs, sizeof(secs), "%d", timeout_ms / 1000 > 0 ? timeout_ms / 1000 : 1);
	st = run_capture(argv, out, SC_XT_OUT_MAX, err, sizeof(err), timeout_ms);
	if (st == 0) {
		x->ran = 1;
		sc_parse_xt(out, x);
	} else if (st == 127) {
		snprintf(x->error, sizeof(x->error), "%s not found", tool);
	} else if (st < 0) {
		snprintf(x->error, sizeof(x->error), "%s did not answer within %d s", tool,
			 timeout_ms / 1000);
	} else {
		snprintf(x->error, sizeof(x->error), "%s failed (status %d)%s%.150s", tool, st,
			 err[0] ? ": " : "", err);
	}
	free(out);
}

static int is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static unsigned count_entries(const char *path)
{
	DIR *dir = opendir(path);
	struct dirent *e;
	unsigned n = 0;

	if (!dir)
		return 0;
	while ((e = readdir(dir)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(dir);
	return n;
}

static int has_address(const struct ifaddrs *list, const char *name)
{
	for (const struct ifaddrs *a = list; a; a = a->ifa_next) {
		if (!a->ifa_addr || strcmp(a->ifa_name, name) != 0)
			continue;
		if (a->ifa_addr->sa_family == AF_INET)
			return 1;
		if (a->ifa_addr->sa_family == AF_INET6) {
			const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)a->ifa_addr;

			if (!IN6_IS_ADDR_LINKLOCAL(&s6->sin6_addr))
				return 1;
		}
	}
	return 0;
}

static int gather_bridges(struct sc_bridges *br, const struct sc_daemon *d)
{
	char routes[SC_MAX_ROUTES * 2][SC_IFNAME], path[300], buf[65536];
	unsigned nroutes = 0;
	struct ifaddrs *addrs = NULL;
	struct dirent *e;
	ssize_t n;
	DIR *dir;
	int err;

	memset(br, 0, sizeof(*br));
	br->call_ipt = read_sysctl("/proc/sys/net/bridge/bridge-nf-call-iptables", &err);
	br->call_ip6t = read_sysctl("/proc/sys/net/bridge/bridge-nf-call-ip6tables", &err);
	if ((n = read_file("/proc/net/route", buf, sizeof(buf))) >= 0)
		nroutes = sc_parse_default_routes(4, buf, (size_t)n, routes, SC_MAX_ROUTES);
	if ((n = read_file("/proc/net/ipv6_route", buf, sizeof(buf))) >= 0)
		nroutes += sc_parse_default_routes(6, buf, (size_t)n, routes + nroutes,
						   SC_MAX_ROUTES);
	if (getifaddrs(&addrs) < 0)
		return -errno;
	dir = opendir("/sys/class/net");
	if (!dir) {
		int e2 = errno;

		freeifaddrs(addrs);
		return -e2;
	}
	while ((e = readdir(dir)) != NULL) {
		struct sc_bridge *b;

		if (e->d_name[0] == '.' || strlen(e->d_name) >= SC_IFNAME)
			continue;
		snprintf(path, sizeof(path), "/sys/class/net/%s/bridge", e->d_name);
		if (!is_dir(path))
			continue;
		if (br->n >= SC_MAX_BRIDGES) {
			br->more = 1;
			continue;
		}
		b = &br->b[br->n++];
		snprintf(b->name, sizeof(b->name), "%s", e->d_name);
		snprintf(path, sizeof(path), "/sys/class/net/%s/brif", e->d_name);
		b->nports = count_entries(path);
		b->has_addr = has_address(addrs, b->name);
		for (unsigned i = 0; i < nroutes; i++)
			b->uplink |= strcmp(routes[i], b->name) == 0;
		for (unsigned i = 0; i < d->nifaces; i++)
			b->protected |= strcmp(d->ifaces[i], b->name) == 0;
	}
	closedir(dir);
	freeifaddrs(addrs);
	/* A protected interface that is a bridge port never matches at the
	 * IP hooks, where the bridge is the interface; and the bridge's
	 * hosts are protected all the same. */
	for (unsigned i = 0; i < d->nifaces; i++) {
		char master[300];
		const char *base;
		ssize_t l;

		snprintf(path, sizeof(path), "/sys/class/net/%s/brport", d->ifaces[i]);
		if (!is_dir(path))
			continue;
		snprintf(path, sizeof(path), "/sys/class/net/%s/master", d->ifaces[i]);
		l = readlink(path, master, sizeof(master) - 1);
		if (l <= 0)
			continue;
		master[l] = '\0';
		base = strrchr(master, '/');
		base = base ? base + 1 : master;
		for (unsigned k = 0; k < br->n; k++) {
			if (strcmp(base, br->b[k].name) != 0)
				continue;
			br->b[k].protected = 1;
			if (br->nports < SC_MAX_IFACES) {
				snprintf(br->ports[br->nports].port, SC_IFNAME, "%s", d->ifaces[i]);
				memcpy(br->ports[br->nports].bridge, br->b[k].name, SC_IFNAME);
				br->nports++;
			}
		}
	}
	return 0;
}

void sc_gather(struct sc_inputs *in, int timeout_ms)
{
	static char buf[SC_MAX_QUEUES * 128];
	ssize_t n;

	in->nft_error = nft_view_read(&in->nft);
	gather_xt(&in->xt[0], "iptables", timeout_ms);
	gather_xt(&in->xt[1], "ip6tables", timeout_ms);
	n = read_file(SC_NFQUEUE_PATH, buf, sizeof(buf));
	in->nfq_error = n < 0 ? (int)n : 0;
	in->nnfq = n < 0 ? 0 : sc_parse_nfqueue(buf, (size_t)n, in->nfq, SC_MAX_QUEUES);
	in->acct = read_sysctl(SC_ACCT_PATH, &in->acct_error);
	in->br_error = gather_bridges(&in->br, &in->daemon);
}
