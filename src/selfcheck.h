/* selfcheck.h - btblockctl check: does this router really block? The
 * kernel's side (ruleset, queues, offloading, bridges, conntrack
 * accounting, ban sets) is gathered into struct sc_inputs, the daemon's
 * side comes from its stats document; sc_judge() turns both into one
 * line per check, without touching the system, so that every judgement
 * is unit-tested. */
#ifndef BTBLOCKD_SELFCHECK_H
#define BTBLOCKD_SELFCHECK_H

#include <stdint.h>
#include <stdio.h>
#include <jansson.h>
#include "nft_view.h"

#define SC_TEXT			600
#define SC_MAX_LINES		48
#define SC_MAX_QUEUES		256	/* queues of the daemon and of nfnetlink_queue */
#define SC_MAX_IFACES		16
#define SC_IFNAME		16	/* IFNAMSIZ */
#define SC_MAX_BRIDGES		16
#define SC_MAX_ROUTES		16
#define SC_XT_MAX_RULES		16
#define SC_NFQUEUE_PATH		"/proc/net/netfilter/nfnetlink_queue"
#define SC_ACCT_PATH		"/proc/sys/net/netfilter/nf_conntrack_acct"
#define SC_FILL_WARN_PCT	90	/* a ban set this full warns; full fails */
#define SC_MANGLE_PRIORITY	(-150)	/* NF_IP_PRI_MANGLE: the xtables mangle table */

enum sc_verdict { SC_PASS, SC_WARN, SC_FAIL };

/* The hooks btblockd's rules may sit on, as bits of 1 << NF_INET_*. */
enum { SC_HOOK_INPUT = 1 << 1, SC_HOOK_FORWARD = 1 << 2, SC_HOOK_OUTPUT = 1 << 3 };

struct sc_line {
	enum sc_verdict verdict;
	char check[16];
	char text[SC_TEXT];
	char fix[SC_TEXT];		/* what to do; empty when nothing */
};

struct sc_report {
	struct sc_line lines[SC_MAX_LINES];
	unsigned n;
};

struct sc_marks {
	uint32_t mask, allow, block, reject, block_flow, reject_flow;
};

/* The daemon as its stats document describes it. */
struct sc_daemon {
	int reachable;
	char error[512];		/* why it is not */
	int connect_errno;		/* the caller's: why connecting failed (0: it did not) */
	char version[32];
	char mode[16];			/* enforce or monitor */
	unsigned nqueues;
	struct sc_dqueue {
		uint16_t queue;
		int has_portid;
		uint32_t portid;
		int stalled;
		int64_t last_progress_ms;
	} queues[SC_MAX_QUEUES];
	int has_marks;
	struct sc_marks marks;
	unsigned nifaces;
	char ifaces[SC_MAX_IFACES][SC_IFNAME];	/* --protected-interface */
};

/* One line of /proc/net/netfilter/nfnetlink_queue: a bound queue. */
struct sc_kqueue {
	uint32_t queue, portid;
};

/* The mangle table of iptables or ip6tables as "-S" prints it. */
struct sc_xt {
	int ran;			/* the tool ran and exited 0 */
	char error[256];		/* else why not */
	int chain;			/* chain BTBLOCKD exists */
	struct sc_xt_rule {
		int proto;		/* 0 any, IPPROTO_TCP, IPPROTO_UDP, -1 another */
		int has_mark;
		uint32_t mark, mask;
		uint32_t first, last;	/* queues */
		int bypass, fanout;
	} rules[SC_XT_MAX_RULES];	/* the NFQUEUE rules of chain BTBLOCKD */
	unsigned nrules;
	int rules_more;
	/* Jumps to BTBLOCKD from INPUT, FORWARD, OUTPUT (by NF_INET_* number). */
	struct sc_xt_jump {
		int count;
		int has_mark;
		uint32_t mark, mask;
	} jumps[4];
};

/* A bridge of this network namespace. */
struct sc_bridge {
	char name[SC_IFNAME];
	unsigned nports;
	int has_addr;			/* IPv4, or IPv6 other than link-local */
	int uplink;			/* a default route leaves through it */
	int protected;			/* named by --protected-interface */
};

struct sc_bridges {
	struct sc_bridge b[SC_MAX_BRIDGES];
	unsigned n;
	int more;
	int call_ipt, call_ip6t;	/* net.bridge.bridge-nf-call-*: 0, 1, -1 absent */
	/* Protected interfaces that are ports of a bridge, and that bridge. */
	struct sc_bridge_port {
		char port[SC_IFNAME], bridge[SC_IFNAME];
	} ports[SC_MAX_IFACES];
	unsigned nports;
};

/* Everything check judges. */
struct sc_inputs {
	const char *socket_path;	/* for the text */
	unsigned hooks;			/* SC_HOOK_*: hooks that must be covered */
	struct sc_daemon daemon;
	int nft_error;			/* -errno reading the ruleset; 0: read */
	struct nft_view nft;
	struct sc_xt xt[2];		/* iptables, ip6tables */
	int nfq_error;			/* -errno reading nfnetlink_queue (-ENOENT: nothing bound) */
	struct sc_kqueue nfq[SC_MAX_QUEUES];
	unsigned nnfq;
	int acct;			/* nf_conntrack_acct: 0, 1; -1 with acct_error */
	int acct_error;
	int br_error;			/* -errno listing the bridges */
	struct sc_bridges br;
};

/* The daemon's side from a stats document (NULL: not reachable, err says
 * why). */
void sc_daemon_from_stats(const json_t *doc, const char *err, struct sc_daemon *d);

/* A LIST of hooks ("forward,input") into SC_HOOK_* bits; -1 when a name
 * is not forward, input or output or the list is empty. */
int sc_parse_hooks(const char *list, unsigned *hooks);

/* The lines of nfnetlink_queue (len bytes) into out (at most max): the
 * number of queues read; lines of another shape are skipped. */
unsigned sc_parse_nfqueue(const char *text, size_t len, struct sc_kqueue *out, unsigned max);

/* "iptables -S" output of the mangle table into x (ran is not touched). */
void sc_parse_xt(const char *text, struct sc_xt *x);

/* The devices that default routes leave through, from /proc/net/route
 * (family 4) or /proc/net/ipv6_route (6): the number found. */
unsigned sc_parse_default_routes(int family, const char *text, size_t len,
				 char out[][SC_IFNAME], unsigned max);

/* How full a ban set may be: SC_PASS, SC_WARN (SC_FILL_WARN_PCT or more)
 * or SC_FAIL (full); a size of 0 is no limit. */
enum sc_verdict sc_judge_fill(uint64_t elems, uint32_t size);

/* Does the offload rule offload only flows the daemon allowed: does it
 * require ct mark & mask == allow (under at least the daemon's mask)? */
int sc_offload_allowed_only(const struct nft_view_offload *o, const struct sc_marks *m);

/* A bridge's line: its verdict, text and fix. */
enum sc_verdict sc_judge_bridge(const struct sc_bridge *b, int call_ipt, int call_ip6t,
				char *text, size_t textlen, char *fix, size_t fixlen);

/* Every check into rep. */
void sc_judge(const struct sc_inputs *in, struct sc_report *rep);

/* Read the kernel's side into in (daemon, socket_path and hooks are the
 * caller's); timeout_ms bounds each program run (iptables). */
void sc_gather(struct sc_inputs *in, int timeout_ms);

/* 0 when every line passed, 3 when the worst is a warning, 1 on a failure. */
int sc_exit_status(const struct sc_report *rep);

/* The report as text lines (and a summary), or as a JSON document. */
void sc_print(const struct sc_report *rep, FILE *out);
json_t *sc_json(const struct sc_report *rep);

#endif
